"""Who may give which office, and who is due to be made official (DESIGN.md §4).

Nobody grants a role above their own or to themselves; probationary members hold no office; the
commune committee's (đảng ủy) offices are set at commune level, by its secretary. Probation lasts
12 months from admission (Quy định 29), and the secretary sees who is due.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import text, update
from sqlmodel import col

from bot.demo import DEMO_TIMEZONE
from bot.migrate import alembic_config, upgrade
from bot.runtime import Runtime
from models.db import create_engine
from models.membership import ChangeProblem, InvalidChange, add_member, probation_due, probation_end
from models.permissions import OPERATOR, RoleRefusal, role_refusal
from models.tables import Member, MemberStatus, Role
from tests.chat import button, say, vi
from tests.conftest import Demo, member_named
from tests.test_records import admitted_on, events, open_card

QUANG, NGOC, HUNG = 600, 601, 602  # Tây secretary, Tây deputy, Đông secretary and commune committee secretary


def _member(
    ident: int, role: Role = Role.MEMBER, *, committee: Role | None = None, probationary: bool = False
) -> Member:
    status = MemberStatus.PROBATIONARY if probationary else MemberStatus.OFFICIAL
    return Member(id=ident, branch_id=1, full_name=f"#{ident}", role=role, committee_role=committee, status=status)


SECRETARY, DEPUTY = _member(1, Role.SECRETARY), _member(2, Role.DEPUTY_SECRETARY)
COMMITTEE_SECRETARY = _member(3, Role.SECRETARY, committee=Role.SECRETARY)
COMMITTEE_DEPUTY = _member(4, Role.MEMBER, committee=Role.DEPUTY_SECRETARY)
PLAIN, NEWCOMER = _member(5), _member(6, probationary=True)


@pytest.mark.parametrize(
    ("actor", "member", "role", "committee", "expected"),
    [
        # Nobody sets their own office (DESIGN.md §4).
        (DEPUTY, DEPUTY, Role.SECRETARY, False, RoleRefusal.SELF),
        (SECRETARY, SECRETARY, Role.MEMBER, False, RoleRefusal.SELF),
        # Nobody gives, or takes away, an office above their own.
        (DEPUTY, PLAIN, Role.SECRETARY, False, RoleRefusal.ABOVE_OWN),
        (DEPUTY, SECRETARY, Role.MEMBER, False, RoleRefusal.ABOVE_OWN),
        (DEPUTY, PLAIN, Role.DEPUTY_SECRETARY, False, None),
        (DEPUTY, PLAIN, Role.COMMITTEE_MEMBER, False, None),
        (SECRETARY, PLAIN, Role.SECRETARY, False, None),
        (COMMITTEE_DEPUTY, PLAIN, Role.SECRETARY, False, None),  # a commune leader above every branch office
        # Probationary members hold no office (Charter art. 5: every right but voting, standing, electing).
        (SECRETARY, NEWCOMER, Role.COMMITTEE_MEMBER, False, RoleRefusal.PROBATIONARY),
        (OPERATOR, NEWCOMER, Role.SECRETARY, False, RoleRefusal.PROBATIONARY),
        (SECRETARY, NEWCOMER, Role.MEMBER, False, None),
        # The commune committee's offices: only its secretary sets them.
        (SECRETARY, PLAIN, Role.COMMITTEE_MEMBER, True, RoleRefusal.COMMUNE_ONLY),
        (COMMITTEE_DEPUTY, PLAIN, Role.COMMITTEE_MEMBER, True, RoleRefusal.COMMUNE_ONLY),
        (COMMITTEE_SECRETARY, PLAIN, Role.DEPUTY_SECRETARY, True, None),
        (COMMITTEE_SECRETARY, COMMITTEE_SECRETARY, None, True, RoleRefusal.SELF),
        (COMMITTEE_SECRETARY, NEWCOMER, Role.COMMITTEE_MEMBER, True, RoleRefusal.PROBATIONARY),
        (OPERATOR, PLAIN, Role.SECRETARY, True, None),
    ],
)
def test_who_may_give_which_office(
    actor: Member, member: Member, role: Role | None, committee: bool, expected: RoleRefusal | None
) -> None:
    assert role_refusal(actor, member, role, committee=committee) is expected


def test_probation_ends_twelve_months_after_admission() -> None:
    """Quy định 29: 12 months from the admission."""
    assert probation_end(date(2025, 8, 22)) == date(2026, 8, 22)
    assert probation_end(date(2024, 2, 29)) == date(2025, 2, 28)
    assert probation_end(date(2025, 12, 31)) == date(2026, 12, 31)


async def test_a_deputy_cannot_make_himself_or_a_probationary_member_secretary(runtime: Runtime, demo: Demo) -> None:
    """DESIGN.md §4. Was: a deputy could make himself, or a probationary member, branch secretary."""
    await say(runtime, NGOC, f"/start {demo.code('Hồ Thị Ngọc')}")
    ngoc = await member_named(runtime, "Hồ Thị Ngọc")
    himself = (await say(runtime, NGOC, payload=f"mr:{ngoc.id}:secretary"))[0]
    assert vi("Nobody can set their own office.") in himself.text
    son = await member_named(runtime, "Mai Văn Sơn")
    above = (await say(runtime, NGOC, payload=f"mr:{son.id}:secretary"))[0]
    assert vi("Nobody can give or take away an office above their own.") in above.text
    quang = await member_named(runtime, "Lý Văn Quang")
    demote = (await say(runtime, NGOC, payload=f"mr:{quang.id}:member"))[0]
    assert "cao hơn chức vụ của mình" in demote.text
    dung = await member_named(runtime, "Cao Văn Dũng")  # probationary
    newcomer = (await say(runtime, NGOC, payload=f"mr:{dung.id}:committee_member"))[0]
    assert "Cao Văn Dũng là đảng viên dự bị: đảng viên dự bị không giữ chức vụ." in newcomer.text
    saved = (await say(runtime, NGOC, payload=f"mr:{son.id}:committee_member"))[0]
    assert "Đã lưu" in saved.text and "Chức vụ: Chi ủy viên" in saved.text
    assert {m.full_name: m.role for m in [await member_named(runtime, n) for n in ("Hồ Thị Ngọc", "Lý Văn Quang")]} == {
        "Hồ Thị Ngọc": Role.DEPUTY_SECRETARY,
        "Lý Văn Quang": Role.SECRETARY,
    }
    assert (await member_named(runtime, "Cao Văn Dũng")).role is Role.MEMBER
    [edited] = await events(runtime, "member.edited")
    assert edited.subject_id == son.id and edited.after == {"role": "committee_member"}


async def test_only_the_committee_secretary_sets_committee_offices(runtime: Runtime, demo: Demo) -> None:
    """DESIGN.md §4: commune committee (đảng ủy) roles are set at commune level."""
    await say(runtime, QUANG, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, HUNG, f"/start {demo.code('Nguyễn Văn Hùng')}")
    son = await member_named(runtime, "Mai Văn Sơn")
    card = await open_card(runtime, QUANG, "Mai Văn Sơn")
    assert "Chức vụ đảng ủy" not in str(card.buttons)  # a branch secretary is not offered it
    forged = (await say(runtime, QUANG, payload=f"mr:{son.id}:c_committee_member"))[0]
    assert vi("Only the secretary of the Party committee sets its offices.") in forged.text
    assert (await member_named(runtime, "Mai Văn Sơn")).committee_role is None

    card = await open_card(runtime, HUNG, "Mai Văn Sơn")
    offices = (await say(runtime, HUNG, payload=button(card, "Chức vụ đảng ủy")))[0]
    # The commune committee's own offices only; "Chi ủy viên" is a branch's (issue 14).
    assert [b.label for row in offices.buttons for b in row] == [
        "Bí thư Đảng ủy", "Phó Bí thư Đảng ủy", "Đảng ủy viên", "Không giữ chức vụ trong đảng ủy",
    ]  # fmt: skip
    done = (await say(runtime, HUNG, payload=button(offices, "Đảng ủy viên")))[0]
    assert "Đã lưu" in done.text and "Đảng ủy: Đảng ủy viên" in done.text
    assert (await member_named(runtime, "Mai Văn Sơn")).committee_role is Role.COMMITTEE_MEMBER
    hung = await member_named(runtime, "Nguyễn Văn Hùng")
    himself = (await say(runtime, HUNG, payload=f"mr:{hung.id}:c_none"))[0]
    assert vi("Nobody can set their own office.") in himself.text
    removed = (await say(runtime, HUNG, payload=f"mr:{son.id}:c_none"))[0]
    assert "Đảng ủy:" not in removed.text
    assert (await member_named(runtime, "Mai Văn Sơn")).committee_role is None
    assert len(await events(runtime, "member.committee_role")) == 2


async def test_the_secretary_sees_who_is_due_to_be_made_official(runtime: Runtime, demo: Demo) -> None:
    """Quy định 29: probation ended, or ending within 30 days, is listed in Quản lý; a member with
    months to go, or of another branch, is not."""
    today = datetime.now(DEMO_TIMEZONE).date()
    await admitted_on(runtime, "Cao Văn Dũng", today - timedelta(days=400))  # ended
    await admitted_on(runtime, "Trịnh Thị Yến", today - timedelta(days=350))  # ends within 30 days
    await admitted_on(runtime, "Đặng Văn Tuấn", today - timedelta(days=400))  # Chi bộ thôn Đông
    async with runtime.sessions() as session, session.begin():  # not probationary: never listed
        await session.exec(
            update(Member)
            .where(col(Member.full_name) == "Mai Văn Sơn")
            .values(date_admitted=today - timedelta(days=400))
        )
    await say(runtime, QUANG, f"/start {demo.code('Lý Văn Quang')}")
    manage = (await say(runtime, QUANG, "/manage"))[0]
    due = (await say(runtime, QUANG, payload=button(manage, "Đến hạn công nhận chính thức")))[0]
    dung_end = probation_end(today - timedelta(days=400))
    yen_end = probation_end(today - timedelta(days=350))
    assert f"• Cao Văn Dũng: đã hết ngày {dung_end:%d/%m/%Y}" in due.text
    assert f"• Trịnh Thị Yến: hết ngày {yen_end:%d/%m/%Y}" in due.text
    assert "Đặng Văn Tuấn" not in due.text and "Mai Văn Sơn" not in due.text
    card = (await say(runtime, QUANG, payload=button(due, "Cao Văn Dũng")))[0]
    assert "Công nhận chính thức" in str(card.buttons)
    async with runtime.sessions() as session:
        hung = await member_named(runtime, "Nguyễn Văn Hùng")  # the committee secretary sees every branch
        names = [item.member.full_name for item in await probation_due(session, hung, today)]
    assert names == ["Đặng Văn Tuấn", "Cao Văn Dũng", "Trịnh Thị Yến"]  # earliest end first
    await admitted_on(runtime, "Cao Văn Dũng", today - timedelta(days=100))
    await admitted_on(runtime, "Trịnh Thị Yến", today - timedelta(days=100))
    nobody = (await say(runtime, QUANG, payload=button(manage, "Đến hạn công nhận chính thức")))[0]
    assert vi("Nobody's probation ends within the next 30 days.") in nobody.text


async def test_the_migration_maps_old_reasons_for_leaving_to_the_registers(database_url: str) -> None:
    """DESIGN.md §4: transferred, removed, expelled, resigned, died. Stored "moved_away" becomes
    "transferred" and "other" becomes "removed" (xóa tên); nothing is deleted; and back down."""
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0008")
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO committee (id, name) VALUES (1, 'Xã')"))
            await connection.execute(
                text("INSERT INTO branch (id, committee_id, code, name, meeting_quorum_numerator, "
                     "meeting_quorum_denominator) VALUES (1, 1, 'A', 'Chi bộ A', 2, 3)")
            )  # fmt: skip
            for ident, reason in enumerate(("moved_away", "died", "expelled", "other", None), start=1):
                await connection.execute(
                    text("INSERT INTO member (id, branch_id, full_name, role, status, exempt, active, "
                         "deactivation_reason) VALUES (:id, 1, :name, 'member', 'official', false, :active, :reason)"),
                    {"id": ident, "name": f"Đồng chí {ident}", "active": reason is None, "reason": reason},
                )  # fmt: skip
        await upgrade(database_url)

        async def reasons() -> list[str | None]:
            async with engine.connect() as connection:
                rows = await connection.execute(text("SELECT deactivation_reason FROM member ORDER BY id"))
                return [row[0] for row in rows]

        assert await reasons() == ["transferred", "died", "expelled", "removed", None]
        await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0008")
        assert await reasons() == ["moved_away", "died", "expelled", "other", None]
        await upgrade(database_url)
    finally:
        await engine.dispose()


async def test_a_member_added_as_official_must_have_served_probation(runtime: Runtime, demo: Demo) -> None:
    """Quy định 29: nobody is official before 12 months from admission, from the server either."""
    tay = (await member_named(runtime, "Lý Văn Quang")).branch_id
    async with runtime.sessions() as session:
        with pytest.raises(InvalidChange) as refused:
            await add_member(
                session, OPERATOR, tay,
                {"full_name": "Nguyễn Văn An", "date_admitted": date(2025, 6, 1), "date_official": date(2026, 1, 1)},
            )  # fmt: skip
        assert (refused.value.problem, refused.value.value) == (ChangeProblem.PROBATION_NOT_OVER, "2026-06-01")
        member = await add_member(
            session, OPERATOR, tay,
            {"full_name": "Nguyễn Văn An", "date_admitted": date(2025, 6, 1), "date_official": date(2026, 6, 1)},
        )  # fmt: skip
        assert member.status is MemberStatus.OFFICIAL
        with pytest.raises(InvalidChange) as office:
            await add_member(session, OPERATOR, tay, {"full_name": "Trần Văn Bé", "role": Role.DEPUTY_SECRETARY})
        assert office.value.problem is ChangeProblem.ROLE_PROBATIONARY  # added as probationary: no office


async def test_nobody_acts_on_the_record_of_a_comrade_above_them_or_on_their_own(runtime: Runtime, demo: Demo) -> None:
    """DESIGN.md §4 (no office above one's own, nor one's own). Was: a deputy issued an invite code
    in the secretary's name and joined as him, took him off the roster or exempted him, and took
    himself off the roster."""
    await say(runtime, NGOC, f"/start {demo.code('Hồ Thị Ngọc')}")
    ngoc, quang = await member_named(runtime, "Hồ Thị Ngọc"), await member_named(runtime, "Lý Văn Quang")
    attempts = [f"mi:{quang.id}", f"mv:{quang.id}", f"md:{quang.id}:expelled", f"mx:{quang.id}:1"]
    for payload in attempts:
        refused = (await say(runtime, NGOC, payload=payload))[0]
        assert "Không ai được thay đổi hồ sơ của đồng chí giữ chức vụ cao hơn mình (Lý Văn Quang)." in refused.text
        assert "Mã mời mới" not in refused.text
    for payload in (f"md:{ngoc.id}:died", f"mx:{ngoc.id}:1", f"mi:{ngoc.id}"):
        refused = (await say(runtime, NGOC, payload=payload))[0]
        assert "Không ai được tự làm việc này với hồ sơ của chính mình" in refused.text
    quang, ngoc = await member_named(runtime, "Lý Văn Quang"), await member_named(runtime, "Hồ Thị Ngọc")
    assert quang.active and not quang.exempt and ngoc.active and not ngoc.exempt
    assert await events(runtime, "invite.issued") == [] and await events(runtime, "member.deactivated") == []
    # The secretary still acts on his deputy's record, and the commune committee's secretary on his.
    await say(runtime, QUANG, f"/start {demo.code('Lý Văn Quang')}")
    issued = (await say(runtime, QUANG, payload=f"mi:{ngoc.id}"))[0]
    assert "Mã mời mới của Hồ Thị Ngọc" in issued.text
