"""Meetings from the server: ``chibo meetings list|quorum``."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cli.common import branch_id, run, settings_or_exit
from models.meetings import MeetingError, set_quorum
from models.permissions import OPERATOR
from models.reports import latest_meetings
from models.vietnamese import shorten

meetings_app = typer.Typer(help="Meetings and attendance.", no_args_is_help=True)


@meetings_app.command("list")
def meetings_list(limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
    """The latest meetings with what members answered and, once held, who was present."""
    settings = settings_or_exit()
    for meeting, counts in run(settings, lambda session: latest_meetings(session, limit)):
        starts = meeting.starts_at.astimezone(settings.tz)
        typer.echo(
            f"#{meeting.id:<5} {meeting.status.value:<9} {starts:%d/%m/%Y %H:%M}  {shorten(meeting.title, 50)}  "
            f"invited {counts.invited}, attending {counts.attending}, excused {counts.excused}, "
            f"present {counts.present}/{counts.must_attend} ({'valid' if counts.valid else 'not valid'})"
        )


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

    async def work(session: AsyncSession) -> None:
        await set_quorum(session, OPERATOR, await branch_id(session, branch), int(numerator), int(denominator))

    try:
        run(settings_or_exit(), work, write=True)
    except LookupError as error:
        typer.echo(f"chibo: {error}", err=True)
        raise typer.Exit(1) from None
    except MeetingError:
        typer.echo("chibo: the rule is a fraction between 0 and 1, such as 2/3 or 1/2", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{branch}: meetings called from now on are valid with at least {rule} of those who must attend")


def register(app: typer.Typer) -> None:
    app.add_typer(meetings_app, name="meetings")
