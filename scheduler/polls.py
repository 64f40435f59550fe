"""Polls close at their deadline: the status change is the claim, so each closes once. After a
secret poll closes, its emptied ballot box is purged from the database files (models/ballots.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.ballots import purge_closed_boxes
from models.polls import ResultsFor, close_due, queue_results

log = logging.getLogger(__name__)


async def close_due_polls(
    sessions: async_sessionmaker[AsyncSession], results_for: ResultsFor, wake_delivery: Callable[[], None]
) -> list[int]:
    """Close every poll past its deadline and send its result; the ids closed here. Then purge the
    boxes of secret polls closed here, by a secretary, or at a pass whose purge failed."""
    async with sessions() as session, session.begin():
        closed = await close_due(session)
        for poll in closed:
            await queue_results(session, poll, results_for)
    if closed:
        wake_delivery()
    try:
        await purge_closed_boxes(sessions)
    except Exception:  # best effort: the ballots are already deleted and their key erased
        log.exception("secret polls: purging closed ballot boxes failed; trying again at the next pass")
    return [poll.id or 0 for poll in closed]
