"""The operator's commands for keeping chibo running for years: ``chibo backup``, ``chibo restore``,
``chibo db copy`` and ``chibo db upgrade --check`` (the logic is in ``bot/dbops.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from bot.dbops import OperationError, backup, copy_database, pending_migrations, restore
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings

Result = TypeVar("Result")


def settings_or_exit() -> Settings:
    """The settings, logging configured; a bad one ends the command naming it (exit 2)."""
    try:
        settings = load_settings()
    except SettingsError as error:
        typer.echo(f"chibo: bad setting: {error}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_format, settings.log_level)
    return settings


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


def copy_command(
    to: Annotated[str, typer.Option("--to", help="the database to copy into, e.g. postgresql+asyncpg://user:pass@host/db")],
) -> None:
    """Copy every table of the configured database into another, empty one (SQLite to PostgreSQL)."""
    settings = settings_or_exit()
    copied = _run(copy_database(settings.database_url, to))
    for name, count in copied.items():
        typer.echo(f"{name}: {count}")
    typer.echo(f"chibo: copied {sum(copied.values()):,} rows; point CHIBO_DATABASE_URL at the new database")


def check_upgrade(settings: Settings) -> int:
    """Print what ``chibo db upgrade`` would run; the exit status is 1 when something would."""
    pending = _run(pending_migrations(settings.database_url))
    if not pending.revisions:
        typer.echo(f"chibo: the database is up to date (revision {pending.head}); nothing would run")
        return 0
    typer.echo(f"chibo: the database is at {pending.current or 'no schema yet'}; `chibo db upgrade` would run:")
    for revision, message in pending.revisions:
        typer.echo(f"  {revision}  {message}")
    return 1


def register(app: typer.Typer, db_app: typer.Typer) -> None:
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
    db_app.command("copy")(copy_command)
