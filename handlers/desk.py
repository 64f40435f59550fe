"""The secretary's desk, from chat: a one-time link to open it on a computer, the computers signed
in, and signing out of them all."""

from __future__ import annotations

from handlers.context import Context
from handlers.contract import Button, Reply
from handlers.members import home, refused
from handlers.menus import OpenDesk, SignOutEverywhere
from handlers.router import Router
from models.desk import LINK_PLACEHOLDER, may_use_desk, open_sessions, sign_out_everywhere
from models.permissions import Permission, Target
from models.tables import DeskSession, Member

router = Router("desk")


# What a browser calls itself, reduced to words a secretary recognises: the first match wins.
_BROWSERS = (
    ("Edg/", "Edge"),
    ("coc_coc", "Cốc Cốc"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Mac OS", "macOS"),
    ("Linux", "Linux"),
)


def _device(ctx: Context, user_agent: str | None) -> str:
    agent = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in agent), None)
    system = next((name for mark, name in _SYSTEMS if mark in agent), None)
    if browser and system:
        return ctx.gettext("{browser} on {system}").format(browser=browser, system=system)
    return browser or system or ctx.gettext("a browser")


def _sessions_text(ctx: Context, sessions: list[DeskSession]) -> list[str]:
    _ = ctx.gettext
    if not sessions:
        return [_("No computer is signed in to the desk now.")]
    lines = [_("Signed in to the desk now:")]
    lines += [
        "• "
        + _("{device}, since {start}, last used {last}").format(
            device=_device(ctx, s.user_agent),
            start=ctx.format_moment(s.created_at),
            last=ctx.format_moment(s.last_seen_at),
        )
        for s in sessions
    ]
    return lines


def _allowed(ctx: Context, member: Member) -> list[Reply] | None:
    """None when the member may use the desk; else the refusal (audited like any secretary's action)."""
    if may_use_desk(member):
        return None
    return refused(ctx, member, Permission.VIEW_ROSTER, Target(member.branch_id))


@router.on(OpenDesk)
async def _open_desk(ctx: Context, member: Member, action: OpenDesk) -> list[Reply]:
    _ = ctx.gettext
    if (refusal := _allowed(ctx, member)) is not None:
        return refusal
    assert member.id is not None
    sessions = await open_sessions(ctx.session, member.id)
    lines = [
        _("The secretary's desk: the branch at a glance, lists to print and export, on a computer."),
        _("Open this link on the computer within 10 minutes; it works once:"),
        LINK_PLACEHOLDER,
        "",
        *_sessions_text(ctx, sessions),
    ]
    buttons = ((Button("🚪 " + _("Sign out everywhere"), SignOutEverywhere().pack()),),) if sessions else ()
    return [Reply("\n".join(lines), buttons=buttons, desk_link_for=member.id)]


@router.on(SignOutEverywhere)
async def _sign_out_everywhere(ctx: Context, member: Member, action: SignOutEverywhere) -> list[Reply]:
    _ = ctx.gettext
    if (refusal := _allowed(ctx, member)) is not None:
        return refusal
    assert member.id is not None
    count = await sign_out_everywhere(ctx.session, member.id)
    text = (
        ctx.translator.ngettext(
            "Signed out of the desk on {count} computer.", "Signed out of the desk on {count} computers.", count
        ).format(count=count)
        if count
        else _("No computer was signed in to the desk.")
    )
    return [home(ctx, member, text)]
