"""The branch register from the server: ``chibo invite``, ``chibo audit`` and ``chibo members …``
(invite sheets, import and export, and keeping each record right)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import invite_sheet
from bot.cli.common import branch_id, one_member, run, settings_or_exit
from bot.i18n import Catalogs
from bot.invite_sheet import SheetEntry, SheetError, save_sheet
from bot.settings import Settings
from handlers.records import problem_text
from handlers.register import file_problem_text
from handlers.register import problem_text as row_problem_text
from models.invites import IssuedInvite, issue_invite, issue_unlinked_invites
from models.membership import (
    InvalidChange,
    add_member,
    deactivate,
    edit_member,
    move_member,
    parse_day,
    promote,
    reactivate,
    revoke_invites,
    set_exempt,
)
from models.permissions import OPERATOR
from models.reports import member_history
from models.roster import EXPORT_HEADER, ImportReport, export_rows, import_members
from models.roster_files import RegisterFileError, read_register, write_register
from models.tables import AuditEvent, DeactivationReason, Member, Role, local_today

MemberChange = Callable[[AsyncSession, Member | None], Awaitable[str]]

members_app = typer.Typer(help="The branch register.", no_args_is_help=True)


def invite(
    member: Annotated[str, typer.Argument(help="Member id, party card number or full name")],
) -> None:
    """Issue a new one-time invite for a member (their earlier codes stop working)."""
    settings = settings_or_exit()

    async def work(session: AsyncSession) -> IssuedInvite:
        found, branch = await one_member(session, member)
        if not found.active:
            raise LookupError(f"{found.full_name} is no longer an active member")
        code = await issue_invite(session, found.id)  # type: ignore[arg-type]
        return IssuedInvite(found.id, found.full_name, branch.name, found.role, code)  # type: ignore[arg-type]

    try:
        issued = run(settings, work, write=True)
    except LookupError as error:
        typer.echo(f"chibo: {error.args[0]}", err=True)
        raise typer.Exit(1) from None
    print_invites([issued], settings)


def print_invites(printed: list[IssuedInvite], settings: Settings) -> None:
    if not printed:
        typer.echo("Every member is already linked; no invite codes to print.")
        return
    username = None
    if settings.telegram_enabled and settings.telegram_token:
        from bot.channels.telegram import bot_username  # aiogram takes seconds to import: only when needed

        username = asyncio.run(bot_username(settings.telegram_token, str(settings.telegram_api_base)))
    width = max(len(p.full_name) for p in printed)
    typer.echo(f"\nInvite codes (each works once). Web chat: http://{settings.host}:{settings.port}/")
    branch = None
    for item in printed:
        if item.branch_name != branch:
            branch = item.branch_name
            typer.echo(f"\n  {branch}")
        link = (
            f"  https://t.me/{username}?start={item.code}" if username else f"  {web_invite_link(settings, item.code)}"
        )
        typer.echo(f"    {item.code}  {item.full_name.ljust(width)}  {item.role.value:<16}{link}".rstrip())
    typer.echo("")


def web_invite_link(settings: Settings, code: str) -> str:
    """The web chat with the code filled in: what the QR code on the printed sheet opens."""
    base = str(settings.public_url) if settings.public_url else f"http://{settings.host}:{settings.port}"
    return invite_sheet.web_invite_link(base, code)


def audit(
    member: Annotated[str, typer.Option("--member", help="Member id, party card number or full name")],
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """The audit log for one member: what they did and what was done to their record, newest first."""
    settings = settings_or_exit()

    async def work(session: AsyncSession) -> list[AuditEvent]:
        found, _branch = await one_member(session, member)
        return await member_history(session, found.id or 0, limit)

    try:
        events = run(settings, work)
    except LookupError as error:
        typer.echo(f"chibo: {error.args[0]}", err=True)
        raise typer.Exit(1) from None
    tz = settings.tz
    for event in events:
        when = event.at.astimezone(tz).strftime("%d/%m/%Y %H:%M")
        actor = f"by #{event.actor_member_id}" if event.actor_member_id else "by the server"
        change = json.dumps({"before": event.before, "after": event.after}, ensure_ascii=False)
        typer.echo(f"{when}  {event.action:<16} {event.subject_type} #{event.subject_id}  {actor}  {change}")
    if not events:
        typer.echo("No audit events for this member.")


@members_app.command("invites")
def members_invites(
    branch: Annotated[str, typer.Option(help="Branch code")],
    out: Annotated[Path | None, typer.Option(help="Also write a printable QR sheet: .pdf or .png")] = None,
    days: Annotated[int, typer.Option(min=1, max=365, help="Days the codes stay valid")] = 30,
) -> None:
    """A fresh invite for every member of the branch not yet linked (earlier codes stop working)."""
    settings = settings_or_exit()

    async def work(session: AsyncSession) -> list[IssuedInvite]:
        return await issue_unlinked_invites(
            session, branch_id=await branch_id(session, branch), validity=timedelta(days=days)
        )

    try:
        issued = run(settings, work, write=True)
    except LookupError as error:
        typer.echo(f"chibo: {error.args[0]}", err=True)
        raise typer.Exit(1) from None
    print_invites(issued, settings)
    if out is not None and issued:
        entries = [SheetEntry(i.full_name, i.code, web_invite_link(settings, i.code)) for i in issued]
        try:
            written = save_sheet(out, issued[0].branch_name, entries)
        except (SheetError, OSError) as error:
            typer.echo(f"chibo: {error}", err=True)
            raise typer.Exit(1) from None
        typer.echo("Printable sheet: " + ", ".join(str(p) for p in written))


@members_app.command("import")
def members_import(
    file: Annotated[Path, typer.Argument(help="The register, .xlsx or .csv, first row = column names")],
    branch: Annotated[str | None, typer.Option(help="Branch code for rows without a branch column")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and count, write nothing")] = False,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Import the good rows anyway")] = False,
) -> None:
    """Import or update members from the register; re-importing the same file changes nothing."""
    settings = settings_or_exit()
    translator = Catalogs(settings.locale).translator(None)
    try:
        rows = read_register(file)
    except RegisterFileError as error:
        typer.echo(f"chibo: {file_problem_text(translator, error)}", err=True)
        raise typer.Exit(1) from None

    async def work(session: AsyncSession) -> ImportReport:
        with typer.progressbar(length=len(rows), label="Reading rows", file=sys.stderr) as progress:
            report = await import_members(
                session,
                rows,
                default_branch_code=branch,
                dry_run=dry_run,
                skip_invalid=skip_invalid,
                on_row=lambda: progress.update(1),
            )
        if not report.written:
            await session.rollback()
        return report

    try:
        report = run(settings, work, write=True)
    except LookupError:
        typer.echo(f"chibo: there is no branch with the code {branch!r}", err=True)
        raise typer.Exit(1) from None
    for problem in report.problems:
        typer.echo(row_problem_text(translator, problem), err=True)
    verb = "would be" if dry_run else "were"
    summary = f"{report.created} new, {report.updated} updated, {report.unchanged} unchanged"
    if report.problems and not skip_invalid and not dry_run:
        typer.echo(
            f"chibo: {len(report.problems)} invalid row(s); nothing was written (fix them, or use --skip-invalid)",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(
        f"{summary} member(s) {verb} imported" + (f"; {len(report.problems)} row(s) skipped" if report.problems else "")
    )


@members_app.command("export")
def members_export(
    file: Annotated[Path, typer.Argument(help="Where to write: .xlsx or .csv")],
    branch: Annotated[str | None, typer.Option(help="Only this branch (its code)")] = None,
) -> None:
    """Write the active roster in the register's columns; importing it back changes nothing."""
    settings = settings_or_exit()
    rows = run(settings, lambda session: export_rows(session, branch))
    try:
        write_register(file, EXPORT_HEADER, rows)
    except RegisterFileError as error:
        typer.echo(f"chibo: {file_problem_text(Catalogs(settings.locale).translator(None), error)}", err=True)
        raise typer.Exit(1) from None
    except OSError as error:
        typer.echo(f"chibo: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{len(rows)} member(s) written to {file}")


