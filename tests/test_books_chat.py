"""The branch's books on a phone: the secretary's screens (Quản lý → Sổ sách chi bộ, a member's card)
and a member's own year-end review; who sees what."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from bot.demo_books import DEMO_AGENDA, held_meeting
from bot.runtime import Runtime
from handlers.books.actions import Classify, MeetingRecord, MinutesForm, Reviews, StepToday, TransferKinds
from handlers.contract import Reply
from models import books
from models.tables import AdmissionCandidate, Branch, Member, MemberStanding, MemberStatus, ReviewLevel
from tests.chat import button, say, vi
from tests.conftest import Demo, member_named
from tests.test_records import open_card

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
EAST, WEST, NAM, SCHOOL = 300, 301, 302, 303  # Hùng (Đông), Quang (Tây), Nam (Đông), Thanh (Trường)


async def join(runtime: Runtime, demo: Demo) -> None:
    for user, name in ((EAST, "Nguyễn Văn Hùng"), (WEST, "Lý Văn Quang"), (NAM, "Hoàng Văn Nam"),
                       (SCHOOL, "Võ Thị Thanh")):  # fmt: skip
        await say(runtime, user, f"/start {demo.code(name)}")


async def east_meeting(runtime: Runtime) -> int:
    """A regular meeting of Chi bộ thôn Đông held last month, everyone present but two."""
    today = datetime.now(TZ).date()
    day = (today.replace(day=1) - timedelta(days=1)).replace(day=5)
    async with runtime.sessions() as session, session.begin():
        east = (await session.exec(select(Branch).where(Branch.code == "DONG"))).one()
        meeting = await held_meeting(
            session, east.id or 0, datetime.combine(day, time(19, 30), TZ), title="Sinh hoạt chi bộ tháng trước",
            agenda=DEMO_AGENDA, away={"Trần Thị Lan": "Đi công tác"}, absent=("Dương Văn Long",),
        )  # fmt: skip
        return meeting.id or 0


async def books_menu(runtime: Runtime, user: int) -> Reply:
    manage = (await say(runtime, user, "/manage"))[0]
    return (await say(runtime, user, payload=button(manage, vi("Branch books"))))[0]


async def test_the_secretary_records_the_months_resolution_a_show_of_hands_and_reads_the_minutes(
    runtime: Runtime, demo: Demo
) -> None:
    await join(runtime, demo)
    meeting_id = await east_meeting(runtime)
    menu = await books_menu(runtime, EAST)
    assert vi("Books of {branch}").format(branch="Chi bộ thôn Đông") in menu.text
    records = (await say(runtime, EAST, payload=button(menu, vi("Meeting records"))))[0]
    record = (await say(runtime, EAST, payload=button(records, "Sinh hoạt chi bộ tháng trước")))[0]
    assert vi("No resolution recorded yet.") in record.text
    asked = (await say(runtime, EAST, payload=button(record, vi("Resolution"))))[0]
    assert vi("Type the decisions of the month's resolution, one per line.") in asked.text
    saved = (await say(runtime, EAST, "Hoàn thành thu hoạch vụ mùa\nVận động nhân dân giữ vệ sinh"))[0]
    month = (datetime.now(TZ).date().replace(day=1) - timedelta(days=1)).month
    assert "Nghị quyết số 01-NQ/CB" in saved.text and f"tháng {month}/" in saved.text
    assert "2. Vận động nhân dân giữ vệ sinh" in saved.text
    # Base: 10 official, less 2 exempt absent and Lan excused = 7; present officials 6.
    hands = (await say(runtime, EAST, payload=button(saved, vi("Show of hands"))))[0]
    assert "7" in hands.text and "6" in hands.text
    too_many = (await say(runtime, EAST, "Thông qua nghị quyết; 7/0"))[0]
    assert vi("More hands than the {limit} official members present: please count again.").format(limit=6) in (
        too_many.text
    )
    counted = (await say(runtime, EAST, "Thông qua nghị quyết; 6/0"))[0]
    assert vi("adopted: {votes}/{base} in favour").format(votes=6, base=7) in counted.text
    await say(runtime, EAST, payload=button(counted, vi("Show of hands")))
    short = (await say(runtime, EAST, "Sửa quy chế; 3/3"))[0]
    assert vi("not adopted: {votes}/{base} in favour").format(votes=3, base=7) in short.text
    minutes = (await say(runtime, EAST, payload=MinutesForm(meeting_id).pack()))[0]
    assert vi("MINUTES OF THE BRANCH MEETING") in minutes.text
    assert "Trần Thị Lan (Đi công tác)" in minutes.text and "Dương Văn Long" in minutes.text
    assert "Nghị quyết số 01-NQ/CB" in minutes.text and "1. Tình hình chung trong tháng" in minutes.text
    # Another branch's secretary sees none of it; a plain member neither.
    for user in (WEST, NAM):
        refused = (await say(runtime, user, payload=MeetingRecord(meeting_id).pack()))[0]
        assert "Nghị quyết" not in refused.text and "Sinh hoạt chi bộ tháng trước" not in refused.text
    assert vi("Branch books") not in str((await say(runtime, NAM, "/manage"))[0].buttons)


async def test_a_temporary_transfer_from_the_card_keeps_the_member_out_of_the_base_until_back(
    runtime: Runtime, demo: Demo
) -> None:
    await join(runtime, demo)
    card = await open_card(runtime, WEST, "Mai Văn Sơn")
    kinds = (await say(runtime, WEST, payload=button(card, vi("Transfer"))))[0]
    asked = (await say(runtime, WEST, payload=button(kinds, vi("Temporary transfer (stays on the roster)"))))[0]
    assert "31/03/2027" in asked.text
    bad = (await say(runtime, WEST, "Chi bộ Công ty X"))[0]
    assert "⚠️" in bad.text
    saved = (await say(runtime, WEST, "Chi bộ Công ty X; 31/03/2099"))[0]
    assert vi("Saved.") in saved.text and "Sinh hoạt tạm thời tại Chi bộ Công ty X" in saved.text
    son = await member_named(runtime, "Mai Văn Sơn")
    assert son.active and son.standing is MemberStanding.ELSEWHERE
    history = (await say(runtime, WEST, payload=button(saved, vi("History"))))[0]
    assert "sinh hoạt đảng tạm thời tại Chi bộ Công ty X" in history.text and "31/03/2099" in history.text
    kinds = (await say(runtime, WEST, payload=TransferKinds(son.id or 0).pack()))[0]
    back = (await say(runtime, WEST, payload=button(kinds, vi("Back from the temporary transfer today"))))[0]
    assert vi("Saved.") in back.text and "Sinh hoạt tạm thời" not in back.text
    assert (await member_named(runtime, "Mai Văn Sơn")).standing is MemberStanding.ACTIVE
    # The secretary of another branch cannot open the transfer of a member not theirs.
    refused = (await say(runtime, SCHOOL, payload=TransferKinds(son.id or 0).pack()))[0]
    assert "Mai Văn Sơn" not in refused.text


async def test_an_official_transfer_and_a_member_arriving(runtime: Runtime, demo: Demo) -> None:
    await join(runtime, demo)
    card = await open_card(runtime, WEST, "Phan Thị Loan")
    kinds = (await say(runtime, WEST, payload=button(card, vi("Transfer"))))[0]
    asked = (await say(runtime, WEST, payload=button(kinds, vi("Official transfer (leaves the roster)"))))[0]
    # Asked first, naming the member (outside tester: the typed organisation took her off at once).
    assert "Phan Thị Loan" in asked.text and "Tiếp tục?" in asked.text
    assert (await member_named(runtime, "Phan Thị Loan")).active
    await say(runtime, WEST, payload=button(asked, vi("Continue")))
    gone = (await say(runtime, WEST, "Đảng bộ phường Hòa Bình; 01/11/2026"))[0]
    assert "01/11/2026" in gone.text
    loan = await member_named(runtime, "Phan Thị Loan")
    assert not loan.active and loan.deactivation_reason == "transferred"
    menu = await books_menu(runtime, WEST)
    transfers = (await say(runtime, WEST, payload=button(menu, vi("Transfers"))))[0]
    assert "Phan Thị Loan" in transfers.text and "Đảng bộ phường Hòa Bình" in transfers.text
    await say(runtime, WEST, payload=button(transfers, vi("A member arriving by transfer")))
    added = (await say(runtime, WEST, "Hà Văn Tới; 02/03/2010; Đảng bộ xã Tân Lập"))[0]
    assert "Hà Văn Tới" in added.text and "Chuyển sinh hoạt đến từ Đảng bộ xã Tân Lập" in added.text
    newcomer = await member_named(runtime, "Hà Văn Tới")
    assert newcomer.status is MemberStatus.OFFICIAL and newcomer.date_official is not None
    assert newcomer.date_official.isoformat() == "2011-03-02"  # official from the end of 12 months


async def test_a_candidate_is_followed_step_by_step_to_the_ceremony(runtime: Runtime, demo: Demo) -> None:
    await join(runtime, demo)
    menu = await books_menu(runtime, SCHOOL)
    listed = (await say(runtime, SCHOOL, payload=button(menu, vi("Admission candidates"))))[0]
    await say(runtime, SCHOOL, payload=button(listed, vi("Add a candidate")))
    card = (await say(runtime, SCHOOL, "Lương Văn Hải; Võ Thị Thanh; 01/01/2026"))[0]
    assert "Lương Văn Hải" in card.text and vi("Course on the Party") in card.text
    for _step in range(6):
        card = (await say(runtime, SCHOOL, payload=button(card, vi("{step}: today").split(":")[-1].strip())))[0]
    admitted = await say(runtime, SCHOOL, payload=button(card, vi("Admission candidates")))
    assert vi("None followed yet.") in admitted[0].text
    await say(runtime, SCHOOL, payload=button(admitted[0], vi("Add a candidate")))
    other = (await say(runtime, SCHOOL, "Đinh Thị Hà; Ngô Văn Phúc"))[0]
    asked = (await say(runtime, SCHOOL, payload=button(other, vi("No longer follow"))))[0]
    dropped = (await say(runtime, SCHOOL, payload=button(asked, vi("Yes, no longer follow"))))[0]
    assert vi("None followed yet.") in dropped.text
    history = (await say(runtime, SCHOOL, "/manage"))[0]
    changes = (await say(runtime, SCHOOL, payload=button(history, vi("Recent changes"))))[0]
    assert "thôi theo dõi quần chúng Đinh Thị Hà" in changes.text
    assert "ghi bước “Lễ kết nạp” của quần chúng Lương Văn Hải" in changes.text
    hai = await member_named(runtime, "Lương Văn Hải")
    assert hai.status is MemberStatus.PROBATIONARY and hai.date_admitted == datetime.now(TZ).date()


async def test_a_candidate_or_introducer_named_like_a_formula_is_refused_as_a_members_name(
    runtime: Runtime, demo: Demo
) -> None:
    """A spreadsheet would run "=HYPERLINK(…)" or "@SUM(9)" when the books are exported: refused when
    the candidate is added, with the member name's sentence; the question stays open."""
    await join(runtime, demo)
    menu = await books_menu(runtime, SCHOOL)
    listed = (await say(runtime, SCHOOL, payload=button(menu, vi("Admission candidates"))))[0]
    await say(runtime, SCHOOL, payload=button(listed, vi("Add a candidate")))
    formula = vi("\u201c{value}\u201d starts with a sign a spreadsheet would run as a formula. Please leave it out.")
    for typed, value in (
        ('=HYPERLINK("http://x.test","Hải"); Võ Thị Thanh', '=HYPERLINK("http://x.test","Hải")'),
        ("Lương Văn Hải; @SUM(9)", "@SUM(9)"),
    ):
        refused = (await say(runtime, SCHOOL, typed))[0]
        assert formula.format(value=value) in refused.text
    async with runtime.sessions() as session:
        assert (await session.exec(select(AdmissionCandidate))).all() == []
    card = (await say(runtime, SCHOOL, "Lương Văn Hải; Võ Thị Thanh"))[0]  # still asked
    assert "Lương Văn Hải" in card.text


