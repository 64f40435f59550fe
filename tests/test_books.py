"""The branch's books (issue 18), rule by rule with its source: the month's resolution and votes by
show of hands at the meeting, transfers, admission candidates, the year-end review, the reminders to
the secretary; and who may see and do what."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.demo import DEMO_TIMEZONE
from bot.demo_books import DEMO_AGENDA, held_meeting, seed_demo_books
from bot.runtime import Runtime
from models import books, books_reports
from models.audit import AuditAction
from models.books import BookError, BookProblem, Step
from models.books_reports import Period
from models.membership import NotPermitted, probation_end
from models.tables import (
    AuditEvent,
    Branch,
    ChannelIdentity,
    HandVote,
    Meeting,
    MeetingKind,
    Member,
    MemberStanding,
    MemberStatus,
    MemberTransfer,
    OutboxMessage,
    Platform,
    PromotionVote,
    Resolution,
    ReviewLevel,
    TransferKind,
    YearReview,
    utcnow,
)
from tests.conftest import Demo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
EAST_SECRETARY, WEST_SECRETARY, SCHOOL_SECRETARY = "Nguyễn Văn Hùng", "Lý Văn Quang", "Võ Thị Thanh"


async def named(session: AsyncSession, name: str) -> Member:
    return (await session.exec(select(Member).where(Member.full_name == name))).one()


async def branch(session: AsyncSession, code: str) -> Branch:
    return (await session.exec(select(Branch).where(Branch.code == code))).one()


async def link(runtime: Runtime, *names: str) -> None:
    """These demo members join chibo on Telegram (chat id: 9000 + their id)."""
    async with runtime.sessions() as session, session.begin():
        for name in names:
            member = await named(session, name)
            chat = str(9000 + (member.id or 0))
            session.add(
                ChannelIdentity(
                    platform=Platform.TELEGRAM, platform_user_id=chat, chat_id=chat, member_id=member.id or 0
                )
            )


def last_month(day: int = 5) -> datetime:
    today = datetime.now(TZ).date()
    first = today.replace(day=1) - timedelta(days=1)
    return datetime.combine(first.replace(day=day), time(19, 30), TZ)


async def test_the_months_resolution_is_numbered_in_the_branchs_year_and_corrected_in_place(
    runtime: Runtime, demo: Demo
) -> None:
    """Hướng dẫn 12-HD/BTCTW: the regular meeting ends with the month's resolution; the branch's
    documents are numbered in its year ("05-NQ/CB"). A correction keeps the number."""
    async with runtime.sessions() as session, session.begin():
        east = await branch(session, "DONG")
        hung = await named(session, EAST_SECRETARY)
        first = await held_meeting(session, east.id or 0, last_month(3), title="Tháng trước", agenda=DEMO_AGENDA)
        second = await held_meeting(session, east.id or 0, last_month(12), title="Họp bổ sung")
        one = await books.record_resolution(session, hung, first, ["Làm đường thôn", " "], TZ)
        two = await books.record_resolution(session, hung, second, ["Trồng cây"], TZ)
        again = await books.record_resolution(session, hung, first, ["Làm đường thôn", "Sửa nhà văn hóa"], TZ)
        assert (one.number, two.number, again.number) == (1, 2, 1)
        assert again.decisions == ["Làm đường thôn", "Sửa nhà văn hóa"]
        day = first.starts_at.astimezone(TZ)
        assert books.resolution_label(one, first, TZ) == f"01-NQ/CB, tháng {day.month}/{day.year}"
        assert len((await session.exec(select(Resolution))).all()) == 2
        thematic = await held_meeting(
            session, east.id or 0, last_month(20), title="Chuyên đề", kind=MeetingKind.THEMATIC
        )
        with pytest.raises(BookError) as refused:
            await books.record_resolution(session, hung, thematic, ["x"], TZ)
        assert refused.value.problem is BookProblem.NOT_REGULAR
        ahead = await held_meeting(session, east.id or 0, datetime.now(UTC) + timedelta(days=3), title="Sắp tới")
        with pytest.raises(BookError) as early:
            await books.record_resolution(session, hung, ahead, ["x"], TZ)
        assert early.value.problem is BookProblem.NOT_HELD
        with pytest.raises(BookError):
            await books.record_resolution(session, hung, first, ["  "], TZ)
        # Another branch's secretary may not write it.
        with pytest.raises(NotPermitted):
            await books.record_resolution(session, await named(session, WEST_SECRETARY), first, ["x"], TZ)


async def test_a_show_of_hands_counts_against_the_base_not_the_attendance(runtime: Runtime, demo: Demo) -> None:
    """DESIGN.md §4: adopted only with MORE THAN HALF of the base; the base is the official members
    summoned, less the exempt absent and those absent with an accepted reason; probationary members
    do not vote (Charter art. 5). Chi bộ thôn Đông: 11 members, 1 probationary, 2 exempt."""
    async with runtime.sessions() as session, session.begin():
        east = await branch(session, "DONG")
        hung = await named(session, EAST_SECRETARY)
        meeting = await held_meeting(
            session, east.id or 0, last_month(), title="Tháng trước",
            away={"Trần Thị Lan": "Ốm"}, absent=("Dương Văn Long", "Bùi Thị Hương"),
        )  # fmt: skip
        base = await books.vote_base(session, meeting)
        # 10 official; exempt Lê Văn Minh and Đỗ Văn Thành absent leave; Lan excused leaves: 7.
        # Present officials: 7 - Long - Hương = 5.
        assert (base.base, base.present) == (7, 5)
        # One present who is (since) temporarily active elsewhere votes where active, not here.
        thu = await named(session, "Ngô Thị Thu")
        thu.standing = MemberStanding.ELSEWHERE
        session.add(thu)
        assert await books.vote_base(session, meeting) == books.VoteBase(6, 4)
        thu.standing = MemberStanding.ACTIVE
        session.add(thu)
        passed = await books.record_hand_vote(session, hung, meeting, "Thông qua nghị quyết", 4, 1)
        short = await books.record_hand_vote(session, hung, meeting, "Sửa quy chế", 3, 2)
        assert (passed.base, books.adopted(passed)) == (7, True)  # 4 of 7: more than half
        assert books.adopted(short) is False  # 3 of 7, though 3 of the 5 present
        with pytest.raises(BookError) as refused:
            await books.record_hand_vote(session, hung, meeting, "Quá số người", 5, 1)
        assert refused.value.problem is BookProblem.NOT_PRESENT
        assert books.parse_hands("9/2") == (9, 2) and books.parse_hands(" 6 ") == (6, 0)
        with pytest.raises(BookError):
            books.parse_hands("chín")
        facts = await books.minutes_facts(session, hung, meeting)
        assert len(facts.present) == 6 and ("Trần Thị Lan", "Ốm") in facts.excused  # Tuấn (probationary) came
        assert sorted(facts.absent) == sorted(["Dương Văn Long", "Bùi Thị Hương"])
        assert [v.question for v in facts.votes] == ["Thông qua nghị quyết", "Sửa quy chế"]
        events = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == AuditAction.HAND_VOTE_RECORDED))
        ).all()
        assert [e.after["votes"] for e in events if e.after] == ["4/7", "3/7"]


async def test_a_quarter_without_a_thematic_meeting_is_flagged(runtime: Runtime, demo: Demo) -> None:
    """Hướng dẫn 12-HD/BTCTW: a thematic meeting at least once a quarter, besides the monthly one."""
    async with runtime.sessions() as session, session.begin():
        east = await branch(session, "DONG")
        today = date(2026, 12, 10)  # last month of Q4: Q3 and Q4 are looked at
        assert await books.thematic_missing(session, east.id or 0, today, TZ) == [(2026, 3), (2026, 4)]
        at = datetime.combine(date(2026, 8, 15), time(19, 30), TZ)
        await held_meeting(session, east.id or 0, at, title="Chuyên đề quý 3", kind=MeetingKind.THEMATIC)
        assert await books.thematic_missing(session, east.id or 0, today, TZ) == [(2026, 4)]
        assert await books.thematic_missing(session, east.id or 0, date(2026, 11, 10), TZ) == []


async def test_transfers_official_temporary_arriving_and_residence(runtime: Runtime, demo: Demo) -> None:
    """Quy định 294-QĐ/TW on transfers: an official transfer takes the member off the roster with
    the destination and the day, their record kept; a temporary one keeps them on it, active
    elsewhere and out of the base of votes; Quy định 213-QĐ/TW: a member working away keeps in
    touch with the organisation where they live."""
    today = datetime.now(DEMO_TIMEZONE).date()
    async with runtime.sessions() as session, session.begin():
        quang = await named(session, WEST_SECRETARY)
        loan, son = await named(session, "Phan Thị Loan"), await named(session, "Mai Văn Sơn")
        await books.transfer_out(session, quang, loan, "Đảng bộ phường Hòa Bình", today - timedelta(days=3), today)
        assert (loan.active, loan.deactivation_reason, loan.deactivated_on) == (
            False, "transferred", today - timedelta(days=3),
        )  # fmt: skip
        with pytest.raises(BookError):
            await books.transfer_out(session, quang, son, "X", today + timedelta(days=1), today)
        away = await books.transfer_temporary(
            session, quang, son, "Chi bộ Công ty X", today, today + timedelta(days=90)
        )
        standings = [son.standing]
        assert await books.overdue_temporary(session, son.branch_id, today + timedelta(days=91)) == [(away, son)]
        assert await books.overdue_temporary(session, son.branch_id, today + timedelta(days=90)) == []
        await books.end_temporary(session, quang, son, today)
        standings.append(son.standing)
        assert son.active and away.until == today + timedelta(days=90)
        assert standings == [MemberStanding.ELSEWHERE, MemberStanding.ACTIVE]
        with pytest.raises(BookError) as twice:
            await books.end_temporary(session, quang, son, today)
        assert twice.value.problem is BookProblem.NOT_ELSEWHERE
        west = await branch(session, "TAY")
        newcomer = await books.transfer_in(
            session, quang, west.id or 0,
            {"full_name": "Hà Văn Tới", "date_admitted": date(2010, 3, 2), "date_official": date(2011, 3, 2)},
            "Đảng bộ xã Tân Lập", today, today,
        )  # fmt: skip
        assert newcomer.status is MemberStatus.OFFICIAL and newcomer.branch_id == west.id
        await books.note_residence(session, quang, son, "Chi bộ tổ dân phố 5", today)
        kinds = [t.kind for t in await books.transfers_of(session, son.id or 0)]
        assert kinds == [TransferKind.TEMPORARY, TransferKind.RESIDENCE]
        listed = await books.branch_transfers(session, quang, west.id or 0)
        assert {t.kind for t, _m in listed} == set(TransferKind) - set()  # out, temporary, in, residence
        # The secretary of another branch can do none of it, nor see them.
        hung_school = await named(session, SCHOOL_SECRETARY)
        with pytest.raises(NotPermitted):
            await books.transfer_temporary(session, hung_school, son, "X", today, today + timedelta(days=9))
        with pytest.raises(NotPermitted):
            await books.branch_transfers(session, hung_school, west.id or 0)
        actions = {
            e.action
            for e in (
                await session.exec(select(AuditEvent).where(col(AuditEvent.action).like("member.transfer%")))
            ).all()
        }
        assert actions == {"member.transferred_out", "member.transferred_temporary", "member.transfer_ended",
                           "member.transferred_in"}  # fmt: skip


async def test_a_candidate_goes_through_the_steps_in_order_to_the_ceremony(runtime: Runtime, demo: Demo) -> None:
    """Admission (Charter art. 4; Quy định 294-QĐ/TW): the course on the Party, the personal record,
    the branch's resolution, the commune committee's approval, the decision, the ceremony, in that
    order; the ceremony puts them on the roster as probationary from that day (Quy định 29)."""
    today = datetime.now(DEMO_TIMEZONE).date()
    async with runtime.sessions() as session, session.begin():
        school = await branch(session, "TRUONG")
        thanh = await named(session, SCHOOL_SECRETARY)
        candidate = await books.add_candidate(session, thanh, school.id or 0, "Lương Văn Hải", "Võ Thị Thanh",
                                              today - timedelta(days=200), today=today)  # fmt: skip
        with pytest.raises(BookError) as skipped:
            await books.record_step(session, thanh, candidate, Step.BRANCH, today, today)
        assert (skipped.value.problem, skipped.value.detail) == (BookProblem.STEP_ORDER, Step.CLASS.value)
        with pytest.raises(BookError) as before:
            await books.record_step(session, thanh, candidate, Step.CLASS, today - timedelta(days=300), today)
        assert before.value.problem is BookProblem.BAD_DAY
        member = None
        for offset, step in zip((150, 120, 90, 60, 30, 1), books.STEPS, strict=True):
            member = await books.record_step(session, thanh, candidate, step, today - timedelta(days=offset), today)
        assert member is not None and member.status is MemberStatus.PROBATIONARY
        assert member.date_admitted == today - timedelta(days=1) and candidate.member_id == member.id
        assert await books.candidates(session, thanh, school.id or 0) == []
        with pytest.raises(NotPermitted):
            await books.candidates(session, await named(session, "Ngô Văn Phúc"), school.id or 0)


async def test_the_year_review_in_four_levels_with_the_meeting_that_decided(runtime: Runtime, demo: Demo) -> None:
    """Quy định 366-QĐ/TW (2025; before it 124-QĐ/TW): each member assesses themselves, the branch
    classifies them in one of four levels at its meeting; "excellent" may be at most 20% of "good"
    (Hướng dẫn 21-HD/BTCTW)."""
    async with runtime.sessions() as session, session.begin():
        east = await branch(session, "DONG")
        hung, nam = await named(session, EAST_SECRETARY), await named(session, "Hoàng Văn Nam")
        meeting = await held_meeting(session, east.id or 0, last_month(), title="Kiểm điểm cuối năm")
        await books.self_assess(session, nam, 2026, "Hoàn thành các nhiệm vụ được giao", ReviewLevel.GOOD)
        review = await books.classify(session, hung, nam, 2026, ReviewLevel.EXCELLENT, meeting)
        assert (review.self_level, review.level, review.meeting_id) == (ReviewLevel.GOOD, ReviewLevel.EXCELLENT,
                                                                         meeting.id)  # fmt: skip
        board = await books.review_board(session, hung, east.id or 0, 2026)
        # The first member rated excellent is no breach yet: fewer than 5 classified.
        assert board.count(ReviewLevel.EXCELLENT) == 1 and not board.excellent_over
        for name in ("Vũ Thị Mai", "Bùi Thị Hương", "Ngô Thị Thu", "Dương Văn Long", "Phạm Thị Hoa"):
            await books.classify(session, hung, await named(session, name), 2026, ReviewLevel.GOOD, meeting)
        assert not (await books.review_board(session, hung, east.id or 0, 2026)).excellent_over  # 1 ≤ 6/5
        for name in ("Trần Thị Lan", "Lê Văn Minh"):
            await books.classify(session, hung, await named(session, name), 2026, ReviewLevel.EXCELLENT, meeting)
        assert (await books.review_board(session, hung, east.id or 0, 2026)).excellent_over  # 3 > 8/5
        # A member assesses only themselves; the secretary of another branch classifies nobody here.
        with pytest.raises(NotPermitted):
            await books.classify(session, await named(session, WEST_SECRETARY), nam, 2026, ReviewLevel.DONE, meeting)
        west_meeting = await held_meeting(session, (await branch(session, "TAY")).id or 0, last_month(), title="T")
        with pytest.raises(BookError):
            await books.classify(session, hung, nam, 2026, ReviewLevel.DONE, west_meeting)  # not Nam's branch
        # The branch decides, not its committee: a later committee meeting is neither offered nor taken.
        committee = await held_meeting(
            session, east.id or 0, last_month(20), kind=MeetingKind.COMMITTEE, title="Họp chi ủy"
        )
        with pytest.raises(BookError):
            await books.classify(session, hung, nam, 2026, ReviewLevel.DONE, committee)
        assert await books.deciding_meeting(session, east.id or 0, utcnow()) == meeting
        assert len((await session.exec(select(YearReview))).all()) == 8


class Words:
    def probation_ending(self, secretary: Member, member: Member, ends: date, days: int) -> dict[str, object]:
        return {"text": f"probation {member.full_name} {ends} {days}"}

    def thematic_missing(self, secretary: Member, year: int, quarter: int) -> dict[str, object]:
        return {"text": f"thematic {year} Q{quarter}"}


async def test_reminders_before_the_end_of_probation_go_once_each_across_restarts(runtime: Runtime, demo: Demo) -> None:
    """Quy định 29: the branch votes within 30 working days of the end of probation: the secretary
    is reminded 30 and 7 days before, once each, however often the job runs (a restart, a second
    replica); when both fell due while chibo was down, only the nearest goes."""
    await link(runtime, EAST_SECRETARY, WEST_SECRETARY, SCHOOL_SECRETARY)
    today = date(2026, 6, 1)
    async with runtime.sessions() as session, session.begin():
        for name, admitted in (("Đặng Văn Tuấn", date(2025, 7, 1)), ("Trịnh Thị Yến", date(2025, 6, 5))):
            member = await named(session, name)
            member.date_admitted = admitted
            session.add(member)
        for name in ("Phạm Quốc Việt", "Cao Văn Dũng"):
            member = await named(session, name)
            member.date_admitted = date(2020, 1, 1)  # ended long ago: the "due" list's, not a reminder
            session.add(member)
    texts: list[str] = []
    for day, runs in ((today, 2), (date(2026, 6, 24), 2), (date(2026, 7, 2), 1)):
        for _run in range(runs):
            async with runtime.sessions() as session, session.begin():
                await books.send_reminders(session, Words(), day, TZ)
        async with runtime.sessions() as session:
            rows = (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
            texts = [str(m.body["text"]) for m in rows if str(m.body.get("text", "")).startswith("probation")]
    # Tuấn ends 2026-07-01: 30 days before on 06-01, 7 days before on 06-24. Yến ends 2026-06-05:
    # already inside 7 days on 06-01, so only the 7-day one.
    assert texts == [
        "probation Trịnh Thị Yến 2026-06-05 4",
        "probation Đặng Văn Tuấn 2026-07-01 30",
        "probation Đặng Văn Tuấn 2026-07-01 7",
    ]


async def test_the_demo_commune_gets_a_year_of_books(runtime: Runtime, demo: Demo) -> None:
    async with runtime.sessions() as session, session.begin():
        await seed_demo_books(session, TZ, today=date(2026, 11, 30))
    async with runtime.sessions() as session:
        east = await branch(session, "DONG")
        regular = (
            await session.exec(select(Meeting).where(Meeting.branch_id == east.id, Meeting.kind == MeetingKind.REGULAR))
        ).all()
        assert len(regular) == 12
        numbers = sorted((r.year, r.number) for r in (await session.exec(select(Resolution))).all())
        assert numbers == [(2025, 1), (2025, 2), *((2026, n) for n in range(1, 11))]  # Nov 2025 to Oct 2026
        assert len((await session.exec(select(HandVote))).all()) == 12
        assert await books.thematic_missing(session, east.id or 0, date(2026, 11, 30), TZ) == []
        loan = await named(session, "Phan Thị Loan")
        assert not loan.active
        dung = await named(session, "Cao Văn Dũng")
        assert dung.status is MemberStatus.OFFICIAL
        [vote] = (await session.exec(select(PromotionVote))).all()
        meeting = await session.get(Meeting, vote.meeting_id)
        assert meeting is not None and meeting.branch_id == dung.branch_id  # voted at Tây's meeting
        assert (vote.member_id, vote.votes_for, vote.officials) == (dung.id, 7, 8)
        transfers = (await session.exec(select(MemberTransfer))).all()
        assert [t.kind for t in transfers] == [TransferKind.OUT]
        assert probation_end(date(2025, 5, 6)) == date(2026, 5, 6)
        # Tây's reports of July and September 2026, by hand (bot/demo.py: ten members, Yến admitted in
        # April 2026 and Dũng on 23/09/2025 probationary; Loan transferred out on 15/07, Dũng made
        # official at the meeting of 23/09/2026, the end of his probation).
        hung, west = await named(session, EAST_SECRETARY), await branch(session, "TAY")
        july, september = [
            await books_reports.branch_report(
                session, hung, west, Period.month(date(2026, m, 1)), TZ, date(2026, 11, 30)
            )
            for m in (7, 9)
        ]
    assert (july.members_start, july.members_end, july.official, july.probationary) == (10, 9, 7, 2)
    # An official transfer out is "chuyển sinh hoạt đi", not another way of leaving.
    assert july.moved_out == ["Phan Thị Loan"] and july.left == {} and july.made_official == []
    assert (september.members_start, september.members_end, september.official, september.probationary) == (
        9, 9, 8, 1,
    )  # fmt: skip
    assert september.made_official == ["Cao Văn Dũng"]
    assert september.promoted_at == {"Cao Văn Dũng": date(2026, 9, 23)}
    assert september.left == {} and september.probation_overdue == []


async def test_the_hourly_pass_tells_the_secretary_once_of_a_quarter_without_a_thematic_meeting(
    runtime: Runtime, demo: Demo
) -> None:
    """Hướng dẫn 12-HD/BTCTW: a thematic meeting each quarter. The pass runs hourly and at every
    start: the branch secretary (only) hears of a quarter without one once, in their language."""
    from handlers.books.messages import book_messages
    from scheduler.books import send_book_reminders
    from tests.chat import vi

    await link(runtime, EAST_SECRETARY, "Hoàng Văn Nam", WEST_SECRETARY)
    woken: list[int] = []
    at = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # last month of Q4: Q3 and Q4 are looked at
    async with runtime.sessions() as session, session.begin():
        east = await branch(session, "DONG")
        await held_meeting(session, east.id or 0, datetime(2026, 8, 15, 12, tzinfo=UTC), title="Chuyên đề",
                           kind=MeetingKind.THEMATIC)  # fmt: skip
    for _restart in range(3):
        await send_book_reminders(runtime.sessions, book_messages(runtime.catalogs), TZ, lambda: woken.append(1), at)
    async with runtime.sessions() as session:
        rows = (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
        hung, nam = await named(session, EAST_SECRETARY), await named(session, "Hoàng Văn Nam")
    told = [(m.member_id, str(m.body["text"])) for m in rows]
    words = vi(
        "Only for you, comrade secretary: the branch has no thematic meeting in quarter {quarter}/{year}. "
        "A branch holds one at least every quarter, besides the monthly meeting (Hướng dẫn 12-HD/BTCTW)."
    )
    east_told = [text for member, text in told if member == hung.id]
    assert east_told == ["📚 " + words.format(quarter=4, year=2026)]  # Q3 had one
    assert not [text for member, text in told if member == nam.id]
    assert len([1 for _m, text in told if "quý 3/2026" in text]) == 1  # Tây had none in Q3: its secretary, once
    assert woken == [1]


async def test_the_demos_seeded_book_entries_have_no_actor(runtime: Runtime, demo: Demo) -> None:
    """Seeded by the server, not by a secretary who joins the demo later."""
    from models.audit import AuditAction
    from models.tables import AuditEvent

    async with runtime.sessions() as session, session.begin():
        await seed_demo_books(session, TZ, today=date(2026, 11, 30))
    async with runtime.sessions() as session:
        seeded = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == AuditAction.RESOLUTION_RECORDED.value))
        ).all()
    assert seeded and all(event.actor_member_id is None for event in seeded)
