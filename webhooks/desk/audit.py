"""Nhật ký: the audit log in sentences, filtered by member, kind and date, paged."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from webhooks.desk.auth import DeskUserDep
from webhooks.desk.render import render

router = APIRouter()


@router.get("/desk/audit", include_in_schema=False)
async def audit_log(request: Request, user: DeskUserDep) -> Response:
    return render(request, user, "audit.html", page="audit")
