"""The branch's books: party dues by the rules of Quy định 01-QĐ/TW (as settings), party age and
badges (Quy định 94-QĐ/TW), the reports upward computed from the records, and who sees what."""

from __future__ import annotations

import asyncio
import base64
import io
from datetime import date, timedelta

import pytest
from sqlmodel import col, select

from bot.demo import DEMO_TIMEZONE
from bot.runtime import Runtime
from handlers.dues.actions import Badges, BooksReport, DuesBook, DuesCard, PayDues
from handlers.dues.common import month_code
from handlers.dues.words import months_label
from handlers.meetings.messages import ChatMeetingMessages
from handlers.menus import BooksUpward, MyDues
from models import books_reports, dues
from models.books_reports import Period, anniversary, badge_due, party_age
from models.dues import DuesError, DuesProblem, DuesRates, add_months, monthly_amount, owed_months, parse_amount
from models.meetings import confirm_attendance
from models.tables import (
    Attendance,
    AuditEvent,
    Branch,
    DuesCategory,
    DuesPayment,
    Meeting,
    MeetingInvitation,
    MeetingKind,
    MeetingStatus,
    Member,
    MemberStatus,
    OutboxMessage,
    utcnow,
)
from tests.chat import button, say, vi
from tests.conftest import Demo, member_named

HUNG, NAM, THU, LONG = "Nguyễn Văn Hùng", "Hoàng Văn Nam", "Ngô Thị Thu", "Dương Văn Long"  # Chi bộ thôn Đông
QUANG, LOAN = "Lý Văn Quang", "Phan Thị Loan"  # Chi bộ thôn Tây
# Hùng is the Đông secretary and the commune committee's; Long a plain member; Quang the Tây secretary.
HUNG_CHAT, LONG_CHAT, QUANG_CHAT, NAM_CHAT = 300, 301, 302, 303
TUAN_ADMITTED = date(2026, 8, 10)  # Đặng Văn Tuấn, probationary, Đông: owes dues from August 2026


def _today() -> date:
    return utcnow().astimezone(DEMO_TIMEZONE).date()


def _current() -> date:
    return _today().replace(day=1)


# --- the rules, each with its source ---------------------------------------------------------------


def test_monthly_amounts_follow_quy_dinh_01() -> None:
    """Quy định 01-QĐ/TW: 1% of salary and allowances, 0.5% of a pension, a fixed 2,000-30,000 VND
    for other members set by the province (half past working age); the figures are settings."""
    assert monthly_amount(DuesCategory.SALARY, 6_000_000) == 60_000
    assert monthly_amount(DuesCategory.SALARY, 5_450_000) == 55_000  # 54,500 rounded to the thousand
    assert monthly_amount(DuesCategory.PENSION, 4_000_000) == 20_000
    assert monthly_amount(DuesCategory.OTHER, None) == 10_000
    assert monthly_amount(DuesCategory.ELDERLY, None) == 5_000
    assert monthly_amount(DuesCategory.STUDENT, None) == 5_000
    assert monthly_amount(DuesCategory.EXEMPT, None) == 0
    assert monthly_amount(DuesCategory.SALARY, None) is None  # no salary recorded: not known
    assert monthly_amount(None, 6_000_000) is None
    province = DuesRates(other_vnd=20_000, elderly_vnd=10_000, round_vnd=1, salary_basis_points=150)
    assert monthly_amount(DuesCategory.OTHER, None, province) == 20_000
    assert monthly_amount(DuesCategory.SALARY, 5_450_000, province) == 81_750


def test_the_branch_keeps_its_share_and_passes_the_rest_up() -> None:
    """Quy định 01-QĐ/TW (unconfirmed figure, a setting): a branch under a grassroots committee
    keeps 30% and passes 70% up; the branch keeps the rounding."""
    assert dues.branch_share(215_000) == (64_500, 150_500)
    assert dues.branch_share(10_001) == (3_001, 7_000)
    assert dues.branch_share(100_000, DuesRates(branch_keeps_percent=50)) == (50_000, 50_000)


