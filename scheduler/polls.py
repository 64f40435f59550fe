"""Polls close at their deadline: the status change is the claim, so each closes once."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.polls import ResultsFor, close_due, queue_results


async def close_due_polls(
    sessions: async_sessionmaker[AsyncSession], results_for: ResultsFor, wake_delivery: Callable[[], None]
) -> list[int]:
    """Close every poll past its deadline and send its result; the ids closed here."""
    async with sessions() as session, session.begin():
        closed = await close_due(session)
        for poll in closed:
            await queue_results(session, poll, results_for)
    if closed:
        wake_delivery()
    return [poll.id or 0 for poll in closed]
