"""Meeting reminders and timed jobs as database rows: set when a meeting is called, moved and
removed with it, handed to delivery at their due time (a clock the tests move by hand), caught up
after a stop, and each done once by any number of scheduler processes. Also the validity rule,
monthly repetition and the absence warning, on cases computed by hand (the attendance rules
themselves are in tests/test_attendance_rules.py)."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from bot.i18n import Catalogs
from bot.runtime import Runtime
from handlers.meetings import messages_maker
from handlers.notices import notice_body_maker
from handlers.polls import results_maker
from models.db import create_engine, session_factory
from models.meetings import (
    AbsenceWarning,
    Summary,
    answer,
    attendance_of,
    call,
    cancel,
    change_draft,
    check_in,
    confirm_attendance,
    create_draft,
    excuse_waiting,
    mark,
    next_occurrence,
    reschedule,
    summarize,
)
from models.notices import Audience
from models.permissions import OPERATOR
from models.tables import (
    Attendance,
    Branch,
    ChannelIdentity,
    JobState,
    Meeting,
    MeetingInvitation,
    MeetingJob,
    MeetingJobKind,
    MeetingKind,
    Member,
    OutboxMessage,
    Platform,
    Rsvp,
)
from scheduler.meetings import BATCH, RECHECK, MeetingJobs
from scheduler.runner import create_scheduler
from tests.conftest import Demo, member_named
from tests.test_notices import big_branch

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
# A Friday-evening branch meeting, 19:30 in Hà Nội, called three days ahead. Every time below is
# given to the code as ``now`` or through the scheduler's clock; none is read from the wall.
START = datetime(2025, 3, 14, 12, 30, tzinfo=UTC)
CALLED = START - timedelta(days=3)
DAY_BEFORE, HOURS_BEFORE = START - timedelta(hours=24), START - timedelta(hours=2)
CLOSE = START + timedelta(hours=1)
SECRETARY = "Lý Văn Quang"  # secretary of Chi bộ thôn Tây (10 members, Tạ Văn Bình exempt)
SON, THAO, HANH, BINH, NGOC = "Mai Văn Sơn", "Chu Thị Thảo", "Lương Thị Hạnh", "Tạ Văn Bình", "Hồ Thị Ngọc"
TAY_MEMBERS = 10
FIRST_CHAT = 70_000
ROOT = Path(__file__).resolve().parents[1]


class Letters:
    """Says what each message is instead of its wording (tests/test_meetings.py reads the wording)."""

    def invitation(self, member: Member, meeting: Meeting) -> dict[str, Any]:
        return {"text": "invitation"}

    def reminder(self, member: Member, meeting: Meeting, minutes_before: int) -> dict[str, Any]:
        return {"text": f"reminder {minutes_before}"}

    def moved(self, member: Member, meeting: Meeting, previous_start: datetime) -> dict[str, Any]:
        return {"text": "moved"}

    def cancelled(self, member: Member, meeting: Meeting) -> dict[str, Any]:
        return {"text": "cancelled"}

    def start_summary(self, member: Member, meeting: Meeting, summary: Summary) -> dict[str, Any]:
        return {"text": f"summary: {summary.attending} attending, {summary.declined} excused"}

    def absence_warning(self, member: Member, meeting: Meeting, absent: list[AbsenceWarning]) -> dict[str, Any]:
        return {
            "text": "warning: " + ", ".join(f"{w.name} " + "+".join(f"{m:%m/%Y}" for m in w.months) for w in absent)
        }


LETTERS = Letters()


@dataclass
class Clock:
    """The scheduler's clock, moved by the test."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Outbox:
    """What was handed to delivery, read back from the outbox."""

    runtime: Runtime
    seen: int = 0

    async def new(self) -> list[tuple[str, str]]:
        """(recipient, message) of each row written since the last look, sorted."""
        async with self.runtime.sessions() as session:
            rows = (
                await session.exec(
                    select(OutboxMessage.id, Member.full_name, OutboxMessage.body)
                    .join(Member, col(Member.id) == OutboxMessage.member_id)
                    .where(col(OutboxMessage.id) > self.seen)
                    .order_by(col(OutboxMessage.id))
                )
            ).all()
        if rows:
            self.seen = rows[-1][0] or 0
        return sorted((name, body["text"]) for _id, name, body in rows)


@dataclass
class Scheduler:
    """``MeetingJobs`` as the process runs it, on the test's clock."""

    runtime: Runtime
    clock: Clock = field(default_factory=lambda: Clock(CALLED))
    wakes: list[datetime] = field(default_factory=list)

    @property
    def jobs(self) -> MeetingJobs:
        return MeetingJobs(
            self.runtime.sessions, LETTERS, HANOI, lambda: self.wakes.append(self.clock.now), clock=self.clock
        )

    async def run_at(self, moment: datetime) -> int:
        """Move the clock to ``moment`` and do what is due; how many jobs were done or skipped."""
        self.clock.now = moment
        run = await self.jobs.run_due()
        return run.done + run.skipped


async def _link(runtime: Runtime, *names: str) -> None:
    """These demo members join chibo on Telegram."""
    async with runtime.sessions() as session, session.begin():
        for name in names:
            member = (await session.exec(select(Member).where(Member.full_name == name))).one()
            chat = str(FIRST_CHAT + (member.id or 0))
            session.add(
                ChannelIdentity(
                    platform=Platform.TELEGRAM, platform_user_id=chat, chat_id=chat, member_id=member.id or 0
                )
            )


