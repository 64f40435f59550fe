"""The ``chibo`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from sqlalchemy import ColumnElement, func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.demo import seed_demo
from bot.i18n import Catalogs
from bot.invite_sheet import SheetEntry, SheetError, save_sheet
from bot.logs import configure_logging
from bot.migrate import upgrade
from bot.roster_files import RegisterFileError, Rows, read_register, write_register
from bot.roster_report import problem_text
from bot.settings import Settings, SettingsError, load_settings
from models.db import create_engine, session_factory
from models.invites import IssuedInvite, issue_invite, issue_unlinked_invites
from models.roster import EXPORT_HEADER, ImportReport, export_rows, import_members
from models.tables import AuditEvent, Branch, Member

app = typer.Typer(help="chibo: the party branch assistant.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
members_app = typer.Typer(help="The branch register.", no_args_is_help=True)
app.add_typer(members_app, name="members")


def _settings() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as error:
        typer.echo(f"chibo: bad setting: {error}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_format, settings.log_level)
    return settings


@contextlib.asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the configured database for one command; the connections close after it."""
    engine = create_engine(settings.database_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


def _serve(settings: Settings) -> None:
    from webhooks.app import create_app  # the web stack loads only for the commands that serve

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)


@app.command()
def serve() -> None:
    """Apply migrations, then run the web service, the web chat and the enabled platforms."""
    _serve(_settings())


