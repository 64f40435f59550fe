"""Cuộc họp: the calendar of the branch's (or the commune's) meetings by month; preparing a meeting
(title, time, place, who attends, agenda, documents) and calling it; the attendance sheet marked in
one screen; the printable sign-in sheet; the minutes, edited here and downloaded as a document to
print and sign; attendance rates. Every change goes through the chat's meeting functions
(models/meetings), with their checks and their audit entries."""

from __future__ import annotations

import urllib.parse
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import UploadFile

from handlers.context import Context
from handlers.meetings.messages import chat_messages
from handlers.meetings.papers import DOCX, Signers, minutes_document, sign_in_document
from handlers.meetings.texts import kind_name, problem_text, validity_text
from models.audience import Audience, AudienceFilter
from models.dues import add_months
from models.meeting_queries import meeting_to_manage
from models.meetings import (
    MAX_FILE_BYTES,
    MAX_REASON,
    MeetingError,
    attach,
    attendance_of,
    attendance_rates,
    call,
    change_draft,
    confirm_attendance,
    create_draft,
    drafts_of,
    excuse_waiting,
    files_of,
    invitations,
    mark_all,
    meeting_rates,
    meetings_between,
    set_minutes,
    summarize,
)
from models.tables import (
    MAX_ID,
    Attendance,
    Branch,
    Committee,
    Meeting,
    MeetingFile,
    MeetingInvitation,
    MeetingKind,
    MeetingStatus,
    Member,
    Role,
    Rsvp,
    utcnow,
)
from webhooks.desk.auth import DeskFormDep, DeskRefusal, DeskUploadDep, DeskUser, DeskUserDep, desk_runtime
from webhooks.desk.export import xlsx_response
from webhooks.desk.pages import form_text, month_of_text, see_other, shown_day, typed_day, unseen_unless_permitted
from webhooks.desk.render import N_, chat_context, render

router = APIRouter()
STATES = (Attendance.PRESENT, Attendance.EXCUSED, Attendance.ABSENT)
STATE_NAMES = {
    Attendance.PRESENT: N_("Present"),
    Attendance.EXCUSED: N_("Excused absence"),
    Attendance.ABSENT: N_("Absent without reason"),
    Attendance.UNRECORDED: N_("Not recorded"),
}
AUDIENCES = {"all": N_("all branch members"), "committee": N_("the branch committee")}


def _month(text: str | None, today: date) -> date:
    """The first day of the month asked (this month when empty, not a month, or a year no branch
    keeps books for: a calendar stepping from 9999-12 would leave the dates there are)."""
    month = month_of_text(text)
    return month if month is not None and 2000 <= month.year <= 2100 else today.replace(day=1)


async def _meeting(session: AsyncSession, actor: Member, meeting_id: int) -> Meeting:
    """A meeting the signed-in member manages (the chat's check); anyone else is told it is not there."""
    with unseen_unless_permitted():
        return await meeting_to_manage(session, actor, meeting_id)


def _back(meeting_id: int, where: str = "", note: str = "saved") -> RedirectResponse:
    return see_other(f"/desk/meetings/{meeting_id}{where}", note=note)


async def _branch_names(session: AsyncSession) -> dict[int | None, str]:
    return {b.id: b.name for b in (await session.exec(select(Branch).order_by(col(Branch.name)))).all()}