def test_amounts_are_read_as_people_type_them() -> None:
    assert parse_amount("5.500.000") == 5_500_000
    assert parse_amount("5,5 triệu") == 5_500_000
    assert parse_amount("4tr2") == 4_200_000
    assert parse_amount("850k") == 850_000
    assert parse_amount("6 000 000 đồng") == 6_000_000
    for wrong in ("năm triệu", "0", "-5", "abc"):
        with pytest.raises(DuesError):
            parse_amount(wrong)


def test_months_unpaid_count_from_the_book_and_the_admission_and_never_this_month() -> None:
    """Quy định 29: three months unpaid in a year is a ground for removal. Only months that are over
    count, from the branch's first recorded payment (before it chibo knows nothing) and the member's
    admission, while on the roster."""
    today = date(2026, 11, 20)
    member = Member(branch_id=1, full_name="A", date_admitted=date(2000, 1, 1), dues_category=DuesCategory.OTHER)
    paid = {date(2026, m, 1) for m in range(1, 11) if m != 6}
    assert owed_months(member, date(2026, 1, 1), paid, today) == [date(2026, 6, 1)]
    assert owed_months(member, None, paid, today) == []  # no book kept yet
    assert owed_months(member, date(2025, 1, 1), set(), today) == [add_months(date(2025, 11, 1), i) for i in range(12)]
    member.date_admitted = date(2026, 9, 15)
    assert owed_months(member, date(2025, 1, 1), set(), today) == [date(2026, 9, 1), date(2026, 10, 1)]
    member.dues_category = DuesCategory.EXEMPT
    assert owed_months(member, date(2025, 1, 1), set(), today) == []
    member.dues_category, member.active, member.deactivated_on = DuesCategory.OTHER, False, date(2026, 10, 3)
    assert owed_months(member, date(2025, 1, 1), set(), today) == [date(2026, 9, 1)]


def test_party_age_and_the_badge_years_of_quy_dinh_94() -> None:
    """Quy định 94-QĐ/TW (2023): badges of 30, 40, 45 … 90 years from the day of admission, for
    official members on the roster."""
    assert books_reports.BADGE_YEARS == (30, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90)
    assert party_age(date(1996, 5, 19), date(2026, 5, 18)) == 29
    assert party_age(date(1996, 5, 19), date(2026, 5, 19)) == 30
    assert party_age(None, date(2026, 1, 1)) is None
    assert anniversary(date(1996, 2, 29), 30) == date(2026, 2, 28)
    member = Member(branch_id=1, full_name="A", date_admitted=date(1977, 3, 3), status=MemberStatus.OFFICIAL)
    assert badge_due(member, 2027) == 50 and badge_due(member, 2028) is None
    member.date_admitted = date(1992, 1, 1)
    assert badge_due(member, 2027) is None  # 35 years: no badge
    member.date_admitted, member.status = date(1997, 1, 1), MemberStatus.PROBATIONARY
    assert badge_due(member, 2027) is None
    assert Period.quarter_of(date(2026, 11, 1)) == Period(date(2026, 10, 1), date(2026, 12, 31), True)
    assert Period.quarter_of(date(2026, 11, 1)).label == "Q4/2026"


# --- a year of the demo's Chi bộ thôn Đông, line by line -------------------------------------------

# Đông's monthly amounts (the demo's categories, the default rates), computed by hand: Hùng 1% of
# 8,000,000; Lan 1% of a 2,500,000 allowance; Minh and Thành 0.5% of 4,000,000 pensions; seven
# "other members" at 10,000, Tuấn among them only from his admission in August 2026.
DONG_FULL = 80_000 + 25_000 + 20_000 + 20_000 + 6 * 10_000  # without Tuấn: 205,000
DONG_UNPAID = {NAM: (1, 2, 3), THU: (2,)}  # months back from this one (bot/demo.py)


