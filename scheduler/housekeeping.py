"""Jobs that keep the database small. Each is idempotent, so every replica may run it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import ProcessedUpdate, utcnow
from models.uow import UnitOfWork

# Telegram re-delivers an update for at most 24 hours; a week leaves a wide margin.
KEEP_PROCESSED_UPDATES = timedelta(days=7)


async def prune_processed_updates(
    sessions: async_sessionmaker[AsyncSession], keep: timedelta = KEEP_PROCESSED_UPDATES
) -> int:
    """Forget de-duplication rows older than ``keep``; the number removed."""
    async with UnitOfWork(sessions) as uow:
        result = await uow.session.exec(
            delete(ProcessedUpdate).where(col(ProcessedUpdate.processed_at) < utcnow() - keep)
        )
        return int(result.rowcount)
