"""Polls from the server: ``chibo polls create|list|results``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cli.common import branch_id, run, settings_or_exit, typed_time
from bot.i18n import Catalogs
from handlers.polls import ballot_maker, result_header, result_rows
from handlers.polls import problem_text as poll_problem_text
from models.lookup import poll_by_id
from models.permissions import OPERATOR
from models.polls import PollError, PollProblem, change_draft, create_draft, fit_kind, publish
from models.reports import latest_polls
from models.roster_files import write_register
from models.tables import Poll, PollBase, PollKind, PollRule, PollVoters
from models.vietnamese import shorten

polls_app = typer.Typer(help="Polls and votes.", no_args_is_help=True)


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
    secret: Annotated[
        bool | None,
        typer.Option("--secret/--open", help="Secret or open ballot; default: secret for an election, else open"),
    ] = None,
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
    settings = settings_or_exit()
    if commune == bool(branch):
        typer.echo("chibo: give --branch CODE (one or more) or --commune", err=True)
        raise typer.Exit(2)
    when = typed_time(deadline, settings.tz)
    numerator, _sep, denominator = fraction.partition("/")
    if when is None or not (numerator.isdigit() and denominator.isdigit() and 0 < int(numerator) < int(denominator)):
        typer.echo("chibo: write --deadline like 28/11/2026 20:00 (ahead) and --fraction like 3/5", err=True)
        raise typer.Exit(2)
    changes = {
        "max_choices": choices, "voters": voters, "rule": rule, "rule_numerator": int(numerator),
        "rule_denominator": int(denominator), "rule_base": base, "show_running": running,
        "allow_change": not final, "announce_results": not quiet,
    } | ({"kind": kind} if kind is not None else {}) | ({"options": option} if option else {})  # fmt: skip
    # As the chat does: an election is secret unless asked open; the rest open unless asked secret.
    changes |= {"secret": secret} if secret is not None else {}
    # A motion or a choice takes one option a member: more is refused, not quietly made one.
    if fit_kind(Poll(question=question, options=option or []), changes)["max_choices"] != choices:
        typer.echo("chibo: --choices above 1 is for --kind election or consultation", err=True)
        raise typer.Exit(2)

    async def work(session: AsyncSession) -> tuple[int, int]:
        branch_ids = [await branch_id(session, code) for code in branch] if branch else None
        poll = await create_draft(session, OPERATOR, question, branch_ids, when)
        offered = option or poll.options
        if choices > len(offered):
            raise PollError(PollProblem.TOO_MANY_OPTIONS, str(len(offered)))
        await change_draft(session, OPERATOR, poll, **changes)
        count = await publish(session, OPERATOR, poll, ballot_maker(Catalogs(settings.locale), settings.tz))
        return poll.id or 0, count

    try:
        poll_id, count = run(settings, work, write=True)
    except LookupError as error:
        typer.echo(f"chibo: {error}", err=True)
        raise typer.Exit(1) from None
    except PollError as error:
        typer.echo(f"chibo: {poll_problem_text(Catalogs(settings.locale).translator(None), error)}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"poll #{poll_id} is open: {count} member(s) may vote until {when:%H:%M %d/%m/%Y}")


@polls_app.command("list")
def polls_list(limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
    """The latest polls, newest first."""
    settings = settings_or_exit()
    for poll in run(settings, lambda session: latest_polls(session, limit)):
        deadline = poll.deadline.astimezone(settings.tz) if poll.deadline else None
        until = f"{deadline:%d/%m/%Y %H:%M}" if deadline else "-"
        kind = "secret" if poll.secret else "open"
        typer.echo(f"#{poll.id:<5} {poll.status.value:<10} {kind:<7} until {until}  {shorten(poll.question, 60)}")


@polls_app.command("results")
def polls_results(
    poll_id: Annotated[int, typer.Argument(help="The poll number (chibo polls list)")],
    out: Annotated[Path, typer.Argument(help="Where to write the CSV")],
) -> None:
    """Counts, turnout and the decision as CSV; for an open vote also each voter's choice."""
    settings = settings_or_exit()
    translator = Catalogs(settings.locale).translator(None)

    async def work(session: AsyncSession) -> list[list[str | int]] | None:
        poll = await poll_by_id(session, poll_id)
        return None if poll is None else await result_rows(session, translator, poll)

    rows = run(settings, work)
    if rows is None:
        typer.echo(f"chibo: there is no poll #{poll_id}", err=True)
        raise typer.Exit(1)
    write_register(out, result_header(translator), rows)
    typer.echo(f"{len(rows)} row(s) written to {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(polls_app, name="polls")