def _dong_month(back: int) -> dict[str, object]:
    """What Đông's report of the month ``back`` months ago must say, by hand."""
    month = add_months(_current(), -back)
    last = add_months(month, 1) - timedelta(days=1)
    tuan = last >= TUAN_ADMITTED
    expected = DONG_FULL + (10_000 if month >= TUAN_ADMITTED.replace(day=1) else 0)
    missing = {name: 1 for name, backs in DONG_UNPAID.items() if back in backs}
    paid = expected - 10_000 * len(missing)
    owed_nam = sum(1 for b in DONG_UNPAID[NAM] if b >= back)  # as of the month after this one
    return {
        "members_start": 10 + (month - timedelta(days=1) >= TUAN_ADMITTED),
        "members_end": 10 + tuan,
        "official": 10,
        "probationary": int(tuan),
        "exempt": 2,  # Lê Văn Minh and Đỗ Văn Thành
        "admitted": ["Đặng Văn Tuấn"] if month <= TUAN_ADMITTED <= last else [],
        "added": [],  # the demo's members were on the roster before its records begin
        "moved_in": [],
        "moved_out": [],
        "left": {},
        "elsewhere": [],
        "made_official": [],
        "candidates": {},
        "dues_expected": expected,
        "dues_paid": paid,
        "dues_collected": paid,  # Đông pays each month on its 15th
        "dues_kept": paid - paid * 70 // 100,
        "dues_passed_up": paid * 70 // 100,
        "unpaid": missing,
        "warnings": {NAM: (0, owed_nam)} if owed_nam >= 2 else {},
        "regular_meetings": 0,
        "attendance_percent": None,
    }


async def test_a_year_of_the_demo_branch_gives_the_reports_computed_by_hand(runtime: Runtime, demo: Demo) -> None:
    hung = await member_named(runtime, HUNG)
    async with runtime.sessions() as session:
        dong = await session.get(Branch, hung.branch_id)
        assert dong is not None
        for back in range(1, 13):
            month = add_months(_current(), -back)
            period = Period.month(month)
            report = await books_reports.branch_report(session, hung, dong, period, DEMO_TIMEZONE, _today())
            got = {key: getattr(report, key) for key in _dong_month(back)}
            assert got == _dong_month(back), month
        # A quarter wholly past is the sum of its months.
        quarter = Period.quarter_of(add_months(_current(), -3))
        report = await books_reports.branch_report(session, hung, dong, quarter, DEMO_TIMEZONE, _today())
        backs = [(_current().year - m.year) * 12 + _current().month - m.month for m in quarter.months]
        months = [_dong_month(b) for b in backs]
        assert report.dues_expected == sum(int(str(m["dues_expected"])) for m in months)
        assert report.dues_paid == sum(int(str(m["dues_paid"])) for m in months)
        assert report.dues_collected == report.dues_paid
        assert report.members_end == months[-1]["members_end"]
        # The commune's last month: every branch's cash, Ngô Văn Phúc's six months paid at once included.
        last = add_months(_current(), -1)
        total, parts = await books_reports.commune_report(session, hung, Period.month(last), DEMO_TIMEZONE, _today())
    tay = 70_000 + 5_000 + 5_000 + 7 * 10_000 - 10_000  # Quang 1% of 7,000,000; Bình, Dũng 5,000; Loan unpaid
    truong = 8 * 60_000 + 6 * 60_000  # eight teachers' month, and Phúc's six months
    assert [p.name for p in parts] == ["Chi bộ thôn Đông", "Chi bộ thôn Tây", "Chi bộ Trường Tiểu học Tân Hòa"]
    assert [p.dues_collected for p in parts] == [_dong_month(1)["dues_paid"], tay, truong]
    assert total.dues_collected == sum(p.dues_collected for p in parts)
    assert total.members_end == 30 and total.unpaid == {NAM: 1, LOAN: 1}
    assert set(total.warnings) == {NAM, LOAN}  # three and two months unpaid