# --- keeping the roster right ------------------------------------------------------------------


def _day_option(text: str | None, today: date) -> date | None:
    if text is None:
        return None
    try:
        return parse_day(text, today=today)
    except InvalidChange as error:
        raise typer.BadParameter(f"{text!r} is not a past date (dd/mm/yyyy or yyyy-mm-dd)") from error


def _run_change(settings: Settings, wanted: str | None, change: MemberChange) -> str:
    """Run one roster change as the server operator, in one transaction; exits 1 on a refusal."""
    translator = Catalogs(settings.locale).translator(None)

    async def work(session: AsyncSession) -> str:
        if wanted is None:
            return await change(session, None)
        found, _branch = await one_member(session, wanted)
        return await change(session, found)

    try:
        return run(settings, work, write=True)
    except LookupError as error:
        typer.echo(f"chibo: {error.args[0]}", err=True)
    except InvalidChange as error:
        typer.echo(f"chibo: {problem_text(translator, error)}", err=True)
    raise typer.Exit(1)


_NAME = typer.Option("--name", help="Full name")
_BIRTH = typer.Option("--birth", help="Birth date, dd/mm/yyyy")
_PHONE = typer.Option("--phone", help="Phone number, e.g. 0912 345 678")
_CARD = typer.Option("--card", help="Party card number")
_ROLE = typer.Option("--role", help="secretary, deputy_secretary, committee_member or member")
_ADMITTED = typer.Option("--admitted", help="Date joined the Party, dd/mm/yyyy")


