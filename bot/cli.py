"""The ``chibo`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from sqlalchemy import ColumnElement, func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import cli_ops
from bot.demo import seed_demo
from bot.i18n import Catalogs
from bot.invite_sheet import SheetEntry, SheetError, save_sheet
from bot.migrate import upgrade
from bot.settings import Settings
from handlers.contract import Translator
from handlers.notices import notice_body_maker
from handlers.polls import ballot_maker, result_header, result_rows
from handlers.polls import problem_text as poll_problem_text
from handlers.records import problem_text
from handlers.register import file_problem_text
from handlers.register import problem_text as row_problem_text
from models.db import create_engine, session_factory
from models.invites import IssuedInvite, issue_invite, issue_unlinked_invites
from models.meetings import MeetingError, set_quorum
from models.meetings import Summary as MeetingSummary
from models.meetings import summary as meeting_summary
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
from models.notices import (
    RECEIPT_HEADER,
    Audience,
    AudienceFilter,
    NoticeError,
    create_draft,
    receipt_rows,
    schedule,
    send_now,
)
from models.permissions import OPERATOR
from models.polls import PollError, PollProblem, change_draft, publish
from models.polls import create_draft as create_poll_draft
from models.roster import EXPORT_HEADER, ImportReport, export_rows, import_members
from models.roster_files import RegisterFileError, Rows, read_register, write_register
from models.tables import (
    AuditEvent,
    Branch,
    DeactivationReason,
    Meeting,
    Member,
    Notice,
    OutboxMessage,
    OutboxStatus,
    Poll,
    PollBase,
    PollKind,
    PollRule,
    PollVoters,
    Role,
)
from models.typed_time import read_time

MemberChange = Callable[[AsyncSession, Member | None], Awaitable[str]]

app = typer.Typer(help="chibo: the party branch assistant.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
cli_ops.register(app, db_app)  # backup, restore, db copy
members_app = typer.Typer(help="The branch register.", no_args_is_help=True)
app.add_typer(members_app, name="members")


_settings = cli_ops.settings_or_exit


def _typed_time(text: str, timezone: tzinfo) -> datetime | None:
    """A typed time still ahead, in ``timezone``; None when it is not one, has passed, or could be
    morning or evening (write 07:00 or 19:00 here: there is nobody to ask back)."""
    result = read_time(text, datetime.now(timezone))
    return result if isinstance(result, datetime) else None


@contextlib.asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the configured database for one command; the connections close after it."""
    engine = create_engine(settings.database_url)
    try:
        yield session_factory(engine, ballot_secret=settings.ballot_secret)
    finally:
        await engine.dispose()


def _serve(settings: Settings) -> None:
    from webhooks.app import create_app  # the web stack loads only for the commands that serve

    # proxy_headers off: the app reads X-Forwarded-For itself, from CHIBO_TRUSTED_PROXIES only
    # (uvicorn's own default trusts 127.0.0.1, so any local process could pose as any address).
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, proxy_headers=False)


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
def db_upgrade(
    check: Annotated[bool, typer.Option("--check", help="only say which migrations would run")] = False,
) -> None:
    """Create or update the database schema."""
    settings = _settings()
    if check:
        raise typer.Exit(cli_ops.check_upgrade(settings))
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
        typer.echo(f"chibo: {file_problem_text(translator, error)}", err=True)
        raise typer.Exit(1) from None
    try:
        report = asyncio.run(_import(settings, rows, branch, dry_run=dry_run, skip_invalid=skip_invalid))
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
    settings = _settings()
    rows = asyncio.run(_export(settings, branch))
    try:
        write_register(file, EXPORT_HEADER, rows)
    except RegisterFileError as error:
        typer.echo(f"chibo: {file_problem_text(Catalogs(settings.locale).translator(None), error)}", err=True)
        raise typer.Exit(1) from None
    except OSError as error:
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


# --- keeping the roster right ------------------------------------------------------------------


