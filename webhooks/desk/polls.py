"""Biểu quyết: the open and past polls; setting one up with the chat's choices (kind, options, seats,
open or secret, who votes, rule, deadline, at a meeting); its turnout followed live; closing it after
a confirmation; the result with its chart, the result sheet to print (DOCX) and the Excel file.

Every change goes through models/polls.py as the chat's buttons do (permission, the kind's rules,
audit, ballots and results through the outbox); every word of a result is handlers/polls/results.py.
A secret ballot shows no counts before it closes, and its files name nobody."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParameter
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import FormData

from handlers.contract import Translator
from handlers.polls.common import kind_name, problem_text, rule_name, voters_name, where
from handlers.polls.results import (
    base_text,
    interim_text,
    option_rows,
    result_header,
    result_rows,
    results_chart,
    results_maker,
    turnout_text,
    verdict,
)
from handlers.polls.setup import DEFAULT_DAYS
from handlers.times import time_problem_words
from models.ballots import key_fits
from models.membership import NotPermitted
from models.poll_queries import managed_polls
from models.polls import (
    PollError,
    PollProblem,
    cancel_draft,
    change_draft,
    check,
    check_poll,
    close,
    create_draft,
    meeting_now,
    non_voters,
    nudge,
    opinions,
    publish,
    queue_results,
    result,
)
from models.tables import Branch, Member, Poll, PollKind, PollRule, PollStatus, PollVoters
from models.typed_time import Ambiguous, canonical, read_time
from models.uow import UnitOfWork
from webhooks.desk.auth import DeskFormDep, DeskRefusal, DeskUser, DeskUserDep, desk_runtime
from webhooks.desk.export import xlsx_response
from webhooks.desk.pages import FormRefused, form_text, object_to_manage, see_other
from webhooks.desk.render import render, translator_for

router = APIRouter()
PollId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
# The chat's choices (handlers/polls/setup.py): plurality belongs to consultations, which get it by kind.
RULES = (PollRule.MAJORITY_OF_ELIGIBLE, PollRule.TWO_THIRDS_OF_ELIGIBLE)
NAMES_SHOWN = 60


async def _manager(session: AsyncSession, user: DeskUser) -> Member:
    """The signed-in member, if they may manage polls of their own branch (as the chat's "Polls")."""
    actor = await user.member(session)
    try:
        check(actor, [actor.branch_id])
    except NotPermitted:
        raise DeskRefusal(403, "not_allowed") from None
    return actor


def _see(poll_id: int, note: str = "") -> RedirectResponse:
    return see_other(f"/desk/polls/{poll_id}", done=note)


# --- the list -----------------------------------------------------------------------------------


@router.get("/desk/polls", include_in_schema=False)
async def poll_list(request: Request, user: DeskUserDep) -> Response:
    runtime = desk_runtime(request)
    t = translator_for(request, user)
    async with runtime.sessions() as session:
        actor = await _manager(session, user)
        names = {b.id: b.name for b in (await session.exec(select(Branch))).all()}
        rows: list[dict[str, Any]] = []
        for poll in await managed_polls(session, actor):
            decision = await result(session, poll)
            closed = poll.status is PollStatus.CLOSED
            rows.append(
                {
                    "poll": poll,
                    "voters": decision.voters,
                    "eligible": decision.eligible,
                    "verdict": verdict(t, poll, decision) if closed else "",
                    # Whose vote it is, for a reader of several branches.
                    "where": t.gettext("the whole commune")
                    if poll.branches is None
                    else ", ".join(names.get(b, "?") for b in poll.branches),
                }
            )
    return render(
        request,
        user,
        "polls.html",
        page="polls",
        open=[r for r in rows if r["poll"].status is PollStatus.OPEN],
        drafts=[r for r in rows if r["poll"].status is PollStatus.DRAFT],
        past=[r for r in rows if r["poll"].status is PollStatus.CLOSED],
        kinds={kind.value: kind_name(t, kind) for kind in PollKind},
    )


# --- setting one up -----------------------------------------------------------------------------


def _choices(t: Translator) -> dict[str, Any]:
    """The chat's setting choices, in its words."""
    return {
        "kinds": [(kind.value, kind_name(t, kind)) for kind in PollKind],
        "voters": [(v.value, voters_name(t, v)) for v in PollVoters],
        "rules": [(rule.value, rule_name(t, Poll(question="", options=[], rule=rule))) for rule in RULES],
    }


async def _setup_page(
    request: Request, user: DeskUser, form: dict[str, Any] | None = None, problems: list[str] | None = None
) -> Response:
    runtime = desk_runtime(request)
    t = translator_for(request, user)
    async with runtime.sessions() as session:
        await _manager(session, user)
    local = datetime.now(runtime.settings.tz) + timedelta(days=DEFAULT_DAYS)
    default = {
        "kind": PollKind.MOTION.value,
        "voters": PollVoters.OFFICIALS.value,
        "rule": PollRule.MAJORITY_OF_ELIGIBLE.value,
        "seats": 1,
        "ballot": "",
        "deadline": canonical(local.replace(hour=20, minute=0, second=0, microsecond=0)),
        "announce": True,
        "change": True,
    }
    return render(
        request,
        user,
        "poll_new.html",
        status=400 if problems else 200,
        page="polls",
        form=form or default,
        problems=problems or [],
        **_choices(t),
    )


@router.get("/desk/polls/new", include_in_schema=False)
async def setup(request: Request, user: DeskUserDep) -> Response:
    return await _setup_page(request, user)


def _changes(form: FormData, kind: PollKind) -> dict[str, Any]:
    """The settings the form chose, as the chat's buttons set them (``change_draft`` fits them to the kind)."""
    changes: dict[str, Any] = {
        "kind": kind,
        "show_running": bool(form.get("running")),
        "allow_change": bool(form.get("change")),
        "announce_results": bool(form.get("announce")),
    }
    if form_text(form, "voters") in set(PollVoters):
        changes["voters"] = PollVoters(form_text(form, "voters"))
    if form_text(form, "rule") in set(RULES):
        changes["rule"] = PollRule(form_text(form, "rule"))
    ballot = form_text(form, "ballot")
    if ballot in ("secret", "open"):
        changes["secret"] = ballot == "secret"
    elif kind is PollKind.ELECTION:
        changes["secret"] = True  # elections are by secret ballot unless the secretary opens them
    if kind is not PollKind.MOTION:
        changes["options"] = form_text(form, "options").splitlines()
    return changes


@router.post("/desk/polls/new", include_in_schema=False)
async def create(request: Request, user: DeskUserDep, form: DeskFormDep) -> Response:
    """The draft with every setting, then its preview; nothing saved when any of it is refused."""
    runtime = desk_runtime(request)
    t = translator_for(request, user)
    kept: dict[str, Any] = {
        name: form_text(form, name) for name in ("question", "kind", "options", "voters", "rule", "ballot", "deadline")
    }
    kept |= {
        "seats": form_text(form, "seats"),
        "meeting": bool(form.get("meeting")),
        "running": bool(form.get("running")),
        "change": bool(form.get("change")),
        "announce": bool(form.get("announce")),
    }
    now = datetime.now(runtime.settings.tz)
    deadline = read_time(kept["deadline"], now)
    if isinstance(deadline, Ambiguous):
        asked = t.gettext("\u201c{text}\u201d: in the morning or in the evening? Please choose.")
        readings = " / ".join(canonical(m) for m in deadline.candidates)
        return await _setup_page(request, user, kept, [asked.format(text=kept["deadline"][:40]), readings])
    if not isinstance(deadline, datetime):
        problem = time_problem_words(t, runtime.settings.tz, deadline, kept["deadline"][:40], now)
        return await _setup_page(request, user, kept, [problem])
    try:
        kind = PollKind(kept["kind"])
    except ValueError:
        kind = PollKind.MOTION
    try:
        async with UnitOfWork(runtime.sessions) as uow:
            actor = await _manager(uow.session, user)
            poll = await create_draft(uow.session, actor, kept["question"], [actor.branch_id], deadline)
            changes = _changes(form, kind)
            await change_draft(uow.session, actor, poll, **changes)
            if kind in (PollKind.ELECTION, PollKind.CONSULTATION):
                seats = int(kept["seats"]) if kept["seats"].isdigit() else 1
                await change_draft(uow.session, actor, poll, max_choices=max(1, min(seats, len(poll.options))))
            if kept["meeting"]:
                meeting = await meeting_now(uow.session, poll)
                if meeting is None:
                    raise FormRefused([t.gettext("The branch has no meeting within 12 hours of now.")])
                await change_draft(uow.session, actor, poll, meeting_id=meeting.id)
    except PollError as error:
        return await _setup_page(request, user, kept, [problem_text(t, error)])
    except FormRefused as refused:
        return await _setup_page(request, user, kept, refused.problems)
    return _see(poll.id or 0)


# --- one poll -----------------------------------------------------------------------------------


async def _live(session: AsyncSession, t: Translator, poll: Poll) -> dict[str, Any]:
    """What the page shows of a poll now, and what its live part refreshes: turnout, the counts so far
    (none for a secret ballot before it closes), who has not voted."""
    decision = await result(session, poll)
    hidden = poll.secret and poll.status is not PollStatus.CLOSED
    counts = None if hidden else [[row[0], row[1], row[2]] for row in option_rows(t, poll, decision)]
    waiting = await non_voters(session, poll) if poll.status is PollStatus.OPEN else []
    return {
        "status": poll.status.value,
        "turnout": turnout_text(t, decision),
        "voters": decision.voters,
        "eligible": decision.eligible,
        "counts": counts,
        "waiting": [m.full_name for m in waiting[:NAMES_SHOWN]],
        "waiting_count": len(waiting),
    }


async def _poll_page(
    request: Request, user: DeskUser, poll_id: int, problems: list[str] | None = None, template: str = "poll.html"
) -> Response:
    runtime = desk_runtime(request)
    t = translator_for(request, user)
    async with runtime.sessions() as session:
        actor = await _manager(session, user)
        poll = await object_to_manage(session, actor, Poll, poll_id, check_poll)
        decision = await result(session, poll)
        context: dict[str, Any] = {
            "poll": poll,
            "kind": kind_name(t, poll.kind),
            "rule": rule_name(t, poll),
            "who": voters_name(t, poll.voters),
            "where": where(t, poll),
            "live": await _live(session, t, poll),
            "interim": interim_text(t, poll, decision).removeprefix("⏳ "),
            "base": base_text(t, decision),
        }
        if poll.status is PollStatus.CLOSED:
            context |= {
                "header": result_header(t),
                "rows": option_rows(t, poll, decision),
                "verdict": verdict(t, poll, decision),
                "passed": decision.passed,
                "opinions": [] if poll.secret else await opinions(session, poll),
            }
    return render(
        request,
        user,
        template,
        status=400 if problems else 200,
        page="polls",
        problems=problems or [],
        done=request.query_params.get("done", ""),
        **context,
    )


@router.get("/desk/polls/{poll_id}", include_in_schema=False)
async def show(request: Request, user: DeskUserDep, poll_id: PollId) -> Response:
    return await _poll_page(request, user, poll_id)


@router.get("/desk/polls/{poll_id}/live", include_in_schema=False)
async def live(request: Request, user: DeskUserDep, poll_id: PollId) -> Response:
    """The turnout part of the page, for desk-polls.js to refresh while the poll is open."""
    runtime = desk_runtime(request)
    t = translator_for(request, user)
    async with runtime.sessions() as session:
        actor = await _manager(session, user)
        found = await _live(session, t, await object_to_manage(session, actor, Poll, poll_id, check_poll))
    return JSONResponse(found, headers={"Cache-Control": "no-store"})


@router.post("/desk/polls/{poll_id}/publish", include_in_schema=False)
async def open_poll(request: Request, user: DeskUserDep, form: DeskFormDep, poll_id: PollId) -> Response:
    from handlers.polls.ballots import ballot_maker

    runtime = desk_runtime(request)
    t = translator_for(request, user)
    try:
        async with UnitOfWork(runtime.sessions) as uow:
            actor = await _manager(uow.session, user)
            poll = await object_to_manage(uow.session, actor, Poll, poll_id, check_poll)
            await publish(uow.session, actor, poll, ballot_maker(runtime.catalogs, runtime.settings.tz))
    except PollError as error:
        return await _poll_page(request, user, poll_id, [problem_text(t, error)])
    return _see(poll_id, "opened")


@router.post("/desk/polls/{poll_id}/cancel", include_in_schema=False)
async def drop(request: Request, user: DeskUserDep, form: DeskFormDep, poll_id: PollId) -> Response:
    runtime = desk_runtime(request)
    t = translator_for(request, user)
    try:
        async with UnitOfWork(runtime.sessions) as uow:
            actor = await _manager(uow.session, user)
            poll = await object_to_manage(uow.session, actor, Poll, poll_id, check_poll)
            await cancel_draft(uow.session, actor, poll)
    except PollError as error:
        return await _poll_page(request, user, poll_id, [problem_text(t, error)])
    return RedirectResponse("/desk/polls", status_code=303)


@router.post("/desk/polls/{poll_id}/nudge", include_in_schema=False)
async def remind(request: Request, user: DeskUserDep, form: DeskFormDep, poll_id: PollId) -> Response:
    """The chat's reminder: the ballot again to those who have not voted, at most once per interval."""
    from handlers.polls.ballots import ballot_maker

    runtime = desk_runtime(request)
    t = translator_for(request, user)
    try:
        async with UnitOfWork(runtime.sessions) as uow:
            actor = await _manager(uow.session, user)
            poll = await object_to_manage(uow.session, actor, Poll, poll_id, check_poll)
            await nudge(
                uow.session,
                actor,
                poll,
                ballot_maker(runtime.catalogs, runtime.settings.tz),
                runtime.settings.nudge_interval,
            )
    except PollError as error:
        return await _poll_page(request, user, poll_id, [problem_text(t, error)])
    return _see(poll_id, "nudged")


@router.get("/desk/polls/{poll_id}/close", include_in_schema=False)
async def ask_close(request: Request, user: DeskUserDep, poll_id: PollId) -> Response:
    """Asked first, as in the chat: nobody can vote after it, and the result goes out at once."""
    return await _poll_page(request, user, poll_id, template="poll_close.html")


@router.post("/desk/polls/{poll_id}/close", include_in_schema=False)
async def close_now(request: Request, user: DeskUserDep, form: DeskFormDep, poll_id: PollId) -> Response:
    runtime = desk_runtime(request)
    t = translator_for(request, user)
    try:
        async with UnitOfWork(runtime.sessions) as uow:
            actor = await _manager(uow.session, user)
            poll = await object_to_manage(uow.session, actor, Poll, poll_id, check_poll)
            if poll.secret and not await key_fits(uow.session, poll_id):
                raise FormRefused(
                    [
                        t.gettext(
                            "The sealed ballots of this poll cannot be opened with this server's key, so the poll "
                            "stays open. Please tell whoever runs chibo: the secret ballot key (CHIBO_BALLOT_KEY) "
                            "has changed or is missing."
                        )
                    ]
                )
            if not await close(uow.session, poll, actor=actor):
                raise PollError(PollProblem.NOT_OPEN)
            await queue_results(uow.session, poll, results_maker(runtime.catalogs))
    except PollError as error:
        return await _poll_page(request, user, poll_id, [problem_text(t, error)])
    except FormRefused as refused:
        return await _poll_page(request, user, poll_id, refused.problems)
    return _see(poll_id, "closed")


# --- the result as a picture and as files ---------------------------------------------------------


async def _closed(session: AsyncSession, user: DeskUser, poll_id: int) -> Poll:
    actor = await _manager(session, user)
    poll = await object_to_manage(session, actor, Poll, poll_id, check_poll)
    if poll.status is not PollStatus.CLOSED:  # no chart or file before the result is final
        raise DeskRefusal(404, "not_found")
    return poll


@router.get("/desk/polls/{poll_id}/chart.png", include_in_schema=False)
async def chart(request: Request, user: DeskUserDep, poll_id: PollId) -> Response:
    from bot.charts import bar_chart_png

    runtime = desk_runtime(request)
    t = translator_for(request, user)
    async with runtime.sessions() as session:
        poll = await _closed(session, user, poll_id)
        drawn = results_chart(t, poll, await result(session, poll))
    return Response(bar_chart_png(drawn), media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get("/desk/polls/{poll_id}/sheet.docx", include_in_schema=False)
async def sheet(request: Request, user: DeskUserDep, poll_id: PollId) -> Response:
    """The result sheet to print and sign (a secret ballot's names nobody)."""
    from handlers.polls.sheet import result_sheet_docx

    runtime = desk_runtime(request)
    t = translator_for(request, user)
    async with runtime.sessions() as session:
        poll = await _closed(session, user, poll_id)
        content = await result_sheet_docx(session, t, poll, runtime.settings.tz)
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        headers={
            "Content-Disposition": f'attachment; filename="ket-qua-bieu-quyet-{poll_id}.docx"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/desk/polls/{poll_id}/results.xlsx", include_in_schema=False)
async def export(request: Request, user: DeskUserDep, poll_id: PollId) -> Response:
    """The chat's result sheet rows in an Excel file: for a secret ballot, the counts only."""
    runtime = desk_runtime(request)
    t = translator_for(request, user)
    async with runtime.sessions() as session:
        poll = await _closed(session, user, poll_id)
        rows = await result_rows(session, t, poll)
    return xlsx_response(f"ket-qua-bieu-quyet-{poll_id}.xlsx", result_header(t), rows, sheet_name=t.gettext("Results"))