async def test_a_ceremony_the_roster_refuses_leaves_the_candidate_as_they_were(runtime: Runtime, demo: Demo) -> None:
    """A candidate kept before names were checked, named like a formula: the ceremony is refused by
    the roster, and the candidate is not marked admitted (was: the day of the ceremony saved, no
    member, no audit line)."""
    await join(runtime, demo)
    today = datetime.now(TZ).date()
    async with runtime.sessions() as session, session.begin():
        school = (await session.exec(select(Branch).where(Branch.code == "TRUONG"))).one()
        candidate = AdmissionCandidate(
            branch_id=school.id or 0, full_name='=HYPERLINK("http://x.test","Hải")', introducer="Võ Thị Thanh",
            introduced_on=today - timedelta(days=60),
        )  # fmt: skip
        for days_ago, step in zip((50, 40, 30, 20, 10), books.STEPS[:-1], strict=True):  # all but the ceremony
            setattr(candidate, step.value, today - timedelta(days=days_ago))
        session.add(candidate)
    refused = (await say(runtime, SCHOOL, payload=StepToday(candidate.id or 0).pack()))[0]
    assert "công thức" in refused.text
    async with runtime.sessions() as session:
        kept = await session.get(AdmissionCandidate, candidate.id)
        assert kept is not None and kept.ceremony_on is None and kept.member_id is None
        added = (await session.exec(select(Member).where(col(Member.full_name).like("%HYPERLINK%")))).all()
        assert added == []