async def test_the_report_in_excel_has_the_lines_of_the_chat_summary(runtime: Runtime, demo: Demo) -> None:
    from openpyxl import load_workbook

    await say(runtime, HUNG_CHAT, f"/start {demo.code(HUNG)}")
    hung = await member_named(runtime, HUNG)
    last = add_months(_current(), -1)
    code = last.year * 100 + last.month
    summary = (await say(runtime, HUNG_CHAT, payload=BooksReport(hung.branch_id, "m", code).pack()))[0]
    paid = int(str(_dong_month(1)["dues_paid"]))
    assert f"{paid:,}".replace(",", ".") + " đ" in summary.text
    before = add_months(last, -1)
    # The arrows say where they go (was: a bare ◀).
    arrows = [b.label for row in summary.buttons for b in row if "◀" in b.label]
    assert arrows == ["◀ " + vi("month {month}").format(month=f"{before.month:02d}/{before.year}")]
    reply = (await say(runtime, HUNG_CHAT, payload=button(summary, vi("Excel file"))))[0]
    assert reply.document is not None
    assert reply.document.name == f"bao-cao-chi-bo-thon-dong-{last.month:02d}-{last.year}.xlsx"
    sheet = load_workbook(io.BytesIO(base64.b64decode(reply.document.inline or ""))).active
    assert sheet is not None
    rows = {row[1]: row[2] for row in sheet.iter_rows(min_row=7, values_only=True)}
    assert rows[vi("Dues paid for the period (VND)")] == paid
    # Money keeps its thousands grouped in Excel, and stays a number.
    [paid_cell] = [row[2] for row in sheet.iter_rows(min_row=7) if row[1].value == vi("Dues paid for the period (VND)")]
    assert paid_cell.number_format == "#,##0"
    assert rows[vi("To pass to the Party committee (VND)")] == paid * 70 // 100
    assert rows[vi("Members at the end of the period")] == 11
    assert sheet["A1"].value == "ĐẢNG CỘNG SẢN VIỆT NAM"
    # The commune's, for its committee secretary: a sheet with a column per branch.
    commune = (await say(runtime, HUNG_CHAT, payload=BooksReport(0, "q", code, True).pack()))[0]
    assert commune.document is not None
    workbook = load_workbook(io.BytesIO(base64.b64decode(commune.document.inline or "")))
    assert [c.value for c in workbook[vi("Branches")][1]][1:4] == [
        "Chi bộ thôn Đông",
        "Chi bộ thôn Tây",
        "Chi bộ Trường Tiểu học Tân Hòa",
    ]


# --- in chat ---------------------------------------------------------------------------------------


async def test_a_member_asks_in_their_own_words_what_they_have_paid(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, LONG_CHAT, f"/start {demo.code(NAM)}")
    reply = (await say(runtime, LONG_CHAT, "tôi đóng đảng phí chưa"))[0]
    assert vi("Your party dues") in reply.text
    assert "10.000 đ" in reply.text
    owed = [add_months(_current(), -b) for b in (3, 2, 1)]
    assert (
        vi("Months unpaid in the last 12: {count} ({months})").format(count=3, months=months_label(owed)) in reply.text
    )
    assert f"{owed[0].month:02d}/{owed[0].year % 100:02d} ❌" in reply.text
    # Months not counted are explained (before joining or before the book), not a bare "·".
    legend = vi(
        "✅ paid, ❌ unpaid, ⏳ this month not yet paid, · not counted (not yet in the branch, or before its book)"
    )
    assert legend in reply.text
    same = (await say(runtime, LONG_CHAT, "/dangphi"))[0]
    assert same.text == reply.text


async def test_a_plain_member_sees_only_their_own_dues(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, LONG_CHAT, f"/start {demo.code(LONG)}")
    nam = await member_named(runtime, NAM)
    refused = vi("Sorry, only the branch secretary and deputy secretary can use this.")
    # A button naming a member or a branch answers as a made-up id would (nothing told about what
    # exists); the menus of the books are refused in words.
    stale = vi("This button is no longer valid. Please use the menu below.")
    for payload, answer in (
        (DuesCard(nam.id or 0).pack(), stale),
        (DuesBook(nam.branch_id, 0).pack(), stale),
        (PayDues(nam.id or 0, 202601, 1, "yes").pack(), stale),
        (BooksReport(nam.branch_id, "m", 202601).pack(), stale),
        (BooksUpward().pack(), refused),
        (Badges().pack(), refused),
    ):
        reply = (await say(runtime, LONG_CHAT, payload=payload))[0]
        assert answer in reply.text, payload
        assert NAM not in reply.text
    own = (await say(runtime, LONG_CHAT, payload=MyDues().pack()))[0]
    assert vi("No month unpaid in the last 12.") in own.text


