"""The reports upward count the roster as it stood in their period (issue 18: "every number is
computed from the records"): a report of last month says the same after this month's changes, and
this month's report shows them. Months of dues owed follow the card's one rule."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.demo import DEMO_TIMEZONE
from bot.runtime import Runtime
from models import books, books_reports, dues
from models.books_reports import Period, Report
from models.dues import add_months
from models.membership import add_member, deactivate, move_member, promote, set_exempt
from models.tables import (
    AdmissionCandidate,
    DeactivationReason,
    DuesCategory,
    Meeting,
    MeetingKind,
    MeetingStatus,
    utcnow,
)
from tests.books import coded, commune_today, named
from tests.conftest import Demo

HUNG, QUANG = "Nguyễn Văn Hùng", "Lý Văn Quang"  # Đông's secretary (and the commune's), Tây's
TUAN_ADMITTED = date(2026, 8, 10)  # Đặng Văn Tuấn, Đông's probationary member (bot/demo.py)
DUNG = "Cao Văn Dũng"  # Tây, probationary, admitted 23/09/2025: probation over on 23/09/2026


async def _report(session: AsyncSession, code: str, period: Period) -> Report:
    hung = await named(session, HUNG)
    return await books_reports.branch_report(
        session, hung, await coded(session, code), period, DEMO_TIMEZONE, commune_today()
    )


MEMBERSHIP = ("members_start", "members_end", "official", "probationary", "exempt", "elsewhere", "admitted",
              "added", "made_official", "moved_in", "moved_out", "left", "probation_overdue")  # fmt: skip


def _membership(report: Report) -> dict[str, object]:
    return {key: getattr(report, key) for key in MEMBERSHIP}


async def test_last_months_report_is_unchanged_by_this_months_changes(runtime: Runtime, demo: Demo) -> None:
    """A member added, one transferred out, one removed, one moved to another branch, one away for a
    while and one exempted this month, a probationary member made official this month (his probation
    over since September), one arriving by transfer: last month's reports of both branches say what
    they said, this month's show every change; numbers by hand from bot/demo.py."""
    today = commune_today()
    this_month, last_month = Period.month(today), Period.month(add_months(today.replace(day=1), -1))
    tuan = int(last_month.last >= TUAN_ADMITTED)  # on Đông's roster by the end of last month
    async with runtime.sessions() as session, session.begin():  # a candidate introduced last month
        hai = await books.add_candidate(
            session, await named(session, HUNG), (await coded(session, "DONG")).id or 0, "Lương Văn Hải",
            "Trần Thị Lan", last_month.first, today=today,
        )  # fmt: skip
    async with runtime.sessions() as session:
        before = {code: await _report(session, code, last_month) for code in ("DONG", "TAY")}
    assert before["DONG"].candidates == {"Lương Văn Hải": None}  # introduced, no step done yet
    # Đông: eleven members (ten official, Tuấn probationary), two exempt (Minh and Thành).
    dong_last = {
        "members_start": 10 + int(last_month.first > TUAN_ADMITTED), "members_end": 10 + tuan, "official": 10,
        "probationary": tuan, "exempt": 2, "elsewhere": [], "admitted": ["Đặng Văn Tuấn"] * (
            last_month.first <= TUAN_ADMITTED <= last_month.last
        ), "added": [], "made_official": [], "moved_in": [], "moved_out": [], "left": {},
        "probation_overdue": [],
    }  # fmt: skip
    # Tây: ten members, Yến and Dũng probationary (Dũng's twelve months over, not yet made official),
    # Bình exempt.
    tay_last = {
        "members_start": 10, "members_end": 10, "official": 8, "probationary": 2, "exempt": 1, "elsewhere": [],
        "admitted": [], "added": [], "made_official": [], "moved_in": [], "moved_out": [], "left": {},
        "probation_overdue": [DUNG],
    }  # fmt: skip
    assert _membership(before["DONG"]) == dong_last
    assert _membership(before["TAY"]) == tay_last

    async with runtime.sessions() as session, session.begin():
        hung, quang = await named(session, HUNG), await named(session, QUANG)
        dong, tay = await coded(session, "DONG"), await coded(session, "TAY")
        await add_member(
            session, hung, dong.id or 0,
            {"full_name": "Hà Văn Mới", "date_admitted": date(2001, 5, 19), "date_official": date(2002, 5, 19)},
        )  # fmt: skip
        await books.transfer_out(session, hung, await named(session, "Dương Văn Long"), "Đảng bộ xã Bình An", today,
                                 today=today)  # fmt: skip
        await deactivate(session, hung, await named(session, "Ngô Thị Thu"), DeactivationReason.REMOVED, today)
        await move_member(session, hung, await named(session, "Bùi Thị Hương"), tay.id or 0)
        await books.transfer_temporary(
            session, hung, await named(session, "Hoàng Văn Nam"), "Chi bộ Công ty May 10", today,
            today + timedelta(days=90),
        )  # fmt: skip
        await set_exempt(session, hung, await named(session, "Vũ Thị Mai"), True)
        candidate = await session.get(AdmissionCandidate, hai.id)
        assert candidate is not None
        await books.record_step(session, hung, candidate, books.Step.CLASS, today, today=today)
        meeting = Meeting(
            branch_id=tay.id or 0, kind=MeetingKind.REGULAR, title="Sinh hoạt chi bộ", starts_at=utcnow(),
            audience={"branches": [tay.id]}, status=MeetingStatus.CALLED,
        )  # fmt: skip
        session.add(meeting)
        await session.flush()
        await promote(session, quang, await named(session, DUNG), today, vote=(7, 8), today=today, meeting=meeting)
        await books.transfer_in(
            session, quang, tay.id or 0,
            {"full_name": "Trần Văn Đến", "date_admitted": date(1999, 3, 2), "date_official": date(2000, 3, 2)},
            "Đảng bộ xã Tân Lập", today, today=today,
        )  # fmt: skip

    async with runtime.sessions() as session:
        after = {code: await _report(session, code, last_month) for code in ("DONG", "TAY")}
        now = {code: await _report(session, code, this_month) for code in ("DONG", "TAY")}
        hung = await named(session, HUNG)
        commune_last, _parts = await books_reports.commune_report(session, hung, last_month, DEMO_TIMEZONE, today)
    assert after == before  # every line, dues and warnings included
    assert commune_last.members_end == 10 + tuan + 10 + 9  # the school's nine as well
    # Đông this month: 11 + Mới − Long − Thu − Hương = 9; Tuấn still probationary; Mai exempt too.
    start = 10 + tuan
    assert _membership(now["DONG"]) == {
        "members_start": start, "members_end": start + 1 - 3, "official": start - 3 - tuan + 1,
        "probationary": tuan, "exempt": 3, "elsewhere": ["Hoàng Văn Nam"], "admitted": [],
        "added": ["Hà Văn Mới"], "made_official": [], "moved_in": [], "moved_out": ["Bùi Thị Hương", "Dương Văn Long"],
        "left": {DeactivationReason.REMOVED: ["Ngô Thị Thu"]},
        "probation_overdue": [],
    }  # fmt: skip
    # Tây this month: 10 + Hương + Đến = 12, Dũng official: only Yến probationary.
    assert _membership(now["TAY"]) == {
        "members_start": 10, "members_end": 12, "official": 11, "probationary": 1, "exempt": 1, "elsewhere": [],
        "admitted": [], "added": [], "made_official": [DUNG], "moved_in": ["Bùi Thị Hương", "Trần Văn Đến"],
        "moved_out": [], "left": {}, "probation_overdue": [],
    }  # fmt: skip
    assert now["DONG"].candidates == {"Lương Văn Hải": books.Step.CLASS}
    assert now["TAY"].promoted_at == {DUNG: today}  # the day of the meeting that voted, for the Excel file


