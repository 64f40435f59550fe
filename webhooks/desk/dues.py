"""Đảng phí: a branch's collection list of a month (each member, their category and monthly amount,
the month paid or not, the months owed), a payment of one or several months recorded after a
confirm, what the branch keeps and passes up to the commune committee; every branch's totals for
the commune's secretary; Excel and print.

Every figure comes from ``models.dues`` and every payment goes through its ``record_payment``, as
in chat: the same permission checks, the same audit, a month never recorded twice, and the same
receipt to the member (``handlers.dues.book.send_receipt``)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.context import Context
from handlers.dues.book import before_the_book, send_receipt
from handlers.dues.common import today
from handlers.dues.words import (
    category_name,
    file_slug,
    money,
    month_label,
    months_label,
    problem_text,
    short_category,
)
from models import dues, record_queries
from models.dues import (
    BASED,
    MAX_MONTHS_AT_ONCE,
    MONTHS_AHEAD,
    MONTHS_BACK,
    Collection,
    DuesError,
    DuesProblem,
    add_months,
    month_of,
)
from models.errors import NotFound
from models.membership import check, target_of
from models.permissions import Permission
from models.tables import MAX_ID, Committee, Member
from webhooks.desk.auth import DeskFormDep, DeskRefusal, DeskUser, DeskUserDep, desk_runtime
from webhooks.desk.export import DAY, MONEY, xlsx_response
from webhooks.desk.pages import asked_ahead, form_text, month_asked, see_other, unseen_unless_permitted
from webhooks.desk.render import N_, chat_context, render

router = APIRouter()
PAID = N_("The payment is recorded.")


def _ym(month: date) -> str:
    return month.strftime("%Y-%m")


@router.get("/desk/dues", include_in_schema=False)
async def dues_page(
    request: Request,
    user: DeskUserDep,
    branch: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,  # 0: the whole commune, as the form's choice
    month: Annotated[str | None, Query(max_length=16)] = None,  # "yyyy-mm", or typed " 11 / 2026"
    format: Annotated[str | None, Query(max_length=8)] = None,
    note: Annotated[str | None, Query(max_length=20)] = None,
    paid: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    since: Annotated[str | None, Query(max_length=7)] = None,
    count: Annotated[int, Query(ge=1, le=MAX_MONTHS_AT_ONCE)] = 1,
) -> Response:
    """A branch's collection list of the month; without a branch, the commune's totals for the
    commune's secretary (as the chat's "Đảng phí" button), a branch secretary their own branch."""
    branch = branch or None  # was: the form's "whole commune" sent branch= and got a 400 page
    if branch is not None and not user.may(branch):
        raise DeskRefusal(404, "not_found")
    runtime = desk_runtime(request)
    async with runtime.sessions() as session:
        actor = await user.member(session)
        ctx = chat_context(request, session, actor)
        current = month_of(today(ctx))
        first = month_asked(month, current)
        names = await record_queries.branch_names(session)
        months: dict[str, Any] = {
            "month": first,
            "previous": _ym(add_months(first, -1)),
            "following": _ym(add_months(first, 1)) if first < current else "",
            "ahead": asked_ahead(month, current),
        }
        if branch is None and user.commune:
            return await _commune(request, user, ctx, first, format, months)
        shown = branch or user.branch_id
        with unseen_unless_permitted():
            book = await dues.collection(session, actor, shown, first, today(ctx), ctx.dues_rates, ctx.timezone)
        if format == "xlsx":
            return _book_file(ctx, book, await _committee(session), names.get(shown, ""))
        return render(
            request, user, "dues.html", page="dues", branch=shown, branch_name=names.get(shown, ""),
            book=book, lines=[_line(ctx, line) for line in book.lines], commune_view=False,
            before_the_book=before_the_book(ctx, book) if book.before_the_book else "",
            branches=[(b, names[b]) for b in user.branch_ids], commune=user.commune,
            keeps=ctx.dues_rates.branch_keeps_percent,
            note=await _paid_note(ctx, book, paid, since, count) if note == "paid" else None,
            paid_money=money(ctx.translator, book.paid_for_month), expected_money=money(ctx.translator, book.expected),
            collected_money=money(ctx.translator, book.collected), kept_money=money(ctx.translator, book.kept),
            passed_money=money(ctx.translator, book.passed_up), counts=range(1, MAX_MONTHS_AT_ONCE + 1), **months,
        )  # fmt: skip


async def _paid_note(ctx: Context, book: Collection, member_id: int | None, first: str | None, count: int) -> str:
    """After a payment: who paid for which months and how much, read back from the book (the link
    carries only ids, so it cannot make the page say anything the book does not)."""
    member = next((line.member for line in book.lines if line.member.id == member_id), None)
    try:
        start = date.fromisoformat(f"{first}-01")
    except ValueError:
        start = None
    if member is None or start is None:
        return ctx.gettext(PAID)
    months = {add_months(start, i) for i in range(count)}
    recorded = [p for month, p in (await dues.paid_months(ctx.session, [member_id or 0]))[member_id or 0].items()
                if month in months]  # fmt: skip
    if len(recorded) != len(months):
        return ctx.gettext(PAID)
    return ctx.gettext("Recorded: comrade {name} paid the party dues of {months}: {amount}.").format(
        name=member.full_name,
        months=months_label(months),
        amount=money(ctx.translator, sum(p.amount for p in recorded)),
    )


def _line(ctx: Context, line: dues.DuesLine) -> dict[str, Any]:
    """One member's row of the list, in the reader's words."""
    return {
        "member": line.member,
        "category": short_category(ctx, line.member.dues_category),
        "amount": money(ctx.translator, line.amount),
        "paid": line.paid,
        "owes": line.owes,  # a month before the book, or an exempt member's: "—", not "not yet"
        "unpaid": len(line.unpaid),
        "unpaid_months": months_label(line.unpaid),
        # Two months owed of the three that are a ground for removal: the chat warns of them too.
        "behind": len(line.unpaid) >= 2,
        "payable": line.member.active and bool(line.amount),
    }


async def _committee(session: AsyncSession) -> str:
    return (await session.exec(select(Committee.name))).first() or ""


def _book_file(ctx: Context, book: Collection, committee: str, branch: str) -> Response:
    _ = ctx.gettext
    paid_header = _("Paid for {month}").format(month=month_label(book.month))
    headers = [_("No."), _("Full name"), _("Dues category"), _("Monthly dues (VND)"), paid_header,
               _("Months unpaid in the last 12"), _("Which months")]  # fmt: skip
    rows: list[list[Any]] = [
        [n, line.member.full_name, short_category(ctx, line.member.dues_category), line.amount,
         line.paid.paid_on if line.paid is not None else None, len(line.unpaid), months_label(line.unpaid)]
        for n, line in enumerate(book.lines, start=1)
    ]  # fmt: skip
    rows += [
        [],
        [None, _("Paid for the month (VND)"), None, book.paid_for_month],
        [None, _("Cash collected in the period (VND)"), None, book.collected],
        [None, _("Kept by the branch (VND)"), None, book.kept],
        [None, _("To pass to the Party committee (VND)"), None, book.passed_up],
    ]
    title = [_("PARTY DUES COLLECTION LIST OF {month}").format(month=month_label(book.month)), committee, branch]
    return xlsx_response(
        f"dang-phi-{file_slug(branch)}-{_ym(book.month)}.xlsx",
        headers,
        rows,
        title=[t for t in title if t],
        sheet_name=_("Party dues {month}").format(month=month_label(book.month).replace("/", "-")),
        formats={3: MONEY, 4: DAY},
    )


async def _commune(
    request: Request, user: DeskUser, ctx: Context, month: date, format: str | None, months: dict[str, Any]
) -> Response:
    """Each branch's month in a row and the commune's sums, as the chat's commune screen."""
    _ = ctx.gettext
    t = ctx.translator
    assert ctx.member is not None
    rows = []
    for branch in await record_queries.branches(ctx.session):
        with unseen_unless_permitted():
            book = await dues.collection(
                ctx.session, ctx.member, branch.id or 0, month, today(ctx), ctx.dues_rates, ctx.timezone
            )
        rows.append((branch, book))
    collected = sum(book.collected for _b, book in rows)
    kept = sum(book.kept for _b, book in rows)
    passed = sum(book.passed_up for _b, book in rows)
    if format == "xlsx":
        headers = [_("Branch"), _("Paid for the month"), _("Party members"), _("Paid for the month (VND)"),
                   _("Cash collected in the period (VND)"), _("Kept by the branch (VND)"),
                   _("To pass to the Party committee (VND)")]  # fmt: skip
        table: list[list[Any]] = [
            [b.name, book.paid_count, len(book.lines), book.paid_for_month, book.collected, book.kept, book.passed_up]
            for b, book in rows
        ]
        table.append([_("Commune total"), sum(book.paid_count for _b, book in rows),
                      sum(len(book.lines) for _b, book in rows), sum(book.paid_for_month for _b, book in rows),
                      collected, kept, passed])  # fmt: skip
        committee = await _committee(ctx.session)
        title = [_("PARTY DUES OF THE BRANCHES, {month}").format(month=month_label(month)), committee]
        return xlsx_response(
            f"dang-phi-toan-xa-{_ym(month)}.xlsx", headers, table, title=[t for t in title if t],
            sheet_name=_("Party dues {month}").format(month=month_label(month).replace("/", "-")),
            formats={3: MONEY, 4: MONEY, 5: MONEY, 6: MONEY},
        )  # fmt: skip
    shown = [
        {"branch": b, "paid": book.paid_count, "total": len(book.lines), "paid_money": money(t, book.paid_for_month),
         "collected": money(t, book.collected), "kept": money(t, book.kept), "passed": money(t, book.passed_up)}
        for b, book in rows
    ]  # fmt: skip
    names = {b.id: b.name for b, _book in rows}
    paid_count, members = sum(book.paid_count for _b, book in rows), sum(len(book.lines) for _b, book in rows)
    return render(
        request, user, "dues.html", page="dues", commune_view=True, rows=shown, commune=True,
        branches=[(b, names.get(b, "")) for b in user.branch_ids], branch=None,
        collected_money=money(t, collected), kept_money=money(t, kept), passed_money=money(t, passed),
        paid_count=paid_count, members=members, paid_money=money(t, sum(book.paid_for_month for _b, book in rows)),
        keeps=ctx.dues_rates.branch_keeps_percent, note=None, **months,
    )  # fmt: skip


