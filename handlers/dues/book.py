"""Party dues in chat: a member's own "what have I paid", the branch's collection list of a month
(and the commune's totals), a member's dues card with the payment buttons, and their category."""

from __future__ import annotations

from datetime import date

from handlers.context import Context
from handlers.contract import Button, Reply, Rows
from handlers.dues.actions import BooksUpward, DuesBook, DuesCard, DuesCategories, MyDues, PayDues, SetDuesCategory
from handlers.dues.common import button, month_code, month_from, router, today
from handlers.dues.words import category_name, money, month_label, months_label, problem_text, short_category
from handlers.members import Cancel, home
from handlers.questions import Awaiting, Question
from handlers.records.actions import MemberCard
from models import dues, record_queries
from models.audience import push_identities
from models.dues import BASED, DuesProblem, add_months, month_of
from models.errors import NotFound
from models.membership import check, target_of
from models.outbox import Outbox
from models.permissions import Permission, Scope, Target, scope_of
from models.tables import Branch, DuesCategory, DuesPayment, Member

# Buttons of members on the collection list, at most (the rest are reached by "Find a member").
LIST_BUTTONS = 12
# How many months a payment button offers at once.
PAY_CHOICES = (1, 3, 6, 12)


def _grid(ctx: Context, member: Member, paid: dict[date, DuesPayment], owed: list[date]) -> list[str]:
    """The last twelve months, three to a line: ✅ paid, ❌ owed and unpaid, ⏳ this month not yet
    paid, · not counted (before the book or the admission)."""
    current = month_of(today(ctx))
    cells = []
    for back in range(11, -1, -1):
        month = add_months(current, -back)
        mark = "✅" if month in paid else "❌" if month in owed else "⏳" if month == current else "·"
        cells.append(f"{month.month:02d}/{month.year % 100:02d} {mark}")
    return ["   ".join(cells[i : i + 3]) for i in range(0, 12, 3)]


async def _dues_lines(ctx: Context, member: Member) -> tuple[list[str], dict[date, DuesPayment], list[date]]:
    """What both the member and the secretary read of one member's dues."""
    _ = ctx.gettext
    t = ctx.translator
    paid = (await dues.paid_months(ctx.session, [member.id or 0]))[member.id or 0]
    start = await dues.first_recorded_month(ctx.session, member.branch_id)
    owed = await dues.unpaid_months(ctx.session, member, today(ctx), ctx.timezone)
    amount = dues.amount_of(member, ctx.dues_rates)
    lines = [_("Category: {value}").format(value=category_name(ctx, member.dues_category))]
    if member.dues_category is DuesCategory.SALARY:
        lines.append(_("Monthly salary and allowances recorded: {value}").format(value=money(t, member.dues_base)))
    elif member.dues_category is DuesCategory.PENSION:
        lines.append(_("Monthly pension or allowance recorded: {value}").format(value=money(t, member.dues_base)))
    lines.append(_("Monthly dues: {value}").format(value=money(t, amount)))
    if paid:
        # The latest month paid, not "paid up to": a month before it may still be owed, said beside it.
        last = max(paid.values(), key=lambda p: (p.paid_on, p.month))
        lines.append(
            _("Latest month paid: {month} (last payment on {day}).").format(
                month=month_label(max(paid)), day=ctx.format_day(last.paid_on)
            )
        )
    if owed:
        lines.append(
            "❌ "
            + _("Months unpaid in the last 12: {count} ({months})").format(count=len(owed), months=months_label(owed))
        )
    elif start is not None:
        lines.append("✅ " + _("No month unpaid in the last 12."))
    lines += ["", _("The last 12 months:"), *_grid(ctx, member, paid, owed)]
    lines.append(
        _("✅ paid, ❌ unpaid, ⏳ this month not yet paid, · not counted (not yet in the branch, or before its book)")
    )
    return lines, paid, owed


@router.on(MyDues)
async def my_dues(ctx: Context, member: Member, action: MyDues) -> list[Reply]:
    """ "Tôi đóng đảng phí chưa?": the member's own dues, and nobody else's."""
    _ = ctx.gettext
    check(member, Permission.VIEW_OWN_RECORD, target_of(member))
    lines, _paid, _owed = await _dues_lines(ctx, member)
    text = "\n".join(
        ["💰 " + _("Your party dues"), "", *lines, "", _(
            "Dues are paid in cash to the branch's collector, who records them here. If anything is wrong, "
            "please tell your branch secretary."
        )]
    )  # fmt: skip
    return [home(ctx, member, text)]


