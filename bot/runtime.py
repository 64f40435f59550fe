"""Handling one inbound event durably: de-duplicated, in one transaction, replies in the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sqlalchemy import bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.pool import QueuePool
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.text import web_chat_address
from bot.i18n import Catalogs
from bot.metrics import Metrics
from bot.settings import Settings
from handlers.contract import Document, Inbound, Reply
from handlers.conversation import handle
from handlers.first_votes import first_votes, record_votes, tapped_vote
from handlers.polls import ticks_shown
from models import reachability
from models.db import (
    create_engine,
    deadline_at,
    insert_many_ignoring_conflict,
    is_database_unavailable,
    request_deadline,
    session_factory,
    table_of,
)
from models.desk import fill_in_link
from models.invites import fill_in_code
from models.tables import MeetingFile, NoticeFile, OutboxMessage, OutboxStatus, Platform, ProcessedUpdate, utcnow
from models.uow import UnitOfWork
from models.updates import first_delivery, forget_deliveries

log = logging.getLogger(__name__)

# The replies to an event, one outbox row each: a Core INSERT, since nothing reads the rows back.
_QUEUE_REPLIES = insert(table_of(OutboxMessage))
# What was answered to an update, kept for its retries: one statement built once, nothing read back.
_PROCESSED = table_of(ProcessedUpdate)
_KEEP_RESULT = (
    update(_PROCESSED)
    .where(_PROCESSED.c.platform == bindparam("of_platform"), _PROCESSED.c.update_key == bindparam("of_update"))
    .values(result=bindparam("answered"))
)


_TEXT_FIELDS = ("user_id", "chat_id", "display_name", "text", "payload", "contact_phone", "source_message_id")


def _storable(text: str) -> str:
    """``text`` without NUL characters, and with any lone surrogate (valid JSON, not valid UTF-8) as
    U+FFFD: neither can be stored (PostgreSQL refuses both), and a platform re-delivers a failed
    update for a day, so they are removed at the door rather than refused."""
    try:
        text.encode()
    except UnicodeEncodeError:
        text = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text.replace("\x00", "")


def _storable_inbound(inbound: Inbound) -> Inbound:
    """The event with its text made storable (see _storable); the web chat refuses such text (422)."""
    cleaned: dict[str, Any] = {
        name: _storable(value)
        for name in _TEXT_FIELDS
        if isinstance(value := getattr(inbound, name), str) and _storable(value) != value
    }
    if inbound.attachment is not None and _storable(inbound.attachment.filename) != inbound.attachment.filename:
        cleaned["attachment"] = replace(inbound.attachment, filename=_storable(inbound.attachment.filename))
    return replace(inbound, **cleaned) if cleaned else inbound


class Keeper(Protocol):
    """Where a channel that answers inline keeps its answers (the web chat, for a reload), written
    in the transaction that handles the event: the ids they are kept under."""

    async def keep(self, session: AsyncSession, replies: list[Reply]) -> list[int]: ...

    async def kept(self, session: AsyncSession) -> list[tuple[int, dict[str, Any]]]:
        """What the first delivery kept (for a re-delivery): each answer's id and body, as kept. So
        the de-duplication row need not keep them too."""
        ...


def keep_out_of_full_collections() -> None:
    """What a process has built once it serves (the modules, the app and its models' schemas, the
    platforms' clients: several hundred thousand objects) lives as long as the process. Frozen, it
    is left out of the cyclic collector's full passes, which otherwise walk all of it every few
    seconds under load: pauses of 0.2-0.35 s in which nothing is answered or sent
    (bench/webchat.py, bench/broadcast.py). Called once started, after the platforms' libraries
    are loaded (Telegram's alone adds about 130 MB of objects)."""
    gc.collect()
    gc.freeze()


@dataclass
class Processed:
    replies: list[Reply]
    duplicate: bool = False
    # The ids the Keeper kept the answers under.
    ids: list[int] = field(default_factory=list)


# Updates one group commit takes at most: a transaction that stays short, and answers that do not
# wait behind hundreds of others.
GROUP_LIMIT = 64


@dataclass
class _Waiting:
    inbound: Inbound
    update_key: str | None
    answer: asyncio.Future[Processed]
    deadline: float | None  # the request's (models.db.database_deadline), if it has one


class GroupCommit:
    """Updates that arrive while a group is being handled and committed wait, then go together:
    one transaction, each update in a savepoint of its own, one commit, then every caller gets its
    answer. A failing update is rolled back to its savepoint alone and its caller gets its error,
    as it would alone (the platform delivers it again); the others are kept. So a vote costs a
    savepoint's two round trips instead of a connection checkout, BEGIN and COMMIT (with its WAL
    flush) of its own. An update arriving when nothing is in flight goes at once, alone, without a
    savepoint: no waiting when the server is quiet.

    One group at a time per process, so the groups of one process never wait on each other's locks
    (two taps of one member in two groups at once could deadlock). PostgreSQL only: SQLite has one
    writer anyway, and its driver's savepoints need the transaction handled by hand."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._waiting: list[_Waiting] = []
        self._running: asyncio.Task[None] | None = None
        pool = runtime.engine.pool
        self._pool_wait: float | None = pool.timeout() if isinstance(pool, QueuePool) else None

    async def submit(self, inbound: Inbound, update_key: str | None) -> Processed:
        loop = asyncio.get_running_loop()
        waiting = _Waiting(inbound, update_key, loop.create_future(), request_deadline())
        self._waiting.append(waiting)
        if self._running is None:
            # In a context of its own: each group gets the deadline of the requests in it (below).
            self._running = asyncio.create_task(self._drain(), name="group-commit", context=contextvars.Context())
        # Waiting for a group is waiting for a connection: as long as the pool lets a request wait
        # (and no longer than its deadline). Then it is answered "try again" and never handled, so
        # a database that hangs costs each request one time-out, not one for each group before it.
        wait = self._pool_wait
        if waiting.deadline is not None:
            wait = min(wait, waiting.deadline - loop.time()) if wait is not None else waiting.deadline - loop.time()
        # Shielded: a caller that goes away does not cancel its group for the others. asyncio.timeout,
        # not wait_for: Python 3.11's wait_for drops a cancel that arrives as the answer does, and a
        # polling loop cancelled just then went on polling forever.
        try:
            async with asyncio.timeout(wait):
                return await asyncio.shield(waiting.answer)
        except TimeoutError:
            if any(w is waiting for w in self._waiting):
                self._waiting = [w for w in self._waiting if w is not waiting]
                raise
            return await asyncio.shield(waiting.answer)  # in a group: its statements' time-outs bound it

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting[:GROUP_LIMIT], self._waiting[GROUP_LIMIT:]
                deadlines = [w.deadline for w in group if w.deadline is not None]
                with deadline_at(min(deadlines, default=None)):
                    failed = await self._commit(group)
                if failed is not None and is_database_unavailable(failed):
                    # The updates that came in meanwhile would meet the same database: "try again"
                    # now, rather than a time-out more for each of them.
                    behind, self._waiting = self._waiting, []
                    for waiting in behind:
                        _settle(waiting.answer, error=failed)
        finally:
            self._running = None

    @staticmethod
    def _parts(group: list[_Waiting]) -> list[tuple[list[_Waiting], bool]]:
        """``group`` in the order it arrived, cut into the parts it is handled in, each with whether
        it is a run of taps on ballots (of members with nothing else in the group), to try together;
        every other update goes alone. So no tap is handled before an update that came ahead of it
        (a close, a member let go), as it would not be one by one."""
        writers = Counter((w.inbound.platform, w.inbound.user_id) for w in group)
        # One delivery twice in a group (a forged copy from another member: a platform re-delivers
        # as the same member) goes alone, both times, so only the first is handled as new.
        deliveries = Counter((w.inbound.platform, w.update_key) for w in group)
        parts: list[tuple[list[_Waiting], bool]] = []
        run: list[_Waiting] = []
        for waiting in group:
            inbound = waiting.inbound
            if (
                waiting.update_key is not None
                and writers[(inbound.platform, inbound.user_id)] == 1
                and deliveries[(inbound.platform, waiting.update_key)] == 1
                and tapped_vote(inbound)
            ):
                run.append(waiting)
                continue
            parts += [(run, True)] if run else []
            parts.append(([waiting], False))
            run = []
        return parts + ([(run, True)] if run else [])

    async def _first_votes(
        self, session: AsyncSession, run: list[_Waiting], *, savepoint: bool
    ) -> tuple[list[tuple[_Waiting, Processed]], list[_Waiting]]:
        """The taps of ``run`` that cast members' first ballots (handlers.first_votes), handled
        together: de-duplicated, recorded and their answers queued in a few statements for all of
        them. The rest, in order, to be handled one by one: the other taps, and re-deliveries
        (handled alone, they are answered as such). When anything goes wrong, every tap is left to
        be handled alone: in a ``savepoint`` rolled back; without one (the batch is the first thing
        in its transaction, so two round trips fewer), by raising _Alone, for the caller to handle
        the group again, each by itself.

        The updates are recorded as delivered first, as one alone records its own before anything
        else (and in the order of their keys), so the locks are taken in the order they would be
        one by one; those then handled alone are forgotten again, to be recorded by themselves."""
        runtime = self._runtime
        answers: dict[int, list[Reply]] = {}
        try:
            async with session.begin_nested() if savepoint else contextlib.nullcontext():
                delivered = sorted(
                    ((w.inbound.platform.value, w.update_key or "", index) for index, w in enumerate(run)),
                    key=lambda row: row[:2],
                )
                now = utcnow()
                rows = [{"platform": p, "update_key": k, "processed_at": now} for p, k, _ in delivered]
                fresh = await insert_many_ignoring_conflict(session, ProcessedUpdate, rows, ("platform", "update_key"))
                firsts = {index: run[index].inbound for p, k, index in delivered if (p, k) in fresh}
                votes = await first_votes(session, firsts)
                answers = await record_votes(session, runtime.catalogs, runtime.settings.tz, votes)
                await forget_deliveries(
                    session, [(run[i].inbound.platform, run[i].update_key or "") for i in firsts if i not in answers]
                )
                queued = [(run[key].inbound, reply) for key, replies in answers.items() for reply in replies]
                if queued:  # as Core on the connection: the batch leaves the ORM nothing to flush
                    await (await session.connection()).execute(_QUEUE_REPLIES, _outbox_rows(queued))
        except Exception as error:
            if is_database_unavailable(error):
                raise
            log.warning("group commit: the first votes together failed; each is handled alone", exc_info=True)
            if not savepoint:
                raise _Alone from error
            return [], run
        finally:
            session.expunge_all()
        alone = [w for index, w in enumerate(run) if index not in answers]
        return [(run[key], Processed(replies)) for key, replies in answers.items()], alone

    async def _one_by_one(
        self,
        session: AsyncSession,
        updates: list[_Waiting],
        done: list[tuple[_Waiting, Processed]],
        *,
        savepoints: bool,
    ) -> None:
        """Handle each of ``updates`` in turn (in a savepoint of its own, with ``savepoints``), adding
        it to ``done``; one that fails in its savepoint gets its error, the others are kept."""
        for waiting in updates:
            try:
                if not savepoints:
                    processed = await self._runtime._handle(
                        session, waiting.inbound, waiting.update_key, answer_inline=False
                    )
                    await session.flush()  # what it changed, before the objects are let go below
                else:
                    async with session.begin_nested():
                        processed = await self._runtime._handle(
                            session, waiting.inbound, waiting.update_key, answer_inline=False
                        )
            except Exception as error:
                if not savepoints or is_database_unavailable(error):
                    raise  # the transaction is gone: the whole group is answered "try again"
                _settle(waiting.answer, error=error)  # rolled back to its savepoint alone
                continue
            finally:
                # Each update reads the database afresh, as it would in a transaction of its own.
                session.expunge_all()
            done.append((waiting, processed))

    async def _commit(self, group: list[_Waiting], *, together: bool = True) -> Exception | None:
        """Handle and commit ``group``, answering each; the error that sank it whole, if one did.
        Runs of first votes are recorded together, unless not ``together``."""
        runtime = self._runtime
        started = time.perf_counter()
        done: list[tuple[_Waiting, Processed]] = []
        try:
            async with UnitOfWork(runtime.sessions) as uow:
                session = uow.session
                parts = self._parts(group) if together and len(group) > 1 else [(group, False)]
                for index, (part, run) in enumerate(parts):
                    # A run of one goes alone: the batch's reads would only add to a tap it leaves
                    # to ``handle`` (a changed vote, a secret ballot), and save one statement else.
                    if run and len(part) > 1:
                        # The first part needs no savepoint: if it fails, the group is done again.
                        votes, alone = await self._first_votes(session, part, savepoint=index > 0)
                        done += votes
                    else:
                        alone = part
                    await self._one_by_one(session, alone, done, savepoints=len(group) > 1)
        except _Alone:
            return await self._commit(group, together=False)  # rolled back: each by itself now
        except Exception as error:
            for waiting in group:
                _settle(waiting.answer, error=error)
            return error
        except BaseException:
            for waiting in group:  # stopped mid-group (shutdown): nothing committed, nobody answered
                waiting.answer.cancel()
            raise
        runtime.metrics.updates_per_commit.observe(len(done))
        for waiting, processed in done:
            runtime._handled(waiting.inbound, processed, started, answer_inline=False)
            _settle(waiting.answer, processed)
        return None


class _Alone(Exception):
    """First votes recorded together failed where no savepoint could undo them alone: the group's
    transaction is rolled back and the group handled again, each update by itself."""


def _outbox_rows(replies: list[tuple[Inbound, Reply]]) -> list[dict[str, Any]]:
    """Each reply's outbox row, for the chat of the event it answers."""
    now = utcnow()
    return [
        {
            "platform": inbound.platform,
            "chat_id": inbound.chat_id,
            "body": reply.to_dict(),
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
        for inbound, reply in replies
    ]


def _settle(
    answer: asyncio.Future[Processed], processed: Processed | None = None, *, error: Exception | None = None
) -> None:
    if answer.done():
        return
    if error is not None:
        answer.set_exception(error)
    else:
        assert processed is not None
        answer.set_result(processed)


@dataclass
class Runtime:
    """The pieces every entry point shares: settings, database, catalogues, metrics."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    catalogs: Catalogs
    metrics: Metrics = field(default_factory=Metrics)
    # Called after a commit that wrote outbox rows, so delivery starts at once (set by the worker).
    on_outbox: Callable[[], None] = lambda: None
    # Updates whose replies go to the outbox, committed in groups (PostgreSQL); None: one by one.
    group_commit: GroupCommit | None = None

    @classmethod
    def create(cls, settings: Settings, engine: AsyncEngine | None = None) -> Runtime:
        engine = engine or create_engine(settings.database_url, timeout=settings.db_timeout_seconds)

        def queued() -> None:  # on_outbox as it is when the commit comes (the worker sets it later)
            runtime.on_outbox()

        sessions = session_factory(engine, ballot_secret=settings.ballot_secret, on_outbox=queued)
        runtime = cls(settings, engine, sessions, Catalogs(settings.locale), Metrics(together=settings.workers > 1))
        if engine.dialect.name == "postgresql":
            runtime.group_commit = GroupCommit(runtime)
        return runtime

    @property
    def public_address(self) -> str:
        """Where members open chibo's pages: CHIBO_PUBLIC_URL, else the server's own address."""
        return web_chat_address(self.settings.public_url, self.settings.host, self.settings.port)

    async def load_file(self, document: Document) -> tuple[str, bytes] | None:
        """A stored notice or meeting file, for the channels that upload it with the message."""
        async with self.sessions() as session:
            if document.source == "meeting":
                shared = await session.get(MeetingFile, document.file_id)
                return None if shared is None or shared.content is None else (shared.filename, shared.content)
            file = await session.get(NoticeFile, document.file_id)
            return None if file is None else (file.filename, file.content)

    async def process(
        self, inbound: Inbound, update_key: str | None, *, answer_inline: bool = False, keeper: Keeper | None = None
    ) -> Processed:
        """Handle ``inbound`` once per ``update_key``.

        With ``answer_inline`` the replies are returned (and kept, so a retry gets the same ones;
        ``keeper`` keeps them for the channel too, in the same transaction); otherwise they are
        written to the outbox in the same transaction and sent by the worker. Returns only once the
        update is committed. Database errors propagate: the caller answers "try again" and nothing
        of this update was committed.

        On PostgreSQL, updates for the outbox that arrive while another group is being committed
        share one transaction (see ``GroupCommit``): one commit, one connection, for many taps.
        """
        inbound = _storable_inbound(inbound)
        if not answer_inline and self.group_commit is not None:
            return await self.group_commit.submit(inbound, update_key)
        started = time.perf_counter()
        async with UnitOfWork(self.sessions) as uow:
            processed = await self._handle(uow.session, inbound, update_key, answer_inline=answer_inline, keeper=keeper)
        self._handled(inbound, processed, started, answer_inline=answer_inline)
        return processed

    def _handled(self, inbound: Inbound, processed: Processed, started: float, *, answer_inline: bool) -> None:
        """After the commit: counted, and the worker woken for the replies queued."""
        if processed.duplicate:
            return
        platform = inbound.platform.value
        self.metrics.updates_handled.labels(platform).inc()
        self.metrics.handler_seconds.labels(platform).observe(time.perf_counter() - started)
        if not answer_inline and processed.replies:
            self.on_outbox()

    async def _handle(
        self,
        session: AsyncSession,
        inbound: Inbound,
        update_key: str | None,
        *,
        answer_inline: bool,
        keeper: Keeper | None = None,
    ) -> Processed:
        """The update in the caller's transaction: de-duplicated, handled, its replies queued or kept."""
        # The de-duplication row comes first (see first_delivery).
        if update_key is not None and not await first_delivery(session, inbound.platform, update_key):
            self.metrics.updates_rejected.labels(inbound.platform.value, "duplicate").inc()
            if keeper is not None:
                answered = await keeper.kept(session)
                replies = [Reply.from_dict(body) for _, body in answered]
                return Processed(replies, duplicate=True, ids=[row_id for row_id, _ in answered])
            earlier = (
                await session.exec(
                    select(ProcessedUpdate.result).where(
                        ProcessedUpdate.platform == inbound.platform, ProcessedUpdate.update_key == update_key
                    )
                )
            ).first()
            return Processed([Reply.from_dict(r) for r in earlier or []], duplicate=True)
        replies = await handle(
            session,
            self.catalogs,
            self.settings.tz,
            inbound,
            nudge_interval=self.settings.nudge_interval,
            dues_rates=self.settings.dues_rates,
            uploads_per_day=self.settings.uploads_per_day,
        )
        bodies: list[dict[str, Any]] = [reply.to_dict() for reply in replies]
        if answer_inline:
            # A secret ballot's ticks are shown in what is sent, never in what is kept.
            replies = [await ticks_shown(session, reply) for reply in replies]
            # Answered now: an invite code is made now, and kept only masked for a retry.
            for index, reply in enumerate(replies):
                if reply.invite_for is not None:
                    sent, kept = await fill_in_code(session, reply.invite_for, reply.text)
                    replies[index] = replace(reply, text=sent, invite_for=None)
                    bodies[index] = replace(reply, text=kept, invite_for=None).to_dict()
                if reply.desk_link_for is not None:
                    sent, kept = await fill_in_link(session, reply.desk_link_for, reply.text, self.public_address)
                    replies[index] = replace(reply, text=sent, desk_link_for=None)
                    bodies[index] = replace(reply, text=kept, desk_link_for=None).to_dict()
            if keeper is not None:  # where a retry finds them (not in the de-duplication row as well)
                # As they may be stored: an invite code masked.
                return Processed(replies, ids=await keeper.keep(session, [Reply.from_dict(body) for body in bodies]))
            if update_key is not None:
                params = {"of_platform": inbound.platform, "of_update": update_key, "answered": bodies}
                await session.exec(_KEEP_RESULT, params=params)
            return Processed(replies)
        if replies:
            await session.exec(_QUEUE_REPLIES, params=_outbox_rows([(inbound, reply) for reply in replies]))
        return Processed(replies)

    async def left(self, platform: Platform, platform_user_id: str, update_key: str) -> None:
        """The person left chibo's chat on ``platform`` (unfollowed), once per ``update_key``.
        Database errors propagate: the platform delivers the event again."""
        async with UnitOfWork(self.sessions) as uow:
            recorded = await reachability.left(uow.session, platform, platform_user_id, update_key)
        if not recorded:
            self.metrics.updates_rejected.labels(platform.value, "duplicate").inc()
            return
        self.metrics.updates_handled.labels(platform.value).inc()
