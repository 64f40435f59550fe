"""Tổng quan: the branch (or the commune) at a glance."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from webhooks.desk.auth import DeskUserDep
from webhooks.desk.render import render

router = APIRouter()


@router.get("/desk/overview", include_in_schema=False)
async def overview(request: Request, user: DeskUserDep) -> Response:
    return render(request, user, "overview.html", page="overview")
