"""The books' router, the renderer of DuesError, and the reads every dues screen shares."""

from __future__ import annotations

from datetime import date

from handlers.actions import ActionData
from handlers.context import Context
from handlers.contract import Button, Reply
from handlers.dues.words import problem_text
from handlers.members import home
from handlers.router import Router
from models.dues import DuesError, month_of
from models.errors import Stale
from models.tables import Member, utcnow

router = Router("dues")


@router.renders(DuesError)
def _dues_error(ctx: Context, member: Member, error: DuesError) -> list[Reply]:
    return [home(ctx, member, "⚠️ " + problem_text(ctx, error))]


def button(label: str, action: ActionData) -> Button:
    return Button(label, action.pack())


def today(ctx: Context) -> date:
    """Today where the commune is."""
    return utcnow().astimezone(ctx.timezone).date()


def month_code(month: date) -> int:
    return month.year * 100 + month.month


def month_from(code: int, ctx: Context) -> date:
    """The month a button names (``YYYYMM``), 0 the current one; a month that is no month (202613)
    was never on a button: stale, never read as some other month."""
    if code == 0:
        return month_of(today(ctx))
    year, number = divmod(code, 100)
    if not 1900 <= year <= 2999 or not 1 <= number <= 12:
        raise Stale(f"month {code}")
    return date(year, number, 1)
