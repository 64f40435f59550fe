"""The built-in web chat: a page anyone can open, talking JSON to the same handlers.

It is a sender like Telegram and Zalo: the delivery worker stores each outbox row for the chat
(``WebSender``), and the open page, waiting on ``/api/webchat/inbox``, is woken (``Hub``) and takes
it. A row counts as sent once stored: a page closed then fetches it when it opens again. Answers
are stored too, so a reload gets the last message's buttons back.

The server issues every session token (``start_session``) and keeps only its hash, so a leaked
database row cannot be replayed, a token a browser makes up is refused, and one planted in a
victim's browser dies when the victim joins: a join re-issues the token (``Answers``). A session
idle for ``CHIBO_WEBCHAT_IDLE_DAYS`` is forgotten, and so is the session of a deactivated member.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import bindparam, delete, or_, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.base import Polling, Unreachable
from bot.channels.specs.web import MESSAGE_LIMIT as MESSAGE_LIMIT
from bot.charts import bar_chart_png
from handlers.contract import Attachment, Inbound, Reply
from models.ballots import server_secret
from models.db import database_deadline, listen
from models.tables import ChannelIdentity, Member, Platform, WebChatMessage, WebChatSession, utcnow

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

# What secrets.token_urlsafe(32) gives: anything else is refused before the database is asked.
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")
# A session's last use is written at most this often, not on every message.
SEEN_EVERY = timedelta(hours=1)
# A session that never joined is kept this long after its last use (a stranger's, or a guesser's).
ANONYMOUS_IDLE = timedelta(days=1)
# The most messages one fetch returns (a page closed for weeks gets the newest).
INBOX_LIMIT = 50
# What a file picker offers unless the reply asks for something else (a notice's or meeting's file).
DOCUMENTS_AND_PHOTOS = ".pdf,.doc,.docx,.odt,.rtf,.txt,.xls,.xlsx,.ods,.csv,.ppt,.pptx,.jpg,.jpeg,.png,.heic,image/*"
# Ended sessions one sweep forgets at most (each with its messages), and as many old messages of
# other chats: the rest wait for the next sweep, so a new session is never held up by a backlog
# (300,000 stale sessions took one 25-39 s).
FORGET_CHUNK = 500
# The PostgreSQL channel new messages are announced on, to the pages waiting in every process.
NOTIFY_CHANNEL = "chibo_webchat"
# How long after a join (or a switch) the message that made it, sent again with the old token by a
# page whose answer was lost on the way, still gets the answers and a token (``recover_move``).
MOVE_GRACE = timedelta(minutes=10)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebSession:
    token_hash: str
    linked: bool  # the chat is linked to an active member


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def user_id_for(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sweeps:
    """When a new session last swept what has ended, in this process: at most every ``every``
    seconds, not for each one (the sweep was three statements of a new session's six, for rows that
    lie harmlessly meanwhile: a lookup checks a session's idle time itself, a lock-out counts only
    its own window)."""

    def __init__(self, every: float = 60.0) -> None:
        self.every = every
        self._last: float | None = None

    def due(self) -> bool:
        now = time.monotonic()
        if self._last is not None and now - self._last < self.every:
            return False
        self._last = now
        return True


async def start_session(session: AsyncSession, *, idle: timedelta, sweep: bool = True) -> str:
    """A fresh token for a browser, in the caller's transaction; with ``sweep``, sessions past their
    idle time are forgotten on the way."""
    now = utcnow()
    token = new_session_token()
    if sweep:
        await _forget_ended(session, idle=idle, now=now)
    session.add(WebChatSession(token_hash=user_id_for(token), created_at=now, last_seen_at=now))
    return token


async def _forget_ended(session: AsyncSession, *, idle: timedelta, now: datetime) -> None:
    ended = select(WebChatSession.token_hash).where(
        or_(
            col(WebChatSession.last_seen_at) < now - idle,
            col(WebChatSession.joined).is_(False) & (col(WebChatSession.last_seen_at) < now - ANONYMOUS_IDLE),
        )
    )
    hashes = list((await session.exec(ended.limit(FORGET_CHUNK))).all())
    if hashes:
        # A session's messages go with it (a stranger's answers too).
        await session.exec(delete(WebChatMessage).where(col(WebChatMessage.chat_id).in_(hashes)))
        await session.exec(delete(WebChatSession).where(col(WebChatSession.token_hash).in_(hashes)))
    # A chat's messages are kept as long as an idle session would be.
    old = select(WebChatMessage.id).where(col(WebChatMessage.created_at) < now - idle).limit(FORGET_CHUNK)
    await session.exec(delete(WebChatMessage).where(col(WebChatMessage.id).in_(old.scalar_subquery())))


# What every request asks first: built once (building a statement costs more than running it here).
_SESSION_AND_MEMBER = (
    select(WebChatSession, Member.active)
    .outerjoin(
        ChannelIdentity,
        (col(ChannelIdentity.platform) == Platform.WEB)
        & (col(ChannelIdentity.platform_user_id) == WebChatSession.token_hash),
    )
    .outerjoin(Member, col(Member.id) == ChannelIdentity.member_id)
    .where(WebChatSession.token_hash == bindparam("token_hash"))
)


async def open_session(
    sessions: async_sessionmaker[AsyncSession], token: str, *, idle: timedelta, now: datetime | None = None
) -> WebSession | None:
    """The session ``token`` belongs to, or None: never issued, idle too long, or its member deactivated."""
    if not TOKEN_SHAPE.match(token):
        return None
    now = now or utcnow()
    token_hash = user_id_for(token)
    async with sessions() as session:
        # Every request asks this first: one round trip, not three (no BEGIN and COMMIT around a
        # read). The rare writes below commit one statement each: a crash between the two deletes
        # leaves an ended session, which the next lookup deletes again.
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        row = (await session.exec(_SESSION_AND_MEMBER, params={"token_hash": token_hash})).first()
        if row is None:
            return None
        found, active = row
        ended = found.last_seen_at <= now - idle or active is False
        if ended:
            await session.exec(delete(WebChatMessage).where(col(WebChatMessage.chat_id) == token_hash))
            await session.exec(delete(WebChatSession).where(col(WebChatSession.token_hash) == token_hash))
        elif found.last_seen_at <= now - SEEN_EVERY:
            await session.exec(
                update(WebChatSession).where(col(WebChatSession.token_hash) == token_hash).values(last_seen_at=now)
            )
        await session.commit()
        return None if ended else WebSession(token_hash, bool(active))


# The join key is derived from the server secret with an info string of its own (as the invite
# key is), so it is unrelated to the ballot and invite keys made from the same secret.
_JOIN_KEY_INFO = b"chibo web chat join v1"


def joined_token(secret: bytes, token: str, code: str, message_id: str) -> str:
    """The token the page's message ``message_id``, invite ``code``, moves the session of ``token``
    to (a join, or a switch): keyed by the server's secret, so nobody can work it out, yet the same
    for that message every time. A page whose answer was lost sends the message again (same id,
    same code, old token: ``recover_move``); another holder of the old token (planted in a victim's
    browser, or the first member's other copy after a switch) has neither the code nor the page's
    random message id. The shape of every token (``TOKEN_SHAPE``)."""
    key = HKDF(SHA256(), 32, None, _JOIN_KEY_INFO).derive(secret)
    mac = hmac.new(key, f"{token}\n{code}\n{message_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


@dataclass(frozen=True)
class Moved:
    """A session a code moved, for a page whose answer was lost: its token and the join's answers."""

    token: str
    switched: bool
    kept: list[tuple[int, dict[str, Any]]]


async def move_on_record(session: AsyncSession, old_hash: str, *, now: datetime | None = None) -> bool:
    """Whether a code moved the session ``old_hash`` within ``MOVE_GRACE``."""
    now = now or utcnow()
    found = await session.exec(
        select(WebChatSession.token_hash).where(
            col(WebChatSession.moved_from) == old_hash, col(WebChatSession.created_at) > now - MOVE_GRACE
        )
    )
    return found.first() is not None


async def recover_move(
    session: AsyncSession, token: str, code: str, message_id: str, *, now: datetime | None = None
) -> Moved | None:
    """The session of ``token`` that the page's message ``message_id``, invite ``code``, moved
    within ``MOVE_GRACE`` (``joined_token``), with the answers that message was given; None for
    anything else, and once its member has been let go."""
    now = now or utcnow()
    moved_to = joined_token(server_secret(session), token, code, message_id)
    found = (
        await session.exec(
            select(WebChatSession.moved_switch, Member.active)
            .join(
                ChannelIdentity,
                (col(ChannelIdentity.platform) == Platform.WEB)
                & (col(ChannelIdentity.platform_user_id) == WebChatSession.token_hash),
            )
            .join(Member, col(Member.id) == ChannelIdentity.member_id)
            .where(
                col(WebChatSession.token_hash) == user_id_for(moved_to),
                col(WebChatSession.moved_from) == user_id_for(token),
                col(WebChatSession.moved_for) == message_id,
                col(WebChatSession.created_at) > now - MOVE_GRACE,
            )
        )
    ).first()
    if found is None or not found[1]:
        return None
    return Moved(moved_to, found[0], await _kept(session, user_id_for(moved_to), message_id))


def _moved_session(old_hash: str, new_hash: str, now: datetime, message_id: str, switched: bool) -> dict[str, Any]:
    return {
        "token_hash": new_hash,
        "created_at": now,
        "last_seen_at": now,
        "joined": True,
        "moved_from": old_hash,
        "moved_for": message_id,
        "moved_switch": switched,
    }


# ``_move_chat`` on PostgreSQL: the chat's identity, its messages and its session row, in one
# statement; the messages and the session move only with a linked identity. Each step reads the one
# before it (the session's the messages' count), so the rows are locked in that order, the order
# the sweep of ended sessions takes them in (messages, then the session), whatever the planner does.
_MOVE_CHAT = text(
    """
    WITH identity AS (
        UPDATE channelidentity SET platform_user_id = :new, chat_id = :new
        WHERE platform = :web AND platform_user_id = :old
        RETURNING id
    ), messages AS (
        UPDATE webchatmessage SET chat_id = :new WHERE chat_id = :old AND EXISTS (SELECT FROM identity)
        RETURNING id
    ), renamed AS (
        UPDATE webchatsession
        SET token_hash = :new, created_at = :now, last_seen_at = :now, joined = true,
            moved_from = :old, moved_for = :message_id, moved_switch = :switched
        WHERE token_hash = :old AND EXISTS (SELECT FROM identity) AND (SELECT count(*) FROM messages) >= 0
        RETURNING token_hash
    )
    SELECT (SELECT count(*) FROM identity) AS moved, (SELECT count(*) FROM renamed) AS renamed
    """
)


async def _move_chat(session: AsyncSession, old_hash: str, new_hash: str, *, message_id: str, switched: bool) -> bool:
    """The linked chat of session ``old_hash`` moves to ``new_hash``, in the caller's transaction,
    remembering where it moved from, and the message that moved it, for a retry (``recover_move``):
    False (and nothing moved) when the session is not linked."""
    now = utcnow()
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # The three moves in one round trip (a join is the web chat's heaviest request).
        params = {"web": Platform.WEB.value, "old": old_hash, "new": new_hash, "now": now}
        await session.flush()  # the identity a join just linked, before the statement moves it
        connection = await session.connection()
        counted = (
            await connection.execute(_MOVE_CHAT, params | {"message_id": message_id, "switched": switched})
        ).one()
        if not counted.moved:
            return False
        for kept in session.identity_map.values():  # as the ORM's own UPDATE would leave them
            if (
                isinstance(kept, ChannelIdentity)
                and kept.platform is Platform.WEB
                and kept.platform_user_id == old_hash
            ):
                set_committed_value(kept, "platform_user_id", new_hash)
                set_committed_value(kept, "chat_id", new_hash)
        if counted.renamed:
            return True
        session.add(WebChatSession(**_moved_session(old_hash, new_hash, now, message_id, switched)))
        return True
    moved = await session.exec(
        update(ChannelIdentity)
        .where(col(ChannelIdentity.platform) == Platform.WEB)
        .where(col(ChannelIdentity.platform_user_id) == old_hash)
        .values(platform_user_id=new_hash, chat_id=new_hash)
    )
    if not moved.rowcount:
        return False
    await session.exec(update(WebChatMessage).where(col(WebChatMessage.chat_id) == old_hash).values(chat_id=new_hash))
    moved_to = _moved_session(old_hash, new_hash, now, message_id, switched)
    # The session row moves to the new hash (one statement, not a delete and an insert).
    renamed = await session.exec(
        update(WebChatSession).where(col(WebChatSession.token_hash) == old_hash).values(**moved_to)
    )
    if not renamed.rowcount:
        session.add(WebChatSession(**moved_to))
    return True


def inbound_from_message(
    web_session: WebSession, text: str | None, payload: str | None, source: int | None = None
) -> Inbound:
    """``source``: the message whose button was tapped (the page's own word: it only decides which
    of this chat's messages an answer replaces on the page)."""
    user_id = web_session.token_hash
    tapped = str(source) if source is not None and payload is not None else None
    return Inbound(
        platform=Platform.WEB, user_id=user_id, chat_id=user_id, text=text, payload=payload, source_message_id=tapped
    )


def inbound_from_upload(web_session: WebSession, attachment: Attachment) -> Inbound:
    user_id = web_session.token_hash
    return Inbound(platform=Platform.WEB, user_id=user_id, chat_id=user_id, attachment=attachment)


def render(reply: Reply) -> dict[str, Any]:
    """A reply as the page shows it. The page cannot prove a phone number, so no contact button;
    a chart comes drawn, as a PNG data URL. An answer that edits the message tapped (a ballot now
    ticked) ``replaces`` it: the page takes the old one away, buttons and all, as Telegram edits
    it in place (copies piled up, and an old copy's buttons could still cast a ballot)."""
    body = reply.to_dict()
    body.pop("contact_label")
    edited = body.pop("edit_message_id")
    if edited is not None and edited.isdigit():
        body["replaces"] = int(edited)
    chart = body.pop("chart")
    document = body.pop("document")
    if reply.document is not None and document is not None:
        folder = "meeting-files" if reply.document.source == "meeting" else "files"
        url = (
            f"data:{_inline_type(reply.document.name)};base64,{reply.document.inline}"
            if reply.document.inline is not None
            else f"/api/webchat/{folder}/{reply.document.file_id}"
        )
        body["document"] = {"name": reply.document.name, "url": url}
    if reply.upload_label is not None:
        body["upload_accept"] = reply.upload_accept or DOCUMENTS_AND_PHOTOS
    if reply.chart is not None and chart is not None:
        body["image"] = "data:image/png;base64," + base64.b64encode(bar_chart_png(reply.chart)).decode()
    return body


class Hub:
    """Wakes the pages of this process waiting for a chat's new messages. With PostgreSQL, every
    stored message is announced (NOTIFY, on commit) and each process listens, so a message stored by
    one ``chibo serve`` reaches a page waiting on another; on SQLite there is one process."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._waiting: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._listener: asyncio.Task[None] | None = None
        self.ending = False

    @property
    def announces(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    @contextlib.contextmanager
    def waiting(self, chat_id: str) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._waiting[chat_id].add(event)
        try:
            yield event
        finally:
            self._waiting[chat_id].discard(event)
            if not self._waiting[chat_id]:
                del self._waiting[chat_id]

    def listeners(self, chat_id: str) -> int:
        """How many pages of this process wait for the chat's messages."""
        return len(self._waiting.get(chat_id, ()))

    def wake(self, chat_id: str) -> None:
        for event in self._waiting.get(chat_id, ()):
            event.set()

    def end_waits(self) -> None:
        """The server is stopping: every page waiting is answered now (nothing new), and any wait
        after this returns at once, so the shutdown need not cut requests off mid-wait."""
        self.ending = True
        for events in self._waiting.values():
            for event in events:
                event.set()

    def start(self) -> None:
        if self.announces and self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="webchat-listen")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None

    async def _listen(self) -> None:
        """Woken by every process's stored messages (meanwhile a waiting page still fetches when its wait ends)."""
        await listen(self._engine, NOTIFY_CHANNEL, self.wake, what="web chat")


