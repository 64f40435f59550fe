"""Đảng phí, Sổ sách and Báo cáo on the secretary's desk: the same figures as the chat's answers (the
desk calls the same domain functions), a payment recorded once through the chat's rules and audit,
the same Excel workbooks, and each reader seeing what the permission table allows."""

from __future__ import annotations

import base64
import io
import re
from datetime import date, timedelta
from typing import Literal

from fastapi import FastAPI
from markupsafe import escape
from openpyxl import load_workbook
from sqlalchemy import update
from sqlmodel import col, select

from handlers.dues.actions import BooksReport, DuesBook
from handlers.dues.words import months_label
from handlers.menus import MyDues
from models import books
from models.audience import Audience
from models.audit import AuditAction
from models.dues import add_months
from models.membership import deactivate
from models.tables import (
    Attendance,
    AuditEvent,
    Branch,
    DeactivationReason,
    DuesPayment,
    Meeting,
    MeetingInvitation,
    MeetingStatus,
    Member,
    OutboxMessage,
    utcnow,
)
from models.vietnamese import name_key, text_key
from tests.chat import say, vi
from tests.conftest import Demo, member_named
from tests.desk import anonymous_client, app_runtime, desk_client, sign_in_link

HUNG, LAN, NAM, LONG = "Nguyễn Văn Hùng", "Trần Thị Lan", "Hoàng Văn Nam", "Dương Văn Long"  # Chi bộ thôn Đông
QUANG, LOAN = "Lý Văn Quang", "Phan Thị Loan"  # Chi bộ thôn Tây
# Hùng is Đông's secretary and the commune committee's; Lan Đông's deputy; Long a plain member;
# Quang Tây's secretary. Nam owes the last three months.
HUNG_CHAT, NAM_CHAT = 400, 401
BRANCHES = ("Chi bộ thôn Đông", "Chi bộ thôn Tây", "Chi bộ Trường Tiểu học Tân Hòa")


def _current(app: FastAPI) -> tuple[int, int]:
    today = utcnow().astimezone(app_runtime(app).settings.tz).date()
    return today.year, today.month


def _month(app: FastAPI, back: int = 0) -> str:
    year, month = _current(app)
    return add_months(utcnow().date().replace(year=year, month=month, day=1), -back).strftime("%Y-%m")


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đ"


