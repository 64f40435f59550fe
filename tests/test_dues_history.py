"""Dues figures as they stood: a change of category does not rewrite past months, a member who
moves branch is counted paid where the month was owed and cashed where the money was handed in,
a member who left owes (and pays) nothing after, and a transfer out is "chuyển sinh hoạt đi" in a
report whose rows are the same every period. Figures by hand from bot/demo.py."""

from __future__ import annotations

import base64
import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.demo import DEMO_TIMEZONE
from bot.demo_books import seed_demo_books
from bot.runtime import Runtime
from handlers.dues.actions import BooksReport
from models import books_reports, dues
from models.books_reports import Period, Report
from models.dues import DuesError, DuesProblem, add_months
from models.membership import move_member
from models.tables import DuesCategory, DuesPayment
from tests.books import coded, commune_today, named
from tests.chat import say, vi
from tests.conftest import Demo

HUNG, QUANG, LONG, NAM, HOA, KHANH, LOAN = (
    "Nguyễn Văn Hùng", "Lý Văn Quang", "Dương Văn Long", "Hoàng Văn Nam", "Phạm Thị Hoa", "Đinh Văn Khánh",
    "Phan Thị Loan",
)  # fmt: skip
QUANG_CHAT = 402
# Đông's month by hand: Hùng 1% of 8,000,000, Lan 1% of 2,500,000, Minh and Thành 0.5% of 4,000,000,
# and seven members at 10,000 (Hoa, Nam, Mai, Tuấn, Hương, Thu, Long).
DONG_MONTH = 80_000 + 25_000 + 2 * 20_000 + 7 * 10_000
# Tây's: Quang 1% of 7,000,000, Bình (elderly) and Dũng (student) 5,000, the seven others 10,000.
TAY_MONTH = 70_000 + 2 * 5_000 + 7 * 10_000


async def _report(session: AsyncSession, code: str, month: date) -> Report:
    hung = await named(session, HUNG)
    branch = await coded(session, code)
    return await books_reports.branch_report(session, hung, branch, Period.month(month), DEMO_TIMEZONE, commune_today())


async def test_a_new_category_counts_from_now_and_never_rewrites_past_months(runtime: Runtime, demo: Demo) -> None:
    """Setting Long to a salary of 12,500,000 today: last month (paid 10,000) is still due 10,000 and
    the branch's "due" stays 215,000; this month is due 125,000; Nam's months behind are charged at
    his category of then; Hoa exempted from today still owed last month. Was: every month at today's
    category (330,000 due last month, and Hoa's months gone)."""
    today = commune_today()
    current, last = today.replace(day=1), add_months(today.replace(day=1), -1)
    async with runtime.sessions() as session, session.begin():
        hung = await named(session, HUNG)
        before = await dues.collection(session, hung, (await coded(session, "DONG")).id or 0, last, today)
        await dues.set_category(session, hung, await named(session, LONG), DuesCategory.SALARY, 12_500_000)
        await dues.set_category(session, hung, await named(session, NAM), DuesCategory.SALARY, 5_000_000)
        await dues.set_category(session, hung, await named(session, HOA), DuesCategory.EXEMPT)
    async with runtime.sessions() as session, session.begin():
        hung, dong = await named(session, HUNG), await coded(session, "DONG")
        book = {
            m: await dues.collection(session, hung, dong.id or 0, m, today, tz=DEMO_TIMEZONE) for m in (last, current)
        }
        amounts = {m: {line.member.full_name: line.amount for line in b.lines} for m, b in book.items()}
        report = await _report(session, "DONG", last)
        nam = await named(session, NAM)
        behind = [add_months(current, -back) for back in (3, 2, 1)]  # the demo's months Nam left unpaid
        paid = await dues.record_payment(session, hung, nam, [*behind, current], paid_on=today, tz=DEMO_TIMEZONE)
    assert before.expected == DONG_MONTH == 215_000
    assert amounts[last][LONG] == 10_000 and amounts[current][LONG] == 125_000
    assert book[last].expected == DONG_MONTH and report.dues_expected == DONG_MONTH
    assert [line.owes for line in book[last].lines if line.member.full_name == HOA] == [True]
    # This month: Long 125,000, Nam 50,000, Hoa nothing, the rest as before.
    assert book[current].expected == DONG_MONTH - 3 * 10_000 + 125_000 + 50_000
    assert [p.amount for p in paid] == [10_000, 10_000, 10_000, 50_000]


