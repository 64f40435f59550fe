"""The desk's Đảng viên page: the roster for each reader, a record's changes through the chat's domain
functions, fresh invite codes with their QR sheet, the register imported through a preview, exported."""

from __future__ import annotations

import io
import re
import unicodedata
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from openpyxl import Workbook, load_workbook
from sqlmodel import col, select

from bot.demo import DEMO_TIMEZONE
from bot.runtime import Runtime
from models.audit import AuditAction
from models.invites import find_invite
from models.membership import ChangeProblem, InvalidChange, issue_invites, probation_end
from models.register_preview import PreviewChanged, confirm_register, preview_register
from models.roster import EXPORT_HEADER, Column, Outcome, Problem, parse_row
from models.tables import AuditEvent, Invite, Member, MemberStanding, MemberStatus, PromotionVote, utcnow
from tests.chat import vi
from tests.conftest import Demo, make_settings, member_named, zone_on_another_day
from tests.desk import anonymous_client, app_runtime, desk_client, seed_branch_activity, sign_in_link
from tests.test_records import admitted_on, west_meeting
from webhooks.app import create_app

TRUONG = ["Võ Thị Thanh", "Nguyễn Đức Anh", "Vũ Đình Khoa", "Ngô Văn Phúc", "Phạm Quốc Việt"]
DONG = ["Nguyễn Văn Hùng", "Lê Văn Minh", "Bùi Thị Hương"]