async def test_each_reader_sees_what_the_permission_table_allows(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    nam, long = await member_named(runtime, NAM), await member_named(runtime, LONG)
    tay = (await member_named(runtime, QUANG)).branch_id
    dong = nam.branch_id
    own = ("/desk/dues", "/desk/books", "/desk/reports", "/desk/reports/badges")
    async with anonymous_client(desk_app) as stranger:
        for page in (*own, f"/desk/dues/members/{nam.id}/pay"):
            assert (await stranger.get(page)).status_code == 401, page
        assert (await stranger.post(f"/desk/dues/members/{nam.id}/pay", data={"count": "1"})).status_code == 401
        # A plain member has no desk: the refusal page, and nothing after it.
        refused = await stranger.post(await sign_in_link(desk_app, long))
        assert refused.status_code == 403 and NAM not in refused.text
        assert (await stranger.get("/desk/dues")).status_code == 401
    async with desk_client(desk_app, await member_named(runtime, QUANG)) as other:  # another branch's secretary
        for page in (
            f"/desk/dues?branch={dong}",
            f"/desk/dues?branch={dong}&format=xlsx",
            f"/desk/books?branch={dong}",
            f"/desk/reports?branch={dong}",
            f"/desk/reports?branch={dong}&format=xlsx",
            "/desk/reports?branch=0",  # the commune's: its committee's secretary only
            f"/desk/dues/members/{nam.id}/pay",
        ):
            answer = await other.get(page)
            assert answer.status_code == 404 and NAM not in answer.text, page
        posted = await other.post(f"/desk/dues/members/{nam.id}/pay", {"first": _month(desk_app), "count": "1"})
        assert posted.status_code == 404
        mine = await other.get("/desk/dues")
        assert mine.status_code == 200 and LOAN in mine.text and NAM not in mine.text
        assert BRANCHES[0] not in (await other.get("/desk/reports/badges")).text
        assert BRANCHES[1] in (await other.get("/desk/reports")).text
    async with desk_client(desk_app, await member_named(runtime, LAN)) as deputy:  # the branch's deputy secretary
        for page in own:
            assert (await deputy.get(page)).status_code == 200, page
        assert NAM in (await deputy.get("/desk/dues")).text
        assert (await deputy.get(f"/desk/dues?branch={tay}")).status_code == 404
        assert (await deputy.get(f"/desk/books?branch={tay}")).status_code == 404
        assert (await deputy.get("/desk/reports?branch=0")).status_code == 404
    async with desk_client(desk_app, await member_named(runtime, HUNG)) as commune:
        totals = (await commune.get("/desk/dues")).text
        assert all(name in totals for name in BRANCHES) and vi("Commune total") in totals
        assert LOAN in (await commune.get(f"/desk/dues?branch={tay}")).text
        assert (await commune.get(f"/desk/books?branch={tay}")).status_code == 200
        report = (await commune.get("/desk/reports")).text  # the whole commune first, a column per branch
        assert all(f'<th scope="col" class="num">{name}</th>' in report for name in BRANCHES)
    async with runtime.sessions() as session:
        refusals = (await session.exec(select(AuditEvent).where(col(AuditEvent.action) == AuditAction.REFUSED))).all()
    assert refusals  # another branch's data asked for is audited as the chat's refusals are


async def test_a_payment_on_the_desk_is_the_chats_and_a_second_submit_records_nothing(
    desk_app: FastAPI, demo: Demo
) -> None:
    runtime = app_runtime(desk_app)
    nam, lan = await member_named(runtime, NAM), await member_named(runtime, LAN)
    await say(runtime, NAM_CHAT, f"/start {demo.code(NAM)}")
    before = (await say(runtime, NAM_CHAT, payload=MyDues().pack()))[0].text
    year, month = _current(desk_app)
    this = utcnow().date().replace(year=year, month=month, day=1)
    owed = [add_months(this, -back) for back in (3, 2, 1)]
    assert vi("Months unpaid in the last 12: {count} ({months})").format(count=3, months=months_label(owed)) in before
    async with desk_client(desk_app, lan) as desk:
        listed = (await desk.get("/desk/dues")).text
        assert f"3 ({months_label(owed)})" in listed
        # The month is typed as people write it (was: the browser's picker, in its own language).
        assert f'name="month" value="{this:%m/%Y}"' in listed and 'type="month"' not in listed
        typed = (await desk.get(f"/desk/dues?month={owed[0].month}/{owed[0].year}")).text
        assert f'name="month" value="{owed[0]:%m/%Y}"' in typed
        confirm = await desk.get(f"/desk/dues/members/{nam.id}/pay?count=3")
        assert confirm.status_code == 200 and "30.000 đ" in confirm.text and months_label(owed) in confirm.text
        skipping = await desk.post(f"/desk/dues/members/{nam.id}/pay", {"first": f"{this:%Y-%m}", "count": "1"})
        assert "Các tháng còn nợ phải ghi trước" in skipping.text  # a hand-made form cannot skip the months owed
        form = {"first": owed[0].strftime("%Y-%m"), "count": "3"}
        done = await desk.post(f"/desk/dues/members/{nam.id}/pay", form)
        assert done.status_code == 303
        after = (await desk.get(done.headers["location"])).text
        done_note = vi("Recorded: comrade {name} paid the party dues of {months}: {amount}.")
        assert str(escape(done_note.format(name=NAM, months=months_label(owed), amount="30.000 đ"))) in after
        assert f"3 ({months_label(owed)})" not in after
        again = await desk.post(f"/desk/dues/members/{nam.id}/pay", form)  # the same form sent twice
        already = vi("Already recorded as paid: {detail}. Nothing was recorded twice.")
        # The first click saved it: news, not an error.
        assert again.status_code == 200 and vi("Recorded earlier") in again.text
        assert vi("Nothing was saved") not in again.text
        assert str(escape(already.format(detail=", ".join(f"{m.month:02d}/{m.year}" for m in owed)))) in again.text
        forged = await desk.post(f"/desk/dues/members/{nam.id}/pay", {"first": "2026-13", "count": "1"})
        assert forged.status_code == 422
    mine = (await say(runtime, NAM_CHAT, payload=MyDues().pack()))[0].text
    assert vi("No month unpaid in the last 12.") in mine
    async with runtime.sessions() as session:
        paid = (await session.exec(select(DuesPayment).where(DuesPayment.member_id == nam.id))).all()
        events = (await session.exec(select(AuditEvent).where(AuditEvent.action == AuditAction.DUES_PAID))).all()
        receipts = (await session.exec(select(OutboxMessage).where(OutboxMessage.member_id == nam.id))).all()
    assert sorted(p.month for p in paid if p.month >= owed[0]) == owed
    assert len(events) == 1 and events[0].actor_member_id == lan.id and events[0].subject_id == nam.id
    assert events[0].after is not None and events[0].after["amount"] == "30.000"
    assert len(receipts) == 1 and "30.000 đ" in str(receipts[0].body["text"])  # Nam is told, as from the chat


async def test_a_payment_form_not_exactly_as_sent_is_refused_with_the_sentence(desk_app: FastAPI, demo: Demo) -> None:
    """Months and counts typed into the form by hand: digits that are not ASCII ("²", "٣"), a
    count too large (not cut to "10"), a month past 9999 or with trailing junk: refused with the
    chat's sentence, a page (422), never a 500; nothing recorded."""
    runtime = app_runtime(desk_app)
    nam, lan = await member_named(runtime, NAM), await member_named(runtime, LAN)
    sentence = vi("Dues are recorded for 1 to 12 months at a time, from three years back to a year ahead.")
    first = _month(desk_app, 3)
    url = f"/desk/dues/members/{nam.id}/pay"
    async with desk_client(desk_app, lan) as desk:
        for count in ("²", "٣", "100", "0", "13", " 3", "+3", "3_0", "", "9" * 5000):
            confirm = await desk.get(url, params={"count": count})
            assert confirm.status_code == 422 and sentence in confirm.text, count
            posted = await desk.post(url, {"first": first, "count": count})
            assert posted.status_code == 422 and sentence in posted.text, count
        for month in ("9999-12", "0001-01", f"{first}x", f"{first}-01", first.replace("-", "/"), "٢٠٢٦-٠١"):
            posted = await desk.post(url, {"first": month, "count": "1"})
            assert posted.status_code == 422 and sentence in posted.text, month
        assert (await desk.get(url, params={"count": "3"})).status_code == 200
    async with runtime.sessions() as session:
        events = (await session.exec(select(AuditEvent).where(AuditEvent.action == AuditAction.DUES_PAID))).all()
    assert events == []


def _sheet_rows(content: bytes) -> list[tuple[object, ...]]:
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))