async def _call(runtime: Runtime, *, starts_at: datetime = START, now: datetime = CALLED, **draft: Any) -> int:
    """The Tây secretary calls a meeting; its id."""
    secretary = await member_named(runtime, SECRETARY)
    async with runtime.sessions() as session, session.begin():
        meeting = await create_draft(
            session, secretary, title="Sinh hoạt chi bộ", starts_at=starts_at, branch_id=secretary.branch_id, now=now
        )
        if draft:
            await change_draft(session, secretary, meeting, **draft)
        await call(session, secretary, meeting, LETTERS, now=now)
        return meeting.id or 0


async def _jobs(runtime: Runtime, meeting_id: int) -> list[MeetingJob]:
    async with runtime.sessions() as session:
        return list((await session.exec(select(MeetingJob).where(MeetingJob.meeting_id == meeting_id))).all())


def _states(jobs: list[MeetingJob]) -> Counter[tuple[MeetingJobKind, int, JobState, str | None]]:
    return Counter((job.kind, job.minutes_before, job.state, job.note) for job in jobs)


def _pending(jobs: list[MeetingJob]) -> Counter[tuple[MeetingJobKind, int, datetime]]:
    return Counter((job.kind, job.minutes_before, job.due_at) for job in jobs if job.state is JobState.PENDING)


def _timetable(starts_at: datetime, members: int = TAY_MEMBERS) -> Counter[tuple[MeetingJobKind, int, datetime]]:
    """The pending jobs of a meeting called well ahead: two reminders per member, the summary at
    the start, attendance closed an hour later."""
    return Counter(
        {
            (MeetingJobKind.REMINDER, 1440, starts_at - timedelta(hours=24)): members,
            (MeetingJobKind.REMINDER, 120, starts_at - timedelta(hours=2)): members,
            (MeetingJobKind.START_SUMMARY, 0, starts_at): 1,
            (MeetingJobKind.CLOSE_ATTENDANCE, 0, starts_at + timedelta(hours=1)): 1,
        }
    )


async def _answer(runtime: Runtime, meeting_id: int, name: str, rsvp: Rsvp, now: datetime) -> None:
    member = await member_named(runtime, name)
    async with runtime.sessions() as session, session.begin():
        await answer(session, meeting_id, member, rsvp, "Ốm" if rsvp is Rsvp.EXCUSED else None, now=now)


# --- calling sets every reminder; each goes at its time ---------------------------------------------


async def test_calling_a_meeting_writes_each_reminder_as_a_row_in_utc(runtime: Runtime, demo: Demo) -> None:
    await _link(runtime, SECRETARY, SON)
    meeting_id = await _call(runtime)
    jobs = await _jobs(runtime, meeting_id)
    assert _pending(jobs) == _timetable(START)
    assert len({job.member_id for job in jobs if job.kind is MeetingJobKind.REMINDER}) == TAY_MEMBERS
    assert all(job.due_at.tzinfo is UTC for job in jobs)
    assert DAY_BEFORE.astimezone(HANOI).strftime("%d/%m %H:%M") == "13/03 19:30"
    # Everyone is invited; only those on Telegram or Zalo can be sent the invitation now.
    assert await Outbox(runtime).new() == [(SECRETARY, "invitation"), (SON, "invitation")]
    # Called three hours ahead, the 24-hour reminder is already past and is not written at all.
    later = START + timedelta(days=7)
    soon = await _jobs(runtime, await _call(runtime, starts_at=later, now=later - timedelta(hours=3)))
    assert Counter(job.minutes_before for job in soon if job.kind is MeetingJobKind.REMINDER) == {120: TAY_MEMBERS}


async def test_each_reminder_is_handed_to_delivery_at_its_due_time_and_declined_members_get_none(
    runtime: Runtime, demo: Demo
) -> None:
    await _link(runtime, SECRETARY, SON, THAO, HANH)
    meeting_id = await _call(runtime)
    await _answer(runtime, meeting_id, HANH, Rsvp.EXCUSED, now=CALLED + timedelta(hours=1))
    await _answer(runtime, meeting_id, SON, Rsvp.ATTENDING, now=CALLED + timedelta(hours=1))
    outbox, scheduler = Outbox(runtime), Scheduler(runtime)
    await outbox.new()
    # Far from any due time it looks again after RECHECK; close to one, it wakes exactly then.
    assert await scheduler.jobs.next_wake() == CALLED + RECHECK
    scheduler.clock.now = DAY_BEFORE - timedelta(seconds=5)
    assert await scheduler.jobs.next_wake() == DAY_BEFORE
    assert await scheduler.run_at(DAY_BEFORE - timedelta(microseconds=1)) == 0
    assert await outbox.new() == []

    assert await scheduler.run_at(DAY_BEFORE) == TAY_MEMBERS
    assert await outbox.new() == [(THAO, "reminder 1440"), (SECRETARY, "reminder 1440"), (SON, "reminder 1440")]
    assert scheduler.wakes == [DAY_BEFORE]  # the delivery worker is woken at once
    jobs = await _jobs(runtime, meeting_id)
    assert _states([job for job in jobs if job.minutes_before == 1440]) == {
        (MeetingJobKind.REMINDER, 1440, JobState.DONE, None): 3,
        (MeetingJobKind.REMINDER, 1440, JobState.SKIPPED, "declined"): 1,
        (MeetingJobKind.REMINDER, 1440, JobState.SKIPPED, "no Telegram or Zalo"): 6,
    }
    assert {job.done_at for job in jobs if job.minutes_before == 1440} == {DAY_BEFORE}  # zero lateness
    assert await scheduler.run_at(DAY_BEFORE + timedelta(minutes=1)) == 0  # each once
    assert await outbox.new() == []
    assert await scheduler.jobs.next_wake() == DAY_BEFORE + timedelta(minutes=1) + RECHECK

    scheduler.clock.now = HOURS_BEFORE - timedelta(seconds=1)
    assert await scheduler.jobs.next_wake() == HOURS_BEFORE
    assert await scheduler.run_at(HOURS_BEFORE) == TAY_MEMBERS
    assert await outbox.new() == [(THAO, "reminder 120"), (SECRETARY, "reminder 120"), (SON, "reminder 120")]

    # At the start the secretary alone hears who said they would come; an hour later attendance closes.
    assert await scheduler.run_at(START) == 1
    assert await outbox.new() == [(SECRETARY, "summary: 1 attending, 1 excused")]
    assert await scheduler.run_at(CLOSE) == 1
    async with runtime.sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
    assert meeting is not None and meeting.attendance_closed_at == CLOSE
    assert _pending(await _jobs(runtime, meeting_id)) == {}
    assert await scheduler.jobs.next_wake() == CLOSE + RECHECK


