"""The secretary's desk: signing in with a one-time link from chat, sessions, the permission matrix."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlmodel import col, select

from models import audit
from models.audit import AuditAction
from models.desk import digest
from models.tables import AuditEvent, DeskLink, DeskSession, Member, Role, utcnow
from tests.chat import vi, visitor
from tests.conftest import Demo, LiveServer, make_settings, member_named
from tests.desk import anonymous_client, app_runtime, desk_client, seed_branch_activity, sign_in_link
from webhooks.app import create_app
from webhooks.desk.export import XLSX

# The link as sent: CHIBO_PUBLIC_URL (here the server's own address) and the path.
LINK = re.compile(r"http://127\.0\.0\.1:8000(/desk/login/([A-Za-z0-9_-]{43}))")


async def test_a_secretary_gets_a_link_in_chat_and_opens_the_desk_once(web_chat: LiveServer, demo: Demo) -> None:
    runtime = app_runtime(web_chat.app)
    async with httpx.AsyncClient(base_url=web_chat.url) as client:
        chat = await visitor(client)
        manage = (await chat.replies(text=demo.code("Võ Thị Thanh")))[0]
        menu = {b["label"]: b["payload"] for row in manage["menu"] for b in row}
        managing = (await chat.replies(payload=menu["🛠 Quản lý"]))[0]
        buttons = {b["label"]: b["payload"] for row in managing["buttons"] for b in row}
        assert "💻 Mở trên máy tính" in buttons and "🚪 Đăng xuất mọi máy" in buttons
        answer = (await chat.replies(payload=buttons["💻 Mở trên máy tính"]))[0]
        found = LINK.search(answer["text"])
        assert found is not None, answer["text"]
        link, token = found.groups()
        assert vi("Open this link on the computer within 10 minutes; it works once:") in answer["text"]
        async with runtime.sessions() as session:
            stored = (await session.exec(select(DeskLink))).all()
            assert [row.token_hash for row in stored] == [digest(token)]  # only its digest is kept
        # What the web chat keeps to show again holds no link.
        again = (await client.get("/api/webchat/messages", headers={"Authorization": f"Bearer {chat.token}"})).text
        assert token not in again

        browser = httpx.AsyncClient(base_url=web_chat.url)
        async with browser:
            # Opening the link (as a link preview would) uses nothing: the page asks to press a button.
            shown = await browser.get(link)
            assert shown.status_code == 200 and vi("Open the desk") in shown.text
            opened = await browser.post(link)
            assert opened.status_code == 303 and opened.headers["location"] == "/desk/overview"
            cookie = opened.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/desk" in cookie
            assert "Secure" not in cookie  # served over http here; behind https it is Secure
            assert "Max-Age" not in cookie  # gone with the browser session; the server ends it after 12 h idle
            overview = await browser.get("/desk/overview")
            assert overview.status_code == 200 and vi("Overview") in overview.text
            # The web chat's policy: scripts and styles from this server only, no inline script.
            assert overview.headers["content-security-policy"].startswith("default-src 'none'; script-src 'self';")
            assert "<script>" not in overview.text and " style=" not in overview.text
            assert overview.headers["cache-control"] == "no-store"
            # The link works once, in this browser or any other.
            used = await httpx.AsyncClient(base_url=web_chat.url).post(link)
            assert used.status_code == 410 and vi("This link was already used") in used.text
            assert "Võ Thị Thanh" not in used.text

            listed = (await chat.replies(payload=buttons["💻 Mở trên máy tính"]))[0]["text"]
            assert vi("Signed in to the desk now:") in listed
            out = (await chat.replies(payload=buttons["🚪 Đăng xuất mọi máy"]))[0]["text"]
            assert "Đã đăng xuất bàn làm việc trên 1 máy tính." in out
            gone = await browser.get("/desk/overview")
            assert gone.status_code == 401 and vi("Please sign in") in gone.text
    async with runtime.sessions() as session:
        actions = (await session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id)))).all()
    assert AuditAction.DESK_SIGNED_IN in actions and AuditAction.DESK_SIGNED_OUT_EVERYWHERE in actions


async def test_desk_in_chat_is_refused_to_a_plain_member(web_chat: LiveServer, demo: Demo) -> None:
    async with httpx.AsyncClient(base_url=web_chat.url) as client:
        chat = await visitor(client)
        await chat.replies(text=demo.code("Trần Minh Châu"))
        answer = (await chat.replies(text="/desk"))[0]["text"]
        assert "/desk/login/" not in answer
        assert vi("Sorry, only the branch secretary and deputy secretary can use this.") in answer


async def test_expired_and_unknown_links_and_signing_out(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    secretary = await member_named(runtime, "Võ Thị Thanh")
    link = await sign_in_link(desk_app, secretary)
    async with runtime.sessions() as session, session.begin():
        row = (await session.exec(select(DeskLink))).one()
        row.expires_at = row.created_at - timedelta(seconds=1)
        session.add(row)
    async with anonymous_client(desk_app) as browser:
        expired = await browser.post(link)
        assert expired.status_code == 410 and vi("This link has expired") in expired.text
        assert "chibo_desk" not in expired.headers.get("set-cookie", "")
        unknown = await browser.post("/desk/login/" + "x" * 43)
        assert unknown.status_code == 403 and vi("This link does not work") in unknown.text
    async with runtime.sessions() as session, session.begin():
        row = (await session.exec(select(DeskLink))).one()
        row.expires_at = utcnow() - timedelta(days=31)
        session.add(row)
    await sign_in_link(desk_app, secretary)  # a month later, the expired link is forgotten
    async with runtime.sessions() as session:
        assert len((await session.exec(select(DeskLink))).all()) == 1
    async with desk_client(desk_app, secretary) as desk:
        refused = await desk.client.post("/desk/logout", data={"csrf": "wrong"})
        assert refused.status_code == 403 and vi("This page is out of date") in refused.text
        out = await desk.post("/desk/logout")
        assert out.status_code == 200 and vi("You have signed out") in out.text
        assert (await desk.get("/desk/overview")).status_code == 401


async def test_a_deactivated_member_or_a_lost_office_ends_the_session_at_once(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    deputy = await member_named(runtime, "Nguyễn Đức Anh")
    async with desk_client(desk_app, deputy) as desk:
        assert (await desk.get("/desk/overview")).status_code == 200
        async with runtime.sessions() as session, session.begin():
            row = await session.get(Member, deputy.id)
            assert row is not None
            row.role = Role.MEMBER
            session.add(row)
        refused = await desk.get("/desk/overview")
        assert refused.status_code == 401 and "Nguyễn Đức Anh" not in refused.text
    secretary = await member_named(runtime, "Võ Thị Thanh")
    link = await sign_in_link(desk_app, secretary)
    async with runtime.sessions() as session, session.begin():
        row = await session.get(Member, secretary.id)
        assert row is not None
        row.active = False
        session.add(row)
    async with anonymous_client(desk_app) as browser:
        refused = await browser.post(link)
        assert refused.status_code == 403 and vi("The desk is not open to you") in refused.text
    async with runtime.sessions() as session:
        assert (await session.exec(select(DeskSession).where(DeskSession.member_id == secretary.id))).first() is None


async def test_the_overview_through_the_permission_matrix(desk_app: FastAPI, demo: Demo) -> None:
    await seed_branch_activity(desk_app)
    runtime = app_runtime(desk_app)
    truong_only = ["Thông qua kế hoạch trồng cây", "Sinh hoạt chi bộ định kỳ tháng 12", "Lịch trực Tết Nguyên đán"]

    async def overview(name: str, query: str = "") -> httpx.Response:
        async with desk_client(desk_app, await member_named(runtime, name)) as desk:
            return await desk.get("/desk/overview" + query)

    secretary = await overview("Võ Thị Thanh")
    page = secretary.text
    assert secretary.status_code == 200 and len(secretary.content) < 100_000
    assert "Tổng quan: Chi bộ Trường Tiểu học Tân Hòa" in page
    for seen in truong_only:
        assert seen in page
    assert "4/9 (44%)" in page  # turnout of the open vote
    assert "3/8 (38%)" in page  # the notice read by 3 of its 8 recipients, the sender counted out
    assert "Biểu quyết riêng của thôn Đông" not in page
    assert "0912345678" in page and "Ngô Văn Phúc" in page  # not joined: the phone to call
    assert "bot was blocked by the user" in page
    assert vi("Absence warnings") in page and "Vũ Đình Khoa" in page
    assert "Võ Thị Thanh signed" not in page

    deputy = (await overview("Nguyễn Đức Anh")).text
    assert all(seen in deputy for seen in truong_only)
    assert vi("Absence warnings") not in deputy  # the secretary's, only (Quy định 29 warnings)

    for other in ("Lý Văn Quang", "Trần Thị Lan"):  # another branch's secretary, another's deputy
        page = (await overview(other)).text
        assert not any(seen in page for seen in [*truong_only, "Ngô Văn Phúc", "Vũ Đình Khoa"]), other
    assert "Biểu quyết riêng của thôn Đông" in (await overview("Trần Thị Lan")).text

    commune = (await overview("Nguyễn Văn Hùng")).text
    assert all(seen in commune for seen in [*truong_only, "Biểu quyết riêng của thôn Đông", "Vũ Đình Khoa"])
    truong = (await member_named(runtime, "Võ Thị Thanh")).branch_id
    dong = (await member_named(runtime, "Nguyễn Văn Hùng")).branch_id
    narrowed = (await overview("Nguyễn Văn Hùng", f"?branch={truong}")).text
    assert "Lịch trực Tết Nguyên đán" in narrowed and "Biểu quyết riêng của thôn Đông" not in narrowed
    refused = await overview("Võ Thị Thanh", f"?branch={dong}")
    assert refused.status_code == 404 and "Nguyễn Văn Hùng" not in refused.text

    for plain in ("Trần Minh Châu", "Phạm Thị Hoa"):  # a member; a branch committee member
        async with anonymous_client(desk_app) as browser:
            opened = await browser.post(await sign_in_link(desk_app, await member_named(runtime, plain)))
            assert opened.status_code == 403 and vi("The desk is not open to you") in opened.text
            assert (await browser.get("/desk/overview")).status_code == 401


async def test_the_audit_log_filtered_and_paged_for_each_reader(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    phuc = await member_named(runtime, "Ngô Văn Phúc")  # a member of Trường
    quang = await member_named(runtime, "Lý Văn Quang")  # the secretary of Tây
    async with runtime.sessions() as session, session.begin():
        for index in range(60):
            audit.record(
                session,
                AuditAction.MEMBER_EDITED,
                actor_id=None,
                subject_type="member",
                subject_id=phuc.id,
                before={"notes": str(index)},
                after={"notes": str(index + 1)},
                at=utcnow() - timedelta(days=index),
            )
        audit.record(session, AuditAction.MEMBER_ADDED, actor_id=quang.id, subject_type="member", subject_id=quang.id)
    async with desk_client(desk_app, await member_named(runtime, "Võ Thị Thanh")) as desk:
        first = await desk.get("/desk/audit")
        assert first.status_code == 200 and len(first.content) < 100_000
        assert first.text.count("Ngô Văn Phúc") >= 50 and "Lý Văn Quang" not in first.text  # not Tây's
        assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
        second = await desk.get("/desk/audit?page=2")
        assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
        edited = vi("{actor} edited the record of {subject} ({changes})").split("{actor}")[1].split("{subject}")[0]
        assert edited in second.text
        desk_only = (await desk.get("/desk/audit?kind=desk")).text
        assert vi("{actor} signed in to the secretary's desk on a computer").format(actor="Võ Thị Thanh") in desk_only
        assert "Ngô Văn Phúc" not in desk_only.split('class="log"')[1]
        week = (utcnow() - timedelta(days=6)).date().strftime("%d/%m/%Y")  # as the field shows it
        recent = (await desk.get(f"/desk/audit?member={phuc.id}&kind=records&from={week}")).text
        assert 6 <= recent.count("<li><time") <= 8 and f'placeholder="dd/mm/yyyy" value="{week}"' in recent
        for since, until in (("hôm kia", ""), ("", "31/02/2026"), ("5/3", "")):
            # Not a day: shown as typed with the reason beside it, and no rows (never the whole log as if filtered).
            refused = await desk.get("/desk/audit", params={"from": since, "to": until})
            assert refused.status_code == 422 and "<li><time" not in refused.text
            typed = since or until
            assert f'placeholder="dd/mm/yyyy" value="{typed}"' in refused.text
            problem = vi("\u201c{typed}\u201d is not a day. Please type it as dd/mm/yyyy, e.g. 05/12/2026.")
            field = vi("From") if since else vi("To")
            shown = vi("{field}: {problem}").format(field=field, problem=problem.format(typed=typed))
            assert shown in refused.text.replace("&#34;", '"')
            exported = await desk.get("/desk/audit/export", params={"from": since, "to": until})
            assert exported.status_code == 422 and "<li><time" not in exported.text
        assert (await desk.get(f"/desk/audit?member={quang.id}")).status_code == 404
        assert (await desk.get(f"/desk/audit/export?member={quang.id}")).status_code == 404
        exported = await desk.get(f"/desk/audit/export?member={phuc.id}&kind=records")
        assert exported.headers["content-type"] == XLSX
        assert "nhat-ky.xlsx" in exported.headers["content-disposition"]
        sheet = load_workbook(io.BytesIO(exported.content)).active
        assert sheet is not None
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == (vi("When"), vi("What happened")) and len(rows) == 61
        assert isinstance(rows[1][0], datetime) and "Ngô Văn Phúc" in str(rows[1][1])
    async with desk_client(desk_app, await member_named(runtime, "Nguyễn Văn Hùng")) as commune:
        everything = (await commune.get("/desk/audit?kind=records")).text
        assert "Lý Văn Quang" in everything and "Ngô Văn Phúc" in everything
    async with anonymous_client(desk_app) as stranger:
        assert (await stranger.get("/desk/audit")).status_code == 401


async def test_behind_https_the_session_cookie_is_secure(database_url: str, demo: Demo) -> None:
    app = create_app(make_settings(database_url, public_url="https://chibo.example.vn"), migrate=False)
    try:
        async with anonymous_client(app) as browser:
            opened = await browser.post(await sign_in_link(app, await member_named(app_runtime(app), "Võ Thị Thanh")))
            assert opened.status_code == 303 and "Secure" in opened.headers["set-cookie"]
    finally:
        await app_runtime(app).engine.dispose()


async def test_a_session_ended_by_a_lost_office_stays_ended_when_the_office_comes_back(
    desk_app: FastAPI, demo: Demo
) -> None:
    runtime = app_runtime(desk_app)
    deputy = await member_named(runtime, "Nguyễn Đức Anh")

    async def set_deputy(role: Role, active: bool = True) -> None:
        async with runtime.sessions() as session, session.begin():
            row = await session.get(Member, deputy.id)
            assert row is not None
            row.role, row.active = role, active
            session.add(row)

    for lose in ({"role": Role.MEMBER}, {"role": deputy.role, "active": False}):
        async with desk_client(desk_app, deputy) as desk:
            assert (await desk.get("/desk/overview")).status_code == 200
            cookie = desk.client.cookies["chibo_desk"]
            await set_deputy(**lose)
            assert (await desk.get("/desk/overview")).status_code == 401
            await set_deputy(deputy.role)  # the secretary gives the office back (or reactivates them)
            desk.client.cookies.set("chibo_desk", cookie, domain="desk.test", path="/desk")
            again = await desk.get("/desk/overview")
            assert again.status_code == 401 and vi("Please sign in") in again.text  # a new link is needed


async def test_the_desk_takes_a_long_register_long_minutes_and_says_what_is_too_large(
    desk_app: FastAPI, demo: Demo
) -> None:
    """Every desk POST was capped at the app's 16 KB: a register of 30 KB, minutes of 8,000 letters
    got a bare 413. Forms take 256 KB, files what the chat takes (20 MB), and past that a clear page."""
    from models.roster import EXPORT_HEADER
    from tests.test_desk_meetings import held_meeting

    runtime = app_runtime(desk_app)
    meeting_id, _members = await held_meeting(desk_app)
    row = ["Nguyễn Văn Mới {n}", "02/03/1999", "Nam", "", "TRUONG", "", "Dự bị", "02/03/2026", "", "", "", ""]
    lines = [",".join(EXPORT_HEADER)] + [",".join(row).format(n=n) for n in range(400)]
    csv = "\n".join(lines).encode()
    assert 29_000 < len(csv) < 40_000
    async with desk_client(desk_app, await member_named(runtime, "Võ Thị Thanh")) as desk:
        files = {"file": ("so-dang-vien.csv", csv, "text/csv")}
        preview = await desk.client.post(
            "/desk/members/import", data={"csrf": await desk.csrf(), "step": "preview"}, files=files
        )
        assert preview.status_code == 200 and "Nguyễn Văn Mới 399" in preview.text

        minutes = ("Đồng chí Bí thư quán triệt nghị quyết, đề nghị các đồng chí thực hiện nghiêm túc. " * 100)[:8000]
        saved = await desk.post(f"/desk/meetings/{meeting_id}/minutes", {"minutes": minutes, "conclusions": ""})
        assert saved.status_code == 303
        assert minutes[:7000] in (await desk.get(f"/desk/meetings/{meeting_id}/minutes")).text

        too_long = await desk.post(f"/desk/meetings/{meeting_id}/minutes", {"minutes": "ệ" * 100_000})
        assert too_long.status_code == 413 and vi("Too much was sent") in too_long.text and "256 KB" in too_long.text

        big = b"x" * (20 * 1024 * 1024 + 300 * 1024)
        refused = await desk.client.post(
            f"/desk/meetings/{meeting_id}/documents",
            data={"csrf": await desk.csrf()},
            files={"file": ("tai-lieu.pdf", big, "application/pdf")},
        )
        assert refused.status_code == 413 and vi("The file is too large") in refused.text and "20 MB" in refused.text
    async with anonymous_client(desk_app) as stranger:  # without a session nothing is read: 401
        assert (
            await stranger.post(f"/desk/meetings/{meeting_id}/minutes", data={"minutes": "x" * 100_000})
        ).status_code == 401


async def test_a_refused_desk_request_is_audited_like_the_chats_once_a_minute(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    phuc = await member_named(runtime, "Ngô Văn Phúc")  # a member of Trường
    quang = await member_named(runtime, "Lý Văn Quang")  # the secretary of Tây

    async def refusals() -> list[AuditEvent]:
        async with runtime.sessions() as session:
            query = select(AuditEvent).where(AuditEvent.action == AuditAction.REFUSED.value)
            return list((await session.exec(query)).all())

    async with desk_client(desk_app, await member_named(runtime, "Võ Thị Thanh")) as own:
        assert (await own.get(f"/desk/members/{phuc.id}")).status_code == 200
    assert await refusals() == []
    async with desk_client(desk_app, quang) as desk:
        first = await desk.get(f"/desk/members/{phuc.id}")
        assert first.status_code == 404 and "Ngô Văn Phúc" not in first.text
        [line] = await refusals()
        assert line.actor_member_id == quang.id and line.after is not None and line.after["times"] == 1
        for _ in range(3):  # quickly again, and a change posted: counted on the same line
            assert (await desk.get(f"/desk/members/{phuc.id}")).status_code == 404
        changed = await desk.post(f"/desk/members/{phuc.id}/phone", {"value": "0912000111"})
        assert changed.status_code == 404
        [line] = await refusals()
        assert line.after is not None and line.after["times"] == 5


async def test_signing_in_from_another_site_is_refused(desk_app: FastAPI, demo: Demo) -> None:
    """Login CSRF: another site's form posting an attacker's link would sign this browser into the
    attacker's desk. An Origin (or Referer) naming another host is refused, the link left unused."""
    runtime = app_runtime(desk_app)
    secretary = await member_named(runtime, "Võ Thị Thanh")
    async with anonymous_client(desk_app) as browser:
        link = await sign_in_link(desk_app, secretary)
        for header in (
            {"Origin": "https://evil.example"},
            {"Referer": "https://evil.example/page"},
            {"Origin": "null"},
        ):
            refused = await browser.post(link, headers=header)
            assert refused.status_code == 403 and vi("The desk was not opened") in refused.text, header
            assert "chibo_desk" not in refused.headers.get("set-cookie", "")
        opened = await browser.post(link, headers={"Origin": "http://desk.test"})  # its own page
        assert opened.status_code == 303
        referred = await browser.post(
            await sign_in_link(desk_app, secretary), headers={"Referer": "http://desk.test" + link}
        )
        assert referred.status_code == 303
    async with anonymous_client(desk_app) as old_browser:  # neither header: let through
        assert (await old_browser.post(await sign_in_link(desk_app, secretary))).status_code == 303


