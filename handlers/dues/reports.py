"""The books upward in chat: the menu, a report of a month or a quarter (a short summary, and the
Excel workbook a commune committee can forward), and who reaches a Party badge in a year."""

from __future__ import annotations

import base64
import io
from datetime import date
from typing import Any

from handlers.books.words import step_name
from handlers.context import Context
from handlers.contract import Button, Document, Reply
from handlers.dues.actions import Badges, BooksReport, BooksUpward, DuesBook
from handlers.dues.common import button, month_code, month_from, router, today
from handlers.dues.words import file_slug, money
from handlers.records.words import reason_name
from models import books_reports
from models.books import Step
from models.books_reports import Period, Report
from models.dues import add_months, month_of
from models.errors import NotFound
from models.membership import NotPermitted, check
from models.office_text import append_row, as_text
from models.permissions import Permission, Scope, Target, scope_of
from models.tables import Branch, Committee, DeactivationReason, Member

# The badge years shown in one message at most (the workbook has them all).
BADGES_SHOWN = 30


def _commune(actor: Member) -> bool:
    return scope_of(actor) is Scope.COMMUNE


@router.on(BooksUpward)
async def books_menu(ctx: Context, actor: Member, action: BooksUpward) -> list[Reply]:
    _ = ctx.gettext
    check(actor, Permission.VIEW_DUES, Target(actor.branch_id))
    last = add_months(month_of(today(ctx)), -1)
    whole = 0 if _commune(actor) else actor.branch_id
    text = _(
        "The books:\n"
        "• Party dues: the month's collection list, who has not paid, the sum to pass to the Party committee.\n"
        "• Reports upward of a month or a quarter: membership and its changes, meetings and attendance, dues, "
        "probation, warnings; as a summary here or an Excel file to forward.\n"
        "• Party badges: who reaches 30, 40, 45, 50… years of membership next year."
    )
    rows: tuple[tuple[Button, ...], ...] = (
        (button("💰 " + _("Party dues"), DuesBook(whole, 0)),),
        (
            button(
                "📊 " + _("Report of {month}").format(month=Period.month(last).label),
                BooksReport(whole, "m", month_code(last)),
            ),
            button(
                "📊 " + _("Report of {quarter}").format(quarter=period_name(ctx, Period.quarter_of(last))),
                BooksReport(whole, "q", month_code(last)),
            ),
        ),
        (button("🎖 " + _("Party badges"), Badges()),),
    )
    if _commune(actor):
        rows += (
            (
                button(
                    "📊 " + _("My branch, {month}").format(month=Period.month(last).label),
                    BooksReport(actor.branch_id, "m", month_code(last)),
                ),
            ),
        )
    return [Reply(text, buttons=rows)]


async def load_report(ctx: Context, actor: Member, action: BooksReport) -> tuple[str, Report, list[Report], Period]:
    """The report ``action`` names (its heading's name, the report, the commune's per-branch parts,
    the period), the permission table asked: the chat's and the desk's alike."""
    month = month_from(action.month, ctx)
    period = Period.quarter_of(month) if action.period == "q" else Period.month(month)
    if action.branch_id == 0:
        if not _commune(actor):
            raise NotPermitted(Permission.VIEW_DUES, Target(0))
        own = await ctx.session.get(Branch, actor.branch_id)
        committee = await ctx.session.get(Committee, own.committee_id) if own is not None else None
        name = committee.name if committee is not None else ctx.gettext("The whole commune")
        total, parts = await books_reports.commune_report(
            ctx.session, actor, period, ctx.timezone, today(ctx), ctx.dues_rates, name
        )
        return name, total, parts, period
    branch = await ctx.session.get(Branch, action.branch_id)
    if branch is None:
        raise NotFound(f"branch {action.branch_id}")
    report = await books_reports.branch_report(
        ctx.session, actor, branch, period, ctx.timezone, today(ctx), ctx.dues_rates
    )
    return branch.name, report, [], period


def period_name(ctx: Context, period: Period) -> str:
    """ "tháng 11/2026", "quý 4/2026": the period as a report names it."""
    if period.quarter:
        return ctx.gettext("quarter {number}/{year}").format(
            number=(period.first.month - 1) // 3 + 1, year=period.first.year
        )
    return ctx.gettext("month {month}").format(month=period.label)


def _percent(ctx: Context, value: float | None) -> str:
    """ "94,4%" in Vietnamese (a decimal comma), "94.4%" in English."""
    if value is None:
        return "—"
    text = f"{value:g}%"
    return text.replace(".", ",") if ctx.translator.locale == "vi" else text


