"""Sổ sách: a branch's books as tables to read and print: the resolutions of a month (numbered in the
branch's year) with their decisions and the votes by show of hands, the quarters without a thematic
meeting, transfers, probationary members and when their probation ends, admission candidates and
their next step, the year-end review and its classifications.

Everything is read through ``models.books`` and the chat's checks (the branch's secretary and
deputy keep its books, the commune's secretary every branch's); changes stay in chat."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from handlers.books.screens import review_year, vote_words
from handlers.books.words import level_name, step_name, transfer_name
from handlers.dues.common import today
from models import books, record_queries, roster_queries
from models.dues import add_months, month_of
from models.meetings import meetings_between
from models.membership import check, probation_due, probation_end
from models.permissions import Permission, Target
from models.roster_queries import RosterFilter, StatusFilter
from models.tables import MAX_ID, MeetingStatus, ReviewLevel, utcnow
from webhooks.desk.auth import DeskRefusal, DeskUserDep, desk_runtime
from webhooks.desk.pages import month_asked, unseen_unless_permitted
from webhooks.desk.render import chat_context, render

router = APIRouter()


@router.get("/desk/books", include_in_schema=False)
async def books_page(
    request: Request,
    user: DeskUserDep,
    branch: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    month: Annotated[str | None, Query(max_length=16)] = None,  # "yyyy-mm", or typed " 11 / 2026"
) -> Response:
    if branch is not None and not user.may(branch):
        raise DeskRefusal(404, "not_found")
    shown = branch or user.branch_id
    runtime = desk_runtime(request)
    tz = runtime.settings.tz
    async with runtime.sessions() as session:
        actor = await user.member(session)
        ctx = chat_context(request, session, actor)
        t = ctx.translator
        day = today(ctx)
        first = month_asked(month, month_of(day))
        year = review_year(ctx)
        with unseen_unless_permitted():
            check(actor, Permission.EDIT_MEMBER, Target(shown))  # who keeps the branch's books, as in chat
            transfers = await books.branch_transfers(session, actor, shown)
            followed = await books.candidates(session, actor, shown)
            board = await books.review_board(session, actor, shown, year)
        start, end = datetime.combine(first, time(), tz), datetime.combine(add_months(first, 1), time(), tz)
        now = utcnow()
        held = [
            m
            for m in await meetings_between(session, (shown,), start, end)
            if m.status is MeetingStatus.CALLED and m.starts_at <= now
        ]
        records = []
        for meeting in held:
            resolution = await books.resolution_of(session, meeting.id or 0)
            votes = [
                (vote, vote_words(ctx, vote.votes_for, vote.base, books.adopted(vote)))
                for vote in await books.hand_votes(session, meeting.id or 0)
            ]
            label = books.resolution_label(resolution, meeting, tz) if resolution is not None else ""
            records.append((meeting, resolution, label, votes))
        due = {d.member.id for d in await probation_due(session, actor, day)}
        probationary = [
            (row.member, probation_end(row.member.date_admitted) if row.member.date_admitted else None)
            for row in await roster_queries.roster(
                session, (shown,), RosterFilter(branch_id=shown, status=StatusFilter.PROBATIONARY)
            )
        ]
        names = await record_queries.branch_names(session)
        return render(
            request, user, "books.html", page="books", branch=shown, branch_name=names.get(shown, ""),
            branches=[(b, names.get(b, "")) for b in user.branch_ids], month=first,
            previous=add_months(first, -1).strftime("%Y-%m"),
            following=add_months(first, 1).strftime("%Y-%m") if first < month_of(day) else "",
            records=records, missing=await books.thematic_missing(session, shown, day, tz),
            overdue={tr.id for tr, _m in await books.overdue_temporary(session, shown, day)},
            transfers=[(tr, m, transfer_name(t, tr.kind)) for tr, m in transfers],
            probationary=probationary, due=due,
            candidates=[(c, step_name(t, s) if (s := books.next_step(c)) else "—") for c in followed],
            year=year, board=board, levels=[(level_name(t, lv), board.count(lv)) for lv in ReviewLevel],
            level_name=lambda level: level_name(t, level) if level is not None else "—",
        )  # fmt: skip
