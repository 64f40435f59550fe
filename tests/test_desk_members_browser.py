"""The Đảng viên page in a real browser (the system Chromium): a register imported through its
preview, then the roster printed to PDF. Screenshots land in /tmp/desk-shots/ to be looked at."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import Demo, LiveServer, member_named
from tests.desk import app_runtime, seed_branch_activity, sign_in_link
from tests.test_desk_members import xlsx

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path("/tmp/desk-shots")


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(exist_ok=True)
    return SHOTS


@pytest.fixture
def register(tmp_path: Path) -> Path:
    """A register with one new member of Trường."""
    path = tmp_path / "so-dang-vien.xlsx"
    path.write_bytes(
        xlsx([["Lò Văn Mới", "02/03/1999", "Nam", "0912 765 432", "TRUONG", "", "Dự bị", "02/03/2026", "", "", "", ""]])
    )
    return path


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
async def test_a_register_imported_through_its_preview_then_the_roster_printed(
    web_chat: LiveServer, demo: Demo, shots: Path, register: Path
) -> None:
    from playwright.async_api import async_playwright

    await seed_branch_activity(web_chat.app)
    link = await sign_in_link(web_chat.app, await member_named(app_runtime(web_chat.app), "Võ Thị Thanh"))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            desk = await browser.new_page(viewport={"width": 1366, "height": 768}, locale="vi-VN")
            errors: list[str] = []
            desk.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            await desk.goto(web_chat.url + link)
            await desk.get_by_role("button", name="Mở bàn làm việc").click()
            await desk.get_by_role("link", name="Đảng viên", exact=True).click()
            await desk.get_by_role("link", name="Nhập danh sách").click()
            await desk.get_by_label("Tệp danh sách", exact=True).set_input_files(register)
            await desk.get_by_role("button", name="Xem trước").click()
            preview = desk.get_by_role("heading", name=re.compile("Xem trước so-dang-vien.xlsx"))
            await preview.wait_for()
            assert await desk.get_by_role("row", name=re.compile("Lò Văn Mới")).is_visible()
            await desk.screenshot(path=str(shots / "members-import-preview.png"), full_page=True)
            await desk.get_by_label("Xin chọn lại đúng tệp đó để xác nhận").set_input_files(register)
            await desk.get_by_role("button", name="Nhập đúng như trên").click()
            await desk.get_by_text("Đã nhập: 1 mới, 0 cập nhật, 0 không đổi.").wait_for()

            await desk.get_by_role("link", name="Đảng viên", exact=True).click()
            await desk.get_by_role("link", name="Lò Văn Mới").wait_for()
            await desk.screenshot(path=str(shots / "members.png"))
            await desk.screenshot(path=str(shots / "members-full.png"), full_page=True)
            await desk.get_by_role("link", name="Vũ Đình Khoa").click()
            await desk.get_by_role("heading", name="Vũ Đình Khoa").wait_for()
            await desk.screenshot(path=str(shots / "member.png"), full_page=True)
            await desk.go_back()

            # On paper: the table with its names, without the filters, buttons and selection boxes.
            await desk.emulate_media(media="print")
            assert await desk.get_by_role("row", name=re.compile("Lò Văn Mới")).is_visible()
            assert not await desk.locator("form.filters").is_visible()
            assert not await desk.locator("input[type=checkbox]").first.is_visible()
            pdf = await desk.pdf(format="A4")
            assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
            pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
            assert 1 <= pages <= 2  # ten members on A4
            assert errors == []  # nothing the CSP refused, no script error
        finally:
            await browser.close()