def warnings_text(ctx: Context, report: Report) -> str:
    """Each warned member with what the two counts are, in words (was "Long (2+0)")."""
    return ", ".join(
        ctx.gettext("{name} ({missed} month(s) without attending, {unpaid} month(s) of dues unpaid)").format(
            name=name, missed=missed, unpaid=unpaid
        )
        for name, (missed, unpaid) in report.warnings.items()
    )


def as_of(ctx: Context, period: Period) -> str:
    """ "Figures as of 30/11/2026" while the period runs (the current month or quarter), so a
    printout is not taken for the period's final figures; nothing once it is over."""
    day = today(ctx)
    return ctx.gettext("Figures as of {day}").format(day=ctx.format_day(day)) if day <= period.last else ""


def report_filename(name: str, period: Period) -> str:
    """ "bao-cao-chi-bo-thon-dong-11-2026.xlsx": whose report and of which period, in ASCII."""
    return f"bao-cao-{file_slug(name)}-{period.label.replace('/', '-').lower()}.xlsx"


def _step(ctx: Context, step: Step | None) -> str:
    return ctx.gettext("introduced") if step is None else step_name(ctx.translator, step)


def _promoted(ctx: Context, report: Report, name: str) -> str:
    """A member made official, with the day of the meeting that voted it when it is recorded."""
    day = report.promoted_at.get(name)
    if day is None:
        return name
    return ctx.gettext("{name} (branch meeting of {day})").format(name=name, day=ctx.format_day(day))


def summary_lines(ctx: Context, report: Report) -> list[str]:
    """The report in a few lines for a phone."""
    _ = ctx.gettext
    t = ctx.translator
    left = books_reports.left_count(report)
    lines = [
        _("Members: {start} → {end} ({official} official, {probationary} probationary, {exempt} exempt)").format(
            start=report.members_start,
            end=report.members_end,
            official=report.official,
            probationary=report.probationary,
            exempt=report.exempt,
        ),
        _(
            "Admitted {admitted}, made official {official}, moved in {moved_in}, moved out {moved_out}, left {left}"
        ).format(
            admitted=len(report.admitted),
            official=len(report.made_official),
            moved_in=len(report.moved_in),
            moved_out=len(report.moved_out),
            left=left,
        ),
        _("Meetings held: {regular} regular, {thematic} thematic; attendance {rate}").format(
            regular=report.regular_meetings,
            thematic=report.thematic_meetings,
            rate=_percent(ctx, report.attendance_percent),
        ),
        _("Dues: {paid} paid of {expected} due; cash collected {collected}, to pass up {passed}").format(
            paid=money(t, report.dues_paid),
            expected=money(t, report.dues_expected),
            collected=money(t, report.dues_collected),
            passed=money(t, report.dues_passed_up),
        ),
    ]
    if report.added:
        lines.append(_("Added to the roster: {names}").format(names=", ".join(report.added)))
    if report.elsewhere:
        lines.append(_("Temporarily active elsewhere: {names}").format(names=", ".join(report.elsewhere)))
    if report.unpaid:
        lines.append(_("Members with dues unpaid: {count}").format(count=len(report.unpaid)))
    if report.probation_overdue:
        lines.append(
            _("Probation over, not yet made official: {names}").format(names=", ".join(report.probation_overdue))
        )
    if report.candidates:
        lines.append(_("Admission candidates followed: {count}").format(count=len(report.candidates)))
    if report.warnings:
        lines.append(
            "⚠️ "
            + _("Warnings (months missed or unpaid in the last 12): {names}").format(names=warnings_text(ctx, report))
        )
    return lines


@router.on(BooksReport)
async def books_report(ctx: Context, actor: Member, action: BooksReport) -> list[Reply]:
    _ = ctx.gettext
    name, report, parts, period = await load_report(ctx, actor, action)
    if action.excel:
        content = workbook(ctx, name, report, parts, period)
        filename = report_filename(name, period)
        return [
            Reply(
                _("The report of {period}, {name}, as an Excel file:").format(
                    period=period_name(ctx, period), name=name
                ),
                document=Document(0, filename, inline=base64.b64encode(content).decode()),
            )
        ]
    heading = "📊 " + _("Report of {period}: {name}").format(period=period_name(ctx, period), name=name)
    lines = [heading, *filter(None, [as_of(ctx, period)]), "", *summary_lines(ctx, report)]
    for part in parts:
        lines += ["", "— " + part.name, *summary_lines(ctx, part)[:1]]
    month = month_from(action.month, ctx)
    step = 3 if action.period == "q" else 1
    earlier, later = add_months(month, -step), add_months(month, step)
    # Each arrow says where it goes: the period before or after, as the heading names periods.
    navigation = [
        button(
            "◀ " + period_name(ctx, Period.quarter_of(earlier) if action.period == "q" else Period.month(earlier)),
            BooksReport(action.branch_id, action.period, month_code(earlier)),
        )
    ]
    if later <= month_of(today(ctx)):
        navigation.append(
            button(
                period_name(ctx, Period.quarter_of(later) if action.period == "q" else Period.month(later)) + " ▶",
                BooksReport(action.branch_id, action.period, month_code(later)),
            )
        )
    buttons = (
        (button("📥 " + _("Excel file"), BooksReport(action.branch_id, action.period, action.month, True)),),
        tuple(navigation),
        (button("💰 " + _("Dues and reports"), BooksUpward()),),
    )
    return [Reply("\n".join(lines)[:3900], buttons=buttons)]


