"""The desk in a real browser (the system Chromium): a secretary asks for the link in the web chat,
opens it, and works at 1366×768. Screenshots of each page land in /tmp/desk-shots/ to be looked at."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import Demo, LiveServer
from tests.desk import seed_branch_activity

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path("/tmp/desk-shots")
LINK_PATH = re.compile(r"https?://\S+?(/desk/login/[A-Za-z0-9_-]{43})")


@pytest.fixture
def shots() -> Path:
    return SHOTS


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
async def test_a_secretary_opens_the_desk_from_the_web_chat(web_chat: LiveServer, demo: Demo, shots: Path) -> None:
    from playwright.async_api import async_playwright

    await seed_branch_activity(web_chat.app)
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
            await desk.get_by_role("link", name="Nhật ký").click()
            await desk.get_by_role("heading", name=re.compile("Nhật ký")).wait_for()
            await desk.get_by_text("đăng nhập bàn làm việc của bí thư").first.wait_for()
            await desk.screenshot(path=str(shots / "audit.png"), full_page=True)
            pdf = await desk.pdf(format="A4")
            assert pdf.startswith(b"%PDF")
            assert errors == []  # nothing the CSP refused, no script error
        finally:
            await browser.close()
