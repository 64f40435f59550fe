"""Updates a platform delivered: each is handled once, however often the platform delivers it again."""

from __future__ import annotations

from sqlalchemy import delete, tuple_
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import insert_ignoring_conflict
from models.tables import Platform, ProcessedUpdate, utcnow


async def first_delivery(session: AsyncSession, platform: Platform, update_key: str) -> bool:
    """Record the update ``update_key``; False when it was recorded before (a re-delivery).

    Written first in its transaction: on SQLite that takes the write lock at once, so two
    deliveries of one update queue up instead of deadlocking."""
    return await insert_ignoring_conflict(
        session, ProcessedUpdate, platform=platform.value, update_key=update_key, processed_at=utcnow()
    )


async def forget_deliveries(session: AsyncSession, updates: list[tuple[Platform, str]]) -> None:
    """Undo ``first_delivery`` of ``updates`` in this transaction (recorded with others, then left
    to be handled by themselves, each recording itself again). One statement."""
    if updates:
        keys = tuple_(col(ProcessedUpdate.platform), col(ProcessedUpdate.update_key))
        await session.exec(delete(ProcessedUpdate).where(keys.in_([(p.value, k) for p, k in updates])))
