"""A phone number names one active member: nobody registers another member's number as their own
(it links the chats that share it), a secretary's edit, an import and a reactivation keep it so, the
database refuses a second holder, and the upgrade resolves the duplicates a database already has."""

from __future__ import annotations

import asyncio
import json

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.migrate import alembic_config, upgrade
from bot.runtime import Runtime
from models.db import create_engine
from models.membership import ChangeProblem, InvalidChange, add_member, deactivate, edit_member, reactivate
from models.permissions import OPERATOR
from models.roster import Column, Problem, import_members
from models.tables import AuditEvent, DeactivationReason, Member
from tests.chat import say
from tests.conftest import Demo, member_named

SON = 970


def _local(phone: str | None) -> str:
    assert phone is not None and phone.startswith("+84")
    return "0" + phone[3:]


async def test_a_member_cannot_take_another_members_number(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SON, f"/start {demo.code('Mai Văn Sơn')}")
    own = (await member_named(runtime, "Mai Văn Sơn")).phone
    quang = (await member_named(runtime, "Lý Văn Quang")).phone
    await say(runtime, SON, payload="myphone")
    refused = (await say(runtime, SON, _local(quang)))[0]
    assert f"Số {_local(quang)} là số của một đồng chí khác trong danh sách" in refused.text
    assert (await member_named(runtime, "Mai Văn Sơn")).phone == own  # unchanged
    # Still asked: their own number is then taken.
    saved = (await say(runtime, SON, "0987 654 321"))[0]
    assert (await member_named(runtime, "Mai Văn Sơn")).phone == "+84987654321", saved.text
    assert (await member_named(runtime, "Lý Văn Quang")).phone == quang


async def test_a_secretary_cannot_give_a_number_twice_and_a_reactivation_gives_it_up(
    runtime: Runtime, demo: Demo
) -> None:
    named, quang = await member_named(runtime, "Mai Văn Sơn"), await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        son = await session.get(Member, named.id)
        assert son is not None
        with pytest.raises(InvalidChange) as edited:
            await edit_member(session, OPERATOR, son, {"phone": _local(quang.phone)})
        assert (edited.value.problem, edited.value.value) == (ChangeProblem.DUPLICATE_PHONE, quang.phone)
        with pytest.raises(InvalidChange) as added:
            await add_member(session, OPERATOR, son.branch_id, {"full_name": "Nguyễn Văn An", "phone": quang.phone})
        assert added.value.problem is ChangeProblem.DUPLICATE_PHONE
        # A member off the roster frees the number; when they come back, it stays with its new holder.
        await deactivate(session, OPERATOR, son, DeactivationReason.TRANSFERRED)
        newcomer = await add_member(
            session, OPERATOR, son.branch_id, {"full_name": "Nguyễn Văn An", "phone": son.phone}
        )
        assert newcomer.phone == son.phone is not None
        await reactivate(session, OPERATOR, son)
        assert son.active and son.phone is None
    async with runtime.sessions() as session:
        back = (await session.exec(select(AuditEvent).where(AuditEvent.action == "member.reactivated"))).one()
    assert back.before is not None and back.before["phone"] == newcomer.phone and back.after == {
        "active": True,
        "deactivated_on": None,
        "deactivation_reason": None,
        "phone": None,
    }


async def test_an_import_refuses_a_number_twice(runtime: Runtime, demo: Demo) -> None:
    quang = await member_named(runtime, "Lý Văn Quang")
    rows: list[tuple[int, dict[Column, object]]] = [
        (2, {Column.FULL_NAME: "Nguyễn Văn An", Column.PHONE: "0987 111 222", Column.BRANCH: "Chi bộ thôn Đông"}),
        (3, {Column.FULL_NAME: "Trần Văn Bình", Column.PHONE: "0987111222", Column.BRANCH: "Chi bộ thôn Đông"}),
        (4, {Column.FULL_NAME: "Lê Văn Cường", Column.PHONE: _local(quang.phone), Column.BRANCH: "Chi bộ thôn Đông"}),
    ]
    async with runtime.sessions() as session, session.begin():
        report = await import_members(session, rows)
        assert not report.written
        assert [(p.line, p.problem) for p in report.problems] == [
            (3, Problem.DUPLICATE_PHONE),
            (4, Problem.DUPLICATE_PHONE),
        ], report.problems
        await session.rollback()


async def test_the_database_refuses_a_second_active_holder(runtime: Runtime, demo: Demo) -> None:
    son = await member_named(runtime, "Mai Văn Sơn")
    async with runtime.sessions() as session, session.begin():
        session.add(Member(branch_id=son.branch_id, full_name="Đã chuyển đi", phone=son.phone, active=False))
    with pytest.raises(IntegrityError):
        async with runtime.sessions() as session, session.begin():
            session.add(Member(branch_id=son.branch_id, full_name="Nguyễn Văn An", phone=son.phone))


async def test_the_upgrade_clears_duplicates_and_keeps_the_number_with_its_holder(database_url: str) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0014")
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO committee (id, name) VALUES (1, 'Xã')"))
            await connection.execute(
                text("INSERT INTO branch (id, committee_id, code, name, meeting_quorum_numerator, "
                     "meeting_quorum_denominator) VALUES (1, 1, 'A', 'Chi bộ A', 2, 3)")
            )  # fmt: skip
            members = [
                (1, "+84912000001", True),  # took number 2 themselves, below: loses it to 3
                (2, "+84912000009", True),  # alone: kept
                (3, "+84912000002", True),  # given by the secretary: keeps it
                (4, "+84912000003", True),  # the longest on the roster keeps it...
                (5, "+84912000003", True),  # ...from this one
                (6, "+84912000003", False),  # off the roster: not counted, left alone
            ]
            for ident, phone, active in members:
                await connection.execute(
                    text("INSERT INTO member (id, branch_id, full_name, phone, role, status, exempt, active, standing) "
                         "VALUES (:id, 1, :name, :phone, 'member', 'official', false, :active, 'active')"),
                    {"id": ident, "name": f"Đồng chí {ident}", "phone": phone, "active": active},
                )  # fmt: skip
            await connection.execute(text("UPDATE member SET phone = '+84912000002' WHERE id = 1"))
            await connection.execute(
                text("INSERT INTO auditevent (at, actor_member_id, action, subject_type, subject_id, before, after) "
                     "VALUES (CURRENT_TIMESTAMP, 1, 'member.phone', 'member', 1, :before, :after)"),
                {"before": json.dumps({"phone": "+84912000001"}), "after": json.dumps({"phone": "+84912000002"})},
            )  # fmt: skip
        await upgrade(database_url)
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT id, phone FROM member ORDER BY id"))
            phones: dict[int, str | None] = dict(rows.all())
            cleared = (
                await connection.execute(
                    text("SELECT subject_id FROM auditevent WHERE action = 'member.phone_cleared' ORDER BY subject_id")
                )
            ).all()
        assert phones == {
            1: None, 2: "+84912000009", 3: "+84912000002", 4: "+84912000003", 5: None, 6: "+84912000003",
        }  # fmt: skip
        assert [row[0] for row in cleared] == [1, 5]
    finally:
        await engine.dispose()
