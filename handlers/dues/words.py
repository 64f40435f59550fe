"""How dues are said: the categories, sums of money and months, in the reader's language."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from handlers.context import Context
from handlers.contract import Translator
from models.dues import DuesError, DuesProblem, DuesRates
from models.roster import fold
from models.tables import DuesCategory


def money(t: Translator, amount: int | None) -> str:
    """ "52.000 đ" (Vietnamese groups thousands with dots), "52,000 VND"."""
    if amount is None:
        return "—"
    if t.locale == "vi":
        return f"{amount:,}".replace(",", ".") + " đ"
    return f"{amount:,} VND"


def file_slug(text: str) -> str:
    """A name for a file: "Chi bộ thôn Đông" -> "chi-bo-thon-dong" (ASCII, as every browser saves it)."""
    return re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")


def month_label(month: date) -> str:
    return f"{month.month:02d}/{month.year}"


def months_label(months: Iterable[date]) -> str:
    """ "01, 02, 05/2026; 01/2027": months grouped by year."""
    by_year: dict[int, list[date]] = {}
    for month in sorted(months):
        by_year.setdefault(month.year, []).append(month)
    return "; ".join(", ".join(f"{m.month:02d}" for m in ms) + f"/{year}" for year, ms in by_year.items())


def _percent(t: Translator, basis_points: int) -> str:
    text = f"{basis_points / 100:g}%"
    return text.replace(".", ",") if t.locale == "vi" else text


def category_name(ctx: Context, category: DuesCategory | None, rates: DuesRates | None = None) -> str:
    """The category with what it pays, as the secretary chooses it."""
    _ = ctx.gettext
    t, rates = ctx.translator, rates or ctx.dues_rates
    if category is None:
        return _("not recorded")
    return {
        DuesCategory.SALARY: _("Salary or allowance ({share} of it)").format(
            share=_percent(t, rates.salary_basis_points)
        ),
        DuesCategory.PENSION: _("Pension ({share} of it)").format(share=_percent(t, rates.pension_basis_points)),
        DuesCategory.OTHER: _("Other members (farmers, free workers): {amount} a month").format(
            amount=money(t, rates.other_vnd)
        ),
        DuesCategory.ELDERLY: _("Past working age, no salary or pension: {amount} a month").format(
            amount=money(t, rates.elderly_vnd)
        ),
        DuesCategory.STUDENT: _("Pupils and students: {amount} a month").format(amount=money(t, rates.student_vnd)),
        DuesCategory.EXEMPT: _("Exempted from dues by the Party committee (hardship)"),
    }[category]


def short_category(ctx: Context, category: DuesCategory | None) -> str:
    """The category in a word or two, for a button or a column."""
    _ = ctx.gettext
    if category is None:
        return _("not recorded")
    return {
        DuesCategory.SALARY: _("Salary"),
        DuesCategory.PENSION: _("Pension"),
        DuesCategory.OTHER: _("Other"),
        DuesCategory.ELDERLY: _("Past working age"),
        DuesCategory.STUDENT: _("Student"),
        DuesCategory.EXEMPT: _("Exempt from dues"),
    }[category]


def problem_text(ctx: Context, error: DuesError) -> str:
    _ = ctx.gettext
    return {
        DuesProblem.NO_CATEGORY: _(
            "The dues category of comrade {detail} is not recorded yet: please set it first (button Dues category)."
        ),
        DuesProblem.NO_BASE: _(
            "The salary or pension of comrade {detail} is not recorded yet: please set the dues category again "
            "and type it."
        ),
        DuesProblem.BAD_AMOUNT: _(
            "\u201c{detail}\u201d is not an amount of money. Please type it like 5.500.000 or 5,5 triệu."
        ),
        DuesProblem.BAD_MONTHS: _(
            "Dues are recorded for 1 to 12 months at a time, from three years back to a year ahead."
        ),
        DuesProblem.ALREADY_PAID: _("Already recorded as paid: {detail}. Nothing was recorded twice."),
        DuesProblem.NOTHING_DUE: _("Comrade {detail} is exempted from dues: there is nothing to record."),
        DuesProblem.INACTIVE: _("Comrade {detail} is no longer on the roster."),
        DuesProblem.ARREARS_FIRST: _("The months still owed come first: {detail}. Please record those first."),
    }[error.problem].format(detail=error.detail)