async def test_another_branchs_secretary_sees_nothing_of_this_branch(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, QUANG_CHAT, f"/start {demo.code(QUANG)}")
    nam = await member_named(runtime, NAM)
    for payload in (
        DuesCard(nam.id or 0).pack(),
        DuesBook(nam.branch_id, 0).pack(),
        PayDues(nam.id or 0, 202601, 1, "yes").pack(),
        BooksReport(nam.branch_id, "q", 202601, True).pack(),
        BooksReport(0, "m", 202601).pack(),  # the commune's: its committee secretary only
    ):
        reply = (await say(runtime, QUANG_CHAT, payload=payload))[0]
        assert NAM not in reply.text and reply.document is None, payload
    own = (await say(runtime, QUANG_CHAT, payload=DuesBook().pack()))[0]
    assert "Chi bộ thôn Tây" in own.text and LOAN in own.text and NAM not in own.text
    badges = (await say(runtime, QUANG_CHAT, payload=Badges().pack()))[0]
    assert "Chi bộ thôn Đông" not in badges.text


async def test_the_secretary_records_months_paid_at_once_audited_and_never_twice(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, HUNG_CHAT, f"/start {demo.code(HUNG)}")
    await say(runtime, NAM_CHAT, f"/start {demo.code(NAM)}")
    nam = await member_named(runtime, NAM)
    commune = (await say(runtime, HUNG_CHAT, payload=DuesBook().pack()))[0]  # Hùng leads the commune too
    assert vi("Party dues of {month}: the whole commune").format(month=f"{_current():%m/%Y}") in commune.text
    book = (await say(runtime, HUNG_CHAT, payload=button(commune, "Chi bộ thôn Đông")))[0]
    assert f"{NAM} (10.000 đ)" in book.text  # nobody has paid this month yet
    assert "⚠️" in book.text and f"• {NAM}: 3" in book.text
    card = (await say(runtime, HUNG_CHAT, payload=button(book, NAM)))[0]
    first = add_months(_current(), -3)  # the first month owed comes first
    ask = (await say(runtime, HUNG_CHAT, payload=button(card, vi("{count} months").format(count=3))))[0]
    assert NAM in ask.text and "30.000 đ" in ask.text
    assert f"{first.month:02d}" in ask.text
    confirm = button(ask, vi("Record the payment"))
    done = (await say(runtime, HUNG_CHAT, payload=confirm))[0]
    assert "✅" in done.text and vi("No month unpaid in the last 12.") in done.text
    again = (await say(runtime, HUNG_CHAT, payload=confirm))[0]  # a double tap
    assert vi("Already recorded as paid: {detail}. Nothing was recorded twice.").split(":")[0] in again.text
    # Six taps at the same moment on a month not paid yet: one records it, the others are told so.
    ahead = add_months(_current(), 1)
    tap = PayDues(nam.id or 0, ahead.year * 100 + ahead.month, 1, "yes").pack()
    answers = await asyncio.gather(*(say(runtime, HUNG_CHAT, payload=tap) for _ in range(6)))
    assert sum("✅" in reply[0].text for reply in answers) == 1
    already = vi("Already recorded as paid: {detail}. Nothing was recorded twice.").split(":")[0]
    assert all("✅" in reply[0].text or already in reply[0].text for reply in answers)
    # A month that is no month (13) was never on a button: stale, not read as another month.
    forged = (await say(runtime, HUNG_CHAT, payload=PayDues(nam.id or 0, 202613, 1, "yes").pack()))[0]
    assert vi("This button is no longer valid. Please use the menu below.") in forged.text
    async with runtime.sessions() as session:
        paid = (await session.exec(select(DuesPayment).where(DuesPayment.member_id == nam.id))).all()
        recorded = select(AuditEvent).where(AuditEvent.action == "dues.paid").order_by(col(AuditEvent.id))
        events = (await session.exec(recorded)).all()
    assert sorted(p.month for p in paid)[-4:] == [first, add_months(first, 1), add_months(first, 2), ahead]
    assert {p.paid_on for p in paid if p.month >= first} == {_today()}
    event = events[0]
    assert len(events) == 2  # the three months, then the month ahead: each recorded once
    assert event.subject_id == nam.id and event.after is not None and event.after["amount"] == "30.000"
    async with runtime.sessions() as session:
        mine = select(OutboxMessage).where(OutboxMessage.member_id == nam.id).order_by(col(OutboxMessage.id))
        receipts = (await session.exec(mine)).all()
    assert len(receipts) == 2  # one per payment recorded, none for the taps told "already"
    receipt = receipts[0]
    assert receipt.chat_id == str(NAM_CHAT) and "30.000 đ" in str(receipt.body["text"])  # the member hears of it


