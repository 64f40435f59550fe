"""What the desk's page modules share: a form's text, the redirect after a change, a change refused
with reasons, and a chat object looked up as the chat does it (another branch's is "not found")."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi.responses import RedirectResponse
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from models.errors import NotFound
from models.membership import NotPermitted
from models.tables import Member
from models.typed_time import read_date
from webhooks.desk.auth import DeskRefusal

Row = TypeVar("Row", bound=SQLModel)


def form_text(form: Any, name: str, limit: int | None = None) -> str:
    """A text field of a posted form, "" when absent or a file; cut to ``limit`` characters."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    return value if limit is None else value[:limit]


def typed_day(text: str) -> date | None:
    """A desk date field's day. The fields are text showing dd/mm/yyyy (a date picker shows
    mm/dd/yyyy in an English browser, confusing next to Vietnamese dates), read as the chat reads a
    typed date: "05/12/2026", "5 tháng 12 năm 2026", ISO; None when it is no day."""
    day = read_date(text)
    return day if isinstance(day, date) else None


def shown_day(day: date | None) -> str:
    """A day as a desk date field shows it: dd/mm/yyyy."""
    return "" if day is None else day.strftime("%d/%m/%Y")


def see_other(path: str, **query: str) -> RedirectResponse:
    """The answer to a change that worked: the browser goes on to ``path`` with a GET (303)."""
    shown = {key: value for key, value in query.items() if value}
    return RedirectResponse(path + (f"?{urlencode(shown)}" if shown else ""), status_code=303)


class FormRefused(Exception):
    """A change refused with the reasons to show on the page; its transaction is rolled back."""

    def __init__(self, problems: list[str], typed: str = "") -> None:
        super().__init__(problems)
        self.problems, self.typed = problems, typed


@contextmanager
def unseen_unless_permitted() -> Iterator[None]:
    """Turn the chat's "not found" and "not permitted" into the same desk page, as the chat answers
    a made-up id and another branch's object alike (nobody learns what exists elsewhere)."""
    try:
        yield
    except (NotFound, NotPermitted) as error:
        raise DeskRefusal(404, "not_found") from error


async def object_to_manage(
    session: AsyncSession,
    actor: Member,
    model: type[Row],
    ident: int,
    check: Callable[[AsyncSession, Member, Row], Awaitable[object]],
) -> Row:
    """The notice, poll… at ``ident`` when the chat's ``check`` lets the actor act on it."""
    found = await session.get(model, ident)
    if found is None:
        raise DeskRefusal(404, "not_found")
    with unseen_unless_permitted():
        await check(session, actor, found)
    return found


# A month as typed on the desk, "mm/yyyy" (the browser's own month picker speaks its language, not
# the member's), or as the desk's links carry it, "yyyy-mm".
_TYPED_MONTH = re.compile(r"\s*(\d{1,2})\s*[/.-]\s*(\d{4})\s*")


def month_of_text(text: str | None) -> date | None:
    """The first day of the month typed ("mm/yyyy") or linked ("yyyy-mm"); None for anything else."""
    if not text:
        return None
    typed = _TYPED_MONTH.fullmatch(text)
    try:
        if typed is not None:
            return date(int(typed.group(2)), int(typed.group(1)), 1)
        return date.fromisoformat(f"{text}-01")
    except ValueError:
        return None


def asked_ahead(text: str | None, current: date) -> bool:
    """Whether the month asked is one still to come, which ``month_asked`` replaces by the current
    one: the page says so rather than silently showing another month."""
    month = month_of_text(text)
    return month is not None and month > current


def month_asked(text: str | None, current: date) -> date:
    """The first day of the month a page was asked for ("mm/yyyy" or "yyyy-mm"), never after
    ``current`` (the books are of months begun); ``current`` when empty or no month."""
    month = month_of_text(text)
    if month is None:
        return current
    return min(month, current) if month.year >= 2000 else current
