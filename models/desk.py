"""The secretary's desk: who may open it, its one-time sign-in links and its signed-in browsers.

No passwords: a member who may use the desk asks for a link in chat; the link works once, within
``LINK_VALIDITY``, and starts a session that ends after ``SESSION_IDLE`` without use, on signing out,
or when the member is deactivated or no longer holds an office that allows it (checked on every
request). Only SHA-256 digests of the link's and the session's tokens are stored: both are 256 random
bits, so no key is needed to keep a database reader from using them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.audit import AuditAction
from models.permissions import leads_any_branch
from models.tables import DeskLink, DeskSession, Member, utcnow

LINK_VALIDITY = timedelta(minutes=10)
SESSION_IDLE = timedelta(hours=12)
KEEP_ENDED = timedelta(days=30)
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")
# Where the sign-in link goes in a message made before the link is: it is issued only as the message
# is handed to the member's platform (bot/runtime.py, bot/delivery.py), never stored in clear.
LINK_PLACEHOLDER = "\u27e6desk-link\u27e7"
LINK_PATH = "/desk/login/"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def may_use_desk(member: Member | None) -> bool:
    """Whether the member may open the desk at all: the permission table's leaders (a branch's
    secretary and deputy, the commune committee's), each then sees what ``may`` lets them act on."""
    return member is not None and member.active and leads_any_branch(member)


class LinkRefusal(StrEnum):
    UNKNOWN = "unknown"  # never issued (or mistyped)
    USED = "used"
    EXPIRED = "expired"
    NOT_ALLOWED = "not_allowed"  # the member was deactivated, or no longer holds an office for it


@dataclass(frozen=True)
class Opened:
    """A session just started: the cookie's token (given once, never stored) and the form token."""

    token: str
    csrf: str
    member_id: int


async def _forget_old(session: AsyncSession, now: datetime) -> None:
    """Links long expired, and sessions ended or idle past their end for ``KEEP_ENDED``, are
    forgotten (sign-ins and sign-outs stay in the audit log)."""
    await session.exec(delete(DeskLink).where(col(DeskLink.expires_at) < now - KEEP_ENDED))
    await session.exec(delete(DeskSession).where(col(DeskSession.last_seen_at) < now - SESSION_IDLE - KEEP_ENDED))


async def issue_link(session: AsyncSession, member_id: int, now: datetime | None = None) -> str:
    """A fresh one-time token for the member's sign-in link (its digest stored); old links and
    sessions are forgotten on the way."""
    now = now or utcnow()
    await _forget_old(session, now)
    token = secrets.token_urlsafe(32)
    session.add(DeskLink(token_hash=digest(token), member_id=member_id, created_at=now, expires_at=now + LINK_VALIDITY))
    await session.flush()
    return token


async def fill_in_link(session: AsyncSession, member_id: int, text: str, address: str) -> tuple[str, str]:
    """A fresh link for the member put into ``text``: the text to send, and the text that may be
    kept (where the link was, a note that it was sent)."""
    token = await issue_link(session, member_id)
    link = address.rstrip("/") + LINK_PATH + token
    return text.replace(LINK_PLACEHOLDER, link), text.replace(LINK_PLACEHOLDER, address.rstrip("/") + LINK_PATH + "…")


async def open_link(
    session: AsyncSession, token: str, *, user_agent: str | None = None, now: datetime | None = None
) -> Opened | LinkRefusal:
    """Use a sign-in link: a new session for its member, or why not. A link works once, even when two
    browsers open it at the same moment (the first to mark it used wins)."""
    now = now or utcnow()
    if not TOKEN_SHAPE.match(token):
        return LinkRefusal.UNKNOWN
    link = await session.get(DeskLink, digest(token))
    if link is None:
        return LinkRefusal.UNKNOWN
    if link.used_at is not None:
        return LinkRefusal.USED
    if link.expires_at <= now:
        return LinkRefusal.EXPIRED
    claimed = await session.exec(
        update(DeskLink)
        .where(col(DeskLink.token_hash) == link.token_hash, col(DeskLink.used_at).is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:
        return LinkRefusal.USED
    member = await session.get(Member, link.member_id)
    if not may_use_desk(member):
        return LinkRefusal.NOT_ALLOWED
    assert member is not None and member.id is not None
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        DeskSession(
            token_hash=digest(cookie),
            member_id=member.id,
            csrf=csrf,
            user_agent=(user_agent or "")[:200] or None,
            created_at=now,
            last_seen_at=now,
        )
    )
    audit.record(session, AuditAction.DESK_SIGNED_IN, actor_id=member.id, subject_type="member", subject_id=member.id)
    return Opened(cookie, csrf, member.id)


async def signed_in(
    session: AsyncSession, token: str, *, now: datetime | None = None
) -> tuple[DeskSession, Member] | None:
    """The open session of this cookie's token and its member (its last use noted), or None: never
    issued, signed out, idle past ``SESSION_IDLE``, or its member may no longer use the desk (the
    session is then ended)."""
    now = now or utcnow()
    if not TOKEN_SHAPE.match(token):
        return None
    found = await session.get(DeskSession, digest(token))
    if found is None or found.ended_at is not None or found.last_seen_at <= now - SESSION_IDLE:
        return None
    member = await session.get(Member, found.member_id)
    if member is None or not may_use_desk(member):
        found.ended_at = now
        session.add(found)
        return None
    found.last_seen_at = now
    session.add(found)
    return found, member


async def sign_out(session: AsyncSession, token: str, now: datetime | None = None) -> bool:
    """End this browser's session (audited); False when it was not open."""
    now = now or utcnow()
    if not TOKEN_SHAPE.match(token):
        return False
    found = await session.get(DeskSession, digest(token))
    if found is None or found.ended_at is not None:
        return False
    found.ended_at = now
    session.add(found)
    audit.record(
        session,
        AuditAction.DESK_SIGNED_OUT,
        actor_id=found.member_id,
        subject_type="member",
        subject_id=found.member_id,
    )
    return True


async def open_sessions(session: AsyncSession, member_id: int, now: datetime | None = None) -> list[DeskSession]:
    """The member's signed-in browsers, most recently used first."""
    now = now or utcnow()
    query = (
        select(DeskSession)
        .where(DeskSession.member_id == member_id, col(DeskSession.ended_at).is_(None))
        .where(col(DeskSession.last_seen_at) > now - SESSION_IDLE)
        .order_by(col(DeskSession.last_seen_at).desc())
    )
    return list((await session.exec(query)).all())


async def sign_out_everywhere(session: AsyncSession, member_id: int, now: datetime | None = None) -> int:
    """End every session of the member (audited with how many); the number ended."""
    now = now or utcnow()
    ended = await session.exec(
        update(DeskSession)
        .where(col(DeskSession.member_id) == member_id, col(DeskSession.ended_at).is_(None))
        .values(ended_at=now)
    )
    count = int(ended.rowcount or 0)
    audit.record(
        session,
        AuditAction.DESK_SIGNED_OUT_EVERYWHERE,
        actor_id=member_id,
        subject_type="member",
        subject_id=member_id,
        after={"sessions": count},
    )
    return count
