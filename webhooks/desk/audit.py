"""Nhật ký: the audit log in sentences (models/audit_sentences.py, as the chat's "Recent changes"
says them), filtered by member, kind and date, paged."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from handlers.records.history import describe
from models import desk_queries
from models.desk_queries import AuditKind
from models.tables import MAX_ID
from webhooks.desk.auth import DeskRefusal, DeskUserDep, desk_runtime
from webhooks.desk.render import N_, chat_context, render

router = APIRouter()
PAGE = 50
KIND_NAMES = {
    AuditKind.RECORDS: N_("Members' records"),
    AuditKind.INVITES: N_("Invite codes"),
    AuditKind.NOTICES: N_("Notices"),
    AuditKind.POLLS: N_("Voting"),
    AuditKind.MEETINGS: N_("Meetings"),
    AuditKind.DESK: N_("The secretary's desk"),
    AuditKind.REFUSALS: N_("Refused attempts"),
}


def _day(text: str | None) -> date | None:
    """A day from a date field (yyyy-mm-dd), None when empty or not a day."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/desk/audit", include_in_schema=False)
async def audit_log(
    request: Request,
    user: DeskUserDep,
    member: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    kind: AuditKind | None = None,
    since: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    until: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    runtime = desk_runtime(request)
    tz = runtime.settings.tz
    first, last = _day(since), _day(until)
    async with runtime.sessions() as session:
        actor = await user.member(session)
        members = await desk_queries.members_of(session, user.branch_ids)
        if member is not None and member not in {m.id for m in members}:
            raise DeskRefusal(404, "not_found")
        events, more = await desk_queries.audit_page(
            session,
            None if user.commune else user.branch_ids,
            member_id=member,
            kind=kind,
            since=None if first is None else datetime.combine(first, time(), tz),
            until=None if last is None else datetime.combine(last + timedelta(days=1), time(), tz),
            offset=(page - 1) * PAGE,
            limit=PAGE,
        )
        lines = await describe(chat_context(request, session, actor), events)
    t = runtime.catalogs.translator(user.locale)
    filters = {
        "member": "" if member is None else str(member),
        "kind": "" if kind is None else kind.value,
        "from": "" if first is None else first.isoformat(),
        "to": "" if last is None else last.isoformat(),
    }

    def page_url(number: int) -> str:
        kept = "&".join(f"{key}={value}" for key, value in filters.items() if value)
        return f"/desk/audit?{kept}{'&' if kept else ''}page={number}"

    return render(
        request,
        user,
        "audit.html",
        page="audit",
        entries=[(event.at, line.partition(" — ")[2]) for event, line in zip(events, lines, strict=True)],
        members=members,
        kinds=[(k.value, t.gettext(name)) for k, name in KIND_NAMES.items()],
        filters=filters,
        number=page,
        previous=page_url(page - 1) if page > 1 else None,
        next=page_url(page + 1) if more else None,
    )
