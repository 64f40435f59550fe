"""How many questions chibo could not answer, per branch and week: counts only, never the words, so
the secretary learns what is missing without anyone's message being kept."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import col, select

from handlers.context import Context
from handlers.contract import Reply
from models.db import insert_ignoring_conflict
from models.permissions import Scope, leads_any_branch, scope_of
from models.tables import Member, UnansweredWeek


def _week(ctx: Context) -> date:
    today = datetime.now(ctx.timezone).date()
    return today - timedelta(days=today.weekday())  # the Monday that starts it


async def count(ctx: Context, member: Member) -> None:
    """One more unanswered question from ``member``'s branch this week."""
    week = _week(ctx)
    # Inserted at 0, then incremented: one statement each, so concurrent questions all count.
    await insert_ignoring_conflict(ctx.session, UnansweredWeek, branch_id=member.branch_id, week=week, count=0)
    await ctx.session.exec(
        update(UnansweredWeek)
        .where(col(UnansweredWeek.branch_id) == member.branch_id, col(UnansweredWeek.week) == week)
        .values(count=UnansweredWeek.count + 1)
    )


async def this_week(ctx: Context, member: Member) -> int:
    """This week's count for what the secretary leads: their branch, or the whole commune."""
    query = select(func.coalesce(func.sum(UnansweredWeek.count), 0)).where(col(UnansweredWeek.week) == _week(ctx))
    if scope_of(member) is not Scope.COMMUNE:
        query = query.where(col(UnansweredWeek.branch_id) == member.branch_id)
    return int((await ctx.session.exec(query)).one())


async def with_unanswered(ctx: Context, member: Member, replies: list[Reply]) -> list[Reply]:
    """The secretary's "Quản lý" with one line: how many questions chibo could not answer this week."""
    if not leads_any_branch(member) or not replies:
        return replies
    count = await this_week(ctx, member)
    line = ctx.translator.ngettext(
        "This week: {count} question chibo could not answer yet.",
        "This week: {count} questions chibo could not answer yet.",
        count,
    ).format(count=count)
    return [replace(replies[0], text=replies[0].text + "\n\n" + line), *replies[1:]]
