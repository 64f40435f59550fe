"""The built-in web chat: a page anyone can open, talking JSON to the same handlers.

The server issues every session token (``start_session``) and keeps only its hash, so a leaked
database row cannot be replayed, a token a browser makes up is refused, and one planted in a
victim's browser dies when the victim joins: a join re-issues the token (``rotate``). A session
idle for ``CHIBO_WEBCHAT_IDLE_DAYS`` is forgotten, and so is the session of a deactivated member.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.base import Polling
from bot.channels.specs.web import MESSAGE_LIMIT as MESSAGE_LIMIT
from bot.charts import bar_chart_png
from handlers.contract import Attachment, Inbound, Reply
from models.tables import ChannelIdentity, Member, Platform, WebChatSession, utcnow

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

# What secrets.token_urlsafe(32) gives: anything else is refused before the database is asked.
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")
# A session's last use is written at most this often, not on every message.
SEEN_EVERY = timedelta(hours=1)
# A session that never joined is kept this long after its last use (a stranger's, or a guesser's).
ANONYMOUS_IDLE = timedelta(days=1)


@dataclass(frozen=True)
class WebSession:
    token_hash: str
    linked: bool  # the chat is linked to an active member


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def user_id_for(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(sessions: async_sessionmaker[AsyncSession], *, idle: timedelta) -> str:
    """A fresh token for a browser; sessions past their idle time are forgotten on the way."""
    now = utcnow()
    token = new_session_token()
    async with sessions() as session, session.begin():
        await session.exec(
            delete(WebChatSession).where(
                or_(
                    col(WebChatSession.last_seen_at) < now - idle,
                    col(WebChatSession.joined).is_(False) & (col(WebChatSession.last_seen_at) < now - ANONYMOUS_IDLE),
                )
            )
        )
        session.add(WebChatSession(token_hash=user_id_for(token), created_at=now, last_seen_at=now))
    return token


async def open_session(
    sessions: async_sessionmaker[AsyncSession], token: str, *, idle: timedelta, now: datetime | None = None
) -> WebSession | None:
    """The session ``token`` belongs to, or None: never issued, idle too long, or its member deactivated."""
    if not TOKEN_SHAPE.match(token):
        return None
    now = now or utcnow()
    token_hash = user_id_for(token)
    async with sessions() as session:
        row = (
            await session.exec(
                select(WebChatSession, Member.active)
                .outerjoin(
                    ChannelIdentity,
                    (col(ChannelIdentity.platform) == Platform.WEB)
                    & (col(ChannelIdentity.platform_user_id) == WebChatSession.token_hash),
                )
                .outerjoin(Member, col(Member.id) == ChannelIdentity.member_id)
                .where(WebChatSession.token_hash == token_hash)
            )
        ).first()
        if row is None:
            return None
        found, active = row
        ended = found.last_seen_at <= now - idle or active is False
        if ended:
            await session.exec(delete(WebChatSession).where(col(WebChatSession.token_hash) == token_hash))
        elif found.last_seen_at <= now - SEEN_EVERY:
            await session.exec(
                update(WebChatSession).where(col(WebChatSession.token_hash) == token_hash).values(last_seen_at=now)
            )
        await session.commit()
        return None if ended else WebSession(token_hash, bool(active))


async def rotate(sessions: async_sessionmaker[AsyncSession], web_session: WebSession) -> str | None:
    """A new token for a session that has just joined, or None when it is not linked (or was
    rotated already). The chat moves to the new token and the old one stops working, in one
    transaction: a token someone planted before the join never reaches the member."""
    token = new_session_token()
    new_hash = user_id_for(token)
    async with sessions() as session, session.begin():
        moved = await session.exec(
            update(ChannelIdentity)
            .where(col(ChannelIdentity.platform) == Platform.WEB)
            .where(col(ChannelIdentity.platform_user_id) == web_session.token_hash)
            .values(platform_user_id=new_hash, chat_id=new_hash)
        )
        if not moved.rowcount:
            return None
        await session.exec(delete(WebChatSession).where(col(WebChatSession.token_hash) == web_session.token_hash))
        now = utcnow()
        session.add(WebChatSession(token_hash=new_hash, created_at=now, last_seen_at=now, joined=True))
    return token


def inbound_from_message(web_session: WebSession, text: str | None, payload: str | None) -> Inbound:
    user_id = web_session.token_hash
    return Inbound(platform=Platform.WEB, user_id=user_id, chat_id=user_id, text=text, payload=payload)


def inbound_from_upload(web_session: WebSession, attachment: Attachment) -> Inbound:
    user_id = web_session.token_hash
    return Inbound(platform=Platform.WEB, user_id=user_id, chat_id=user_id, attachment=attachment)


def render(reply: Reply) -> dict[str, Any]:
    """A reply as the page shows it. The page cannot prove a phone number, so no contact button;
    a chart comes drawn, as a PNG data URL."""
    body = reply.to_dict()
    body.pop("contact_label")
    body.pop("edit_message_id")
    chart = body.pop("chart")
    document = body.pop("document")
    if reply.document is not None and document is not None:
        folder = "meeting-files" if reply.document.source == "meeting" else "files"
        url = (
            f"data:text/csv;base64,{reply.document.inline}"
            if reply.document.inline is not None
            else f"/api/webchat/{folder}/{reply.document.file_id}"
        )
        body["document"] = {"name": reply.document.name, "url": url}
    if reply.chart is not None and chart is not None:
        body["image"] = "data:image/png;base64," + base64.b64encode(bar_chart_png(reply.chart)).decode()
    return body


class WebConnection:
    """The web chat's Connection: its page and API are served by the app (webhooks/app.py) and
    answer inline, so there is nothing to send later, poll or close."""

    sender = None
    webhook = None

    async def start(self, scheduler: AsyncIOScheduler) -> Polling | None:
        return None

    async def stop(self) -> None:
        return None
