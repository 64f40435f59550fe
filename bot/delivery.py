"""The delivery worker: drains the outbox, in order, within what each platform allows.

Rows are claimed with a lease (``claimed_until``) in one atomic statement, so several workers can
share one outbox and a worker killed mid-send lets its rows go to another when the lease ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, insert, or_, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

# The send outcomes and the Sender are the channel contract's; re-exported where the worker's users find them.
from bot.channels.base import PROGRESS, NoTemplate, Progress, Pushed, TemplateFallback, WindowClosed
from bot.channels.base import Rejected as Rejected
from bot.channels.base import RetryLater as RetryLater
from bot.channels.base import Sender as Sender
from bot.channels.base import SendError as SendError
from bot.channels.base import Transient as Transient
from bot.channels.base import Unreachable as Unreachable
from bot.channels.registry import titles
from bot.i18n import Catalogs
from bot.metrics import Metrics
from bot.ratelimit import LocalRateLimiter, RateLimiter
from handlers.contract import Reply
from handlers.polls import has_secret_ticks, ticks_shown
from models.db import insert_ignoring_conflict, is_database_unavailable, table_of
from models.desk import fill_in_link
from models.invites import fill_in_code
from models.notices import push_identities
from models.reachability import locales
from models.tables import ChannelAlert, ChannelIdentity, Member, OutboxMessage, OutboxStatus, Platform, Role, utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
LEASE_MARGIN = timedelta(seconds=10)  # a send needs at most this long; later in a lease, none starts
MAX_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 300.0
IDLE_POLL_SECONDS = 2.0
BATCH = 200  # rows claimed at once: sent well within the lease at any sensible rate
CONCURRENCY = 64  # sends waiting on the platform at once
DEFAULT_RATE = 30.0
FLUSH_SECONDS = 0.1
FLUSH_ROWS = 100
# A channel has stopped delivering when this many sends failed within the window and none went through;
# the commune's secretaries are then told, at most once a day per channel.
ALERT_FAILURES = 10
ALERT_WINDOW = timedelta(minutes=15)
ALERT_QUIET = timedelta(days=1)
CHANNEL_NAMES = titles()
# The outbox row being sent, for a sender that needs more than its chat and reply: Web Push links
# a notification to the web chat message it copies (bot/channels/web_push.py).
SENDING: ContextVar[OutboxMessage | None] = ContextVar("sending", default=None)


OUTBOX_CHANNEL = "chibo_outbox"  # PostgreSQL NOTIFY: rows queued by a worker that does not deliver


def outbox_announcer(engine: AsyncEngine) -> Callable[[], None]:
    """For a `chibo serve` worker that does not deliver: each commit that queued rows is announced
    to the one that does (it listens on OUTBOX_CHANNEL), which would otherwise find them only at
    its next look, seconds later."""
    announcing: set[asyncio.Task[None]] = set()

    async def announce() -> None:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT pg_notify(:channel, '')"), {"channel": OUTBOX_CHANNEL})
                await connection.commit()
        except Exception as error:  # the deliverer's own look finds the rows anyway
            log.warning("delivery: could not announce queued messages (%s)", type(error).__name__)

    def wake() -> None:
        task = asyncio.get_running_loop().create_task(announce())
        announcing.add(task)
        task.add_done_callback(announcing.discard)

    return wake


def _still_ours(rows: list[OutboxMessage]) -> ColumnElement[bool]:
    """Those of ``rows`` still under the claim that took them. One whose lease ran out may have been
    claimed by another worker since: that worker's now, so letting it go would let a third send it
    again while the second sends it (two workers sharing a budget wait longer than a lease)."""
    claims: dict[datetime | None, list[int | None]] = defaultdict(list)
    for row in rows:
        claims[row.claimed_until].append(row.id)
    return or_(
        *(
            and_(col(OutboxMessage.id).in_(ids), col(OutboxMessage.claimed_until) == until)
            for until, ids in claims.items()
        )
    )


class ChannelWatch:
    """Tells the commune's secretaries when a channel stops delivering (not only the operator,
    who has the metrics and the alert rules): ``ALERT_FAILURES`` failed sends within ``ALERT_WINDOW``
    with none delivered. A member who blocked the bot or a rate-limit pause is not the channel failing.
    Each process counts its own sends; the database decides, across processes, that the secretaries
    hear of it once a day per channel."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        catalogs: Catalogs,
        *,
        failures: int = ALERT_FAILURES,
        window: timedelta = ALERT_WINDOW,
        quiet: timedelta = ALERT_QUIET,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._catalogs = catalogs
        self._failures_needed = failures
        self._window = window
        self._quiet = quiet
        self._clock = clock
        self._failures: dict[Platform, deque[datetime]] = defaultdict(deque)
        self._delivered: dict[Platform, datetime] = {}

    def delivered(self, platform: Platform) -> None:
        self._delivered[platform] = self._clock()
        self._failures[platform].clear()

    async def failed(self, platform: Platform) -> bool:
        """Count a failed send; True when it told the secretaries."""
        now = self._clock()
        failures = self._failures[platform]
        failures.append(now)
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        last_delivered = self._delivered.get(platform)
        delivered_lately = last_delivered is not None and last_delivered > now - self._window
        if len(failures) < self._failures_needed or delivered_lately:
            return False
        try:
            return await self._alert(platform, len(failures), now)
        except Exception as error:
            if not is_database_unavailable(error):
                raise
            return False  # told on a later failure, once the database is back

    async def _alert(self, platform: Platform, failures: int, now: datetime) -> bool:
        async with self._sessions() as session, session.begin():
            if not await insert_ignoring_conflict(session, ChannelAlert, platform=platform.value, alerted_at=now):
                claimed = await session.exec(
                    update(ChannelAlert)
                    .where(col(ChannelAlert.platform) == platform.value)
                    .where(col(ChannelAlert.alerted_at) <= now - self._quiet)
                    .values(alerted_at=now)
                )
                if not claimed.rowcount:
                    return False  # told within the day, by this process or another
            # The commune committee's secretary and deputies (who act for the whole commune, see
            # models/permissions.py), on any channel but the failing one.
            leaders = (
                await session.exec(
                    select(Member).where(
                        col(Member.active).is_(True),
                        col(Member.committee_role).in_([Role.SECRETARY, Role.DEPUTY_SECRETARY]),
                    )
                )
            ).all()
            reachable = await push_identities(session, [m.id for m in leaders if m.id is not None])
            rows: list[dict[str, Any]] = []
            for member in leaders:
                elsewhere = [i for i in reachable.get(member.id or 0, []) if i.platform != platform]
                if not elsewhere:
                    continue
                _ = self._catalogs.translator(member.locale).gettext
                text = _(
                    "Chibo cannot deliver messages on {channel}: {failures} sends failed in the last {minutes} "
                    "minutes. Members may not be receiving notices, ballots or reminders there. Please ask "
                    "the person who runs the server to check it."
                ).format(
                    channel=CHANNEL_NAMES.get(platform.value, platform.value),
                    failures=failures,
                    minutes=int(self._window.total_seconds() // 60),
                )
                rows.append(
                    {
                        "platform": elsewhere[0].platform,
                        "chat_id": elsewhere[0].chat_id,
                        "body": Reply("⚠️ " + text).to_dict(),
                        "status": OutboxStatus.PENDING,
                        "attempts": 0,
                        "created_at": utcnow(),
                        "next_attempt_at": utcnow(),
                        "member_id": member.id,
                    }
                )
            if rows:
                await session.exec(insert(table_of(OutboxMessage)), params=rows)
        log.error(
            "delivery: %s stopped delivering (%d failures in %s); told %d secretaries",
            platform.value,
            failures,
            self._window,
            len(rows),
        )
        return True


def backoff_seconds(attempts: int) -> float:
    """Capped exponential backoff with full jitter, so many retries do not arrive together."""
    return random.uniform(0, min(MAX_BACKOFF_SECONDS, 2.0**attempts))


class DeliveryWorker:
    """Sends due outbox rows: many chats at once, each chat's messages in order, every send
    through the rate limiter. A sent row is recorded within ``FLUSH_SECONDS``, so a worker killed
    mid-broadcast re-sends at most what was in flight; a stopped one finishes and records it all."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        senders: Mapping[Platform, Sender],
        metrics: Metrics,
        *,
        limiter: RateLimiter | None = None,
        backoff: Callable[[int], float] = backoff_seconds,
        batch: int = BATCH,
        concurrency: int = CONCURRENCY,
        lease: timedelta = LEASE,
        watch: ChannelWatch | None = None,
        fallbacks: Mapping[Platform, TemplateFallback] | None = None,
        desk_address: str = "http://127.0.0.1:8000",
    ) -> None:
        self._sessions = sessions
        self._desk_address = desk_address
        self._watch = watch
        self._fallbacks = dict(fallbacks or {})
        self._backoff = backoff
        self._senders = dict(senders)
        self._metrics = metrics
        self._limiter = limiter or LocalRateLimiter({p.value: DEFAULT_RATE for p in senders})
        self._batch = batch
        self._in_flight = asyncio.Semaphore(concurrency)
        self._lease = lease
        self._margin = min(LEASE_MARGIN, lease / 3)
        self._wake = asyncio.Event()
        self._stopping = False
        # Sent, not yet recorded: (row id, the platform's message id, whether it went as a template
        # message, the calls its message took).
        self._sent: list[tuple[int, str | None, bool, int]] = []
        self._flush_lock = asyncio.Lock()
        self._busy: set[tuple[Platform, str]] = set()  # chats whose rows are being sent

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the sends in flight, record them, then return from ``run``."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver until stopped. The next batch is claimed while the last one is still being sent,
        so the platform's budget is not left unused between batches: at most two are in flight."""
        failures = 0
        sending: asyncio.Task[None] | None = None
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    await self._flush()  # sent rows a failed flush kept: recorded before anything is claimed again
                    rows, languages = await self._claim()
                    earlier = sending
                    sending = asyncio.create_task(self._send_batch(rows, languages)) if rows else None
                    if earlier is not None:
                        await earlier
                    failures = 0
                except Exception as error:
                    if not is_database_unavailable(error):
                        raise
                    failures += 1
                    log.warning("delivery: database unavailable (%s); retrying", type(error).__name__)
                    await asyncio.sleep(min(30.0, 0.5 * 2**failures))
                    continue
                if sending is None and earlier is None and not self._stopping:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), IDLE_POLL_SECONDS)
        finally:
            if sending is not None:
                if self._stopping:
                    await sending  # its sends finish and are recorded
                else:
                    sending.cancel()

    async def drain_once(self) -> int:
        """Claim a batch of due messages and send them; the number claimed."""
        await self._flush()  # sent rows a failed flush kept: recorded before anything is claimed again
        rows, languages = await self._claim()
        await self._send_batch(rows, languages)
        return len(rows)

    async def _send_batch(self, rows: list[OutboxMessage], languages: dict[tuple[Platform, str], str]) -> None:
        chats: dict[tuple[Platform, str], list[OutboxMessage]] = defaultdict(list)
        for row in rows:
            chats[(row.platform, row.chat_id)].append(row)
        # A chat still being sent from the batch before keeps its order: its rows here wait for a later claim.
        busy = [chat_rows for chat, chat_rows in chats.items() if chat in self._busy]
        await self._release([row for chat_rows in busy for row in chat_rows])
        chats = {chat: chat_rows for chat, chat_rows in chats.items() if chat not in self._busy}
        self._busy.update(chats)
        done = asyncio.Event()
        flusher = asyncio.create_task(self._flush_periodically(done))
        try:
            await asyncio.gather(
                *(self._send_chat(chat_rows, languages.get(chat)) for chat, chat_rows in chats.items())
            )
        finally:
            self._busy.difference_update(chats)
            # Not cancelled: a flush cut off mid-write would leave sent rows to be sent again.
            done.set()
            await flusher
            await self._flush()

    async def _send_chat(self, rows: list[OutboxMessage], locale: str | None) -> None:
        """One chat's rows, in order; after a row that must wait, the rest wait too (order)."""
        for index, row in enumerate(rows):
            if self._stopping:
                await self._release(rows[index:])
                return
            async with self._in_flight:
                if self._stopping:  # stopped while waiting for a place: not one more budget slot
                    await self._release(rows[index:])
                    return
                # The slot is taken once a send may start, so a pause after a 429 holds back
                # every send not yet on the wire.
                await self._limiter.acquire(row.platform.value, row.chat_id)
                # After a long wait (a long 429 pause, a budget shared by many processes) the lease
                # may be ending; another worker could then claim the row, so let it go unsent.
                lease_ending = row.claimed_until is not None and row.claimed_until - self._margin <= utcnow()
                if self._stopping or lease_ending:
                    await self._release(rows[index:])
                    return
                try:
                    delivered = await self._deliver(row, locale)
                except RetryLater as error:
                    await self._hold(rows[index:], error)
                    return
            if not delivered:
                await self._release(rows[index + 1 :])
                return

    async def _claim(self) -> tuple[list[OutboxMessage], dict[tuple[Platform, str], str]]:
        """Claim due rows; with the language of each chat they go to."""
        now = utcnow()
        platforms = list(self._senders)
        async with self._sessions() as session, session.begin():
            due = (
                select(OutboxMessage.id)
                .where(OutboxMessage.status == OutboxStatus.PENDING)
                .where(col(OutboxMessage.platform).in_(platforms))
                .where(col(OutboxMessage.next_attempt_at) <= now)
                .where(or_(col(OutboxMessage.claimed_until).is_(None), col(OutboxMessage.claimed_until) < now))
                # Answers to what a member just did go before broadcasts (rows sent to a member by
                # a notice, ballot or result carry member_id), so a tap is answered at once even
                # while thousands of notices wait for the rate limit.
                .order_by(col(OutboxMessage.member_id).is_not(None), col(OutboxMessage.id))
                .limit(self._batch)
            )
            if session.bind is not None and session.bind.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            # Chosen, then claimed, as two statements: inside an UPDATE, PostgreSQL may run the
            # "IN (subquery)" again for each row it updates, skipping the rows just claimed, and so
            # claim every due row instead of one batch. The claim re-checks what the choice saw.
            chosen = list((await session.exec(due)).all())
            if not chosen:
                return [], {}
            claimed = await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(chosen), col(OutboxMessage.status) == OutboxStatus.PENDING)
                .where(or_(col(OutboxMessage.claimed_until).is_(None), col(OutboxMessage.claimed_until) < now))
                .values(claimed_until=now + self._lease, attempts=OutboxMessage.attempts + 1)
                .returning(col(OutboxMessage.id))
            )
            ids = sorted(claimed.scalars().all())
            if not ids:
                return [], {}
            result = await session.exec(
                select(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).order_by(col(OutboxMessage.id))
            )
            rows = list(result.all())
            return rows, await locales(session, {(row.platform, row.chat_id) for row in rows})

    async def _deliver(self, row: OutboxMessage, locale: str | None) -> bool:
        """Send one row; True when it is done with (sent or failed for good), False when it waits."""
        platform = row.platform.value
        try:
            # A row for a member (a notice, ballot, invitation or result) was pushed, not asked for.
            reply = replace(Reply.from_dict(row.body), pushed=row.member_id is not None)
            if reply.invite_for is not None:
                # The web chat keeps what it is sent: it gets the code masked (it asks inline for one).
                reply = await self._with_invite_code(reply, reply.invite_for, masked=row.platform is Platform.WEB)
            if reply.desk_link_for is not None:
                reply = await self._with_desk_link(reply, reply.desk_link_for, masked=row.platform is Platform.WEB)
            # The web chat stores what it is sent beside the member's chat: a secret ballot's ticks
            # are never stored there (its page gets them opened in a tap's own answer, and for the
            # last message when it first looks at the chat after a reload).
            if row.platform is not Platform.WEB and has_secret_ticks(reply):
                async with self._sessions() as session:
                    reply = await ticks_shown(session, reply)
            SENDING.set(row)  # each chat's rows are sent in a task of their own: its context only
            progress = Progress(row.parts_sent, partial(self._record_parts, row))
            PROGRESS.set(progress)
            by_template = False
            try:
                message_id = await self._senders[row.platform].send(row.chat_id, reply, locale)
            except WindowClosed as closed:
                message_id, by_template = await self._by_template(row, closed), True
        except RetryLater:
            raise  # the chat is held (_hold), not this one row
        except Unreachable as error:
            self._metrics.messages_failed.labels(platform, "unreachable").inc()
            await self._update(row, status=OutboxStatus.FAILED, last_error=str(error)[:500])
            await self._mark_unreachable(row)
        except Rejected as error:
            self._metrics.messages_failed.labels(platform, "rejected").inc()
            await self._update(row, status=OutboxStatus.FAILED, last_error=str(error)[:500])
            await self._channel_failed(row.platform)
        except Transient as error:
            await self._channel_failed(row.platform)
            return await self._retry_or_give_up(row, str(error))
        except Exception as error:
            # A surprise from a client library (or a bug) must not stop delivery for everyone.
            log.exception("delivery: unexpected error sending outbox row %s", row.id)
            await self._channel_failed(row.platform)
            return await self._retry_or_give_up(row, f"{type(error).__name__}: {error}")
        else:
            if self._watch is not None:
                self._watch.delivered(row.platform)
            self._metrics.messages_sent.labels(platform).inc()
            assert row.id is not None
            self._sent.append((row.id, message_id, by_template, max(progress.made, row.parts_sent)))
            if len(self._sent) >= FLUSH_ROWS:
                await self._flush()
        return True

    async def _by_template(self, row: OutboxMessage, closed: WindowClosed) -> str:
        """A pushed message the chat window refused, sent as the platform's template message where
        one applies (the Zalo OA's ZNS); else the window's refusal stands."""
        fallback = self._fallbacks.get(row.platform)
        if fallback is None or row.member_id is None or row.id is None:
            raise closed
        try:
            return await fallback.send(Pushed(row.id, row.member_id, row.notice_id, row.body))
        except NoTemplate as none:
            log.info("delivery: outbox row %s: no template message applies (%s)", row.id, none)
            raise closed from None

    async def _channel_failed(self, platform: Platform) -> None:
        if self._watch is not None and await self._watch.failed(platform):
            self._metrics.channel_alerts.labels(platform.value).inc()
            self.wake()

    async def _with_invite_code(self, reply: Reply, member_id: int, *, masked: bool = False) -> Reply:
        """The message with a fresh invite code in it, made just before it is sent: the outbox row
        keeps only the placeholder. A retry makes another code, and the earlier one stops working,
        so the code the secretary last received is the one that works."""
        async with self._sessions() as session, session.begin():
            text, kept = await fill_in_code(session, member_id, reply.text)
        return replace(reply, text=kept if masked else text, invite_for=None)

    async def _with_desk_link(self, reply: Reply, member_id: int, *, masked: bool = False) -> Reply:
        """The message with a fresh one-time link to the desk, made just before it is sent (as an
        invite code is): the outbox row keeps only the placeholder."""
        async with self._sessions() as session, session.begin():
            text, kept = await fill_in_link(session, member_id, reply.text, self._desk_address)
        return replace(reply, text=kept if masked else text, desk_link_for=None)

    async def _retry_or_give_up(self, row: OutboxMessage, reason: str) -> bool:
        if row.attempts >= MAX_ATTEMPTS:
            self._metrics.messages_failed.labels(row.platform.value, "gave_up").inc()
            await self._update(row, status=OutboxStatus.FAILED, last_error=reason[:500])
            return True
        retry_at = utcnow() + timedelta(seconds=self._backoff(row.attempts))
        await self._update(row, next_attempt_at=retry_at, last_error=reason[:500])
        return False

    async def _record_parts(self, row: OutboxMessage, made: int) -> None:
        """A call of a message in several made: a retry will not make it again."""
        row.parts_sent = made
        async with self._sessions() as session, session.begin():
            await session.exec(update(OutboxMessage).where(col(OutboxMessage.id) == row.id).values(parts_sent=made))

    async def _update(self, row: OutboxMessage, **values: object) -> None:
        async with self._sessions() as session, session.begin():
            await session.exec(
                update(OutboxMessage).where(col(OutboxMessage.id) == row.id).values(claimed_until=None, **values)
            )

    async def _flush_periodically(self, done: asyncio.Event) -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), FLUSH_SECONDS)
            await self._flush()

    async def _flush(self) -> None:
        """Record the sent rows in one statement; if that fails they are kept for the next flush."""
        async with self._flush_lock:
            ids, self._sent = self._sent, []
            if not ids:
                return
            now = utcnow()
            sent = {"status": OutboxStatus.SENT, "sent_at": now, "claimed_until": None, "last_error": None}
            plain: dict[int, list[int]] = defaultdict(list)  # by the calls each message took: one statement each
            for row_id, message_id, _template, parts in ids:
                if message_id is None:
                    plain[parts].append(row_id)
            # Rows whose platform named the message: its id is kept, for the platform's receipts.
            named = [
                {"row_id": row_id, "message_id": message_id, "template_at": now if template else None, "parts": parts}
                for row_id, message_id, template, parts in ids
                if message_id is not None
            ]
            table = table_of(OutboxMessage)
            try:
                async with self._sessions() as session, session.begin():
                    for parts, row_ids in plain.items():
                        await session.exec(
                            update(OutboxMessage)
                            .where(col(OutboxMessage.id).in_(row_ids))
                            .values(**sent, parts_sent=parts)
                        )
                    if named:
                        await session.exec(
                            update(table)
                            .where(table.c.id == bindparam("row_id"))
                            .values(
                                **sent,
                                platform_message_id=bindparam("message_id"),
                                template_sent_at=bindparam("template_at"),
                                parts_sent=bindparam("parts"),
                            ),
                            params=named,
                        )
            except BaseException:
                self._sent = ids + self._sent
                raise

    async def _hold(self, rows: list[OutboxMessage], error: RetryLater) -> None:
        """The platform answered 429 for the first of ``rows``: not the message's fault, so it keeps
        its place and its attempt is not counted. Its chat waits ``retry_after`` (in the rate
        limiter, and every pending row of the chat in the outbox, so the chat's messages stay in
        order); the whole platform waits only when many chats are answered so at once."""
        platform = rows[0].platform
        if await self._limiter.limited(platform.value, rows[0].chat_id, error.after):
            self._metrics.rate_cuts.labels(platform.value).inc()
            log.warning("delivery: 429s from many %s chats at once; sending slows down", platform.value)
        self._metrics.rate_limited.labels(platform.value).inc()
        now = utcnow()
        until = now + timedelta(seconds=error.after)
        # Back to it as soon as the chat may be sent to again, rather than at the next idle look.
        asyncio.get_running_loop().call_later(error.after, self.wake)
        async with self._sessions() as session, session.begin():
            await session.exec(
                update(OutboxMessage)
                .where(_still_ours(rows))
                .values(claimed_until=None, attempts=OutboxMessage.attempts - 1)
            )
            await session.exec(
                update(OutboxMessage).where(col(OutboxMessage.id) == rows[0].id).values(last_error=str(error)[:500])
            )
            # Unclaimed, or claimed by this worker just above; a row leased by another worker is its own.
            await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.platform) == platform, col(OutboxMessage.chat_id) == rows[0].chat_id)
                .where(col(OutboxMessage.status) == OutboxStatus.PENDING, col(OutboxMessage.next_attempt_at) < until)
                .where(or_(col(OutboxMessage.claimed_until).is_(None), col(OutboxMessage.claimed_until) < now))
                .values(next_attempt_at=until)
            )

    async def _release(self, rows: list[OutboxMessage]) -> None:
        if not rows:
            return
        async with self._sessions() as session, session.begin():
            await session.exec(
                update(OutboxMessage)
                .where(_still_ours(rows))
                .values(claimed_until=None, attempts=OutboxMessage.attempts - 1)
            )

    async def _mark_unreachable(self, row: OutboxMessage) -> None:
        async with self._sessions() as session, session.begin():
            await session.exec(
                update(ChannelIdentity)
                .where(ChannelIdentity.platform == row.platform)  # type: ignore[arg-type]
                .where(ChannelIdentity.chat_id == row.chat_id)  # type: ignore[arg-type]
                .values(unreachable_at=utcnow())
            )
