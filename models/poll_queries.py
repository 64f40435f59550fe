"""What the polls screens read: named queries, so handlers ask the domain instead of the tables."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.membership import NotPermitted
from models.permissions import Actor
from models.polls import check_poll
from models.tables import Poll, PollEligible, PollStatus

RECENT_POLLS = 10


async def may_vote(session: AsyncSession, poll_id: int, member_id: int) -> bool:
    """Whether the member is on the poll's roll of those who may vote (fixed when it opened)."""
    return await session.get(PollEligible, (poll_id, member_id)) is not None


async def recent_polls_for(session: AsyncSession, actor: Actor) -> list[Poll]:
    """The latest published polls (open or closed), newest first, those of them ``actor`` manages."""
    latest = (
        await session.exec(
            select(Poll)
            .where(col(Poll.status).in_([PollStatus.OPEN, PollStatus.CLOSED]))
            .order_by(col(Poll.id).desc())
            .limit(RECENT_POLLS)
        )
    ).all()
    mine = []
    for poll in latest:
        try:
            await check_poll(session, actor, poll)
        except NotPermitted:
            continue
        mine.append(poll)
    return mine


async def managed_polls(session: AsyncSession, actor: Actor, limit: int = 4 * RECENT_POLLS) -> list[Poll]:
    """The polls ``actor`` manages, newest first: open and closed ones, and the drafts they began."""
    latest = (
        await session.exec(
            select(Poll)
            .where(
                col(Poll.status).in_([PollStatus.OPEN, PollStatus.CLOSED])
                | ((col(Poll.status) == PollStatus.DRAFT) & (col(Poll.author_member_id) == actor.id))
            )
            .order_by(col(Poll.id).desc())
            .limit(limit)
        )
    ).all()
    mine = []
    for poll in latest:
        try:
            await check_poll(session, actor, poll)
        except NotPermitted:
            continue
        mine.append(poll)
    return mine