async def store(
    session: AsyncSession, chat_id: str, replies: Sequence[Reply], *, pushed: bool, answers: str | None = None
) -> list[WebChatMessage]:
    """Keep ``replies`` for the chat, in the caller's transaction. On PostgreSQL a chat's pushed
    messages are stored one transaction at a time (a lock until commit), so their ids commit in
    order and a page that has seen id N never misses a smaller one committed later; and the commit
    announces them to the waiting pages."""
    if pushed and session.bind is not None and session.bind.dialect.name == "postgresql":
        connection = await session.connection()
        await connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:chat))"), {"chat": chat_id})
        announce = text("SELECT pg_notify(:channel, :chat)")
        await connection.execute(announce, {"channel": NOTIFY_CHANNEL, "chat": chat_id})
    rows = [WebChatMessage(chat_id=chat_id, body=reply.to_dict(), pushed=pushed, answers=answers) for reply in replies]
    session.add_all(rows)
    await session.flush()
    return rows


async def messages_after(sessions: async_sessionmaker[AsyncSession], chat_id: str, after: int) -> list[WebChatMessage]:
    """What chibo sent the chat on its own after message ``after``, oldest first (the newest
    ``INBOX_LIMIT``)."""
    async with sessions() as session:
        rows = (
            await session.exec(
                select(WebChatMessage)
                .where(col(WebChatMessage.chat_id) == chat_id, col(WebChatMessage.pushed).is_(True))
                .where(col(WebChatMessage.id) > after)
                .order_by(col(WebChatMessage.id).desc())
                .limit(INBOX_LIMIT)
            )
        ).all()
    return sorted(rows, key=lambda row: row.id or 0)


