"""Telling the secretary, in their language, what is wrong with which row of their register."""

from __future__ import annotations

from handlers.contract import Translator
from models.roster import Column, Problem, RowProblem


def column_name(t: Translator, column: Column) -> str:
    _ = t.gettext
    return {
        Column.FULL_NAME: _("Full name"),
        Column.BIRTH_DATE: _("Birth date"),
        Column.GENDER: _("Gender"),
        Column.PHONE: _("Phone number"),
        Column.BRANCH: _("Branch"),
        Column.ROLE: _("Role"),
        Column.STATUS: _("Status"),
        Column.DATE_ADMITTED: _("Date joined the Party"),
        Column.DATE_OFFICIAL: _("Date made official"),
        Column.CARD_NUMBER: _("Party card number"),
        Column.EXEMPT: _("Exempt"),
        Column.NOTES: _("Notes"),
    }[column]


def problem_text(t: Translator, problem: RowProblem) -> str:
    _ = t.gettext
    reason = {
        Problem.MISSING_NAME: _("the full name is empty"),
        Problem.BAD_DATE: _("not a date; write it as dd/mm/yyyy"),
        Problem.BAD_PHONE: _("not a phone number"),
        Problem.BAD_GENDER: _("write Nam or Nữ"),
        Problem.BAD_ROLE: _("write Bí thư, Phó Bí thư, Chi ủy viên or Đảng viên"),
        Problem.BAD_STATUS: _("write Chính thức or Dự bị"),
        Problem.BAD_FLAG: _("write x for yes, or leave it empty"),
        Problem.UNKNOWN_BRANCH: _("no branch has this name or code"),
        Problem.NO_BRANCH: _("no branch given; add the column or use --branch"),
        Problem.FORMULA: _("looks like a spreadsheet formula, which is never imported"),
        Problem.TOO_LONG: _("too long"),
        Problem.DUPLICATE_CARD: _("this party card number is already on an earlier row"),
        Problem.DUPLICATE_PERSON: _("the same name and birth date are already on an earlier row"),
        Problem.OFFICIAL_BEFORE_ADMITTED: _("the date made official is before the date joined"),
    }[problem.problem]
    where = _("line {line}").format(line=problem.line)
    if problem.column is not None:
        where += ", " + column_name(t, problem.column)
    shown = f" \u201c{problem.value}\u201d" if problem.value else ""
    return f"{where}:{shown} {reason}"