async def test_the_excel_files_add_up_as_the_chat_says(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    hung = await member_named(runtime, HUNG)
    await say(runtime, HUNG_CHAT, f"/start {demo.code(HUNG)}")
    last = _month(desk_app, 1)
    code = int(last.replace("-", ""))
    chat = (await say(runtime, HUNG_CHAT, payload=DuesBook(hung.branch_id, code).pack()))[0].text
    commune_chat = (await say(runtime, HUNG_CHAT, payload=DuesBook(0, code).pack()))[0].text
    async with desk_client(desk_app, hung) as desk:
        branch_file = await desk.get(f"/desk/dues?branch={hung.branch_id}&month={last}&format=xlsx")
        commune_file = await desk.get(f"/desk/dues?month={last}&format=xlsx")
        # The form's "whole commune" with a typed month (was: branch= sent, a 400 page).
        typed = f" {last[5:]} / {last[:4]} "
        chosen = await desk.get("/desk/dues", params={"branch": "0", "month": typed})
        assert chosen.status_code == 200 and vi("Commune total") in chosen.text
        assert f'name="month" value="{last[5:]}/{last[:4]}"' in chosen.text
    rows = {row[1]: row[3] for row in _sheet_rows(branch_file.content) if len(row) > 3}
    collected = rows[vi("Cash collected in the period (VND)")]
    passed = rows[vi("To pass to the Party committee (VND)")]
    assert isinstance(collected, int) and isinstance(passed, int) and collected > 0
    said = vi("Cash collected in the month: {amount} (months ahead and behind included)")
    assert said.format(amount=_vnd(collected)) in chat
    assert _vnd(passed) in chat and NAM in str(_sheet_rows(branch_file.content))
    (total,) = [row for row in _sheet_rows(commune_file.content) if row[0] == vi("Commune total")]
    sums = vi("Commune total: collected {collected}; branches pass up {passed}")
    assert sums.format(collected=_vnd(int(str(total[4]))), passed=_vnd(int(str(total[6])))) in commune_chat


async def test_the_badges_column_says_when_the_years_are_reached(desk_app: FastAPI, demo: Demo) -> None:
    """The day a badge's years of membership are reached, not "Liên lạc qua" (how a member is
    reached, on their record), on the page and in its Excel file."""
    runtime = app_runtime(desk_app)
    year = _current(desk_app)[0] + 1
    async with runtime.sessions() as session, session.begin():
        await session.exec(
            update(Member).where(col(Member.full_name) == NAM).values(date_admitted=date(year - 30, 3, 2))
        )
    column = vi("Years of membership reached on")
    assert column == "Ngày tròn tuổi Đảng"
    async with desk_client(desk_app, await member_named(runtime, HUNG)) as desk:
        page = (await desk.get("/desk/reports/badges")).text
        workbook = _sheet_rows((await desk.get("/desk/reports/badges?format=xlsx")).content)
    assert NAM in page and f'<th scope="col">{column}</th>' in page and vi("Reached on") not in page
    assert column in workbook[3] and vi("Reached on") not in workbook[3]


async def test_a_report_page_has_the_chats_numbers(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    hung = await member_named(runtime, HUNG)
    await say(runtime, HUNG_CHAT, f"/start {demo.code(HUNG)}")
    last = _month(desk_app, 1)
    code = int(last.replace("-", ""))
    periods: tuple[tuple[int, Literal["m", "q"]], ...] = ((hung.branch_id, "m"), (0, "q"))
    for branch, period in periods:
        reply = (await say(runtime, HUNG_CHAT, payload=BooksReport(branch, period, code, True).pack()))[0]
        assert reply.document is not None and reply.document.inline is not None
        chat_file = base64.b64decode(reply.document.inline)
        chat_rows = {row[1]: row[2] for row in _sheet_rows(chat_file)[6:]}
        async with desk_client(desk_app, hung) as desk:
            page = (await desk.get(f"/desk/reports?branch={branch}&period={period}&month={last}")).text
            desk_file = await desk.get(f"/desk/reports?branch={branch}&period={period}&month={last}&format=xlsx")
        assert desk_file.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert {row[1]: row[2] for row in _sheet_rows(desk_file.content)[6:]} == chat_rows
        assert len(chat_rows) > 15
        for item, number in chat_rows.items():
            shown = f"{number:,}".replace(",", ".") if isinstance(number, int) else str(number)
            assert f'<th scope="row">{escape(item)}</th><td class="num">{shown}</td>' in page, item
        assert vi("COMMUNIST PARTY OF VIETNAM") in page
    assert vi("Branches") in page  # the commune's quarter: a table with a column per branch


async def test_the_books_of_a_branch_as_the_chat_keeps_them(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    hung, lan = await member_named(runtime, HUNG), await member_named(runtime, LAN)
    tz = runtime.settings.tz
    started = utcnow() - timedelta(hours=1)
    async with runtime.sessions() as session, session.begin():
        dong = await session.get(Branch, hung.branch_id)
        assert dong is not None
        members = list(
            (await session.exec(select(Member).where(Member.branch_id == dong.id).order_by(col(Member.id)))).all()
        )
        meeting = Meeting(
            branch_id=dong.id, title="Sinh hoạt chi bộ thôn Đông", starts_at=started,
            audience=Audience(branches=(dong.id or 0,)).to_json(), status=MeetingStatus.CALLED, called_at=started,
        )  # fmt: skip
        session.add(meeting)
        await session.flush()
        for member in members:
            session.add(
                MeetingInvitation(meeting_id=meeting.id or 0, member_id=member.id or 0, attendance=Attendance.PRESENT)
            )
        await session.flush()
        await books.record_resolution(session, hung, meeting, ["Làm đường bê tông thôn", "Thu quỹ khuyến học"], tz)
        vote = await books.record_hand_vote(session, hung, meeting, "Thông qua nghị quyết", 7, 1)
        thu = next(m for m in members if m.full_name == "Ngô Thị Thu")
        today = utcnow().astimezone(tz).date()
        await books.transfer_temporary(session, hung, thu, "Chi bộ Công ty May", today, today + timedelta(days=90))
        await books.add_candidate(session, hung, dong.id or 0, "Lương Văn Hải", "Bùi Thị Hương", today, today=today)
    month = started.astimezone(tz).strftime("%Y-%m")
    async with desk_client(desk_app, lan) as desk:
        page = (await desk.get(f"/desk/books?month={month}")).text
    year = started.astimezone(tz).year
    assert vi("Resolution no. {label}:").format(label=f"01-NQ/CB, tháng {started.astimezone(tz).month}/{year}") in page
    assert "<li>Làm đường bê tông thôn</li>" in page and "Thông qua nghị quyết" in page
    assert vote.base == 10  # Đông's official members, all present (its probationary member does not vote)
    assert vi("adopted: {votes}/{base} in favour").format(votes=7, base=10) in page
    assert "Chi bộ Công ty May" in page and vi("Temporary transfer (stays on the roster)") in page
    assert "Lương Văn Hải" in page and vi("Course on the Party") in page
    assert "Đặng Văn Tuấn" in page  # probationary, with the day their probation ends
    assert re.search(vi("No thematic meeting in quarter {quarter}/{year}.").split("{")[0], page)


async def test_the_commune_report_matches_each_branch_row_by_row(desk_app: FastAPI, demo: Demo) -> None:
    """A departure in one branch only: its reason is a row the other branches lack, and every row after
    it kept its own numbers (was, in the chat's workbook too: the next row's number shown for them)."""
    runtime = app_runtime(desk_app)
    hung, loan = await member_named(runtime, HUNG), await member_named(runtime, LOAN)
    last = _month(desk_app, 1)
    async with runtime.sessions() as session, session.begin():
        member = await session.get(Member, loan.id)
        assert member is not None
        await deactivate(session, hung, member, DeactivationReason.DIED, date.fromisoformat(f"{last}-10"))
    await say(runtime, HUNG_CHAT, f"/start {demo.code(HUNG)}")
    reply = (await say(runtime, HUNG_CHAT, payload=BooksReport(0, "m", int(last.replace("-", "")), True).pack()))[0]
    assert reply.document is not None and reply.document.inline is not None
    sheet = load_workbook(io.BytesIO(base64.b64decode(reply.document.inline)))[vi("Branches")]
    rows: dict[object, tuple[object, ...]] = {row[0]: row[1:4] for row in sheet.iter_rows(min_row=2, values_only=True)}
    departed = vi("Left the roster: {reason}").format(reason=vi("died"))
    assert rows[departed] == (0, 1, 0)  # Đông, Tây, Trường
    assert rows[vi("Members at the end of the period")] == (11, 9, 9)
    code = int(last.replace("-", ""))
    async with runtime.sessions() as session:
        branch_ids = [b.id or 0 for b in (await session.exec(select(Branch).order_by(col(Branch.id)))).all()]
    for column, branch_id in enumerate(branch_ids):
        own_reply = (await say(runtime, HUNG_CHAT, payload=BooksReport(branch_id, "m", code, True).pack()))[0]
        assert own_reply.document is not None and own_reply.document.inline is not None
        own = {row[1]: row[2] for row in _sheet_rows(base64.b64decode(own_reply.document.inline))[6:]}
        # Each branch's column is that branch's own report, row by row.
        assert {item: rows[item][column] for item in own} == own, branch_id
    async with desk_client(desk_app, hung) as desk:
        page = (await desk.get(f"/desk/reports?branch=0&period=m&month={last}")).text
    assert f'<th scope="row">{escape(departed)}</th><td class="num">0</td><td class="num">1</td>' in page


async def test_the_dues_list_and_the_branches_are_in_dictionary_order(desk_app: FastAPI, demo: Demo) -> None:
    """Registers list people by given name, then middle name, then surname (Vietnamese order), and
    branches as the branch picker does: the page, its Excel file and the commune's table alike."""
    runtime = app_runtime(desk_app)
    hung = await member_named(runtime, HUNG)
    async with runtime.sessions() as session:
        names = [
            m.full_name for m in (await session.exec(select(Member).where(Member.branch_id == hung.branch_id))).all()
        ]
    expected = sorted(names, key=name_key)
    assert expected != sorted(names)  # the demo branch's names tell the two orders apart
    async with desk_client(desk_app, hung) as desk:
        page = (await desk.get(f"/desk/dues?branch={hung.branch_id}")).text.split(vi("Collection list"))[1]
        book = await desk.get(f"/desk/dues?branch={hung.branch_id}&format=xlsx")
        commune = (await desk.get("/desk/dues")).text.split('<table class="branches">')[1]
    listed = [row[1] for row in _sheet_rows(book.content) if row and row[1] in names]
    assert listed == [n for n in expected if n in listed] and len(listed) >= 4
    on_page = [page.index(str(escape(name))) for name in listed]
    assert on_page == sorted(on_page)
    positions = [commune.index(branch) for branch in sorted(BRANCHES, key=text_key)]
    assert positions == sorted(positions)


async def test_the_dues_files_read_as_an_office_paper(desk_app: FastAPI, demo: Demo) -> None:
    """A heading (month, committee, branch), a named sheet, the branch and month in the file's name;
    money with its thousands grouped and days shown dd/mm/yyyy, still numbers and dates; the
    commune's total filled in every numeric column."""
    runtime = app_runtime(desk_app)
    hung = await member_named(runtime, HUNG)
    last = _month(desk_app, 1)
    year, month = int(last[:4]), int(last[5:])
    async with desk_client(desk_app, hung) as desk:
        branch_file = await desk.get(f"/desk/dues?branch={hung.branch_id}&month={last}&format=xlsx")
        commune_file = await desk.get(f"/desk/dues?month={last}&format=xlsx")
    assert f"dang-phi-chi-bo-thon-dong-{last}.xlsx" in branch_file.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(branch_file.content)).active
    assert sheet is not None
    assert sheet.title == vi("Party dues {month}").format(month=f"{month:02d}-{year}")
    heading = [row[0].value for row in sheet.iter_rows(max_row=3)]
    assert heading[0] == vi("PARTY DUES COLLECTION LIST OF {month}").format(month=f"{month:02d}/{year}")
    assert BRANCHES[0] in heading
    paid = [row for row in sheet.iter_rows() if isinstance(row[4].value, date)]
    assert paid and all(row[4].number_format == "dd/mm/yyyy" and row[3].number_format == "#,##0" for row in paid)
    commune = load_workbook(io.BytesIO(commune_file.content)).active
    assert commune is not None
    [total] = [row for row in commune.iter_rows(values_only=True) if row[0] == vi("Commune total")]
    assert all(isinstance(value, int) for value in total[1:])


async def test_a_period_not_over_says_so_and_a_month_to_come_is_not_shown_silently(
    desk_app: FastAPI, demo: Demo
) -> None:
    runtime = app_runtime(desk_app)
    hung = await member_named(runtime, HUNG)
    this, ahead = _month(desk_app), _month(desk_app, -2)
    as_of = vi("Figures as of {day}").split("{")[0]
    notice = vi("Only months up to the current one can be shown: this is {month}.").format(
        month=f"{this[5:]}/{this[:4]}"
    )
    async with desk_client(desk_app, hung) as desk:
        running = (await desk.get(f"/desk/reports?branch={hung.branch_id}&month={this}")).text
        over = (await desk.get(f"/desk/reports?branch={hung.branch_id}&month={_month(desk_app, 1)}")).text
        future = (await desk.get(f"/desk/reports?branch={hung.branch_id}&month={ahead}")).text
        future_dues = (await desk.get(f"/desk/dues?branch={hung.branch_id}&month={ahead}")).text
    assert as_of in running and as_of not in over
    assert str(escape(notice)) in future and str(escape(notice)) in future_dues
    assert str(escape(notice)) not in running
    # The usual form: the number to fill in, and the secretary's signature.
    assert vi("No. ……-BC/CB") in over and vi("FOR THE BRANCH") in over and vi("SECRETARY") in over
