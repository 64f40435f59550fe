"""Importing the register from chat, and telling the secretary, in their language, what is wrong
with their file or with which row of it."""

from __future__ import annotations

from handlers.context import Context
from handlers.contract import REGISTER_FILES, Attachment, Reply, Translator
from handlers.members import home
from models.membership import check
from models.permissions import Permission, Scope, Target, scope_of
from models.roster import Column, Problem, RowProblem, import_members
from models.roster_files import (
    MAX_BYTES,
    MAX_FIELD_BYTES,
    MAX_ROWS,
    FileProblem,
    RegisterFileError,
    read_uploaded_register,
)
from models.tables import Branch, Member

# A chat message has room for this many problems; the rest are counted.
SHOWN_PROBLEMS = 30


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
        Problem.OTHER_BRANCH: _("this row is for another branch, or for a member of another branch"),
    }[problem.problem]
    where = _("line {line}").format(line=problem.line)
    if problem.column is not None:
        where += ", " + column_name(t, problem.column)
    shown = f" \u201c{problem.value}\u201d" if problem.value else ""
    return f"{where}:{shown} {reason}"


def file_problem_text(t: Translator, error: RegisterFileError) -> str:
    _ = t.gettext
    return {
        FileProblem.MISSING: _("{name} does not exist."),
        FileProblem.EMPTY: _("{name} is empty."),
        FileProblem.TOO_LARGE: _("{name} is {size} MB; the limit is {limit} MB."),
        FileProblem.WRONG_TYPE: _("{name}: only Excel (.xlsx) and CSV (.csv) files can be used."),
        FileProblem.BAD_XLSX: _("{name} is not a valid Excel (.xlsx) file."),
        FileProblem.NOT_UTF8: _("{name} is not UTF-8 text; save it from Excel as \u201cCSV UTF-8\u201d."),
        FileProblem.NO_ROWS: _("{name} has no rows."),
        FileProblem.NO_HEADER: _(
            "{name}: the first row must name the columns, with at least \u201cHọ và tên\u201d (full name)."
        ),
        FileProblem.TOO_MANY_ROWS: _("{name} has more than {rows} rows; send it in parts of at most {rows} rows."),
        FileProblem.FIELD_TOO_LARGE: _("{name} has a cell longer than {field} KB, which no register needs."),
        FileProblem.UNSAFE_ARCHIVE: _(
            "{name} unpacks to far more than its size, as an attack would; it was not read. Save the register "
            "again from Excel and send that."
        ),
        FileProblem.TOO_COMPLEX: _(
            "{name} is too complex to read here. Save it again with only the register's columns, or send it in parts."
        ),
        FileProblem.BAD_CSV: _("{name} is not a valid CSV file."),
    }[error.problem].format(
        name=error.name,
        size=max(1, error.size // (1024 * 1024)),
        limit=MAX_BYTES // (1024 * 1024),
        rows=f"{MAX_ROWS:,}".replace(",", "."),
        field=MAX_FIELD_BYTES // 1024,
    )


async def import_upload(ctx: Context, member: Member, attachment: Attachment) -> list[Reply]:
    """A register sent as a file: imported at once, all or nothing, within the sender's scope.
    Rows without a branch column go to the sender's own branch."""
    _ = ctx.gettext
    check(member, Permission.IMPORT_MEMBERS, Target(member.branch_id))
    try:
        rows = await read_uploaded_register(attachment.filename, attachment.content)
    except RegisterFileError as error:
        return [Reply(file_problem_text(ctx.translator, error))]
    branch = await ctx.session.get(Branch, member.branch_id)
    assert branch is not None
    allowed = None if scope_of(member) is Scope.COMMUNE else {member.branch_id}
    # With any problem, import_members writes nothing at all: all or nothing.
    report = await import_members(
        ctx.session, rows, default_branch_code=branch.code, allowed_branches=allowed, actor_id=member.id
    )
    if report.problems:
        # Rows and problems counted apart: two mistakes in one row are one row to correct.
        rows_wrong = len({p.line for p in report.problems})
        heading = (
            _("{name}: {count} row(s) have problems, so nothing was saved. Correct them and send it again:")
            if rows_wrong == len(report.problems)
            else _(
                "{name}: {rows} row(s) with {count} problem(s), so nothing was saved. Correct them and send it again:"
            )
        )
        lines = [heading.format(rows=rows_wrong, count=len(report.problems), name=attachment.filename), ""]
        lines += ["• " + problem_text(ctx.translator, p) for p in report.problems[:SHOWN_PROBLEMS]]
        if len(report.problems) > SHOWN_PROBLEMS:
            lines.append(_("… and {count} more.").format(count=len(report.problems) - SHOWN_PROBLEMS))
        return [Reply("\n".join(lines), upload_label="📎 " + _("Choose the file"), upload_accept=REGISTER_FILES)]
    text = _("{name}: {created} new, {updated} updated, {unchanged} unchanged. Saved.").format(
        name=attachment.filename, created=report.created, updated=report.updated, unchanged=report.unchanged
    )
    return [home(ctx, member, text)]
