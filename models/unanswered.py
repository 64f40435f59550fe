"""How many questions chibo could not answer, per branch and week: counts only, never the words, so
the secretary learns what is missing without anyone's message being kept."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import insert_ignoring_conflict
from models.permissions import Scope, scope_of
from models.tables import Member, UnansweredWeek


def week_of(day: date) -> date:
    """The Monday that starts the week of ``day``."""
    return day - timedelta(days=day.weekday())


async def count_unanswered(session: AsyncSession, member: Member, today: date) -> None:
    """One more unanswered question from ``member``'s branch this week."""
    week = week_of(today)
    # Inserted at 0, then incremented: one statement each, so concurrent questions all count.
    await insert_ignoring_conflict(session, UnansweredWeek, branch_id=member.branch_id, week=week, count=0)
    await session.exec(
        update(UnansweredWeek)
        .where(col(UnansweredWeek.branch_id) == member.branch_id, col(UnansweredWeek.week) == week)
        .values(count=UnansweredWeek.count + 1)
    )


async def unanswered_this_week(session: AsyncSession, member: Member, today: date) -> int:
    """This week's count for what the secretary leads: their branch, or the whole commune."""
    query = select(func.coalesce(func.sum(UnansweredWeek.count), 0)).where(col(UnansweredWeek.week) == week_of(today))
    if scope_of(member) is not Scope.COMMUNE:
        query = query.where(col(UnansweredWeek.branch_id) == member.branch_id)
    return int((await session.exec(query)).one())