async def test_the_secretary_sets_a_members_category_and_salary_audited(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, HUNG_CHAT, f"/start {demo.code(HUNG)}")
    long = await member_named(runtime, LONG)
    card = (await say(runtime, HUNG_CHAT, payload=DuesCard(long.id or 0).pack()))[0]
    choices = (await say(runtime, HUNG_CHAT, payload=button(card, vi("Dues category"))))[0]
    # The current basis (Quy định 01-QĐ/TW, 2022), and an exemption from dues, not from activity.
    assert vi("Source: Quy định 01-QĐ/TW of 03/02/2022 on party dues; the amounts are the commune's settings.") in (
        choices.text
    )
    assert vi("Exempted from dues by the Party committee (hardship)") in choices.text
    assert "Miễn sinh hoạt" not in choices.text
    ask = (await say(runtime, HUNG_CHAT, payload=button(choices, vi("Salary"))))[0]
    assert LONG in ask.text
    wrong = (await say(runtime, HUNG_CHAT, "nhiều lắm"))[0]
    assert "nhiều lắm" in wrong.text
    saved = (await say(runtime, HUNG_CHAT, "5,5 triệu"))[0]
    assert "55.000 đ" in saved.text  # 1% of 5,500,000
    # The base is named by the category's own word: a salary, not "salary (pension)".
    mine = (await say(runtime, HUNG_CHAT, payload=DuesCard(long.id or 0).pack()))[0]
    assert vi("Monthly salary and allowances recorded: {value}").format(value="5.500.000 đ") in mine.text
    async with runtime.sessions() as session:
        member = await session.get(Member, long.id)
        [event] = (await session.exec(select(AuditEvent).where(AuditEvent.action == "member.dues_category"))).all()
    assert member is not None and (member.dues_category, member.dues_base) == (DuesCategory.SALARY, 5_500_000)
    assert event.before == {"dues_category": "other", "dues_base": None}
    assert event.after == {"dues_category": "salary", "dues_base": 5_500_000}
    changes = (await say(runtime, HUNG_CHAT, "/manage"))[0]
    log = (await say(runtime, HUNG_CHAT, payload=button(changes, vi("Recent changes"))))[0]
    assert "5.500.000 đ" in log.text


async def test_months_unpaid_and_absences_together_warn_the_secretary(runtime: Runtime, demo: Demo) -> None:
    """Quy định 29 (Charter art. 8): leaving Party activity or not paying dues three months in a year
    is a ground for removal. At the confirmation of a regular meeting the secretary hears of Nam (three
    months unpaid, though present) and of Thu (absent now, one month unpaid: two in all), not of Long
    (absent once, nothing unpaid)."""
    await say(runtime, HUNG_CHAT, f"/start {demo.code(HUNG)}")
    hung = await member_named(runtime, HUNG)
    now = utcnow()
    async with runtime.sessions() as session, session.begin():
        people = (await session.exec(select(Member).where(Member.branch_id == hung.branch_id))).all()
        meeting = Meeting(
            branch_id=hung.branch_id,
            kind=MeetingKind.REGULAR,
            title="Sinh hoạt chi bộ",
            starts_at=now - timedelta(hours=3),
            audience={"branches": [hung.branch_id]},
            status=MeetingStatus.CALLED,
        )
        session.add(meeting)
        await session.flush()
        for person in people:
            absent = person.full_name in (THU, LONG)
            session.add(
                MeetingInvitation(
                    meeting_id=meeting.id or 0,
                    member_id=person.id or 0,
                    attendance=Attendance.ABSENT if absent else Attendance.PRESENT,
                )
            )
        await session.flush()
        messages = ChatMeetingMessages(runtime.catalogs, DEMO_TIMEZONE)
        assert await confirm_attendance(session, hung, meeting, messages, DEMO_TIMEZONE, now=now) == 1
    async with runtime.sessions() as session:
        [warning] = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.created_at >= now - timedelta(minutes=1)))
        ).all()
    text = str(warning.body["text"])
    # The month's report counts the meeting and its confirmed attendance: 9 present of the 11 who had to come.
    async with runtime.sessions() as session:
        dong = await session.get(Branch, hung.branch_id)
        assert dong is not None
        held = (now - timedelta(hours=3)).astimezone(DEMO_TIMEZONE).date()
        report = await books_reports.branch_report(session, hung, dong, Period.month(held), DEMO_TIMEZONE, _today())
    assert (report.regular_meetings, report.present, report.must_attend) == (1, 9, 11)
    assert report.attendance_percent == 81.8
    assert report.warnings == {NAM: (0, 3), THU: (1, 1)}
    # The chat's report says what the two counts are (was "(1+1)"), and the share the Vietnamese way.
    await say(runtime, HUNG_CHAT, f"/start {demo.code(HUNG)}")
    shown = await say(runtime, HUNG_CHAT, payload=BooksReport(hung.branch_id, "m", held.year * 100 + held.month).pack())
    said = vi("{name} ({missed} month(s) without attending, {unpaid} month(s) of dues unpaid)")
    assert said.format(name=THU, missed=1, unpaid=1) in shown[0].text and "(1+1)" not in shown[0].text
    assert "81,8%" in shown[0].text
    assert f"• {NAM}: 0; " + vi("party dues unpaid: {count} ({months})").split(":")[0] in text
    assert f"• {THU}: 1" in text and LONG not in text
    assert (
        vi(
            "Not paying party dues for three months in a year without a valid reason is a ground for removal as "
            "well (Quy định 29); months missed and months unpaid are counted together here."
        )
        in text
    )


