"""Nhật ký: the audit log in sentences (models/audit_sentences.py, as the chat's "Recent changes"
says them), filtered by member, kind and date, paged."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from handlers.records.history import describe
from models import desk_queries
from models.desk_queries import AuditKind
from models.tables import MAX_ID, Member
from webhooks.desk.auth import DeskRefusal, DeskUser, DeskUserDep, desk_runtime
from webhooks.desk.export import xlsx_response
from webhooks.desk.pages import shown_day, typed_day
from webhooks.desk.render import N_, chat_context, render

router = APIRouter()
PAGE = 50
EXPORT_ROWS = 10_000
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
    """A day from a date field (dd/mm/yyyy), None when empty or not a day."""
    return typed_day(text) if text else None


MemberFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
DayFrom = Annotated[str | None, Query(alias="from", max_length=30)]
DayTo = Annotated[str | None, Query(alias="to", max_length=30)]


async def _events(
    request: Request,
    user: DeskUser,
    member: int | None,
    kind: AuditKind | None,
    first: date | None,
    last: date | None,
    offset: int,
    limit: int,
) -> tuple[list[Member], list[tuple[datetime, str]], bool]:
    """The members the reader may filter by, and the events asked for, each (moment, sentence),
    and whether more follow. A member of a branch they may not see is not found."""
    runtime = desk_runtime(request)
    tz = runtime.settings.tz
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
            offset=offset,
            limit=limit,
        )
        lines = await describe(chat_context(request, session, actor), events)
    entries = [(event.at, line.partition(" — ")[2]) for event, line in zip(events, lines, strict=True)]
    return members, entries, more


def _filters(member: int | None, kind: AuditKind | None, since: str | None, until: str | None) -> dict[str, str]:
    """The filters as the form shows them again: a day as dd/mm/yyyy, one that is no day as typed."""
    first, last = _day(since), _day(until)
    return {
        "member": "" if member is None else str(member),
        "kind": "" if kind is None else kind.value,
        "from": shown_day(first) if first else since or "",
        "to": shown_day(last) if last else until or "",
    }


def _unreadable(request: Request, user: DeskUser, since: str | None, until: str | None) -> list[str]:
    """Why a typed "From"/"To" is not used, one sentence each; the log is then not shown rather than
    shown whole as if it were filtered."""
    t = desk_runtime(request).catalogs.translator(user.locale)
    problems = []
    for label, typed in ((N_("From"), since), (N_("To"), until)):
        if typed and typed.strip() and _day(typed) is None:
            problem = t.gettext("\u201c{typed}\u201d is not a day. Please type it as dd/mm/yyyy, e.g. 05/12/2026.")
            problems.append(
                t.gettext("{field}: {problem}").format(field=t.gettext(label), problem=problem.format(typed=typed))
            )
    return problems


@router.get("/desk/audit/export", include_in_schema=False)
async def audit_export(
    request: Request,
    user: DeskUserDep,
    member: MemberFilter = None,
    kind: AuditKind | None = None,
    since: DayFrom = None,
    until: DayTo = None,
) -> Response:
    """The log as filtered, as an Excel file (at most EXPORT_ROWS events, the newest)."""
    if _unreadable(request, user, since, until):
        return await audit_log(request, user, member, kind, since, until)
    _members, entries, _more = await _events(request, user, member, kind, _day(since), _day(until), 0, EXPORT_ROWS)
    runtime = desk_runtime(request)
    t = runtime.catalogs.translator(user.locale)
    tz = runtime.settings.tz
    rows = [(at.astimezone(tz), text) for at, text in entries]
    return xlsx_response("nhat-ky.xlsx", [t.gettext("When"), t.gettext("What happened")], rows)


@router.get("/desk/audit", include_in_schema=False)
async def audit_log(
    request: Request,
    user: DeskUserDep,
    member: MemberFilter = None,
    kind: AuditKind | None = None,
    since: DayFrom = None,
    until: DayTo = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    first, last = _day(since), _day(until)
    members, entries, more = await _events(request, user, member, kind, first, last, (page - 1) * PAGE, PAGE)
    problems = _unreadable(request, user, since, until)
    if problems:
        entries, more = [], False
    t = desk_runtime(request).catalogs.translator(user.locale)
    filters = _filters(member, kind, since, until)
    kept = urlencode({key: value for key, value in filters.items() if value})

    def page_url(number: int) -> str:
        return f"/desk/audit?{kept}{'&' if kept else ''}page={number}"

    return render(
        request,
        user,
        "audit.html",
        status=422 if problems else 200,
        page="audit",
        problems=problems,
        entries=entries,
        export=f"/desk/audit/export?{kept}",
        members=members,
        kinds=[(k.value, t.gettext(name)) for k, name in KIND_NAMES.items()],
        filters=filters,
        number=page,
        previous=page_url(page - 1) if page > 1 else None,
        next=page_url(page + 1) if more else None,
    )