async def test_a_reminder_shows_the_meeting_time_in_chibo_timezone(runtime: Runtime, demo: Demo) -> None:
    await _link(runtime, SON)
    await _call(runtime)
    jobs = MeetingJobs(runtime.sessions, messages_maker(Catalogs("vi"), HANOI), HANOI, lambda: None, Clock(DAY_BEFORE))
    await jobs.run_due()
    async with runtime.sessions() as session:
        texts = (await session.exec(select(OutboxMessage.body).order_by(col(OutboxMessage.id)))).all()
    reminder = texts[-1]["text"]
    assert reminder.startswith("⏰") and "19:30" in reminder and "14/03/2025" in reminder  # stored as 12:30 UTC


# --- moved and cancelled ----------------------------------------------------------------------------


async def test_rescheduling_moves_every_pending_reminder(runtime: Runtime, demo: Demo) -> None:
    await _link(runtime, SECRETARY, SON)
    meeting_id = await _call(runtime)
    outbox, scheduler = Outbox(runtime), Scheduler(runtime)
    await outbox.new()
    await scheduler.run_at(DAY_BEFORE)
    assert await outbox.new() == [(SECRETARY, "reminder 1440"), (SON, "reminder 1440")]

    moved_to = START + timedelta(days=2)
    secretary = await member_named(runtime, SECRETARY)
    async with runtime.sessions() as session, session.begin():
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        await reschedule(session, secretary, meeting, moved_to, LETTERS, now=DAY_BEFORE + timedelta(hours=1))
    assert await outbox.new() == [(SECRETARY, "moved"), (SON, "moved")]
    jobs = await _jobs(runtime, meeting_id)
    old = [job for job in jobs if job.due_at <= START + timedelta(hours=1)]
    assert _states(old) == {
        (MeetingJobKind.REMINDER, 1440, JobState.DONE, None): 2,  # what went stays as it went
        (MeetingJobKind.REMINDER, 1440, JobState.SKIPPED, "no Telegram or Zalo"): TAY_MEMBERS - 2,
        (MeetingJobKind.REMINDER, 120, JobState.CANCELLED, "moved"): TAY_MEMBERS,
        (MeetingJobKind.START_SUMMARY, 0, JobState.CANCELLED, "moved"): 1,
        (MeetingJobKind.CLOSE_ATTENDANCE, 0, JobState.CANCELLED, "moved"): 1,
    }
    assert _pending(jobs) == _timetable(moved_to)

    # The old times pass in silence; the new ones bring the reminders.
    for moment in (HOURS_BEFORE, START, CLOSE):
        assert await scheduler.run_at(moment) == 0
    assert await outbox.new() == []
    scheduler.clock.now = moved_to - timedelta(hours=24, seconds=10)
    assert await scheduler.jobs.next_wake() == moved_to - timedelta(hours=24)
    await scheduler.run_at(moved_to - timedelta(hours=24))
    await scheduler.run_at(moved_to - timedelta(hours=2))
    assert await outbox.new() == [
        (SECRETARY, "reminder 120"),
        (SECRETARY, "reminder 1440"),
        (SON, "reminder 120"),
        (SON, "reminder 1440"),
    ]

    # Moved earlier, to 90 minutes from now: no reminder is set for a time already past.
    now = moved_to - timedelta(hours=2)
    async with runtime.sessions() as session, session.begin():
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        await reschedule(session, secretary, meeting, now + timedelta(minutes=90), LETTERS, now=now)
    assert _pending(await _jobs(runtime, meeting_id)) == {
        (MeetingJobKind.START_SUMMARY, 0, now + timedelta(minutes=90)): 1,
        (MeetingJobKind.CLOSE_ATTENDANCE, 0, now + timedelta(minutes=150)): 1,
    }


