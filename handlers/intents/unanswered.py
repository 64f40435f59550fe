"""Questions chibo could not answer: counted (models.unanswered keeps only the counts), and told to
the secretary on their "Quản lý"."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from handlers.context import Context
from handlers.contract import Reply
from models.permissions import leads_any_branch
from models.tables import Member
from models.unanswered import count_unanswered, unanswered_this_week


def _today(ctx: Context) -> date:
    return datetime.now(ctx.timezone).date()


async def count(ctx: Context, member: Member) -> None:
    """One more unanswered question from ``member``'s branch this week."""
    await count_unanswered(ctx.session, member, _today(ctx))


async def with_unanswered(ctx: Context, member: Member, replies: list[Reply]) -> list[Reply]:
    """The secretary's "Quản lý" with one line: how many questions chibo could not answer this week."""
    if not leads_any_branch(member) or not replies:
        return replies
    count = await unanswered_this_week(ctx.session, member, _today(ctx))
    line = ctx.translator.ngettext(
        "This week: {count} question chibo could not answer yet.",
        "This week: {count} questions chibo could not answer yet.",
        count,
    ).format(count=count)
    return [replace(replies[0], text=replies[0].text + "\n\n" + line), *replies[1:]]
