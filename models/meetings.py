"""Meetings: called, reminded, attended, minuted.

Every reminder and timed job is a ``MeetingJob`` row (what, for whom, due when, what became of
it). Whoever runs the scheduler claims due rows with one conditional UPDATE (``SKIP LOCKED`` on
PostgreSQL) and writes the outbox rows in the same transaction, so any number of processes may run
it: each job runs once, and a crash between the claim and the send loses nothing.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.audit import AuditAction
from models.db import claim, insert_ignoring_conflict
from models.documents import secrecy_marking, text_marking
from models.errors import DomainError
from models.membership import NotPermitted
from models.notices import Audience, AudienceFilter, push_identities, recipients
from models.outbox import Outbox
from models.permissions import Actor, Permission, Target, may
from models.tables import (
    Attendance,
    Branch,
    ChannelIdentity,
    JobState,
    Meeting,
    MeetingFile,
    MeetingInvitation,
    MeetingJob,
    MeetingJobKind,
    MeetingKind,
    MeetingStatus,
    Member,
    Role,
    Rsvp,
    utcnow,
)

# Members check in from half an hour before the start to an hour after it; then their own check-in
# closes. Nobody becomes absent by not tapping: the list is final only when the secretary confirms it.
CHECK_IN_BEFORE = timedelta(minutes=30)
CHECK_IN_AFTER = timedelta(minutes=60)
DEFAULT_REMINDER_MINUTES = (24 * 60, 2 * 60)
# The secretary's summary at the start is still useful while attendance is being taken.
SUMMARY_USEFUL_FOR = CHECK_IN_AFTER
# Quy định 29 (and Charter art. 8 on removal): a member who leaves Party activity for three months
# in a year without a valid reason may be removed (xóa tên). The secretary is warned when a member
# has missed the branch's regular meeting without reason in two months of the last twelve, before
# a third.
ABSENCE_WARNING_MONTHS = 2
ABSENCE_WINDOW_MONTHS = 12
YEAR = timedelta(days=365)
MAX_TITLE = 300
MAX_PLACE = 300
MAX_AGENDA_ITEMS = 20
MAX_REASON = 300
MAX_MINUTES_TEXT = 20_000
_CLAIM_BATCH = 200
_NO_BRANCH = -1


class MeetingProblem(StrEnum):
    EMPTY_TITLE = "empty_title"
    IN_THE_PAST = "in_the_past"
    NOT_A_DRAFT = "not_a_draft"
    NOT_CALLED = "not_called"  # cancelled, or still a draft
    ALREADY_STARTED = "already_started"
    NO_INVITEES = "no_invitees"
    NOT_INVITED = "not_invited"
    CHECK_IN_CLOSED = "check_in_closed"  # outside the window around the start
    CHECKED_IN = "checked_in"  # an excuse after the member checked in at the meeting
    NOT_STARTED = "not_started"  # attendance is confirmed only once the meeting has begun
    CONFIRMED = "confirmed"  # the attendance list is final
    UNRECORDED_LEFT = "unrecorded_left"  # confirming with members nobody recorded (detail: how many)
    EXCUSES_WAITING = "excuses_waiting"  # confirming while members' reasons await the secretary
    MARKED = "marked"  # a check-in against what the secretary recorded (detail: the attendance)
    BAD_DAY = "bad_day"
    BAD_FRACTION = "bad_fraction"  # a validity rule that is not a fraction between 0 and 1
    TOO_LONG = "too_long"
    SECRET_DOCUMENT = "secret_document"
    SECRET_TEXT = "secret_text"  # minutes or conclusions carrying a classification mark
    FILE_TOO_LARGE = "file_too_large"


class MeetingError(DomainError, ValueError):
    def __init__(self, problem: MeetingProblem, detail: str = "") -> None:
        super().__init__(f"{problem.value} {detail}".strip())
        self.problem, self.detail = problem, detail


class MeetingMessages(Protocol):
    """What each message says, in the member's language: made by the handlers, stored in the outbox."""

    def invitation(self, member: Member, meeting: Meeting) -> dict[str, Any]: ...

    def reminder(self, member: Member, meeting: Meeting, minutes_before: int) -> dict[str, Any]: ...

    def moved(self, member: Member, meeting: Meeting, previous_start: datetime) -> dict[str, Any]: ...

    def cancelled(self, member: Member, meeting: Meeting) -> dict[str, Any]: ...

    def start_summary(self, member: Member, meeting: Meeting, summary: Summary) -> dict[str, Any]: ...

    def absence_warning(self, member: Member, meeting: Meeting, absent: list[AbsenceWarning]) -> dict[str, Any]: ...


