"""Signing in with the one-time link sent in chat, and out; the clear pages for everything refused.

Opening the link (GET) only shows a button: link previews (Telegram, Zalo) fetch addresses in
messages, and must not use up the link. Pressing it (POST) uses the link and starts the session.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi import Path as PathParameter
from fastapi.responses import RedirectResponse, Response

from models.desk import LinkRefusal, Opened, open_link, sign_out
from webhooks.desk.auth import COOKIE, DeskRefusal, DeskUserDep, check_csrf, desk_runtime
from webhooks.desk.render import N_, render

router = APIRouter()
Token = Annotated[str, PathParameter(max_length=64)]

# What each refusal says: a heading and its lines (msgids).
REFUSALS: dict[str, tuple[str, tuple[str, ...]]] = {
    "signed_out": (
        N_("Please sign in"),
        (
            N_("The desk opens with a link chibo sends in chat, valid for 10 minutes and once."),
            N_("In chibo, open Manage and tap “💻 Open on a computer”, or type /desk."),
        ),
    ),
    "not_allowed": (
        N_("The desk is not open to you"),
        (N_("The secretary's desk is for the secretaries and deputy secretaries of the branches and the commune."),),
    ),
    "csrf": (
        N_("This page is out of date"),
        (N_("Nothing was changed. Please go back, reload the page and try again."),),
    ),
    "cross_site": (
        N_("The desk was not opened"),
        (
            N_(
                "The desk opens only from its own link, not from another website. Please open the link "
                "chibo sent you directly: copy it into the address bar."
            ),
        ),
    ),
    "not_found": (N_("Not found"), (N_("There is nothing at this address, or it is not yours to see."),)),
    "bad_address": (
        N_("This address is not one the desk understands"),
        (N_("Nothing was changed. Please go back and choose from the page's links and filters."),),
    ),
    "unreadable": (
        N_("This form holds a character chibo cannot keep"),
        (N_("Nothing was changed. Please remove the invisible character (often pasted with the text) and try again."),),
    ),
    "too_large_form": (
        N_("Too much was sent"),
        (
            N_(
                "What was sent is longer than the desk takes (at most {limit}). Nothing was saved: "
                "please go back, shorten it and try again."
            ),
        ),
    ),
    "too_large_file": (
        N_("The file is too large"),
        (
            N_(
                "The desk takes a file of at most {limit}, as the chat does. Nothing was saved: "
                "please go back and choose a smaller file."
            ),
        ),
    ),
    "link_" + LinkRefusal.UNKNOWN: (
        N_("This link does not work"),
        (N_("Please ask chibo for a new link: Manage, “💻 Open on a computer”, or type /desk."),),
    ),
    "link_" + LinkRefusal.USED: (
        N_("This link was already used"),
        (
            N_("Each link opens the desk once. Please ask chibo for a new link: Manage, “💻 Open on a computer”."),
            N_("If you did not open it yourself, sign out everywhere in chat: Manage, “💻 Open on a computer”."),
        ),
    ),
    "link_" + LinkRefusal.EXPIRED: (
        N_("This link has expired"),
        (N_("A link works for 10 minutes. Please ask chibo for a new link: Manage, “💻 Open on a computer”."),),
    ),
    "link_" + LinkRefusal.NOT_ALLOWED: (
        N_("The desk is not open to you"),
        (N_("The secretary's desk is for the secretaries and deputy secretaries of the branches and the commune."),),
    ),
}


def refusal_page(request: Request, error: DeskRefusal) -> Response:
    """The clear page for a refusal: what happened and what to do, nothing else."""
    heading, lines = REFUSALS.get(error.kind, REFUSALS["not_found"])
    t = desk_runtime(request).catalogs.translator(None)
    response = render(
        request,
        None,
        "message.html",
        status=error.status,
        heading=t.gettext(heading),
        lines=[t.gettext(line).format(**error.values) if error.values else t.gettext(line) for line in lines],
    )
    if error.kind in ("signed_out", "not_allowed"):
        response.delete_cookie(COOKIE, path="/desk")
    return response


@router.get("/desk", include_in_schema=False)
async def desk_home(user: DeskUserDep) -> Response:
    return RedirectResponse("/desk/overview", status_code=303)


@router.get("/desk/login/{token}", include_in_schema=False)
async def login_page(request: Request, token: Token) -> Response:
    t = desk_runtime(request).catalogs.translator(None)
    return render(
        request,
        None,
        "login.html",
        heading=t.gettext("Open the secretary's desk"),
        token=token,
    )


def _from_elsewhere(request: Request) -> bool:
    """Whether the browser says the sign-in was posted from another site (login CSRF: signing the
    browser into someone else's desk): its Origin, or without one its Referer, names another host
    than the request's own (or the public address). A browser that sends neither is let through."""
    sent = request.headers.get("origin") or request.headers.get("referer")
    if sent is None:
        return False
    own = {request.headers.get("host", "").lower()}
    public = desk_runtime(request).settings.public_url
    if public is not None and public.host is not None:
        own |= {public.host.lower(), f"{public.host.lower()}:{public.port}"}  # the port written or not
    try:
        host = urlsplit(sent).netloc.lower()
    except ValueError:
        return True
    return host == "" or host not in own


@router.post("/desk/login/{token}", include_in_schema=False)
async def login(request: Request, token: Token) -> Response:
    runtime = desk_runtime(request)
    if _from_elsewhere(request):  # the link is not used: it still works from chibo's own page
        raise DeskRefusal(403, "cross_site")
    async with runtime.sessions() as session, session.begin():
        opened = await open_link(session, token, user_agent=request.headers.get("user-agent"))
    if not isinstance(opened, Opened):
        raise DeskRefusal(410 if opened in (LinkRefusal.USED, LinkRefusal.EXPIRED) else 403, "link_" + opened)
    response = RedirectResponse("/desk/overview", status_code=303)
    public = runtime.settings.public_url
    # A cookie for this browser session only; the server ends it after SESSION_IDLE without use.
    response.set_cookie(
        COOKIE,
        opened.token,
        path="/desk",
        httponly=True,
        secure=public is not None and public.scheme == "https",
        samesite="strict",
    )
    return response


@router.post("/desk/logout", include_in_schema=False)
async def logout(request: Request, user: DeskUserDep) -> Response:
    await check_csrf(request, user)
    runtime = desk_runtime(request)
    async with runtime.sessions() as session, session.begin():
        await sign_out(session, request.cookies.get(COOKIE, ""))
    t = runtime.catalogs.translator(user.locale)
    response = render(
        request,
        None,
        "message.html",
        heading=t.gettext("You have signed out"),
        lines=[t.gettext("To open the desk again, ask chibo for a new link: Manage, “💻 Open on a computer”.")],
    )
    response.delete_cookie(COOKIE, path="/desk")
    return response