async def test_a_cancelled_meeting_gets_no_reminder_and_no_summary(runtime: Runtime, demo: Demo) -> None:
    await _link(runtime, SECRETARY, SON)
    meeting_id = await _call(runtime)
    outbox, scheduler = Outbox(runtime), Scheduler(runtime)
    await outbox.new()
    secretary = await member_named(runtime, SECRETARY)
    async with runtime.sessions() as session, session.begin():
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        await cancel(session, secretary, meeting, LETTERS, now=DAY_BEFORE - timedelta(hours=1))
    assert await outbox.new() == [(SECRETARY, "cancelled"), (SON, "cancelled")]
    assert _states(await _jobs(runtime, meeting_id)) == {
        (MeetingJobKind.REMINDER, 1440, JobState.CANCELLED, "cancelled"): TAY_MEMBERS,
        (MeetingJobKind.REMINDER, 120, JobState.CANCELLED, "cancelled"): TAY_MEMBERS,
        (MeetingJobKind.START_SUMMARY, 0, JobState.CANCELLED, "cancelled"): 1,
        (MeetingJobKind.CLOSE_ATTENDANCE, 0, JobState.CANCELLED, "cancelled"): 1,
    }
    for moment in (DAY_BEFORE, HOURS_BEFORE, START, CLOSE, START + timedelta(days=40)):
        assert await scheduler.run_at(moment) == 0
    assert await outbox.new() == []
    scheduler.clock.now = DAY_BEFORE
    assert await scheduler.jobs.next_wake() == DAY_BEFORE + RECHECK  # nothing left to wake for


async def test_a_monthly_meeting_calls_the_next_and_cancelling_one_keeps_the_series(
    runtime: Runtime, demo: Demo
) -> None:
    await _link(runtime, SON)
    first_id = await _call(runtime, repeat_day=14)
    secretary = await member_named(runtime, SECRETARY)
    async with runtime.sessions() as session, session.begin():
        first = await session.get(Meeting, first_id)
        assert first is not None
        await cancel(session, secretary, first, LETTERS, now=CALLED + timedelta(hours=1))
    outbox, scheduler = Outbox(runtime), Scheduler(runtime)
    await outbox.new()
    # This month's is off: no reminder, no summary. Next month's is called as this one would have begun.
    for moment in (DAY_BEFORE, HOURS_BEFORE):
        assert await scheduler.run_at(moment) == 0
    assert await scheduler.run_at(START) == 1
    assert await outbox.new() == [(SON, "invitation")]
    async with runtime.sessions() as session:
        following = (
            await session.exec(select(Meeting).where(Meeting.series_id == first_id, Meeting.id != first_id))
        ).one()
    april = datetime(2025, 4, 14, 12, 30, tzinfo=UTC)  # 19:30 on the 14th in Hà Nội again
    assert following.starts_at == april and following.repeat_day == 14
    jobs = await _jobs(runtime, following.id or 0)
    assert _pending(jobs) == _timetable(april) + Counter({(MeetingJobKind.NEXT_MEETING, 0, april): 1})

    # Cancelling the whole series: April's reminders go, and May's meeting is never called.
    async with runtime.sessions() as session, session.begin():
        meeting = await session.get(Meeting, following.id)
        assert meeting is not None
        await cancel(session, secretary, meeting, LETTERS, whole_series=True, now=START + timedelta(days=1))
    assert await outbox.new() == [(SON, "cancelled")]
    for moment in (april - timedelta(hours=24), april, april + timedelta(days=40)):
        assert await scheduler.run_at(moment) == 0
    assert await outbox.new() == []
    async with runtime.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(Meeting))).one() == 2


# --- after a stop -----------------------------------------------------------------------------------


async def test_after_a_stop_only_the_latest_overdue_reminder_goes_once(runtime: Runtime, demo: Demo) -> None:
    # More members than fit in one batch, so a member's two overdue reminders fall in different ones.
    size = BATCH
    branch_id = await big_branch(runtime, size, FIRST_CHAT)
    async with runtime.sessions() as session, session.begin():
        meeting = await create_draft(
            session, OPERATOR, title="Hội nghị", starts_at=START, branch_id=branch_id, now=CALLED
        )
        await call(session, OPERATOR, meeting, LETTERS, now=CALLED)
        meeting_id = meeting.id or 0
    outbox, scheduler = Outbox(runtime), Scheduler(runtime)
    await outbox.new()
    # chibo was down from before the 24-hour reminders until an hour before the meeting.
    assert await scheduler.run_at(START - timedelta(hours=1)) == 2 * size
    sent = await outbox.new()
    assert Counter(text for _name, text in sent) == {"reminder 120": size}
    assert len({name for name, _text in sent}) == size
    assert _states(await _jobs(runtime, meeting_id)) == {
        (MeetingJobKind.REMINDER, 1440, JobState.SKIPPED, "a later reminder went instead"): size,
        (MeetingJobKind.REMINDER, 120, JobState.DONE, None): size,
        (MeetingJobKind.START_SUMMARY, 0, JobState.PENDING, None): 1,
        (MeetingJobKind.CLOSE_ATTENDANCE, 0, JobState.PENDING, None): 1,
    }
    assert await scheduler.run_at(START - timedelta(minutes=30)) == 0
    assert await outbox.new() == []


