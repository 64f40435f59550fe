"""The web chat as a member's channel: what chibo sends on its own reaches an open page, through
the outbox and the delivery worker, like Telegram and Zalo; over real HTTP and in Chromium."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from bot.channels import web
from bot.runtime import Runtime
from handlers.contract import Reply
from handlers.meetings import messages_maker
from handlers.meetings.actions import CancelMeeting, MeetingCard
from handlers.members import SetLanguage
from models.db import create_engine, session_factory
from models.invites import issue_invite
from models.meetings import run_due
from models.tables import Meeting, OutboxMessage, OutboxStatus, Platform, WebChatMessage, utcnow
from tests.chat import Visitor, button, say, visitor
from tests.conftest import Demo, LiveServer, make_settings, member_named, serve_app
from tests.test_meetings import _in_three_days
from tests.test_polls import _tracked
from tests.test_webchat import CHROMIUM
from webhooks.app import create_app

SECRETARY = 700  # Lý Văn Quang, secretary of Chi bộ thôn Tây, on Telegram


def shots(tmp_path: Path) -> Path:
    """Where the screenshots go: CHIBO_SCREENSHOTS when set (to look at them), else the test's own folder."""
    folder = Path(os.environ.get("CHIBO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def web_chat(database_url: str) -> AsyncIterator[LiveServer]:
    async for server in serve_app(create_app(make_settings(database_url), migrate=False)):
        yield server


def runtime_of(server: LiveServer) -> Runtime:
    runtime: Runtime = server.app.state.runtime
    return runtime


async def inbox(me: Visitor, after: int = 0, *, wait: bool = False) -> dict[str, Any]:
    response = await me.client.get(
        "/api/webchat/inbox",
        params={"after": after, "wait": str(wait).lower()},
        headers={"Authorization": f"Bearer {me.token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def send_notice(runtime: Runtime, demo: Demo, text: str) -> None:
    """Lý Văn Quang sends ``text`` to his branch from Telegram."""
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    manage = (await say(runtime, SECRETARY, "/quanly"))[0]
    await say(runtime, SECRETARY, payload=button(manage, "Thông báo mới"))
    preview = (await say(runtime, SECRETARY, text))[0]
    sent = (await say(runtime, SECRETARY, payload=button(preview, "Gửi ngay")))[0]
    assert "Đã gửi tới" in sent.text


async def web_rows(runtime: Runtime) -> list[OutboxMessage]:
    async with runtime.sessions() as session:
        found = await session.exec(select(OutboxMessage).where(col(OutboxMessage.platform) == Platform.WEB))
        return list(found.all())


async def test_a_notice_reaches_every_open_browser_of_a_web_member_once(web_chat: LiveServer, demo: Demo) -> None:
    runtime = runtime_of(web_chat)
    son = await member_named(runtime, "Mai Văn Sơn")
    async with httpx.AsyncClient(base_url=web_chat.url, timeout=60) as client:
        phone, laptop = await visitor(client), await visitor(client)
        await phone.replies(text=demo.code("Mai Văn Sơn"))
        async with runtime.sessions() as session, session.begin():
            second_code = await issue_invite(session, son.id or 0)  # for a second browser of his
        await laptop.replies(text=second_code)
        waiting = [asyncio.create_task(inbox(me, wait=True)) for me in (phone, laptop)]
        await send_notice(runtime, demo, "Họp chi bộ lúc 19:00 thứ Sáu.")
        for arrived in await asyncio.gather(*waiting):
            [notice] = arrived["messages"]
            assert notice["pushed"] and notice["text"].startswith(
                "📢 Thông báo của đồng chí Lý Văn Quang\n\nHọp chi bộ lúc 19:00"
            )
            assert [b["label"] for row in notice["buttons"] for b in row] == ["✅ Đã đọc"]
        # Stored for each browser is sent: the secretary's tracking counts it as delivered.
        # (The worker records a send within a moment of it: wait for that, not for a time.)
        for _ in range(600):
            statuses = [row.status for row in await web_rows(runtime)]
            if OutboxStatus.PENDING not in statuses:
                break
            await asyncio.sleep(0.05)
        assert statuses == [OutboxStatus.SENT, OutboxStatus.SENT]
        # A page that reconnects fetches what it missed, once.
        again = await inbox(phone)
        assert [m["text"].split("\n")[0] for m in again["messages"]] == ["📢 Thông báo của đồng chí Lý Văn Quang"]
        assert (await inbox(phone, again["messages"][0]["id"]))["messages"] == []
        # Tapping "Đã đọc" in the page is read like on Telegram.
        read = (await phone.replies(payload=again["messages"][0]["buttons"][0][0]["payload"]))[0]
        assert "đã ghi nhận" in read["text"]


async def test_a_web_member_hears_of_a_meetings_new_time_and_its_cancellation(web_chat: LiveServer, demo: Demo) -> None:
    """Before, "Đổi giờ" told nobody who had only the web chat ("0 tin nhắn")."""
    runtime = runtime_of(web_chat)
    async with httpx.AsyncClient(base_url=web_chat.url, timeout=60) as client:
        me = await visitor(client)
        await me.replies(text=demo.code("Mai Văn Sơn"))
        await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
        home = (await say(runtime, SECRETARY, "📅 Cuộc họp"))[0]
        await say(runtime, SECRETARY, payload=button(home, "Cuộc họp mới"))
        await say(runtime, SECRETARY, "Sinh hoạt chi bộ định kỳ")
        called = (await say(runtime, SECRETARY, _in_three_days()))[0]
        await say(runtime, SECRETARY, payload=button(called, "Gửi giấy mời"))
        [invitation] = (await inbox(me, wait=True))["messages"]
        async with runtime.sessions() as session:
            meeting_id = (await session.exec(select(Meeting.id))).one() or 0
        card = (await say(runtime, SECRETARY, payload=MeetingCard(meeting_id).pack()))[0]
        await say(runtime, SECRETARY, payload=button(card, "Đổi giờ"))
        later = (datetime.now() + timedelta(days=4)).strftime("%d/%m") + " 08:00"
        asked = (await say(runtime, SECRETARY, later))[0]
        moved = (await say(runtime, SECRETARY, payload=button(asked, "Dời sang")))[0]
        assert "(2 tin nhắn)" in moved.text  # the secretary on Telegram, the member in the web chat
        [news] = (await inbox(me, invitation["id"], wait=True))["messages"]
        assert "Cuộc họp đã được dời từ" in news["text"] and "08:00" in news["text"]
        confirm = (await say(runtime, SECRETARY, payload=CancelMeeting(meeting_id).pack()))[0]
        await say(runtime, SECRETARY, payload=button(confirm, "Hủy cuộc họp này"))
        [cancelled] = (await inbox(me, news["id"], wait=True))["messages"]
        assert cancelled["text"].startswith("❌ Đã hủy: Sinh hoạt chi bộ định kỳ")


async def test_an_invite_code_answered_in_the_web_chat_is_kept_only_masked(web_chat: LiveServer, demo: Demo) -> None:
    runtime = runtime_of(web_chat)
    son = await member_named(runtime, "Mai Văn Sơn")
    async with httpx.AsyncClient(base_url=web_chat.url) as client:
        secretary = await visitor(client)
        await secretary.replies(text=demo.code("Lý Văn Quang"))
        answer = (await secretary.replies(payload=f"mi:{son.id}"))[0]
        found = re.search(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", answer["text"])
        assert found is not None, answer["text"]  # shown to the secretary once
        assert "••••-••••" in (await inbox(secretary))["last"]["text"]  # what a reload shows
    async with runtime.sessions() as session:
        kept = " ".join(str(row.body) for row in (await session.exec(select(WebChatMessage))).all())
    assert found.group(0) not in kept and found.group(0)[:4] + "-" not in kept


async def test_a_reload_gets_the_last_answer_and_the_member_language(web_chat: LiveServer, demo: Demo) -> None:
    async with httpx.AsyncClient(base_url=web_chat.url) as client:
        me = await visitor(client)
        stranger = await inbox(me)
        assert stranger["last"] is None and "mã mời" in stranger["words"]["input_placeholder"]
        await me.replies(text=demo.code("Võ Thị Thanh"))
        english = (await me.replies(payload=SetLanguage("en").pack()))[0]
        reloaded = await inbox(me)
        assert reloaded["last"]["id"] == english["id"] and reloaded["last"]["text"] == english["text"]
        assert reloaded["words"]["send_label"] == "Send" and reloaded["words"]["input_placeholder"] == "Type a message…"
        asked = (await me.replies(payload="import"))[0]
        assert asked["upload_accept"] == ".xlsx,.csv"
        assert (await inbox(me))["last"]["upload_label"] == asked["upload_label"]


async def test_another_members_code_on_a_joined_browser_switches_without_leaking(
    web_chat: LiveServer, demo: Demo
) -> None:
    runtime = runtime_of(web_chat)
    async with httpx.AsyncClient(base_url=web_chat.url) as client:
        shared = await visitor(client)
        await shared.replies(text=demo.code("Mai Văn Sơn"))
        await send_notice(runtime, demo, "Thông báo riêng cho chi bộ thôn Tây.")
        [notice] = (await inbox(shared, wait=True))["messages"]
        first_token = shared.token
        offered = (await shared.replies(text=demo.code("Trịnh Thị Yến")))[0]
        assert "Mai Văn Sơn" in offered["text"]
        await shared.replies(payload=offered["buttons"][0][0]["payload"])
        response = await shared.send(text=demo.code("Trịnh Thị Yến"))
        body = response.json()
        assert body["switched"] is True and shared.token != first_token
        assert "Trịnh Thị Yến" in body["replies"][0]["text"]
        after = await inbox(shared)
        assert after["messages"] == [] and "Thông báo riêng" not in str(after)
        old = await client.get("/api/webchat/inbox", headers={"Authorization": f"Bearer {first_token}"})
        assert old.status_code == 401 and notice["id"]


async def test_a_message_stored_by_another_process_wakes_the_waiting_page(
    web_chat: LiveServer, demo: Demo, database_url: str
) -> None:
    """With PostgreSQL, a message stored through another connection (another ``chibo serve``, the
    worker of another process) wakes a page waiting here: NOTIFY on commit, LISTEN in each process."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serves one process")
    runtime = runtime_of(web_chat)
    hub: web.Hub = web_chat.app.state.connections["web"].hub
    async with httpx.AsyncClient(base_url=web_chat.url) as client:
        me = await visitor(client)
        await me.replies(text=demo.code("Mai Văn Sơn"))
        chat = web.user_id_for(me.token)
        waiting = asyncio.create_task(
            web.wait_for_messages(runtime.sessions, hub, chat, 0, wait=3600)  # woken, or the test hangs
        )
        for _ in range(600):
            if hub.listeners(chat):
                break
            await asyncio.sleep(0.01)
        other = create_engine(database_url)
        try:
            async with session_factory(other)() as session, session.begin():
                await web.store(session, chat, [Reply("📢 Từ một tiến trình khác")], pushed=True)
        finally:
            await other.dispose()
        [arrived] = await asyncio.wait_for(waiting, 120)
        assert arrived.body["text"] == "📢 Từ một tiến trình khác"


async def test_a_joined_browser_stays_joined_for_months_while_it_is_used(web_chat: LiveServer, demo: Demo) -> None:
    runtime = runtime_of(web_chat)
    idle = runtime.settings.webchat_idle
    assert idle >= timedelta(days=90)  # months, not weeks (CHIBO_WEBCHAT_IDLE_DAYS)
    async with httpx.AsyncClient(base_url=web_chat.url) as client:
        me = await visitor(client)
        await me.replies(text=demo.code("Mai Văn Sơn"))
    start = utcnow()
    used = start + idle - timedelta(days=1)
    again = used + idle - timedelta(days=1)
    for when in (used, again):  # each use within the idle time keeps it
        found = await web.open_session(runtime.sessions, me.token, idle=idle, now=when)
        assert found is not None and found.linked
    forgotten = again + idle + timedelta(days=1)
    chat = web.user_id_for(me.token)
    assert await web.last_message(runtime.sessions, chat) is not None
    assert await web.open_session(runtime.sessions, me.token, idle=idle, now=forgotten) is None
    assert await web.last_message(runtime.sessions, chat) is None  # its messages went with it


async def test_the_page_waits_without_a_session_answer_for_a_stranger(web_chat: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=web_chat.url) as client:
        assert (await client.get("/api/webchat/inbox")).status_code == 401
        me = await visitor(client)
        assert (
            await client.get(
                "/api/webchat/inbox", params={"after": -1}, headers={"Authorization": f"Bearer {me.token}"}
            )
        ).status_code == 422
        assert (await inbox(me))["messages"] == []


async def test_the_page_with_everything_it_loads_stays_under_30_kb(web_chat: LiveServer) -> None:
    """Usable over 2G: the page, its style sheets and scripts (no framework) weigh under 30 KB."""
    async with httpx.AsyncClient(base_url=web_chat.url) as client:
        page = await client.get("/")
        loaded = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
        assert "/static/chat.js" in loaded and "/static/chat.css" in loaded
        sizes = [len((await client.get(path)).content) for path in loaded]
        assert len(page.content) + sum(sizes) < 30_000
        # What every browser asks for besides: answered with nothing (no 404 in the console, no bytes).
        icon = await client.get("/favicon.ico")
        assert icon.status_code == 204 and not icon.content


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
async def test_a_first_visit_in_a_browser_loads_under_30_kb(web_chat: LiveServer) -> None:
    """The same budget as a browser spends it on a stranger's first visit, whatever the scripts
    add (the review found push.js's style sheet, 1.5 KB, loaded besides: it now comes only in a
    chat that may be joined). The service worker's copies of the page for when there is no
    signal follow in the background, once the page is shown."""
    from playwright.async_api import Response

    from tests.test_webchat import chromium

    loaded: list[Response] = []
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 360, "height": 720})
        page.on("response", lambda response: loaded.append(response))
        await page.goto(web_chat.url, wait_until="networkidle")
        sizes = {r.url.removeprefix(web_chat.url): len(await r.body()) for r in loaded if r.status == 200}
    assert "/static/chat.js" in sizes and "/static/push.css" not in sizes
    assert sum(sizes.values()) < 30_000, sizes


# ---- In Chromium, on small phones
VIEWPORTS = [pytest.param((390, 844), id="390x844"), pytest.param((360, 640), id="360x640")]


IN_VIEW = """(element) => {
    const area = document.querySelector('[data-testid="messages"]').getBoundingClientRect();
    const box = element.getBoundingClientRect();
    return area.top <= box.top && box.top + 20 <= area.bottom;
}"""


async def in_view(page: Any, locator: Any) -> bool:
    """The element's top line is within the visible part of the conversation, once the page has
    laid itself out (it scrolls again when a bar or the folding menu changes its size): waited for
    up to a deadline, frame by frame, not for a time."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    try:
        await page.wait_for_function(IN_VIEW, arg=await locator.element_handle(), timeout=5000)
    except PlaywrightTimeout:
        return False
    return True


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
@pytest.mark.parametrize("viewport", VIEWPORTS)
async def test_a_web_member_sees_notices_ballots_results_and_reminders_arrive(
    web_chat: LiveServer, demo: Demo, viewport: tuple[int, int], database_url: str, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    runtime = runtime_of(web_chat)
    width, height = viewport
    folder = shots(tmp_path)
    kind = database_url.split(":")[0].split("+")[0]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = await browser.new_page(viewport={"width": width, "height": height})
            await page.goto(web_chat.url)
            await page.get_by_test_id("input").fill(demo.code("Mai Văn Sơn"))
            await page.get_by_test_id("send").click()
            welcome = page.get_by_test_id("bot-message").filter(has_text="Chào mừng đồng chí Mai Văn Sơn")
            await welcome.wait_for()
            assert await in_view(page, welcome)
            # Joined, the page waits for what is sent with its new token at once (the wait of the
            # token before no longer holds it back in the browser's cache for 20 s).
            hub: web.Hub = web_chat.app.state.connections["web"].hub
            chat = web.user_id_for(await page.evaluate("localStorage.getItem('chibo.token')"))
            async with asyncio.timeout(10):
                while not hub.listeners(chat):  # noqa: ASYNC110 (the browser's request, in another process)
                    await asyncio.sleep(0.05)
            # A notice, untouched, marked new until the member does something on the page.
            await send_notice(runtime, demo, "Họp chi bộ lúc 19:00 thứ Sáu tại nhà văn hóa.")
            notice = page.get_by_test_id("bot-message").filter(has_text="Họp chi bộ lúc 19:00 thứ Sáu")
            await notice.wait_for()
            assert "unread" in (await notice.get_attribute("class") or "") and await in_view(page, notice)
            assert (await page.title()).startswith("(1) ")
            await page.screenshot(path=str(folder / f"notice-{width}x{height}-{kind}.png"))
            # A ballot, answered in the page; then its result, with the chart.
            manage = (await say(runtime, SECRETARY, "/quanly"))[0]
            await say(runtime, SECRETARY, payload=button(manage, "Biểu quyết mới"))
            preview = (await say(runtime, SECRETARY, "Thông qua kế hoạch quý I?"))[0]
            preview = (await say(runtime, SECRETARY, payload=button(preview, "bỏ phiếu kín")))[0]
            opened = (await say(runtime, SECRETARY, payload=button(preview, "Mở biểu quyết")))[0]
            ballot = page.get_by_test_id("bot-message").filter(has_text="Thông qua kế hoạch quý I?")
            await ballot.wait_for()
            await (
                page.get_by_test_id("inline-button")
                .filter(has_text=re.compile(r"(?<!Không )[Tt]án thành"))
                .last.click()
            )
            await page.get_by_test_id("bot-message").filter(has_text="Đã ghi nhận phiếu").wait_for()
            # A secret ballot's tap is neither echoed nor kept on the phone (a shared family phone).
            assert await page.get_by_test_id("user-message").filter(has_text="Tán thành").count() == 0
            assert "Tán thành" not in (await page.evaluate("localStorage.getItem('chibo.history')") or "")
            await page.screenshot(path=str(folder / f"ballot-{width}x{height}-{kind}.png"))
            track = (await say(runtime, SECRETARY, payload=button(opened, "Theo dõi")))[0]
            asked = (await say(runtime, SECRETARY, payload=button(track, "Kết thúc ngay")))[0]
            await say(runtime, SECRETARY, payload=button(asked, "Xác nhận kết thúc"))
            await page.get_by_test_id("bot-message").filter(has_text="Tán thành: 1/7 (14,3%)\nKhông").wait_for()
            await page.get_by_test_id("chart").last.wait_for()
            await page.screenshot(path=str(folder / f"result-{width}x{height}-{kind}.png"))
            assert _tracked(opened)
            # A meeting: its invitation, then its reminder the day before.
            home = (await say(runtime, SECRETARY, "📅 Cuộc họp"))[0]
            await say(runtime, SECRETARY, payload=button(home, "Cuộc họp mới"))
            await say(runtime, SECRETARY, "Sinh hoạt chi bộ định kỳ")
            called = (await say(runtime, SECRETARY, _in_three_days()))[0]
            await say(runtime, SECRETARY, payload=button(called, "Gửi giấy mời"))
            await page.get_by_test_id("bot-message").filter(has_text="Sinh hoạt chi bộ định kỳ").first.wait_for()
            async with runtime.sessions() as session, session.begin():
                meeting = (await session.exec(select(Meeting))).one()
                messages = messages_maker(runtime.catalogs, runtime.settings.tz)
                await run_due(session, messages, runtime.settings.tz, now=meeting.starts_at - timedelta(hours=24))
            runtime.on_outbox()
            reminder = page.get_by_test_id("bot-message").filter(has_text="Nhắc lịch")
            await reminder.wait_for()
            assert await in_view(page, reminder)
            await page.screenshot(path=str(folder / f"reminder-{width}x{height}-{kind}.png"))
            # Nothing came twice.
            for text in ("Họp chi bộ lúc 19:00", "Nhắc lịch"):
                assert await page.get_by_test_id("bot-message").filter(has_text=text).count() == 1
        finally:
            await browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
@pytest.mark.parametrize("viewport", VIEWPORTS)
async def test_a_secretary_composes_on_a_small_phone(
    web_chat: LiveServer, demo: Demo, viewport: tuple[int, int], database_url: str, tmp_path: Path
) -> None:
    from playwright.async_api import Route, async_playwright

    width, height = viewport
    folder = shots(tmp_path)
    kind = database_url.split(":")[0].split("+")[0]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = await browser.new_page(viewport={"width": width, "height": height})
            await page.goto(f"{web_chat.url}/?invite={demo.code('Võ Thị Thanh')}")
            await page.get_by_test_id("bot-message").filter(has_text="Võ Thị Thanh").wait_for()
            await page.screenshot(path=str(folder / f"joined-{width}x{height}-{kind}.png"))
            await page.get_by_test_id("menu-button").filter(has_text="Quản lý").click()
            # While a tap waits for its answer (2G), no button can be tapped again.
            held, arrived = asyncio.Event(), asyncio.Event()

            async def hold(route: Route) -> None:
                arrived.set()
                await held.wait()
                await route.continue_()

            await page.route("**/api/webchat/messages", hold)
            await page.get_by_test_id("inline-button").filter(has_text="Thông báo mới").click()
            await arrived.wait()
            assert await page.get_by_test_id("inline-button").filter(has_text="Thông báo mới").is_disabled()
            assert await page.get_by_test_id("inline-button").filter(has_text="Nhập danh sách").is_disabled()
            held.set()  # this answer, and every later message, goes through
            await page.get_by_test_id("bot-message").filter(has_text="nội dung thông báo").wait_for()
            box = page.get_by_test_id("input")
            await box.fill("Kính gửi các đồng chí: họp chi bộ lúc 19:00.")
            await box.press("Enter")
            preview = page.get_by_test_id("bot-message").filter(has_text="Xem trước thông báo")
            await preview.wait_for()
            assert await in_view(page, preview)
            await page.screenshot(path=str(folder / f"preview-{width}x{height}-{kind}.png"))
            # A reload: the preview's buttons are back, under it, and it is in view.
            await page.reload()
            send_now = page.get_by_test_id("inline-button").filter(has_text="Gửi ngay")
            await send_now.wait_for()
            assert await in_view(page, page.get_by_test_id("bot-message").filter(has_text="Xem trước thông báo"))
            await page.screenshot(path=str(folder / f"reloaded-{width}x{height}-{kind}.png"))
            await page.get_by_test_id("menu-toggle").click()
            await page.get_by_test_id("menu-button").filter(has_text="Cuộc họp").click()
            await page.get_by_test_id("inline-button").filter(has_text="Cuộc họp mới").click()
            await box.fill("Sinh hoạt chi bộ tháng 12")
            await page.get_by_test_id("send").click()
            await page.get_by_test_id("bot-message").filter(has_text="Họp lúc nào?").wait_for()
            await box.fill(_in_three_days())
            await box.press("Enter")
            await page.get_by_test_id("inline-button").filter(has_text="Nội dung").last.click()
            # Three agenda items, one per line: Shift+Enter and the new-line button.
            await box.type("Kiểm điểm tháng 11")
            await box.press("Shift+Enter")
            await box.type("Phương hướng tháng 12")
            await page.get_by_test_id("newline").click()
            await box.type("Kết nạp đảng viên mới")
            assert await box.input_value() == "Kiểm điểm tháng 11\nPhương hướng tháng 12\nKết nạp đảng viên mới"
            await box.press("Enter")
            agenda = page.get_by_test_id("bot-message").filter(has_text="Kết nạp đảng viên mới").last
            await agenda.wait_for()
            agenda_text = await agenda.inner_text()
            assert "1. Kiểm điểm tháng 11\n2. Phương hướng tháng 12\n3. Kết nạp đảng viên mới" in agenda_text
            await page.screenshot(path=str(folder / f"agenda-{width}x{height}-{kind}.png"))
        finally:
            await browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
async def test_a_second_tab_open_before_the_join_gets_the_notices_too(web_chat: LiveServer, demo: Demo) -> None:
    """Before, a tab opened before the member joined in another one never listened: the notices
    reached it only once it was reloaded (outside tester). Now it starts again as the joined tab
    (so it also never keeps, and saves back, a conversation another member's code has cleared)."""
    from playwright.async_api import async_playwright

    runtime = runtime_of(web_chat)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844})
            first, second = await context.new_page(), await context.new_page()
            for tab in (first, second):
                await tab.goto(web_chat.url)
            await first.get_by_test_id("input").fill(demo.code("Mai Văn Sơn"))
            await first.get_by_test_id("send").click()
            for tab in (first, second):
                await tab.get_by_test_id("bot-message").filter(has_text="Chào mừng đồng chí Mai Văn Sơn").wait_for()
            await send_notice(runtime, demo, "Họp chi bộ lúc 19:00 thứ Sáu tại nhà văn hóa.")
            for tab in (first, second):
                await tab.get_by_test_id("bot-message").filter(has_text="Họp chi bộ lúc 19:00 thứ Sáu").wait_for()
        finally:
            await browser.close()


async def test_a_page_woken_after_a_long_wait_gets_its_message_not_a_503(database_url: str, demo: Demo) -> None:
    """Was: a waiting page had only what was left of the request's database budget once woken: the
    budget was spent waiting, so whenever the pool had to open a connection for it, the page got
    503 "database unavailable" although the database was fine (26 of 40 pages, outside tester)."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite opens no connection within a deadline")
    app = create_app(make_settings(database_url, db_timeout_seconds=1.0), migrate=False)
    async for server in serve_app(app):
        runtime = runtime_of(server)
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            me = await visitor(client)
            await me.replies(text=demo.code("Mai Văn Sơn"))
            waiting = asyncio.create_task(inbox(me, wait=True))
            await asyncio.sleep(1.5)  # longer than the whole budget: the time the page waits, not a delay
            assert not waiting.done()
            await runtime.engine.dispose()  # the pool keeps no connection: answering needs a new one
            hub = app.state.connections["web"].hub
            other = create_engine(database_url)  # stored by another process, as it were: the pool stays empty
            try:
                sender = web.WebSender(session_factory(other), hub)
                await sender.send(web.user_id_for(me.token), Reply("Họp lúc 19:00"))
            finally:
                await other.dispose()
            [arrived] = (await waiting)["messages"]
            assert arrived["text"] == "Họp lúc 19:00"