@router.get("/desk/meetings", include_in_schema=False)
async def calendar(
    request: Request,
    user: DeskUserDep,
    month: Annotated[str | None, Query(max_length=7)] = None,
    format: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    return await _calendar(request, user, month, format)


async def _calendar(
    request: Request,
    user: DeskUser,
    month: str | None,
    format: str | None = None,
    typed: dict[str, str] | None = None,
    problem: str | None = None,
) -> Response:
    """The month's meetings and the form to prepare one: blank, or as typed beside why it was refused."""
    runtime = desk_runtime(request)
    tz = runtime.settings.tz
    now = utcnow()
    first = _month(month, now.astimezone(tz).date())
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(add_months(first, 1), time(), tz)
    async with runtime.sessions() as session:
        actor = await user.member(session)
        ctx = chat_context(request, session, actor)
        in_month = await meetings_between(session, user.branch_ids, start, end, commune=user.commune)
        coming = [
            m
            for m in await meetings_between(
                session, user.branch_ids, now, now + timedelta(days=120), commune=user.commune
            )
            if m.status is not MeetingStatus.CANCELLED
        ][:8]
        drafts = await drafts_of(session, user.branch_ids, commune=user.commune)
        names = await _branch_names(session)
        if format == "xlsx":
            _ = ctx.gettext
            headers = [_("When"), _("Meeting"), _("Kind"), _("Branch"), _("Place"), _("State")]
            rows = [
                (m.starts_at.astimezone(tz), m.title, r["kind"], r["branch"], m.place, r["state"])
                for m, r in ((m, _row(ctx, m, names)) for m in in_month)
            ]
            return xlsx_response(f"cuoc-hop-{first.strftime('%Y-%m')}.xlsx", headers, rows)
        blank = {"title": ctx.gettext("Regular branch meeting"), "time": "19:30"}
        return render(
            request,
            user,
            "meetings.html",
            status=422 if problem else 200,
            page="meetings",
            form=typed or blank,
            problem=problem,
            month=first,
            previous=add_months(first, -1).strftime("%Y-%m"),
            following=add_months(first, 1).strftime("%Y-%m"),
            in_month=[_row(ctx, m, names) for m in in_month],
            coming=[_row(ctx, m, names) for m in coming],
            drafts=[_row(ctx, m, names) for m in drafts],
            branches=[(b, names[b]) for b in user.branch_ids],
            commune=user.commune,
            kinds=[(k.value, kind_name(ctx.translator, k)) for k in MeetingKind],
            audiences=AUDIENCES,
            now=now,
        )


def _row(ctx: Context, meeting: Meeting, names: dict[int | None, str]) -> dict[str, Any]:
    _ = ctx.gettext
    if meeting.status is MeetingStatus.DRAFT:
        state = _("Draft")
    elif meeting.status is MeetingStatus.CANCELLED:
        state = _("Cancelled")
    else:
        state = _("Attendance confirmed") if meeting.attendance_confirmed_at else _("Called")
    return {
        "meeting": meeting,
        "branch": names.get(meeting.branch_id, _("The commune Party committee")),
        "kind": kind_name(ctx.translator, meeting.kind),
        "state": state,
    }


def _starts_at(request: Request, day: str, clock: str) -> datetime | None:
    on = typed_day(day)
    try:
        at = time.fromisoformat(clock)
    except ValueError:
        return None
    return None if on is None else datetime.combine(on, at, desk_runtime(request).settings.tz)


def _not_a_day(ctx: Context, typed: str) -> str | None:
    """Why a typed meeting day is refused, echoing it; None when it is a day (or left empty)."""
    if not typed.strip() or typed_day(typed) is not None:
        return None
    return ctx.gettext("\u201c{typed}\u201d is not a day. Please type it as dd/mm/yyyy, e.g. 05/12/2026.").format(
        typed=typed.strip()
    )


@router.post("/desk/meetings", include_in_schema=False)
async def prepare(request: Request, user: DeskUserDep, form: DeskFormDep) -> Response:
    """A new draft: title, time, place, who attends and the agenda, through the chat's ``create_draft``."""
    runtime = desk_runtime(request)
    branch_text = form_text(form, "branch", 12)
    branch_id = int(branch_text) if branch_text.isdigit() else None
    if (branch_id is None and not user.commune) or (branch_id is not None and not user.may(branch_id)):
        raise DeskRefusal(404, "not_found")
    day = form_text(form, "day", 30)
    starts_at = _starts_at(request, day, form_text(form, "time", 5))
    typed = {
        name: form_text(form, name, 5000 if name == "agenda" else 400)
        for name in ("title", "branch", "kind", "audience", "day", "time", "place", "agenda")
    }
    async with runtime.sessions() as session:
        ctx = chat_context(request, session, await user.member(session))
        refused = _not_a_day(ctx, day)
        if refused is None and starts_at is None:
            refused = ctx.gettext("Please give the meeting's day and time.")
    if refused is not None:
        return await _calendar(request, user, None, typed=typed, problem=refused)
    assert starts_at is not None
    kind_text = form_text(form, "kind", 20)
    kind = MeetingKind(kind_text) if kind_text in {k.value for k in MeetingKind} else MeetingKind.REGULAR
    who = AudienceFilter.COMMITTEE if form_text(form, "audience", 20) == "committee" else AudienceFilter.ALL
    audience = Audience(branches=(branch_id,), filter=who) if branch_id is not None else None
    try:
        # A refusal rolls the whole draft back: nothing is half-saved, and the form comes back as typed.
        async with runtime.sessions() as session, session.begin():
            actor = await user.member(session)
            meeting = await create_draft(
                session, actor, title=typed["title"], starts_at=starts_at, branch_id=branch_id,
                kind=kind, audience=audience,
            )  # fmt: skip
            await change_draft(session, actor, meeting, place=typed["place"], agenda=typed["agenda"].splitlines())
            ident = meeting.id or 0
    except MeetingError as error:
        problem = problem_text(ctx.translator, error)
        return await _calendar(request, user, None, typed=typed, problem=problem)
    return _back(ident, note="prepared")


def _came_from(request: Request) -> str:
    """The desk page the form was sent from (the way back), else the calendar."""
    path = urllib.parse.urlsplit(request.headers.get("referer", "")).path
    return path if path.startswith("/desk/meetings") else "/desk/meetings"


def _problem(request: Request, user: DeskUser, ctx: Context, text: str) -> Response:
    """What the chat would have said, with the way back (nothing was saved)."""
    return render(
        request, user, "message.html", status=422, page="meetings", heading=ctx.gettext("Nothing was saved"),
        lines=[text], back=_came_from(request), back_label=ctx.gettext("Back"),
    )  # fmt: skip


NOTES = {
    "saved": N_("Saved."),
    "prepared": N_("The meeting is prepared. Check it, add its documents, then send the invitations."),
    "called": N_("The invitations are sent."),
    "confirmed": N_("The attendance list is confirmed."),
}


@router.get("/desk/meetings/rates", include_in_schema=False)
async def rates(
    request: Request,
    user: DeskUserDep,
    branch: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    format: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """Attendance rates over the last 12 months, per member and per meeting (confirmed lists only)."""
    if branch is not None and not user.may(branch):
        raise DeskRefusal(404, "not_found")
    runtime = desk_runtime(request)
    shown = (branch,) if branch is not None else user.branch_ids
    async with runtime.sessions() as session:
        actor = await user.member(session)
        ctx = chat_context(request, session, actor)
        _ = ctx.gettext
        names = await _branch_names(session)
        members = [(names[b], rate) for b in shown for rate in await attendance_rates(session, b)]
        meetings = await meeting_rates(session, shown)
        if format == "xlsx":
            headers = [_("Branch"), _("Full name"), _("Meetings"), _("Present"), _("Excused absence"),
                       _("Absent without reason"), _("Rate (%)")]  # fmt: skip
            rows = [
                (name, r.name, r.meetings, r.present, r.excused, r.absent, round(r.rate * 100)) for name, r in members
            ]
            return xlsx_response("ty-le-du-hop.xlsx", headers, rows)
        return render(
            request, user, "meeting_rates.html", page="meetings", members=members, meetings=meetings,
            branches=[(b, names[b]) for b in user.branch_ids], branch=branch, names=names,
        )  # fmt: skip


@router.get("/desk/meetings/{meeting_id}", include_in_schema=False)
async def meeting_page(
    request: Request, user: DeskUserDep, meeting_id: int, note: Annotated[str | None, Query(max_length=20)] = None
) -> Response:
    return await _meeting_view(request, user, meeting_id, note=NOTES.get(note or ""))


async def _meeting_view(
    request: Request,
    user: DeskUser,
    meeting_id: int,
    note: str | None = None,
    typed: dict[str, str] | None = None,
    problem: str | None = None,
) -> Response:
    """A meeting's page; after a refused change, its form as typed with why beside it."""
    runtime = desk_runtime(request)
    async with runtime.sessions() as session:
        actor = await user.member(session)
        meeting = await _meeting(session, actor, meeting_id)
        ctx = chat_context(request, session, actor)
        invited = await invitations(session, meeting_id)
        counts = summarize(meeting, [i for i, _m in invited])
        files = await files_of(session, meeting_id)
        names = await _branch_names(session)
        local = meeting.starts_at.astimezone(runtime.settings.tz)
        saved = {
            "title": meeting.title,
            "day": shown_day(local.date()) if meeting.time_set else "",
            "time": local.strftime("%H:%M") if meeting.time_set else "",
            "place": meeting.place or "",
            "agenda": "\n".join(meeting.agenda),
        }
        return render(
            request,
            user,
            "meeting.html",
            status=422 if problem else 200,
            page="meetings",
            meeting=meeting,
            row=_row(ctx, meeting, names),
            invited=[(i, m, _standing(ctx, i)) for i, m in invited],
            counts=counts,
            validity=validity_text(ctx.translator, counts).replace("✅ ", "").replace("❌ ", "").split("\n"),
            files=files,
            draft=meeting.status is MeetingStatus.DRAFT,
            called=meeting.status is MeetingStatus.CALLED,
            form=typed or saved,
            problem=problem,
            note=note,
            max_mb=MAX_FILE_BYTES // (1024 * 1024),
        )


def _standing(ctx: Context, invitation: MeetingInvitation) -> str:
    """Where an invited member stands, for the secretary: what was recorded, else their answer."""
    _ = ctx.gettext
    state = attendance_of(invitation)
    if state is not Attendance.UNRECORDED:
        reason = f": {invitation.reason}" if state is Attendance.EXCUSED and invitation.reason else ""
        return _(STATE_NAMES[state]) + reason
    if excuse_waiting(invitation):
        return _("asked to be excused: {reason} (awaiting the secretary's acceptance)").format(
            reason=invitation.reason or "—"
        )
    if invitation.rsvp is Rsvp.ATTENDING:
        return _("will attend")
    return _("not answered yet")


@router.post("/desk/meetings/{meeting_id}", include_in_schema=False)
async def edit(request: Request, user: DeskUserDep, form: DeskFormDep, meeting_id: int) -> Response:
    """A draft's details and agenda (``change_draft``), or its call (``call``: invitations and reminders)."""
    runtime = desk_runtime(request)
    typed = {
        name: form_text(form, name, 5000 if name == "agenda" else 400)
        for name in ("title", "day", "time", "place", "agenda")
    }
    calling = form.get("do") == "call"
    try:
        # A refusal rolls everything back; the page comes back with the form as typed and why beside it.
        async with runtime.sessions() as session, session.begin():
            actor = await user.member(session)
            meeting = await _meeting(session, actor, meeting_id)
            ctx = chat_context(request, session, actor)
            if calling:
                await call(session, actor, meeting, chat_messages(ctx))
            else:
                if (refused := _not_a_day(ctx, typed["day"])) is not None:
                    raise _Refused(refused)
                changes: dict[str, Any] = {
                    "title": typed["title"], "place": typed["place"], "agenda": typed["agenda"].splitlines()
                }  # fmt: skip
                starts_at = _starts_at(request, typed["day"], typed["time"])
                if starts_at is not None and starts_at != meeting.starts_at:
                    changes["starts_at"] = starts_at
                await change_draft(session, actor, meeting, **changes)
    except _Refused as refused:
        return await _meeting_view(request, user, meeting_id, typed=typed, problem=str(refused))
    except MeetingError as error:
        problem = problem_text(ctx.translator, error)
        return await _meeting_view(request, user, meeting_id, typed=None if calling else typed, problem=problem)
    return _back(meeting_id, note="called" if calling else "saved")


class _Refused(Exception):
    """A typed value the form refuses before the domain sees it (the sentence says why)."""


@router.post("/desk/meetings/{meeting_id}/documents", include_in_schema=False)
async def add_document(request: Request, user: DeskUserDep, form: DeskUploadDep, meeting_id: int) -> Response:
    """A document shared with everyone invited (``attach``: secret markings refused, as in chat)."""
    runtime = desk_runtime(request)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _back(meeting_id, note="none")
    content = await upload.read(MAX_FILE_BYTES + 1)
    async with runtime.sessions() as session, session.begin():
        actor = await user.member(session)
        meeting = await _meeting(session, actor, meeting_id)
        ctx = chat_context(request, session, actor)
        try:
            await attach(session, actor, meeting, upload.filename, content, is_minutes=form.get("minutes") == "1")
        except MeetingError as error:
            return _problem(request, user, ctx, problem_text(ctx.translator, error))
    return _back(meeting_id)


@router.get("/desk/meetings/{meeting_id}/documents/{file_id}", include_in_schema=False)
async def document(request: Request, user: DeskUserDep, meeting_id: int, file_id: int) -> Response:
    runtime = desk_runtime(request)
    async with runtime.sessions() as session:
        actor = await user.member(session)
        await _meeting(session, actor, meeting_id)
        file = await session.get(MeetingFile, file_id)
        if file is None or file.meeting_id != meeting_id:
            raise DeskRefusal(404, "not_found")
        if file.url:
            return RedirectResponse(file.url, status_code=303)
        return _download(file.content or b"", file.filename, "application/octet-stream")


def _download(content: bytes, filename: str, media_type: str) -> Response:
    quoted = urllib.parse.quote(filename)
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quoted}", "Cache-Control": "no-store"},
    )


