"""Đảng viên: the roster as a table (searched without diacritics, filtered, printed, exported to
Excel), a member's record with its history and every change the chat's record card offers, fresh
invite codes with their printable QR sheet for the members selected, and importing the register
with a preview first.

Every change goes through the domain's functions the chat uses (``models.membership``,
``models.roster``), so the same rules refuse it and the same audit records it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, tzinfo
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import UploadFile

from bot.invite_sheet import SheetEntry, SheetError, sheet_pdf, web_invite_link
from handlers.members import role_name, status_name
from handlers.records.history import describe
from handlers.records.words import (
    channel_names,
    committee_office_name,
    local_phone,
    problem_text,
    reason_name,
    standing_name,
)
from handlers.register import column_name, file_problem_text
from handlers.register import problem_text as row_problem_text
from models import record_queries, roster_queries
from models.desk_queries import CHANNELS
from models.invites import DEFAULT_VALIDITY
from models.membership import (
    ChangeProblem,
    InvalidChange,
    NotPermitted,
    check_promotion,
    check_record,
    deactivate,
    edit_member,
    issue_invites,
    move_member,
    parse_day,
    parse_vote,
    probation_end,
    promote,
    promotion_meetings,
    reactivate,
    revoke_invites,
    set_committee_role,
    set_exempt,
    set_standing,
)
from models.permissions import Permission, Target, may, record_refusal
from models.register_preview import PreviewChanged, confirm_register, preview_register
from models.roster import EXPORT_HEADER, Column, export_rows
from models.roster_files import MAX_BYTES, RegisterFileError
from models.roster_queries import RosterFilter, StatusFilter
from models.tables import (
    MAX_ID,
    Branch,
    DeactivationReason,
    Gender,
    Meeting,
    Member,
    MemberStanding,
    MemberStatus,
    Platform,
    Role,
    local_today,
)
from webhooks.desk.auth import DeskFormDep, DeskRefusal, DeskUploadDep, DeskUser, DeskUserDep, desk_runtime
from webhooks.desk.export import xlsx_response
from webhooks.desk.render import N_, chat_context, render

router = APIRouter()
HISTORY = 30  # the latest audit sentences shown on a record
STATUS_NAMES = {
    StatusFilter.OFFICIAL: N_("Official members"),
    StatusFilter.PROBATIONARY: N_("Probationary members"),
    StatusFilter.EXEMPT: N_("Exempt from activities"),
    StatusFilter.SUSPENDED: N_("Suspended from activity"),
    StatusFilter.ELSEWHERE: N_("Temporarily active elsewhere"),
    StatusFilter.LEFT: N_("Taken off the roster"),
}
# The fields typed on the record, as the chat's record card asks for them.
FIELDS = {
    "full_name": N_("Full name"),
    "birth_date": N_("Birth date"),
    "phone": N_("Phone"),
    "card_number": N_("Party card number"),
    "date_admitted": N_("Date joined the Party"),
}
DATE_FIELDS = ("birth_date", "date_admitted")
FIELD_NAMES = {column.value: column for column in Column}


def _filter(q: str, branch: int | None, status: str, channel: str, joined: str) -> tuple[RosterFilter, dict[str, str]]:
    """The roster's filter from the query (anything not understood is ignored) and the query kept."""
    wanted = RosterFilter(
        text=q.strip()[:60],
        branch_id=branch,
        status=StatusFilter(status) if status in StatusFilter.__members__.values() else None,
        channel=Platform(channel) if channel in CHANNELS else None,
        joined={"yes": True, "no": False}.get(joined),
    )
    kept = {
        "q": wanted.text,
        "branch": "" if branch is None else str(branch),
        "status": status,
        "channel": channel,
        "joined": joined,
    }
    return wanted, {key: value for key, value in kept.items() if value}


ROSTER_PAGE = 150  # rows a page of the roster shows: about 60 KB


