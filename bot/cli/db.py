"""The operator's commands for keeping chibo running for years: ``chibo db upgrade [--check]``,
``chibo db copy``, ``chibo backup`` and ``chibo restore`` (the logic is in ``bot/dbops.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.common import Result, settings_or_exit
from bot.dbops import OperationError, backup, copy_database, pending_migrations, restore
from bot.migrate import upgrade
from bot.settings import Settings

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def _run(work: Coroutine[Any, Any, Result]) -> Result:
    try:
        return asyncio.run(work)
    except OperationError as error:
        typer.echo(f"chibo: {error}", err=True)
        raise typer.Exit(1) from None


def backup_command(file: Annotated[Path, typer.Argument(help="where to write the backup")]) -> None:
    """Back the database up to FILE, while chibo serves (SQLite: online backup; PostgreSQL: pg_dump)."""
    settings = settings_or_exit()
    _run(backup(settings.database_url, file))
    typer.echo(f"chibo: backup written to {file} ({file.stat().st_size:,} bytes)")


def restore_command(file: Annotated[Path, typer.Argument(help="a file written by `chibo backup`")]) -> None:
    """Restore FILE into the configured database, which must be empty, then bring it up to date."""
    settings = settings_or_exit()
    _run(restore(settings.database_url, file))
    typer.echo(f"chibo: restored {file}; the database is up to date")


@db_app.command("copy")
def copy_command(
    to: Annotated[
        str, typer.Option("--to", help="the database to copy into, e.g. postgresql+asyncpg://user:pass@host/db")
    ],
) -> None:
    """Copy every table of the configured database into another, empty one (SQLite to PostgreSQL)."""
    settings = settings_or_exit()
    copied = _run(copy_database(settings.database_url, to))
    for name, count in copied.items():
        typer.echo(f"{name}: {count}")
    typer.echo(f"chibo: copied {sum(copied.values()):,} rows; point CHIBO_DATABASE_URL at the new database")


@db_app.command("upgrade")
def db_upgrade(
    check: Annotated[bool, typer.Option("--check", help="only say which migrations would run")] = False,
) -> None:
    """Create or update the database schema."""
    settings = settings_or_exit()
    if check:
        raise typer.Exit(_check_upgrade(settings))
    asyncio.run(upgrade(settings.database_url))
    typer.echo("chibo: database is up to date")


def _check_upgrade(settings: Settings) -> int:
    """Print what ``chibo db upgrade`` would run; the exit status is 1 when something would."""
    pending = _run(pending_migrations(settings.database_url))
    if not pending.revisions:
        typer.echo(f"chibo: the database is up to date (revision {pending.head}); nothing would run")
        return 0
    typer.echo(f"chibo: the database is at {pending.current or 'no schema yet'}; `chibo db upgrade` would run:")
    for revision, message in pending.revisions:
        typer.echo(f"  {revision}  {message}")
    return 1


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