def report_rows(ctx: Context, report: Report) -> list[tuple[str, Any, str]]:
    """The report's lines as the commune committee reads them: (item, number, names or note)."""
    _ = ctx.gettext
    rows: list[tuple[str, Any, str]] = [
        (_("Members at the start of the period"), report.members_start, ""),
        (_("Members at the end of the period"), report.members_end, ""),
        (_("of whom official"), report.official, ""),
        (_("of whom probationary"), report.probationary, ""),
        (_("exempt from regular activities"), report.exempt, ""),
        (_("temporarily active elsewhere"), len(report.elsewhere), ", ".join(report.elsewhere)),
        (_("Admitted"), len(report.admitted), ", ".join(report.admitted)),
        (_("Added to the roster (not admitted or moved in)"), len(report.added), ", ".join(report.added)),
        (
            _("Made official"),
            len(report.made_official),
            ", ".join(_promoted(ctx, report, name) for name in report.made_official),
        ),
        (_("Moved in"), len(report.moved_in), ", ".join(report.moved_in)),
        (_("Moved out"), len(report.moved_out), ", ".join(report.moved_out)),
    ]
    # Every reason has its row, 0 when nobody left for it, so each period's form has the same rows;
    # a transfer out is counted in "moved out".
    for reason in DeactivationReason:
        if reason is not DeactivationReason.TRANSFERRED:
            names = report.left.get(reason, [])
            rows.append(
                (_("Left the roster: {reason}").format(reason=reason_name(ctx, reason)), len(names), ", ".join(names))
            )
    rows += [
        (_("Regular meetings held"), report.regular_meetings, ""),
        (_("Thematic meetings held"), report.thematic_meetings, ""),
        (
            _("Attendance (present of those who had to attend)"),
            f"{report.present}/{report.must_attend}",
            _percent(ctx, report.attendance_percent),
        ),
        (_("Dues due for the period (VND)"), report.dues_expected, ""),
        (_("Dues paid for the period (VND)"), report.dues_paid, ""),
        (
            _("Cash collected in the period (VND)"),
            report.dues_collected,
            _(
                "Handed in to this branch in the period, for any months; it differs from the dues paid for the "
                "period by months paid ahead or behind and by members who moved."
            ),
        ),
        (_("Kept by the branch (VND)"), report.dues_kept, ""),
        (_("To pass to the Party committee (VND)"), report.dues_passed_up, ""),
        (_("Members with dues unpaid"), len(report.unpaid), ", ".join(f"{n} ({c})" for n, c in report.unpaid.items())),
        (
            _("Probation over, not yet made official"),
            len(report.probation_overdue),
            ", ".join(report.probation_overdue),
        ),
        (
            _("Admission candidates followed"),
            len(report.candidates),
            ", ".join(f"{name} ({_step(ctx, step)})" for name, step in report.candidates.items()),
        ),
        (
            _("Warnings: months missed or unpaid in the last 12"),
            len(report.warnings),
            warnings_text(ctx, report),
        ),
    ]
    return rows


def branch_columns(ctx: Context, report: Report, parts: list[Report]) -> list[tuple[str, list[Any], Any]]:
    """The commune's report with a column per branch: (item, each branch's number, the total). Rows
    are matched by item, as a branch lists only the reasons for leaving its own members had (was:
    matched by position, so a branch without a departure showed the next row's number), 0 where
    the item is none of theirs."""
    per_branch = [{item: number for item, number, _note in report_rows(ctx, part)} for part in parts]
    return [
        (item, [numbers.get(item, 0) for numbers in per_branch], number)
        for item, number, _note in report_rows(ctx, report)
    ]