@router.get("/desk/members", include_in_schema=False)
async def roster_page(
    request: Request,
    user: DeskUserDep,
    q: Annotated[str, Query(max_length=100)] = "",
    branch: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: Annotated[str, Query(max_length=20)] = "",
    channel: Annotated[str, Query(max_length=20)] = "",
    joined: Annotated[str, Query(max_length=3)] = "",
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> Response:
    if branch is not None and not user.may(branch):
        raise DeskRefusal(404, "not_found")
    wanted, kept = _filter(q, branch, status, channel, joined)
    runtime = desk_runtime(request)
    async with runtime.sessions() as session:
        actor = await user.member(session)
        ctx = chat_context(request, session, actor)
        found = await roster_queries.roster(session, user.branch_ids, wanted)
        # A commune's roster comes in pages, so each stays light on a weak connection (the export
        # and a branch's filter give it whole).
        offset = (page - 1) * ROSTER_PAGE
        rows = found[offset : offset + ROSTER_PAGE]
        branches = await _branches(session, user)
        selectable = {
            row.member.id
            for row in rows
            if row.member.active
            and may(actor, Permission.ISSUE_INVITE, Target(row.member.branch_id))
            and record_refusal(actor, row.member) is None
        }
        return render(
            request,
            user,
            "members.html",
            page="members",
            rows=rows,
            total=len(found),
            offset=offset,
            previous=f"/desk/members?{urlencode({**kept, 'page': page - 1})}" if page > 1 else "",
            next=f"/desk/members?{urlencode({**kept, 'page': page + 1})}" if offset + ROSTER_PAGE < len(found) else "",
            number=page,
            branches=branches,
            filters=kept,
            query=urlencode(kept),
            statuses=[(s.value, ctx.gettext(name)) for s, name in STATUS_NAMES.items()],
            channels=[(p.value, channel_names(ctx)[p]) for p in CHANNELS],
            channel_names=channel_names(ctx),
            role_name=lambda role: role_name(ctx, role),
            status_name=lambda s: status_name(ctx, s),
            standing_name=lambda s: standing_name(ctx, s),
            phone=local_phone,
            selectable=selectable,
            may_import=may(actor, Permission.IMPORT_MEMBERS, Target(actor.branch_id)),
            official=MemberStatus.OFFICIAL,
            active_standing=MemberStanding.ACTIVE,
        )


async def _branches(session: AsyncSession, user: DeskUser) -> list[Branch]:
    return [b for b in await record_queries.branches(session) if b.id is not None and user.may(b.id)]


@router.get("/desk/members/export", include_in_schema=False)
async def export(
    request: Request,
    user: DeskUserDep,
    q: Annotated[str, Query(max_length=100)] = "",
    branch: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: Annotated[str, Query(max_length=20)] = "",
    channel: Annotated[str, Query(max_length=20)] = "",
    joined: Annotated[str, Query(max_length=3)] = "",
) -> Response:
    """The members shown (those still on the roster) in the columns of ``chibo members export``:
    importing the file back changes nothing."""
    if branch is not None and not user.may(branch):
        raise DeskRefusal(404, "not_found")
    wanted, _kept = _filter(q, branch, status, channel, joined)
    async with desk_runtime(request).sessions() as session:
        shown = await roster_queries.roster(session, user.branch_ids, wanted)
        rows = await export_rows(session, member_ids=[r.member.id for r in shown if r.member.id is not None])
    return xlsx_response("dang-vien.xlsx", EXPORT_HEADER, rows)


async def _member(session: AsyncSession, user: DeskUser, member_id: int) -> Member:
    """The member at this address, when the reader may see their branch; the clear page otherwise."""
    member = await session.get(Member, member_id)
    if member is None or not user.may(member.branch_id):
        raise DeskRefusal(404, "not_found")
    return member


@router.post("/desk/members/invites", include_in_schema=False)
async def invites(request: Request, user: DeskUserDep, form: DeskFormDep) -> Response:
    """Fresh invite codes for the members selected, answered with their printable QR sheet (PDF):
    the codes exist only in this answer (only their keyed digests are stored)."""
    ids = sorted({int(v) for v in form.getlist("member") if isinstance(v, str) and v.isdigit() and int(v) <= MAX_ID})
    if not ids:
        return RedirectResponse("/desk/members", status_code=303)
    runtime = desk_runtime(request)
    base = str(runtime.settings.public_url or request.base_url)
    t = runtime.catalogs.translator(user.locale)
    heading = t.gettext("Invite codes, valid for {days} days").format(days=DEFAULT_VALIDITY.days)
    async with runtime.sessions() as session:
        try:
            async with session.begin():
                actor = await user.member(session)
                members = [await _member(session, user, member_id) for member_id in ids]
                issued = await issue_invites(session, actor, members)
                names = {b.id: b.name for b in await record_queries.branches(session)}
                title = names.get(members[0].branch_id, "") if len({m.branch_id for m in members}) == 1 else ""
                entries = [SheetEntry(m.full_name, code, web_invite_link(base, code)) for m, code in issued]
                # Made before the codes are saved: without a sheet, nobody's code changes.
                pdf = sheet_pdf(f"{title} · {heading}" if title else heading, entries)
        except (InvalidChange, NotPermitted, SheetError):
            raise DeskRefusal(404, "not_found") from None  # a forged selection (or no font here for the sheet)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="ma-moi.pdf"', "Cache-Control": "no-store"},
    )


