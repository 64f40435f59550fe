"""The branch's books as the commune committee asks for them: party age and badges, and the reports
upward of a month or a quarter, per branch and for the commune. Every number is computed from the
records (the roster and its dates, the audit log, meetings and their confirmed attendance, dues
payments): nothing is counted separately, so nothing can drift.

Party badges (Huy hiệu Đảng): Quy định 94-QĐ/TW (2023) of the Politburo on the Party badge, as
public pages quote it (its text could not be read here): badges of 30, 40, 45, 50, 55, 60, 65, 70,
75, 80, 85 and 90 years of membership, counted from the day of admission (ngày vào Đảng) of an
official member; awarded on the great days of the year (3/2, 19/5, 2/9, 7/11). Not modelled
(UNCONFIRMED details of the rule): periods out of the Party deducted, and badges given early to
members gravely ill.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import dues, roster_history
from models.books import STEPS, Step
from models.dues import DEFAULT_RATES, DuesRates, add_months, month_end, month_of, months_between
from models.meetings.attendance import unexcused_months
from models.meetings.rules import summarize
from models.membership import check, probation_end
from models.permissions import Actor, Permission, Target, may
from models.roster_history import Came, MemberHistory
from models.tables import (
    AdmissionCandidate,
    Branch,
    DeactivationReason,
    Meeting,
    MeetingInvitation,
    MeetingKind,
    MeetingStatus,
    Member,
    MemberStatus,
    PromotionVote,
)

# Quy định 94-QĐ/TW (2023): the years of membership a badge is given for.
BADGE_YEARS = (30, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90)
# Warn of a member at this many months of the last twelve missed or unpaid (Quy định 29: three is
# a ground for removal), as the meetings' absence warning does.
WARNING_MONTHS = 2


def anniversary(admitted: date, years: int) -> date:
    try:
        return admitted.replace(year=admitted.year + years)
    except ValueError:  # admitted on 29 February
        return date(admitted.year + years, 2, 28)


def party_age(admitted: date | None, on: date) -> int | None:
    """Whole years of membership on ``on`` from the day of admission (Quy định 94-QĐ/TW)."""
    if admitted is None or admitted > on:
        return None
    years = on.year - admitted.year
    return years if anniversary(admitted, years) <= on else years - 1


def badge_due(member: Member, year: int) -> int | None:
    """The badge (years) an official member on the roster reaches in ``year``, if any."""
    if not member.active or member.date_admitted is None or member.status is not MemberStatus.OFFICIAL:
        return None
    years = year - member.date_admitted.year
    return years if years in BADGE_YEARS else None


@dataclass(frozen=True)
class BadgeLine:
    member: Member
    branch: str
    years: int
    on: date  # the day the years are reached


async def badges(session: AsyncSession, actor: Actor, year: int) -> list[BadgeLine]:
    """Who reaches a badge year of membership in ``year``, of the branches the actor leads (the whole
    commune for its committee's secretary), by the day they reach it."""
    rows = await session.exec(select(Member, Branch).join(Branch, col(Branch.id) == Member.branch_id))
    found = []
    for member, branch in rows.all():
        years = badge_due(member, year)
        if years is None or member.date_admitted is None:
            continue
        if not _may_view(actor, branch.id or 0):
            continue
        found.append(BadgeLine(member, branch.name, years, anniversary(member.date_admitted, years)))
    return sorted(found, key=lambda line: (line.on, line.member.full_name))


def _may_view(actor: Actor, branch_id: int) -> bool:
    return may(actor, Permission.VIEW_DUES, Target(branch_id))


@dataclass(frozen=True)
class Period:
    """A month or a quarter, its first and last day."""

    first: date
    last: date
    quarter: bool

    @classmethod
    def month(cls, month: date) -> Period:
        month = month_of(month)
        return cls(month, month_end(month), False)

    @classmethod
    def quarter_of(cls, month: date) -> Period:
        first = date(month.year, (month.month - 1) // 3 * 3 + 1, 1)
        return cls(first, month_end(add_months(first, 2)), True)

    @property
    def months(self) -> list[date]:
        return months_between(self.first, self.last)

    @property
    def label(self) -> str:
        if self.quarter:
            return f"Q{(self.first.month - 1) // 3 + 1}/{self.first.year}"
        return f"{self.first.month:02d}/{self.first.year}"


@dataclass
class Report:
    """One branch's report of a period (or the commune's, summed over its branches)."""

    name: str
    members_start: int = 0
    members_end: int = 0
    official: int = 0
    probationary: int = 0
    exempt: int = 0
    elsewhere: list[str] = field(default_factory=list)  # temporarily active elsewhere at the end
    admitted: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # put on the roster neither admitted nor moved in
    made_official: list[str] = field(default_factory=list)
    promoted_at: dict[str, date] = field(default_factory=dict)  # made official: the day of the meeting that voted
    # Left the roster otherwise than by transfer (a transfer out is in ``moved_out``).
    left: dict[DeactivationReason, list[str]] = field(default_factory=dict)
    moved_in: list[str] = field(default_factory=list)
    moved_out: list[str] = field(default_factory=list)  # to another branch, or by official transfer
    regular_meetings: int = 0
    thematic_meetings: int = 0
    present: int = 0  # over the meetings whose attendance list is confirmed
    must_attend: int = 0
    dues_expected: int = 0  # the months of the period owed to the branch, at their amounts then
    dues_paid: int = 0  # paid for those months, wherever it was collected
    dues_collected: int = 0  # cash the branch recorded in the period, whatever months and members it covers
    dues_kept: int = 0
    dues_passed_up: int = 0
    unpaid: dict[str, int] = field(default_factory=dict)  # member: months of the period unpaid
    probation_overdue: list[str] = field(default_factory=list)  # 12 months over, not yet official
    # Admission candidates followed at the end of the period: the last step done by then (None:
    # introduced only).
    candidates: dict[str, Step | None] = field(default_factory=dict)
    warnings: dict[str, tuple[int, int]] = field(default_factory=dict)  # member: (meeting months, unpaid months)

    @property
    def attendance_percent(self) -> float | None:
        return None if self.must_attend == 0 else round(100 * self.present / self.must_attend, 1)

    def add(self, other: Report) -> None:
        """Sum ``other`` into this one (the commune's report)."""
        for name in (
            "members_start", "members_end", "official", "probationary", "exempt", "regular_meetings",
            "thematic_meetings", "present", "must_attend", "dues_expected", "dues_paid", "dues_collected",
            "dues_kept", "dues_passed_up",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("admitted", "added", "made_official", "moved_in", "moved_out", "probation_overdue", "elsewhere"):
            getattr(self, name).extend(getattr(other, name))
        for reason, names in other.left.items():
            self.left.setdefault(reason, []).extend(names)
        self.promoted_at.update(other.promoted_at)
        self.candidates.update(other.candidates)
        self.unpaid.update(other.unpaid)
        self.warnings.update(other.warnings)


def _within(day: date | None, period: Period) -> bool:
    return day is not None and period.first <= day <= period.last


async def branch_report(
    session: AsyncSession,
    actor: Actor,
    branch: Branch,
    period: Period,
    tz: tzinfo,
    today: date,
    rates: DuesRates = DEFAULT_RATES,
) -> Report:
    """The branch's report of the period, every number from the records: the roster as it stood
    (``roster_history``: who was on it at the start and at the end, their status then, the arrivals
    and departures inside the period), so a report of a past period says later what it said then."""
    branch_id = branch.id or 0
    check(actor, Permission.VIEW_DUES, Target(branch_id))
    report = Report(branch.name)
    found = await roster_history.histories(session, branch_id=branch_id, tz=tz)
    before = period.first - timedelta(days=1)
    at_end = [h for h in found.values() if h.stay(branch_id, period.last) is not None]
    report.members_start = sum(1 for h in found.values() if h.stay(branch_id, before) is not None)
    report.members_end = len(at_end)
    report.official = sum(1 for h in at_end if h.official_on(period.last))
    report.probationary = report.members_end - report.official
    report.exempt = sum(1 for h in at_end if h.exempt_on(period.last))
    report.elsewhere = [h.member.full_name for h in at_end if h.away_on(period.last)]
    promoted: list[int] = []
    for history in found.values():
        member = history.member
        for stay in history.stays:
            if stay.branch_id != branch_id:
                continue
            if stay.began_within(period.first, period.last):
                if stay.came in (Came.TRANSFERRED, Came.MOVED):
                    report.moved_in.append(member.full_name)
                elif stay.came is Came.ADMITTED or _within(member.date_admitted, period):
                    report.admitted.append(member.full_name)
                else:
                    report.added.append(member.full_name)
            if stay.ended_within(period.first, period.last):
                if stay.moved_to is not None:
                    report.moved_out.append(member.full_name)
                elif member.deactivation_reason is DeactivationReason.TRANSFERRED:
                    report.moved_out.append(member.full_name)  # chuyển sinh hoạt đi: to another organisation
                elif member.deactivation_reason is not None:
                    report.left.setdefault(member.deactivation_reason, []).append(member.full_name)
        made = history.official_from
        if made is not None and _within(made, period) and history.stay(branch_id, made) is not None:
            report.made_official.append(member.full_name)
            promoted.append(member.id or 0)
    report.promoted_at = await _promotion_meetings(session, promoted, tz)
    report.probation_overdue = [
        h.member.full_name
        for h in at_end
        if h.member.date_admitted is not None
        and not h.official_on(period.last)
        and probation_end(h.member.date_admitted) <= period.last
    ]
    report.candidates = await _candidates(session, branch_id, period)
    await _meetings(session, branch_id, period, tz, report)
    await _dues(session, branch_id, found, period, today, rates, report)
    end = min(period.last, today)
    moment = datetime.combine(end, time(23, 59), tz)
    start = await dues.first_recorded_month(session, branch_id)
    paid = await dues.paid_months(session, [h.member.id or 0 for h in at_end])
    for history in at_end:
        m = history.member
        last_stay = history.stay(branch_id, period.last)
        assert last_stay is not None
        absences = await unexcused_months(session, m.id or 0, moment, tz)
        owed = dues.owed_months(
            m,
            start,
            paid[m.id or 0],
            add_months(month_of(end), 1) if end < today else today,
            last_stay.since,
            last_stay.until,
            history,
        )
        if len(set(absences) | set(owed)) >= WARNING_MONTHS:
            report.warnings[m.full_name] = (len(absences), len(owed))
    for names in (report.admitted, report.added, report.made_official, report.moved_in, report.moved_out,
                  report.probation_overdue, report.elsewhere, *report.left.values()):  # fmt: skip
        names.sort()
    return report


async def _candidates(session: AsyncSession, branch_id: int, period: Period) -> dict[str, Step | None]:
    """The candidates the branch followed at the end of the period (introduced by then, neither
    admitted nor set aside by then), each with the last step done by then, earliest introduced first."""
    rows = await session.exec(
        select(AdmissionCandidate)
        .where(AdmissionCandidate.branch_id == branch_id, col(AdmissionCandidate.introduced_on) <= period.last)
        .order_by(col(AdmissionCandidate.introduced_on), col(AdmissionCandidate.id))
    )
    followed: dict[str, Step | None] = {}
    for candidate in rows.all():
        ended = [d for d in (candidate.dropped_on, candidate.ceremony_on) if d is not None and d <= period.last]
        if ended:
            continue
        done = [step for step in STEPS if (d := getattr(candidate, step.value)) is not None and d <= period.last]
        followed[candidate.full_name] = done[-1] if done else None
    return followed


async def _promotion_meetings(session: AsyncSession, member_ids: list[int], tz: tzinfo) -> dict[str, date]:
    """The day of the meeting whose vote made each member official, where it was recorded with one."""
    if not member_ids:
        return {}
    rows = await session.exec(
        select(Member.full_name, Meeting.starts_at)
        .join(PromotionVote, col(PromotionVote.member_id) == Member.id)
        .join(Meeting, col(Meeting.id) == PromotionVote.meeting_id)
        .where(col(Member.id).in_(member_ids))
        .order_by(col(PromotionVote.id))
    )
    return {name: roster_history.local_day(starts_at, tz) for name, starts_at in rows.all()}


async def _meetings(session: AsyncSession, branch_id: int, period: Period, tz: tzinfo, report: Report) -> None:
    first = datetime.combine(period.first, time(0), tz).astimezone(UTC)
    last = datetime.combine(period.last + timedelta(days=1), time(0), tz).astimezone(UTC)
    held = (
        await session.exec(
            select(Meeting)
            .where(Meeting.branch_id == branch_id, Meeting.status == MeetingStatus.CALLED)
            .where(col(Meeting.starts_at) >= first, col(Meeting.starts_at) < last)
        )
    ).all()
    for meeting in held:
        if meeting.kind is MeetingKind.REGULAR:
            report.regular_meetings += 1
        elif meeting.kind is MeetingKind.THEMATIC:
            report.thematic_meetings += 1
        else:
            continue
        if meeting.attendance_confirmed_at is None:
            continue
        invitations = (
            await session.exec(select(MeetingInvitation).where(MeetingInvitation.meeting_id == meeting.id))
        ).all()
        summary = summarize(meeting, invitations)
        report.present += summary.present
        report.must_attend += summary.must_attend


async def _dues(
    session: AsyncSession,
    branch_id: int,
    found: Mapping[int, MemberHistory],
    period: Period,
    today: date,
    rates: DuesRates,
    report: Report,
) -> None:
    """The months of the period each member owed this branch (the card's rule, ``months_owed``, over
    their stays on its roster), what they come to (``due_in``; a month paid as paid), what was paid
    for them wherever it was collected; and the cash this branch's collector took in the period."""
    current = month_of(today)
    paid = await dues.paid_months(session, found)
    start = await dues.first_recorded_month(session, branch_id)
    for history in found.values():
        member = history.member
        taken = paid[member.id or 0]
        owed: list[date] = []
        for stay in history.stays:
            if stay.branch_id == branch_id:  # the same rule as the card's and the warning's
                last = min(period.last, current)
                owed += dues.months_owed(member, start, period.first, last, stay.since, stay.until, history)
        for month in owed:
            payment = taken.get(month)
            if payment is not None:
                report.dues_paid += payment.amount
                report.dues_expected += payment.amount
            else:
                report.dues_expected += dues.due_in(history, month, rates) or 0
        missing = [m for m in owed if m not in taken and m < current]
        if missing:
            report.unpaid[member.full_name] = len(missing)
    report.dues_collected = await dues.collected_between(session, [branch_id], period.first, period.last)
    report.dues_kept, report.dues_passed_up = dues.branch_share(report.dues_collected, rates)


async def commune_report(
    session: AsyncSession,
    actor: Actor,
    period: Period,
    tz: tzinfo,
    today: date,
    rates: DuesRates = DEFAULT_RATES,
    name: str = "",
) -> tuple[Report, list[Report]]:
    """Every branch's report and their sum (the commune committee secretary's)."""
    branches = (await session.exec(select(Branch).order_by(col(Branch.id)))).all()
    reports = [await branch_report(session, actor, b, period, tz, today, rates) for b in branches]
    total = Report(name)
    for report in reports:
        total.add(report)
    return total, reports


def left_count(report: Report) -> int:
    return sum(len(names) for names in report.left.values())