# --- the pure rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Who is invited and where they stand: answers before the meeting, attendance during and after."""

    invited: int
    must_attend: int  # the base of the validity rule: everyone invited except exempt members absent
    attending: int  # answered "I will attend"
    declined: int  # answered "excused absence" (with a reason the secretary has yet to accept)
    excused: int  # absent with a reason the secretary accepted
    present: int
    absent: int  # absent without reason, as the secretary recorded
    unrecorded: int  # nobody recorded them yet (chưa ghi nhận)
    numerator: int
    denominator: int

    @property
    def valid(self) -> bool:
        """AT LEAST numerator/denominator of those who must attend are present: the branch's
        setting, 2/3 by default (DESIGN.md §4; the one sourced figure, Hướng dẫn 12-HD/BTCTW)."""
        return self.must_attend > 0 and self.present * self.denominator >= self.must_attend * self.numerator

    @property
    def needed(self) -> int:
        """How many must be present for the meeting to be valid."""
        return -(-self.must_attend * self.numerator // self.denominator)


@dataclass(frozen=True)
class AbsenceWarning:
    """A member who missed the branch's regular meeting without reason in ``months`` (first days of
    the months, oldest first) of the last twelve."""

    name: str
    months: list[date]


def attendance_of(invitation: MeetingInvitation) -> Attendance:
    """What counts: the secretary's mark, else the member's check-in, else nothing yet. A member's
    own "excused" answer is only a request until the secretary accepts it (DESIGN.md §4:
    excused means a reason the secretary accepts; nobody is absent because they did not tap)."""
    if invitation.attendance is not None:
        return invitation.attendance
    if invitation.checked_in_at is not None:
        return Attendance.PRESENT
    return Attendance.UNRECORDED


def excuse_waiting(invitation: MeetingInvitation) -> bool:
    """The member gave a reason for their absence and the secretary has not decided on it."""
    return invitation.rsvp is Rsvp.EXCUSED and attendance_of(invitation) is Attendance.UNRECORDED


def summarize(meeting: Meeting, invitations: Iterable[MeetingInvitation]) -> Summary:
    """Exempt members (miễn sinh hoạt) count towards validity only when present; excused members
    still count among those who must attend."""
    invited = attending = declined = excused = present = absent = unrecorded = must_attend = 0
    for invitation in invitations:
        invited += 1
        state = attendance_of(invitation)
        attending += invitation.rsvp is Rsvp.ATTENDING
        declined += invitation.rsvp is Rsvp.EXCUSED
        present += state is Attendance.PRESENT
        excused += state is Attendance.EXCUSED
        absent += state is Attendance.ABSENT
        unrecorded += state is Attendance.UNRECORDED
        must_attend += not invitation.exempt or state is Attendance.PRESENT
    return Summary(
        invited, must_attend, attending, declined, excused, present, absent, unrecorded,
        meeting.quorum_numerator, meeting.quorum_denominator,
    )  # fmt: skip


def reminder_times(starts_at: datetime, minutes_before: Iterable[int]) -> list[tuple[int, datetime]]:
    """(offset, due time) for each reminder, latest offset first, duplicates dropped."""
    return [(minutes, starts_at - timedelta(minutes=minutes)) for minutes in sorted(set(minutes_before), reverse=True)]


def next_occurrence(previous_start: datetime, repeat_day: int, tz: tzinfo) -> datetime:
    """The same local time on ``repeat_day`` of the next month (the last day of a shorter month)."""
    local = previous_start.astimezone(tz)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    day = min(repeat_day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(previous_start.tzinfo)


def check_in_window(meeting: Meeting) -> tuple[datetime, datetime]:
    return meeting.starts_at - CHECK_IN_BEFORE, meeting.starts_at + CHECK_IN_AFTER


# --- permissions --------------------------------------------------------------------------------


async def _branch_ids(session: AsyncSession, meeting: Meeting) -> list[int]:
    audience = Audience.from_json(meeting.audience)
    if meeting.branch_id is not None and audience.branches is not None and audience.members is None:
        return sorted({meeting.branch_id, *audience.branches})
    if audience.branches is not None and audience.members is None:
        return list(audience.branches)
    if audience.members is not None:
        members = (await session.exec(select(Member.branch_id).where(col(Member.id).in_(audience.members)))).all()
        return sorted({*members, *([meeting.branch_id] if meeting.branch_id is not None else [])})
    return [b for b in (await session.exec(select(Branch.id))).all() if b is not None]


async def invitees(session: AsyncSession, meeting: Meeting) -> list[Member]:
    """The active members the meeting's audience means, today. A commune meeting of "the
    committee" is the commune committee's (đảng ủy, ``committee_role``), not every branch's chi ủy."""
    audience = Audience.from_json(meeting.audience)
    if meeting.branch_id is None and audience.members is None and audience.filter is AudienceFilter.COMMITTEE:
        query = select(Member).where(col(Member.active).is_(True), col(Member.committee_role).is_not(None))
        return list((await session.exec(query.order_by(col(Member.branch_id), col(Member.id)))).all())
    return await recipients(session, audience)


async def check_meeting(session: AsyncSession, actor: Actor, meeting: Meeting) -> None:
    """The actor manages meetings in every branch this one reaches (the commune: committee leaders)."""
    branches = await _branch_ids(session, meeting)
    # A commune meeting belongs to no branch: only those who act on the whole commune may manage
    # it, which a target no branch leader leads expresses.
    if meeting.branch_id is None and not may(actor, Permission.MANAGE_MEETINGS, Target(_NO_BRANCH)):
        raise NotPermitted(Permission.MANAGE_MEETINGS, Target(_NO_BRANCH))
    for branch_id in branches:
        if not may(actor, Permission.MANAGE_MEETINGS, Target(branch_id)):
            raise NotPermitted(Permission.MANAGE_MEETINGS, Target(branch_id))


# --- calling a meeting --------------------------------------------------------------------------


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
) -> Meeting:
    """A meeting being set up; nobody is told until it is called. Without an audience it is the
    branch's members (the commune committee's members for a commune meeting)."""
    if starts_at <= (now or utcnow()):
        raise MeetingError(MeetingProblem.IN_THE_PAST)
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
    if changes.get("starts_at") is not None and changes["starts_at"] <= utcnow():
        raise MeetingError(MeetingProblem.IN_THE_PAST)
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


def _queue(session: AsyncSession, member: Member, identities: list[ChannelIdentity], body: dict[str, Any]) -> int:
    return Outbox(session).add(identities, body, member_id=member.id)


async def secretaries(session: AsyncSession, meeting: Meeting) -> list[Member]:
    """Who hears the summary at the start: the branch's secretary (the committee's for a commune
    meeting), else whoever called the meeting. (The absence warning goes to the secretary only.)"""
    query = select(Member).where(col(Member.active).is_(True))
    if meeting.branch_id is not None:
        query = query.where(Member.branch_id == meeting.branch_id, Member.role == Role.SECRETARY)
    else:
        query = query.where(Member.committee_role == Role.SECRETARY)
    found = list((await session.exec(query.order_by(col(Member.id)))).all())
    if not found and meeting.author_member_id is not None:
        author = await session.get(Member, meeting.author_member_id)
        found = [author] if author is not None and author.active else []
    return found


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
        _queue(session, member, reach, messages.invitation(member, meeting))
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


async def invitations(session: AsyncSession, meeting_id: int) -> list[tuple[MeetingInvitation, Member]]:
    """Who is on the meeting's list: members taken off the roster since the invitation are not
    (they neither attend nor count among those who must)."""
    rows = await session.exec(
        select(MeetingInvitation, Member)
        .join(Member, col(Member.id) == MeetingInvitation.member_id)
        .where(MeetingInvitation.meeting_id == meeting_id, col(Member.active).is_(True))
        .order_by(col(Member.full_name), col(Member.id))
    )
    return list(rows.all())


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
    if starts_at <= now:
        raise MeetingError(MeetingProblem.IN_THE_PAST)
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


# --- members answer and attend ------------------------------------------------------------------


async def _invitation(session: AsyncSession, meeting_id: int, member: Member) -> tuple[Meeting, MeetingInvitation]:
    meeting = await session.get(Meeting, meeting_id)
    invitation = await session.get(MeetingInvitation, (meeting_id, member.id))
    if meeting is None or meeting.status is MeetingStatus.DRAFT:
        raise MeetingError(MeetingProblem.NOT_INVITED)
    if meeting.status is MeetingStatus.CANCELLED:
        raise MeetingError(MeetingProblem.NOT_CALLED)
    if invitation is None:
        raise MeetingError(MeetingProblem.NOT_INVITED)
    return meeting, invitation


async def answer(
    session: AsyncSession,
    meeting_id: int,
    member: Member,
    rsvp: Rsvp,
    reason: str | None = None,
    now: datetime | None = None,
) -> Meeting:
    """The member's answer to the invitation, until the meeting starts; a later answer replaces it.
    An excuse after the member checked in is refused: a check-in and an absence cannot both stand,
    and being there is what happened (CHECKED_IN)."""
    now = now or utcnow()
    meeting, _invitation_row = await _invitation(session, meeting_id, member)
    if meeting.starts_at <= now:
        raise MeetingError(MeetingProblem.ALREADY_STARTED)
    reason = " ".join((reason or "").split())[:MAX_REASON] or None
    conditions = [col(MeetingInvitation.meeting_id) == meeting_id, col(MeetingInvitation.member_id) == member.id]
    if rsvp is Rsvp.EXCUSED:  # the check is in the same statement, so a check-in meanwhile also wins
        conditions += [col(MeetingInvitation.checked_in_at).is_(None), col(MeetingInvitation.attendance).is_(None)]
    values = {"rsvp": rsvp, "reason": reason if rsvp is Rsvp.EXCUSED else None, "rsvp_at": now}
    if not await claim(session, MeetingInvitation, *conditions, **values):
        raise MeetingError(MeetingProblem.CHECKED_IN)
    return meeting


class CheckIn(StrEnum):
    FIRST = "first"
    AGAIN = "again"  # already checked in: nothing changes
    REPLACED_EXCUSE = "replaced_excuse"  # they had sent an excuse, which no longer stands


async def check_in(session: AsyncSession, meeting_id: int, member: Member, now: datetime | None = None) -> CheckIn:
    """ "I am here", from 30 minutes before to 60 after the start, until the list is confirmed. A
    check-in at the meeting replaces an earlier excuse (the later action counts); what the secretary
    recorded stays (MARKED)."""
    now = now or utcnow()
    meeting, invitation = await _invitation(session, meeting_id, member)
    opens, closes = check_in_window(meeting)
    if not opens <= now <= closes or meeting.attendance_confirmed_at is not None:
        raise MeetingError(MeetingProblem.CHECK_IN_CLOSED)
    if invitation.attendance is not None and invitation.attendance is not Attendance.PRESENT:
        raise MeetingError(MeetingProblem.MARKED, invitation.attendance.value)
    excused = invitation.rsvp is Rsvp.EXCUSED
    if not await claim(
        session,
        MeetingInvitation,
        col(MeetingInvitation.meeting_id) == meeting_id,
        col(MeetingInvitation.member_id) == member.id,
        col(MeetingInvitation.checked_in_at).is_(None),
        checked_in_at=now,
        rsvp=Rsvp.ATTENDING,
        reason=None,
    ):
        return CheckIn.AGAIN
    return CheckIn.REPLACED_EXCUSE if excused else CheckIn.FIRST


async def mark(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    member_id: int,
    attendance: Attendance,
    reason: str | None = None,
) -> None:
    """The secretary records a member's attendance (members without phones), or accepts a member's
    reason by marking them excused (their reason is kept unless another is given); audited. Not
    after the list is confirmed (CONFIRMED)."""
    await check_meeting(session, actor, meeting)
    if meeting.status is not MeetingStatus.CALLED:
        raise MeetingError(MeetingProblem.NOT_CALLED)
    if meeting.attendance_confirmed_at is not None:
        raise MeetingError(MeetingProblem.CONFIRMED)
    if attendance is Attendance.UNRECORDED:
        raise ValueError("the secretary records present, excused or absent")
    invitation = await session.get(MeetingInvitation, (meeting.id, member_id))
    if invitation is None:
        raise MeetingError(MeetingProblem.NOT_INVITED)
    before = attendance_of(invitation)
    invitation.attendance = attendance
    invitation.marked_by_member_id = actor.id
    if attendance is Attendance.EXCUSED and reason:
        invitation.reason = " ".join(reason.split())[:MAX_REASON]
    elif attendance is not Attendance.EXCUSED and invitation.rsvp is Rsvp.EXCUSED:
        invitation.rsvp = None  # their excuse was not accepted, or they came after all
    session.add(invitation)
    audit.record(
        session,
        AuditAction.MEETING_ATTENDANCE,
        actor_id=actor.id,
        subject_type="member",
        subject_id=member_id,
        before={"meeting": meeting.id, "attendance": before.value},
        after={"meeting": meeting.id, "attendance": attendance.value},
    )
    await session.flush()


async def summary(session: AsyncSession, meeting: Meeting) -> Summary:
    return summarize(meeting, [invitation for invitation, _ in await invitations(session, meeting.id or 0)])


async def confirm_attendance(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    messages: MeetingMessages,
    tz: tzinfo,
    *,
    rest_absent: bool = False,
    now: datetime | None = None,
) -> int:
    """The secretary confirms the attendance list, which makes it final (DESIGN.md §4). Every
    member must be recorded first; ``rest_absent`` is the secretary's explicit "the remaining
    comrades: absent without reason" (not for members whose reason awaits a decision). Then the
    branch secretary is warned of members near the Quy định 29 ground for removal. The number of
    messages queued."""
    now = now or utcnow()
    await check_meeting(session, actor, meeting)
    if meeting.status is not MeetingStatus.CALLED:
        raise MeetingError(MeetingProblem.NOT_CALLED)
    if meeting.starts_at > now:
        raise MeetingError(MeetingProblem.NOT_STARTED)
    if meeting.attendance_confirmed_at is not None:
        raise MeetingError(MeetingProblem.CONFIRMED)
    invited = await invitations(session, meeting.id or 0)
    waiting = [member.full_name for invitation, member in invited if excuse_waiting(invitation)]
    if waiting:
        raise MeetingError(MeetingProblem.EXCUSES_WAITING, ", ".join(waiting))
    unrecorded = [(i, m) for i, m in invited if attendance_of(i) is Attendance.UNRECORDED]
    # An exempt member (miễn sinh hoạt) need not come: not there, they are excused, never absent.
    exempt = [(i, m) for i, m in unrecorded if i.exempt]
    unrecorded = [(i, m) for i, m in unrecorded if not i.exempt]
    if unrecorded and not rest_absent:
        raise MeetingError(MeetingProblem.UNRECORDED_LEFT, str(len(unrecorded)))
    # The claim: a double tap, or two secretaries at once, confirm once.
    if not await claim(
        session,
        Meeting,
        col(Meeting.id) == meeting.id,
        col(Meeting.attendance_confirmed_at).is_(None),
        attendance_confirmed_at=now,
        attendance_confirmed_by_member_id=actor.id,
    ):
        raise MeetingError(MeetingProblem.CONFIRMED)
    await session.refresh(meeting)
    for invitation, _member in unrecorded:
        invitation.attendance, invitation.marked_by_member_id = Attendance.ABSENT, actor.id
        session.add(invitation)
    for invitation, _member in exempt:
        invitation.attendance, invitation.marked_by_member_id = Attendance.EXCUSED, actor.id
        session.add(invitation)
    counts = summarize(meeting, [invitation for invitation, _ in invited])
    audit.record(
        session,
        AuditAction.MEETING_ATTENDANCE_CONFIRMED,
        actor_id=actor.id,
        subject_type="meeting",
        subject_id=meeting.id,
        after={
            "present": counts.present,
            "excused": counts.excused,
            "absent": counts.absent,
            "marked_absent": [m.id for _, m in unrecorded],
            "valid": counts.valid,
        },
    )
    await session.flush()
    absent = [member for invitation, member in invited if invitation.attendance is Attendance.ABSENT]
    return await _warn_of_absences(session, meeting, absent, messages, tz)


def _month(moment: datetime, tz: tzinfo) -> date:
    return moment.astimezone(tz).date().replace(day=1)


def _months_back(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


async def unexcused_months(session: AsyncSession, member_id: int, now: datetime, tz: tzinfo) -> list[date]:
    """The months of the last twelve (this one included) in which the member missed a regular
    branch meeting (sinh hoạt chi bộ định kỳ) without reason, by confirmed attendance only: the
    count Quy định 29 makes a ground for removal at three. An exempt member did not have to come."""
    since = _months_back(_month(now, tz), ABSENCE_WINDOW_MONTHS - 1)
    rows = await session.exec(
        select(Meeting.starts_at)
        .join(MeetingInvitation, col(MeetingInvitation.meeting_id) == Meeting.id)
        .where(MeetingInvitation.member_id == member_id, Meeting.status == MeetingStatus.CALLED)
        .where(Meeting.kind == MeetingKind.REGULAR, col(Meeting.branch_id).is_not(None))
        .where(col(Meeting.attendance_confirmed_at).is_not(None), col(MeetingInvitation.exempt).is_(False))
        .where(MeetingInvitation.attendance == Attendance.ABSENT)
        .where(col(Meeting.starts_at) >= now - timedelta(days=400), col(Meeting.starts_at) <= now)
    )
    return sorted({month for starts_at in rows.all() if (month := _month(starts_at, tz)) >= since})


async def _warn_of_absences(
    session: AsyncSession, meeting: Meeting, absent: list[Member], messages: MeetingMessages, tz: tzinfo
) -> int:
    """Warn the branch secretary, and only the secretary, of members who have now missed regular
    meetings without reason in two months of the last twelve (Quy định 29: three is a ground
    for removal)."""
    if meeting.kind is not MeetingKind.REGULAR or meeting.branch_id is None:
        return 0
    now = meeting.attendance_confirmed_at or utcnow()
    warned: list[AbsenceWarning] = []
    for member in absent:
        if not member.active:
            continue
        months = await unexcused_months(session, member.id or 0, now, tz)
        if len(months) >= ABSENCE_WARNING_MONTHS:
            warned.append(AbsenceWarning(member.full_name, months))
    if not warned:
        return 0
    # The branch's secretary; a branch without one, the commune committee's secretary.
    people = list(
        (
            await session.exec(
                select(Member)
                .where(col(Member.active).is_(True), Member.branch_id == meeting.branch_id)
                .where(Member.role == Role.SECRETARY)
                .order_by(col(Member.id))
            )
        ).all()
    ) or list(
        (
            await session.exec(
                select(Member)
                .where(col(Member.active).is_(True), Member.committee_role == Role.SECRETARY)
                .order_by(col(Member.id))
            )
        ).all()
    )
    identities = await push_identities(session, [m.id or 0 for m in people])
    return sum(
        _queue(session, person, identities.get(person.id or 0, []), messages.absence_warning(person, meeting, warned))
        for person in people
    )


# --- minutes and documents ----------------------------------------------------------------------

MAX_FILE_BYTES = 20 * 1024 * 1024
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


async def set_minutes(
    session: AsyncSession, actor: Actor, meeting: Meeting, *, text: str | None = None, conclusions: str | None = None
) -> None:
    await check_meeting(session, actor, meeting)
    if meeting.status is not MeetingStatus.CALLED:
        raise MeetingError(MeetingProblem.NOT_CALLED)
    changes: dict[str, Any] = {}
    for field, value in (("minutes_text", text), ("conclusions", conclusions)):
        if value is not None:
            value = value.strip()
            if len(value) > MAX_MINUTES_TEXT:
                raise MeetingError(MeetingProblem.TOO_LONG, str(MAX_MINUTES_TEXT))
            marking = text_marking(value)
            if marking is not None:  # classified minutes stay on paper (DESIGN.md §4)
                raise MeetingError(MeetingProblem.SECRET_TEXT, marking)
            changes[field] = value or None
    for field, value in changes.items():
        setattr(meeting, field, value)
    session.add(meeting)
    audit.record(
        session,
        AuditAction.MEETING_MINUTES,
        actor_id=actor.id,
        subject_type="meeting",
        subject_id=meeting.id,
        after={field: len(value or "") for field, value in changes.items()},
    )
    await session.flush()


async def attach(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    filename: str,
    content: bytes | None = None,
    url: str | None = None,
    *,
    is_minutes: bool = False,
) -> MeetingFile:
    """Share a document (a file or a link) with the meeting's members, or attach its minutes.
    Documents marked Mật / Tối mật / Tuyệt mật are refused (DESIGN.md §4)."""
    await check_meeting(session, actor, meeting)
    if meeting.status is MeetingStatus.CANCELLED:
        raise MeetingError(MeetingProblem.NOT_CALLED)
    if content is not None and len(content) > MAX_FILE_BYTES:
        raise MeetingError(MeetingProblem.FILE_TOO_LARGE, str(MAX_FILE_BYTES // (1024 * 1024)))
    marking = secrecy_marking(filename, content or b"")
    if marking is not None:
        raise MeetingError(MeetingProblem.SECRET_DOCUMENT, marking)
    name = filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or "tep"
    file = MeetingFile(
        meeting_id=meeting.id or 0,
        filename=name,
        is_photo=content is not None and name.lower().endswith(PHOTO_SUFFIXES),
        is_minutes=is_minutes,
        content=content,
        url=url,
    )
    session.add(file)
    audit.record(
        session,
        AuditAction.MEETING_DOCUMENT,
        actor_id=actor.id,
        subject_type="meeting",
        subject_id=meeting.id,
        after={"name": name, "minutes": is_minutes, "link": url is not None},
    )
    await session.flush()
    return file


async def files_of(session: AsyncSession, meeting_id: int) -> list[MeetingFile]:
    return list(
        (
            await session.exec(
                select(MeetingFile).where(MeetingFile.meeting_id == meeting_id).order_by(col(MeetingFile.id))
            )
        ).all()
    )


async def may_see(session: AsyncSession, member: Member, meeting: Meeting) -> bool:
    """Invited to it, or managing it: who may read its agenda, documents and minutes."""
    if await session.get(MeetingInvitation, (meeting.id, member.id)) is not None:
        return True
    try:
        await check_meeting(session, member, meeting)
    except NotPermitted:
        return False
    return True


# --- what members and secretaries ask -----------------------------------------------------------


async def upcoming_for(
    session: AsyncSession, member: Member, now: datetime | None = None, limit: int = 10
) -> list[tuple[Meeting, MeetingInvitation]]:
    """Meetings the member is invited to that have not ended their check-in window, soonest first."""
    now = now or utcnow()
    rows = await session.exec(
        select(Meeting, MeetingInvitation)
        .join(MeetingInvitation, col(MeetingInvitation.meeting_id) == Meeting.id)
        .where(MeetingInvitation.member_id == member.id, Meeting.status == MeetingStatus.CALLED)
        .where(col(Meeting.starts_at) >= now - CHECK_IN_AFTER)
        .order_by(col(Meeting.starts_at))
        .limit(limit)
    )
    return list(rows.all())


async def past_for(
    session: AsyncSession, member: Member, now: datetime | None = None, since: timedelta = YEAR
) -> list[tuple[Meeting, MeetingInvitation]]:
    """The member's meetings of the last year whose attendance is closed, newest first."""
    now = now or utcnow()
    rows = await session.exec(
        select(Meeting, MeetingInvitation)
        .join(MeetingInvitation, col(MeetingInvitation.meeting_id) == Meeting.id)
        .where(MeetingInvitation.member_id == member.id, Meeting.status == MeetingStatus.CALLED)
        .where(col(Meeting.starts_at) >= now - since, col(Meeting.starts_at) <= now - CHECK_IN_AFTER)
        .order_by(col(Meeting.starts_at).desc())
    )
    return list(rows.all())


@dataclass
class MemberRate:
    name: str
    meetings: int = 0
    present: int = 0
    excused: int = 0
    absent: int = 0

    @property
    def rate(self) -> float:
        return self.present / self.meetings if self.meetings else 0.0


async def attendance_rates(
    session: AsyncSession, branch_id: int, now: datetime | None = None, since: timedelta = YEAR
) -> list[MemberRate]:
    """Per active member of the branch, over the branch's meetings of the last year whose attendance
    the secretary confirmed (only a confirmed list is final)."""
    now = now or utcnow()
    rows = await session.exec(
        select(MeetingInvitation, Member)
        .join(Meeting, col(Meeting.id) == MeetingInvitation.meeting_id)
        .join(Member, col(Member.id) == MeetingInvitation.member_id)
        .where(Member.branch_id == branch_id, col(Member.active).is_(True), Meeting.status == MeetingStatus.CALLED)
        .where(col(Meeting.starts_at) >= now - since, col(Meeting.attendance_confirmed_at).is_not(None))
    )
    rates: dict[int, MemberRate] = {}
    for invitation, member in rows.all():
        state = attendance_of(invitation)
        if invitation.exempt and state is not Attendance.PRESENT:
            continue  # an exempt member (miễn sinh hoạt) did not have to come
        rate = rates.setdefault(member.id or 0, MemberRate(member.full_name))
        rate.meetings += 1
        rate.present += state is Attendance.PRESENT
        rate.excused += state is Attendance.EXCUSED
        rate.absent += state is Attendance.ABSENT
    return sorted(rates.values(), key=lambda r: (r.rate, r.name))


async def meetings_managed(
    session: AsyncSession, actor: Member, now: datetime | None = None, limit: int = 10
) -> list[Meeting]:
    """The meetings of the actor's branch (every branch for committee leaders): upcoming first,
    then the latest past ones."""
    now = now or utcnow()
    query = select(Meeting).where(col(Meeting.status) != MeetingStatus.CANCELLED)
    if actor.committee_role not in (Role.SECRETARY, Role.DEPUTY_SECRETARY):
        query = query.where(Meeting.branch_id == actor.branch_id)
    upcoming = (
        await session.exec(
            query.where(col(Meeting.starts_at) >= now - CHECK_IN_AFTER).order_by(col(Meeting.starts_at)).limit(limit)
        )
    ).all()
    past = (
        await session.exec(
            query.where(col(Meeting.starts_at) < now - CHECK_IN_AFTER)
            .order_by(col(Meeting.starts_at).desc())
            .limit(limit)
        )
    ).all()
    return [*upcoming, *past][:limit]


# --- the scheduler's work -----------------------------------------------------------------------


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
    """Deactivated, or moved to another branch since the invitation: no more reminders."""
    audience = Audience.from_json(meeting.audience)
    if not member.active:
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
            run.messages += _queue(
                session, member, identities[member.id or 0], messages.reminder(member, meeting, job.minutes_before)
            )
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
                _queue(session, member, reach, messages.invitation(member, meeting))
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
