"""The job engine: reminders, the summary at the start, the end of check-in, next month's meeting.

Every reminder and timed job is a ``MeetingJob`` row (what, for whom, due when, what became of
it). Whoever runs the scheduler claims due rows with one conditional UPDATE (``SKIP LOCKED`` on
PostgreSQL) and writes the outbox rows in the same transaction, so any number of processes may run
it: each job runs once, and a crash between the claim and the send loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.audience import Audience, push_identities
from models.audit import AuditAction
from models.db import claim
from models.meetings.attendance import summary
from models.meetings.lifecycle import _invite, _meeting_jobs, _quorum_of
from models.meetings.people import _queue, invitations, invitees, secretaries, takes_part
from models.meetings.rules import SUMMARY_USEFUL_FOR, MeetingMessages, next_occurrence
from models.outbox import TemplateKind, with_template
from models.tables import (
    JobState,
    Meeting,
    MeetingInvitation,
    MeetingJob,
    MeetingJobKind,
    MeetingStatus,
    Member,
    Rsvp,
    utcnow,
)

_CLAIM_BATCH = 200


@dataclass
class DueRun:
    """What one pass of the scheduler did."""

    done: int = 0
    skipped: int = 0
    messages: int = 0
    lateness: list[float] | None = None  # seconds past due, per job handed on (for the benchmark)


async def _claim(session: AsyncSession, now: datetime, limit: int) -> list[MeetingJob]:
    # Chosen, then claimed: PostgreSQL may run an UPDATE's "IN (subquery)" again for each row it
    # updates, each time skipping the rows just claimed, and so take every due row in one batch.
    due = await session.exec(
        select(MeetingJob.id)
        .where(col(MeetingJob.state) == JobState.PENDING, col(MeetingJob.due_at) <= now)
        .order_by(col(MeetingJob.due_at), col(MeetingJob.id))
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer and ignores it
    )
    chosen = list(due.all())
    if not chosen:
        return []
    result = await session.exec(
        update(MeetingJob)
        .where(col(MeetingJob.id).in_(chosen), col(MeetingJob.state) == JobState.PENDING)
        .values(state=JobState.DONE, done_at=now)
        .returning(col(MeetingJob.id))
    )
    ids = [row[0] for row in result.all()]
    if not ids:
        return []
    jobs = await session.exec(select(MeetingJob).where(col(MeetingJob.id).in_(ids)).order_by(col(MeetingJob.due_at)))
    return list(jobs.all())


async def run_due(
    session: AsyncSession,
    messages: MeetingMessages,
    tz: tzinfo,
    now: datetime | None = None,
    limit: int = _CLAIM_BATCH,
) -> DueRun:
    """Claim up to ``limit`` due jobs and do them, in the caller's transaction."""
    now = now or utcnow()
    jobs = await _claim(session, now, limit)
    run = DueRun(lateness=[])
    if not jobs:
        return run
    meetings = {
        m.id: m
        for m in (await session.exec(select(Meeting).where(col(Meeting.id).in_({j.meeting_id for j in jobs})))).all()
    }
    reminders = [job for job in jobs if job.kind is MeetingJobKind.REMINDER]
    await _send_reminders(session, reminders, meetings, messages, now, run)
    for job in jobs:
        meeting = meetings[job.meeting_id]
        if job.kind is MeetingJobKind.START_SUMMARY:
            await _start_summary(session, job, meeting, messages, now, run)
        elif job.kind is MeetingJobKind.CLOSE_ATTENDANCE:
            _close_attendance(session, job, meeting, now, run)
        elif job.kind is MeetingJobKind.NEXT_MEETING:
            await _call_next(session, job, meeting, messages, tz, now, run)
    await session.flush()
    return run


def _still_in_audience(meeting: Meeting, member: Member) -> bool:
    """Deactivated, suspended or temporarily active elsewhere (``takes_part``), or moved to another
    branch since the invitation: no more reminders."""
    audience = Audience.from_json(meeting.audience)
    if not member.active or not takes_part(member):
        return False
    return audience.members is not None or audience.branches is None or member.branch_id in audience.branches


def _skip(session: AsyncSession, job: MeetingJob, reason: str, run: DueRun) -> None:
    job.state, job.note = JobState.SKIPPED, reason
    session.add(job)
    run.skipped += 1