@router.get("/desk/members/import", include_in_schema=False)
async def import_form(
    request: Request,
    user: DeskUserDep,
    created: Annotated[int | None, Query(ge=0, le=10**6)] = None,
    updated: Annotated[int | None, Query(ge=0, le=10**6)] = None,
    unchanged: Annotated[int | None, Query(ge=0, le=10**6)] = None,
) -> Response:
    done = None if created is None else (created, updated or 0, unchanged or 0)
    return await _import_page(request, user, done=done)


async def _import_page(request: Request, user: DeskUser, *, status: int = 200, **context: Any) -> Response:
    async with desk_runtime(request).sessions() as session:
        actor = await user.member(session)
        if not may(actor, Permission.IMPORT_MEMBERS, Target(actor.branch_id)):
            raise DeskRefusal(404, "not_found")
        branches = await _branches(session, user)
        ctx = chat_context(request, session, actor)
        return render(
            request,
            user,
            "members_import.html",
            page="members",
            status=status,
            branches=branches,
            branch_names={b.id: b.name for b in branches},
            own_code=next((b.code for b in branches if b.id == user.branch_id), ""),
            limit=MAX_BYTES // (1024 * 1024),
            field_name=lambda key: _field_name(ctx.translator, key),
            value=lambda key, value: _value(ctx, key, value, branches),
            **{"done": None, "preview": None, "problems": [], "error": None, "default_branch": "", **context},
        )


def _field_name(t: Any, key: str) -> str:
    if key == "branch_id":
        return str(column_name(t, Column.BRANCH))
    return str(column_name(t, FIELD_NAMES[key])) if key in FIELD_NAMES else key


def _value(ctx: Any, key: str, value: object, branches: list[Branch]) -> str:
    """A field's value in the preview, as the record shows it."""
    if value is None or value == "":
        return "—"
    if key == "branch_id":
        return next((b.name for b in branches if b.id == value), str(value))
    if key in ("birth_date", "date_admitted", "date_official") and isinstance(value, str):
        return date.fromisoformat(value).strftime("%d/%m/%Y")
    if key == "role":
        return str(role_name(ctx, Role(str(value))))
    if key == "status":
        return str(status_name(ctx, MemberStatus(str(value))))
    if key == "exempt":
        return str(ctx.gettext("yes") if value else ctx.gettext("no"))
    if key == "gender":
        return str(ctx.gettext("Female") if value == Gender.FEMALE else ctx.gettext("Male"))
    if key == "phone":
        return local_phone(str(value))
    return str(value)


async def _upload(form: Any) -> tuple[str, bytes]:
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return "", b""
    return upload.filename[-120:], await upload.read(MAX_BYTES + 1)


@router.post("/desk/members/import", include_in_schema=False)
async def import_register(request: Request, user: DeskUserDep, form: DeskUploadDep) -> Response:
    """``step=preview``: what the file would change, saved nowhere; ``step=confirm`` with the same
    file and the preview's fingerprint: imported, exactly as previewed, or refused."""
    name, raw = await _upload(form)
    runtime = desk_runtime(request)
    t = runtime.catalogs.translator(user.locale)
    default = str(form.get("default_branch") or "")
    async with runtime.sessions() as session:
        branches = await _branches(session, user)
    own = next((b.code for b in branches if b.id == user.branch_id), None)
    default_branch = default if user.commune and default in {b.code for b in branches} else own
    if not name:
        error = t.gettext("Please choose the register file (.xlsx or .csv).")
        return await _import_page(request, user, status=422, error=error, default_branch=default_branch)
    confirm = form.get("step") == "confirm"
    try:
        async with runtime.sessions() as session, session.begin():
            actor = await user.member(session)
            if confirm:
                report = await confirm_register(
                    session, actor, name, raw, str(form.get("fingerprint") or ""), default_branch=default_branch
                )
                done = {"created": report.created, "updated": report.updated, "unchanged": report.unchanged}
                return RedirectResponse("/desk/members/import?" + urlencode(done), status_code=303)
            preview = await preview_register(session, actor, name, raw, default_branch=default_branch)
    except RegisterFileError as problem:
        error = file_problem_text(t, problem)
        return await _import_page(request, user, status=422, error=error, default_branch=default_branch)
    except PreviewChanged:
        error = t.gettext(
            "{name} or the roster changed since the preview, so nothing was saved. Here is what it would do now:"
        ).format(name=name)
        async with runtime.sessions() as session:
            actor = await user.member(session)
            preview = await preview_register(session, actor, name, raw, default_branch=default_branch)
        return await _import_page(
            request,
            user,
            status=409,
            error=error,
            preview=preview,
            default_branch=default_branch,
            problems=[row_problem_text(t, p) for p in preview.report.problems],
        )
    except NotPermitted:
        raise DeskRefusal(404, "not_found") from None
    return await _import_page(
        request,
        user,
        preview=preview,
        default_branch=default_branch,
        problems=[row_problem_text(t, p) for p in preview.report.problems],
    )


