"""Tổng quan: the branch (or the commune) at a glance: members by status and channel, who has not
joined (with phones, to call), open votes with turnout, the next meetings with the answers so far,
recent notices with read rates, due probation reviews, absence warnings, what failed to deliver."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import col, select

from handlers.members import status_name
from handlers.records.words import channel_names, local_phone, standing_name
from models import desk_queries
from models.tables import Branch, Committee, MemberStanding, MemberStatus, Role, utcnow
from models.vietnamese import shorten, text_key, without_salutation
from webhooks.desk.auth import DeskRefusal, DeskUser, DeskUserDep, desk_runtime
from webhooks.desk.render import chat_context, render

router = APIRouter()


def sees_absence_warnings(user: DeskUser) -> bool:
    """The chat warns the branch secretary, and only the secretary, of repeated absences (Quy định
    29); the desk shows them to the same people: a branch's secretary, the commune committee's."""
    return user.role is Role.SECRETARY or user.committee_role is Role.SECRETARY


@router.get("/desk/overview", include_in_schema=False)
async def overview(
    request: Request, user: DeskUserDep, branch: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
) -> Response:
    if branch is not None and not user.may(branch):
        raise DeskRefusal(404, "not_found")
    runtime = desk_runtime(request)
    now = utcnow()
    today = now.astimezone(runtime.settings.tz).date()
    shown = (branch,) if branch is not None else user.branch_ids
    async with runtime.sessions() as session:
        actor = await user.member(session)
        ctx = chat_context(request, session, actor)
        branches = sorted(
            (await session.exec(select(Branch).where(col(Branch.id).in_(user.branch_ids)))).all(),
            key=lambda b: text_key(b.name),
        )
        committee = (await session.exec(select(Committee.name))).first() or ""
        roster = await desk_queries.roster_glance(session, shown)
        polls = await desk_queries.open_polls(session, actor, shown)
        meetings = await desk_queries.next_meetings(session, shown, commune=user.commune and branch is None, now=now)
        notices = await desk_queries.recent_notices(session, shown)
        due = await desk_queries.due_reviews(session, actor, shown, today)
        warnings = (
            await desk_queries.absence_warnings(session, shown, now, runtime.settings.tz)
            if sees_absence_warnings(user)
            else None
        )
        failed = await desk_queries.undelivered(session, shown, now)
        branch_names = {b.id: b.name for b in branches}
        if branch is not None:
            scope = branch_names.get(branch, "")
        elif user.commune:
            scope = committee
        else:
            scope = branch_names.get(user.branch_id, "")
        channels = channel_names(ctx)
        return render(
            request,
            user,
            "overview.html",
            page="overview",
            scope=scope,
            branches=branches if user.commune else [],
            branch=branch,
            branch_names=branch_names,
            roster=roster,
            statuses=[(status_name(ctx, s), roster.by_status[s]) for s in MemberStatus],
            standings=[
                (standing_name(ctx, s), roster.by_standing[s]) for s in MemberStanding if s is not MemberStanding.ACTIVE
            ],
            channels=[(channels[p], roster.by_channel[p]) for p in desk_queries.CHANNELS],
            channel_names=channels,
            phone=local_phone,
            polls=polls,
            meetings=meetings,
            notices=notices,
            due=due,
            warnings=warnings,
            failed=failed,
            percent=_percent,
            first_line=_first_line,
            today=today,
        )


def _percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def _first_line(text: str) -> str:
    """A notice is known by what it says past the salutation, shortened."""
    return shorten(without_salutation(text), 90)