def _day_option(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return parse_day(text)
    except InvalidChange as error:
        raise typer.BadParameter(f"{text!r} is not a past date (dd/mm/yyyy or yyyy-mm-dd)") from error


def _run_change(settings: Settings, wanted: str | None, change: MemberChange) -> str:
    """Run one roster change as the server operator, in one transaction; exits 1 on a refusal."""
    translator = Catalogs(settings.locale).translator(None)

    async def run() -> str:
        async with _database(settings) as sessions, sessions() as session, session.begin():
            if wanted is None:
                return await change(session, None)
            found = await _find_member(session, wanted)
            if isinstance(found, str):
                raise LookupError(found)
            return await change(session, found[0])

    try:
        return asyncio.run(run())
    except LookupError as error:
        typer.echo(f"chibo: {error.args[0]}", err=True)
    except InvalidChange as error:
        typer.echo(f"chibo: {problem_text(translator, error)}", err=True)
    raise typer.Exit(1)


async def _branch_id(session: AsyncSession, code: str) -> int:
    branch = (await session.exec(select(Branch).where(Branch.code == code))).first()
    if branch is None or branch.id is None:
        raise LookupError(f"there is no branch with the code {code!r}")
    return branch.id


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
    settings = _settings()
    values = {
        "full_name": name, "birth_date": _day_option(birth), "phone": phone, "card_number": card, "role": role,
        "date_admitted": _day_option(admitted), "date_official": _day_option(official_on),
    }  # fmt: skip

    async def change(session: AsyncSession, _member: Member | None) -> str:
        member = await add_member(
            session, OPERATOR, await _branch_id(session, branch), {k: v for k, v in values.items() if v is not None}
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
    settings = _settings()
    fields = {
        "full_name": name, "birth_date": _day_option(birth), "phone": phone, "card_number": card, "role": role,
        "date_admitted": _day_option(admitted), "notes": notes,
    }  # fmt: skip
    fields = {key: value for key, value in fields.items() if value is not None}
    official = _day_option(official_on)
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
            await promote(session, OPERATOR, found, official)
            done.append(f"official from {official:%d/%m/%Y}")
        if exempt is not None:
            await set_exempt(session, OPERATOR, found, exempt)
            done.append("exempt" if exempt else "not exempt")
        if branch is not None:
            await move_member(session, OPERATOR, found, await _branch_id(session, branch))
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
    settings = _settings()
    day = _day_option(on)

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
    settings = _settings()

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
    settings = _settings()

    async def change(session: AsyncSession, found: Member | None) -> str:
        assert found is not None
        count = await revoke_invites(session, OPERATOR, found)
        return f"#{found.id} {found.full_name}: {count} unused invite code(s) revoked"

    typer.echo(_run_change(settings, member, change))


# --- notices ------------------------------------------------------------------------------------

notices_app = typer.Typer(help="Notices (announcements).", no_args_is_help=True)
app.add_typer(notices_app, name="notices")
# Waiting for delivery gives up when nothing moved for this long: no `chibo serve` is running.
STALL_SECONDS = 30.0


@app.command()
def announce(
    file: Annotated[Path, typer.Option("--file", help="The notice text, UTF-8")],
    branch: Annotated[list[str] | None, typer.Option("--branch", help="Branch code; repeat for several")] = None,
    commune: Annotated[bool, typer.Option("--commune", help="Every branch")] = False,
    only: Annotated[AudienceFilter, typer.Option(help="all, officials or committee")] = AudienceFilter.ALL,
    at: Annotated[str | None, typer.Option(help='Send later, e.g. "19:00" or "25/11/2026 19:00"')] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Show delivery progress")] = True,
) -> None:
    """Send a notice to branches (or the whole commune), now or at a set time (audited)."""
    settings = _settings()
    if commune == bool(branch):
        typer.echo("chibo: give --branch CODE (one or more) or --commune", err=True)
        raise typer.Exit(2)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        typer.echo(f"chibo: cannot read {file}: {error}", err=True)
        raise typer.Exit(1) from None
    when = None
    if at is not None:
        when = _typed_time(at, settings.tz)
        if when is None:
            typer.echo(f"chibo: {at!r} is not a time ahead; write it like 19:00 or 25/11/2026 07:00", err=True)
            raise typer.Exit(2)
    try:
        notice_id, count = asyncio.run(_announce(settings, text, branch or [], only, when))
    except LookupError as error:
        typer.echo(f"chibo: {error}", err=True)
        raise typer.Exit(1) from None
    except NoticeError as error:
        typer.echo(f"chibo: the notice was not sent: {error.problem.value.replace('_', ' ')}", err=True)
        raise typer.Exit(1) from None
    if when is not None:
        typer.echo(f"notice #{notice_id} scheduled for {when:%H:%M %d/%m/%Y} ({settings.timezone})")
        return
    typer.echo(f"notice #{notice_id} queued for {count} member(s)")
    if wait:
        asyncio.run(_follow_delivery(settings, notice_id))


async def _announce(
    settings: Settings, text: str, codes: list[str], only: AudienceFilter, when: datetime | None
) -> tuple[int, int]:
    async with _database(settings) as sessions, sessions() as session, session.begin():
        branch_ids = None
        if codes:
            branch_ids = tuple([await _branch_id(session, code) for code in codes])
        notice = await create_draft(session, OPERATOR, text, Audience(branch_ids, only))
        assert notice.id is not None
        if when is not None:
            await schedule(session, OPERATOR, notice, when)
            return notice.id, 0
        count = await send_now(session, OPERATOR, notice, notice_body_maker(Catalogs(settings.locale)))
        return notice.id, count


async def _follow_delivery(settings: Settings, notice_id: int) -> None:
    """A progress bar over the notice's outbox rows, drained by `chibo serve`."""
    async with _database(settings) as sessions:

        async def counts() -> tuple[int, int]:
            async with sessions() as session:
                rows = (
                    await session.exec(select(OutboxMessage.status).where(OutboxMessage.notice_id == notice_id))
                ).all()
            return len(rows), sum(1 for status in rows if status is not OutboxStatus.PENDING)

        total, done = await counts()
        if total == 0:
            typer.echo("nobody in the audience has joined chibo on Telegram or Zalo; see the notice's tracking")
            return
        with typer.progressbar(length=total, label="Delivering", file=sys.stderr) as bar:
            bar.update(done)
            last_change = time.monotonic()
            while done < total:
                await asyncio.sleep(0.5)
                _total, now_done = await counts()
                if now_done > done:
                    bar.update(now_done - done)
                    done, last_change = now_done, time.monotonic()
                elif time.monotonic() - last_change > STALL_SECONDS:
                    typer.echo(
                        "\nno delivery is happening: is `chibo serve` running? The notice stays queued.", err=True
                    )
                    return


@notices_app.command("list")
def notices_list(limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
    """The latest notices, newest first."""
    settings = _settings()
    for notice in asyncio.run(_latest_notices(settings, limit)):
        when = notice.sent_at or notice.scheduled_at or notice.created_at
        first_line = notice.text.splitlines()[0][:60]
        typer.echo(
            f"#{notice.id:<5} {notice.status.value:<10} {when.astimezone(settings.tz):%d/%m/%Y %H:%M}  {first_line}"
        )


async def _latest_notices(settings: Settings, limit: int) -> list[Notice]:
    async with _database(settings) as sessions, sessions() as session:
        return list((await session.exec(select(Notice).order_by(col(Notice.id).desc()).limit(limit))).all())


@notices_app.command("receipts")
def notices_receipts(
    notice_id: Annotated[int, typer.Argument(help="The notice number (chibo notices list)")],
    out: Annotated[Path, typer.Argument(help="Where to write the CSV")],
) -> None:
    """Who received and read a notice, one row per member and channel, as CSV."""
    settings = _settings()
    rows = asyncio.run(_receipts(settings, notice_id))
    if rows is None:
        typer.echo(f"chibo: there is no notice #{notice_id}", err=True)
        raise typer.Exit(1)
    write_register(out, RECEIPT_HEADER, rows)
    typer.echo(f"{len(rows)} row(s) written to {out}")


async def _receipts(settings: Settings, notice_id: int) -> list[list[str]] | None:
    async with _database(settings) as sessions, sessions() as session:
        notice = await session.get(Notice, notice_id)
        return None if notice is None else await receipt_rows(session, notice, settings.tz)


# --- polls --------------------------------------------------------------------------------------

polls_app = typer.Typer(help="Polls and votes.", no_args_is_help=True)
app.add_typer(polls_app, name="polls")


@polls_app.command("create")
def polls_create(
    question: Annotated[str, typer.Option(help="What is voted on")],
    deadline: Annotated[str, typer.Option(help='Until when, e.g. "20:00" or "28/11/2026 20:00"')],
    branch: Annotated[list[str] | None, typer.Option("--branch", help="Branch code; repeat for several")] = None,
    commune: Annotated[bool, typer.Option("--commune", help="Every branch")] = False,
    option: Annotated[
        list[str] | None, typer.Option("--option", help="An option; default Tán thành / Không tán thành / Ý kiến khác")
    ] = None,
    kind: Annotated[
        PollKind | None,
        typer.Option(help="motion, choice, election or consultation; default: a motion, or a choice with --option"),
    ] = None,
    choices: Annotated[int, typer.Option(min=1, max=10, help="Options each member may choose")] = 1,
    secret: Annotated[bool, typer.Option("--secret", help="Secret ballot (final, untraceable)")] = False,
    voters: Annotated[PollVoters, typer.Option(help="officials, all or committee")] = PollVoters.OFFICIALS,
    rule: Annotated[PollRule, typer.Option(help="How the result is decided")] = PollRule.MAJORITY_OF_ELIGIBLE,
    fraction: Annotated[str, typer.Option(help="For --rule custom: more than this share, e.g. 3/5")] = "1/2",
    base: Annotated[
        PollBase, typer.Option(help="For --rule custom: of the eligible, or of the votes cast")
    ] = PollBase.ELIGIBLE,
    running: Annotated[bool, typer.Option("--running", help="Members see running totals")] = False,
    final: Annotated[bool, typer.Option("--final", help="An open vote cannot be changed once cast")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="The result goes to the secretary only")] = False,
) -> None:
    """Open a poll and send its ballots (audited)."""
    settings = _settings()
    if commune == bool(branch):
        typer.echo("chibo: give --branch CODE (one or more) or --commune", err=True)
        raise typer.Exit(2)
    when = _typed_time(deadline, settings.tz)
    numerator, _sep, denominator = fraction.partition("/")
    if when is None or not (numerator.isdigit() and denominator.isdigit() and 0 < int(numerator) < int(denominator)):
        typer.echo("chibo: write --deadline like 28/11/2026 20:00 (ahead) and --fraction like 3/5", err=True)
        raise typer.Exit(2)
    changes = {
        "max_choices": choices, "secret": secret, "voters": voters, "rule": rule, "rule_numerator": int(numerator),
        "rule_denominator": int(denominator), "rule_base": base, "show_running": running,
        "allow_change": not final, "announce_results": not quiet,
    } | ({"kind": kind} if kind is not None else {})  # fmt: skip
    try:
        poll_id, count = asyncio.run(_create_poll(settings, question, when, branch or [], option or [], changes))
    except LookupError as error:
        typer.echo(f"chibo: {error}", err=True)
        raise typer.Exit(1) from None
    except PollError as error:
        typer.echo(f"chibo: {poll_problem_text(Catalogs(settings.locale).translator(None), error)}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"poll #{poll_id} is open: {count} member(s) may vote until {when:%H:%M %d/%m/%Y}")


async def _create_poll(
    settings: Settings, question: str, when: datetime, codes: list[str], options: list[str], changes: dict[str, object]
) -> tuple[int, int]:
    async with _database(settings) as sessions, sessions() as session, session.begin():
        branch_ids = [await _branch_id(session, code) for code in codes] if codes else None
        poll = await create_poll_draft(session, OPERATOR, question, branch_ids, when)
        if options:
            changes["options"] = options
        if int(str(changes["max_choices"])) > len(options or poll.options):
            raise PollError(PollProblem.TOO_MANY_OPTIONS, str(len(options or poll.options)))
        await change_draft(session, OPERATOR, poll, **changes)
        count = await publish(session, OPERATOR, poll, ballot_maker(Catalogs(settings.locale), settings.tz))
        return poll.id or 0, count


@polls_app.command("list")
def polls_list(limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
    """The latest polls, newest first."""
    settings = _settings()
    for poll in asyncio.run(_latest_polls(settings, limit)):
        deadline = poll.deadline.astimezone(settings.tz) if poll.deadline else None
        until = f"{deadline:%d/%m/%Y %H:%M}" if deadline else "-"
        kind = "secret" if poll.secret else "open"
        typer.echo(f"#{poll.id:<5} {poll.status.value:<10} {kind:<7} until {until}  {poll.question[:60]}")


async def _latest_polls(settings: Settings, limit: int) -> list[Poll]:
    async with _database(settings) as sessions, sessions() as session:
        return list((await session.exec(select(Poll).order_by(col(Poll.id).desc()).limit(limit))).all())


@polls_app.command("results")
def polls_results(
    poll_id: Annotated[int, typer.Argument(help="The poll number (chibo polls list)")],
    out: Annotated[Path, typer.Argument(help="Where to write the CSV")],
) -> None:
    """Counts, turnout and the decision as CSV; for an open vote also each voter's choice."""
    settings = _settings()
    translator = Catalogs(settings.locale).translator(None)
    rows = asyncio.run(_poll_results(settings, poll_id, translator))
    if rows is None:
        typer.echo(f"chibo: there is no poll #{poll_id}", err=True)
        raise typer.Exit(1)
    write_register(out, result_header(translator), rows)
    typer.echo(f"{len(rows)} row(s) written to {out}")


async def _poll_results(settings: Settings, poll_id: int, translator: Translator) -> list[list[str]] | None:
    async with _database(settings) as sessions, sessions() as session:
        poll = await session.get(Poll, poll_id)
        return None if poll is None else await result_rows(session, translator, poll)


meetings_app = typer.Typer(help="Meetings and attendance.", no_args_is_help=True)
app.add_typer(meetings_app, name="meetings")


@meetings_app.command("list")
def meetings_list(limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
    """The latest meetings with what members answered and, once held, who was present."""
    settings = _settings()
    for meeting, counts in asyncio.run(_latest_meetings(settings, limit)):
        starts = meeting.starts_at.astimezone(settings.tz)
        typer.echo(
            f"#{meeting.id:<5} {meeting.status.value:<9} {starts:%d/%m/%Y %H:%M}  {meeting.title[:50]}  "
            f"invited {counts.invited}, attending {counts.attending}, excused {counts.excused}, "
            f"present {counts.present}/{counts.must_attend} ({'valid' if counts.valid else 'not valid'})"
        )


async def _latest_meetings(settings: Settings, limit: int) -> list[tuple[Meeting, MeetingSummary]]:
    async with _database(settings) as sessions, sessions() as session:
        listed = (await session.exec(select(Meeting).order_by(col(Meeting.starts_at).desc()).limit(limit))).all()
        return [(meeting, await meeting_summary(session, meeting)) for meeting in listed]


@meetings_app.command("quorum")
def meetings_quorum(
    branch: Annotated[str, typer.Argument(help="Branch code, e.g. TAY")],
    rule: Annotated[str, typer.Argument(help="At least this fraction of those who must attend, e.g. 2/3")],
) -> None:
    """Set when a branch's meetings are valid (default: at least 2/3 of the members who must attend)."""
    numerator, _, denominator = rule.partition("/")
    if not (numerator.isdigit() and denominator.isdigit()):
        typer.echo("chibo: the rule is a fraction such as 2/3", err=True)
        raise typer.Exit(1)
    try:
        asyncio.run(_set_quorum(_settings(), branch, int(numerator), int(denominator)))
    except LookupError as error:
        typer.echo(f"chibo: {error}", err=True)
        raise typer.Exit(1) from None
    except MeetingError:
        typer.echo("chibo: the rule is a fraction between 0 and 1, such as 2/3 or 1/2", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{branch}: meetings called from now on are valid with at least {rule} of those who must attend")


async def _set_quorum(settings: Settings, code: str, numerator: int, denominator: int) -> None:
    async with _database(settings) as sessions, sessions() as session, session.begin():
        await set_quorum(session, OPERATOR, await _branch_id(session, code), numerator, denominator)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
