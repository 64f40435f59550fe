"""The desk's Biểu quyết: the printable result sheet (DOCX) in the chat's words, and the pages."""

from __future__ import annotations

import io
from datetime import timedelta

from fastapi import FastAPI
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import func
from sqlmodel import select

from bot.runtime import Runtime
from handlers.polls import ballot_maker
from handlers.polls.sheet import result_sheet_docx
from models.audit import AuditAction
from models.polls import change_draft, close, create_draft, publish, vote
from models.tables import AuditEvent, Member, Poll, PollKind, PollStatus, utcnow
from tests.chat import vi
from tests.conftest import Demo, member_named
from tests.desk import DeskClient, anonymous_client, app_runtime, desk_client, sign_in_link


def docx_text(content: bytes) -> str:
    """Every paragraph and table cell of a .docx, one per line."""
    from docx import Document

    document = Document(io.BytesIO(content))
    lines = [p.text for p in document.paragraphs]
    lines += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(lines)


async def _voted_poll(runtime: Runtime, *, secret: bool, kind: PollKind = PollKind.MOTION) -> int:
    """Lý Văn Quang's poll in Tây: Mai Văn Sơn and Hồ Thị Ngọc in favour, Đinh Văn Khánh against."""
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        poll = await create_draft(
            session, secretary, "Thông qua kế hoạch quý I?", [secretary.branch_id], utcnow() + timedelta(days=1)
        )
        changes: dict[str, object] = {"secret": secret}
        if kind is PollKind.ELECTION:
            changes |= {"kind": kind, "options": ["Mai Văn Sơn", "Hồ Thị Ngọc"]}
        await change_draft(session, secretary, poll, **changes)
        await publish(session, secretary, poll, ballot_maker(runtime.catalogs, runtime.settings.tz))
    for name, mask in (("Mai Văn Sơn", 1), ("Hồ Thị Ngọc", 1), ("Đinh Văn Khánh", 2)):
        async with runtime.sessions() as session, session.begin():
            voter = await session.get(Member, (await member_named(runtime, name)).id)
            assert voter is not None
            await vote(session, poll.id or 0, voter, mask)
    async with runtime.sessions() as session, session.begin():
        found = await session.get(Poll, poll.id)
        assert found is not None
        await close(session, found, actor=secretary)
    return poll.id or 0


async def _sheet(runtime: Runtime, poll_id: int) -> str:
    async with runtime.sessions() as session:
        poll = await session.get(Poll, poll_id)
        assert poll is not None
        content = await result_sheet_docx(session, runtime.catalogs.translator("vi"), poll, runtime.settings.tz)
    return docx_text(content)


async def test_the_result_sheet_is_a4(runtime: Runtime, demo: Demo) -> None:
    from docx import Document

    poll_id = await _voted_poll(runtime, secret=False)
    async with runtime.sessions() as session:
        poll = await session.get(Poll, poll_id)
        assert poll is not None
        content = await result_sheet_docx(session, runtime.catalogs.translator("vi"), poll, runtime.settings.tz)
    section = Document(io.BytesIO(content)).sections[0]
    assert section.page_width is not None and section.page_height is not None and section.left_margin is not None
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)  # not US Letter
    assert round(section.left_margin.cm, 1) == 3.0


async def test_the_result_sheet_says_what_the_chat_says_and_leaves_room_to_sign(runtime: Runtime, demo: Demo) -> None:
    sheet = await _sheet(runtime, await _voted_poll(runtime, secret=False))
    assert vi("RESULT OF THE VOTE") in sheet and "Thông qua kế hoạch quý I?" in sheet and "Chi bộ thôn Tây" in sheet
    # The verdict word for word as the chat reads it aloud: 8 official members less the exempt
    # Tạ Văn Bình who did not vote: a base of 7, 2 in favour, 4 needed.
    assert "Ý kiến tán thành không đạt quá nửa cơ sở tính: 2/7 đồng chí (28,6%), cần ít nhất 4." in sheet
    assert "Đã bỏ phiếu: 3 trên 8 người có quyền biểu quyết." in sheet
    assert "Cơ sở tính: 7 đồng chí (không tính miễn sinh hoạt, không tham gia: 1)" in sheet
    assert vi("more than half of the base") in sheet
    assert "28,6%" in sheet and "14,3%" in sheet  # each option's share of the base
    assert vi("(signature and full name)") in sheet and vi("Secretary of the branch") in sheet
    assert vi("Made at {when}").split("{")[0] in sheet
    # An open vote: each name with its choice, as the ballot told the voters.
    assert "Mai Văn Sơn\nTán thành" in sheet and "Đinh Văn Khánh\nKhông tán thành" in sheet
    for internal in ("majority_of_eligible", "motion", "True", "None"):
        assert internal not in sheet


async def test_a_secret_ballots_sheet_names_nobody(runtime: Runtime, demo: Demo) -> None:
    sheet = await _sheet(runtime, await _voted_poll(runtime, secret=True, kind=PollKind.ELECTION))
    assert "Mai Văn Sơn" in sheet  # a candidate, with her count
    assert vi("elected") in sheet and vi("secret") in sheet
    for voter in ("Hồ Thị Ngọc\nTán thành", "Đinh Văn Khánh", "Lý Văn Quang", vi("Votes by name")):
        assert voter not in sheet


