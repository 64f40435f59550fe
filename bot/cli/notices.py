"""Notices from the server: ``chibo announce`` and ``chibo notices list|receipts``."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cli.common import branch_id, database, run, settings_or_exit, typed_time
from bot.i18n import Catalogs
from bot.settings import Settings
from handlers.notices import notice_body_maker
from handlers.notices.tracking import receipt_table
from models.lookup import notice_by_id
from models.notice_tracking import notice_tracking
from models.notices import (
    Audience,
    AudienceFilter,
    NoticeError,
    create_draft,
    schedule,
    send_now,
)
from models.permissions import OPERATOR
from models.reports import delivery_progress, latest_notices
from models.roster_files import write_register
from models.vietnamese import shorten

notices_app = typer.Typer(help="Notices (announcements).", no_args_is_help=True)
# Waiting for delivery gives up when nothing moved for this long: no `chibo serve` is running.
STALL_SECONDS = 30.0


def announce(
    file: Annotated[Path, typer.Option("--file", help="The notice text, UTF-8")],
    branch: Annotated[list[str] | None, typer.Option("--branch", help="Branch code; repeat for several")] = None,
    commune: Annotated[bool, typer.Option("--commune", help="Every branch")] = False,
    only: Annotated[AudienceFilter, typer.Option(help="all, officials or committee")] = AudienceFilter.ALL,
    at: Annotated[str | None, typer.Option(help='Send later, e.g. "19:00" or "25/11/2026 19:00"')] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Show delivery progress")] = True,
) -> None:
    """Send a notice to branches (or the whole commune), now or at a set time (audited)."""
    settings = settings_or_exit()
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
        when = typed_time(at, settings.tz)
        if when is None:
            typer.echo(f"chibo: {at!r} is not a time ahead; write it like 19:00 or 25/11/2026 07:00", err=True)
            raise typer.Exit(2)

    async def work(session: AsyncSession) -> tuple[int, int]:
        branch_ids = tuple([await branch_id(session, code) for code in branch]) if branch else None
        notice = await create_draft(session, OPERATOR, text, Audience(branch_ids, only))
        assert notice.id is not None
        if when is not None:
            await schedule(session, OPERATOR, notice, when)
            return notice.id, 0
        return notice.id, await send_now(session, OPERATOR, notice, notice_body_maker(Catalogs(settings.locale)))

    try:
        notice_id, count = run(settings, work, write=True)
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


async def _follow_delivery(settings: Settings, notice_id: int) -> None:
    """A progress bar over the notice's outbox rows, drained by `chibo serve`."""
    async with database(settings) as sessions:

        async def counts() -> tuple[int, int]:
            async with sessions() as session:  # a fresh session each time, to see what `chibo serve` sent meanwhile
                return await delivery_progress(session, notice_id)

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
    settings = settings_or_exit()
    for notice in run(settings, lambda session: latest_notices(session, limit)):
        when = notice.sent_at or notice.scheduled_at or notice.created_at
        first_line = shorten(notice.text, 60)
        typer.echo(
            f"#{notice.id:<5} {notice.status.value:<10} {when.astimezone(settings.tz):%d/%m/%Y %H:%M}  {first_line}"
        )


@notices_app.command("receipts")
def notices_receipts(
    notice_id: Annotated[int, typer.Argument(help="The notice number (chibo notices list)")],
    out: Annotated[Path, typer.Argument(help="Where to write the CSV")],
) -> None:
    """Who received and read a notice, one row per member, as CSV: what the tracking screen says."""
    settings = settings_or_exit()
    translator = Catalogs(settings.locale).translator(None)

    async def work(session: AsyncSession) -> tuple[list[str], list[list[str]]] | None:
        notice = await notice_by_id(session, notice_id)
        if notice is None:
            return None
        return receipt_table(translator, await notice_tracking(session, notice), settings.tz)

    table = run(settings, work)
    if table is None:
        typer.echo(f"chibo: there is no notice #{notice_id}", err=True)
        raise typer.Exit(1)
    header, rows = table
    write_register(out, header, rows)
    typer.echo(f"{len(rows)} row(s) written to {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(notices_app, name="notices")
    app.command()(announce)
