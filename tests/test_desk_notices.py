"""The desk's Thông báo: the tracking table per member, as the Excel file has it."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from fastapi import FastAPI
from sqlalchemy import func, update
from sqlmodel import col, select

from bot.runtime import Runtime
from handlers.notices.reading import notice_body_maker
from handlers.notices.tracking import receipt_table
from handlers.records.words import local_phone
from models.audit import AuditAction
from models.notice_tracking import notice_tracking
from models.notices import Audience, create_draft, record_read, send_now
from models.tables import (
    AuditEvent,
    ChannelIdentity,
    Member,
    Notice,
    NoticeRecipient,
    NoticeStatus,
    OutboxMessage,
    Platform,
    utcnow,
)
from tests.chat import say, vi
from tests.conftest import Demo, member_named
from tests.desk import anonymous_client, app_runtime, desk_client, sign_in_link
from webhooks.desk import notices as notices_desk

SECRETARY = 400


async def _sent_to_tay(runtime: Runtime) -> int:
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        author = await session.get(Member, secretary.id)
        assert author is not None
        notice = await create_draft(session, author, "Họp chi bộ lúc 19:30 thứ Sáu.", Audience((author.branch_id,)))
        await send_now(session, author, notice, notice_body_maker(runtime.catalogs))
    return notice.id or 0


async def test_the_tracking_table_has_a_row_per_member_with_whom_to_phone(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    await say(runtime, 402, f"/start {demo.code('Hồ Thị Ngọc')}")
    notice_id = await _sent_to_tay(runtime)
    son, ngoc = await member_named(runtime, "Mai Văn Sơn"), await member_named(runtime, "Hồ Thị Ngọc")
    async with runtime.sessions() as session, session.begin():
        assert await record_read(session, notice_id, son.id or 0)
        # Seen on her phone, not marked read: as the Zalo OA's "seen" event records it.
        await session.exec(
            update(NoticeRecipient)
            .where(col(NoticeRecipient.notice_id) == notice_id, col(NoticeRecipient.member_id) == ngoc.id)
            .values(seen_at=utcnow())
        )
    async with runtime.sessions() as session:
        notice = await session.get(Notice, notice_id)
        assert notice is not None
        header, rows = receipt_table(
            runtime.catalogs.translator("vi"), await notice_tracking(session, notice), runtime.settings.tz
        )
    assert header[-2:] == [vi("Seen on Zalo at"), vi("To phone")]
    by_name = {row[0]: row for row in rows}
    assert "Lý Văn Quang" not in by_name and len(rows) == 9  # the sender counted out
    assert by_name["Mai Văn Sơn"][3] == vi("read") and by_name["Mai Văn Sơn"][6] and not by_name["Mai Văn Sơn"][9]
    assert by_name["Hồ Thị Ngọc"][3] == vi("being sent") and by_name["Hồ Thị Ngọc"][8]  # seen on Zalo
    assert by_name["Hồ Thị Ngọc"][-1] == ""
    loan = await member_named(runtime, "Phan Thị Loan")
    assert by_name["Phan Thị Loan"][2:4] == [local_phone(loan.phone or ""), vi("not on chibo")]
    assert by_name["Phan Thị Loan"][-1] == vi("yes")


# --- the page, through the permission matrix ----------------------------------------------------------


async def test_anyone_signed_out_gets_the_clear_page(desk_app: FastAPI) -> None:
    async with anonymous_client(desk_app) as browser:
        for url in ("/desk/notices", "/desk/notices/new", "/desk/notices/1"):
            page = await browser.get(url)
            assert page.status_code == 401 and vi("Please sign in") in page.text
        refused = await browser.post("/desk/notices/new", data={"text": "Họp.", "scope": "branch"})
        assert refused.status_code in (401, 403)
    async with app_runtime(desk_app).sessions() as session:
        assert (await session.exec(select(func.count()).select_from(Notice))).one() == 0


async def test_a_plain_member_cannot_open_the_desk(desk_app: FastAPI) -> None:
    son = await member_named(app_runtime(desk_app), "Mai Văn Sơn")
    async with anonymous_client(desk_app) as browser:
        opened = await browser.post(await sign_in_link(desk_app, son))
        assert opened.status_code == 403 and "chibo_desk" not in opened.headers.get("set-cookie", "")


async def test_the_secretary_writes_previews_and_sends_and_follows_it(
    desk_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = app_runtime(desk_app)
    quang = await member_named(runtime, "Lý Văn Quang")
    async with desk_client(desk_app, quang) as desk:
        form = await desk.get("/desk/notices/new")
        assert form.status_code == 200 and vi("Send to my branch") in form.text
        assert vi("Whole commune") not in form.text  # a branch secretary: their branch, or people by name
        written = await desk.post(
            "/desk/notices/new", {"text": "Họp chi bộ lúc 19:30 thứ Sáu.", "scope": "branch", "filter": "officials"}
        )
        assert written.status_code == 303
        url = written.headers["location"]
        preview = await desk.get(url)
        assert "Họp chi bộ lúc 19:30 thứ Sáu." in preview.text and "Chi bộ thôn Tây" in preview.text
        assert vi("official members only") in preview.text
        async with runtime.sessions() as session:
            assert (await session.exec(select(func.count()).select_from(OutboxMessage))).one() == 0  # a preview only
        sent = await desk.post(url + "/send")
        assert sent.status_code == 303
        tracked = await desk.get(url)
        assert vi("not on chibo") in tracked.text and vi("To phone") in tracked.text
        loan = await member_named(runtime, "Phan Thị Loan")
        assert local_phone(loan.phone or "") in tracked.text  # to phone her
        # Who to phone is counted above the table with the way to the list, not repeated name by name.
        assert tracked.text.count("Phan Thị Loan") == 1
        assert vi("To phone: {count} — see the list").format(count=7) in tracked.text
        assert vi("Page {number} of {total}").split("{")[0] not in tracked.text  # one page: no pager
        monkeypatch.setattr(notices_desk, "ROSTER_PAGE", 4)  # 7 recipients: two pages
        first = (await desk.get(url)).text
        assert first.count(vi("Page {number} of {total}").format(number=1, total=2)) == 2  # above and below
        assert first.count('<th scope="row">') == 4
        past_the_end = (await desk.get(url + "?page=9")).text
        assert vi("Page {number} of {total}").format(number=2, total=2) in past_the_end
        assert past_the_end.count('<th scope="row">') == 3 and 'rel="prev"' in past_the_end
        monkeypatch.undo()
        to_phone = await desk.get(url + "?show=phone")
        row = '<th scope="row">Phan Thị Loan</th>'
        assert row in to_phone.text and len(to_phone.content) < 100_000
        assert row not in (await desk.get(url + "?show=read")).text  # nobody has read it yet
        listed = await desk.get("/desk/notices")
        assert "Họp chi bộ lúc 19:30 thứ Sáu." in listed.text and "0/7" in listed.text
        # The reminder: nobody in a chat to remind (nobody joined), so nothing is sent and it says why.
        nudged = await desk.post(url + "/nudge")
        assert nudged.status_code == 400
        assert vi("{count} have not joined chibo (phone them)").format(count=7) in nudged.text
        excel = await desk.get(url + "/receipts.xlsx")
        assert excel.headers["content-type"].startswith("application/vnd.openxmlformats")
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(excel.content)).active
        assert sheet is not None
        rows = [[c or "" for c in row] for row in sheet.iter_rows(values_only=True)]
        assert rows[0][-2:] == [vi("Seen on Zalo at"), vi("To phone")]
        assert len(rows) == 1 + 7 and all(row[-1] == vi("yes") for row in rows[1:])


async def test_a_typed_time_schedules_it_and_a_past_one_is_refused(desk_app: FastAPI) -> None:
    runtime = app_runtime(desk_app)
    async with desk_client(desk_app, await member_named(runtime, "Lý Văn Quang")) as desk:
        written = await desk.post("/desk/notices/new", {"text": "Nộp đảng phí tháng 12.", "scope": "branch"})
        url = written.headers["location"]
        past = await desk.post(url + "/schedule", {"when": "hôm qua 8 giờ sáng"})
        assert past.status_code == 400
        later = await desk.post(url + "/schedule", {"when": "25/12 19:30"})
        assert later.status_code == 303
        assert "19:30" in (await desk.get(url)).text
        listed = await desk.get("/desk/notices")
        assert "⏰" in listed.text and "Nộp đảng phí tháng 12." in listed.text
    async with runtime.sessions() as session:
        notice = (await session.exec(select(Notice))).one()
        assert notice.status is NoticeStatus.SCHEDULED and notice.scheduled_at is not None
        assert notice.scheduled_at.astimezone(runtime.settings.tz).strftime("%d/%m %H:%M") == "25/12 19:30"


async def test_a_classified_attachment_is_refused_and_nothing_is_saved(desk_app: FastAPI) -> None:
    runtime = app_runtime(desk_app)
    async with desk_client(desk_app, await member_named(runtime, "Lý Văn Quang")) as desk:
        refused = await desk.client.post(
            "/desk/notices/new",
            data={"csrf": await desk.csrf(), "text": "Tài liệu họp.", "scope": "branch"},
            files={"file": ("mat.txt", "MẬT\nKế hoạch".encode(), "text/plain")},
        )
        assert refused.status_code == 400 and "Mật" in refused.text
    async with runtime.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(Notice))).one() == 0


async def test_each_sees_what_the_permission_table_allows(desk_app: FastAPI) -> None:
    runtime = app_runtime(desk_app)
    async with desk_client(desk_app, await member_named(runtime, "Lý Văn Quang")) as desk:
        url = (await desk.post("/desk/notices/new", {"text": "Họp Tây.", "scope": "branch"})).headers["location"]
        await desk.post(url + "/send")
    # The deputy of Tây acts on it; another branch's secretary sees none of it and changes nothing.
    async with desk_client(desk_app, await member_named(runtime, "Hồ Thị Ngọc")) as deputy:
        assert "Họp Tây." in (await deputy.get("/desk/notices")).text
        assert (await deputy.get(url)).status_code == 200
    async with desk_client(desk_app, await member_named(runtime, "Võ Thị Thanh")) as other:
        assert "Họp Tây." not in (await other.get("/desk/notices")).text
        assert (await other.get(url)).status_code == 404
        assert (await other.get(url + "/receipts.xlsx")).status_code == 404
        assert (await other.post(url + "/nudge")).status_code == 404
        people = await other.post("/desk/notices/new", {"text": "Gửi Tây.", "scope": "people", "people": "Mai Văn Sơn"})
        assert people.status_code == 400
    # The commune committee's secretary sees every branch's, and may write to the whole commune.
    async with desk_client(desk_app, await member_named(runtime, "Nguyễn Văn Hùng")) as commune:
        assert "Họp Tây." in (await commune.get("/desk/notices")).text
        assert vi("Whole commune") in (await commune.get("/desk/notices/new")).text
    async with runtime.sessions() as session:
        notice = (await session.exec(select(Notice))).one()
        assert notice.last_nudged_at is None
        assert (await session.exec(select(func.count()).select_from(Notice))).one() == 1


async def test_a_photo_goes_out_only_once_the_sender_looked_at_it(desk_app: FastAPI) -> None:
    runtime = app_runtime(desk_app)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    async with desk_client(desk_app, await member_named(runtime, "Lý Văn Quang")) as desk:
        written = await desk.client.post(
            "/desk/notices/new",
            data={"csrf": await desk.csrf(), "text": "Sơ đồ chỗ ngồi.", "scope": "branch"},
            files={"file": ("so-do.png", png, "image/png")},
        )
        url = written.headers["location"]
        preview = await desk.get(url)
        assert "so-do.png" in preview.text and 'name="no_mark"' in preview.text
        unticked = await desk.post(url + "/send")
        assert unticked.status_code == 400
        async with runtime.sessions() as session:
            assert (await session.exec(select(Notice))).one().status is NoticeStatus.DRAFT
        ticked = await desk.post(url + "/send", {"no_mark": hashlib.sha256(png).hexdigest()})
        assert ticked.status_code == 303
    async with runtime.sessions() as session:
        assert (await session.exec(select(Notice))).one().status is NoticeStatus.SENT
        confirmed = (await session.exec(select(AuditEvent.action))).all()
    assert AuditAction.NOTICE_FILE_CONFIRMED in confirmed and AuditAction.NOTICE_SENT in confirmed


async def test_the_reminder_keeps_the_chats_interval(desk_app: FastAPI) -> None:
    runtime = app_runtime(desk_app)
    son = await member_named(runtime, "Mai Văn Sơn")
    async with runtime.sessions() as session, session.begin():  # Mai Văn Sơn has joined on Telegram
        session.add(
            ChannelIdentity(platform=Platform.TELEGRAM, platform_user_id="401", chat_id="401", member_id=son.id or 0)
        )
    async with desk_client(desk_app, await member_named(runtime, "Lý Văn Quang")) as desk:
        url = (await desk.post("/desk/notices/new", {"text": "Họp chi bộ.", "scope": "branch"})).headers["location"]
        await desk.post(url + "/send")
        first = await desk.post(url + "/nudge")
        assert first.status_code == 303
        again = await desk.post(url + "/nudge")
        assert again.status_code == 400
        assert vi("Those who have not read it were reminded recently. Please try again later.") in again.text
    async with runtime.sessions() as session:
        to_son = (await session.exec(select(OutboxMessage).where(OutboxMessage.member_id == son.id))).all()
    assert len(to_son) == 2  # the notice, and one reminder


async def test_a_commune_wide_notices_table_comes_in_light_pages(desk_app: FastAPI) -> None:
    """Past about 280 recipients the tracking page passed 100 KB: now 150 a page like the roster,
    the filter kept from page to page, and the Excel file whole."""
    runtime = app_runtime(desk_app)
    hung = await member_named(runtime, "Nguyễn Văn Hùng")  # the commune committee's secretary
    async with runtime.sessions() as session, session.begin():
        session.add_all(
            Member(branch_id=hung.branch_id, full_name=f"Nguyễn Thị Đảng viên {i:03d}", phone=f"+8491234{i:04d}")
            for i in range(400)
        )
        author = await session.get(Member, hung.id)
        assert author is not None
        notice = await create_draft(session, author, "Hội nghị toàn xã sáng Chủ nhật.", Audience(None))
        await send_now(session, author, notice, notice_body_maker(runtime.catalogs))
    names: list[str] = []
    async with desk_client(desk_app, hung) as desk:
        address = f"/desk/notices/{notice.id}?show=unread"
        while address:
            page = await desk.get(address)
            assert page.status_code == 200 and len(page.content) < 100_000
            listed = re.findall(r'<th scope="row">([^<]+)</th>', page.text)
            assert len(listed) <= 150
            names += listed
            following = re.search(r'href="([^"]+)" rel="next"', page.text)
            address = following.group(1).replace("&amp;", "&") if following else ""
            assert not following or "show=unread" in address  # the filter is kept
        excel = await desk.get(f"/desk/notices/{notice.id}/receipts.xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(excel.content)).active
    assert sheet is not None
    whole = [str(row[0]) for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(whole) > 400 and sorted(names) == sorted(whole)  # every recipient on one page, once