# --- the page, through the permission matrix ----------------------------------------------------------


async def _set_up(desk: DeskClient, **fields: str) -> str:
    """A poll set up on the desk; its address."""
    form = {
        "question": "Thông qua kế hoạch quý I?", "kind": "motion", "voters": "officials",
        "rule": "majority_of_eligible", "deadline": "25/12 20:00", "announce": "1", "change": "1",
    } | fields  # fmt: skip
    made = await desk.post("/desk/polls/new", form)
    assert made.status_code == 303, made.text[:2000]
    return str(made.headers["location"])


async def test_signed_out_and_plain_members_get_nothing(desk_app: FastAPI) -> None:
    async with anonymous_client(desk_app) as browser:
        for url in ("/desk/polls", "/desk/polls/new", "/desk/polls/1", "/desk/polls/1/sheet.docx"):
            page = await browser.get(url)
            assert page.status_code == 401 and vi("Please sign in") in page.text
        son = await member_named(app_runtime(desk_app), "Mai Văn Sơn")
        assert (await browser.post(await sign_in_link(desk_app, son))).status_code == 403


async def test_set_up_open_follow_close_and_the_results(desk_app: FastAPI) -> None:
    runtime = app_runtime(desk_app)
    quang = await member_named(runtime, "Lý Văn Quang")
    async with desk_client(desk_app, quang) as desk:
        form = await desk.get("/desk/polls/new")
        for choice in ("an election", "a consultation (counts only, nothing is adopted)", "the branch committee"):
            assert vi(choice) in form.text
        assert vi("at least two thirds of the base") in form.text
        url = await _set_up(desk)
        draft = await desk.get(url)
        assert vi("Publish") in draft.text and vi("more than half of the base") in draft.text
        assert (await desk.post(url + "/publish")).status_code == 303
        poll_id = int(url.rsplit("/", 1)[1])
        for name, mask in (("Mai Văn Sơn", 1), ("Hồ Thị Ngọc", 1), ("Đinh Văn Khánh", 2)):
            async with runtime.sessions() as session, session.begin():
                voter = await session.get(Member, (await member_named(runtime, name)).id)
                assert voter is not None
                await vote(session, poll_id, voter, mask)
        following = await desk.get(url)
        assert "Đã bỏ phiếu: 3 trên 8 người có quyền biểu quyết." in following.text
        assert 'src="/static/desk-polls.js"' in following.text and "<script>" not in following.text
        live = (await desk.get(url + "/live")).json()
        assert live["voters"] == 3 and live["counts"][0][:2] == ["Tán thành", 2]
        assert (await desk.get(url + "/sheet.docx")).status_code == 404  # no result before the close
        # Closing asks first; the GET changes nothing.
        asked = await desk.get(url + "/close")
        assert vi("Yes, close it now") in asked.text
        async with runtime.sessions() as session:
            poll = await session.get(Poll, poll_id)
            assert poll is not None and poll.status is PollStatus.OPEN
        assert (await desk.post(url + "/close")).status_code == 303
        closed = await desk.get(url)
        assert "Ý kiến tán thành không đạt quá nửa cơ sở tính: 2/7 đồng chí (28,6%), cần ít nhất 4." in closed.text
        chart = await desk.get(url + "/chart.png")
        assert chart.headers["content-type"] == "image/png" and chart.content.startswith(b"\x89PNG")
        sheet = docx_text((await desk.get(url + "/sheet.docx")).content)
        assert (
            "Ý kiến tán thành không đạt quá nửa cơ sở tính: 2/7 đồng chí (28,6%), cần ít nhất 4." in sheet
            and "Mai Văn Sơn" in sheet
        )
        excel = await desk.get(url + "/results.xlsx")
        assert "Mai Văn Sơn" in _cells(excel.content)
        # The counts are number cells an auditor can add up (they were text); the words stay text.
        rows = {row[0].value: row for row in _excel(excel.content).iter_rows() if row[0].value}
        votes, base = rows["Tán thành"][1], rows["Cơ sở tính (số đồng chí)"][1]
        assert (votes.value, votes.data_type, base.value, base.data_type) == (2, "n", 7, "n")
        assert rows["Mai Văn Sơn"][1].data_type == "s"
        # The sheet is named, and turnout comes as numbers too (3 of the 8 who could vote).
        assert _excel(excel.content).title == vi("Results")
        assert (rows[vi("Voted")][1].value, rows[vi("Eligible to vote")][1].value) == (3, 8)
        # Closed early: the page says when it closed, not the deadline it no longer keeps.
        async with runtime.sessions() as session:
            ended = await session.get(Poll, poll_id)
            assert ended is not None and ended.closed_at is not None
        stamp = ended.closed_at.astimezone(runtime.settings.tz).strftime("%H:%M")
        assert vi("Closed at {when}").split("{when}")[0] in closed.text and stamp in closed.text
        assert vi("Deadline: {when}").split("{when}")[0] not in closed.text
        listed = (await desk.get("/desk/polls")).text
        assert "Thông qua kế hoạch quý I?" in listed and "không đạt quá nửa cơ sở tính: 2/7" in listed
    async with runtime.sessions() as session:
        audited = (await session.exec(select(AuditEvent.action).where(AuditEvent.subject_id == poll_id))).all()
    assert {AuditAction.POLL_OPENED, AuditAction.POLL_CLOSED} <= set(audited)


