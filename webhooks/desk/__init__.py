"""The secretary's desk (issue 17): server-rendered pages at /desk for the branches' and the commune's
leaders, on the same domain functions and permission table as the chat.

Each page is a module here with its own ``router`` (routes under /desk/<page>); ``router`` below
gathers them, and ``install`` adds it to the app with the clear page for every refusal.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from models.audit import MISSING_OBJECT, Refusal, audit_refusal
from models.membership import NotPermitted
from models.tables import MAX_ID
from webhooks.desk import audit, books, dues, meetings, members, notices, overview, polls, reports, signin
from webhooks.desk.auth import ACTOR_KEY, ROUTE_BYTES, DeskRefusal, desk_runtime


async def _ids_in_range(request: Request) -> None:
    """A number in a desk address beyond what a column holds (2³¹ and more) is an id that cannot
    exist: the same clear "not found" as any other, before a query sees it (was a 500)."""
    for value in request.path_params.values():
        if isinstance(value, str) and value.isdigit() and int(value) > MAX_ID:
            raise DeskRefusal(404, "not_found")
        if isinstance(value, int) and value > MAX_ID:
            raise DeskRefusal(404, "not_found")


router = APIRouter(dependencies=[Depends(_ids_in_range)])
router.include_router(signin.router)
router.include_router(overview.router)
router.include_router(audit.router)
router.include_router(members.router)
router.include_router(meetings.router)
router.include_router(notices.router)
router.include_router(polls.router)
router.include_router(dues.router)
router.include_router(books.router)
router.include_router(reports.router)


def _refusal(error: DeskRefusal) -> Refusal:
    """What the refused member tried: the permission the table refused (the ``NotPermitted`` the
    page turned into its refusal), or, as in chat, an object that is not theirs or not there at all
    (alike, so guessing ids tells nothing)."""
    cause = error.__cause__ or error.__context__
    if isinstance(cause, NotPermitted):
        return Refusal(cause.permission.value, cause.target.branch_id, cause.target.member_id)
    return Refusal(MISSING_OBJECT, None)


async def _refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, DeskRefusal)
    actor = request.scope.get(ACTOR_KEY)
    if isinstance(actor, int) and error.kind in ("not_found", "not_allowed"):
        # A signed-in member refused: audited like the chat's refusals (one row a minute per member).
        async with desk_runtime(request).sessions() as session, session.begin():
            await audit_refusal(session, actor, _refusal(error))
    return signin.refusal_page(request, error)


def invalid_request_page(request: Request) -> Response:
    """A desk address or form FastAPI could not read (``period=abc``, a word for a number): the
    desk's own clear page, not the API's JSON."""
    return signin.refusal_page(request, DeskRefusal(400, "bad_address"))


def install(app: FastAPI) -> None:
    """Serve the desk from ``app``."""
    app.include_router(router, max_body_size=ROUTE_BYTES)
    app.add_exception_handler(DeskRefusal, _refused)
