"""Housekeeping: old de-duplication rows go, recent ones stay (a re-delivery is still caught)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.runtime import Runtime
from models.tables import Platform, ProcessedUpdate, utcnow
from scheduler.housekeeping import KEEP_PROCESSED_UPDATES, prune_processed_updates


async def test_prune_keeps_the_last_week(runtime: Runtime) -> None:
    now = utcnow()
    async with runtime.sessions() as session, session.begin():
        for key, age in (("old", KEEP_PROCESSED_UPDATES + timedelta(hours=1)), ("recent", timedelta(days=1))):
            session.add(ProcessedUpdate(platform=Platform.TELEGRAM, update_key=key, processed_at=now - age))
    assert await prune_processed_updates(runtime.sessions) == 1
    async with runtime.sessions() as session:
        kept = (await session.exec(select(ProcessedUpdate.update_key))).all()
    assert kept == ["recent"]
