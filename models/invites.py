"""Invite codes: short enough to type from paper, random enough not to guess.

A code is 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L), shown as ``ABCD-EFGH``.
It also fits a Telegram deep link (``?start=ABCD-EFGH``: at most 64 of A-Z a-z 0-9 _ -).

Only a keyed digest of a code is stored: HMAC-SHA256 under a key derived from the server's own
secret (the one the secret ballot uses, never in the database). 31^8 codes are few enough to try
in minutes against a plain hash, so a database reader must not be able to test guesses offline.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.audit import AuditAction
from models.ballots import server_secret
from models.tables import Branch, ChannelIdentity, Invite, InviteAttempt, Member, Role, utcnow
from models.vietnamese import name_key, text_key

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
DEFAULT_VALIDITY = timedelta(days=30)


class InviteProblem(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_code(text: str) -> str | None:
    """The canonical code for what a member typed (any case, spaces or dashes), or None."""
    raw = "".join(ch for ch in text.upper() if ch not in " -_.\t")
    if len(raw) != CODE_LENGTH or any(ch not in ALPHABET for ch in raw):
        return None
    return f"{raw[:4]}-{raw[4:]}"


_NEVER_IN_CODES = "01ILO"  # left out of ALPHABET: each looks like another character


def never_in_codes(text: str) -> list[str]:
    """The characters of ``text`` that no invite code has (0, 1, I, L, O), when ``text`` otherwise
    has the shape of a code (8 letters and digits): a member misreading the printed code."""
    raw = "".join(ch for ch in text.upper() if ch not in " -_.\t")
    if len(raw) != CODE_LENGTH or any(ch not in ALPHABET + _NEVER_IN_CODES for ch in raw):
        return []
    return sorted({ch for ch in raw if ch in _NEVER_IN_CODES})


# The invite key is derived from the server secret with an info string of its own, so it is
# unrelated to every poll's ballot key although both come from one secret.
_INVITE_KEY_INFO = b"chibo invite codes v1"
# Marks a keyed digest; rows without it hold a plain SHA-256 from before (legacy_digest).
KEYED = "k1:"


def code_digest(secret: bytes, code: str) -> str:
    """What is stored for ``code``: ``k1:`` and its HMAC-SHA256 under the invite key (46 characters)."""
    key = HKDF(SHA256(), 32, None, _INVITE_KEY_INFO).derive(secret)
    mac = hmac.new(key, code.encode(), hashlib.sha256).digest()
    return KEYED + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def legacy_digest(code: str) -> str:
    """What was stored for codes issued before the keyed digest: they still work until they expire."""
    return hashlib.sha256(code.encode()).hexdigest()


async def find_invite(session: AsyncSession, code: str) -> Invite | None:
    """The invite row of ``code`` (a normalized code), keyed or from before the keyed digest."""
    digests = [code_digest(server_secret(session), code), legacy_digest(code)]
    return (await session.exec(select(Invite).where(col(Invite.code_hash).in_(digests)))).first()


async def issue_invite(session: AsyncSession, member_id: int, *, validity: timedelta = DEFAULT_VALIDITY) -> str:
    """A fresh code for the member; every earlier unused code of theirs stops working."""
    now = utcnow()
    await session.exec(
        update(Invite)
        .where(Invite.member_id == member_id)  # type: ignore[arg-type]
        .where(Invite.used_at.is_(None))  # type: ignore[union-attr]
        .where(Invite.revoked_at.is_(None))  # type: ignore[union-attr]
        .values(revoked_at=now)
    )
    code = new_code()
    session.add(
        Invite(member_id=member_id, code_hash=code_digest(server_secret(session), code), expires_at=now + validity)
    )
    await session.flush()
    return code


# Where an invite code goes in a message made before the code is: the code is issued only as the
# message is handed to the member's platform (models.invites.fill_in_code), never stored in clear.
CODE_PLACEHOLDER = "\u27e6code\u27e7"


def masked(code: str) -> str:
    """What may be kept of a code for showing again: nothing of it. Even half a code ("ABCD-••••")
    next to a plain hash let a database reader find the rest in a second."""
    return "\u2022" * 4 + "-" + "\u2022" * (CODE_LENGTH - 4)


async def fill_in_code(session: AsyncSession, member_id: int, text: str) -> tuple[str, str]:
    """A fresh code for the member (earlier ones stop working) put into ``text``: the text to send
    and the text that may be kept (the code masked)."""
    code = await issue_invite(session, member_id)
    return text.replace(CODE_PLACEHOLDER, code), text.replace(CODE_PLACEHOLDER, masked(code))


@dataclass(frozen=True)
class IssuedInvite:
    member_id: int
    full_name: str
    branch_name: str
    role: Role
    code: str


async def issue_unlinked_invites(
    session: AsyncSession, *, branch_id: int | None = None, validity: timedelta = DEFAULT_VALIDITY
) -> list[IssuedInvite]:
    """A fresh invite for every active member not linked on any channel, by branch, then as registers
    list people."""
    linked = select(ChannelIdentity.member_id)
    query = (
        select(Member, Branch)
        .join(Branch, col(Branch.id) == Member.branch_id)
        .where(col(Member.active).is_(True), col(Member.id).not_in(linked))
    )
    if branch_id is not None:
        query = query.where(Member.branch_id == branch_id)
    issued = []
    rows = (await session.exec(query)).all()
    for member, branch in sorted(rows, key=lambda row: (text_key(row[1].name), name_key(row[0].full_name))):
        assert member.id is not None
        code = await issue_invite(session, member.id, validity=validity)
        issued.append(IssuedInvite(member.id, member.full_name, branch.name, member.role, code))
    return issued


async def redeem_invite(session: AsyncSession, code: str, *, now: datetime | None = None) -> Invite | InviteProblem:
    """Mark the invite used: of two members racing on one code, exactly one wins."""
    now = now or utcnow()
    # A code that can be used is claimed as it is read, in one round trip (a join is the web chat's
    # heaviest request); only a refused one is read again, to say why.
    digests = [code_digest(server_secret(session), code), legacy_digest(code)]
    claimed = await session.exec(
        update(Invite)
        .where(col(Invite.code_hash).in_(digests))
        .where(col(Invite.used_at).is_(None))
        .where(col(Invite.revoked_at).is_(None))
        .where(col(Invite.expires_at) > now)
        .values(used_at=now)
        .returning(Invite)
    )
    invite: Invite | None = claimed.scalars().first()
    if invite is not None:
        return invite
    invite = await find_invite(session, code)
    problem: InviteProblem | None = None
    if invite is None:
        problem = InviteProblem.UNKNOWN
    elif invite.used_at is not None:
        problem = InviteProblem.USED
    elif invite.revoked_at is not None:
        problem = InviteProblem.REVOKED
    elif invite.expires_at <= now:
        problem = InviteProblem.EXPIRED
    else:
        claimed = await session.exec(
            update(Invite)
            .where(Invite.id == invite.id)  # type: ignore[arg-type]
            .where(Invite.used_at.is_(None))  # type: ignore[union-attr]
            .values(used_at=now)
        )
        if claimed.rowcount:
            set_committed_value(invite, "used_at", now)  # as written: not read back, nor written again
            return invite
        problem = InviteProblem.USED
    if invite is not None:
        # The person hears one answer for every refused code (a guesser learns nothing from it);
        # a real member's code typed again (used, revoked, expired) is audited with the reason,
        # for their secretary. Unknown codes are counted against the guesser (record_attempt).
        audit.record(
            session,
            AuditAction.INVITE_REFUSED,
            actor_id=None,
            subject_type="member",
            subject_id=invite.member_id,
            after={"reason": problem.value},
        )
    return problem


def lockout_ends(times: Sequence[datetime], *, limit: int, window: timedelta, now: datetime) -> datetime | None:
    """When a lock-out ends, or None: ``limit`` wrong codes within ``window`` lock out for
    ``window`` after the last of them (5 in 15 minutes: locked for 15 minutes)."""
    ordered = sorted(times)
    ends = [
        ordered[i] + window
        for i in range(limit - 1, len(ordered))
        if ordered[i] - ordered[i - limit + 1] <= window and ordered[i] + window > now
    ]
    return max(ends, default=None)


async def invite_lockout(
    session: AsyncSession, limits: Sequence[tuple[str, int]], *, window: timedelta, now: datetime | None = None
) -> datetime | None:
    """When the lock-out on any of ``limits`` (scope, wrong codes allowed in ``window``) ends, or None."""
    ends = await invite_lockouts(session, limits, window=window, now=now)
    return max((end for end in ends if end is not None), default=None)


async def invite_lockouts(
    session: AsyncSession, limits: Sequence[tuple[str, int]], *, window: timedelta, now: datetime | None = None
) -> list[datetime | None]:
    """When the lock-out on each of ``limits`` (scope, wrong codes allowed in ``window``) ends, or
    None for one not locked out: in one round trip for all of them."""
    now = now or utcnow()
    scopes = [scope for scope, _ in limits]
    rows = (
        await session.exec(
            select(InviteAttempt.scope, InviteAttempt.at).where(
                col(InviteAttempt.scope).in_(scopes), InviteAttempt.at > now - 2 * window
            )
        )
    ).all()
    return [
        lockout_ends([at for scope_of, at in rows if scope_of == scope], limit=limit, window=window, now=now)
        for scope, limit in limits
    ]


async def window_frees(
    session: AsyncSession, scope: str, *, limit: int, window: timedelta, now: datetime | None = None
) -> datetime | None:
    """A rate, not a lock-out: when ``scope`` may try again if it already made ``limit`` attempts
    within the last ``window`` (the moment the ``limit``-th newest falls out of it), or None if it
    may now. One row is read, whatever the limit (was: every attempt in the window, for each new
    session: thousands with a high CHIBO_WEBCHAT_SESSIONS_PER_ADDRESS)."""
    now = now or utcnow()
    oldest_counted = (
        await session.exec(
            select(InviteAttempt.at)
            .where(InviteAttempt.scope == scope, InviteAttempt.at > now - window)
            .order_by(col(InviteAttempt.at).desc())
            .offset(limit - 1)
            .limit(1)
        )
    ).first()
    return None if oldest_counted is None else oldest_counted + window


async def record_attempt(
    session: AsyncSession,
    scopes: Sequence[str],
    *,
    window: timedelta,
    now: datetime | None = None,
    sweep: bool = True,
) -> None:
    """Count an attempt (a wrong invite code, a new web chat session) against each scope; with
    ``sweep``, attempts older than the lock-out could reach are dropped."""
    now = now or utcnow()
    if sweep:
        await session.exec(delete(InviteAttempt).where(col(InviteAttempt.at) < now - 2 * window))
    session.add_all(InviteAttempt(scope=scope, at=now) for scope in scopes)


# Wrong codes one chat may type (on any platform, joined or not) before it is locked out for a while:
# a code is 8 of 31 letters, so guessing is hopeless unless it is free.
CHAT_GUESSES = 5
CHAT_GUESS_WINDOW = timedelta(minutes=15)


def _chat_scope(platform: str, user_id: str) -> str:
    return f"chat:{platform}:{user_id[:80]}"


async def chat_locked_until(session: AsyncSession, platform: str, user_id: str) -> datetime | None:
    """When this chat may type invite codes again, if it typed too many wrong ones."""
    return await invite_lockout(session, [(_chat_scope(platform, user_id), CHAT_GUESSES)], window=CHAT_GUESS_WINDOW)


async def count_wrong_code(session: AsyncSession, platform: str, user_id: str) -> None:
    await record_attempt(session, [_chat_scope(platform, user_id)], window=CHAT_GUESS_WINDOW)