@dataclass
class Answers:
    """Where the answers to the page's message ``message_id`` are kept (a reload shows the last
    answer's buttons again; a retry of the message gets them back), in the transaction that
    handles the message (``Runtime.process``).

    A code typed in the chat may link it to a member: a browser not yet linked (``joining``), or
    one joined as member ``switching_from`` that another member's code now links (a shared phone).
    Then, in that same transaction, the session moves to a new token, held in ``token`` for the
    page, so a token planted beforehand dies with the join; and on a switch the first member's
    messages are forgotten (``switched``: the page starts afresh). Either happens wholly or not at
    all: a retry after a failure finds the chat as it was, and does it again. The new token is
    ``joined_token`` of the page's token, the code and the message id: a retry after the answer
    was lost, or a copy sent while the join was under way, gets the same one, and the answers,
    again. ``moved_meanwhile``: a join that found the chat already moved by another copy of it
    (sent under another id), which is no wrong code."""

    chat_id: str
    message_id: str
    joining: bool = False
    switching_from: int | None = None
    # The token the page sent, and the code it typed: secrets, kept out of any repr.
    page_token: str | None = field(default=None, repr=False)
    code: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    switched: bool = False
    moved_meanwhile: bool = False

    async def keep(self, session: AsyncSession, replies: list[Reply]) -> list[int]:
        chat_id = self.chat_id
        if self.joining or (self.switching_from is not None and await self._switched(session)):
            if self.page_token is None or self.code is None:
                raise ValueError("a join keeps its answers knowing the page's token and the code")
            token = joined_token(server_secret(session), self.page_token, self.code, self.message_id)
            switch = self.switching_from is not None
            if await _move_chat(session, self.chat_id, user_id_for(token), message_id=self.message_id, switched=switch):
                self.token, chat_id = token, user_id_for(token)
                self.switched = switch
            elif self.joining:
                self.moved_meanwhile = await move_on_record(session, self.chat_id)
        stored = await store(session, chat_id, replies, pushed=False, answers=self.message_id)
        return [row.id or 0 for row in stored]

    async def _switched(self, session: AsyncSession) -> bool:
        """Whether the chat is now another member's; if so, the first member's messages are gone."""
        linked = await session.exec(
            select(ChannelIdentity.member_id).where(
                col(ChannelIdentity.platform) == Platform.WEB, col(ChannelIdentity.platform_user_id) == self.chat_id
            )
        )
        if linked.first() in (None, self.switching_from):
            return False
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            # As ``store`` takes it for what is sent to the chat: a message sent to the first member
            # meanwhile is stored before this (and forgotten) or after it (under the old token).
            connection = await session.connection()
            await connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:chat))"), {"chat": self.chat_id})
        await session.exec(delete(WebChatMessage).where(col(WebChatMessage.chat_id) == self.chat_id))
        return True

    async def kept(self, session: AsyncSession) -> list[tuple[int, dict[str, Any]]]:
        kept = await _kept(session, self.chat_id, self.message_id)
        if not kept and self.page_token is not None and self.code is not None:
            # Sent again while the first was moving the session: that one's answers are the new token's.
            moved = await recover_move(session, self.page_token, self.code, self.message_id)
            if moved is not None:
                self.token, self.switched, kept = moved.token, moved.switched, moved.kept
        return kept