def _commune_scope(actor: Member) -> bool:
    return scope_of(actor) is Scope.COMMUNE


@router.on(DuesBook)
async def dues_book(ctx: Context, actor: Member, action: DuesBook) -> list[Reply]:
    """The branch's collection list of a month; the commune's totals for its secretary (branch 0)."""
    month = month_from(action.month, ctx)
    current = month_of(today(ctx))
    month = min(month, current)
    if action.branch_id == 0 and _commune_scope(actor):
        return await _commune_book(ctx, actor, month)
    branch_id = action.branch_id or actor.branch_id
    check(actor, Permission.VIEW_DUES, Target(branch_id))
    branch = await ctx.session.get(Branch, branch_id)
    if branch is None:
        raise NotFound(f"branch {branch_id}")
    book = await dues.collection(ctx.session, actor, branch_id, month, today(ctx), ctx.dues_rates, ctx.timezone)
    _ = ctx.gettext
    t = ctx.translator
    # Only months owed count as unpaid (was: everyone, for a month before the book or an exempt member's).
    unpaid = [line for line in book.lines if line.owes and line.paid is None and (line.amount is None or line.amount)]
    lines = [
        "💰 " + _("Party dues of {month}: {branch}").format(month=month_label(month), branch=branch.name),
        _("Paid for the month: {paid} of {total} comrades ({amount})").format(
            paid=book.paid_count, total=len(book.lines), amount=money(t, book.paid_for_month)
        ),
    ]
    if book.before_the_book:
        lines.append(before_the_book(ctx, book))
    if unpaid:
        lines.append(
            _("Not yet paid: {names}").format(
                names=", ".join(f"{line.member.full_name} ({money(t, line.amount)})" for line in unpaid)
            )
        )
    lines += [
        _("Cash collected in the month: {amount} (months ahead and behind included)").format(
            amount=money(t, book.collected)
        ),
        _("The branch keeps {percent}%: {kept}. To pass to the Party committee: {passed}").format(
            percent=ctx.dues_rates.branch_keeps_percent, kept=money(t, book.kept), passed=money(t, book.passed_up)
        ),
    ]
    behind = [line for line in book.lines if len(line.unpaid) >= 2]
    if behind:
        lines += ["", "⚠️ " + _("Two months or more unpaid in the last 12 (three is a ground for removal):")]
        lines += [f"• {line.member.full_name}: {len(line.unpaid)} ({months_label(line.unpaid)})" for line in behind]
    rows: list[tuple[Button, ...]] = []
    people = [line.member for line in unpaid] + [line.member for line in book.lines if line not in unpaid]
    for index in range(0, min(len(people), LIST_BUTTONS), 2):
        rows.append(tuple(button("💵 " + p.full_name, DuesCard(p.id or 0)) for p in people[index : index + 2]))
    navigation = [
        button("◀ " + month_label(add_months(month, -1)), DuesBook(branch_id, month_code(add_months(month, -1))))
    ]
    if month < current:
        navigation.append(
            button(month_label(add_months(month, 1)) + " ▶", DuesBook(branch_id, month_code(add_months(month, 1))))
        )
    rows.append(tuple(navigation))
    rows.append((button("💰 " + _("Dues and reports"), BooksUpward()),))
    return [Reply("\n".join(lines), buttons=tuple(rows))]


def before_the_book(ctx: Context, book: dues.Collection) -> str:
    """Why a month lists nobody as unpaid: the branch's book in chibo had not begun."""
    if book.book_start is None:
        return ctx.gettext("No payment is recorded in chibo yet: the book begins with the first one.")
    return ctx.gettext("The branch's book in chibo begins in {month}: months before it are not counted.").format(
        month=month_label(book.book_start)
    )


