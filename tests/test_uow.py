"""The unit of work: what an entry point wrote is committed together, or not at all; a claim is won
once."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from bot.runtime import Runtime
from models.audit import AuditAction
from models.tables import AuditEvent, ChannelIdentity, OutboxMessage, Platform, ProcessedUpdate
from models.uow import UnitOfWork

CHATS = [
    ChannelIdentity(platform=Platform.TELEGRAM, platform_user_id="7", chat_id="7", member_id=0),
    ChannelIdentity(platform=Platform.ZALO_BOT, platform_user_id="z7", chat_id="z7", member_id=0),
]


async def _written(runtime: Runtime) -> tuple[list[AuditEvent], list[OutboxMessage]]:
    async with runtime.sessions() as session:
        events = list((await session.exec(select(AuditEvent))).all())
        messages = list((await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())
    return events, messages


async def test_what_a_unit_of_work_wrote_is_committed_when_it_ends(runtime: Runtime) -> None:
    async with UnitOfWork(runtime.sessions) as uow:
        uow.audit.record(AuditAction.INVITE_LOCKOUT, actor_id=None, subject_type="webchat", after={"platform": "web"})
        assert uow.outbox.add(CHATS, {"text": "Họp chi bộ"}, member_id=None) == 2
    events, messages = await _written(runtime)
    assert [(e.action, e.subject_type, e.after) for e in events] == [("invite.lockout", "webchat", {"platform": "web"})]
    assert [(m.platform, m.chat_id, m.body) for m in messages] == [
        (Platform.TELEGRAM, "7", {"text": "Họp chi bộ"}),
        (Platform.ZALO_BOT, "z7", {"text": "Họp chi bộ"}),
    ]


async def test_nothing_is_written_when_the_work_fails(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError):
        async with UnitOfWork(runtime.sessions) as uow:
            uow.audit.record(AuditAction.REFUSED, actor_id=None, subject_type="branch")
            uow.outbox.add(CHATS, {"text": "x"}, member_id=None)
            await uow.session.flush()
            raise RuntimeError("the handler failed after writing")
    assert await _written(runtime) == ([], [])


async def test_a_claim_is_won_once(runtime: Runtime) -> None:
    async with UnitOfWork(runtime.sessions) as uow:
        uow.session.add(ProcessedUpdate(platform=Platform.TELEGRAM, update_key="1"))
    async with UnitOfWork(runtime.sessions) as uow:
        assert await uow.claim(ProcessedUpdate, col(ProcessedUpdate.update_key) == "1", update_key="first")
        assert not await uow.claim(ProcessedUpdate, col(ProcessedUpdate.update_key) == "1", update_key="second")
    async with runtime.sessions() as session:
        assert (await session.exec(select(ProcessedUpdate.update_key))).all() == ["first"]