async def _kept(session: AsyncSession, chat_id: str, message_id: str) -> list[tuple[int, dict[str, Any]]]:
    """The answers kept for the chat's message ``message_id``: each one's id and body."""
    found = await session.exec(
        select(WebChatMessage.id, WebChatMessage.body)
        .where(col(WebChatMessage.chat_id) == chat_id, col(WebChatMessage.answers) == message_id)
        .order_by(col(WebChatMessage.id))
    )
    return [(row_id, dict(body)) for row_id, body in found.all() if row_id is not None]


async def last_message(sessions: async_sessionmaker[AsyncSession], chat_id: str) -> WebChatMessage | None:
    """The chat's newest message, answer or not: the page shows its buttons again after a reload."""
    async with sessions() as session:
        return (
            await session.exec(
                select(WebChatMessage)
                .where(col(WebChatMessage.chat_id) == chat_id)
                .order_by(col(WebChatMessage.id).desc())
                .limit(1)
            )
        ).first()


async def wait_for_messages(
    sessions: async_sessionmaker[AsyncSession],
    hub: Hub,
    chat_id: str,
    after: int,
    *,
    wait: float,
    budget: float | None = None,
) -> list[WebChatMessage]:
    """The chat's messages after ``after``; when there are none yet, those stored within ``wait``
    seconds. The database gets ``budget`` seconds anew after the wait (the request's own budget
    was spent waiting: a page woken then got 503 whenever the pool had to open a connection)."""
    with hub.waiting(chat_id) as woken:  # waiting before asking, so nothing stored meanwhile is missed
        found = await messages_after(sessions, chat_id, after)
        if found or wait <= 0 or hub.ending:
            return found
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(woken.wait(), wait)
    if hub.ending:
        return []  # the server is stopping: answered at once; the page asks again after what it has
    with contextlib.nullcontext() if budget is None else database_deadline(budget):
        return await messages_after(sessions, chat_id, after)