async def test_numbers_and_characters_no_column_holds_get_a_clear_page(desk_app: FastAPI) -> None:
    """An id of 2³¹, a NUL typed into a form and the calendar of 9999-12 each gave a 500 (tester B)."""
    runtime = app_runtime(desk_app)
    thanh = await member_named(runtime, "Võ Thị Thanh")
    async with desk_client(desk_app, thanh) as desk:
        for url in (f"/desk/members/{2**31}", f"/desk/meetings/{2**40}", f"/desk/polls/{2**31}"):
            page = await desk.get(url)
            assert page.status_code == 404 and vi("Not found") in page.text, url
        nul = await desk.post(f"/desk/members/{thanh.id}/full_name", {"value": "Võ Thị\x00 Thanh"})
        assert nul.status_code == 422 and vi("This form holds a character chibo cannot keep") in nul.text
        for month in ("9999-12", "0001-01"):
            assert (await desk.get(f"/desk/meetings?month={month}")).status_code == 200
    assert (await member_named(runtime, "Võ Thị Thanh")).full_name == "Võ Thị Thanh"


async def test_a_query_parameter_the_desk_cannot_read_gets_its_page_not_json(desk_app: FastAPI) -> None:
    """``period=abc`` in the report's address answered FastAPI's JSON (tester C): the desk's page."""
    async with desk_client(desk_app, await member_named(app_runtime(desk_app), "Võ Thị Thanh")) as desk:
        for url in ("/desk/reports?period=abc", "/desk/audit?page=x", "/desk/audit?member=-1"):
            page = await desk.get(url)
            assert page.status_code == 400 and page.headers["content-type"].startswith("text/html"), url
            assert vi("This address is not one the desk understands") in page.text
    async with anonymous_client(desk_app) as browser:  # the API keeps its JSON answer
        api = await browser.post("/api/webchat/session", content=b"\xff", headers={"content-type": "application/json"})
        assert api.headers["content-type"].startswith("application/json")


async def test_the_commune_committee_is_named_with_a_capital_among_the_branches(desk_app: FastAPI) -> None:
    async with desk_client(desk_app, await member_named(app_runtime(desk_app), "Nguyễn Văn Hùng")) as desk:
        calendar = (await desk.get("/desk/meetings")).text
    assert f">{vi('The commune Party committee')}</option>" in calendar and ">đảng ủy xã</option>" not in calendar