async def test_a_member_who_moves_is_paid_where_the_month_is_owed_and_cashed_where_he_paid(
    runtime: Runtime, demo: Demo
) -> None:
    """Khánh pays this month in Tây, then moves to Đông: this month is Đông's (he is on its roster at
    its end) and paid, on the list, in the report and in the commune's; the cash is Tây's, that took
    it. Was: Đông's report counted only the payments Đông took, so it listed him unpaid."""
    today = commune_today()
    current = today.replace(day=1)
    async with runtime.sessions() as session, session.begin():
        hung, quang = await named(session, HUNG), await named(session, QUANG)
        khanh = await named(session, KHANH)
        await dues.record_payment(session, quang, khanh, [current], paid_on=today, tz=DEMO_TIMEZONE)
        await move_member(session, hung, khanh, (await coded(session, "DONG")).id or 0)
    async with runtime.sessions() as session:
        hung = await named(session, HUNG)
        lists, reports = {}, {}
        for code in ("DONG", "TAY"):
            branch_id = (await coded(session, code)).id or 0
            lists[code] = await dues.collection(session, hung, branch_id, current, today, tz=DEMO_TIMEZONE)
            reports[code] = await _report(session, code, current)
        commune, _parts = await books_reports.commune_report(session, hung, Period.month(current), DEMO_TIMEZONE, today)
    assert [line.paid is not None for line in lists["DONG"].lines if line.member.full_name == KHANH] == [True]
    assert KHANH not in {line.member.full_name for line in lists["TAY"].lines}
    # Nobody else has paid this month yet (the demo pays the months before it).
    assert (lists["DONG"].paid_for_month, lists["DONG"].collected) == (10_000, 0)
    assert (reports["DONG"].dues_paid, reports["DONG"].dues_collected) == (10_000, 0)
    assert reports["DONG"].dues_expected == DONG_MONTH + 10_000
    assert (lists["TAY"].paid_for_month, lists["TAY"].collected) == (0, 10_000)
    assert (reports["TAY"].dues_paid, reports["TAY"].dues_collected) == (0, 10_000)
    assert reports["TAY"].dues_expected == TAY_MONTH - 10_000
    assert (commune.dues_paid, commune.dues_collected) == (10_000, 10_000)


async def test_a_member_transferred_out_owes_and_pays_nothing_after_and_is_moved_out(
    runtime: Runtime, demo: Demo
) -> None:
    """The demo's books: Loan transferred out on the 15th four months ago. Her months from then are
    neither owed nor paid (was: the demo's payments for them, 150,000 paid of 140,000 due), and the
    report of that quarter counts her in "Chuyển sinh hoạt đi" (was: 0 there, and an extra row "Ra
    khỏi danh sách: chuyển sinh hoạt đảng" shown only when not 0); every row is in every period's
    form, 0 where nothing happened."""
    today = commune_today()
    left = add_months(today.replace(day=1), -4)
    async with runtime.sessions() as session, session.begin():
        await seed_demo_books(session, DEMO_TIMEZONE, today=today)
    async with runtime.sessions() as session:
        loan = await named(session, LOAN)
        after = (
            await session.exec(
                select(DuesPayment).where(DuesPayment.member_id == loan.id, col(DuesPayment.month) >= left)
            )
        ).all()
        month_after = await _report(session, "TAY", add_months(left, 1))
        tay = (await coded(session, "TAY")).id or 0
        # Nor can the collector record one: she is off the roster.
        with pytest.raises(DuesError) as refused:
            quang = await named(session, QUANG)
            await dues.record_payment(session, quang, loan, [add_months(left, 1)], paid_on=today)
        assert refused.value.problem is DuesProblem.INACTIVE
    assert loan.deactivated_on == left.replace(day=15) and after == []
    # Nine members left on the roster, all paid on the 15th of the month.
    assert (month_after.dues_expected, month_after.dues_paid, month_after.dues_collected) == (TAY_MONTH - 10_000,) * 3

    await say(runtime, QUANG_CHAT, f"/start {demo.code(QUANG)}")

    async def rows(month: date) -> dict[object, tuple[object, object]]:
        code = month.year * 100 + month.month
        reply = (await say(runtime, QUANG_CHAT, payload=BooksReport(tay, "q", code, True).pack()))[0]
        assert reply.document is not None and reply.document.inline is not None
        sheet = load_workbook(io.BytesIO(base64.b64decode(reply.document.inline))).active
        assert sheet is not None
        return {row[1]: (row[2], row[3]) for row in sheet.iter_rows(min_row=7, values_only=True)}

    quarter, earlier = await rows(left), await rows(add_months(left, -3))
    assert quarter[vi("Moved out")] == (1, LOAN)
    prefix = vi("Left the roster: {reason}").split("{")[0]
    departures = {item: number for item, (number, _note) in quarter.items() if str(item).startswith(prefix)}
    # Removed, expelled, resigned, died: each its row, 0; a transfer out is not one of them.
    assert list(departures.values()) == [0, 0, 0, 0]
    assert not any(vi("transferred to another Party organisation") in str(item) for item in departures)
    assert list(quarter) == list(earlier)  # the same form every period