@members_app.command("add")
def members_add(
    branch: Annotated[str, typer.Option(help="Branch code")],
    name: Annotated[str, _NAME],
    birth: Annotated[str | None, _BIRTH] = None,
    phone: Annotated[str | None, _PHONE] = None,
    card: Annotated[str | None, _CARD] = None,
    role: Annotated[Role, _ROLE] = Role.MEMBER,
    admitted: Annotated[str | None, _ADMITTED] = None,
    official_on: Annotated[
        str | None, typer.Option("--official-on", help="Date made official; without it, probationary")
    ] = None,
) -> None:
    """Add a member to a branch (audited)."""
    settings = settings_or_exit()
    today = local_today(settings.tz)
    values = {
        "full_name": name, "birth_date": _day_option(birth, today), "phone": phone, "card_number": card,
        "role": role, "date_admitted": _day_option(admitted, today), "date_official": _day_option(official_on, today),
    }  # fmt: skip

    async def change(session: AsyncSession, _member: Member | None) -> str:
        member = await add_member(
            session, OPERATOR, await branch_id(session, branch), {k: v for k, v in values.items() if v is not None}
        )
        return f"added #{member.id} {member.full_name} ({member.status.value}) to {branch}"

    typer.echo(_run_change(settings, None, change))


@members_app.command("edit")
def members_edit(
    member: Annotated[str, typer.Argument(help="Member id, party card number or full name")],
    name: Annotated[str | None, _NAME] = None,
    birth: Annotated[str | None, _BIRTH] = None,
    phone: Annotated[str | None, _PHONE] = None,
    card: Annotated[str | None, _CARD] = None,
    role: Annotated[Role | None, _ROLE] = None,
    admitted: Annotated[str | None, _ADMITTED] = None,
    notes: Annotated[str | None, typer.Option(help="Notes")] = None,
    branch: Annotated[str | None, typer.Option("--branch", help="Move to this branch (code)")] = None,
    official_on: Annotated[
        str | None, typer.Option("--official-on", help="Promote from probationary to official on this date")
    ] = None,
    exempt: Annotated[
        bool | None, typer.Option("--exempt/--not-exempt", help="Exempt from regular activities, or not")
    ] = None,
) -> None:
    """Correct a member's record, move them, promote them or set their exemption (each audited)."""
    settings = settings_or_exit()
    today = local_today(settings.tz)
    fields = {
        "full_name": name, "birth_date": _day_option(birth, today), "phone": phone, "card_number": card,
        "role": role, "date_admitted": _day_option(admitted, today), "notes": notes,
    }  # fmt: skip
    fields = {key: value for key, value in fields.items() if value is not None}
    official = _day_option(official_on, today)
    if not fields and branch is None and official is None and exempt is None:
        typer.echo("chibo: nothing to change; see chibo members edit --help", err=True)
        raise typer.Exit(2)

    async def change(session: AsyncSession, found: Member | None) -> str:
        assert found is not None
        done = []
        if fields:
            changed = await edit_member(session, OPERATOR, found, fields)
            done.append(", ".join(changed) or "no field changed")
        if official is not None:
            await promote(session, OPERATOR, found, official, today=today)
            done.append(f"official from {official:%d/%m/%Y}")
        if exempt is not None:
            await set_exempt(session, OPERATOR, found, exempt)
            done.append("exempt" if exempt else "not exempt")
        if branch is not None:
            await move_member(session, OPERATOR, found, await branch_id(session, branch))
            done.append(f"moved to {branch}")
        return f"#{found.id} {found.full_name}: " + "; ".join(done)

    typer.echo(_run_change(settings, member, change))


@members_app.command("deactivate")
def members_deactivate(
    member: Annotated[str, typer.Argument(help="Member id, party card number or full name")],
    reason: Annotated[DeactivationReason, typer.Option(help="Why they leave")],
    on: Annotated[str | None, typer.Option(help="Since when, dd/mm/yyyy (default today)")] = None,
) -> None:
    """A member leaves: kept for history, out of every audience and vote; their invite codes stop."""
    settings = settings_or_exit()
    today = local_today(settings.tz)
    day = _day_option(on, today) or today

    async def change(session: AsyncSession, found: Member | None) -> str:
        assert found is not None
        await deactivate(session, OPERATOR, found, reason, day)
        return f"#{found.id} {found.full_name} is no longer active ({reason.value})"

    typer.echo(_run_change(settings, member, change))


@members_app.command("reactivate")
def members_reactivate(
    member: Annotated[str, typer.Argument(help="Member id, party card number or full name")],
) -> None:
    """Undo a deactivation."""
    settings = settings_or_exit()

    async def change(session: AsyncSession, found: Member | None) -> str:
        assert found is not None
        await reactivate(session, OPERATOR, found)
        return f"#{found.id} {found.full_name} is active again"

    typer.echo(_run_change(settings, member, change))


@members_app.command("revoke-invite")
def members_revoke_invite(
    member: Annotated[str, typer.Argument(help="Member id, party card number or full name")],
) -> None:
    """Stop the member's unused invite code (a lost or stolen paper)."""
    settings = settings_or_exit()

    async def change(session: AsyncSession, found: Member | None) -> str:
        assert found is not None
        count = await revoke_invites(session, OPERATOR, found)
        return f"#{found.id} {found.full_name}: {count} unused invite code(s) revoked"

    typer.echo(_run_change(settings, member, change))


def register(app: typer.Typer) -> None:
    app.add_typer(members_app, name="members")
    app.command()(invite)
    app.command()(audit)