async def _commune_book(ctx: Context, actor: Member, month: date) -> list[Reply]:
    """Each branch's month in a line, and the commune's sums."""
    _ = ctx.gettext
    t = ctx.translator
    lines = ["💰 " + _("Party dues of {month}: the whole commune").format(month=month_label(month)), ""]
    rows: list[tuple[Button, ...]] = []
    collected = passed = 0
    for branch in await record_queries.branches(ctx.session):
        book = await dues.collection(
            ctx.session, actor, branch.id or 0, month, today(ctx), ctx.dues_rates, ctx.timezone
        )
        collected, passed = collected + book.collected, passed + book.passed_up
        lines.append(
            _("{branch}: {paid}/{total} paid, collected {collected}, to pass up {passed}").format(
                branch=branch.name,
                paid=book.paid_count,
                total=len(book.lines),
                collected=money(t, book.collected),
                passed=money(t, book.passed_up),
            )
        )
        rows.append((button("💰 " + branch.name, DuesBook(branch.id or 0, month_code(month))),))
    lines += ["", _("Commune total: collected {collected}; branches pass up {passed}").format(
        collected=money(t, collected), passed=money(t, passed)
    )]  # fmt: skip
    navigation = [button("◀ " + month_label(add_months(month, -1)), DuesBook(0, month_code(add_months(month, -1))))]
    if month < month_of(today(ctx)):
        navigation.append(
            button(month_label(add_months(month, 1)) + " ▶", DuesBook(0, month_code(add_months(month, 1))))
        )
    rows += [tuple(navigation), (button("💰 " + _("Dues and reports"), BooksUpward()),)]
    return [Reply("\n".join(lines), buttons=tuple(rows))]


async def _member(ctx: Context, actor: Member, member_id: int, permission: Permission) -> Member:
    member = await ctx.session.get(Member, member_id)
    if member is None:
        raise NotFound(f"member {member_id}")
    check(actor, permission, target_of(member))
    return member


def _start_month(ctx: Context, paid: dict[date, DuesPayment], owed: list[date]) -> date:
    """Where a payment begins: the first month owed, else the first unpaid from this month on."""
    return dues.next_unpaid(paid, min(owed) if owed else month_of(today(ctx)))


@router.on(DuesCard)
async def dues_card(ctx: Context, actor: Member, action: DuesCard) -> list[Reply]:
    member = await _member(ctx, actor, action.member_id, Permission.VIEW_DUES)
    return [await _card(ctx, actor, member)]


async def _card(ctx: Context, actor: Member, member: Member, said: str = "") -> Reply:
    _ = ctx.gettext
    lines, paid, owed = await _dues_lines(ctx, member)
    head = ([said, ""] if said else []) + ["💵 " + _("Party dues of comrade {name}").format(name=member.full_name)]
    rows: list[tuple[Button, ...]] = []
    amount = dues.amount_of(member, ctx.dues_rates)
    ident = member.id or 0
    if member.active and amount:
        first = _start_month(ctx, paid, owed)
        choices = [
            button(
                _("Pay {month}").format(month=month_label(first))
                if count == 1
                else _("{count} months").format(count=count),
                PayDues(ident, month_code(first), count),
            )
            for count in PAY_CHOICES
        ]
        rows += [tuple(choices[:2]), tuple(choices[2:])]
    rows.append(
        (button("🏷 " + _("Dues category"), DuesCategories(ident)), button("👤 " + _("Record"), MemberCard(ident)))
    )
    rows.append((button("💰 " + _("Collection list"), DuesBook(member.branch_id, 0)),))
    return Reply("\n".join(head + lines), buttons=tuple(rows))


def _months(first: date, count: int) -> list[date]:
    return [add_months(first, i) for i in range(count)]


@router.on(PayDues)
async def pay_dues(ctx: Context, actor: Member, action: PayDues) -> list[Reply]:
    """Asks first (the member, the months, the sum, the day); then records, audited."""
    _ = ctx.gettext
    t = ctx.translator
    member = await _member(ctx, actor, action.member_id, Permission.MANAGE_DUES)
    first = month_from(action.first, ctx)
    months = _months(first, action.count)
    try:
        await dues.check_arrears_first(ctx.session, member, first, today(ctx), ctx.timezone)
    except dues.DuesError as error:  # on the member's dues, whose buttons start with the months owed
        return [await _card(ctx, actor, member, "⚠️ " + problem_text(ctx, error))]
    if action.sure is None:
        amount = dues.amount_of(member, ctx.dues_rates)
        if amount is None:
            raise dues.DuesError(
                DuesProblem.NO_BASE if member.dues_category in BASED else DuesProblem.NO_CATEGORY, member.full_name
            )
        text = _(
            "Record that comrade {name} paid the party dues of {months} ({count} month(s)): {amount}, "
            "handed in cash today, {day}?"
        ).format(
            name=member.full_name,
            months=months_label(months),
            count=len(months),
            amount=money(
                t,
                sum(a or 0 for a in await dues.amounts_due(ctx.session, member, months, ctx.dues_rates, ctx.timezone)),
            ),
            day=ctx.format_day(today(ctx)),
        )
        buttons: Rows = (
            (
                button("✅ " + _("Record the payment"), PayDues(action.member_id, action.first, action.count, "yes")),
                button("✖️ " + _("Cancel"), Cancel()),
            ),
        )
        return [Reply(text, buttons=buttons)]
    payments = await dues.record_payment(
        ctx.session, actor, member, months, rates=ctx.dues_rates, paid_on=today(ctx), tz=ctx.timezone
    )
    await send_receipt(ctx, member, months, sum(p.amount for p in payments))
    said = "✅ " + _("Recorded: {months}, {amount}.").format(
        months=months_label(months), amount=money(t, sum(p.amount for p in payments))
    )
    return [await _card(ctx, actor, member, said)]


