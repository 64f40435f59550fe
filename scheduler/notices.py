"""Scheduled notices: the database says what is due; claiming it is the status change itself."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.notices import BodyFor, send_due
from models.uow import UnitOfWork


async def send_due_notices(
    sessions: async_sessionmaker[AsyncSession], body_for: BodyFor, wake_delivery: Callable[[], None]
) -> list[int]:
    """Queue every scheduled notice whose time has come (each once, whichever replica runs this)."""
    async with UnitOfWork(sessions) as uow:
        sent = await send_due(uow.session, body_for)
    if sent:
        wake_delivery()
    return sent
