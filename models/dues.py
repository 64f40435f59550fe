"""Party dues (đảng phí): each member's monthly amount, the payments the branch's collector records,
and the months left unpaid.

Source: Quy định 01-QĐ/TW of 03/02/2022 of the Politburo on party dues (chế độ đảng phí), which
replaced Quyết định 342-QĐ/TW of 2010; its text could not be read from here, so every figure is a
default the organisation changes in its settings (``DuesRates``, ``CHIBO_DUES_*``), as public legal
Q&A pages quote the rules:

- members paid a salary (cán bộ, công chức, viên chức, the armed forces, employees) and those paid
  a monthly allowance (cán bộ không chuyên trách cấp xã, thôn): 1% of the salary and allowances
  subject to social insurance (confirmed by several sources);
- members on a pension or a monthly social-insurance allowance: 0.5% of it (confirmed likewise);
- other members in the country (farmers, free workers, students without salary): a fixed amount of
  2,000–30,000 VND a month set by the province; those past working age pay half (the 50% is quoted,
  the amounts 10,000 and 5,000 VND are ours: UNCONFIRMED, set them to the province's figures);
- a member in hardship may be exempted from dues or pay less, on the branch's proposal, by the
  commune committee's decision (UNCONFIRMED wording): the category "exempt" owes nothing. This is
  not the exemption from regular activities, which leaves the dues owed;
- a branch under a grassroots committee keeps 30% of what it collects and passes 70% up
  (UNCONFIRMED: ``branch_keeps_percent``);
- the monthly amount is rounded to the nearest 1,000 VND (practice, UNCONFIRMED: ``round_vnd``).

Not paying dues for three months in a year without a valid reason is, like leaving Party activity,
a ground for removal (Charter art. 8; Quy định 29): ``unpaid_months`` counts them, for the warning.
A month is unpaid once it is over without a payment recorded for it, counted from the month of the
branch's first cash recorded (before chibo kept the book, nothing is known; an old month paid late
does not move that start) and the member's admission.

A month's amount is the one of the category and base in effect at its end, read back from the audited
changes (``roster_history``), so a change of category never rewrites past months; a month paid is
settled at the amount recorded for it. A month's dues belong to the branch whose roster the member
was on at its end; a payment counts for the months it covers wherever it was collected ("paid for
the month"), and its cash is counted by the branch that collected it, in the month it was handed in
("cash collected"): the two differ by payments ahead, in arrears and of members who moved.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit, roster_history
from models.audit import AuditAction
from models.errors import DomainError
from models.membership import check, target_of
from models.permissions import Actor, Permission, Target
from models.roster import fold
from models.tables import DuesCategory, DuesPayment, Member, utcnow
from models.vietnamese import name_key

# Months a member may pay for in one go (ahead or behind), and the base a member may be recorded with.
MAX_MONTHS_AT_ONCE = 12
MAX_BASE_VND = 1_000_000_000
# How far back and ahead of the current month a payment may be recorded.
MONTHS_BACK, MONTHS_AHEAD = 36, 12
# The window of "three months in a year" (Quy định 29): the twelve months before the current one.
WINDOW_MONTHS = 12


@dataclass(frozen=True)
class DuesRates:
    """The figures of Quy định 01-QĐ/TW as this organisation applies them (see the module's note).
    Percentages in hundredths of a percent (100 = 1%), amounts in VND."""

    salary_basis_points: int = 100
    pension_basis_points: int = 50
    other_vnd: int = 10_000
    elderly_vnd: int = 5_000
    student_vnd: int = 5_000
    round_vnd: int = 1_000
    branch_keeps_percent: int = 30


DEFAULT_RATES = DuesRates()
# The categories whose amount is a share of a base the secretary records (salary, pension).
BASED = frozenset({DuesCategory.SALARY, DuesCategory.PENSION})


class DuesProblem(StrEnum):
    NO_CATEGORY = "no_category"  # the member's category is not recorded yet
    NO_BASE = "no_base"  # a salary or pension category without the amount it is a share of
    BAD_AMOUNT = "bad_amount"  # a typed amount that is not a sum of money in VND
    BAD_MONTHS = "bad_months"  # 1..MAX_MONTHS_AT_ONCE months
    ALREADY_PAID = "already_paid"  # detail: the months already recorded
    NOTHING_DUE = "nothing_due"  # an exempt member
    INACTIVE = "inactive"
    ARREARS_FIRST = "arrears_first"  # detail: the months owed before the first one asked


class DuesError(DomainError, ValueError):
    code = "dues"

    def __init__(self, problem: DuesProblem, detail: str = "") -> None:
        super().__init__(f"{problem.value} {detail}".strip())
        self.problem, self.detail = problem, detail


def month_of(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    """Every month from ``first`` to ``last``, both included (first days of the month)."""
    months, month = [], month_of(first)
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def _rounded(amount: int, step: int) -> int:
    if step <= 1:
        return amount
    return (amount + step // 2) // step * step


def monthly_amount(category: DuesCategory | None, base: int | None, rates: DuesRates = DEFAULT_RATES) -> int | None:
    """What a member of this category pays a month (Quy định 01-QĐ/TW; see the module's note),
    or None when it cannot be known: no category, or a salary or pension not recorded."""
    if category is None:
        return None
    if category in BASED:
        if base is None:
            return None
        points = rates.salary_basis_points if category is DuesCategory.SALARY else rates.pension_basis_points
        return _rounded(base * points // 10_000, rates.round_vnd)
    fixed = {
        DuesCategory.OTHER: rates.other_vnd,
        DuesCategory.ELDERLY: rates.elderly_vnd,
        DuesCategory.STUDENT: rates.student_vnd,
        DuesCategory.EXEMPT: 0,
    }
    return fixed[category]


def amount_of(member: Member, rates: DuesRates = DEFAULT_RATES) -> int | None:
    return monthly_amount(member.dues_category, member.dues_base, rates)


def due_in(history: roster_history.MemberHistory, month: date, rates: DuesRates = DEFAULT_RATES) -> int | None:
    """The member's amount for ``month``: by the category and base in effect at its end."""
    return monthly_amount(*history.dues_on(month_end(month)), rates)


async def amounts_due(
    session: AsyncSession, member: Member, months: Sequence[date], rates: DuesRates = DEFAULT_RATES, tz: tzinfo = UTC
) -> list[int | None]:
    """What each of these months comes to for the member (``due_in``): what a payment of them records.
    A month whose category is not known (recorded later) comes to the present amount."""
    history = (await roster_history.histories(session, member_ids=[member.id or 0], tz=tz))[member.id or 0]
    dues = [due_in(history, month_of(m), rates) for m in months]
    return [due if due is not None else amount_of(member, rates) for due in dues]


def branch_share(collected: int, rates: DuesRates = DEFAULT_RATES) -> tuple[int, int]:
    """What the branch keeps of ``collected`` and what it passes to the commune committee (UNCONFIRMED
    30/70, ``branch_keeps_percent``); the branch keeps the rounding."""
    passed = collected * (100 - rates.branch_keeps_percent) // 100
    return collected - passed, passed


def parse_amount(text: str) -> int:
    """A sum of money typed as people write it: "5.500.000", "5,5 triệu", "4tr2", "850k", "850 nghìn"."""
    words = fold(text).replace(" ", "").removesuffix("dong").removesuffix("vnd").removesuffix("d")
    units = {"trieu": 1_000_000, "tr": 1_000_000, "nghin": 1_000, "ngan": 1_000, "k": 1_000}
    for unit, size in units.items():
        number, found, rest = words.partition(unit)
        if found and number:
            whole = number.replace(",", ".")
            try:
                value = float(whole) * size
            except ValueError:
                raise DuesError(DuesProblem.BAD_AMOUNT, text[:40]) from None
            if rest:  # "4tr2": 4.2 million
                if not rest.isdigit():
                    raise DuesError(DuesProblem.BAD_AMOUNT, text[:40])
                value += int(rest) * size // 10 ** len(rest)
            return _checked(round(value), text)
    digits = words.replace(".", "").replace(",", "")
    if not digits.isdigit():
        raise DuesError(DuesProblem.BAD_AMOUNT, text[:40])
    return _checked(int(digits), text)


def _checked(amount: int, text: str) -> int:
    if not 0 < amount <= MAX_BASE_VND:
        raise DuesError(DuesProblem.BAD_AMOUNT, text[:40])
    return amount


async def set_category(
    session: AsyncSession, actor: Actor, member: Member, category: DuesCategory, base: int | None = None
) -> None:
    """Record the member's dues category (and, for a salary or pension, the amount it is a share of),
    audited with the values before and after. A category without a base keeps the base recorded."""
    check(actor, Permission.MANAGE_DUES, target_of(member))
    if not member.active:
        raise DuesError(DuesProblem.INACTIVE, member.full_name)
    before = {"dues_category": member.dues_category, "dues_base": member.dues_base}
    member.dues_category = category
    if base is not None:
        member.dues_base = base
    if category not in BASED:
        member.dues_base = None
    after = {"dues_category": member.dues_category, "dues_base": member.dues_base}
    if after == before:
        return
    session.add(member)
    audit.record(
        session,
        AuditAction.MEMBER_DUES_CATEGORY,
        actor_id=actor.id,
        subject_type="member",
        subject_id=member.id,
        before={k: (v.value if isinstance(v, StrEnum) else v) for k, v in before.items() if v != after[k]},
        after={k: (v.value if isinstance(v, StrEnum) else v) for k, v in after.items() if v != before[k]},
    )


async def paid_months(session: AsyncSession, member_ids: Iterable[int]) -> dict[int, dict[date, DuesPayment]]:
    """Every month each member has paid for, with its payment."""
    ids = list(member_ids)
    found: dict[int, dict[date, DuesPayment]] = {i: {} for i in ids}
    if not ids:
        return found
    rows = await session.exec(select(DuesPayment).where(col(DuesPayment.member_id).in_(ids)))
    for payment in rows.all():
        found[payment.member_id][payment.month] = payment
    return found


def next_unpaid(paid: Iterable[date], start: date) -> date:
    """The first month from ``start`` on with no payment: where a payment of one or several months
    begins (arrears first, then ahead)."""
    taken, month = set(paid), month_of(start)
    while month in taken:
        month = add_months(month, 1)
    return month


async def record_payment(
    session: AsyncSession,
    actor: Actor,
    member: Member,
    months: Sequence[date],
    *,
    rates: DuesRates = DEFAULT_RATES,
    paid_on: date,
    now: datetime | None = None,
    tz: tzinfo = UTC,
) -> list[DuesPayment]:
    """Record that the member paid the branch's collector, in cash, for these months (one or several
    at once), each at its own amount (``amounts_due``: a month behind at the category of then): one
    row per month, audited once. A month already paid is refused (the first payment stands), so a
    double tap records nothing twice; a member no longer on the roster pays the branch nothing."""
    check(actor, Permission.MANAGE_DUES, target_of(member))
    if not member.active:
        raise DuesError(DuesProblem.INACTIVE, member.full_name)
    wanted = sorted({month_of(m) for m in months})
    current = month_of(paid_on)
    if not 1 <= len(wanted) <= MAX_MONTHS_AT_ONCE:
        raise DuesError(DuesProblem.BAD_MONTHS, str(len(wanted)))
    if wanted[0] < add_months(current, -MONTHS_BACK) or wanted[-1] > add_months(current, MONTHS_AHEAD):
        raise DuesError(DuesProblem.BAD_MONTHS, str(len(wanted)))
    amount = amount_of(member, rates)
    if amount is None:
        problem = DuesProblem.NO_BASE if member.dues_category in BASED else DuesProblem.NO_CATEGORY
        raise DuesError(problem, member.full_name)
    if amount == 0:
        raise DuesError(DuesProblem.NOTHING_DUE, member.full_name)
    amounts = [due or 0 for due in await amounts_due(session, member, wanted, rates, tz)]
    taken = (await paid_months(session, [member.id or 0]))[member.id or 0]
    clash = [m for m in wanted if m in taken]
    if clash:
        raise DuesError(DuesProblem.ALREADY_PAID, ", ".join(f"{m.month:02d}/{m.year}" for m in clash))
    moment = now or utcnow()
    payments = [
        DuesPayment(
            member_id=member.id or 0,
            branch_id=member.branch_id,
            month=month,
            amount=due,
            paid_on=paid_on,
            recorded_by_member_id=actor.id,
            recorded_at=moment,
        )
        for month, due in zip(wanted, amounts, strict=True)
    ]
    # Two taps at the same moment both pass the check above: the unique month decides, and the
    # second is told it was recorded already (was: a 500), its savepoint undone.
    try:
        async with session.begin_nested():
            session.add_all(payments)
            await session.flush()
    except IntegrityError:
        raise DuesError(DuesProblem.ALREADY_PAID, ", ".join(f"{m.month:02d}/{m.year}" for m in wanted)) from None
    audit.record(
        session,
        AuditAction.DUES_PAID,
        actor_id=actor.id,
        subject_type="member",
        subject_id=member.id,
        after={
            "months": ", ".join(f"{m.month:02d}/{m.year}" for m in wanted),
            "amount": f"{sum(amounts):,}".replace(",", "."),
            "paid_on": f"{paid_on.day:02d}/{paid_on.month:02d}/{paid_on.year}",
        },
        at=moment,
    )
    await session.flush()
    return payments


async def first_recorded_month(session: AsyncSession, branch_id: int) -> date | None:
    """The month of the first cash the branch recorded: its book starts there. Was the earliest month
    paid for, so one member's payment of an old month made every member owe every month since."""
    first = (
        await session.exec(select(func.min(DuesPayment.paid_on)).where(DuesPayment.branch_id == branch_id))
    ).first()
    return month_of(first) if first is not None else None


def months_owed(
    member: Member,
    book_start: date | None,
    first: date,
    last: date,
    since: date | None = None,
    until: date | None = None,
    history: roster_history.MemberHistory | None = None,
) -> list[date]:
    """The rule of what a member owes, in one place: the months from ``first`` to ``last`` counted
    from the branch's first recorded month, the month of their admission and the month they came on
    the roster (``since``), up to the month before the one they left it in (``until``, the day they
    left: by default the day they left the roster); none whose category owes nothing (the category
    of that month when the ``history`` is given, else the present one)."""
    if book_start is None or (history is None and member.dues_category is DuesCategory.EXEMPT):
        return []
    first = max(month_of(first), book_start)
    if member.date_admitted is not None:
        first = max(first, month_of(member.date_admitted))
    if since is not None:  # not owed before they were on the branch's roster
        first = max(first, month_of(since))
    if until is None and not member.active:
        until = member.deactivated_on
    if until is not None:
        last = min(last, add_months(month_of(until), -1))
    months = months_between(first, last) if first <= last else []
    if history is not None:
        months = [m for m in months if history.dues_on(month_end(m))[0] is not DuesCategory.EXEMPT]
    return months


def owed_months(
    member: Member,
    book_start: date | None,
    paid: Iterable[date],
    today: date,
    since: date | None = None,
    until: date | None = None,
    history: roster_history.MemberHistory | None = None,
) -> list[date]:
    """The months of the last twelve before this one that the member owed (``months_owed``) and has
    not paid."""
    current = month_of(today)
    window = add_months(current, -WINDOW_MONTHS), add_months(current, -1)
    owed = months_owed(member, book_start, *window, since, until, history)
    taken = set(paid)
    return [m for m in owed if m not in taken]


async def unpaid_months(session: AsyncSession, member: Member, today: date, tz: tzinfo = UTC) -> list[date]:
    """The member's months unpaid in the last twelve before this one (``owed_months``)."""
    start = await first_recorded_month(session, member.branch_id)
    paid = (await paid_months(session, [member.id or 0]))[member.id or 0]
    history = (await roster_history.histories(session, member_ids=[member.id or 0], tz=tz))[member.id or 0]
    return owed_months(member, start, paid, today, history.since, history=history)


async def check_arrears_first(session: AsyncSession, member: Member, first: date, today: date, tz: tzinfo) -> None:
    """Months are paid in order, the months owed first, as the chat's buttons and the desk's form
    offer them; a payment starting after a month still owed (a hand-made button or form) is refused
    (outside tester: twelve months ahead were recorded over three owed)."""
    skipped = [m for m in await unpaid_months(session, member, today, tz) if m < month_of(first)]
    if skipped:
        raise DuesError(DuesProblem.ARREARS_FIRST, ", ".join(f"{m.month:02d}/{m.year}" for m in skipped))


@dataclass(frozen=True)
class DuesLine:
    """One member on the branch's collection list of a month."""

    member: Member
    # The month's amount: as paid, or by the category in effect then; None when it is not recorded.
    amount: int | None
    paid: DuesPayment | None  # the payment for the month, if any, wherever it was collected
    unpaid: list[date]  # months owed in the last twelve before the current one
    owes: bool = True  # the month is one the member owes this branch (``months_owed``)


@dataclass(frozen=True)
class Collection:
    """A branch's collection list for one month and the sums it adds up to."""

    month: date
    lines: list[DuesLine]
    collected: int  # cash recorded in the month (paid_on in the month), for any months it covers
    kept: int
    passed_up: int
    book_start: date | None = None  # the branch's first month in the book (``first_recorded_month``)

    @property
    def before_the_book(self) -> bool:
        """A month nothing is known of: no cash recorded yet, or the month comes before the book."""
        return self.book_start is None or self.month < self.book_start

    @property
    def paid_count(self) -> int:
        return sum(1 for line in self.lines if line.paid is not None)

    @property
    def expected(self) -> int:
        """What the month's dues owed to the branch come to (``months_owed``, ``due_in``)."""
        return sum(line.amount or 0 for line in self.lines if line.owes)

    @property
    def paid_for_month(self) -> int:
        """What the members on the list paid for the month, wherever it was collected: the sum of the
        payments ``paid_count`` counts (was: of months owed only, so a month before the book said
        "1/10 paid (0 đ)")."""
        return sum(line.paid.amount for line in self.lines if line.paid is not None)


async def collected_between(session: AsyncSession, branch_ids: Sequence[int], first: date, last: date) -> int:
    """Cash recorded by the branches between two days (both included), whatever months it covers."""
    total = (
        await session.exec(
            select(func.coalesce(func.sum(DuesPayment.amount), 0))
            .where(col(DuesPayment.branch_id).in_(list(branch_ids)))
            .where(col(DuesPayment.paid_on) >= first, col(DuesPayment.paid_on) <= last)
        )
    ).one()
    return int(total)


async def collection(
    session: AsyncSession,
    actor: Actor,
    branch_id: int,
    month: date,
    today: date,
    rates: DuesRates = DEFAULT_RATES,
    tz: tzinfo = UTC,
) -> Collection:
    """The branch's collection list of ``month``: every member on the roster then (as it stood:
    ``roster_history``), their amount, whether the month is paid and their months unpaid while on
    it; the cash collected in the month and its split."""
    check(actor, Permission.VIEW_DUES, Target(branch_id))
    month = month_of(month)
    found = await roster_history.histories(session, branch_id=branch_id, tz=tz)
    stays = sorted(
        (stay for h in found.values() if (stay := h.stay(branch_id, month_end(month))) is not None),
        key=lambda stay: (name_key(stay.member.full_name), stay.member.id or 0),  # the registers' order
    )
    paid = await paid_months(session, [s.member.id or 0 for s in stays])
    start = await first_recorded_month(session, branch_id)
    lines = []
    for s in stays:
        taken = paid[s.member.id or 0]
        payment = taken.get(month)
        lines.append(
            DuesLine(
                s.member, payment.amount if payment is not None else due_in(found[s.member.id or 0], month, rates),
                payment, owed_months(s.member, start, taken, today, s.since, s.until, found[s.member.id or 0]),
                owes=bool(months_owed(s.member, start, month, month, s.since, s.until, found[s.member.id or 0])),
            )
        )  # fmt: skip
    collected = await collected_between(session, [branch_id], month, month_end(month))
    kept, passed = branch_share(collected, rates)
    return Collection(month, lines, collected, kept, passed, start)