def _done(job: MeetingJob, now: datetime, run: DueRun) -> None:
    run.done += 1
    assert run.lateness is not None
    run.lateness.append((now - job.due_at).total_seconds())


async def _send_reminders(
    session: AsyncSession,
    jobs: list[MeetingJob],
    meetings: dict[int | None, Meeting],
    messages: MeetingMessages,
    now: datetime,
    run: DueRun,
) -> None:
    if not jobs:
        return
    member_ids = sorted({job.member_id for job in jobs if job.member_id is not None})
    members = {m.id: m for m in (await session.exec(select(Member).where(col(Member.id).in_(member_ids)))).all()}
    answers: dict[tuple[int, int | None], MeetingInvitation] = {
        (i.meeting_id, i.member_id): i
        for i in (
            await session.exec(
                select(MeetingInvitation).where(
                    col(MeetingInvitation.meeting_id).in_({job.meeting_id for job in jobs}),
                    col(MeetingInvitation.member_id).in_(member_ids),
                )
            )
        ).all()
    }
    identities = await push_identities(session, member_ids)
    # Several reminders for one member and meeting due at once (chibo was down): only the latest.
    # Asked of every due row, not only of this batch: a member's rows may fall into different
    # batches, or be claimed by another process.
    latest: dict[tuple[int, int | None], int] = {
        (meeting_id, member_id): minutes
        for meeting_id, member_id, minutes in (
            await session.exec(
                select(MeetingJob.meeting_id, MeetingJob.member_id, func.min(MeetingJob.minutes_before))
                .where(col(MeetingJob.kind) == MeetingJobKind.REMINDER, col(MeetingJob.due_at) <= now)
                .where(col(MeetingJob.state) != JobState.CANCELLED)
                .where(col(MeetingJob.meeting_id).in_({job.meeting_id for job in jobs}))
                .where(col(MeetingJob.member_id).in_(member_ids))
                .group_by(col(MeetingJob.meeting_id), col(MeetingJob.member_id))
            )
        ).all()
    }
    for job in jobs:
        meeting, member = meetings[job.meeting_id], members.get(job.member_id)
        invitation = answers.get((job.meeting_id, job.member_id))
        if meeting.status is not MeetingStatus.CALLED:
            _skip(session, job, "meeting cancelled", run)
        elif now >= meeting.starts_at:
            _skip(session, job, "the meeting had begun", run)  # never a reminder after the start
        elif latest[(job.meeting_id, job.member_id)] < job.minutes_before:
            _skip(session, job, "a later reminder went instead", run)
        elif member is None or invitation is None or not _still_in_audience(meeting, member):
            _skip(session, job, "no longer invited", run)
        elif invitation.rsvp is Rsvp.EXCUSED:
            _skip(session, job, "declined", run)
        elif not identities.get(member.id or 0):
            _skip(session, job, "no Telegram or Zalo", run)
        else:
            reminder = with_template(
                messages.reminder(member, meeting, job.minutes_before), TemplateKind.MEETING_REMINDER, meeting.id
            )
            run.messages += _queue(session, member, identities[member.id or 0], reminder)
            _done(job, now, run)


async def _start_summary(
    session: AsyncSession, job: MeetingJob, meeting: Meeting, messages: MeetingMessages, now: datetime, run: DueRun
) -> None:
    if meeting.status is not MeetingStatus.CALLED:
        return _skip(session, job, "meeting cancelled", run)
    if now > meeting.starts_at + SUMMARY_USEFUL_FOR:
        return _skip(session, job, "too late to help", run)
    counts = await summary(session, meeting)
    people = await secretaries(session, meeting)
    identities = await push_identities(session, [m.id or 0 for m in people])
    for person in people:
        run.messages += _queue(
            session, person, identities.get(person.id or 0, []), messages.start_summary(person, meeting, counts)
        )
    _done(job, now, run)


