"""The ``chibo`` command line: one module per command group, assembled here. Every command that
reads or writes the database opens it through ``bot.cli.common`` and asks ``models/`` for the data."""

from __future__ import annotations

import sys

import typer

from bot.cli import db, meetings, members, notices, polls, server

app = typer.Typer(help="chibo: the party branch assistant.", no_args_is_help=True, add_completion=False)
# The order here is the order `chibo --help` lists the commands in.
for group in (db, server, members, notices, polls, meetings):
    group.register(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
