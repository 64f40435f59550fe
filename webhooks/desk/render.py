"""Pages of the desk: Jinja2 templates (escaping on) with the member's words and the commune's dates.

Templates see ``_`` (gettext in the user's language) and ``ngettext``, ``user``, ``csrf`` (for the
hidden field of every form), ``nav`` (the pages: key, label, address, whether current), ``lang``,
and the date helpers ``when(dt)`` ("19:30, Thứ Sáu, 04/12/2026"), ``moment(dt)`` ("19:30
04/12/2026") and ``day(d)`` ("04/12/2026"), all in ``CHIBO_TIMEZONE``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Translator
from handlers.context import Context
from handlers.contract import Inbound
from models.tables import Member, Platform
from webhooks.desk.auth import DeskUser, desk_runtime

TEMPLATES = Path(__file__).resolve().parent / "templates"
ENVIRONMENT = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def N_(message: str) -> str:
    """Marks a message for the catalogue; translated where it is shown."""
    return message


# The pages, in the order of the navigation: key (its address /desk/<key>) and label.
PAGES: tuple[tuple[str, str], ...] = (
    ("overview", N_("Overview")),
    ("members", N_("Party members")),
    ("notices", N_("Notices")),
    ("polls", N_("Voting")),
    ("meetings", N_("Meetings")),
    ("dues", N_("Party dues")),
    ("books", N_("Books")),
    ("reports", N_("Reports")),
    ("audit", N_("Audit log")),
)


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    url: str
    current: bool


def date_helpers(t: Translator, timezone: Any) -> dict[str, Callable[..., str]]:
    """``when``, ``moment`` and ``day`` for the reader's language (Vietnamese: day/month/year)."""
    vi = t.locale == "vi"

    def when(moment: datetime | None) -> str:
        if moment is None:
            return "—"
        pattern = "HH:mm, EEEE, dd/MM/yyyy" if vi else "HH:mm, EEEE d MMMM yyyy"
        text = format_datetime(moment, pattern, tzinfo=timezone, locale=t.locale)
        return text.replace(", thứ", ", Thứ").replace(", chủ", ", Chủ") if vi else text

    def moment_(moment: datetime | None) -> str:
        if moment is None:
            return "—"
        pattern = "HH:mm dd/MM/yyyy" if vi else "d MMM yyyy, HH:mm"
        return format_datetime(moment, pattern, tzinfo=timezone, locale=t.locale)

    def day(value: date | None) -> str:
        if value is None:
            return "—"
        return format_date(value, "dd/MM/yyyy" if vi else "d MMM yyyy", locale=t.locale)

    return {"when": when, "moment": moment_, "day": day}


def translator_for(request: Request, user: DeskUser | None) -> Translator:
    return desk_runtime(request).catalogs.translator(user.locale if user is not None else None)


def chat_context(request: Request, session: AsyncSession, member: Member) -> Context:
    """The chat's context for ``member`` reading the desk: the words and dates the chat's screens
    use (names of statuses and channels, the audit log's sentences), with no chat behind it."""
    runtime = desk_runtime(request)
    inbound = Inbound(Platform.WEB, user_id="desk", chat_id="desk")
    return Context(
        session, inbound, runtime.catalogs, runtime.settings.tz, member=member, dues_rates=runtime.settings.dues_rates
    )


def render(
    request: Request, user: DeskUser | None, template: str, *, status: int = 200, page: str = "", **context: Any
) -> HTMLResponse:
    """The page ``template`` for ``user`` (None on the pages shown before signing in); ``page`` is
    the navigation's current key."""
    runtime = desk_runtime(request)
    t = translator_for(request, user)
    nav = [NavItem(key, t.gettext(label), f"/desk/{key}", key == page) for key, label in PAGES]
    html = ENVIRONMENT.get_template(template).render(
        _=t.gettext,
        ngettext=t.ngettext,
        lang=t.locale,
        user=user,
        csrf=user.csrf if user is not None else "",
        nav=nav if user is not None else [],
        page=page,
        printed_on=datetime.now(runtime.settings.tz).date(),
        **date_helpers(t, runtime.settings.tz),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