async def test_after_a_stop_no_reminder_goes_once_the_meeting_began(runtime: Runtime, demo: Demo) -> None:
    await _link(runtime, SECRETARY, SON)
    meeting_id = await _call(runtime)
    outbox, scheduler = Outbox(runtime), Scheduler(runtime)
    await outbox.new()
    # Back ten minutes after the start: the reminders are too late, the summary still helps.
    assert await scheduler.run_at(START + timedelta(minutes=10)) == 2 * TAY_MEMBERS + 1
    assert await outbox.new() == [(SECRETARY, "summary: 0 attending, 0 excused")]
    assert _states(await _jobs(runtime, meeting_id)) == {
        (MeetingJobKind.REMINDER, 1440, JobState.SKIPPED, "the meeting had begun"): TAY_MEMBERS,
        (MeetingJobKind.REMINDER, 120, JobState.SKIPPED, "the meeting had begun"): TAY_MEMBERS,
        (MeetingJobKind.START_SUMMARY, 0, JobState.DONE, None): 1,
        (MeetingJobKind.CLOSE_ATTENDANCE, 0, JobState.PENDING, None): 1,
    }
    # Another meeting, and chibo back only after its check-in closed: no summary either.
    later = START + timedelta(days=7)
    other_id = await _call(runtime, starts_at=later, now=later - timedelta(days=3))
    await outbox.new()
    assert await scheduler.run_at(later + timedelta(hours=2)) == 2 * TAY_MEMBERS + 2 + 1  # and the first's close
    # Everyone has now missed two meetings: the secretary's warning is all that goes.
    assert [text for _name, text in await outbox.new() if not text.startswith("warning")] == []
    assert _states(await _jobs(runtime, other_id)) == {
        (MeetingJobKind.REMINDER, 1440, JobState.SKIPPED, "the meeting had begun"): TAY_MEMBERS,
        (MeetingJobKind.REMINDER, 120, JobState.SKIPPED, "the meeting had begun"): TAY_MEMBERS,
        (MeetingJobKind.START_SUMMARY, 0, JobState.SKIPPED, "too late to help"): 1,
        (MeetingJobKind.CLOSE_ATTENDANCE, 0, JobState.DONE, None): 1,
    }


async def test_due_jobs_are_done_a_batch_at_a_time_so_delivery_starts_on_the_first(runtime: Runtime) -> None:
    size = BATCH + 50
    branch_id = await big_branch(runtime, size, FIRST_CHAT)
    async with runtime.sessions() as session, session.begin():
        meeting = await create_draft(
            session, OPERATOR, title="Hội nghị", starts_at=START, branch_id=branch_id, now=CALLED
        )
        await change_draft(session, OPERATOR, meeting, reminder_minutes=[120])
        await call(session, OPERATOR, meeting, LETTERS, now=CALLED)
    scheduler = Scheduler(runtime)
    assert await scheduler.run_at(HOURS_BEFORE) == size
    # Two transactions, the delivery worker woken after each.
    assert scheduler.wakes == [HOURS_BEFORE, HOURS_BEFORE]


# --- several scheduler processes --------------------------------------------------------------------

PROCESS_MEMBERS = 1000
PROCESS_MEETINGS = 10


async def _scheduler_process(database_url: str, now: datetime) -> None:
    """One scheduler process: what the runner does (look again at once while something is due),
    on a clock stopped at ``now``. Prints "ready", waits for a line on stdin, prints how many jobs
    it did."""
    engine = create_engine(database_url)
    jobs = MeetingJobs(session_factory(engine), LETTERS, HANOI, lambda: None, clock=lambda: now)
    wake = await jobs.next_wake()  # connected before the start signal
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    handled = 0
    while wake <= now:
        run = await jobs.run_due()
        handled += run.done + run.skipped
        wake = await jobs.next_wake()
    print(handled, flush=True)
    await engine.dispose()


async def _start_process(database_url: str, now: datetime) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.test_meeting_scheduler", database_url, now.isoformat(),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    async with asyncio.timeout(60):
        assert await process.stdout.readline() == b"ready\n"
    return process


