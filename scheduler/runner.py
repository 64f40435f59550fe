"""APScheduler only wakes the process; what is due lives in the database (DESIGN.md §2)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.notices import BodyFor
from models.polls import ResultsFor
from scheduler.housekeeping import prune_processed_updates
from scheduler.meetings import MeetingJobs
from scheduler.notices import send_due_notices
from scheduler.polls import close_due_polls

# How late a scheduled notice may go out, or a poll close: the jobs look this often.
NOTICE_TICK_SECONDS = 15
# How soon a member added to a branch (or newly on Telegram or Zalo) gets its meeting invitations.
LATECOMER_TICK_SECONDS = 60
RETRY_AFTER_FAILURE = timedelta(seconds=5)
MEETING_JOBS = "meeting-jobs"
log = logging.getLogger(__name__)


async def _next_wake(meeting_jobs: MeetingJobs) -> datetime:
    try:
        return await meeting_jobs.next_wake()
    except Exception:
        log.exception("meeting jobs: could not read the next due time")
        return datetime.now(UTC) + RETRY_AFTER_FAILURE


def create_scheduler(
    sessions: async_sessionmaker[AsyncSession],
    timezone: str,
    body_for: BodyFor,
    wake_delivery: Callable[[], None],
    results_for: ResultsFor,
    meeting_jobs: MeetingJobs,
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=timezone)

    async def run_meeting_jobs() -> datetime:
        """One pass; returns when the next is due."""
        try:
            await meeting_jobs.run_due()
        except Exception:
            log.exception("meeting jobs: this pass failed; trying again shortly")
            return datetime.now(UTC) + RETRY_AFTER_FAILURE
        return await _next_wake(meeting_jobs)

    def schedule_next_pass(event: JobExecutionEvent) -> None:
        # A one-off job run again exactly when the next reminder is due, so it is handed to delivery
        # within a second of that time, not at the next fixed tick. It is added here, once the pass
        # has ended: added from inside the pass for a time already past (a job fell due meanwhile),
        # APScheduler would find its one instance still running, skip it, and never run it again.
        if event.job_id == MEETING_JOBS:
            scheduler.add_job(
                run_meeting_jobs, "date", run_date=event.retval, id=MEETING_JOBS, replace_existing=True,
                misfire_grace_time=None,
            )  # fmt: skip

    scheduler.add_listener(schedule_next_pass, EVENT_JOB_EXECUTED)
    scheduler.add_job(
        run_meeting_jobs,
        "date",
        run_date=datetime.now(UTC),  # reminders that fell due while chibo was down, at once
        id=MEETING_JOBS,
        misfire_grace_time=None,
    )
    scheduler.add_job(
        meeting_jobs.invite_latecomers,
        "interval",
        seconds=LATECOMER_TICK_SECONDS,
        id="invite-latecomers",
        coalesce=True,
        max_instances=1,
    )
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