@router.get("/desk/meetings/{meeting_id}/attendance", include_in_schema=False)
async def attendance_sheet(
    request: Request,
    user: DeskUserDep,
    meeting_id: int,
    note: Annotated[str | None, Query(max_length=20)] = None,
    format: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    runtime = desk_runtime(request)
    async with runtime.sessions() as session:
        actor = await user.member(session)
        meeting = await _meeting(session, actor, meeting_id)
        ctx = chat_context(request, session, actor)
        _ = ctx.gettext
        invited = await invitations(session, meeting_id)
        counts = summarize(meeting, [i for i, _m in invited])
        if format == "xlsx":
            headers = [_("No."), _("Full name"), _("Attendance"), _("Reason")]
            rows = [
                (n, m.full_name, _(STATE_NAMES[attendance_of(i)]), i.reason or "")
                for n, (i, m) in enumerate(invited, start=1)
            ]
            return xlsx_response(f"diem-danh-{meeting_id}.xlsx", headers, rows)
        return render(
            request,
            user,
            "meeting_attendance.html",
            page="meetings",
            meeting=meeting,
            rows=[(i, m, attendance_of(i), excuse_waiting(i)) for i, m in invited],
            states=[(s.value, _(STATE_NAMES[s])) for s in STATES],
            counts=counts,
            validity=validity_text(ctx.translator, counts).replace("✅ ", "").replace("❌ ", "").split("\n"),
            editable=meeting.status is MeetingStatus.CALLED and meeting.attendance_confirmed_at is None,
            started=utcnow() >= meeting.starts_at,
            note=NOTES.get(note or ""),
            max_reason=MAX_REASON,
        )


@router.post("/desk/meetings/{meeting_id}/attendance", include_in_schema=False)
async def mark_sheet(request: Request, user: DeskUserDep, form: DeskFormDep, meeting_id: int) -> Response:
    """The whole sheet in one submit (``mark_all``: each change through the chat's ``mark``), and
    with "confirm", the chat's ``confirm_attendance`` (which makes the list final)."""
    runtime = desk_runtime(request)
    async with runtime.sessions() as session, session.begin():
        actor = await user.member(session)
        meeting = await _meeting(session, actor, meeting_id)
        ctx = chat_context(request, session, actor)
        marks: dict[int, tuple[Attendance, str | None]] = {}
        for invitation, member in await invitations(session, meeting_id):
            state = form.get(f"state-{member.id}")
            if isinstance(state, str) and state in {s.value for s in STATES}:
                marks[invitation.member_id] = (Attendance(state), form_text(form, f"reason-{member.id}", MAX_REASON))
        try:
            await mark_all(session, actor, meeting, marks)
            if form.get("do") == "confirm":
                await confirm_attendance(
                    session, actor, meeting, chat_messages(ctx), runtime.settings.tz,
                    rest_absent=form.get("rest_absent") == "1",
                )  # fmt: skip
        except MeetingError as error:
            return _problem(request, user, ctx, problem_text(ctx.translator, error))
    return _back(meeting_id, "/attendance", "confirmed" if form.get("do") == "confirm" else "saved")


@router.get("/desk/meetings/{meeting_id}/sign-in", include_in_schema=False)
async def sign_in_sheet(
    request: Request, user: DeskUserDep, meeting_id: int, format: Annotated[str | None, Query(max_length=8)] = None
) -> Response:
    runtime = desk_runtime(request)
    async with runtime.sessions() as session:
        actor = await user.member(session)
        meeting = await _meeting(session, actor, meeting_id)
        ctx = chat_context(request, session, actor)
        if format == "docx":
            return _download(await sign_in_document(ctx, meeting), f"danh-sach-ky-{meeting_id}.docx", DOCX)
        names = await _branch_names(session)
        committee = (await session.exec(select(Committee.name))).first() or ""
        return render(
            request, user, "meeting_signin.html", page="meetings", meeting=meeting, committee=committee,
            invited=await invitations(session, meeting_id), row=_row(ctx, meeting, names),
        )  # fmt: skip


async def _leaders(session: AsyncSession, meeting: Meeting) -> Signers:
    """Who usually signs: the branch's secretary chairs, its deputy keeps the minutes (changeable);
    a leader recorded absent or excused at this meeting is not suggested, the other one chairs."""
    away = {
        member.id
        for invitation, member in await invitations(session, meeting.id or 0)
        if invitation.attendance in (Attendance.EXCUSED, Attendance.ABSENT)
    }
    query = select(Member).where(col(Member.active).is_(True))
    if meeting.branch_id is None:
        query = query.where(col(Member.committee_role).in_([Role.SECRETARY, Role.DEPUTY_SECRETARY]))
    else:
        query = query.where(Member.branch_id == meeting.branch_id)
        query = query.where(col(Member.role).in_([Role.SECRETARY, Role.DEPUTY_SECRETARY]))
    people = [m for m in (await session.exec(query.order_by(col(Member.id)))).all() if m.id not in away]

    def office(member: Member) -> Role | None:
        return member.committee_role if meeting.branch_id is None else member.role

    ordered = sorted(people, key=lambda m: office(m) is not Role.SECRETARY)  # the secretary first
    chair = ordered[0].full_name if ordered else ""
    taker = ordered[1].full_name if len(ordered) > 1 else ""
    return Signers(chair, taker)


@router.get("/desk/meetings/{meeting_id}/minutes", include_in_schema=False)
async def minutes(
    request: Request,
    user: DeskUserDep,
    meeting_id: int,
    note: Annotated[str | None, Query(max_length=20)] = None,
    format: Annotated[str | None, Query(max_length=8)] = None,
    chair: Annotated[str | None, Query(max_length=120)] = None,
    minute_taker: Annotated[str | None, Query(max_length=120)] = None,
) -> Response:
    runtime = desk_runtime(request)
    async with runtime.sessions() as session:
        actor = await user.member(session)
        meeting = await _meeting(session, actor, meeting_id)
        ctx = chat_context(request, session, actor)
        usual = await _leaders(session, meeting)
        signers = Signers(
            usual.chair if chair is None else " ".join(chair.split()),
            usual.minute_taker if minute_taker is None else " ".join(minute_taker.split()),
        )
        if format == "docx":
            return _download(await minutes_document(ctx, meeting, signers), f"bien-ban-{meeting_id}.docx", DOCX)
        return render(
            request, user, "meeting_minutes.html", page="meetings", meeting=meeting, signers=signers,
            editable=meeting.status is MeetingStatus.CALLED, note=NOTES.get(note or ""),
        )  # fmt: skip


@router.post("/desk/meetings/{meeting_id}/minutes", include_in_schema=False)
async def save_minutes(request: Request, user: DeskUserDep, form: DeskFormDep, meeting_id: int) -> Response:
    """The proceedings and conclusions, through the chat's ``set_minutes`` (classified text refused)."""
    runtime = desk_runtime(request)
    async with runtime.sessions() as session, session.begin():
        actor = await user.member(session)
        meeting = await _meeting(session, actor, meeting_id)
        ctx = chat_context(request, session, actor)
        try:
            text, conclusions = form_text(form, "minutes", 20_000), form_text(form, "conclusions", 20_000)
            await set_minutes(session, actor, meeting, text=text, conclusions=conclusions)
        except MeetingError as error:
            return _problem(request, user, ctx, problem_text(ctx.translator, error))
    return _back(meeting_id, "/minutes")