async def test_two_scheduler_processes_send_each_of_a_thousand_reminders_once(
    runtime: Runtime, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several scheduler processes share the jobs on PostgreSQL (SKIP LOCKED); SQLite has one writer")
    branch_id = await big_branch(runtime, PROCESS_MEMBERS, FIRST_CHAT)
    async with runtime.sessions() as session:
        members = (await session.exec(select(Member.id).where(Member.branch_id == branch_id))).all()
    per_meeting = PROCESS_MEMBERS // PROCESS_MEETINGS
    # Ten meetings six seconds apart, one reminder each two hours ahead: 1,000 due within a minute.
    for index in range(PROCESS_MEETINGS):
        async with runtime.sessions() as session, session.begin():
            audience = Audience(None, members=tuple(m or 0 for m in members[index * per_meeting :][:per_meeting]))
            meeting = await create_draft(
                session, OPERATOR, title=f"Họp tổ {index}", starts_at=START + timedelta(seconds=6 * index),
                branch_id=branch_id, audience=audience, now=CALLED,
            )  # fmt: skip
            await change_draft(session, OPERATOR, meeting, reminder_minutes=[120])
            await call(session, OPERATOR, meeting, LETTERS, now=CALLED)
    outbox = Outbox(runtime)
    await outbox.new()
    end_of_minute = HOURS_BEFORE + timedelta(seconds=59)
    processes = await asyncio.gather(*(_start_process(database_url, end_of_minute) for _ in range(2)))
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(b"go\n")
    outputs = await asyncio.gather(*(asyncio.wait_for(p.communicate(), 120) for p in processes))
    assert [p.returncode for p in processes] == [0, 0]
    handled = [int(out) for out, _err in outputs]
    assert sum(handled) == PROCESS_MEMBERS and min(handled) > 0, handled  # both took part
    sent = await outbox.new()
    assert Counter(text for _name, text in sent) == {"reminder 120": PROCESS_MEMBERS}
    assert len({name for name, _text in sent}) == PROCESS_MEMBERS  # each member once
    async with runtime.sessions() as session:
        reminders = (await session.exec(select(MeetingJob).where(MeetingJob.kind == MeetingJobKind.REMINDER))).all()
    assert Counter((job.state, job.done_at) for job in reminders) == {(JobState.DONE, end_of_minute): PROCESS_MEMBERS}


# --- the wiring: APScheduler only wakes the process -------------------------------------------------


async def _until(condition: Callable[[], Awaitable[bool]], limit: float = 20.0) -> None:
    """Wait for the scheduler's own task to get somewhere (a deadline, not a delay)."""
    async with asyncio.timeout(limit):
        while not await condition():  # noqa: ASYNC110 (the scheduler runs on its own)
            await asyncio.sleep(0.01)


async def test_the_scheduler_wakes_again_when_the_next_due_time_has_already_passed(
    runtime: Runtime, demo: Demo
) -> None:
    await _link(runtime, SON)
    meeting_id = await _call(runtime)
    clock = Clock(DAY_BEFORE)
    # The clock is in the past, so every wake time the jobs ask for has already passed, as happens
    # when a job falls due while a pass runs or while another process holds it.
    jobs = MeetingJobs(runtime.sessions, LETTERS, HANOI, lambda: None, clock=clock)
    scheduler = create_scheduler(
        runtime.sessions, "UTC", notice_body_maker(runtime.catalogs), lambda: None,
        results_maker(runtime.catalogs), jobs,
    )  # fmt: skip

    def done(minutes: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return all(
                job.state is not JobState.PENDING
                for job in await _jobs(runtime, meeting_id)
                if job.minutes_before == minutes
            )

        return check

    scheduler.start()
    try:
        await _until(done(1440))
        clock.now = HOURS_BEFORE
        await _until(done(120))
    finally:
        scheduler.shutdown(wait=False)
    outbox = Outbox(runtime)
    assert [m for m in await outbox.new() if m[1] != "invitation"] == [(SON, "reminder 120"), (SON, "reminder 1440")]


# --- members who come later -------------------------------------------------------------------------


async def test_a_member_added_after_the_call_gets_the_invitation_and_the_reminders(
    runtime: Runtime, demo: Demo
) -> None:
    await _link(runtime, SECRETARY)
    meeting_id = await _call(runtime)
    outbox, scheduler = Outbox(runtime), Scheduler(runtime)
    await outbox.new()
    secretary = await member_named(runtime, SECRETARY)
    async with runtime.sessions() as session, session.begin():
        newcomer = Member(branch_id=secretary.branch_id, full_name="Đoàn Văn Mới")
        session.add(newcomer)
    await _link(runtime, "Đoàn Văn Mới")
    scheduler.clock.now = CALLED + timedelta(days=1)
    assert await scheduler.jobs.invite_latecomers() == 1
    assert await scheduler.jobs.invite_latecomers() == 0  # once
    assert await outbox.new() == [("Đoàn Văn Mới", "invitation")]
    assert scheduler.wakes == [scheduler.clock.now]
    assert _pending(await _jobs(runtime, meeting_id)) == _timetable(START, TAY_MEMBERS + 1)
    await scheduler.run_at(DAY_BEFORE)
    assert await outbox.new() == [(SECRETARY, "reminder 1440"), ("Đoàn Văn Mới", "reminder 1440")]
    # One who joins after the 24-hour reminder went gets only the reminders still ahead.
    async with runtime.sessions() as session, session.begin():
        session.add(Member(branch_id=secretary.branch_id, full_name="Đoàn Thị Muộn"))
    scheduler.clock.now = DAY_BEFORE + timedelta(hours=1)
    assert await scheduler.jobs.invite_latecomers() == 1
    async with runtime.sessions() as session:
        late = (await session.exec(select(Member.id).where(Member.full_name == "Đoàn Thị Muộn"))).one()
    own = [job for job in await _jobs(runtime, meeting_id) if job.member_id == late]
    assert _pending(own) == {(MeetingJobKind.REMINDER, 120, HOURS_BEFORE): 1}


async def test_a_member_who_joins_chibo_after_the_call_gets_the_invitation_once(runtime: Runtime, demo: Demo) -> None:
    meeting_id = await _call(runtime)
    outbox, scheduler = Outbox(runtime), Scheduler(runtime)
    assert await outbox.new() == []  # nobody was on Telegram or Zalo
    scheduler.clock.now = CALLED + timedelta(hours=5)
    await _link(runtime, SON)
    assert await scheduler.jobs.invite_latecomers() == 1
    assert await scheduler.jobs.invite_latecomers() == 0
    assert await outbox.new() == [(SON, "invitation")]
    async with runtime.sessions() as session:
        son = await member_named(runtime, SON)
        invitation = await session.get(MeetingInvitation, (meeting_id, son.id))
    assert invitation is not None and invitation.notified_at == scheduler.clock.now
    # The reminders were set for everyone at the call; now that he can be reached they reach him.
    await scheduler.run_at(DAY_BEFORE)
    assert await outbox.new() == [(SON, "reminder 1440")]
    # Once the meeting has begun, joining chibo brings no invitation to it.
    await _link(runtime, THAO)
    scheduler.clock.now = START
    assert await scheduler.jobs.invite_latecomers() == 0


# --- attendance: the validity rule and the absence warning ------------------------------------------


def _summary(invited: int, must_attend: int, present: int, numerator: int = 2, denominator: int = 3) -> Summary:
    return Summary(invited, must_attend, 0, 0, 0, present, 0, invited - present, numerator, denominator)


def _invitation(
    member: int, *, exempt: bool = False, rsvp: Rsvp | None = None, here: bool = False, marked: Attendance | None = None
) -> MeetingInvitation:
    return MeetingInvitation(
        meeting_id=1, member_id=member, exempt=exempt, rsvp=rsvp, attendance=marked,
        checked_in_at=START if here else None,
    )  # fmt: skip


def test_valid_with_at_least_two_thirds_of_those_who_must_attend() -> None:
    """DESIGN.md §4 (Hướng dẫn 12-HD/BTCTW, the one sourced figure): AT LEAST 2/3 by default, a
    setting of the branch. Was "more than 2/3", which refused exactly 6 of 9."""
    assert _summary(9, 9, 6).valid  # exactly 2/3 is at least 2/3
    assert not _summary(9, 9, 5).valid
    assert _summary(9, 9, 6).needed == 6 and _summary(10, 10, 0).needed == 7
    assert not _summary(0, 0, 0).valid  # nobody invited: never valid
    assert not _summary(3, 0, 0).valid  # only exempt members, all away
    assert _summary(10, 10, 5, 1, 2).valid and not _summary(10, 10, 4, 1, 2).valid  # a branch's own 1/2


def test_exempt_members_count_only_when_present_and_the_excused_stay_in_the_base() -> None:
    meeting = Meeting(title="Họp", starts_at=START, audience={}, quorum_numerator=2, quorum_denominator=3)
    # 12 invited: 2 exempt and away (not in the base), 1 exempt who came (counted), 1 whose excuse
    # the secretary accepted and 1 whose excuse awaits him (both still in the base), 6 others
    # present, 1 who said they would come and nobody recorded. Base 10, present 7: valid.
    people = [
        _invitation(1, exempt=True),
        _invitation(2, exempt=True, rsvp=Rsvp.EXCUSED),
        _invitation(3, exempt=True, here=True),
        _invitation(4, rsvp=Rsvp.EXCUSED),
        _invitation(5, marked=Attendance.EXCUSED),
        *(_invitation(6 + i, here=True) for i in range(6)),
        _invitation(12, rsvp=Rsvp.ATTENDING),
    ]
    counts = summarize(meeting, people)
    assert (counts.invited, counts.must_attend, counts.present, counts.excused, counts.absent) == (12, 10, 7, 1, 0)
    assert (counts.unrecorded, counts.declined) == (4, 2)  # nobody is absent before the secretary says so
    assert counts.attending == 1 and counts.valid
    # One of those present leaves before being counted: 6 of 10 is less than 2/3.
    assert not summarize(meeting, [*people[:-2], _invitation(11), people[-1]]).valid


def test_what_counts_the_secretary_then_the_check_in_and_nothing_else() -> None:
    """DESIGN.md §4: excused is a reason the secretary accepts; nobody becomes absent without
    reason because they did not tap. Was: an answer alone made a member excused, and silence absent."""
    assert attendance_of(_invitation(1, rsvp=Rsvp.EXCUSED, here=True)) is Attendance.PRESENT
    assert attendance_of(_invitation(1, here=True, marked=Attendance.ABSENT)) is Attendance.ABSENT
    assert attendance_of(_invitation(1, rsvp=Rsvp.EXCUSED)) is Attendance.UNRECORDED  # awaits the secretary
    assert excuse_waiting(_invitation(1, rsvp=Rsvp.EXCUSED))
    assert not excuse_waiting(_invitation(1, rsvp=Rsvp.EXCUSED, marked=Attendance.EXCUSED))
    assert attendance_of(_invitation(1, rsvp=Rsvp.EXCUSED, marked=Attendance.EXCUSED)) is Attendance.EXCUSED
    assert attendance_of(_invitation(1, rsvp=Rsvp.ATTENDING)) is Attendance.UNRECORDED  # said yes, not recorded
    assert attendance_of(_invitation(1, marked=Attendance.PRESENT)) is Attendance.PRESENT


async def _meeting_attended(runtime: Runtime, starts_at: datetime, scheduler: Scheduler, **draft: Any) -> int:
    """A Tây meeting: the secretary checks in and marks Hồ Thị Ngọc (no phone) present, accepts
    Chu Thị Thảo's excuse, the others do not come; attendance closes by the scheduler, then the
    secretary confirms the list with "the remaining comrades: absent without reason"."""
    meeting_id = await _call(runtime, starts_at=starts_at, now=starts_at - timedelta(days=3), **draft)
    await _answer(runtime, meeting_id, THAO, Rsvp.EXCUSED, now=starts_at - timedelta(days=1))
    secretary = await member_named(runtime, SECRETARY)
    async with runtime.sessions() as session, session.begin():
        assert await check_in(session, meeting_id, secretary, now=starts_at - timedelta(minutes=5))
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        await mark(session, secretary, meeting, (await member_named(runtime, NGOC)).id or 0, Attendance.PRESENT)
        await mark(session, secretary, meeting, (await member_named(runtime, THAO)).id or 0, Attendance.EXCUSED)
    await scheduler.run_at(starts_at + timedelta(hours=1))
    async with runtime.sessions() as session, session.begin():
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        await confirm_attendance(
            session, secretary, meeting, LETTERS, HANOI, rest_absent=True, now=starts_at + timedelta(hours=2)
        )
    return meeting_id


async def test_two_months_of_regular_meetings_missed_without_reason_warn_the_secretary_only(
    runtime: Runtime, demo: Demo
) -> None:
    """Quy định 29: leaving Party activity three months in a year without a valid reason is a ground
    for removal, so the secretary, and only the secretary, hears of a member at two months of the
    last twelve, counted from confirmed attendance of regular branch meetings."""
    await _link(runtime, SECRETARY, SON, THAO, BINH, NGOC)
    outbox, scheduler = Outbox(runtime), Scheduler(runtime)
    first = await _meeting_attended(runtime, START, scheduler)
    async with runtime.sessions() as session:
        meeting = await session.get(Meeting, first)
        rows = (await session.exec(select(MeetingInvitation).where(MeetingInvitation.meeting_id == first))).all()
    assert meeting is not None
    counts = summarize(meeting, rows)
    # Base: 10 invited minus Tạ Văn Bình (exempt, away: excused at the confirmation, never absent) = 9;
    # 2 present, Thảo and Bình excused, 6 absent.
    assert (counts.must_attend, counts.present, counts.excused, counts.absent, counts.valid) == (9, 2, 2, 6, False)
    assert counts.unrecorded == 0
    assert [m for m in await outbox.new() if m[1].startswith("warning")] == []  # one month each so far

    # A second meeting in the same month (March) is still one month.
    await _meeting_attended(runtime, START + timedelta(days=7), scheduler)
    assert [m for m in await outbox.new() if m[1].startswith("warning")] == []
    # A thematic meeting missed in April is not a regular meeting.
    await _meeting_attended(runtime, START + timedelta(days=30), scheduler, kind=MeetingKind.THEMATIC)
    assert [m for m in await outbox.new() if m[1].startswith("warning")] == []

    await _meeting_attended(runtime, START + timedelta(days=31), scheduler)
    warnings = [m for m in await outbox.new() if m[1].startswith("warning")]
    assert [name for name, _text in warnings] == [SECRETARY]  # not the deputy Hồ Thị Ngọc, nor anyone else
    listed = warnings[0][1].removeprefix("warning: ").split(", ")
    assert f"{SON} 03/2025+04/2025" in listed and len(listed) == 6  # the six who never came, two months each
    assert not any(name in warnings[0][1] for name in (SECRETARY, NGOC, THAO, BINH))
    # A year later the old months no longer count.
    await _meeting_attended(runtime, START + timedelta(days=400), scheduler)
    assert [m for m in await outbox.new() if m[1].startswith("warning")] == []


# --- repeating monthly ------------------------------------------------------------------------------


def test_next_occurrence_is_the_same_local_time_next_month() -> None:
    at = datetime(2025, 1, 31, 12, 30, tzinfo=UTC)  # 19:30 on 31 January in Hà Nội
    february = next_occurrence(at, 31, HANOI)
    assert february == datetime(2025, 2, 28, 12, 30, tzinfo=UTC)  # the last day of a short month
    assert next_occurrence(february, 31, HANOI) == datetime(2025, 3, 31, 12, 30, tzinfo=UTC)  # not the 28th
    assert next_occurrence(datetime(2028, 1, 31, 12, 30, tzinfo=UTC), 31, HANOI).day == 29  # a leap year
    assert next_occurrence(datetime(2025, 5, 31, 12, 30, tzinfo=UTC), 31, HANOI).day == 30  # June
    assert next_occurrence(datetime(2025, 12, 15, 12, 30, tzinfo=UTC), 15, HANOI) == datetime(
        2026, 1, 15, 12, 30, tzinfo=UTC
    )
    # 06:00 on the 1st in Hà Nội is still the previous day in UTC: the local day counts.
    early = datetime(2025, 1, 31, 23, 0, tzinfo=UTC)
    assert next_occurrence(early, 1, HANOI) == datetime(2025, 2, 28, 23, 0, tzinfo=UTC)
    # Where clocks change, the local hour stays and the UTC one moves.
    berlin = ZoneInfo("Europe/Berlin")
    march = datetime(2025, 3, 10, 18, 0, tzinfo=UTC)  # 19:00 in Berlin, winter time
    assert next_occurrence(march, 10, berlin) == datetime(2025, 4, 10, 17, 0, tzinfo=UTC)  # 19:00 summer time


async def test_the_branch_setting_is_the_meeting_rule_and_a_later_change_leaves_it(
    runtime: Runtime, demo: Demo
) -> None:
    secretary = await member_named(runtime, SECRETARY)
    async with runtime.sessions() as session, session.begin():
        branch = await session.get(Branch, secretary.branch_id)
        assert branch is not None
        branch.meeting_quorum_numerator, branch.meeting_quorum_denominator = 1, 2
    meeting_id = await _call(runtime)
    async with runtime.sessions() as session, session.begin():
        branch = await session.get(Branch, secretary.branch_id)
        assert branch is not None
        branch.meeting_quorum_numerator, branch.meeting_quorum_denominator = 3, 4
    async with runtime.sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
    assert meeting is not None and (meeting.quorum_numerator, meeting.quorum_denominator) == (1, 2)


if __name__ == "__main__":
    asyncio.run(_scheduler_process(sys.argv[1], datetime.fromisoformat(sys.argv[2])))