async def test_a_payment_for_an_exempt_or_unknown_member_is_refused(runtime: Runtime, demo: Demo) -> None:
    hung = await member_named(runtime, HUNG)
    async with runtime.sessions() as session, session.begin():
        long = (await session.exec(select(Member).where(Member.full_name == LONG))).one()
        await dues.set_category(session, hung, long, DuesCategory.EXEMPT)
        with pytest.raises(DuesError) as exempt:
            await dues.record_payment(session, hung, long, [_current()], paid_on=_today())
        assert exempt.value.problem is DuesProblem.NOTHING_DUE
        await dues.set_category(session, hung, long, DuesCategory.SALARY)
        with pytest.raises(DuesError) as unknown:
            await dues.record_payment(session, hung, long, [_current()], paid_on=_today())
        assert unknown.value.problem is DuesProblem.NO_BASE
        with pytest.raises(DuesError) as too_many:
            await dues.record_payment(
                session, hung, long, [add_months(_current(), i) for i in range(13)], paid_on=_today()
            )
        assert too_many.value.problem is DuesProblem.BAD_MONTHS
        with pytest.raises(DuesError) as long_ago:  # a forged button's month
            await dues.record_payment(session, hung, long, [date(1990, 1, 1)], paid_on=_today())
        assert long_ago.value.problem is DuesProblem.BAD_MONTHS


async def test_the_badges_of_next_year_for_the_commune(runtime: Runtime, demo: Demo) -> None:
    """The demo's members admitted in a year ending in 7 or 2 reach 30, 40, 45… years: by hand."""
    await say(runtime, HUNG_CHAT, f"/start {demo.code(HUNG)}")
    year = _today().year + 1
    async with runtime.sessions() as session:
        members = (await session.exec(select(Member))).all()
    expected = sorted(
        m.full_name
        for m in members
        if m.status is MemberStatus.OFFICIAL
        and m.date_admitted
        and year - m.date_admitted.year in books_reports.BADGE_YEARS
    )
    reply = (await say(runtime, HUNG_CHAT, payload=Badges().pack()))[0]
    assert (
        vi("Party badges of {year} (Quy định 94-QĐ/TW): {count} comrade(s)").format(year=year, count=len(expected))
        in reply.text
    )
    for name in expected:
        assert name in reply.text
    sheet = (await say(runtime, HUNG_CHAT, payload=Badges(True).pack()))[0]
    assert sheet.document is not None and sheet.document.name == f"huy-hieu-dang-{year}.xlsx"


async def test_typing_huy_hieu_dang_opens_the_badge_list(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, QUANG_CHAT, f"/start {demo.code(QUANG)}")
    listed = (await say(runtime, QUANG_CHAT, payload=Badges().pack()))[0]
    for typed in ("huy hiệu đảng", "danh sách huy hiệu đảng", "ai được nhận huy hiệu"):
        typed_reply = (await say(runtime, QUANG_CHAT, typed))[0]
        assert typed_reply.text == listed.text, typed


