"""APScheduler only wakes the process; what is due lives in the database (DESIGN.md §2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from scheduler.housekeeping import prune_processed_updates


def create_scheduler(sessions: async_sessionmaker[AsyncSession], timezone: str) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=timezone)
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
