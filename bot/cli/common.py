"""What every command shares: the settings, the one place that opens the database, and turning
what the operator typed into a member, a branch or a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, tzinfo
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings
from models.db import create_engine, session_factory
from models.lookup import branch_by_code, members_matching
from models.tables import Branch, Member
from models.typed_time import read_time

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


def reach_database(settings: Settings) -> None:
    """Connect once before serving: a database that cannot be reached (down, a wrong host, port,
    name or password) ends the command with one line saying so, not pages of traceback."""
    engine = create_engine(settings.database_url, timeout=max(settings.db_timeout_seconds, 10.0))

    async def connect() -> None:
        try:
            async with engine.connect():
                pass
        finally:
            await engine.dispose()

    try:
        asyncio.run(connect())
    except Exception as error:
        reason = (str(getattr(error, "orig", None) or error).strip().splitlines() or [type(error).__name__])[0]
        where = engine.url.render_as_string(hide_password=True)
        typer.echo(f"chibo: cannot reach the database {where}: {reason}", err=True)
        raise typer.Exit(1) from None


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the configured database for one command; the connections close after it."""
    engine = create_engine(settings.database_url)
    try:
        yield session_factory(engine, ballot_secret=settings.ballot_secret)
    finally:
        await engine.dispose()


def run(settings: Settings, work: Callable[[AsyncSession], Awaitable[Result]], *, write: bool = False) -> Result:
    """``work`` in one session (one transaction when it writes, rolled back if it raises)."""

    async def in_session() -> Result:
        async with database(settings) as sessions, sessions() as session:
            if not write:
                return await work(session)
            async with session.begin():
                return await work(session)

    return asyncio.run(in_session())


async def one_member(session: AsyncSession, wanted: str) -> tuple[Member, Branch]:
    """The member ``wanted`` names; LookupError with the sentence to print when none or several do."""
    matches = await members_matching(session, wanted)
    if not matches:
        raise LookupError(f"no member matches {wanted!r}")
    if len(matches) > 1:
        names = ", ".join(f"#{m.id} {m.full_name} ({b.name})" for m, b in matches)
        raise LookupError(f"{wanted!r} matches several members: {names}; give the id")
    return matches[0]


async def branch_id(session: AsyncSession, code: str) -> int:
    branch = await branch_by_code(session, code)
    if branch is None or branch.id is None:
        raise LookupError(f"there is no branch with the code {code!r}")
    return branch.id


def typed_time(text: str, timezone: tzinfo) -> datetime | None:
    """A typed time still ahead, in ``timezone``; None when it is not one, has passed, or could be
    morning or evening (write 07:00 or 19:00 here: there is nobody to ask back)."""
    result = read_time(text, datetime.now(timezone))
    return result if isinstance(result, datetime) else None
