"""The branch's books (issue 18): the monthly meeting's record (its numbered resolution, the votes
taken there by show of hands, the minutes' facts), transfers between party organisations,
admission candidates, the year-end review, and the reminders the secretary gets from them.

Every number is computed from the records; every change is audited; the permission table is asked
first (the branch's secretary and deputy on their branch, the commune's on every branch). Sources
are cited beside each rule; their numbers are defaults named here once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.audience import push_identities
from models.audit import AuditAction
from models.db import insert_ignoring_conflict
from models.errors import DomainError, NotFound
from models.meetings import check_meeting, invitations
from models.meetings.rules import attendance_of
from models.membership import (
    BRANCH_MEETING_KINDS,
    add_member,
    check,
    check_record,
    clean_name,
    deactivate,
    probation_end,
    set_standing,
    target_of,
)
from models.outbox import Outbox
from models.permissions import Actor, Permission, Target
from models.tables import (
    AdmissionCandidate,
    Attendance,
    BookReminder,
    Branch,
    DeactivationReason,
    HandVote,
    Meeting,
    MeetingInvitation,
    MeetingKind,
    MeetingStatus,
    Member,
    MemberStanding,
    MemberStatus,
    MemberTransfer,
    Resolution,
    ReviewLevel,
    Role,
    TransferKind,
    YearReview,
    utcnow,
)
from models.vietnamese import name_key

MAX_DECISIONS = 20
MAX_LINE = 300
MAX_ASSESSMENT = 2000
# Quy định 29 (DESIGN.md §4): the branch votes within 30 working days of the end of probation. The
# secretary is reminded this many days before the end, once each.
PROBATION_REMINDER_DAYS = (30, 7)
# The yearly review (Quy định 366-QĐ/TW, 2025, which replaced 124-QĐ/TW of 2023; Hướng dẫn 21-HD/BTCTW,
# 2019, as quoted by thuvienphapluat.vn): members rated "Hoàn thành xuất sắc nhiệm vụ" may be at most
# 20% of those rated "Hoàn thành tốt nhiệm vụ" in a party organisation (a warning, not refused).
EXCELLENT_SHARE_OF_GOOD = (1, 5)
MIN_RATED_FOR_SHARE = 5  # members classified before the share is checked


class BookProblem(StrEnum):
    NOT_REGULAR = "not_regular"  # a month's resolution belongs to a regular meeting
    NOT_HELD = "not_held"  # the meeting has not begun, or was cancelled
    NO_DECISIONS = "no_decisions"
    TOO_LONG = "too_long"
    BAD_COUNT = "bad_count"  # a show of hands that is not "in favour[/against]" within those present
    NOT_PRESENT = "not_present"  # more hands than official members present
    BAD_DAY = "bad_day"
    EMPTY = "empty"  # an organisation, a question or a name left empty
    NOT_ELSEWHERE = "not_elsewhere"  # ending a temporary transfer of a member who is not away
    STEP_ORDER = "step_order"  # a step before the one it follows (detail: the step it needs)
    STEP_DONE = "step_done"
    DROPPED = "dropped"
    NO_MEETING = "no_meeting"  # a classification needs the meeting that decided it
    WRONG_BRANCH = "wrong_branch"


class BookError(DomainError, ValueError):
    def __init__(self, problem: BookProblem, detail: str = "") -> None:
        super().__init__(f"{problem.value} {detail}".strip())
        self.problem, self.detail = problem, detail


def _line(text: str, limit: int = MAX_LINE) -> str:
    cleaned = " ".join(text.split())
    if not cleaned:
        raise BookError(BookProblem.EMPTY)
    if len(cleaned) > limit:
        raise BookError(BookProblem.TOO_LONG, str(limit))
    return cleaned


def _local_day(moment: datetime, tz: tzinfo) -> date:
    return moment.astimezone(tz).date()


def _held(meeting: Meeting, now: datetime) -> None:
    if meeting.status is not MeetingStatus.CALLED or meeting.starts_at > now:
        raise BookError(BookProblem.NOT_HELD)


# --- The monthly meeting's record -------------------------------------------------------------


async def resolution_of(session: AsyncSession, meeting_id: int) -> Resolution | None:
    return (await session.exec(select(Resolution).where(Resolution.meeting_id == meeting_id))).first()


async def record_resolution(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    decisions: Iterable[str],
    tz: tzinfo,
    now: datetime | None = None,
) -> Resolution:
    """The resolution of a regular meeting (nghị quyết tháng), with its decisions one per line: a
    number of its own in the branch's year (01, 02 …) the first time, the same number when its
    decisions are corrected. Only once the meeting has begun: it records what the branch adopted."""
    await check_meeting(session, actor, meeting)
    if meeting.kind is not MeetingKind.REGULAR or meeting.branch_id is None:
        raise BookError(BookProblem.NOT_REGULAR)
    _held(meeting, now or utcnow())
    items = [_line(item) for item in decisions if item.strip()]
    if not items:
        raise BookError(BookProblem.NO_DECISIONS)
    if len(items) > MAX_DECISIONS:
        raise BookError(BookProblem.TOO_LONG, str(MAX_DECISIONS))
    existing = await resolution_of(session, meeting.id or 0)
    if existing is not None:
        before = {"decisions": existing.decisions}
        existing.decisions = items
        session.add(existing)
        resolution = existing
    else:
        year = _local_day(meeting.starts_at, tz).year
        last = (
            await session.exec(
                select(func.max(Resolution.number)).where(
                    Resolution.branch_id == meeting.branch_id, Resolution.year == year
                )
            )
        ).first()
        resolution = Resolution(
            meeting_id=meeting.id or 0, branch_id=meeting.branch_id, year=year, number=(last or 0) + 1,
            decisions=items, author_member_id=actor.id,
        )  # fmt: skip
        session.add(resolution)
        before = {}
    await session.flush()
    audit.record(
        session, AuditAction.RESOLUTION_RECORDED, actor_id=actor.id, subject_type="meeting", subject_id=meeting.id,
        before=before or None,
        after={"label": resolution_label(resolution, meeting, tz), "decisions": items},
    )  # fmt: skip
    return resolution


def resolution_label(resolution: Resolution, meeting: Meeting, tz: tzinfo) -> str:
    """ "Nghị quyết số 05-NQ/CB, tháng 5/2026": the number in the branch's year, and the month of
    its meeting (the form of a branch's documents: number, "NQ" for a resolution, "CB" for chi bộ)."""
    day = _local_day(meeting.starts_at, tz)
    return f"{resolution.number:02d}-NQ/CB, tháng {day.month}/{day.year}"


@dataclass(frozen=True)
class VoteBase:
    """Who a show of hands at the meeting is counted against (DESIGN.md §4): the official members
    summoned, less the exempt who are absent, those absent with a reason the secretary accepted
    (members suspended or temporarily active elsewhere are not on the list: ``invitations``)."""

    base: int
    present: int  # official members present: nobody else raises a hand that counts


async def vote_base(session: AsyncSession, meeting: Meeting) -> VoteBase:
    base = present = 0
    for invitation, member in await invitations(session, meeting.id or 0):
        if member.status is not MemberStatus.OFFICIAL:
            continue  # probationary members speak but do not vote (Charter art. 5)
        if member.standing is not MemberStanding.ACTIVE:
            continue  # one active elsewhere who came counts for validity, but votes where active
        state = attendance_of(invitation)
        if state is Attendance.PRESENT:
            base += 1
            present += 1
        elif state is not Attendance.EXCUSED and not invitation.exempt:
            base += 1
    return VoteBase(base, present)


def parse_hands(text: str) -> tuple[int, int]:
    """ "9" or "9/2" or "9 2": in favour, and against (0 when not given)."""
    parts = [p for p in text.replace("/", " ").replace(",", " ").split() if p]
    if not 1 <= len(parts) <= 2 or not all(p.isdigit() and len(p) <= 5 for p in parts):
        raise BookError(BookProblem.BAD_COUNT, text.strip()[:40])
    return int(parts[0]), int(parts[1]) if len(parts) == 2 else 0


async def record_hand_vote(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    question: str,
    votes_for: int,
    votes_against: int = 0,
    now: datetime | None = None,
) -> HandVote:
    """A vote by show of hands at the meeting, counted by the secretary: the base is fixed now from
    the meeting's list; hands can be no more than the official members present."""
    await check_meeting(session, actor, meeting)
    _held(meeting, now or utcnow())
    question = _line(question)
    counted = await vote_base(session, meeting)
    if votes_for < 0 or votes_against < 0:
        raise BookError(BookProblem.BAD_COUNT, f"{votes_for}/{votes_against}")
    if votes_for + votes_against > counted.present:
        raise BookError(BookProblem.NOT_PRESENT, str(counted.present))
    vote = HandVote(
        meeting_id=meeting.id or 0, question=question, votes_for=votes_for, votes_against=votes_against,
        base=counted.base, author_member_id=actor.id,
    )  # fmt: skip
    session.add(vote)
    await session.flush()
    audit.record(
        session, AuditAction.HAND_VOTE_RECORDED, actor_id=actor.id, subject_type="meeting", subject_id=meeting.id,
        after={"question": question, "votes": f"{votes_for}/{counted.base}", "against": votes_against},
    )  # fmt: skip
    return vote


def adopted(vote: HandVote) -> bool:
    """MORE THAN HALF of the base in favour (DESIGN.md §4: the base is the membership, not the
    attendance; Charter art. 10 on the principle of majority)."""
    return vote.votes_for * 2 > vote.base


async def hand_votes(session: AsyncSession, meeting_id: int) -> list[HandVote]:
    return list(
        (await session.exec(select(HandVote).where(HandVote.meeting_id == meeting_id).order_by(col(HandVote.id)))).all()
    )


@dataclass(frozen=True)
class MinutesFacts:
    """What the minutes in the usual form say (DESIGN.md §4 "Minutes"), read from the records."""

    meeting: Meeting
    branch: Branch | None
    official: int
    probationary: int
    exempt: int
    present: list[str]
    excused: list[tuple[str, str]]  # name, reason
    absent: list[str]
    unrecorded: list[str]
    valid: bool
    needed: int
    resolution: Resolution | None
    votes: list[HandVote]


async def minutes_facts(session: AsyncSession, actor: Actor, meeting: Meeting) -> MinutesFacts:
    await check_meeting(session, actor, meeting)
    rows: list[tuple[MeetingInvitation, Member]] = await invitations(session, meeting.id or 0)
    present, excused, absent, unrecorded = [], [], [], []
    for invitation, member in rows:
        state = attendance_of(invitation)
        if state is Attendance.PRESENT:
            present.append(member.full_name)
        elif state is Attendance.EXCUSED:
            excused.append((member.full_name, invitation.reason or ""))
        elif state is Attendance.ABSENT:
            absent.append(member.full_name)
        else:
            unrecorded.append(member.full_name)
    must = sum(
        1 for invitation, _member in rows if not invitation.exempt or attendance_of(invitation) is Attendance.PRESENT
    )
    needed = -(-must * meeting.quorum_numerator // meeting.quorum_denominator)
    return MinutesFacts(
        meeting=meeting,
        branch=await session.get(Branch, meeting.branch_id) if meeting.branch_id is not None else None,
        official=sum(1 for _i, m in rows if m.status is MemberStatus.OFFICIAL),
        probationary=sum(1 for _i, m in rows if m.status is MemberStatus.PROBATIONARY),
        exempt=sum(1 for i, _m in rows if i.exempt),
        present=present,
        excused=excused,
        absent=absent,
        unrecorded=unrecorded,
        valid=must > 0 and len(present) >= needed,
        needed=needed,
        resolution=await resolution_of(session, meeting.id or 0),
        votes=await hand_votes(session, meeting.id or 0),
    )


def _quarter(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def _quarter_start(year: int, quarter: int) -> date:
    return date(year, 3 * quarter - 2, 1)


async def thematic_missing(session: AsyncSession, branch_id: int, today: date, tz: tzinfo) -> list[tuple[int, int]]:
    """The quarters (year, quarter) with no thematic meeting held or called in the branch: the
    last one, and the current one once in its last month (Hướng dẫn 12-HD/BTCTW: at least one a
    quarter), oldest first."""
    year, quarter = _quarter(today)
    previous = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    wanted = [previous] + ([(year, quarter)] if today.month % 3 == 0 else [])
    start = _quarter_start(*previous)
    rows = await session.exec(
        select(Meeting.starts_at)
        .where(Meeting.branch_id == branch_id, Meeting.kind == MeetingKind.THEMATIC)
        .where(Meeting.status == MeetingStatus.CALLED)
        .where(col(Meeting.starts_at) >= datetime.combine(start - timedelta(days=1), datetime.min.time(), tz))
    )
    held = {_quarter(_local_day(starts_at, tz)) for starts_at in rows.all()}
    return [q for q in wanted if q not in held]


# --- Transfers --------------------------------------------------------------------------------


def _day_not_after(day: date, today: date) -> date:
    if day > today:
        raise BookError(BookProblem.BAD_DAY, day.isoformat())
    return day


def _transfer_audit(session: AsyncSession, actor: Actor, action: AuditAction, transfer: MemberTransfer) -> None:
    audit.record(
        session, action, actor_id=actor.id, subject_type="member", subject_id=transfer.member_id,
        after={
            "organisation": transfer.organisation, "on": transfer.day.isoformat(),
            **({"until": transfer.until.isoformat()} if transfer.until else {}),
        },
    )  # fmt: skip


async def transfer_out(
    session: AsyncSession, actor: Actor, member: Member, organisation: str, on: date, today: date
) -> MemberTransfer:
    """Chuyển sinh hoạt đảng chính thức (Quy định 294-QĐ/TW, on transfers): the member leaves the
    roster for another party organisation on ``on``, their record and history kept."""
    day = _day_not_after(on, today)
    organisation = _line(organisation)
    await deactivate(session, actor, member, DeactivationReason.TRANSFERRED, day)
    transfer = MemberTransfer(
        member_id=member.id or 0, kind=TransferKind.OUT, organisation=organisation, day=day, author_member_id=actor.id
    )
    session.add(transfer)
    _transfer_audit(session, actor, AuditAction.MEMBER_TRANSFERRED_OUT, transfer)
    await session.flush()
    return transfer


async def transfer_temporary(
    session: AsyncSession, actor: Actor, member: Member, organisation: str, on: date, until: date
) -> MemberTransfer:
    """Chuyển sinh hoạt tạm thời: the member stays on the roster, temporarily active elsewhere, and
    so out of the base of the branch's votes and meetings, from ``on`` until ``until``."""
    organisation = _line(organisation)
    if until <= on:
        raise BookError(BookProblem.BAD_DAY, until.isoformat())
    await set_standing(session, actor, member, MemberStanding.ELSEWHERE)
    transfer = MemberTransfer(
        member_id=member.id or 0, kind=TransferKind.TEMPORARY, organisation=organisation, day=on, until=until,
        author_member_id=actor.id,
    )  # fmt: skip
    session.add(transfer)
    _transfer_audit(session, actor, AuditAction.MEMBER_TRANSFERRED_TEMPORARY, transfer)
    await session.flush()
    return transfer


async def open_transfer(session: AsyncSession, member_id: int, kind: TransferKind) -> MemberTransfer | None:
    return (
        await session.exec(
            select(MemberTransfer)
            .where(MemberTransfer.member_id == member_id, MemberTransfer.kind == kind)
            .where(col(MemberTransfer.ended_on).is_(None))
            .order_by(col(MemberTransfer.id).desc())
        )
    ).first()


async def end_temporary(session: AsyncSession, actor: Actor, member: Member, on: date) -> MemberTransfer:
    """The member is back from a temporary transfer: active in the branch again."""
    transfer = await open_transfer(session, member.id or 0, TransferKind.TEMPORARY)
    if transfer is None or member.standing is not MemberStanding.ELSEWHERE:
        raise BookError(BookProblem.NOT_ELSEWHERE, member.full_name)
    await set_standing(session, actor, member, MemberStanding.ACTIVE)
    transfer.ended_on = on
    session.add(transfer)
    audit.record(
        session, AuditAction.MEMBER_TRANSFER_ENDED, actor_id=actor.id, subject_type="member", subject_id=member.id,
        after={"organisation": transfer.organisation, "on": on.isoformat()},
    )  # fmt: skip
    return transfer


async def transfer_in(
    session: AsyncSession,
    actor: Actor,
    branch_id: int,
    values: Mapping[str, Any],
    organisation: str,
    on: date,
    today: date,
) -> Member:
    """A member arriving by transfer: added to the roster with their record (``values`` as
    ``add_member`` takes them: name, birth date, dates admitted and made official, card number),
    and where they came from and when."""
    day = _day_not_after(on, today)
    organisation = _line(organisation)
    member = await add_member(session, actor, branch_id, values)
    transfer = MemberTransfer(
        member_id=member.id or 0, kind=TransferKind.IN, organisation=organisation, day=day, author_member_id=actor.id
    )
    session.add(transfer)
    _transfer_audit(session, actor, AuditAction.MEMBER_TRANSFERRED_IN, transfer)
    await session.flush()
    return member


async def note_residence(
    session: AsyncSession, actor: Actor, member: Member, organisation: str, on: date
) -> MemberTransfer:
    """A member working away who keeps in touch with the party organisation where they live
    (Quy định 213-QĐ/TW, 2020, on members in work keeping in touch with where they reside): noted
    on their record; it changes nothing in the branch's votes or meetings."""
    check_record(actor, member, Permission.EDIT_MEMBER)
    organisation = _line(organisation)
    previous = await open_transfer(session, member.id or 0, TransferKind.RESIDENCE)
    if previous is not None:
        previous.ended_on = on
        session.add(previous)
    transfer = MemberTransfer(
        member_id=member.id or 0, kind=TransferKind.RESIDENCE, organisation=organisation, day=on,
        author_member_id=actor.id,
    )  # fmt: skip
    session.add(transfer)
    _transfer_audit(session, actor, AuditAction.MEMBER_RESIDENCE_CONTACT, transfer)
    await session.flush()
    return transfer


async def transfers_of(session: AsyncSession, member_id: int) -> list[MemberTransfer]:
    return list(
        (
            await session.exec(
                select(MemberTransfer)
                .where(MemberTransfer.member_id == member_id)
                .order_by(col(MemberTransfer.day), col(MemberTransfer.id))
            )
        ).all()
    )


async def overdue_temporary(session: AsyncSession, branch_id: int, today: date) -> list[tuple[MemberTransfer, Member]]:
    """Temporary transfers of the branch's members past the day they were to end, not ended: the
    member should be back (or their transfer made official)."""
    rows = await session.exec(
        select(MemberTransfer, Member)
        .join(Member, col(Member.id) == MemberTransfer.member_id)
        .where(Member.branch_id == branch_id, col(Member.active).is_(True))
        .where(MemberTransfer.kind == TransferKind.TEMPORARY, col(MemberTransfer.ended_on).is_(None))
        .where(col(MemberTransfer.until) < today)
        .order_by(col(MemberTransfer.until))
    )
    return list(rows.all())


async def branch_transfers(session: AsyncSession, actor: Actor, branch_id: int) -> list[tuple[MemberTransfer, Member]]:
    """The branch's transfers, newest first (the members who left stay in the branch they left)."""
    check(actor, Permission.VIEW_ROSTER, Target(branch_id))
    rows = await session.exec(
        select(MemberTransfer, Member)
        .join(Member, col(Member.id) == MemberTransfer.member_id)
        .where(Member.branch_id == branch_id)
        .order_by(col(MemberTransfer.day).desc(), col(MemberTransfer.id).desc())
    )
    return list(rows.all())


# --- Admission candidates ---------------------------------------------------------------------


class Step(StrEnum):
    """The steps from introduction to the ceremony, in order (Quy định 294-QĐ/TW and Hướng dẫn
    on admission: the course on the Party, the personal record, the branch's resolution, the
    commune committee's approval, the decision, the ceremony)."""

    CLASS = "class_on"
    DOSSIER = "dossier_on"
    BRANCH = "branch_on"
    COMMITTEE = "committee_on"
    DECISION = "decision_on"
    CEREMONY = "ceremony_on"


STEPS = tuple(Step)


def next_step(candidate: AdmissionCandidate) -> Step | None:
    for step in STEPS:
        if getattr(candidate, step.value) is None:
            return step
    return None


async def add_candidate(
    session: AsyncSession,
    actor: Actor,
    branch_id: int,
    full_name: str,
    introducer: str,
    introduced_on: date,
    birth_date: date | None = None,
    *,
    today: date,
) -> AdmissionCandidate:
    """A person the branch follows for admission (quần chúng ưu tú), introduced by ``introducer``
    (người giới thiệu: an official member, Charter art. 4)."""
    check(actor, Permission.EDIT_MEMBER, Target(branch_id))
    candidate = AdmissionCandidate(
        branch_id=branch_id, full_name=clean_name(full_name), introducer=clean_name(introducer),
        introduced_on=_day_not_after(introduced_on, today), birth_date=birth_date,
    )  # fmt: skip
    session.add(candidate)
    await session.flush()
    audit.record(
        session, AuditAction.CANDIDATE_ADDED, actor_id=actor.id, subject_type="branch", subject_id=branch_id,
        after={"name": candidate.full_name, "introducer": candidate.introducer, "on": introduced_on.isoformat()},
    )  # fmt: skip
    return candidate


async def record_step(
    session: AsyncSession, actor: Actor, candidate: AdmissionCandidate, step: Step, on: date, today: date
) -> Member | None:
    """The day a step was done: only the next one, never before the one it follows. The ceremony
    puts the candidate on the roster as a probationary member admitted that day (probation starts:
    Quy định 29); the new member is returned."""
    check(actor, Permission.EDIT_MEMBER, Target(candidate.branch_id))
    if candidate.dropped_on is not None:
        raise BookError(BookProblem.DROPPED, candidate.full_name)
    due = next_step(candidate)
    if due is None or STEPS.index(step) < STEPS.index(due):
        raise BookError(BookProblem.STEP_DONE, step.value)
    if step is not due:
        raise BookError(BookProblem.STEP_ORDER, due.value)
    day = _day_not_after(on, today)
    previous = [d for s in STEPS if (d := getattr(candidate, s.value)) is not None] or [candidate.introduced_on]
    if day < max(previous):
        raise BookError(BookProblem.BAD_DAY, max(previous).isoformat())
    member = None
    if step is Step.CEREMONY:  # first: when the roster refuses them, the candidate stays as they were
        values: dict[str, Any] = {"full_name": candidate.full_name, "date_admitted": day}
        if candidate.birth_date is not None:
            values["birth_date"] = candidate.birth_date
        member = await add_member(session, actor, candidate.branch_id, values)
        candidate.member_id = member.id
    setattr(candidate, step.value, day)
    session.add(candidate)
    audit.record(
        session, AuditAction.CANDIDATE_STEP, actor_id=actor.id, subject_type="branch", subject_id=candidate.branch_id,
        after={"name": candidate.full_name, "step": step.value, "on": day.isoformat()},
    )  # fmt: skip
    await session.flush()
    return member


async def drop_candidate(session: AsyncSession, actor: Actor, candidate: AdmissionCandidate, on: date) -> None:
    """The branch no longer follows the candidate (moved away, not ready): kept, with the day."""
    check(actor, Permission.EDIT_MEMBER, Target(candidate.branch_id))
    if candidate.dropped_on is not None or candidate.ceremony_on is not None:
        raise BookError(BookProblem.DROPPED, candidate.full_name)
    candidate.dropped_on = on
    session.add(candidate)
    audit.record(
        session, AuditAction.CANDIDATE_DROPPED, actor_id=actor.id, subject_type="branch",
        subject_id=candidate.branch_id, after={"name": candidate.full_name, "on": on.isoformat()},
    )  # fmt: skip
    await session.flush()


async def candidates(session: AsyncSession, actor: Actor, branch_id: int) -> list[AdmissionCandidate]:
    """The branch's candidates still followed (not admitted, not dropped), earliest introduced first."""
    check(actor, Permission.EDIT_MEMBER, Target(branch_id))
    rows = await session.exec(
        select(AdmissionCandidate)
        .where(AdmissionCandidate.branch_id == branch_id, col(AdmissionCandidate.dropped_on).is_(None))
        .where(col(AdmissionCandidate.ceremony_on).is_(None))
        .order_by(col(AdmissionCandidate.introduced_on), col(AdmissionCandidate.id))
    )
    return list(rows.all())


async def candidate_to_manage(session: AsyncSession, actor: Actor, candidate_id: int) -> AdmissionCandidate:
    candidate = await session.get(AdmissionCandidate, candidate_id)
    if candidate is None:
        raise NotFound(f"candidate {candidate_id}")
    check(actor, Permission.EDIT_MEMBER, Target(candidate.branch_id))
    return candidate


# --- The year-end review ----------------------------------------------------------------------


async def review_of(session: AsyncSession, member_id: int, year: int) -> YearReview | None:
    return (
        await session.exec(select(YearReview).where(YearReview.member_id == member_id, YearReview.year == year))
    ).first()


async def _review(session: AsyncSession, member: Member, year: int) -> YearReview:
    review = await review_of(session, member.id or 0, year)
    if review is None:
        review = YearReview(member_id=member.id or 0, year=year)
        session.add(review)
    return review


async def self_assess(
    session: AsyncSession, member: Member, year: int, text: str, level: ReviewLevel | None = None
) -> YearReview:
    """A member's own assessment of their year (bản tự kiểm điểm), with the level they propose."""
    check(member, Permission.VIEW_OWN_RECORD, target_of(member))
    review = await _review(session, member, year)
    review.self_assessment = _line(text, MAX_ASSESSMENT)
    if level is not None:
        review.self_level = level
    session.add(review)
    audit.record(
        session, AuditAction.REVIEW_SELF, actor_id=member.id, subject_type="member", subject_id=member.id,
        after={"year": year, **({"level": level.value} if level else {})},
    )  # fmt: skip
    await session.flush()
    return review


async def classify(
    session: AsyncSession, actor: Actor, member: Member, year: int, level: ReviewLevel, meeting: Meeting
) -> YearReview:
    """The branch's classification of a member for ``year`` in one of the four levels (Quy định
    366-QĐ/TW, 2025), with the meeting of the member's branch that decided it."""
    check_record(actor, member, Permission.EDIT_MEMBER)
    await check_meeting(session, actor, meeting)
    if (
        meeting.branch_id != member.branch_id
        or meeting.status is not MeetingStatus.CALLED
        or meeting.kind not in BRANCH_MEETING_KINDS  # the branch decides, not its committee
    ):
        raise BookError(BookProblem.WRONG_BRANCH, member.full_name)
    review = await _review(session, member, year)
    before = {"level": review.level.value if review.level else None}
    review.level, review.meeting_id, review.decided_by_member_id = level, meeting.id, actor.id
    session.add(review)
    audit.record(
        session, AuditAction.REVIEW_CLASSIFIED, actor_id=actor.id, subject_type="member", subject_id=member.id,
        before=before, after={"year": year, "level": level.value, "meeting": meeting.id},
    )  # fmt: skip
    await session.flush()
    return review


async def deciding_meeting(session: AsyncSession, branch_id: int, now: datetime) -> Meeting | None:
    """The branch's latest meeting that has begun, of the whole branch (its committee's decides no
    classification): the one a classification is recorded with."""
    return (
        await session.exec(
            select(Meeting)
            .where(Meeting.branch_id == branch_id, Meeting.status == MeetingStatus.CALLED)
            .where(col(Meeting.kind).in_(BRANCH_MEETING_KINDS))
            .where(col(Meeting.starts_at) <= now)
            .order_by(col(Meeting.starts_at).desc())
        )
    ).first()


@dataclass(frozen=True)
class ReviewBoard:
    rows: list[tuple[Member, YearReview | None]]

    def count(self, level: ReviewLevel) -> int:
        return sum(1 for _m, review in self.rows if review is not None and review.level is level)

    @property
    def excellent_over(self) -> bool:
        """More "excellent" than the share the rule allows (``EXCELLENT_SHARE_OF_GOOD``) of those rated
        "good" or better, once at least ``MIN_RATED_FOR_SHARE`` members are classified: the first
        member rated "excellent" is not yet a breach."""
        rated = sum(1 for _m, review in self.rows if review is not None and review.level is not None)
        if rated < MIN_RATED_FOR_SHARE:
            return False
        numerator, denominator = EXCELLENT_SHARE_OF_GOOD
        excellent = self.count(ReviewLevel.EXCELLENT)
        return excellent * denominator > (excellent + self.count(ReviewLevel.GOOD)) * numerator


async def review_board(session: AsyncSession, actor: Actor, branch_id: int, year: int) -> ReviewBoard:
    check(actor, Permission.EDIT_MEMBER, Target(branch_id))
    # The registers' order (given name first, dictionary order), as the roster lists them.
    members = sorted(
        (await session.exec(select(Member).where(Member.branch_id == branch_id, col(Member.active).is_(True)))).all(),
        key=lambda m: name_key(m.full_name),
    )
    reviews = {
        r.member_id: r
        for r in (
            await session.exec(
                select(YearReview).where(
                    YearReview.year == year, col(YearReview.member_id).in_([m.id for m in members])
                )
            )
        ).all()
    }
    return ReviewBoard([(m, reviews.get(m.id or 0)) for m in members])


# --- Reminders to the secretary ---------------------------------------------------------------


class BookMessages(Protocol):
    """What the secretary is told, in their language: made by the handlers, stored in the outbox."""

    def probation_ending(self, secretary: Member, member: Member, ends: date, days: int) -> dict[str, Any]: ...

    def thematic_missing(self, secretary: Member, year: int, quarter: int) -> dict[str, Any]: ...


async def _branch_secretaries(session: AsyncSession, branch_id: int) -> list[Member]:
    return list(
        (
            await session.exec(
                select(Member)
                .where(Member.branch_id == branch_id, col(Member.active).is_(True), Member.role == Role.SECRETARY)
                .order_by(col(Member.id))
            )
        ).all()
    )


async def _tell(session: AsyncSession, people: list[Member], body_for: Any) -> int:
    identities = await push_identities(session, [m.id or 0 for m in people])
    return sum(
        Outbox(session).add(identities.get(person.id or 0, []), body_for(person), member_id=person.id)
        for person in people
    )


async def send_reminders(session: AsyncSession, messages: BookMessages, today: date, tz: tzinfo) -> int:
    """The reminders due today, each once ever: probation ending in 30 and in 7 days (only the
    nearest when both fell due while chibo was down), a quarter without a thematic meeting. The
    key is inserted first, in the transaction that queues the message, so a restart or a second
    replica sends nothing twice. How many reminders went (not messages)."""
    sent = 0
    probationary = (
        await session.exec(
            select(Member)
            .where(col(Member.active).is_(True), Member.status == MemberStatus.PROBATIONARY)
            .where(col(Member.date_admitted).is_not(None))
            .order_by(col(Member.date_admitted), col(Member.id))
        )
    ).all()
    for member in probationary:
        assert member.date_admitted is not None
        ends = probation_end(member.date_admitted)
        if ends < today:
            continue  # past: the secretary's "due to be made official" list shows it
        opened = [days for days in PROBATION_REMINDER_DAYS if today >= ends - timedelta(days=days)]
        if not opened:
            continue
        # Nearest first: when both fell due while chibo was down, only the nearest is sent, and the
        # farther one is marked so it never comes after it.
        keys = [f"probation:{member.id}:{ends.isoformat()}:{days}" for days in sorted(opened)]
        fresh = [await insert_ignoring_conflict(session, BookReminder, key=key, sent_at=utcnow()) for key in keys]
        if fresh[0]:
            people = await _branch_secretaries(session, member.branch_id)
            left = (ends - today).days
            await _tell(session, people, lambda s, m=member, e=ends, d=left: messages.probation_ending(s, m, e, d))
            sent += 1
    for branch in (await session.exec(select(Branch).order_by(col(Branch.id)))).all():
        for q_year, q in await thematic_missing(session, branch.id or 0, today, tz):
            if not await insert_ignoring_conflict(
                session, BookReminder, key=f"thematic:{branch.id}:{q_year}Q{q}", sent_at=utcnow()
            ):
                continue
            people = await _branch_secretaries(session, branch.id or 0)
            await _tell(session, people, lambda s, y=q_year, qq=q: messages.thematic_missing(s, y, qq))
            sent += 1
    await session.flush()
    return sent