def xlsx(rows: list[list[object]], header: list[str] = EXPORT_HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def read_xlsx(raw: bytes) -> list[list[object]]:
    sheet = load_workbook(io.BytesIO(raw)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


async def events(runtime: Runtime, action: AuditAction, member: Member) -> list[AuditEvent]:
    async with runtime.sessions() as session:
        query = select(AuditEvent).where(AuditEvent.action == action, AuditEvent.subject_id == member.id)
        return list((await session.exec(query)).all())


async def test_the_roster_through_the_permission_matrix(desk_app: FastAPI, demo: Demo) -> None:
    await seed_branch_activity(desk_app)
    runtime = app_runtime(desk_app)

    async def page(name: str, url: str = "/desk/members") -> httpx.Response:
        async with desk_client(desk_app, await member_named(runtime, name)) as desk:
            return await desk.get(url)

    secretary = await page("Võ Thị Thanh")
    assert secretary.status_code == 200 and len(secretary.content) < 100_000
    assert all(name in secretary.text for name in TRUONG) and not any(name in secretary.text for name in DONG)
    assert vi("Members shown: {count}").format(count=9) in secretary.text
    assert "0912345678" in secretary.text  # Ngô Văn Phúc's phone, to call him
    # Printed, the list says whose it is and when (the page's header is not printed).
    assert "<h1>" + vi("Party members") + " · Chi bộ Trường Tiểu học Tân Hòa</h1>" in secretary.text
    today = datetime.now(DEMO_TIMEZONE).strftime("%d/%m/%Y")
    assert vi("Printed on {day} by {name}").format(day=today, name="Võ Thị Thanh") in secretary.text
    # Search without diacritics, on part of the name.
    found = (await page("Võ Thị Thanh", "/desk/members?q=vu+dinh")).text
    assert "Vũ Đình Khoa" in found and "Ngô Văn Phúc" not in found
    probationary = (await page("Võ Thị Thanh", "/desk/members?status=probationary")).text
    assert "Phạm Quốc Việt" in probationary and "Vũ Đình Khoa" not in probationary
    # seed_branch_activity joined the first five of Trường: Zalo, Telegram, web chat in turn.
    not_joined = (await page("Võ Thị Thanh", "/desk/members?joined=no")).text
    assert "Ngô Văn Phúc" in not_joined and "Võ Thị Thanh</a>" not in not_joined
    on_telegram = (await page("Võ Thị Thanh", "/desk/members?channel=telegram")).text
    assert vi("Members shown: {count}").format(count=2) in on_telegram

    deputy = await page("Nguyễn Đức Anh")
    assert all(name in deputy.text for name in TRUONG)
    thanh = await member_named(runtime, "Võ Thị Thanh")
    # The deputy reads the secretary's record but cannot change it (nobody acts above their office).
    record = (await page("Nguyễn Đức Anh", f"/desk/members/{thanh.id}")).text
    assert "Võ Thị Thanh" in record and f'action="/desk/members/{thanh.id}/phone"' not in record
    assert (
        vi("Nobody can change the record of a comrade whose office is above their own ({value}).").format(
            value="Võ Thị Thanh"
        )
        in record
    )

    other = await page("Lý Văn Quang")  # another branch's secretary
    assert not any(name in other.text for name in TRUONG)
    refused = await page("Lý Văn Quang", f"/desk/members/{thanh.id}")
    assert refused.status_code == 404 and "Võ Thị Thanh" not in refused.text
    assert (await page("Lý Văn Quang", "/desk/members/export")).status_code == 200
    exported = read_xlsx((await page("Lý Văn Quang", "/desk/members/export")).content)
    assert not any(row[0] in TRUONG for row in exported)

    commune = await page("Nguyễn Văn Hùng")
    assert all(name in commune.text for name in [*TRUONG, *DONG])
    narrowed = (await page("Nguyễn Văn Hùng", f"/desk/members?branch={thanh.branch_id}")).text
    assert "Vũ Đình Khoa" in narrowed and "Lê Văn Minh" not in narrowed
    assert (
        await page("Võ Thị Thanh", f"/desk/members?branch={(await member_named(runtime, 'Lê Văn Minh')).branch_id}")
    ).status_code == 404

    async with anonymous_client(desk_app) as browser:
        assert (await browser.get("/desk/members")).status_code == 401
        plain = await browser.post(await sign_in_link(desk_app, await member_named(runtime, "Trần Minh Châu")))
        assert plain.status_code == 403
        assert (await browser.get(f"/desk/members/{thanh.id}")).status_code == 401


async def test_every_change_of_a_record_goes_through_the_chats_rules(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    phuc = await member_named(runtime, "Ngô Văn Phúc")
    viet = await member_named(runtime, "Phạm Quốc Việt")
    url = f"/desk/members/{phuc.id}"
    async with desk_client(desk_app, await member_named(runtime, "Võ Thị Thanh")) as desk:
        saved = await desk.post(url + "/phone", {"value": "0987 654 321"})
        assert saved.status_code == 303 and saved.headers["location"] == url + "?saved=1"
        assert (await desk.post(url + "/birth_date", {"value": "06/05/1994"})).status_code == 303  # dd/mm/yyyy
        assert (await desk.post(url + "/card_number", {"value": "TH-0042"})).status_code == 303
        assert (await desk.post(url + "/standing", {"value": "elsewhere"})).status_code == 303
        assert (await desk.post(url + "/exempt", {"value": "yes"})).status_code == 303
        assert (await desk.post(url + "/role", {"value": "committee_member"})).status_code == 303
        page = (await desk.get(url + "?saved=1")).text
        assert vi("Saved.") in page and "0987654321" in page and "TH-0042" in page and "06/05/1994" in page
        # Dates are typed and shown dd/mm/yyyy whatever the browser's language (no date picker).
        assert 'placeholder="dd/mm/yyyy" value="06/05/1994"' in page and 'type="date"' not in page
        # The history in the audit log's sentences, as the chat's "History" says them.
        assert page.count("<time") >= 6 and "Võ Thị Thanh" in page.split(vi("History"))[-1]

        wrong = await desk.post(url + "/phone", {"value": "12"})
        assert wrong.status_code == 422
        assert vi("\u201c{value}\u201d is not a phone number. Type it like 0912 345 678.").format(value="12")[:20] in (
            wrong.text.replace("&#34;", '"')
        )
        future = await desk.post(url + "/birth_date", {"value": "2999-01-01"})
        assert future.status_code == 422
        # The refusal names the date it is about and keeps what was typed in that field.
        unreadable = await desk.post(url + "/date_admitted", {"value": "31/02/2010"})
        assert unreadable.status_code == 422 and vi("Date joined the Party") + ": " in unreadable.text
        assert 'value="31/02/2010" aria-invalid="true"' in unreadable.text
        # A probationary member holds no office; probation lasts 12 months (both refused as in chat).
        assert (await desk.post(f"/desk/members/{viet.id}/role", {"value": "deputy_secretary"})).status_code == 422
        early = await desk.post(f"/desk/members/{viet.id}/promote", {"votes_for": "8", "officials": "9"})
        assert early.status_code == 422

        asked = await desk.post(url + "/deactivate", {"reason": "transferred"})  # asked first, nothing done
        assert asked.status_code == 200 and vi("Yes, take them off the roster") in asked.text
        assert (await member_named(runtime, "Ngô Văn Phúc")).active
        assert (await desk.post(url + "/deactivate", {"reason": "transferred", "sure": "yes"})).status_code == 303
        gone = await member_named(runtime, "Ngô Văn Phúc")
        assert not gone.active and gone.deactivation_reason == "transferred"
        assert (await desk.post(url + "/phone", {"value": "0912 000 111"})).status_code == 422  # inactive
        assert (await desk.post(url + "/reactivate")).status_code == 303
        # Another branch's member, or a change no form sends: the clear page, nothing done.
        hung = await member_named(runtime, "Nguyễn Văn Hùng")
        assert (await desk.post(f"/desk/members/{hung.id}/phone", {"value": "0912 000 111"})).status_code == 404
        assert (await desk.post(url + "/status", {"value": "official"})).status_code == 404
        assert (await desk.post(url + "/move", {"value": str(hung.branch_id)})).status_code == 404
    back = await member_named(runtime, "Ngô Văn Phúc")
    assert back.active and back.phone == "+84987654321" and back.card_number == "TH-0042"
    assert back.standing is MemberStanding.ELSEWHERE and back.exempt
    assert len(await events(runtime, AuditAction.MEMBER_EDITED, back)) == 4  # phone, birth, card, role
    assert len(await events(runtime, AuditAction.MEMBER_DEACTIVATED, back)) == 1

    # The commune committee's secretary moves a member between branches (the branch office lapses).
    async with desk_client(desk_app, hung) as desk:
        record = (await desk.get(url)).text
        # The move's button says what it does, not the meeting card's "change the time".
        assert vi("Move to the chosen branch") in record and ">" + vi("Move") + "<" not in record
        assert (await desk.post(url + "/move", {"value": str(hung.branch_id)})).status_code == 303
    assert (await member_named(runtime, "Ngô Văn Phúc")).branch_id == hung.branch_id


async def test_a_member_taken_off_the_roster_on_the_desk_leaves_on_the_communes_date(
    database_url: str, demo: Demo
) -> None:
    """Early in the morning in Vietnam the server's (UTC) date is still yesterday's: the register
    says the commune's day."""
    zone = ZoneInfo(zone_on_another_day())
    app = create_app(make_settings(database_url, timezone=zone.key), migrate=False)
    try:
        runtime = app_runtime(app)
        phuc = await member_named(runtime, "Ngô Văn Phúc")
        async with desk_client(app, await member_named(runtime, "Võ Thị Thanh")) as desk:
            url = f"/desk/members/{phuc.id}"
            done = await desk.post(url + "/deactivate", {"reason": "transferred", "sure": "yes"})
            assert done.status_code == 303
        assert (await member_named(runtime, "Ngô Văn Phúc")).deactivated_on == datetime.now(zone).date()
    finally:
        await app.state.runtime.engine.dispose()


async def test_invisible_control_and_bidi_characters_never_enter_a_name(desk_app: FastAPI, demo: Demo) -> None:
    """ "Đinh \u202eKhánh" displays reversed; \x01 and \x7f show as nothing or boxes: the one rule for
    names (the desk's record, the chat's edit, the CLI, the register's import) keeps the letters
    and their combining marks, and drops those."""
    runtime = app_runtime(desk_app)
    phuc = await member_named(runtime, "Ngô Văn Phúc")
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Ánh")  # tones as combining marks: kept
    typed = {
        "Đinh \u202eKhánh": "Đinh Khánh",
        "Đinh\u202d Khánh\u202c": "Đinh Khánh",
        "\u2066Đinh\u2069 \u2067Khánh\u2068": "Đinh Khánh",
        "Đinh\x01 Kh\x7fánh\u200f": "Đinh Khánh",
        decomposed: decomposed,
    }
    async with desk_client(desk_app, await member_named(runtime, "Võ Thị Thanh")) as desk:
        for name, kept in typed.items():
            saved = await desk.post(f"/desk/members/{phuc.id}/full_name", {"value": name})
            assert saved.status_code == 303, repr(name)
            assert (await member_named(runtime, kept)).id == phuc.id, repr(name)
        only_invisible = await desk.post(f"/desk/members/{phuc.id}/full_name", {"value": "\u202e\x01"})
        assert only_invisible.status_code == 422 and vi("The name cannot be empty.") in only_invisible.text
    row = parse_row(2, {Column.FULL_NAME: "Đinh \u202eKhánh\x7f"}, lambda _code: 1, 1)
    assert not isinstance(row, list) and row.values["full_name"] == "Đinh Khánh"
    hidden = parse_row(3, {Column.FULL_NAME: "\u202e=HYPERLINK(1)"}, lambda _code: 1, 1)
    assert isinstance(hidden, list) and [p.problem for p in hidden] == [Problem.FORMULA]


async def test_fresh_invite_codes_for_the_selection_print_as_a_qr_sheet(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    chosen = [await member_named(runtime, name) for name in ("Vũ Đình Khoa", "Ngô Văn Phúc")]
    async with desk_client(desk_app, await member_named(runtime, "Võ Thị Thanh")) as desk:
        roster = (await desk.get("/desk/members")).text
        thanh = await member_named(runtime, "Võ Thị Thanh")
        assert f'value="{chosen[0].id}"' in roster and f'name="member" value="{thanh.id}"' not in roster  # not herself
        sheet = await desk.client.post(
            "/desk/members/invites",
            data={"member": [str(m.id) for m in chosen], "csrf": await desk.csrf()},
        )
        assert sheet.status_code == 200 and sheet.content.startswith(b"%PDF")
        assert sheet.headers["cache-control"] == "no-store"
        # A member of another branch in the form: refused, and nobody's codes changed.
        hung = await member_named(runtime, "Nguyễn Văn Hùng")
        forged = await desk.client.post(
            "/desk/members/invites", data={"member": [str(chosen[0].id), str(hung.id)], "csrf": await desk.csrf()}
        )
        assert forged.status_code == 404
    async with runtime.sessions() as session:
        for member in chosen:
            rows = (await session.exec(select(Invite).where(Invite.member_id == member.id))).all()
            # The demo's printed code and the new one: the old one revoked, one open.
            assert len(rows) == 2 and sum(r.revoked_at is None for r in rows) == 1
            assert await find_invite(session, demo.code(member.full_name)) is not None
            assert all(demo.code(member.full_name) not in r.code_hash for r in rows)
        assert (
            await session.exec(select(Invite).where(Invite.member_id == hung.id, col(Invite.revoked_at).is_not(None)))
        ).all() == []
    for member in chosen:
        assert len(await events(runtime, AuditAction.INVITE_ISSUED, member)) == 1


async def test_bulk_codes_refuse_the_whole_selection_when_one_is_not_the_actors(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    async with runtime.sessions() as session, session.begin():
        deputy = (await session.exec(select(Member).where(Member.full_name == "Nguyễn Đức Anh"))).one()
        secretary = (await session.exec(select(Member).where(Member.full_name == "Võ Thị Thanh"))).one()
        khoa = (await session.exec(select(Member).where(Member.full_name == "Vũ Đình Khoa"))).one()
        try:
            await issue_invites(session, deputy, [khoa, secretary])
        except InvalidChange as error:
            assert error.problem is ChangeProblem.RECORD_ABOVE_OWN
        else:
            raise AssertionError("a deputy issued a code in the secretary's name")
        issued = await issue_invites(session, deputy, [khoa])
        assert [m.full_name for m, _code in issued] == ["Vũ Đình Khoa"]
        assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", issued[0][1])


async def test_the_register_imports_through_a_preview_exactly_as_previewed(desk_app: FastAPI, demo: Demo) -> None:
    runtime = app_runtime(desk_app)
    async with desk_client(desk_app, await member_named(runtime, "Võ Thị Thanh")) as desk:
        exported = await desk.get("/desk/members/export")
        assert exported.status_code == 200
        rows = read_xlsx(exported.content)
        assert rows[0] == EXPORT_HEADER and len(rows) == 10 and all(r[4] == "TRUONG" for r in rows[1:])

        async def send(
            raw: bytes, step: str = "preview", name: str = "so-dang-vien.xlsx", **extra: str
        ) -> httpx.Response:
            files = {"file": (name, raw, "application/octet-stream")}
            data = {"csrf": await desk.csrf(), "step": step, **extra}
            return await desk.client.post("/desk/members/import", data=data, files=files)

        # The export read back: every member unchanged.
        same = await send(exported.content)
        assert same.status_code == 200 and "<b>9</b><span>" + vi("unchanged") in same.text

        body: list[list[object]] = [list(r) for r in rows[1:]]
        khoa = next(r for r in body if r[0] == "Vũ Đình Khoa")
        khoa[3] = "0977 111 222"
        new: list[object] = ["Lò Văn Mới", "02/03/1999", "Nam", "", "", "", "Dự bị", "02/03/2026", "", "", "", ""]
        raw = xlsx([*body, new])
        before = await count(runtime)
        preview = await send(raw)
        assert preview.status_code == 200
        text = preview.text
        assert "Lò Văn Mới" in text and vi("new member") in text
        assert "Vũ Đình Khoa" in text and "0977111222" in text  # the field that changes, before and after
        assert await count(runtime) == before  # nothing saved by the preview
        fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]{64})"', text)
        assert fingerprint is not None

        # The file edited after the preview: refused, nothing saved, the new preview shown.
        edited = xlsx([*body, [*new[:1], "03/03/1999", *new[2:]]])
        changed = await send(edited, "confirm", fingerprint=fingerprint.group(1))
        assert changed.status_code == 409 and await count(runtime) == before

        done = await send(raw, "confirm", fingerprint=fingerprint.group(1))
        assert (
            done.status_code == 303
            and "created=1" in done.headers["location"]
            and "updated=1" in done.headers["location"]
        )
        assert (
            vi("Imported: {created} new, {updated} updated, {unchanged} unchanged.").format(
                created=1, updated=1, unchanged=8
            )
            in (await desk.get(done.headers["location"])).text
        )
        assert await count(runtime) == before + 1
        assert (await member_named(runtime, "Vũ Đình Khoa")).phone == "+84977111222"
        # Confirming the same preview again: the roster changed since, so refused.
        assert (await send(raw, "confirm", fingerprint=fingerprint.group(1))).status_code == 409

        # A row for another branch, and a bad date: problems by line, no way to confirm.
        wrong = await send(xlsx([["Người Lạ", "31/02/1990", "", "", "DONG", "", "", "", "", "", "", ""]]))
        assert wrong.status_code == 200 and 'name="fingerprint"' not in wrong.text
        assert vi("line {line}").format(line=2) in wrong.text
        unreadable = await send(b"not a spreadsheet", name="so.xlsx")
        assert (
            unreadable.status_code == 422
            and vi("{name} is not a valid Excel (.xlsx) file.").format(name="so.xlsx") in unreadable.text
        )
    khoa_member = await member_named(runtime, "Vũ Đình Khoa")
    updates = await events(runtime, AuditAction.MEMBER_UPDATED, khoa_member)
    assert len(updates) == 1 and updates[0].after == {"phone": "+84977111222"}
    thanh = await member_named(runtime, "Võ Thị Thanh")
    assert updates[0].actor_member_id == thanh.id


async def count(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        return len((await session.exec(select(Member))).all())


async def test_preview_and_import_agree_in_the_domain(runtime: Runtime, demo: Demo) -> None:
    """The preview's rows are what the import then does; a different file is refused."""
    async with runtime.sessions() as session, session.begin():
        thanh = (await session.exec(select(Member).where(Member.full_name == "Võ Thị Thanh"))).one()
        raw = xlsx([["Vũ Đình Khoa", "", "", "0977 111 222", "", "", "Chính thức", "", "", "DEMO00028", "", ""],
                    ["Lò Thị Mới", "", "Nữ", "", "", "", "Dự bị", "", "", "", "", ""]])  # fmt: skip
        preview = await preview_register(session, thanh, "r.xlsx", raw, default_branch="TRUONG")
        assert [(r.full_name, r.outcome) for r in preview.report.rows] == [
            ("Vũ Đình Khoa", Outcome.UPDATED),
            ("Lò Thị Mới", Outcome.NEW),
        ]
        # Empty cells leave the fields as they are: only the phone changes.
        assert set(preview.report.rows[0].before) == {"phone"}
        try:
            await confirm_register(session, thanh, "r.xlsx", raw + b"x", preview.fingerprint, default_branch="TRUONG")
        except PreviewChanged:
            pass
        else:
            raise AssertionError("a different file was imported")
        report = await confirm_register(session, thanh, "r.xlsx", raw, preview.fingerprint, default_branch="TRUONG")
        assert (report.created, report.updated, report.unchanged) == (1, 1, 0) and report.rows == preview.report.rows
        khoa = (await session.exec(select(Member).where(Member.full_name == "Vũ Đình Khoa"))).one()
        assert khoa.phone == "+84977111222" and khoa.birth_date is not None and khoa.status is MemberStatus.OFFICIAL
        mo = (await session.exec(select(Member).where(Member.full_name == "Lò Thị Mới"))).one()
        assert mo.status is MemberStatus.PROBATIONARY and mo.exempt is False


async def test_a_communes_roster_comes_in_light_pages(desk_app: FastAPI, demo: Demo) -> None:
    """Three hundred more members: each page stays under 100 KB, and the pages hold them all."""
    runtime = app_runtime(desk_app)
    hung = await member_named(runtime, "Nguyễn Văn Hùng")
    async with runtime.sessions() as session, session.begin():
        session.add_all(Member(branch_id=hung.branch_id, full_name=f"Đảng viên {i:03d}") for i in range(300))
    async with desk_client(desk_app, hung) as desk:
        first = await desk.get("/desk/members")
        assert first.status_code == 200 and len(first.content) < 100_000
        total = 300 + 30  # the demo commune's thirty
        assert vi("Members shown: {count}").format(count=total) in first.text
        assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
        shown = set(re.findall(r'href="/desk/members/(\d+)"', first.text))
        page = first
        while 'rel="next"' in page.text:
            following = re.search(r'href="([^"]+)" rel="next"', page.text)
            assert following is not None
            page = await desk.get(following.group(1).replace("&amp;", "&"))
            assert len(page.content) < 100_000
            shown |= set(re.findall(r'href="/desk/members/(\d+)"', page.text))
    assert len(shown) == total


async def test_a_register_with_some_columns_leaves_the_others_as_they_are(desk_app: FastAPI, demo: Demo) -> None:
    """Name, birth date, phone and branch only: the card, the dates, the gender and the status stay;
    the preview shows only the phone, in words."""
    runtime = app_runtime(desk_app)
    thao = await member_named(runtime, "Chu Thị Thảo")
    assert thao.birth_date is not None and thao.status is MemberStatus.OFFICIAL and thao.date_official is not None
    born = thao.birth_date.strftime("%d/%m/%Y")
    header = ["Họ và tên", "Ngày sinh", "Số điện thoại", "Chi bộ"]
    async with desk_client(desk_app, await member_named(runtime, "Lý Văn Quang")) as desk:

        async def send(raw: bytes, step: str = "preview", **extra: str) -> httpx.Response:
            files = {"file": ("thao.xlsx", raw, "application/octet-stream")}
            data = {"csrf": await desk.csrf(), "step": step, **extra}
            return await desk.client.post("/desk/members/import", data=data, files=files)

        raw = xlsx([["Chu Thị Thảo", born, "0912999021", "TAY"]], header)
        preview = await send(raw)
        assert preview.status_code == 200, preview.text
        assert "0912999021" in preview.text and "female" not in preview.text and "→ <b>—</b>" not in preview.text
        fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]{64})"', preview.text)
        assert fingerprint is not None
        done = await send(raw, "confirm", fingerprint=fingerprint.group(1))
        assert done.status_code == 303 and "updated=1" in done.headers["location"]
        # A gender and status column with empty cells: nothing changes at all.
        blank = xlsx([["Chu Thị Thảo", born, "Nữ", "", "TAY", "", "", "", "", "", "", ""]])
        again = await send(blank)
        assert "<b>1</b><span>" + vi("unchanged") in again.text
        # A gender to change is shown in words.
        male = await send(xlsx([["Chu Thị Thảo", born, "Nam", "", "TAY", "", "", "", "", "", "", ""]]))
        assert vi("Female") in male.text and vi("Male") in male.text and "female" not in male.text
    after = await member_named(runtime, "Chu Thị Thảo")
    assert after.phone == "+84912999021"
    assert (after.gender, after.card_number, after.date_admitted, after.date_official, after.status) == (
        thao.gender,
        thao.card_number,
        thao.date_admitted,
        thao.date_official,
        MemberStatus.OFFICIAL,
    )


async def test_make_official_on_the_desk_asks_for_the_meeting_that_voted(desk_app: FastAPI, demo: Demo) -> None:
    """Quy định 29: the branch votes at its meeting; the desk's "make official" offers the branch's
    meetings held since probation ended, newest first, as the chat does, and refuses without one.
    Was: a day and a vote with no meeting, so the report named no meeting for the promotion."""
    runtime = app_runtime(desk_app)
    admitted = date.today() - timedelta(days=400)
    await admitted_on(runtime, "Trịnh Thị Yến", admitted)
    yen = await member_named(runtime, "Trịnh Thị Yến")
    url = f"/desk/members/{yen.id}"
    async with desk_client(desk_app, await member_named(runtime, "Lý Văn Quang")) as desk:
        page = (await desk.get(url)).text
        assert f"{probation_end(admitted):%d/%m/%Y}" in page and 'name="meeting"' in page  # none held yet
        vote = {"votes_for": "8", "officials": "9"}
        refused = await desk.post(url + "/promote", vote)
        assert refused.status_code == 422 and "chưa họp lần nào trên chibo" in refused.text
        held = await west_meeting(runtime, utcnow() - timedelta(hours=2))
        older = await west_meeting(runtime, utcnow() - timedelta(days=10))
        await west_meeting(runtime, utcnow() - timedelta(days=60))  # before probation ended: not offered
        east = await west_meeting(runtime, utcnow() - timedelta(days=3), code="DONG")
        page = (await desk.get(url)).text
        offered = re.findall(r'<option value="(\d+)">\d\d/\d\d/\d{4} · Sinh hoạt', page)
        assert offered == [str(held), str(older)]  # newest first
        wrong = await desk.post(url + "/promote", {**vote, "meeting": str(east)})  # another branch's
        assert wrong.status_code == 422 and (await member_named(runtime, "Trịnh Thị Yến")).status == "probationary"
        assert (await desk.post(url + "/promote", {**vote, "meeting": str(held)})).status_code == 303
    member = await member_named(runtime, "Trịnh Thị Yến")
    assert member.status is MemberStatus.OFFICIAL and member.date_official == probation_end(admitted)
    async with runtime.sessions() as session:
        [kept] = (await session.exec(select(PromotionVote))).all()
    assert (kept.meeting_id, kept.votes_for, kept.officials) == (held, 8, 9)
    day = (utcnow() - timedelta(hours=2)).astimezone(DEMO_TIMEZONE).date()
    assert kept.decided_on == day
