"""Members answer and check in; the secretary marks and confirms the list, which makes it final,
and is warned of members near the Quy định 29 ground for removal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit, dues
from models.audience import push_identities
from models.audit import AuditAction
from models.db import claim
from models.errors import NotFound
from models.meetings.people import _queue, check_meeting, invitations
from models.meetings.rules import (
    ABSENCE_WARNING_MONTHS,
    ABSENCE_WINDOW_MONTHS,
    MAX_REASON,
    AbsenceWarning,
    MeetingError,
    MeetingMessages,
    MeetingProblem,
    Summary,
    attendance_of,
    check_in_window,
    excuse_waiting,
    summarize,
)
from models.permissions import Actor
from models.tables import (
    Attendance,
    Meeting,
    MeetingInvitation,
    MeetingKind,
    MeetingStatus,
    Member,
    Role,
    Rsvp,
    utcnow,
)


async def _invitation(session: AsyncSession, meeting_id: int, member: Member) -> tuple[Meeting, MeetingInvitation]:
    meeting = await session.get(Meeting, meeting_id)
    invitation = await session.get(MeetingInvitation, (meeting_id, member.id))
    # Not invited is answered as an id that does not exist, before anything about the meeting is
    # said (cancelled...): the answer must not tell that another branch's meeting exists.
    if meeting is None or meeting.status is MeetingStatus.DRAFT or invitation is None:
        raise NotFound(f"meeting {meeting_id}")
    if meeting.status is MeetingStatus.CANCELLED:
        raise MeetingError(MeetingProblem.NOT_CALLED)
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
    if meeting.attendance_confirmed_at is not None:  # the true reason, inside the window too
        raise MeetingError(MeetingProblem.CONFIRMED)
    if not opens <= now <= closes:
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
) -> bool:
    """The secretary records a member's attendance (members without phones), or accepts a member's
    reason by marking them excused (their reason is kept unless another is given); audited. Not
    after the list is confirmed (CONFIRMED). False, with nothing written or audited, when the member
    already stands so: the same sheet sent six times at once is one audit line per real change."""
    await check_meeting(session, actor, meeting)
    if meeting.status is not MeetingStatus.CALLED:
        raise MeetingError(MeetingProblem.NOT_CALLED)
    if meeting.attendance_confirmed_at is not None:
        raise MeetingError(MeetingProblem.CONFIRMED)
    if attendance is Attendance.UNRECORDED:
        raise ValueError("the secretary records present, excused or absent")
    # The row is locked (PostgreSQL) and read afresh, so a sheet sent twice at once waits here and
    # then sees the first one's marks; SQLite, which ignores the lock, is held by the UPDATE's
    # condition below, checked against the row as it is when written.
    invitation = await session.get(
        MeetingInvitation, (meeting.id, member_id), with_for_update=True, populate_existing=True
    )
    if invitation is None:
        raise MeetingError(MeetingProblem.NOT_INVITED)
    reason = " ".join((reason or "").split())[:MAX_REASON] or None
    new_reason = reason if attendance is Attendance.EXCUSED and reason else invitation.reason
    before = attendance_of(invitation)
    if before is attendance and new_reason == invitation.reason:
        return False
    values: dict[str, object] = {"attendance": attendance, "marked_by_member_id": actor.id}
    if new_reason != invitation.reason:
        values["reason"] = new_reason
    if attendance is not Attendance.EXCUSED and invitation.rsvp is Rsvp.EXCUSED:
        values["rsvp"] = None  # their excuse was not accepted, or they came after all
    row = MeetingInvitation
    already = col(row.attendance).is_not_distinct_from(attendance)  # NULL-safe: a NULL never matches
    if attendance is Attendance.PRESENT:
        already = already | (col(row.attendance).is_(None) & col(row.checked_in_at).is_not(None))
    already = already & col(row.reason).is_not_distinct_from(new_reason)
    if not await claim(
        session, row, col(row.meeting_id) == meeting.id, col(row.member_id) == member_id, ~already, **values
    ):
        return False
    audit.record(
        session,
        AuditAction.MEETING_ATTENDANCE,
        actor_id=actor.id,
        subject_type="member",
        subject_id=member_id,
        before={"meeting": meeting.id, "attendance": before.value},
        # The accepted reason goes with an excused absence: the log then says why, not just "excused".
        after={"meeting": meeting.id, "attendance": attendance.value}
        | ({"excuse": new_reason} if attendance is Attendance.EXCUSED and new_reason else {}),
    )
    await session.flush()
    return True


async def mark_all(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    marks: Mapping[int, tuple[Attendance, str | None]],
) -> int:
    """The whole sheet at once (the desk's attendance table): each member whose state or reason
    changes is recorded through ``mark``, with its checks and its audit entry; unchanged rows and
    UNRECORDED (left blank) are skipped. The number of members recorded (``mark`` decides, on the
    row as it is when written: this sheet's copy may be older)."""
    await check_meeting(session, actor, meeting)
    invited = {member.id: invitation for invitation, member in await invitations(session, meeting.id or 0)}
    unknown = [member_id for member_id in marks if member_id not in invited]
    if unknown:
        raise MeetingError(MeetingProblem.NOT_INVITED)
    changed = 0
    for member_id, (attendance, reason) in marks.items():
        invitation = invited[member_id]
        reason = " ".join((reason or "").split())[:MAX_REASON] or None
        if attendance is Attendance.UNRECORDED:
            continue
        same_reason = attendance is not Attendance.EXCUSED or not reason or reason == invitation.reason
        if attendance_of(invitation) is attendance and same_reason:
            continue
        changed += await mark(session, actor, meeting, member_id, attendance, reason)
    return changed


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
    return await _warn_of_absences(session, meeting, [member for _i, member in invited], absent, messages, tz)


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
    session: AsyncSession,
    meeting: Meeting,
    invited: list[Member],
    absent: list[Member],
    messages: MeetingMessages,
    tz: tzinfo,
) -> int:
    """Warn the branch secretary, and only the secretary, of members who have now left Party
    activity or the party dues in two months of the last twelve: months with a regular meeting
    missed without reason and months of dues unpaid together (Quy định 29; Charter art. 8: "bỏ
    sinh hoạt đảng hoặc không đóng đảng phí ba tháng trong năm" is a ground for removal). Checked
    for members absent now and members with dues unpaid, so a member warned once for past absences
    is not warned again at every meeting they attend."""
    if meeting.kind is not MeetingKind.REGULAR or meeting.branch_id is None:
        return 0
    now = meeting.attendance_confirmed_at or utcnow()
    today = now.astimezone(tz).date()
    warned: list[AbsenceWarning] = []
    absent_ids = {member.id for member in absent}
    for member in invited:
        if not member.active:
            continue
        unpaid = await dues.unpaid_months(session, member, today, tz)
        if member.id not in absent_ids and not unpaid:
            continue
        months = await unexcused_months(session, member.id or 0, now, tz)
        if len(set(months) | set(unpaid)) >= ABSENCE_WARNING_MONTHS:
            warned.append(AbsenceWarning(member.full_name, months, unpaid))
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