async def test_a_member_writes_their_self_assessment_and_sees_only_their_own_classification(
    runtime: Runtime, demo: Demo
) -> None:
    await join(runtime, demo)
    await east_meeting(runtime)
    details = (await say(runtime, NAM, "/me"))[0]
    mine = (await say(runtime, NAM, payload=button(details, vi("My year-end review"))))[0]
    assert vi("Self-assessment: not written yet.") in mine.text
    await say(runtime, NAM, payload=button(mine, vi("Write my self-assessment")))
    levels = (await say(runtime, NAM, "Hoàn thành tốt nhiệm vụ được giao, tham gia đầy đủ sinh hoạt"))[0]
    proposed = (await say(runtime, NAM, payload=button(levels, vi("Well fulfilled duties"))))[0]
    assert vi("Proposed: {level}").format(level=vi("Well fulfilled duties")) in proposed.text
    nam = await member_named(runtime, "Hoàng Văn Nam")
    # A plain member cannot classify, even themselves, nor open the branch's board.
    forged = (await say(runtime, NAM, payload=Classify(nam.id or 0, ReviewLevel.EXCELLENT).pack()))[0]
    assert vi("Excellently fulfilled duties") not in forged.text
    board = (await say(runtime, NAM, payload=Reviews().pack()))[0]
    assert "Vũ Thị Mai" not in board.text
    # The branch secretary sees the self-assessment and classifies at the branch's meeting.
    menu = await books_menu(runtime, EAST)
    reviews = (await say(runtime, EAST, payload=button(menu, vi("Year-end review"))))[0]
    assert "Sinh hoạt chi bộ tháng trước" in reviews.text
    levels = (await say(runtime, EAST, payload=button(reviews, "Hoàng Văn Nam")))[0]
    assert "tham gia đầy đủ sinh hoạt" in levels.text
    done = (await say(runtime, EAST, payload=button(levels, vi("Excellently fulfilled duties"))))[0]
    # One member rated excellent, the first classified: no warning yet.
    assert (
        vi("More members rated “excellently fulfilled” than a fifth (20 percent) of those rated “well fulfilled”.")
        not in done.text
    )
    mine = (await say(runtime, NAM, payload=button(details, vi("My year-end review"))))[0]
    assert vi("Excellently fulfilled duties") in mine.text
    # Another branch's secretary classifies nobody here.
    refused = (await say(runtime, WEST, payload=Classify(nam.id or 0, ReviewLevel.NOT_DONE).pack()))[0]
    assert vi("Did not fulfil duties") not in refused.text
    async with runtime.sessions() as session:
        assert (await session.exec(select(Member).where(Member.full_name == "Hoàng Văn Nam"))).one().active