async def send_receipt(ctx: Context, member: Member, months: list[date], amount: int) -> None:
    """The member hears, in their language, that the branch recorded their dues: a receipt in the
    outbox, sent with the same transaction (nothing when they recorded their own)."""
    if member.id is None or (ctx.member is not None and ctx.member.id == member.id):
        return
    t = ctx.catalogs.translator(member.locale)
    day = today(ctx)
    text = "🧾 " + t.gettext(
        "The branch recorded your party dues for {months}: {amount}, handed in on {day}. Thank you, comrade."
    ).format(months=months_label(months), amount=money(t, amount), day=f"{day:%d/%m/%Y}")
    body = Reply(text, buttons=((Button("💰 " + t.gettext("My party dues"), MyDues().pack()),),)).to_dict()
    identities = await push_identities(ctx.session, [member.id])
    Outbox(ctx.session).add(identities.get(member.id, []), body, member_id=member.id)


@router.on(DuesCategories)
async def categories(ctx: Context, actor: Member, action: DuesCategories) -> list[Reply]:
    _ = ctx.gettext
    member = await _member(ctx, actor, action.member_id, Permission.MANAGE_DUES)
    lines = [
        _("The dues category of comrade {name} (now: {value}):").format(
            name=member.full_name, value=short_category(ctx, member.dues_category)
        ),
        "",
    ]
    lines += [f"• {short_category(ctx, c)}: {category_name(ctx, c)}" for c in DuesCategory]
    lines += ["", _("Source: Quy định 01-QĐ/TW of 03/02/2022 on party dues; the amounts are the commune's settings.")]
    choices = [button(short_category(ctx, c), SetDuesCategory(action.member_id, c)) for c in DuesCategory]
    rows = tuple(tuple(choices[i : i + 2]) for i in range(0, len(choices), 2))
    return [Reply("\n".join(lines), buttons=(*rows, (button("✖️ " + _("Cancel"), Cancel()),)))]


@router.on(SetDuesCategory)
async def set_category(ctx: Context, actor: Member, action: SetDuesCategory) -> list[Reply]:
    _ = ctx.gettext
    member = await _member(ctx, actor, action.member_id, Permission.MANAGE_DUES)
    if action.category in BASED:
        ctx.ask(Awaiting(Question.DUES_BASE, member.id, action.category.value))
        words = (
            _("Type the monthly salary and allowances of comrade {name}, e.g. 5.500.000:")
            if action.category is DuesCategory.SALARY
            else _("Type the monthly pension of comrade {name}, e.g. 4.200.000:")
        )
        return [Reply(words.format(name=member.full_name), buttons=((button("✖️ " + _("Cancel"), Cancel()),),))]
    await dues.set_category(ctx.session, actor, member, action.category)
    return [await _card(ctx, actor, member, "✅ " + _("Saved."))]


@router.answers(Question.DUES_BASE)
async def base_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    _ = ctx.gettext
    member = await _member(ctx, actor, awaiting.subject or 0, Permission.MANAGE_DUES)
    try:
        category = DuesCategory(awaiting.detail)
        base = dues.parse_amount(text)
    except ValueError as error:
        ctx.ask(awaiting)  # they may type it again
        detail = error.detail if isinstance(error, dues.DuesError) else text[:40]
        words = _("\u201c{detail}\u201d is not an amount of money. Please type it like 5.500.000 or 5,5 triệu.").format(
            detail=detail
        )
        return [Reply(words, buttons=((button("✖️ " + _("Cancel"), Cancel()),),))]
    await dues.set_category(ctx.session, actor, member, category, base)
    return [await _card(ctx, actor, member, "✅ " + _("Saved."))]
