"""Polls close at their deadline: the status change is the claim, so each closes once. After a
secret poll closes, its emptied ballot box is purged from the database files (models/ballots.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.ballots import BallotBoxBroken, BallotSecretMissing, purge_closed_boxes
from models.polls import ResultsFor, close, queue_results
from models.tables import Poll, PollStatus, utcnow
from models.uow import UnitOfWork

log = logging.getLogger(__name__)


async def close_due_polls(
    sessions: async_sessionmaker[AsyncSession], results_for: ResultsFor, wake_delivery: Callable[[], None]
) -> list[int]:
    """Close every poll past its deadline and send its result; the ids closed here. Then purge the
    boxes of secret polls closed here, by a secretary, or at a pass whose purge failed."""
    now = utcnow()
    async with UnitOfWork(sessions) as uow:
        due = (
            await uow.session.exec(select(Poll.id).where(Poll.status == PollStatus.OPEN, col(Poll.deadline) <= now))
        ).all()
    closed: list[int] = []
    for poll_id in due:
        # Each poll in a transaction of its own: a secret poll whose box cannot be opened (the
        # server's key is missing or another one) stays open, and holds up no other poll.
        try:
            async with UnitOfWork(sessions) as uow:
                poll = await uow.session.get(Poll, poll_id)
                if poll is None or not await close(uow.session, poll, now=now):
                    continue  # another process closed it
                await queue_results(uow.session, poll, results_for)
        except (BallotBoxBroken, BallotSecretMissing):
            log.exception("poll %s: its sealed ballots cannot be opened; it stays open", poll_id)
            continue
        closed.append(poll_id or 0)
    if closed:
        wake_delivery()
    try:
        await purge_closed_boxes(sessions)
    except Exception:  # best effort: the ballots are already deleted and their key erased
        log.exception("secret polls: purging closed ballot boxes failed; trying again at the next pass")
    return closed