def _close_attendance(session: AsyncSession, job: MeetingJob, meeting: Meeting, now: datetime, run: DueRun) -> None:
    """After the check-in window members can no longer check themselves in. Nobody becomes absent
    here: whoever was not recorded stays "not recorded" until the secretary confirms the list
    (DESIGN.md §4), and the absence warning follows that confirmation."""
    if meeting.status is not MeetingStatus.CALLED:
        return _skip(session, job, "meeting cancelled", run)
    meeting.attendance_closed_at = now
    session.add(meeting)
    _done(job, now, run)


async def _call_next(
    session: AsyncSession,
    job: MeetingJob,
    meeting: Meeting,
    messages: MeetingMessages,
    tz: tzinfo,
    now: datetime,
    run: DueRun,
) -> None:
    """A repeating meeting calls next month's as this one starts (months missed while chibo was
    down are not called after the fact)."""
    if meeting.repeat_day is None:
        return _skip(session, job, "no longer repeats", run)
    starts_at = next_occurrence(meeting.starts_at, meeting.repeat_day, tz)
    while starts_at <= now:
        starts_at = next_occurrence(starts_at, meeting.repeat_day, tz)
    author = await session.get(Member, meeting.author_member_id) if meeting.author_member_id else None
    following = Meeting(
        branch_id=meeting.branch_id, author_member_id=meeting.author_member_id, kind=meeting.kind,
        title=meeting.title, starts_at=starts_at, place=meeting.place, link=meeting.link,
        agenda=list(meeting.agenda), audience=dict(meeting.audience), reminder_minutes=list(meeting.reminder_minutes),
        repeat_day=meeting.repeat_day, series_id=meeting.series_id or meeting.id,
    )  # fmt: skip
    session.add(following)
    await session.flush()
    members = await invitees(session, following)
    if not members:
        return _skip(session, job, "nobody to invite", run)
    following.status, following.called_at = MeetingStatus.CALLED, now
    following.quorum_numerator, following.quorum_denominator = await _quorum_of(session, following)
    session.add(following)
    await _invite(session, following, members, messages, now)
    session.add_all(_meeting_jobs(following))
    audit.record(
        session,
        AuditAction.MEETING_CALLED,
        actor_id=author.id if author is not None and author.active else None,
        subject_type="meeting",
        subject_id=following.id,
        after={"starts_at": starts_at.isoformat(), "repeats": meeting.repeat_day, "after": meeting.id},
    )
    _done(job, now, run)


async def invite_latecomers(session: AsyncSession, messages: MeetingMessages, now: datetime | None = None) -> int:
    """Members who joined the branch after a meeting was called get its invitation and reminders;
    members who joined chibo after it get the invitation they could not be sent. How many were
    invited or sent their invitation."""
    now = now or utcnow()
    ahead = (
        await session.exec(select(Meeting).where(Meeting.status == MeetingStatus.CALLED, col(Meeting.starts_at) > now))
    ).all()
    reached = 0
    for meeting in ahead:
        invited = {i.member_id: i for i, _member in await invitations(session, meeting.id or 0)}
        members = await invitees(session, meeting)
        newcomers = [m for m in members if m.id not in invited]
        if newcomers:
            reached += await _invite(session, meeting, newcomers, messages, now)
        unnotified = [m for m in members if m.id in invited and invited[m.id or 0].notified_at is None]
        if not unnotified:
            continue
        identities = await push_identities(session, [m.id or 0 for m in unnotified])
        for member in unnotified:
            reach = identities.get(member.id or 0, [])
            if not reach:
                continue
            # Once, whichever process gets here first.
            if await claim(
                session,
                MeetingInvitation,
                col(MeetingInvitation.meeting_id) == meeting.id,
                col(MeetingInvitation.member_id) == member.id,
                col(MeetingInvitation.notified_at).is_(None),
                notified_at=now,
            ):
                invitation = with_template(
                    messages.invitation(member, meeting), TemplateKind.MEETING_INVITATION, meeting.id
                )
                _queue(session, member, reach, invitation)
                reached += 1
    await session.flush()
    return reached


async def next_due_at(session: AsyncSession) -> datetime | None:
    """When the earliest pending job falls due: the scheduler wakes exactly then."""
    return (
        await session.exec(
            select(MeetingJob.due_at)
            .where(col(MeetingJob.state) == JobState.PENDING)
            .order_by(col(MeetingJob.due_at))
            .limit(1)
        )
    ).first()
