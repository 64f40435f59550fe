"""A year of the demo commune's books, so a newcomer sees them filled in: twelve monthly meetings of
Chi bộ thôn Đông with their attendance, resolutions and votes by show of hands, a thematic meeting
each quarter, a transfer out of Chi bộ thôn Tây, a probationary member made official there at its
meeting, and one
admission candidate followed at the school's branch. Written through the domain's own functions
(audited, numbered as the secretary's would be), in a few hundred inserts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import books
from models.audience import Audience
from models.membership import probation_end, promote
from models.tables import (
    Attendance,
    AuditEvent,
    Branch,
    DuesPayment,
    Meeting,
    MeetingInvitation,
    MeetingKind,
    MeetingStatus,
    Member,
    MemberStanding,
    Role,
    utcnow,
)

# The standard agenda of a regular meeting, as the demo's secretary writes it (Hướng dẫn 12-HD/BTCTW).
DEMO_AGENDA = [
    "Tình hình chung trong tháng",
    "Kết quả thực hiện nhiệm vụ tháng",
    "Nhiệm vụ, giải pháp tháng tới",
    "Công tác đảng viên",
]


async def held_meeting(
    session: AsyncSession,
    branch_id: int,
    starts_at: datetime,
    *,
    title: str,
    kind: MeetingKind = MeetingKind.REGULAR,
    agenda: list[str] | None = None,
    away: Mapping[str, str] | None = None,
    absent: tuple[str, ...] = (),
) -> Meeting:
    """A meeting of the branch that took place at ``starts_at``: its members active in the branch
    invited, present but for ``away`` (name: accepted reason) and ``absent`` (no reason); its list
    confirmed. Exempt members are recorded excused (miễn sinh hoạt)."""
    secretary = (
        await session.exec(select(Member).where(Member.branch_id == branch_id, Member.role == Role.SECRETARY))
    ).first()
    meeting = Meeting(
        branch_id=branch_id, author_member_id=secretary.id if secretary else None, kind=kind, title=title,
        starts_at=starts_at, place="Nhà văn hóa thôn", agenda=list(agenda or []),
        audience=Audience(branches=(branch_id,)).to_json(), status=MeetingStatus.CALLED,
        called_at=starts_at - timedelta(days=10), attendance_closed_at=starts_at + timedelta(hours=1),
        attendance_confirmed_at=starts_at + timedelta(hours=2),
        attendance_confirmed_by_member_id=secretary.id if secretary else None,
    )  # fmt: skip
    session.add(meeting)
    await session.flush()
    members = (
        await session.exec(
            select(Member)
            .where(Member.branch_id == branch_id, col(Member.active).is_(True))
            .where(Member.standing == MemberStanding.ACTIVE)
        )
    ).all()
    away = away or {}
    for member in members:
        if member.full_name in away:
            state, reason = Attendance.EXCUSED, away[member.full_name]
        elif member.exempt:
            state, reason = Attendance.EXCUSED, "Miễn sinh hoạt"
        elif member.full_name in absent:
            state, reason = Attendance.ABSENT, None
        else:
            state, reason = Attendance.PRESENT, None
        session.add(
            MeetingInvitation(
                meeting_id=meeting.id or 0,
                member_id=member.id or 0,
                exempt=member.exempt,
                invited_at=starts_at - timedelta(days=10),
                attendance=state,
                reason=reason,
                marked_by_member_id=secretary.id if secretary else None,
            )
        )
    await session.flush()
    return meeting


def _month_back(today: date, months: int, day: int) -> date:
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return date(year, month + 1, day)


async def _named(session: AsyncSession, name: str) -> Member:
    return (await session.exec(select(Member).where(Member.full_name == name))).one()


async def seed_demo_books(session: AsyncSession, tz: tzinfo, today: date | None = None) -> None:
    """A year of books for the demo commune (seeded once, with the commune)."""
    today = today or datetime.now(tz).date()
    # The entries are seeded by the server, not by the secretaries (who join the demo later): their
    # audit lines are written without an actor (see the end).
    seeded_after = (await session.exec(select(func.max(AuditEvent.id)))).one() or 0
    branches = {b.code: b for b in (await session.exec(select(Branch))).all()}
    east, school = branches["DONG"], branches["TRUONG"]
    hung = await _named(session, "Nguyễn Văn Hùng")
    quang = await _named(session, "Lý Văn Quang")
    thanh = await _named(session, "Võ Thị Thanh")
    for back in range(12, 0, -1):  # the last twelve months, the current one not yet
        day = _month_back(today, back, 5)
        starts = datetime.combine(day, time(19, 30), tz)
        away = {"Trần Thị Lan": "Đi công tác"} if back % 4 == 0 else {}
        absent = ("Dương Văn Long",) if back in (3, 7) else ()
        meeting = await held_meeting(
            session, east.id or 0, starts, title=f"Sinh hoạt chi bộ tháng {day.month}/{day.year}",
            agenda=DEMO_AGENDA, away=away, absent=absent,
        )  # fmt: skip
        await books.record_resolution(
            session, hung, meeting,
            [
                f"Hoàn thành kế hoạch sản xuất vụ tháng {day.month}",
                "Vận động nhân dân giữ gìn vệ sinh môi trường",
                "Các đồng chí đảng viên gương mẫu thực hiện nghị quyết",
            ],
            tz, now=utcnow(),
        )  # fmt: skip
        votes = await books.vote_base(session, meeting)
        await books.record_hand_vote(
            session, hung, meeting, f"Thông qua nghị quyết tháng {day.month}/{day.year}", votes.present, 0
        )
        if day.month % 3 == 2:  # a thematic meeting in the middle month of each quarter
            await held_meeting(
                session, east.id or 0, starts + timedelta(days=10), kind=MeetingKind.THEMATIC,
                title=f"Sinh hoạt chuyên đề quý {(day.month - 1) // 3 + 1}/{day.year}",
                agenda=["Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh"],
            )  # fmt: skip
    # Chi bộ thôn Tây: a member transferred out, one made official at the branch's meeting.
    loan, left_on = await _named(session, "Phan Thị Loan"), _month_back(today, 4, 15)
    await books.transfer_out(
        session, quang, loan, "Đảng bộ phường Hòa Bình, thành phố Thái Nguyên", left_on, today=today
    )  # fmt: skip
    # She owes the branch nothing from the month she left (``dues.months_owed``), and the branch
    # records no payment of a member off its roster: the demo's year of dues stops before it.
    await session.exec(
        delete(DuesPayment).where(
            col(DuesPayment.member_id) == loan.id, col(DuesPayment.month) >= left_on.replace(day=1)
        )
    )
    dung = await _named(session, "Cao Văn Dũng")
    if dung.date_admitted is not None:
        decided = max(_month_back(today, 5, 5), min(today, probation_end(dung.date_admitted)))
        if decided <= today and probation_end(dung.date_admitted) <= decided:
            # The branch votes at its meeting (Quy định 29): one held that day, its evening not yet come
            # when that day is today.
            starts = min(datetime.combine(decided, time(19, 30), tz), utcnow() - timedelta(minutes=5))
            west = branches["TAY"]
            meeting = await held_meeting(
                session, west.id or 0, starts, kind=MeetingKind.OTHER,
                title="Họp chi bộ xét công nhận đảng viên chính thức",
                agenda=[f"Xét công nhận đảng viên chính thức đối với đồng chí {dung.full_name}"],
            )  # fmt: skip
            await promote(session, quang, dung, decided, vote=(7, 8), today=today, meeting=meeting)
    # The school's branch follows one candidate.
    candidate = await books.add_candidate(
        session, thanh, school.id or 0, "Lương Văn Hải", "Võ Thị Thanh", _month_back(today, 6, 10), today=today
    )
    for step, back in ((books.Step.CLASS, 4), (books.Step.DOSSIER, 2)):
        await books.record_step(session, thanh, candidate, step, _month_back(today, back, 20), today=today)
    await session.flush()
    await session.exec(update(AuditEvent).where(col(AuditEvent.id) > seeded_after).values(actor_member_id=None))
