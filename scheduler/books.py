"""The books' reminders to the secretary (models/books.py ``send_reminders``): a probation ending in
30 and 7 days, a quarter without a thematic meeting. Each is written once in the database with the
message it sends, so this may run hourly, on any number of replicas, across restarts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.books import BookMessages, send_reminders
from models.uow import UnitOfWork

log = logging.getLogger(__name__)

BOOK_REMINDERS_HOURS = 1


async def send_book_reminders(
    sessions: async_sessionmaker[AsyncSession],
    messages: BookMessages,
    timezone: tzinfo,
    wake_delivery: Callable[[], None],
    now: datetime | None = None,
) -> int:
    """One pass: the reminders due today (in the commune's time zone); how many went."""
    today = (now or datetime.now(UTC)).astimezone(timezone).date()
    async with UnitOfWork(sessions) as uow:
        sent = await send_reminders(uow.session, messages, today, timezone)
    if sent:
        wake_delivery()
    return sent


def add_book_reminders(
    scheduler: AsyncIOScheduler,
    sessions: async_sessionmaker[AsyncSession],
    messages: BookMessages,
    timezone: tzinfo,
    wake_delivery: Callable[[], None],
) -> None:
    """Hourly, and once at start (what fell due while chibo was down)."""
    scheduler.add_job(
        send_book_reminders,
        "interval",
        args=[sessions, messages, timezone, wake_delivery],
        hours=BOOK_REMINDERS_HOURS,
        next_run_time=datetime.now(UTC),
        id="book-reminders",
        coalesce=True,
        max_instances=1,
    )
