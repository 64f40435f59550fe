"""Thông báo: the notices sent and scheduled with their read rates; writing one (text, audience, one
attachment) with a preview, then sending it now or at a typed time; the tracking table per member
with phone numbers; a reminder to those who have not read it; the table as an Excel file.

Every change goes through the chat's domain functions (models/notices.py, models/notice_scans.py),
so the same permission, secrecy checks, audit lines and once-per-interval reminder apply; the words
are the chat's (handlers/notices/*)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi import Path as PathParameter
from fastapi.responses import RedirectResponse, Response
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import FormData, UploadFile

from handlers.context import moment_words
from handlers.contract import Translator
from handlers.notices.audience import match_names
from handlers.notices.common import LISTED, notice_problem_text
from handlers.notices.preview import audience_text, notice_reach, reach_text
from handlers.notices.tracking import nudge_words, receipt_table, tracking_lines
from handlers.times import time_problem_words
from models.membership import NotPermitted
from models.notice_queries import all_branches, member_names_by_id, read_counts, recent_notices
from models.notice_scans import confirm_scan, digest, unconfirmed_scan
from models.notice_tracking import Delivery, RecipientState, notice_tracking
from models.notices import (
    MAX_FILE_BYTES,
    Audience,
    AudienceFilter,
    NoticeError,
    attach,
    cancel,
    check_notice,
    create_draft,
    notice_file,
    nudge,
    schedule,
    send_now,
)
from models.permissions import Permission, Scope, Target, may, scope_of
from models.tables import Member, Notice, NoticeStatus
from models.typed_time import Ambiguous, canonical, read_time
from models.uow import UnitOfWork
from models.vietnamese import shorten, without_salutation
from webhooks.desk.auth import DeskFormDep, DeskRefusal, DeskUploadDep, DeskUser, DeskUserDep, desk_runtime
from webhooks.desk.export import xlsx_response
from webhooks.desk.members import ROSTER_PAGE
from webhooks.desk.pages import FormRefused, form_text, object_to_manage, see_other
from webhooks.desk.render import render, translator_for

router = APIRouter()
NoticeId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
LISTED_ON_DESK = 4 * LISTED
SUMMARY_CHARS = 120
SCAN_FIELD = "no_mark"  # the box ticked: "I looked at it: it carries no classification mark"


async def _announcer(session: AsyncSession, user: DeskUser) -> Member:
    """The signed-in member, if they may announce to their own branch (as the chat's "Sent notices")."""
    actor = await user.member(session)
    if not may(actor, Permission.ANNOUNCE, Target(actor.branch_id)):
        raise DeskRefusal(403, "not_allowed")
    return actor


def _see(notice_id: int, note: str = "") -> RedirectResponse:
    return see_other(f"/desk/notices/{notice_id}", done=note)


# --- the list -----------------------------------------------------------------------------------


@router.get("/desk/notices", include_in_schema=False)
async def notice_list(request: Request, user: DeskUserDep) -> Response:
    runtime = desk_runtime(request)
    t = translator_for(request, user)
    async with runtime.sessions() as session:
        actor = await _announcer(session, user)
        branch = None if scope_of(actor) is Scope.COMMUNE else actor.branch_id
        notices = await recent_notices(session, LISTED_ON_DESK, branch)
        reads = await read_counts(session, notices)
        authors = await member_names_by_id(session, [n.author_member_id for n in notices if n.author_member_id])
        rows = [
            {
                "id": notice.id,
                "status": notice.status.value,
                "at": notice.scheduled_at if notice.status is NoticeStatus.SCHEDULED else notice.sent_at,
                "sender": authors.get(notice.author_member_id or 0, t.gettext("the server")),
                "audience": await audience_text(session, t, Audience.from_json(notice.audience)),
                "summary": shorten(without_salutation(notice.text), SUMMARY_CHARS),
                "read": reads.get(notice.id or 0, (0, 0))[0],
                "total": reads.get(notice.id or 0, (0, 0))[1],
            }
            for notice in notices
        ]
    return render(request, user, "notices.html", page="notices", notices=rows)


# --- writing ------------------------------------------------------------------------------------


async def _compose_page(
    request: Request, user: DeskUser, form: dict[str, Any] | None = None, problems: list[str] | None = None
) -> Response:
    runtime = desk_runtime(request)
    async with runtime.sessions() as session:
        actor = await _announcer(session, user)
        commune = scope_of(actor) is Scope.COMMUNE
        branches = [b for b in await all_branches(session) if may(actor, Permission.ANNOUNCE, Target(b.id or 0))]
    return render(
        request,
        user,
        "notice_new.html",
        status=400 if problems else 200,
        page="notices",
        commune=commune,
        branches=branches,
        form=form or {"scope": "branch", "filter": AudienceFilter.ALL.value, "branch_ids": []},
        problems=problems or [],
        max_mb=MAX_FILE_BYTES // 2**20,
    )


@router.get("/desk/notices/new", include_in_schema=False)
async def compose(request: Request, user: DeskUserDep) -> Response:
    return await _compose_page(request, user)


async def _audience(
    session: AsyncSession, t: Translator, actor: Member, form: FormData
) -> tuple[Audience | None, list[str]]:
    """The audience the form chose, with the chat's choices: the own branch, the whole commune,
    ticked branches (the commune's leaders), or people by name; narrowed by a filter."""
    try:
        narrowed = AudienceFilter(form_text(form, "filter") or AudienceFilter.ALL.value)
    except ValueError:
        narrowed = AudienceFilter.ALL
    scope = form_text(form, "scope")
    if scope == "commune":
        return Audience(None, narrowed), []
    if scope == "branches":
        chosen = sorted({int(b) for b in form.getlist("branch_ids") if isinstance(b, str) and b.isdigit()})
        if not chosen:
            return None, [t.gettext("Nobody is in this audience. Choose another.")]
        return Audience(tuple(chosen), narrowed), []
    if scope == "people":
        ids, problems = await match_names(session, t, actor, form_text(form, "people"), Permission.ANNOUNCE)
        if problems or not ids:
            return None, problems or [t.gettext("Nobody is in this audience. Choose another.")]
        return Audience((), narrowed, tuple(ids)), []
    return Audience((actor.branch_id,), narrowed), []


@router.post("/desk/notices/new", include_in_schema=False)
async def write(request: Request, user: DeskUserDep, form: DeskUploadDep) -> Response:
    """The draft saved with its audience and file, then its preview; nothing saved when any of it is refused."""
    runtime = desk_runtime(request)
    t = translator_for(request, user)
    upload = form.get("file")
    text = form_text(form, "text")
    kept: dict[str, Any] = {
        "text": text,
        "scope": form_text(form, "scope") or "branch",
        "filter": form_text(form, "filter") or AudienceFilter.ALL.value,
        "people": form_text(form, "people"),
        "branch_ids": [int(b) for b in form.getlist("branch_ids") if isinstance(b, str) and b.isdigit()],
    }
    try:
        async with UnitOfWork(runtime.sessions) as uow:
            actor = await _announcer(uow.session, user)
            audience, problems = await _audience(uow.session, t, actor, form)
            if audience is None:
                raise FormRefused(problems)
            notice = await create_draft(uow.session, actor, text, audience)
            if isinstance(upload, UploadFile) and upload.filename:
                content = await upload.read(MAX_FILE_BYTES + 1)
                await attach(uow.session, actor, notice, upload.filename, content)
    except NotPermitted:
        raise DeskRefusal(404, "not_found") from None
    except NoticeError as error:
        return await _compose_page(request, user, kept, [notice_problem_text(t, error)])
    except FormRefused as refused:
        return await _compose_page(request, user, kept, refused.problems)
    return _see(notice.id or 0)


# --- one notice ---------------------------------------------------------------------------------


async def _notice_page(
    request: Request,
    user: DeskUser,
    notice_id: int,
    problems: list[str] | None = None,
    when: str = "",
    choices: list[tuple[str, str]] | None = None,
) -> Response:
    runtime = desk_runtime(request)
    t = translator_for(request, user)
    async with runtime.sessions() as session:
        actor = await _announcer(session, user)
        notice = await object_to_manage(session, actor, Notice, notice_id, check_notice)
        audience = await audience_text(session, t, Audience.from_json(notice.audience))
        file = await notice_file(session, notice_id)
        context: dict[str, Any] = {
            "notice": notice, "audience": audience, "file": file, "when_typed": when, "choices": choices or [],
        }  # fmt: skip
        if notice.status in (NoticeStatus.DRAFT, NoticeStatus.SCHEDULED):
            context["reach"] = reach_text(t, await notice_reach(session, notice))
            scan = await unconfirmed_scan(session, notice)
            context["scan"] = None if scan is None else {"name": scan.filename, "digest": digest(scan)}
        if notice.status is NoticeStatus.SENT:
            report = await notice_tracking(session, notice)
            header, rows = receipt_table(t, report, runtime.settings.tz)
            shown = request.query_params.get("show", "")
            shown = shown if shown in ("phone", "unread", "read") else ""
            kept = [(r, row) for r, row in zip(report.recipients, rows, strict=True) if _listed(r, shown)]
            # A commune-wide notice comes in pages like the roster, each light on a weak connection
            # (the Excel file gives it whole); a page keeps the filter.
            pages = max(1, -(-len(kept) // ROSTER_PAGE))
            number = min(_page_number(request.query_params.get("page", "")), pages)  # past the end: the last
            offset = (number - 1) * ROSTER_PAGE
            page_of = kept[offset : offset + ROSTER_PAGE]
            filtered = {"show": shown} if shown else {}
            address = f"/desk/notices/{notice_id}?"
            context |= {
                "summary": tracking_lines(t, report, names=False),
                "header": header,
                "rows": [row for _r, row in page_of],
                "states": [r.state.value for r, _row in page_of],
                "unread": report.count(Delivery.READ) < len(report.recipients),
                "shown": shown,
                "number": number,
                "pages": pages,
                "previous": address + urlencode({**filtered, "page": number - 1}) if number > 1 else "",
                "next": address + urlencode({**filtered, "page": number + 1})
                if offset + ROSTER_PAGE < len(kept)
                else "",
                "counts": {
                    "": len(report.recipients),
                    "phone": sum(r.must_phone for r in report.recipients),
                    "unread": len(report.recipients) - report.count(Delivery.READ),
                    "read": report.count(Delivery.READ),
                },
            }
    return render(
        request,
        user,
        "notice.html",
        status=400 if problems else 200,
        page="notices",
        problems=problems or [],
        done=request.query_params.get("done", ""),
        **context,
    )


def _page_number(text: str) -> int:
    """The tracking table's page asked for; the first when it is no page number."""
    return int(text) if text.isdigit() and len(text) <= 4 and int(text) >= 1 else 1


def _listed(person: RecipientState, shown: str) -> bool:
    """Whether the tracking table's filter ``shown`` lists this recipient."""
    if shown == "phone":
        return person.must_phone
    if shown == "unread":
        return person.state is not Delivery.READ
    if shown == "read":
        return person.state is Delivery.READ
    return True


@router.get("/desk/notices/{notice_id}", include_in_schema=False)
async def show(request: Request, user: DeskUserDep, notice_id: NoticeId) -> Response:
    return await _notice_page(request, user, notice_id)


async def _scan_checked(session: AsyncSession, actor: Member, notice: Notice, form: FormData) -> bool:
    """A scan or a photo goes out only once the sender ticked that they looked at it and it carries
    no mark (the chat's confirmation, audited the same way); the ticked file must be the one attached."""
    scan = await unconfirmed_scan(session, notice)
    if scan is None:
        return True
    if form_text(form, SCAN_FIELD) != digest(scan):
        return False
    await confirm_scan(session, actor, notice, scan)
    return True


def _scan_problem(t: Translator) -> str:
    return t.gettext(
        "Please look at the attached scan or photo and tick that it carries no classification mark (Mật, Tối mật, "
        "Tuyệt mật) before it is sent."
    )


@router.post("/desk/notices/{notice_id}/send", include_in_schema=False)
async def send(request: Request, user: DeskUserDep, form: DeskFormDep, notice_id: NoticeId) -> Response:
    from handlers.notices.reading import notice_body_maker

    runtime = desk_runtime(request)
    t = translator_for(request, user)
    try:
        async with UnitOfWork(runtime.sessions) as uow:
            actor = await _announcer(uow.session, user)
            notice = await object_to_manage(uow.session, actor, Notice, notice_id, check_notice)
            if not await _scan_checked(uow.session, actor, notice, form):
                raise FormRefused([_scan_problem(t)])
            await send_now(uow.session, actor, notice, notice_body_maker(runtime.catalogs))
    except NoticeError as error:
        return await _notice_page(request, user, notice_id, [notice_problem_text(t, error)])
    except FormRefused as refused:
        return await _notice_page(request, user, notice_id, refused.problems)
    return _see(notice_id, "sent")


@router.post("/desk/notices/{notice_id}/schedule", include_in_schema=False)
async def schedule_at(request: Request, user: DeskUserDep, form: DeskFormDep, notice_id: NoticeId) -> Response:
    """Sent at a typed time, read as the chat reads it ("19:30", "8 giờ sáng mai", "05/12 19:30")."""
    runtime = desk_runtime(request)
    t = translator_for(request, user)
    typed = form_text(form, "when").strip()
    now = datetime.now(runtime.settings.tz)
    when = read_time(typed, now)
    if isinstance(when, Ambiguous):  # morning or evening: one button per reading, as the chat asks
        asked = t.gettext("\u201c{text}\u201d: in the morning or in the evening? Please choose.").format(
            text=typed[:40]
        )
        choices = [(canonical(m), moment_words(t, m, runtime.settings.tz)) for m in when.candidates]
        return await _notice_page(request, user, notice_id, [asked], typed, choices)
    if not isinstance(when, datetime):
        problem = time_problem_words(t, runtime.settings.tz, when, typed[:40], now)
        return await _notice_page(request, user, notice_id, [problem], typed)
    try:
        async with UnitOfWork(runtime.sessions) as uow:
            actor = await _announcer(uow.session, user)
            notice = await object_to_manage(uow.session, actor, Notice, notice_id, check_notice)
            if not await _scan_checked(uow.session, actor, notice, form):
                raise FormRefused([_scan_problem(t)])
            await schedule(uow.session, actor, notice, when, now)
    except NoticeError as error:
        return await _notice_page(request, user, notice_id, [notice_problem_text(t, error)], typed)
    except FormRefused as refused:
        return await _notice_page(request, user, notice_id, refused.problems, typed)
    return _see(notice_id, "scheduled")


@router.post("/desk/notices/{notice_id}/cancel", include_in_schema=False)
async def drop(request: Request, user: DeskUserDep, form: DeskFormDep, notice_id: NoticeId) -> Response:
    runtime = desk_runtime(request)
    t = translator_for(request, user)
    try:
        async with UnitOfWork(runtime.sessions) as uow:
            actor = await _announcer(uow.session, user)
            notice = await object_to_manage(uow.session, actor, Notice, notice_id, check_notice)
            await cancel(uow.session, actor, notice)
    except NoticeError as error:
        return await _notice_page(request, user, notice_id, [notice_problem_text(t, error)])
    return _see(notice_id, "cancelled")


@router.post("/desk/notices/{notice_id}/nudge", include_in_schema=False)
async def remind(request: Request, user: DeskUserDep, form: DeskFormDep, notice_id: NoticeId) -> Response:
    """The chat's reminder: to those who have not read it, at most once per interval; one that
    would reach nobody says why and starts no wait."""
    from handlers.notices.reading import notice_body_maker

    runtime = desk_runtime(request)
    t = translator_for(request, user)
    try:
        async with UnitOfWork(runtime.sessions) as uow:
            actor = await _announcer(uow.session, user)
            notice = await object_to_manage(uow.session, actor, Notice, notice_id, check_notice)
            done = await nudge(
                uow.session, actor, notice, notice_body_maker(runtime.catalogs), runtime.settings.nudge_interval
            )
    except NoticeError as error:
        return await _notice_page(request, user, notice_id, [notice_problem_text(t, error)])
    if done.queued:
        return _see(notice_id, "nudged")
    return await _notice_page(request, user, notice_id, [nudge_words(t, done)])


@router.get("/desk/notices/{notice_id}/receipts.xlsx", include_in_schema=False)
async def export(request: Request, user: DeskUserDep, notice_id: NoticeId) -> Response:
    """The tracking table per member, as the page shows it, in an Excel file."""
    runtime = desk_runtime(request)
    t = translator_for(request, user)
    async with runtime.sessions() as session:
        actor = await _announcer(session, user)
        notice = await object_to_manage(session, actor, Notice, notice_id, check_notice)
        if notice.status is not NoticeStatus.SENT:
            raise DeskRefusal(404, "not_found")
        header, rows = receipt_table(t, await notice_tracking(session, notice), runtime.settings.tz)
    return xlsx_response(f"thong-bao-{notice_id}.xlsx", header, rows)