@router.get("/desk/members/{member_id}", include_in_schema=False)
async def record(request: Request, user: DeskUserDep, member_id: int, saved: bool = False) -> Response:
    return await _record_page(request, user, member_id, saved=saved)


async def _record_page(
    request: Request, user: DeskUser, member_id: int, *, error: str | None = None, status: int = 200, **context: Any
) -> Response:
    if not 1 <= member_id <= MAX_ID:
        raise DeskRefusal(404, "not_found")
    async with desk_runtime(request).sessions() as session:
        actor = await user.member(session)
        member = await _member(session, user, member_id)
        ctx = chat_context(request, session, actor)
        branch = await session.get(Branch, member.branch_id)
        identities = await record_queries.identities_of(session, [member.id])
        invite = await record_queries.open_invite(session, member)
        events = await record_queries.member_history(session, member, HISTORY)
        lines = await describe(ctx, events)
        refusal = record_refusal(actor, member)
        editable = may(actor, Permission.EDIT_MEMBER, Target(member.branch_id, member.id)) and refusal is None
        why_not = None
        if refusal is not None:
            why_not = problem_text(ctx.translator, _refusal_of(actor, member))
        names = channel_names(ctx)
        meetings: list[tuple[int, str]] = []
        if member.status is MemberStatus.PROBATIONARY and member.date_admitted is not None:
            # The branch votes at its meeting (Quy định 29): the meetings held since probation ended,
            # newest first, as the chat's "make official" offers them.
            since = datetime.combine(probation_end(member.date_admitted), time(0), ctx.timezone)
            meetings = [
                (m.id or 0, f"{ctx.format_day(m.starts_at.astimezone(ctx.timezone).date())} · {m.title}")
                for m in await promotion_meetings(session, member, since)
            ]
        return render(
            request,
            user,
            "member.html",
            page="members",
            status=status,
            member=member,
            branch=branch,
            channels=[
                names[i.platform] + (" " + ctx.gettext("(unreachable)") if i.unreachable_at else "")
                for i in identities
                if i.platform in names
            ],
            invite=invite,
            history=[(event.at, line.partition(" — ")[2]) for event, line in zip(events, lines, strict=True)],
            editable=editable,
            why_not=why_not,
            error=error,
            fields=[(key, ctx.gettext(label)) for key, label in FIELDS.items()],
            date_fields=DATE_FIELDS,
            roles=[(r.value, role_name(ctx, r)) for r in Role],
            committee_offices=[
                (r.value, committee_office_name(ctx, r))
                for r in (Role.SECRETARY, Role.DEPUTY_SECRETARY, Role.COMMITTEE_MEMBER)
            ],
            sets_committee=actor.committee_role is Role.SECRETARY and actor.id != member.id,
            standings=[(s.value, standing_name(ctx, s)) for s in MemberStanding],
            reasons=[(r.value, reason_name(ctx, r)) for r in DeactivationReason],
            move_to=[
                b
                for b in await _branches(session, user)
                if b.id != member.branch_id and may(actor, Permission.EDIT_MEMBER, Target(b.id or 0))
            ],
            role_name=role_name(ctx, member.role),
            status_name=status_name(ctx, member.status),
            standing_name=standing_name(ctx, member.standing),
            committee_name=committee_office_name(ctx, member.committee_role) if member.committee_role else None,
            reason_name=reason_name(ctx, member.deactivation_reason) if member.deactivation_reason else "—",
            phone=local_phone(member.phone),
            probationary=member.status is MemberStatus.PROBATIONARY,
            promotion_meetings=meetings,
            no_meeting=problem_text(
                ctx.translator,
                InvalidChange(ChangeProblem.NO_MEETING, probation_end(member.date_admitted).isoformat()),
            )
            if member.date_admitted is not None and not meetings
            else None,
            **{"confirm_reason": None, "saved": False, "typed": None, **context},
        )


def _refusal_of(actor: Member, member: Member) -> InvalidChange:
    try:
        check_record(actor, member, Permission.EDIT_MEMBER)
    except InvalidChange as error:
        return error
    raise AssertionError("record_refusal and check_record disagree")


Change = Callable[[AsyncSession, Member, Member], Awaitable[object]]


