"""APScheduler only wakes the process; what is due lives in the database (DESIGN.md §2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.notices import BodyFor
from models.polls import ResultsFor
from scheduler.housekeeping import prune_processed_updates
from scheduler.notices import send_due_notices
from scheduler.polls import close_due_polls

# How late a scheduled notice may go out, or a poll close: the jobs look this often.
NOTICE_TICK_SECONDS = 15


def create_scheduler(
    sessions: async_sessionmaker[AsyncSession],
    timezone: str,
    body_for: BodyFor,
    wake_delivery: Callable[[], None],
    results_for: ResultsFor,
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=timezone)
    scheduler.add_job(
        close_due_polls,
        "interval",
        args=[sessions, results_for, wake_delivery],
        seconds=NOTICE_TICK_SECONDS,
        next_run_time=datetime.now(UTC),  # polls that ended while chibo was down close at once
        id="close-due-polls",
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(
        send_due_notices,
        "interval",
        args=[sessions, body_for, wake_delivery],
        seconds=NOTICE_TICK_SECONDS,
        next_run_time=datetime.now(UTC),  # notices that fell due while chibo was down go out at once
        id="send-due-notices",
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(
        prune_processed_updates,
        "interval",
        args=[sessions],
        hours=1,
        next_run_time=datetime.now(UTC),  # once at start, then hourly
        id="prune-processed-updates",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=int(timedelta(hours=1).total_seconds()),
    )
    return scheduler