async def test_the_report_counts_months_owed_by_the_cards_rule(runtime: Runtime, demo: Demo) -> None:
    """A member owes dues from the day they came on the branch's roster (the card's rule, one
    function): one arriving by transfer two months ago owes those two months on his card, in the
    reports of those months and in the warning of this month's report, and nothing before; one
    added today with an old admission owes nothing. Was: the report counted from the book's first
    month, twelve months, and warned of both."""
    today = commune_today()
    current = today.replace(day=1)
    arrived = add_months(current, -2).replace(day=5)
    async with runtime.sessions() as session, session.begin():
        hung = await named(session, HUNG)
        dong = await coded(session, "DONG")
        den = await books.transfer_in(
            session, hung, dong.id or 0,
            {"full_name": "Trần Văn Đến", "date_admitted": date(1999, 3, 2), "date_official": date(2000, 3, 2)},
            "Đảng bộ xã Tân Lập", arrived, today=today,
        )  # fmt: skip
        moi = await add_member(
            session, hung, dong.id or 0,
            {"full_name": "Hà Văn Mới", "date_admitted": date(2001, 5, 19), "date_official": date(2002, 5, 19)},
        )  # fmt: skip
        for member in (den, moi):
            await dues.set_category(session, hung, member, DuesCategory.OTHER)
    async with runtime.sessions() as session:
        den, moi = await named(session, "Trần Văn Đến"), await named(session, "Hà Văn Mới")
        card = await dues.unpaid_months(session, den, today, DEMO_TIMEZONE)
        assert card == [add_months(current, -2), add_months(current, -1)]
        assert await dues.unpaid_months(session, moi, today, DEMO_TIMEZONE) == []
        reports = {
            back: await _report(session, "DONG", Period.month(add_months(current, -back))) for back in (0, 1, 2, 3)
        }
    assert reports[2].unpaid.get("Trần Văn Đến") == 1 and reports[1].unpaid.get("Trần Văn Đến") == 1
    assert "Trần Văn Đến" not in reports[3].unpaid and reports[3].members_end == reports[2].members_start
    assert reports[2].moved_in == ["Trần Văn Đến"] and reports[2].members_end == reports[2].members_start + 1
    # This month's warning counts the card's two months, not twelve; Mới is warned of nothing.
    assert reports[0].warnings["Trần Văn Đến"] == (0, len(card))
    assert "Hà Văn Mới" not in reports[0].warnings and "Hà Văn Mới" not in reports[0].unpaid

    # Last month's dues due, against those of the month before his arrival: his 10,000 more (and
    # Tuấn's, owed from the month of his admission, in one and not the other).
    def tuan(back: int) -> int:
        return 10_000 * (add_months(current, -back) >= TUAN_ADMITTED.replace(day=1))

    assert reports[1].dues_expected - reports[3].dues_expected == 10_000 + tuan(1) - tuan(3)