def _change(what: str, form: Any, tz: tzinfo) -> Change:
    """The domain's function for a change posted from the record (the same the chat's card calls);
    ``ValueError`` for a value no form of ours sends. Days are the commune's (``tz``)."""
    today = local_today(tz)

    def text(key: str = "value") -> str:
        value = form.get(key)
        return value[:300] if isinstance(value, str) else ""

    if what in FIELDS:
        value: Any = text()
        if what in DATE_FIELDS:
            value = parse_day(value, today=today)  # InvalidChange: said on the record
        elif what in ("phone", "card_number") and not value.strip():
            value = None
        return lambda session, actor, member: edit_member(session, actor, member, {what: value})
    if what == "role":
        role = Role(text())
        return lambda session, actor, member: edit_member(session, actor, member, {"role": role})
    if what == "committee":
        office = Role(text()) if text() else None
        return lambda session, actor, member: set_committee_role(session, actor, member, office)
    if what == "standing":
        standing = MemberStanding(text())
        return lambda session, actor, member: set_standing(session, actor, member, standing)
    if what == "exempt":
        exempt = {"yes": True, "no": False}[text()]
        return lambda session, actor, member: set_exempt(session, actor, member, exempt)
    if what == "move":
        branch_id = int(text())

        async def move(session: AsyncSession, actor: Member, member: Member) -> None:
            if await session.get(Branch, branch_id) is None:
                raise ValueError(branch_id)
            await move_member(session, actor, member, branch_id)

        return move
    if what == "deactivate":
        reason = DeactivationReason(text("reason"))
        return lambda session, actor, member: deactivate(session, actor, member, reason, today)
    if what == "reactivate":
        return lambda session, actor, member: reactivate(session, actor, member)
    if what == "revoke":
        return lambda session, actor, member: revoke_invites(session, actor, member)
    if what == "promote":
        vote = parse_vote(f"{text('votes_for')}/{text('officials')}")
        chosen = text("meeting")
        return lambda session, actor, member: _promote_at(session, actor, member, chosen, vote, tz)
    raise ValueError(what)


async def _promote_at(
    session: AsyncSession, actor: Member, member: Member, chosen: str, vote: tuple[int, int], tz: tzinfo
) -> None:
    """ "Make official" as the chat does it: the branch decided at the meeting chosen (its day is the
    decision's); refused without one, as there is no vote without a meeting."""
    today = local_today(tz)
    ends = check_promotion(actor, member, today)
    picked = chosen.isascii() and chosen.isdigit() and int(chosen) <= MAX_ID
    meeting = await session.get(Meeting, int(chosen)) if picked else None
    if meeting is None:
        if chosen:
            raise InvalidChange(ChangeProblem.WRONG_MEETING, member.full_name)
        raise InvalidChange(ChangeProblem.NO_MEETING, (ends or today).isoformat())
    day = meeting.starts_at.astimezone(tz).date()
    await promote(session, actor, member, day, vote=vote, meeting=meeting, today=today)


@router.post("/desk/members/{member_id}/{what}", include_in_schema=False)
async def change(request: Request, user: DeskUserDep, form: DeskFormDep, member_id: int, what: str) -> Response:
    """One change of the record; back to the record saved (303), or the record with why not."""
    if not 1 <= member_id <= MAX_ID:
        raise DeskRefusal(404, "not_found")
    runtime = desk_runtime(request)
    t = runtime.catalogs.translator(user.locale)
    if what == "deactivate" and form.get("sure") != "yes":  # nothing is deleted, but asked first
        try:
            reason = DeactivationReason(str(form.get("reason")))
        except ValueError:
            raise DeskRefusal(404, "not_found") from None
        return await _record_page(request, user, member_id, confirm_reason=reason.value)
    try:
        apply = _change(what, form, runtime.settings.tz)
        async with runtime.sessions() as session, session.begin():
            actor = await user.member(session)
            member = await _member(session, user, member_id)
            await apply(session, actor, member)
    except InvalidChange as error:
        problem = problem_text(t, error)
        if what in DATE_FIELDS:  # which date was refused, and the typed text kept in its field
            typed = form.get("value")
            return await _record_page(
                request, user, member_id, status=422,
                error=t.gettext("{field}: {problem}").format(field=t.gettext(FIELDS[what]), problem=problem),
                typed={"key": what, "value": typed[:30] if isinstance(typed, str) else ""},
            )  # fmt: skip
        return await _record_page(request, user, member_id, error=problem, status=422)
    except (NotPermitted, ValueError, KeyError):
        raise DeskRefusal(404, "not_found") from None
    return RedirectResponse(f"/desk/members/{member_id}?saved=1", status_code=303)
