"""What members and secretaries ask of meetings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.meetings.rules import CHECK_IN_AFTER, YEAR, Summary, attendance_of, summarize
from models.tables import (
    Attendance,
    Meeting,
    MeetingInvitation,
    MeetingStatus,
    Member,
    Role,
    utcnow,
)
from models.vietnamese import name_key


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
    """The member's meetings of the last year whose attendance is closed, and any where their
    attendance is already recorded (a check-in at today's meeting), newest first. A meeting still
    ahead is not past for what the secretary recorded early (a list confirmed before its start)."""
    now = now or utcnow()
    closed = col(Meeting.starts_at) <= now - CHECK_IN_AFTER
    # The member's own check-in (from 30 minutes before the start) counts at once; what the secretary
    # recorded, only once the meeting has begun (a list confirmed early marks everyone).
    marked_once_begun = col(MeetingInvitation.attendance).is_not(None) & (col(Meeting.starts_at) <= now)
    recorded = col(MeetingInvitation.checked_in_at).is_not(None) | marked_once_begun
    rows = await session.exec(
        select(Meeting, MeetingInvitation)
        .join(MeetingInvitation, col(MeetingInvitation.meeting_id) == Meeting.id)
        .where(MeetingInvitation.member_id == member.id, Meeting.status == MeetingStatus.CALLED)
        .where(col(Meeting.starts_at) >= now - since, closed | recorded)
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
    return sorted(rates.values(), key=lambda r: (r.rate, name_key(r.name)))


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


async def meetings_between(
    session: AsyncSession, branch_ids: Sequence[int], start: datetime, end: datetime, *, commune: bool = False
) -> list[Meeting]:
    """The meetings (drafts and cancelled ones too) of these branches starting in [start, end),
    soonest first; ``commune`` adds the commune committee's own meetings (no branch). A draft whose
    time was not typed yet has no place on a calendar."""
    reach: ColumnElement[bool] = col(Meeting.branch_id).in_(list(branch_ids))
    if commune:
        reach = reach | col(Meeting.branch_id).is_(None)
    rows = await session.exec(
        select(Meeting)
        .where(reach, col(Meeting.starts_at) >= start, col(Meeting.starts_at) < end, col(Meeting.time_set).is_(True))
        .order_by(col(Meeting.starts_at), col(Meeting.id))
    )
    return list(rows.all())


async def drafts_of(session: AsyncSession, branch_ids: Sequence[int], *, commune: bool = False) -> list[Meeting]:
    """The meetings being prepared in these branches (the commune committee's too with ``commune``),
    those with a time first by time, then those still without one."""
    reach: ColumnElement[bool] = col(Meeting.branch_id).in_(list(branch_ids))
    if commune:
        reach = reach | col(Meeting.branch_id).is_(None)
    rows = await session.exec(select(Meeting).where(reach, Meeting.status == MeetingStatus.DRAFT))
    return sorted(rows.all(), key=lambda m: (not m.time_set, m.starts_at, m.id or 0))


@dataclass(frozen=True)
class MeetingRate:
    meeting: Meeting
    summary: Summary

    @property
    def rate(self) -> float:
        """Present among those who had to attend."""
        return self.summary.present / self.summary.must_attend if self.summary.must_attend else 0.0


async def meeting_rates(
    session: AsyncSession, branch_ids: Sequence[int], now: datetime | None = None, since: timedelta = YEAR
) -> list[MeetingRate]:
    """Per meeting of these branches in the last year whose attendance the secretary confirmed
    (only a confirmed list is final), newest first, counted as the chat counts them (``summarize``)."""
    now = now or utcnow()
    meetings = list(
        (
            await session.exec(
                select(Meeting)
                .where(col(Meeting.branch_id).in_(list(branch_ids)), Meeting.status == MeetingStatus.CALLED)
                .where(col(Meeting.starts_at) >= now - since, col(Meeting.attendance_confirmed_at).is_not(None))
                .order_by(col(Meeting.starts_at).desc())
            )
        ).all()
    )
    if not meetings:
        return []
    rows = await session.exec(
        select(MeetingInvitation).where(col(MeetingInvitation.meeting_id).in_([m.id for m in meetings]))
    )
    by_meeting: dict[int, list[MeetingInvitation]] = {}
    for invitation in rows.all():
        by_meeting.setdefault(invitation.meeting_id, []).append(invitation)
    return [MeetingRate(m, summarize(m, by_meeting.get(m.id or 0, []))) for m in meetings]