def workbook(ctx: Context, name: str, report: Report, parts: list[Report], period: Period) -> bytes:
    """The report as an .xlsx workbook: a heading as on the commune's paper forms, one row per item
    (number, names); for the commune a second sheet with a column per branch."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    _ = ctx.gettext
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Report")
    bold = Font(bold=True)
    append_row(sheet, [_("COMMUNIST PARTY OF VIETNAM")])
    append_row(sheet, [name])
    append_row(sheet, [_("REPORT OF {period}").format(period=period_name(ctx, period)).upper()])
    dates = _("From {first} to {last}").format(first=ctx.format_day(period.first), last=ctx.format_day(period.last))
    append_row(sheet, [" · ".join(filter(None, (dates, as_of(ctx, period))))])
    append_row(sheet, [])
    append_row(sheet, ["#", _("Item"), _("Number"), _("Names, notes")])
    for cell in sheet[6]:
        cell.font = bold
    for row in sheet.iter_rows(min_row=1, max_row=3):
        row[0].font = bold
    attendance = _("Attendance (present of those who had to attend)")
    for index, (item, number, note) in enumerate(report_rows(ctx, report), start=1):
        if item == attendance and report.attendance_percent is not None:
            # A share Excel can sum and compare, shown as "94,4%" in the reader's settings.
            append_row(sheet, [index, item, number, report.attendance_percent / 100])
            sheet.cell(row=sheet.max_row, column=4).number_format = "0.0%"
            continue
        append_row(sheet, [index, item, number, note])
        if isinstance(number, int):  # sums of money with their thousands grouped; counts look the same
            sheet.cell(row=sheet.max_row, column=3).number_format = "#,##0"
    for column, width in zip("ABCD", (5, 48, 14, 60), strict=True):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=7):
        row[3].alignment = Alignment(wrap_text=True, vertical="top")
    if parts:
        branches = book.create_sheet(_("Branches"))
        append_row(branches, [_("Item"), *(part.name for part in parts), _("Total")])
        for cell in branches[1]:
            cell.font = bold
        for item, numbers, number in branch_columns(ctx, report, parts):
            append_row(branches, [item, *numbers, number])
            for cell in branches[branches.max_row][1:]:
                if isinstance(cell.value, int):
                    cell.number_format = "#,##0"
        branches.column_dimensions["A"].width = 48
    buffer = io.BytesIO()
    for each in book.worksheets:
        as_text(each)
    book.save(buffer)
    return buffer.getvalue()


def badges_year(ctx: Context) -> int:
    return today(ctx).year + 1


@router.on(Badges)
async def party_badges(ctx: Context, actor: Member, action: Badges) -> list[Reply]:
    """Who reaches a badge year of membership next year (Quy định 94-QĐ/TW), for the commune committee."""
    _ = ctx.gettext
    check(actor, Permission.VIEW_DUES, Target(actor.branch_id))
    year = badges_year(ctx)
    found = await books_reports.badges(ctx.session, actor, year)
    if action.excel:
        return [
            Reply(
                _("Party badges of {year}, as an Excel file:").format(year=year),
                document=Document(
                    0, f"huy-hieu-dang-{year}.xlsx", inline=base64.b64encode(badge_workbook(ctx, year, found)).decode()
                ),
            )
        ]
    lines = [
        "🎖 " + _("Party badges of {year} (Quy định 94-QĐ/TW): {count} comrade(s)").format(year=year, count=len(found)),
        "",
    ]
    lines += [
        _("{name} ({branch}): {years} years on {day}").format(
            name=line.member.full_name, branch=line.branch, years=line.years, day=ctx.format_day(line.on)
        )
        for line in found[:BADGES_SHOWN]
    ]
    if not found:
        lines.append(_("Nobody reaches 30, 40, 45, 50… years of membership that year."))
    buttons = (
        (button("📥 " + _("Excel file"), Badges(True)),),
        (button("💰 " + _("Dues and reports"), BooksUpward()),),
    )
    return [Reply("\n".join(lines), buttons=buttons)]


def badge_workbook(ctx: Context, year: int, found: list[books_reports.BadgeLine]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    _ = ctx.gettext
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Party badges")
    append_row(sheet, [_("PARTY BADGES OF {year}").format(year=year)])
    append_row(sheet, [_("Source: Quy định 94-QĐ/TW (2023)")])
    append_row(sheet, [])
    append_row(
        sheet,
        [
            "#",
            _("Full name"),
            _("Birth date"),
            _("Branch"),
            _("Date joined the Party"),
            _("Badge (years)"),
            _("Years of membership reached on"),
        ],
    )
    for cell in sheet[4]:
        cell.font = Font(bold=True)
    sheet["A1"].font = Font(bold=True)
    for index, line in enumerate(found, start=1):
        append_row(
            sheet,
            [
                index,
                line.member.full_name,
                _day(line.member.birth_date),
                line.branch,
                _day(line.member.date_admitted),
                line.years,
                _day(line.on),
            ],
        )
    for column, width in zip("ABCDEFG", (5, 28, 12, 32, 14, 10, 12), strict=True):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    for each in book.worksheets:
        as_text(each)
    book.save(buffer)
    return buffer.getvalue()


def _day(day: date | None) -> str:
    return "" if day is None else f"{day.day:02d}/{day.month:02d}/{day.year}"