async def test_a_member_added_today_owes_no_months_before(runtime: Runtime, demo: Demo) -> None:
    """Added today with no admission date, to a branch whose book started long ago: nothing owed."""
    from models import audit
    from models.audit import AuditAction
    from models.tables import Branch, Member

    today = date.today()
    async with runtime.sessions() as session, session.begin():
        east = (await session.exec(select(Branch).where(Branch.code == "DONG"))).one()
        toi = Member(branch_id=east.id or 0, full_name="Hà Văn Tới")
        session.add(toi)
        await session.flush()
        audit.record(session, AuditAction.MEMBER_ADDED, actor_id=None, subject_type="member", subject_id=toi.id)
    async with runtime.sessions() as session:
        assert await dues.first_recorded_month(session, east.id or 0) is not None  # the demo's book
        assert await dues.unpaid_months(session, toi, today) == []
        hung = await member_named(runtime, HUNG)
        listed = await dues.collection(session, hung, east.id or 0, today, today)
        (line,) = [line for line in listed.lines if line.member.full_name == "Hà Văn Tới"]
        assert line.unpaid == []


async def test_an_old_month_paid_late_makes_nobody_else_owe(runtime: Runtime, demo: Demo) -> None:
    """Outside tester: one member's payment for a month two years back moved the branch's book back
    to it, so every member owed every month since and last August's report named all ten for
    removal. The book starts with the first cash recorded, and a month before it lists nobody."""
    await say(runtime, HUNG_CHAT, f"/start {demo.code(HUNG)}")
    hung, nam, thu = [await member_named(runtime, name) for name in (HUNG, NAM, THU)]
    async with runtime.sessions() as session:
        start = await dues.first_recorded_month(session, nam.branch_id)
        owed_before = await dues.unpaid_months(session, thu, _today())
    assert start is not None
    old = add_months(start, -20)
    paid = await say(runtime, HUNG_CHAT, payload=PayDues(nam.id or 0, old.year * 100 + old.month, 1, "yes").pack())
    assert "✅" in paid[0].text
    async with runtime.sessions() as session:
        assert await dues.first_recorded_month(session, nam.branch_id) == start
        assert await dues.unpaid_months(session, thu, _today()) == owed_before
        listed = await dues.collection(session, hung, nam.branch_id, add_months(start, -2), _today())
    assert listed.before_the_book and not any(line.owes for line in listed.lines)
    old_list = await _collection_of(runtime, hung, nam.branch_id, old)
    assert (old_list.paid_count, old_list.paid_for_month) == (1, 10_000)  # was "1/10 paid (0 đ)"
    before = (await say(runtime, HUNG_CHAT, payload=DuesBook(nam.branch_id, month_code(add_months(start, -2))).pack()))[
        0
    ]
    assert (
        vi("The branch's book in chibo begins in {month}: months before it are not counted.").format(
            month=f"{start:%m/%Y}"
        )
        in before.text
    )
    assert "Chưa đóng:" not in before.text


async def test_a_payment_cannot_skip_the_months_owed(runtime: Runtime, demo: Demo) -> None:
    """Outside tester: a hand-made button recorded twelve months ahead over three owed; the screens
    always start with the months owed, and the server now holds to it."""
    await say(runtime, HUNG_CHAT, f"/start {demo.code(HUNG)}")
    nam = await member_named(runtime, NAM)
    ahead = add_months(_current(), 1)
    for sure in (None, "yes"):
        refused = (await say(runtime, HUNG_CHAT, payload=PayDues(nam.id or 0, month_code(ahead), 12, sure).pack()))[0]
        owed = ", ".join(f"{m:%m/%Y}" for m in (add_months(_current(), -back) for back in (3, 2, 1)))
        assert (
            vi("The months still owed come first: {detail}. Please record those first.").format(detail=owed)
            in refused.text
        )
        assert button(refused, vi("{count} months").format(count=3))  # on the dues card: arrears first
    async with runtime.sessions() as session:
        assert not (await session.exec(select(DuesPayment).where(DuesPayment.month >= ahead))).all()


async def _collection_of(runtime: Runtime, actor: Member, branch_id: int, month: date) -> dues.Collection:
    async with runtime.sessions() as session:
        return await dues.collection(session, actor, branch_id, month, _today())