async def _payer(session: AsyncSession, actor: Member, member_id: int) -> Member:
    """A member whose payments the signed-in member records (the chat's check); another branch's,
    like an id that is not there, is "not found"."""
    with unseen_unless_permitted():
        member = await session.get(Member, member_id)
        if member is None:
            raise NotFound(f"member {member_id}")
        check(actor, Permission.MANAGE_DUES, target_of(member))
    return member


def _payable(ctx: Context, member: Member) -> int:
    """The member's monthly amount, or the chat's refusal when nothing can be recorded."""
    amount = dues.amount_of(member, ctx.dues_rates)
    if not member.active:
        raise DuesError(DuesProblem.INACTIVE, member.full_name)
    if amount is None:
        problem = DuesProblem.NO_BASE if member.dues_category in BASED else DuesProblem.NO_CATEGORY
        raise DuesError(problem, member.full_name)
    if amount == 0:
        raise DuesError(DuesProblem.NOTHING_DUE, member.full_name)
    return amount


def _count(text: str) -> int:
    """How many months are paid for at once, exactly as the form's list offers them (1 to 12 in
    ASCII digits): "²" and "٣" are digits to Python but no count of ours, "100" is not cut to 10."""
    if not (len(text) <= 2 and text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_MONTHS_AT_ONCE:
        raise DuesError(DuesProblem.BAD_MONTHS, text[:20])
    return int(text)


def _first_month(text: str, current: date) -> date:
    """The first month paid for, exactly ``yyyy-mm``, within the months a payment may be recorded
    for; checked before any arithmetic on it (a month after 9999-12 is no date)."""
    match = re.fullmatch(r"([0-9]{4})-([0-9]{2})", text)
    if match is None:
        raise DuesError(DuesProblem.BAD_MONTHS, text[:20])
    year, number = int(match[1]), int(match[2])
    index, now = year * 12 + number - 1, current.year * 12 + current.month - 1
    if not 1 <= number <= 12 or not now - MONTHS_BACK <= index <= now + MONTHS_AHEAD:
        raise DuesError(DuesProblem.BAD_MONTHS, text)
    return date(year, number, 1)


def _recorded_before(request: Request, user: DeskUser, ctx: Context, error: DuesError, branch_id: int) -> Response:
    """The same payment sent twice (a second click, the browser's back and resend): the first one
    was saved, so this is news, not a failure."""
    return render(
        request, user, "message.html", page="dues", heading=ctx.gettext("Recorded earlier"),
        lines=[problem_text(ctx, error)], back=f"/desk/dues?branch={branch_id}", back_label=ctx.gettext("Back"),
    )  # fmt: skip


def _problem(request: Request, user: DeskUser, ctx: Context, error: DuesError, branch_id: int) -> Response:
    """What the chat would have said, with the way back to the list (nothing was recorded)."""
    return render(
        request, user, "message.html", status=422, page="dues", heading=ctx.gettext("Nothing was saved"),
        lines=[problem_text(ctx, error)], back=f"/desk/dues?branch={branch_id}", back_label=ctx.gettext("Back"),
    )  # fmt: skip


@router.get("/desk/dues/members/{member_id}/pay", include_in_schema=False)
async def confirm_payment(
    request: Request,
    user: DeskUserDep,
    member_id: int,
    count: Annotated[str, Query()] = "1",
) -> Response:
    """What is about to be recorded, to confirm: the months (the first owed first, as in chat), the
    sum, the day; the member's months owed beside it."""
    runtime = desk_runtime(request)
    async with runtime.sessions() as session:
        actor = await user.member(session)
        member = await _payer(session, actor, member_id)
        ctx = chat_context(request, session, actor)
        try:
            months_paid = _count(count)
            amount = _payable(ctx, member)
        except DuesError as error:
            return _problem(request, user, ctx, error, member.branch_id)
        paid = (await dues.paid_months(session, [member_id]))[member_id]
        owed = await dues.unpaid_months(session, member, today(ctx), ctx.timezone)
        first = dues.next_unpaid(paid, min(owed) if owed else month_of(today(ctx)))
        months = [add_months(first, i) for i in range(months_paid)]
        # Each month at its own amount (a month behind at the category of then), as recorded.
        total = sum(a or 0 for a in await dues.amounts_due(session, member, months, ctx.dues_rates, ctx.timezone))
        return render(
            request, user, "dues_pay.html", page="dues", member=member, count=months_paid, first=_ym(first),
            months=months_label(months), total=money(ctx.translator, total),
            amount=money(ctx.translator, amount), category=category_name(ctx, member.dues_category),
            owed=months_label(owed), owed_count=len(owed), today=today(ctx),
            last=month_label(max(paid)) if paid else "",
        )  # fmt: skip


@router.post("/desk/dues/members/{member_id}/pay", include_in_schema=False)
async def record_payment(request: Request, user: DeskUserDep, form: DeskFormDep, member_id: int) -> Response:
    """The payment confirmed: ``models.dues.record_payment`` (audited; a month already recorded,
    as by a second submit of the same form, is refused and nothing is recorded twice)."""
    runtime = desk_runtime(request)
    async with runtime.sessions() as session, session.begin():
        actor = await user.member(session)
        member = await _payer(session, actor, member_id)
        ctx = chat_context(request, session, actor)
        try:
            count = _count(form_text(form, "count"))
            first = _first_month(form_text(form, "first"), month_of(today(ctx)))
            months = [add_months(first, i) for i in range(count)]
            await dues.check_arrears_first(session, member, first, today(ctx), ctx.timezone)
            payments = await dues.record_payment(
                session, actor, member, months, rates=ctx.dues_rates, paid_on=today(ctx), tz=ctx.timezone
            )
        except DuesError as error:
            if error.problem is DuesProblem.ALREADY_PAID:
                return _recorded_before(request, user, ctx, error, member.branch_id)
            return _problem(request, user, ctx, error, member.branch_id)
        await send_receipt(ctx, member, months, sum(p.amount for p in payments))
        back = _ym(month_of(today(ctx)))
    return see_other(
        "/desk/dues", branch=str(member.branch_id), month=back, note="paid", paid=str(member_id), since=_ym(first),
        count=str(count),
    )  # fmt: skip
