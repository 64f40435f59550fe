"""The desk in a real browser (the system Chromium): a secretary asks for the link in the web chat,
opens it, and works at 1366×768. Screenshots of each page land in /tmp/desk-shots/ to be looked at."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import Demo, LiveServer, member_named
from tests.desk import app_runtime, seed_branch_activity, sign_in_link

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path("/tmp/desk-shots")
HUNG = "Nguyễn Văn Hùng"  # the secretary of Đông and of the commune committee
LINK_PATH = re.compile(r"https?://\S+?(/desk/login/[A-Za-z0-9_-]{43})")


@pytest.fixture
def shots() -> Path:
    return SHOTS


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
async def test_a_secretary_opens_the_desk_from_the_web_chat(web_chat: LiveServer, demo: Demo, shots: Path) -> None:
    from playwright.async_api import async_playwright

    await seed_branch_activity(web_chat.app)
    runtime = app_runtime(web_chat.app)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            chat = await browser.new_page(viewport={"width": 1366, "height": 768}, locale="vi-VN")
            await chat.goto(f"{web_chat.url}/?invite={demo.code('Võ Thị Thanh')}")
            await chat.get_by_test_id("menu-button").filter(has_text="Quản lý").click()
            await chat.get_by_test_id("inline-button").filter(has_text="Mở trên máy tính").click()
            answer = chat.get_by_test_id("bot-message").filter(has_text="/desk/login/")
            await answer.wait_for()
            found = LINK_PATH.search(await answer.inner_text())
            assert found is not None
            # The link names CHIBO_PUBLIC_URL; this test's server listens on a port of its own.
            desk = await browser.new_page(viewport={"width": 1366, "height": 768}, locale="vi-VN")
            errors: list[str] = []
            desk.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            await desk.goto(web_chat.url + found.group(1))
            await desk.get_by_role("button", name="Mở bàn làm việc").click()
            await desk.get_by_role("heading", name=re.compile("Tổng quan")).wait_for()
            assert desk.url.endswith("/desk/overview")
            assert await desk.get_by_role("link", name="Tổng quan").get_attribute("aria-current") == "page"
            assert await desk.get_by_text("Thông qua kế hoạch trồng cây đầu xuân").is_visible()
            await desk.screenshot(path=str(shots / "overview.png"), full_page=True)
            # On paper: no navigation, no buttons, tables with borders.
            await desk.emulate_media(media="print")
            assert not await desk.get_by_role("navigation").first.is_visible()
            await desk.screenshot(path=str(shots / "overview-print.png"), full_page=True)
            await desk.emulate_media(media="screen")
            await desk.get_by_role("link", name="Nhật ký").click()
            await desk.get_by_role("heading", name=re.compile("Nhật ký")).wait_for()
            await desk.get_by_text("đăng nhập bàn làm việc của bí thư").first.wait_for()
            await desk.screenshot(path=str(shots / "audit.png"), full_page=True)
            pdf = await desk.pdf(format="A4")
            assert pdf.startswith(b"%PDF")
            assert errors == []  # nothing the CSP refused, no script error
            # The commune committee's secretary sees every branch, and may narrow to one.
            commune = await browser.new_page(viewport={"width": 1366, "height": 768}, locale="vi-VN")
            await commune.goto(web_chat.url + await sign_in_link(web_chat.app, await member_named(runtime, HUNG)))
            await commune.get_by_role("button", name="Mở bàn làm việc").click()
            await commune.get_by_role("heading", name=re.compile("Tổng quan")).wait_for()
            await commune.screenshot(path=str(shots / "overview-commune.png"), full_page=True)
            await commune.get_by_label("Chi bộ").select_option(label="Chi bộ thôn Đông")
            await commune.get_by_role("button", name="Xem").click()
            await commune.get_by_role("heading", name="Tổng quan: Chi bộ thôn Đông").wait_for()
        finally:
            await browser.close()