def shown(row: WebChatMessage) -> dict[str, Any]:
    """A stored message as the page shows it, with its id."""
    return {"id": row.id, "pushed": row.pushed} | render(Reply.from_dict(row.body))


class WebSender:
    """Delivers an outbox row to a web chat: stored for the chat, and its waiting pages woken."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], hub: Hub) -> None:
        self._sessions = sessions
        self._hub = hub

    async def send(self, chat_id: str, reply: Reply, locale: str | None = None) -> str:
        """Stores the message for the chat; its id (as the page numbers it) is the message id."""
        async with self._sessions() as session, session.begin():
            if await session.get(WebChatSession, chat_id) is None:
                raise Unreachable("the web chat session has ended")
            (stored,) = await store(session, chat_id, [reply], pushed=True)
        self._hub.wake(chat_id)
        return str(stored.id)


class WebConnection:
    """The web chat's Connection: its page and API are served by the app (webhooks/app.py); the
    delivery worker sends through ``sender``."""

    webhook = None

    def __init__(self, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine) -> None:
        self.hub = Hub(engine)
        self.sender = WebSender(sessions, self.hub)

    async def start(self, scheduler: AsyncIOScheduler) -> Polling | None:
        self.hub.start()
        return None

    async def stop(self) -> None:
        await self.hub.stop()


def _inline_type(name: str) -> str:
    """The media type of a generated file (a CSV export, an Excel report) for its data URL."""
    if name.endswith(".xlsx"):
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return "text/csv"
