"""A meeting from draft to called, moved or cancelled: its invitations and reminders are written
with it, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.audience import Audience, AudienceFilter, push_identities
from models.audit import AuditAction
from models.db import claim, insert_ignoring_conflict
from models.meetings.people import _queue, check_meeting, invitations, invitees
from models.meetings.rules import (
    CHECK_IN_AFTER,
    DEFAULT_REMINDER_MINUTES,
    MAX_AGENDA_ITEMS,
    MAX_PLACE,
    MAX_TITLE,
    MeetingError,
    MeetingMessages,
    MeetingProblem,
    check_start,
    reminder_times,
)
from models.membership import NotPermitted
from models.outbox import TemplateKind, with_template
from models.permissions import Actor, Permission, Target, may
from models.tables import (
    Branch,
    JobState,
    Meeting,
    MeetingInvitation,
    MeetingJob,
    MeetingJobKind,
    MeetingKind,
    MeetingStatus,
    Member,
    utcnow,
)


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise MeetingError(MeetingProblem.EMPTY_TITLE)
    if len(title) > MAX_TITLE:
        raise MeetingError(MeetingProblem.TOO_LONG, str(MAX_TITLE))
    return title


def clean_agenda(lines: Iterable[str]) -> list[str]:
    items = [" ".join(line.split()).lstrip("-•*0123456789.) ").strip() for line in lines]
    items = [item for item in items if item]
    if len(items) > MAX_AGENDA_ITEMS or any(len(item) > MAX_PLACE for item in items):
        raise MeetingError(MeetingProblem.TOO_LONG, str(MAX_AGENDA_ITEMS))
    return items


async def create_draft(
    session: AsyncSession,
    actor: Actor,
    *,
    title: str,
    starts_at: datetime,
    branch_id: int | None,
    kind: MeetingKind = MeetingKind.REGULAR,
    audience: Audience | None = None,
    now: datetime | None = None,
    time_set: bool = True,
) -> Meeting:
    """A meeting being set up; nobody is told until it is called. Without an audience it is the
    branch's members (the commune committee's members for a commune meeting). ``time_set`` False:
    ``starts_at`` only holds a place until the secretary types the time."""
    check_start(starts_at, now or utcnow())
    if audience is None:
        audience = (
            Audience(branches=(branch_id,)) if branch_id is not None else Audience(None, AudienceFilter.COMMITTEE)
        )
    meeting = Meeting(
        author_member_id=actor.id,
        branch_id=branch_id,
        kind=kind,
        title=_clean_title(title),
        starts_at=starts_at,
        time_set=time_set,
        audience=audience.to_json(),
        reminder_minutes=list(DEFAULT_REMINDER_MINUTES),
    )
    await check_meeting(session, actor, meeting)
    session.add(meeting)
    await session.flush()
    return meeting


async def change_draft(session: AsyncSession, actor: Actor, meeting: Meeting, **changes: Any) -> None:
    """Set fields of a meeting not yet called: title, starts_at, place, link, agenda, kind,
    audience (an ``Audience``), repeat_day, reminder_minutes."""
    if meeting.status is not MeetingStatus.DRAFT:
        raise MeetingError(MeetingProblem.NOT_A_DRAFT)
    if "title" in changes:
        changes["title"] = _clean_title(changes["title"])
    if "place" in changes:
        changes["place"] = " ".join(str(changes["place"]).split())[:MAX_PLACE]
    if "agenda" in changes:
        changes["agenda"] = clean_agenda(changes["agenda"])
    if changes.get("starts_at") is not None:
        check_start(changes["starts_at"], utcnow())
        changes["time_set"] = True
    if changes.get("repeat_day") is not None and not 1 <= changes["repeat_day"] <= 31:
        raise MeetingError(MeetingProblem.BAD_DAY)
    if isinstance(changes.get("audience"), Audience):
        changes["audience"] = changes["audience"].to_json()
    for field, value in changes.items():
        setattr(meeting, field, value)
    await check_meeting(session, actor, meeting)
    # Not if called meanwhile: nothing already sent is changed behind it.
    if not await claim(
        session, Meeting, col(Meeting.id) == meeting.id, col(Meeting.status) == MeetingStatus.DRAFT, **changes
    ):
        raise MeetingError(MeetingProblem.NOT_A_DRAFT)


def _jobs_for_member(meeting: Meeting, member_id: int, now: datetime) -> list[MeetingJob]:
    """A member's reminders still ahead (one due already is not created: the invitation or the
    change notice that goes out now says the same)."""
    return [
        MeetingJob(
            meeting_id=meeting.id or 0,
            member_id=member_id,
            kind=MeetingJobKind.REMINDER,
            minutes_before=minutes,
            due_at=due,
        )
        for minutes, due in reminder_times(meeting.starts_at, meeting.reminder_minutes)
        if due > now
    ]


def _meeting_jobs(meeting: Meeting) -> list[MeetingJob]:
    ident = meeting.id or 0
    jobs = [
        MeetingJob(meeting_id=ident, kind=MeetingJobKind.START_SUMMARY, due_at=meeting.starts_at),
        MeetingJob(meeting_id=ident, kind=MeetingJobKind.CLOSE_ATTENDANCE, due_at=meeting.starts_at + CHECK_IN_AFTER),
    ]
    if meeting.repeat_day is not None:
        jobs.append(MeetingJob(meeting_id=ident, kind=MeetingJobKind.NEXT_MEETING, due_at=meeting.starts_at))
    return jobs


async def _invite(
    session: AsyncSession, meeting: Meeting, members: list[Member], messages: MeetingMessages, now: datetime
) -> int:
    """Invite these members (those already invited are left as they are); the number invited."""
    identities = await push_identities(session, [m.id for m in members if m.id is not None])
    invited = 0
    for member in members:
        reach = identities.get(member.id or 0, [])
        inserted = await insert_ignoring_conflict(
            session, MeetingInvitation, meeting_id=meeting.id, member_id=member.id, exempt=member.exempt,
            invited_at=now, notified_at=now if reach else None,
        )  # fmt: skip
        if not inserted:  # another process invited them first
            continue
        invited += 1
        invitation = with_template(messages.invitation(member, meeting), TemplateKind.MEETING_INVITATION, meeting.id)
        _queue(session, member, reach, invitation)
        session.add_all(_jobs_for_member(meeting, member.id or 0, now))
    await session.flush()
    return invited


async def call(
    session: AsyncSession, actor: Actor, meeting: Meeting, messages: MeetingMessages, now: datetime | None = None
) -> int:
    """Send the invitations and set every reminder; the number invited."""
    now = now or utcnow()
    if meeting.status is not MeetingStatus.DRAFT:
        raise MeetingError(MeetingProblem.NOT_A_DRAFT)
    await check_meeting(session, actor, meeting)
    if not meeting.time_set:
        raise MeetingError(MeetingProblem.NO_TIME)
    if meeting.starts_at <= now:
        raise MeetingError(MeetingProblem.IN_THE_PAST)
    members = await invitees(session, meeting)
    if not members:
        raise MeetingError(MeetingProblem.NO_INVITEES)
    numerator, denominator = await _quorum_of(session, meeting)
    # The claim: of a double tap on "call", one calls.
    if not await claim(
        session,
        Meeting,
        col(Meeting.id) == meeting.id,
        col(Meeting.status) == MeetingStatus.DRAFT,
        status=MeetingStatus.CALLED,
        called_at=now,
        quorum_numerator=numerator,
        quorum_denominator=denominator,
        series_id=meeting.series_id or meeting.id,
    ):
        raise MeetingError(MeetingProblem.NOT_A_DRAFT)
    await session.refresh(meeting)
    invited = await _invite(session, meeting, members, messages, now)
    session.add_all(_meeting_jobs(meeting))
    audit.record(
        session,
        AuditAction.MEETING_CALLED,
        actor_id=actor.id,
        subject_type="meeting",
        subject_id=meeting.id,
        after={"starts_at": meeting.starts_at.isoformat(), "invited": invited, "title": meeting.title},
    )
    await session.flush()
    return invited


async def set_quorum(session: AsyncSession, actor: Actor, branch_id: int, numerator: int, denominator: int) -> None:
    """The branch's validity rule for meetings called from now on: at least numerator/denominator
    of those who must attend (DESIGN.md §4; 2/3 unless the branch sets another)."""
    if not may(actor, Permission.MANAGE_MEETINGS, Target(branch_id)):
        raise NotPermitted(Permission.MANAGE_MEETINGS, Target(branch_id))
    if not 0 < numerator <= denominator <= 100:
        raise MeetingError(MeetingProblem.BAD_FRACTION)
    branch = await session.get(Branch, branch_id)
    if branch is None:
        raise MeetingError(MeetingProblem.NOT_CALLED)
    before = f"{branch.meeting_quorum_numerator}/{branch.meeting_quorum_denominator}"
    branch.meeting_quorum_numerator, branch.meeting_quorum_denominator = numerator, denominator
    session.add(branch)
    audit.record(
        session,
        AuditAction.BRANCH_MEETING_QUORUM,
        actor_id=actor.id,
        subject_type="branch",
        subject_id=branch_id,
        before={"quorum": before},
        after={"quorum": f"{numerator}/{denominator}"},
    )
    await session.flush()


async def _quorum_of(session: AsyncSession, meeting: Meeting) -> tuple[int, int]:
    if meeting.branch_id is None:
        return meeting.quorum_numerator, meeting.quorum_denominator
    branch = await session.get(Branch, meeting.branch_id)
    assert branch is not None
    return branch.meeting_quorum_numerator, branch.meeting_quorum_denominator


def _called_and_ahead(meeting: Meeting, now: datetime) -> None:
    if meeting.status is not MeetingStatus.CALLED:
        raise MeetingError(MeetingProblem.NOT_CALLED)
    if meeting.starts_at <= now:
        raise MeetingError(MeetingProblem.ALREADY_STARTED)


async def _cancel_pending_jobs(
    session: AsyncSession, meeting_id: int, now: datetime, note: str, *, keep_series: bool
) -> int:
    query = (
        update(MeetingJob)
        .where(col(MeetingJob.meeting_id) == meeting_id, col(MeetingJob.state) == JobState.PENDING)
        .values(state=JobState.CANCELLED, done_at=now, note=note)
    )
    if keep_series:
        query = query.where(col(MeetingJob.kind) != MeetingJobKind.NEXT_MEETING)
    result = await session.exec(query)
    return int(result.rowcount or 0)


async def reschedule(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    starts_at: datetime,
    messages: MeetingMessages,
    now: datetime | None = None,
) -> int:
    """Move the meeting: every pending reminder moves with it and everyone invited is told. The
    number of messages queued."""
    now = now or utcnow()
    await check_meeting(session, actor, meeting)
    _called_and_ahead(meeting, now)
    check_start(starts_at, now)
    previous = meeting.starts_at
    # The start time is the claim: a concurrent move or cancel of the same meeting changes nothing.
    if not await claim(
        session,
        Meeting,
        col(Meeting.id) == meeting.id,
        col(Meeting.status) == MeetingStatus.CALLED,
        col(Meeting.starts_at) == previous,
        starts_at=starts_at,
    ):
        raise MeetingError(MeetingProblem.NOT_CALLED)
    await session.refresh(meeting)
    await _cancel_pending_jobs(session, meeting.id or 0, now, "moved", keep_series=False)
    invited = await invitations(session, meeting.id or 0)
    session.add_all(_meeting_jobs(meeting))
    identities = await push_identities(session, [member.id or 0 for _, member in invited])
    queued = 0
    for _invitation, member in invited:
        if member.active:
            session.add_all(_jobs_for_member(meeting, member.id or 0, now))
            queued += _queue(
                session, member, identities.get(member.id or 0, []), messages.moved(member, meeting, previous)
            )
    audit.record(
        session,
        AuditAction.MEETING_MOVED,
        actor_id=actor.id,
        subject_type="meeting",
        subject_id=meeting.id,
        before={"starts_at": previous.isoformat()},
        after={"starts_at": starts_at.isoformat()},
    )
    await session.flush()
    return queued


async def cancel(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    messages: MeetingMessages,
    *,
    whole_series: bool = False,
    now: datetime | None = None,
) -> int:
    """Cancel the meeting: its reminders are removed and everyone invited is told. A repeating
    meeting keeps its series (next month's is still called) unless ``whole_series``."""
    now = now or utcnow()
    await check_meeting(session, actor, meeting)
    if meeting.status is MeetingStatus.DRAFT:
        if not await claim(
            session,
            Meeting,
            col(Meeting.id) == meeting.id,
            col(Meeting.status) == MeetingStatus.DRAFT,
            status=MeetingStatus.CANCELLED,
        ):
            raise MeetingError(MeetingProblem.NOT_A_DRAFT)
        await session.refresh(meeting)
        return 0
    _called_and_ahead(meeting, now)
    if not await claim(
        session,
        Meeting,
        col(Meeting.id) == meeting.id,
        col(Meeting.status) == MeetingStatus.CALLED,
        status=MeetingStatus.CANCELLED,
        **({"repeat_day": None} if whole_series else {}),
    ):
        raise MeetingError(MeetingProblem.NOT_CALLED)
    await session.refresh(meeting)
    await _cancel_pending_jobs(session, meeting.id or 0, now, "cancelled", keep_series=not whole_series)
    invited = await invitations(session, meeting.id or 0)
    identities = await push_identities(session, [member.id or 0 for _, member in invited])
    queued = sum(
        _queue(session, member, identities.get(member.id or 0, []), messages.cancelled(member, meeting))
        for _invitation, member in invited
        if member.active
    )
    audit.record(
        session,
        AuditAction.MEETING_CANCELLED,
        actor_id=actor.id,
        subject_type="meeting",
        subject_id=meeting.id,
        after={"whole_series": whole_series},
    )
    await session.flush()
    return queued
