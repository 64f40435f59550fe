"""The secretary's desk (issue 17): server-rendered pages at /desk for the branches' and the commune's
leaders, on the same domain functions and permission table as the chat.

Each page is a module here with its own ``router`` (routes under /desk/<page>); ``router`` below
gathers them, and ``install`` adds it to the app with the clear page for every refusal.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from webhooks.desk import audit, meetings, members, notices, overview, polls, signin
from webhooks.desk.auth import ROUTE_BYTES, DeskRefusal

router = APIRouter()
router.include_router(signin.router)
router.include_router(overview.router)
router.include_router(audit.router)
router.include_router(members.router)
router.include_router(meetings.router)
router.include_router(notices.router)
router.include_router(polls.router)


async def _refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, DeskRefusal)
    return signin.refusal_page(request, error)


def install(app: FastAPI) -> None:
    """Serve the desk from ``app``."""
    app.include_router(router, max_body_size=ROUTE_BYTES)
    app.add_exception_handler(DeskRefusal, _refused)
