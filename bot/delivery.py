"""The delivery worker: drains the outbox, in order, within what each platform allows.

Rows are claimed with a lease (``claimed_until``) in one atomic statement, so several workers can
share one outbox and a worker killed mid-send lets its rows go to another when the lease ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Protocol

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.metrics import Metrics
from handlers.contract import Reply
from models.db import is_database_unavailable
from models.tables import ChannelIdentity, OutboxMessage, OutboxStatus, Platform, utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 300.0
IDLE_POLL_SECONDS = 2.0
BATCH = 20


class SendError(Exception):
    """A send that did not go through; the subclass says what to do about it."""


class RetryLater(SendError):
    """The platform asked us to slow down (HTTP 429): wait exactly ``after`` seconds."""

    def __init__(self, after: float) -> None:
        super().__init__(f"rate limited, retry after {after}s")
        self.after = after


class Unreachable(SendError):
    """The member blocked the bot or left: never retry, mark them unreachable."""


class Rejected(SendError):
    """The platform refused this message for good (HTTP 400): retrying cannot help."""


class Transient(SendError):
    """A network error or a 5xx: retry with backoff."""


class Sender(Protocol):
    async def send(self, chat_id: str, reply: Reply) -> None: ...


def backoff_seconds(attempts: int) -> float:
    """Capped exponential backoff with full jitter, so many retries do not arrive together."""
    return random.uniform(0, min(MAX_BACKOFF_SECONDS, 2.0**attempts))


class DeliveryWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        senders: Mapping[Platform, Sender],
        metrics: Metrics,
        *,
        backoff: Callable[[int], float] = backoff_seconds,
    ) -> None:
        self._sessions = sessions
        self._backoff = backoff
        self._senders = dict(senders)
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the message in flight, then return from ``run``."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        while not self._stopping:
            self._wake.clear()
            try:
                sent = await self.drain_once()
                failures = 0
            except Exception as error:
                if not is_database_unavailable(error):
                    raise
                failures += 1
                log.warning("delivery: database unavailable (%s); retrying", type(error).__name__)
                sent = 0
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))
            if sent == 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_POLL_SECONDS)

    async def drain_once(self) -> int:
        """Claim a batch of due messages and send them in order; the number handled."""
        rows = await self._claim()
        for index, row in enumerate(rows):
            if self._stopping:
                await self._release(rows[index:])
                break
            pause = await self._deliver(row)
            if pause:
                await self._release(rows[index + 1 :])
                await asyncio.sleep(pause)
                break
        return len(rows)

    async def _claim(self) -> list[OutboxMessage]:
        now = utcnow()
        platforms = list(self._senders)
        async with self._sessions() as session, session.begin():
            due = (
                select(OutboxMessage.id)
                .where(OutboxMessage.status == OutboxStatus.PENDING)
                .where(col(OutboxMessage.platform).in_(platforms))
                .where(col(OutboxMessage.next_attempt_at) <= now)
                .where(or_(col(OutboxMessage.claimed_until).is_(None), col(OutboxMessage.claimed_until) < now))
                .order_by(col(OutboxMessage.id))
                .limit(BATCH)
            )
            if session.bind is not None and session.bind.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            claimed = await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(due.scalar_subquery()))
                .values(claimed_until=now + LEASE, attempts=OutboxMessage.attempts + 1)
                .returning(col(OutboxMessage.id))
            )
            ids = sorted(claimed.scalars().all())
            if not ids:
                return []
            result = await session.exec(
                select(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).order_by(col(OutboxMessage.id))
            )
            return list(result.all())

    async def _deliver(self, row: OutboxMessage) -> float:
        """Send one row and record the outcome; the seconds to pause all sending (after a 429)."""
        platform = row.platform.value
        values: dict[str, object] = {"claimed_until": None}
        pause = 0.0
        try:
            await self._senders[row.platform].send(row.chat_id, Reply.from_dict(row.body))
        except RetryLater as error:
            # Not the message's fault: it keeps its place and its attempt is not counted.
            pause = error.after
            values |= {
                "next_attempt_at": utcnow() + timedelta(seconds=error.after),
                "attempts": row.attempts - 1,
                "last_error": str(error)[:500],
            }
        except Unreachable as error:
            values |= {"status": OutboxStatus.FAILED, "last_error": str(error)[:500]}
            self._metrics.messages_failed.labels(platform, "unreachable").inc()
            await self._mark_unreachable(row)
        except Rejected as error:
            values |= {"status": OutboxStatus.FAILED, "last_error": str(error)[:500]}
            self._metrics.messages_failed.labels(platform, "rejected").inc()
        except Transient as error:
            if row.attempts >= MAX_ATTEMPTS:
                values |= {"status": OutboxStatus.FAILED, "last_error": str(error)[:500]}
                self._metrics.messages_failed.labels(platform, "gave_up").inc()
            else:
                values |= {
                    "next_attempt_at": utcnow() + timedelta(seconds=self._backoff(row.attempts)),
                    "last_error": str(error)[:500],
                }
        else:
            values |= {"status": OutboxStatus.SENT, "sent_at": utcnow(), "last_error": None}
            self._metrics.messages_sent.labels(platform).inc()
        async with self._sessions() as session, session.begin():
            await session.exec(update(OutboxMessage).where(col(OutboxMessage.id) == row.id).values(**values))
        return pause

    async def _release(self, rows: list[OutboxMessage]) -> None:
        if not rows:
            return
        async with self._sessions() as session, session.begin():
            await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_([r.id for r in rows]))
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