@app.command()
def demo() -> None:
    """Seed the demo commune (once), print an invite code per member, then serve."""
    settings = _settings()
    printed = asyncio.run(_seed_and_invite(settings))
    _print_invites(printed, settings)
    _serve(settings)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or update the database schema."""
    settings = _settings()
    asyncio.run(upgrade(settings.database_url))
    typer.echo("chibo: database is up to date")


@app.command()
def invite(
    member: Annotated[str, typer.Argument(help="Member id, party card number or full name")],
) -> None:
    """Issue a new one-time invite for a member (their earlier codes stop working)."""
    settings = _settings()
    result = asyncio.run(_invite(settings, member))
    if isinstance(result, str):
        typer.echo(f"chibo: {result}", err=True)
        raise typer.Exit(1)
    _print_invites([result], settings)


async def _seed_and_invite(settings: Settings) -> list[IssuedInvite]:
    await upgrade(settings.database_url)
    async with _database(settings) as sessions, sessions() as session, session.begin():
        await seed_demo(session)
        return await issue_unlinked_invites(session)


async def _invite(settings: Settings, wanted: str) -> IssuedInvite | str:
    async with _database(settings) as sessions, sessions() as session, session.begin():
        found = await _find_member(session, wanted)
        if isinstance(found, str):
            return found
        member, branch = found
        if not member.active:
            return f"{member.full_name} is no longer an active member"
        code = await issue_invite(session, member.id)  # type: ignore[arg-type]
        return IssuedInvite(member.id, member.full_name, branch.name, member.role, code)  # type: ignore[arg-type]


def _print_invites(printed: list[IssuedInvite], settings: Settings) -> None:
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


@app.command()
def audit(
    member: Annotated[str, typer.Option("--member", help="Member id, party card number or full name")],
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """The audit log for one member: what they did and what was done to their record, newest first."""
    settings = _settings()
    result = asyncio.run(_audit(settings, member, limit))
    if isinstance(result, str):
        typer.echo(f"chibo: {result}", err=True)
        raise typer.Exit(1)
    tz = settings.tz
    for event in result:
        when = event.at.astimezone(tz).strftime("%d/%m/%Y %H:%M")
        actor = f"by #{event.actor_member_id}" if event.actor_member_id else "by the server"
        change = json.dumps({"before": event.before, "after": event.after}, ensure_ascii=False)
        typer.echo(f"{when}  {event.action:<16} {event.subject_type} #{event.subject_id}  {actor}  {change}")
    if not result:
        typer.echo("No audit events for this member.")


async def _find_member(session: AsyncSession, wanted: str) -> tuple[Member, Branch] | str:
    query = select(Member, Branch).join(Branch, col(Branch.id) == Member.branch_id)
    conditions: list[ColumnElement[bool]] = [
        col(Member.card_number) == wanted,
        func.lower(Member.full_name) == wanted.lower(),
    ]
    if wanted.isdigit():
        conditions.append(col(Member.id) == int(wanted))
    matches = (await session.exec(query.where(or_(*conditions)))).all()
    if not matches:
        return f"no member matches {wanted!r}"
    if len(matches) > 1:
        names = ", ".join(f"#{m.id} {m.full_name} ({b.name})" for m, b in matches)
        return f"{wanted!r} matches several members: {names}; give the id"
    return matches[0]


async def _audit(settings: Settings, wanted: str, limit: int) -> list[AuditEvent] | str:
    async with _database(settings) as sessions, sessions() as session:
        found = await _find_member(session, wanted)
        if isinstance(found, str):
            return found
        member_id = found[0].id
        about = (col(AuditEvent.subject_type) == "member") & (col(AuditEvent.subject_id) == member_id)
        events = await session.exec(
            select(AuditEvent)
            .where(or_(col(AuditEvent.actor_member_id) == member_id, about))
            .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
            .limit(limit)
        )
        return list(events.all())


@members_app.command("invites")
def members_invites(
    branch: Annotated[str, typer.Option(help="Branch code")],
    out: Annotated[Path | None, typer.Option(help="Also write a printable QR sheet: .pdf or .png")] = None,
    days: Annotated[int, typer.Option(min=1, max=365, help="Days the codes stay valid")] = 30,
) -> None:
    """A fresh invite for every member of the branch not yet linked (earlier codes stop working)."""
    settings = _settings()
    try:
        issued = asyncio.run(_branch_invites(settings, branch, timedelta(days=days)))
    except LookupError:
        typer.echo(f"chibo: there is no branch with the code {branch!r}", err=True)
        raise typer.Exit(1) from None
    _print_invites(issued, settings)
    if out is not None and issued:
        entries = [SheetEntry(i.full_name, i.code, web_invite_link(settings, i.code)) for i in issued]
        try:
            written = save_sheet(out, issued[0].branch_name, entries)
        except (SheetError, OSError) as error:
            typer.echo(f"chibo: {error}", err=True)
            raise typer.Exit(1) from None
        typer.echo("Printable sheet: " + ", ".join(str(p) for p in written))


async def _branch_invites(settings: Settings, code: str, validity: timedelta) -> list[IssuedInvite]:
    async with _database(settings) as sessions, sessions() as session, session.begin():
        branch = (await session.exec(select(Branch).where(Branch.code == code))).first()
        if branch is None:
            raise LookupError(code)
        return await issue_unlinked_invites(session, branch_id=branch.id, validity=validity)


def web_invite_link(settings: Settings, code: str) -> str:
    """The web chat with the code filled in: what the QR code on the printed sheet opens."""
    base = str(settings.public_url).rstrip("/") if settings.public_url else f"http://{settings.host}:{settings.port}"
    return f"{base}/?invite={code}"


@members_app.command("import")
def members_import(
    file: Annotated[Path, typer.Argument(help="The register, .xlsx or .csv, first row = column names")],
    branch: Annotated[str | None, typer.Option(help="Branch code for rows without a branch column")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and count, write nothing")] = False,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Import the good rows anyway")] = False,
) -> None:
    """Import or update members from the register; re-importing the same file changes nothing."""
    settings = _settings()
    translator = Catalogs(settings.locale).translator(None)
    try:
        rows = read_register(file)
    except RegisterFileError as error:
        typer.echo(f"chibo: {error}", err=True)
        raise typer.Exit(1) from None
    try:
        report = asyncio.run(_import(settings, rows, branch, dry_run=dry_run, skip_invalid=skip_invalid))
    except LookupError:
        typer.echo(f"chibo: there is no branch with the code {branch!r}", err=True)
        raise typer.Exit(1) from None
    for problem in report.problems:
        typer.echo(problem_text(translator, problem), err=True)
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
    settings = _settings()
    rows = asyncio.run(_export(settings, branch))
    try:
        write_register(file, EXPORT_HEADER, rows)
    except (RegisterFileError, OSError) as error:
        typer.echo(f"chibo: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{len(rows)} member(s) written to {file}")


async def _export(settings: Settings, branch: str | None) -> list[list[str]]:
    async with _database(settings) as sessions, sessions() as session:
        return await export_rows(session, branch)


async def _import(
    settings: Settings, rows: Rows, branch: str | None, *, dry_run: bool, skip_invalid: bool
) -> ImportReport:
    async with _database(settings) as sessions:
        with typer.progressbar(length=len(rows), label="Reading rows", file=sys.stderr) as progress:
            async with sessions() as session, session.begin():
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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