def _excel(content: bytes) -> Worksheet:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(content)).active
    assert isinstance(sheet, Worksheet)
    return sheet


def _cells(content: bytes) -> str:
    sheet = _excel(content)
    return "\n".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None)


async def test_a_secret_election_shows_no_counts_until_it_closes_and_its_files_name_nobody(desk_app: FastAPI) -> None:
    runtime = app_runtime(desk_app)
    async with desk_client(desk_app, await member_named(runtime, "Lý Văn Quang")) as desk:
        url = await _set_up(
            desk, question="Bầu chi ủy", kind="election", options="Mai Văn Sơn\nHồ Thị Ngọc\nĐinh Văn Khánh", seats="2"
        )
        draft = await desk.get(url)
        seats = vi("Seats (most names on one ballot): {count}; blank ballots allowed").format(count=2)
        assert vi("secret") in draft.text and seats in draft.text
        await desk.post(url + "/publish")
        poll_id = int(url.rsplit("/", 1)[1])
        for name in ("Chu Thị Thảo", "Lương Thị Hạnh"):
            async with runtime.sessions() as session, session.begin():
                voter = await session.get(Member, (await member_named(runtime, name)).id)
                assert voter is not None
                await vote(session, poll_id, voter, 0b011)
        following = await desk.get(url)
        assert vi("Secret ballot: the counts are shown when it closes.") in following.text
        assert (await desk.get(url + "/live")).json()["counts"] is None
        await desk.post(url + "/close")
        closed = await desk.get(url)
        # 2 ballots naming Mai Văn Sơn and Hồ Thị Ngọc, of a base of 7: 4 needed.
        assert vi("Nobody is elected (each candidate needed {needed}/{base}).").format(needed=4, base=7) in closed.text
        files = docx_text((await desk.get(url + "/sheet.docx")).content) + _cells(
            (await desk.get(url + "/results.xlsx")).content
        )
    for name in ("Chu Thị Thảo", "Lương Thị Hạnh", "Lý Văn Quang"):
        assert name not in files


async def test_a_refused_setting_saves_nothing(desk_app: FastAPI) -> None:
    runtime = app_runtime(desk_app)
    async with desk_client(desk_app, await member_named(runtime, "Lý Văn Quang")) as desk:
        one = await desk.post("/desk/polls/new", {"question": "Chọn ngày", "kind": "choice", "options": "Chủ nhật",
                                                  "deadline": "25/12 20:00"})  # fmt: skip
        assert one.status_code == 400 and vi("A poll needs at least 2 options, one per line.") in one.text
        past = await desk.post("/desk/polls/new", {"question": "Chọn ngày", "deadline": "hôm qua 8 giờ sáng"})
        assert past.status_code == 400
        meeting = await desk.post("/desk/polls/new", {"question": "Tại cuộc họp?", "deadline": "25/12 20:00",
                                                      "meeting": "1"})  # fmt: skip
        assert meeting.status_code == 400 and vi("The branch has no meeting within 12 hours of now.") in meeting.text
    async with runtime.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(Poll))).one() == 0


async def test_each_sees_what_the_permission_table_allows(desk_app: FastAPI) -> None:
    runtime = app_runtime(desk_app)
    async with desk_client(desk_app, await member_named(runtime, "Lý Văn Quang")) as desk:
        url = await _set_up(desk)
        await desk.post(url + "/publish")
    async with desk_client(desk_app, await member_named(runtime, "Hồ Thị Ngọc")) as deputy:
        assert "Thông qua kế hoạch quý I?" in (await deputy.get("/desk/polls")).text
        assert (await deputy.get(url)).status_code == 200
    async with desk_client(desk_app, await member_named(runtime, "Võ Thị Thanh")) as other:
        assert "Thông qua kế hoạch quý I?" not in (await other.get("/desk/polls")).text
        for path in ("", "/live", "/close", "/chart.png"):
            assert (await other.get(url + path)).status_code == 404
        assert (await other.post(url + "/close")).status_code == 404
        assert (await other.post(url + "/nudge")).status_code == 404
    async with runtime.sessions() as session:
        poll = (await session.exec(select(Poll))).one()
        assert poll.status is PollStatus.OPEN and poll.last_nudged_at is None
    async with desk_client(desk_app, await member_named(runtime, "Nguyễn Văn Hùng")) as commune:
        listed = (await commune.get("/desk/polls")).text
        assert "Thông qua kế hoạch quý I?" in listed
        assert "<td>Chi bộ thôn Tây</td>" in listed  # the commune's reader sees whose vote it is
        assert (await commune.post(url + "/close")).status_code == 303
    async with runtime.sessions() as session:
        assert (await session.exec(select(Poll))).one().status is PollStatus.CLOSED
