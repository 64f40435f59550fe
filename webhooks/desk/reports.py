"""Báo cáo: the reports upward of a month or a quarter, of a branch or (for the commune's secretary)
the whole commune with a column per branch, as a printable A4 page laid out as the chat's Excel
workbook, and that workbook; the Party badges of the coming year.

The report is the chat's: ``handlers.dues.reports.load_report`` asks the permission table and
``models.books_reports`` counts every figure; the page only lays it out."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import select

from handlers.context import Context
from handlers.dues.actions import BooksReport
from handlers.dues.common import month_code, today
from handlers.dues.reports import (
    as_of,
    badge_workbook,
    badges_year,
    branch_columns,
    load_report,
    period_name,
    report_filename,
    report_rows,
    workbook,
)
from models import books_reports, record_queries
from models.dues import add_months, month_of
from models.membership import check
from models.permissions import Permission, Target
from models.tables import MAX_ID, Committee
from webhooks.desk.auth import DeskRefusal, DeskUserDep, desk_runtime
from webhooks.desk.export import xlsx_file
from webhooks.desk.pages import asked_ahead, month_asked, unseen_unless_permitted
from webhooks.desk.render import chat_context, render

router = APIRouter()


def _number(ctx: Context, value: Any) -> str:
    """A figure as the reader writes it: "1.234.000" in Vietnamese, "1,234,000" in English."""
    if isinstance(value, int):
        grouped = f"{value:,}"
        return grouped.replace(",", ".") if ctx.translator.locale == "vi" else grouped
    return str(value)


@router.get("/desk/reports", include_in_schema=False)
async def report_page(
    request: Request,
    user: DeskUserDep,
    branch: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    period: Annotated[str, Query(max_length=1)] = "m",
    month: Annotated[str | None, Query(max_length=16)] = None,  # "yyyy-mm", or typed " 11 / 2026"
    format: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """The report of the month (``period=m``) or of the quarter (``q``) holding ``month`` (last month
    when none); ``branch`` 0 is the whole commune, the commune secretary's first choice."""
    if branch and not user.may(branch):
        raise DeskRefusal(404, "not_found")
    runtime = desk_runtime(request)
    async with runtime.sessions() as session:
        actor = await user.member(session)
        ctx = chat_context(request, session, actor)
        current = month_of(today(ctx))
        chosen = month_asked(month, current) if month else add_months(current, -1)
        whole = branch if branch is not None else (0 if user.commune else user.branch_id)
        kind: Literal["m", "q"] = "q" if period == "q" else "m"
        with unseen_unless_permitted():
            name, report, parts, shown = await load_report(ctx, actor, BooksReport(whole, kind, month_code(chosen)))
        if format == "xlsx":
            content = workbook(ctx, name, report, parts, shown)
            return xlsx_file(report_filename(name, shown), content)
        committee = (await session.exec(select(Committee.name))).first() or ""
        names = [(b.id, b.name) for b in await record_queries.branches(session) if b.id in user.branch_ids]
        rows = [(item, _number(ctx, number), note) for item, number, note in report_rows(ctx, report)]
        columns = [
            (item, [_number(ctx, n) for n in numbers], _number(ctx, total))
            for item, numbers, total in branch_columns(ctx, report, parts)
        ]
        return render(
            request, user, "reports.html", page="reports", name=name, committee=committee, rows=rows,
            parts=[p.name for p in parts], columns=columns, period=shown, period_title=period_name(ctx, shown),
            kind=kind, month=chosen, branch=whole, branches=names, commune=user.commune,
            first=ctx.format_day(shown.first), last=ctx.format_day(shown.last), as_of=as_of(ctx, shown),
            ahead=bool(month) and asked_ahead(month, current),
        )  # fmt: skip


@router.get("/desk/reports/badges", include_in_schema=False)
async def badges_page(
    request: Request, user: DeskUserDep, format: Annotated[str | None, Query(max_length=8)] = None
) -> Response:
    """Who reaches a badge year of Party membership next year, in the branches the reader keeps."""
    runtime = desk_runtime(request)
    async with runtime.sessions() as session:
        actor = await user.member(session)
        ctx = chat_context(request, session, actor)
        with unseen_unless_permitted():
            check(actor, Permission.VIEW_DUES, Target(actor.branch_id))
        year = badges_year(ctx)
        found = await books_reports.badges(session, actor, year)
        if format == "xlsx":
            return xlsx_file(f"huy-hieu-dang-{year}.xlsx", badge_workbook(ctx, year, found))
        return render(request, user, "badges.html", page="reports", year=year, found=found)
