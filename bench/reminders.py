"""Meeting reminders on time: 1,000 reminders due within one minute, two scheduler processes.

Each process runs chibo's scheduler as ``chibo serve`` wires it (APScheduler waking the real
``MeetingJobs`` on the real clock) against one PostgreSQL database. The meetings are called while
the processes run, as through another replica, each reminder due two hours before its meeting,
spread evenly over the window. Prints the lateness of each reminder's hand-over to delivery, as
p50/p99/max and against the 1 s target: when its row was claimed (``MeetingJob.done_at`` minus
``due_at``) and when its outbox row was written (``created_at``; the pass commits right after).
The rate limiter's queueing comes later and is measured by bench/broadcast.py. Then how many
reminders went more than once (target 0) or never (target 0), and each process's share.

    .venv/bin/python bench/reminders.py                  # 1,000 reminders over 60 s, 2 processes
    .venv/bin/python bench/reminders.py --window 15      # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

from sqlalchemy import func
from sqlmodel import col, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.votes import fresh_database
from bot.migrate import upgrade
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.meetings import messages_maker
from handlers.notices import notice_body_maker
from handlers.polls import results_maker
from models.meetings import DueRun, call, change_draft, create_draft
from models.notices import Audience
from models.permissions import OPERATOR
from models.tables import JobState, MeetingJob, MeetingJobKind, Member, OutboxMessage, utcnow
from scheduler.meetings import RECHECK, MeetingJobs
from scheduler.runner import create_scheduler
from tests.test_notices import big_branch

FIRST_CHAT = 8_000_000
REMINDER_MINUTES = 120
TARGET_SECONDS = 1.0


class CountedJobs(MeetingJobs):
    """The real jobs, counting how many this process handed over."""

    handed: int = 0

    async def run_due(self) -> DueRun:
        run = await super().run_due()
        self.handed += run.done
        return run


def _runtime(database_url: str) -> Runtime:
    return Runtime.create(Settings(_env_file=None, database_url=database_url))


async def _scheduler(database_url: str, ready: Event, stop: Event, handed: Queue[int]) -> None:
    runtime = _runtime(database_url)
    settings = runtime.settings
    jobs = CountedJobs(runtime.sessions, messages_maker(runtime.catalogs, settings.tz), settings.tz, lambda: None)
    scheduler = create_scheduler(
        runtime.sessions, settings.timezone, notice_body_maker(runtime.catalogs), lambda: None,
        results_maker(runtime.catalogs), jobs,
    )  # fmt: skip
    scheduler.start()
    ready.set()
    await asyncio.to_thread(stop.wait)
    scheduler.shutdown()
    handed.put(jobs.handed)
    await runtime.engine.dispose()


def _run_scheduler(database_url: str, ready: Event, stop: Event, handed: Queue[int]) -> None:
    """One scheduler process (spawned: a forked one would share this process's loop and sockets)."""
    asyncio.run(_scheduler(database_url, ready, stop, handed))


async def _call_meetings(runtime: Runtime, reminders: int, meetings: int, first_due: datetime, window: float) -> None:
    """``meetings`` meetings of ``reminders / meetings`` members each, their reminders due evenly
    from ``first_due`` to ``first_due + window``."""
    branch_id = await big_branch(runtime, reminders, FIRST_CHAT)
    async with runtime.sessions() as session:
        members = (await session.exec(select(Member.id).where(Member.branch_id == branch_id))).all()
    size = reminders // meetings
    for index in range(meetings):
        due = first_due + timedelta(seconds=window * index / max(meetings - 1, 1))
        async with runtime.sessions() as session, session.begin():
            meeting = await create_draft(
                session, OPERATOR, title=f"Bench {index}", branch_id=branch_id,
                starts_at=due + timedelta(minutes=REMINDER_MINUTES),
                audience=Audience(None, members=tuple(m or 0 for m in members[index * size : (index + 1) * size])),
            )  # fmt: skip
            await change_draft(session, OPERATOR, meeting, reminder_minutes=[REMINDER_MINUTES])
            await call(session, OPERATOR, meeting, messages_maker(runtime.catalogs, runtime.settings.tz))


async def _reminders(runtime: Runtime) -> list[MeetingJob]:
    async with runtime.sessions() as session:
        query = select(MeetingJob).where(MeetingJob.kind == MeetingJobKind.REMINDER)
        return list((await session.exec(query)).all())


async def _until_all_handed(runtime: Runtime, deadline: float) -> None:
    while time.monotonic() < deadline:
        async with runtime.sessions() as session:
            pending = (
                await session.exec(
                    select(func.count()).select_from(MeetingJob).where(MeetingJob.state == JobState.PENDING)
                    .where(MeetingJob.kind == MeetingJobKind.REMINDER)
                )
            ).one()  # fmt: skip
        if not pending:
            return
        await asyncio.sleep(0.5)


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _lateness(label: str, seconds: list[float]) -> None:
    ordered = sorted(seconds)
    p50, p99 = statistics.median(ordered), _percentile(ordered, 0.99)
    print(
        f"  {label:<24} p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms   max {ordered[-1] * 1000:7.1f} ms   "
        f"p99 / 1 s target {p99 / TARGET_SECONDS:5.3f}"
    )


async def _report(runtime: Runtime, reminders: int, first_outbox: int, shares: list[int]) -> None:
    jobs = await _reminders(runtime)
    due = {job.member_id: job.due_at for job in jobs}  # one reminder per member
    async with runtime.sessions() as session:
        written = (
            await session.exec(
                select(OutboxMessage.member_id, OutboxMessage.created_at).where(col(OutboxMessage.id) > first_outbox)
            )
        ).all()
    per_member = Counter(member for member, _at in written)
    duplicates = sum(count - 1 for count in per_member.values() if count > 1)
    missed = reminders - len(per_member)
    states = Counter(job.state.value for job in jobs)
    print(f"  reminders handed to delivery {len(per_member)} of {reminders}   rows {dict(states)}")
    _lateness("claimed (done_at - due)", [(j.done_at - j.due_at).total_seconds() for j in jobs if j.done_at])
    _lateness("outbox row written", [(at - due[member]).total_seconds() for member, at in written])
    print(f"  duplicates {duplicates} (target 0)   missed {missed} (target 0)")
    print(f"  handed over per process {shares}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--reminders", type=int, default=1000)
    parser.add_argument("--meetings", type=int, default=100, help="distinct due times")
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which the reminders fall due")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    async with fresh_database(args.database_url) as database_url:
        await upgrade(database_url)
        spawn = multiprocessing.get_context("spawn")
        ready = [spawn.Event() for _ in range(args.processes)]
        stop, handed = spawn.Event(), spawn.Queue()
        processes = [
            spawn.Process(target=_run_scheduler, args=(database_url, event, stop, handed), daemon=True)
            for event in ready
        ]
        for process in processes:
            process.start()
        for event in ready:
            await asyncio.to_thread(event.wait)
        runtime = _runtime(database_url)
        # Called while the schedulers run, which notice new jobs within RECHECK: the first falls
        # due after that, plus the time it takes to call the meetings.
        first_due = utcnow() + RECHECK + timedelta(seconds=10)
        await _call_meetings(runtime, args.reminders, args.meetings, first_due, args.window)
        if utcnow() + RECHECK > first_due:
            print("(calling the meetings took too long: the first reminders may be found late)")
        async with runtime.sessions() as session:
            first_outbox = (await session.exec(select(func.max(OutboxMessage.id)))).one() or 0
        kind = database_url.split(":")[0]
        print(
            f"{args.reminders} reminders due within {args.window:g} s ({args.meetings} due times), "
            f"{args.processes} scheduler processes, {kind}"
        )
        wait = (first_due - utcnow()).total_seconds() + args.window + 30
        await _until_all_handed(runtime, time.monotonic() + wait)
        stop.set()
        shares = [await asyncio.to_thread(handed.get, True, 30) for _ in processes]
        for process in processes:
            await asyncio.to_thread(process.join, 30)
        await _report(runtime, args.reminders, first_outbox, shares)
        await runtime.engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
