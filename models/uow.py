"""The unit of work an entry point opens (a webhook update, a scheduler pass, a command): one
session and one transaction, committed when the block ends, rolled back when it raises.

    async with UnitOfWork(sessions) as uow:
        if await uow.claim(Notice, col(Notice.id) == notice_id, col(Notice.status) == NoticeStatus.SCHEDULED, ...):
            uow.outbox.add(identities, body, member_id=member.id)
            uow.audit.record(AuditAction.NOTICE_SENT, actor_id=None, subject_type="notice", subject_id=notice_id)

The domain's functions take ``uow.session`` and build their rows through the same ``Outbox``,
``audit.record`` and ``claim``: whoever calls them owns the transaction, never they.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import AuditLog
from models.db import claim
from models.outbox import Outbox


class UnitOfWork:
    session: AsyncSession
    audit: AuditLog
    outbox: Outbox

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> UnitOfWork:
        # Exactly ``async with sessions() as session, session.begin():``, held open across the block.
        async with AsyncExitStack() as stack:
            self.session = await stack.enter_async_context(self._sessions())
            await stack.enter_async_context(self.session.begin())
            self._stack = stack.pop_all()
        self.audit, self.outbox = AuditLog(self.session), Outbox(self.session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> bool | None:
        return await self._stack.__aexit__(exc_type, exc, traceback)

    async def claim(self, table: type[SQLModel], *conditions: ColumnElement[bool], **values: Any) -> bool:
        """``models.db.claim`` in this transaction."""
        return await claim(self.session, table, *conditions, **values)
