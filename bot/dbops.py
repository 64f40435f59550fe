"""Keeping a commune's data for years: backups that restore, a copy from SQLite to PostgreSQL, and
what an upgrade would run (``chibo backup``, ``chibo restore``, ``chibo db copy``, ``chibo db upgrade --check``).

A backup is a file of the database's own kind: on SQLite a copy made with SQLite's online backup
API (consistent while chibo serves), on PostgreSQL a ``pg_dump`` archive (custom format, one
snapshot). Either restores into an empty database; a SQLite backup restores into PostgreSQL too.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Table, column, func, inspect, select, text
from sqlalchemy import table as table_clause
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel

import models.tables  # noqa: F401  (registers every table on SQLModel.metadata)
from bot.migrate import alembic_config, upgrade
from models.db import create_engine

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
COPY_BATCH = 1000
ALEMBIC_TABLE = "alembic_version"


class OperationError(Exception):
    """Something the operator must fix first; the message says what, in one line."""


def _is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise OperationError(f"{url} is not a SQLite file")
    return Path(database)


def _tables() -> list[Table]:
    """chibo's tables, each after the tables its foreign keys point to."""
    return list(SQLModel.metadata.sorted_tables)


# --- what a migration would do -------------------------------------------------------------------


@dataclass
class Pending:
    current: str | None  # None: an empty database
    head: str
    revisions: list[tuple[str, str]]  # (revision, message), oldest first


def _current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext  # Alembic only for the commands that need it

    return MigrationContext.configure(connection).get_current_revision()


async def pending_migrations(url: str) -> Pending:
    """The migrations ``chibo db upgrade`` would run on ``url``, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(url))
    head = script.get_current_head()
    assert head is not None
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(_current_revision)
    finally:
        await engine.dispose()
    steps = list(script.iterate_revisions(head, current or "base"))
    steps.reverse()
    return Pending(current, head, [(step.revision, step.doc or "") for step in steps])


def previous_revision(url: str) -> str:
    """The revision just before the newest (what the release before this one ran on)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(url))
    head = script.get_revision("head")
    assert head is not None and isinstance(head.down_revision, str)
    return head.down_revision


# --- counting rows --------------------------------------------------------------------------------


def _count_rows(connection: Connection) -> dict[str, int]:
    present = set(inspect(connection).get_table_names())
    return {
        table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
        for table in _tables()
        if table.name in present
    }


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows per chibo table that exists in the database."""
    async with engine.connect() as connection:
        return await connection.run_sync(_count_rows)


async def _refuse_unless_empty(engine: AsyncEngine, what: str) -> None:
    filled = {name: count for name, count in (await row_counts(engine)).items() if count}
    if filled:
        names = ", ".join(f"{name} ({count})" for name, count in sorted(filled.items()))
        raise OperationError(f"{what} needs an empty database, and this one has rows: {names}")


# --- copying every table --------------------------------------------------------------------------


def _columns(connection: Connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    return {name: {c["name"] for c in inspector.get_columns(name)} for name in inspector.get_table_names()}


async def copy_rows(source: AsyncEngine, target: AsyncEngine) -> dict[str, int]:
    """Copy every row of chibo's tables from ``source`` into ``target``, tables in foreign-key order,
    in one transaction on the target; the columns copied are those both databases have (so rows can
    go into an older schema too). PostgreSQL's id sequences are set past the copied ids after.
    Returns the rows copied per table."""
    async with source.connect() as reader:
        source_columns = await reader.run_sync(_columns)
        async with target.begin() as writer:
            target_columns = await writer.run_sync(_columns)
            copied: dict[str, int] = {}
            for table in _tables():
                if table.name not in source_columns or table.name not in target_columns:
                    continue
                shared = [c for c in table.columns if c.name in source_columns[table.name] & target_columns[table.name]]
                order = list(table.primary_key.columns) or shared
                result = await reader.stream(select(*shared).order_by(*order))
                # Only the shared columns, without the models' defaults: an older schema lacks the
                # columns a default would fill in.
                into = table_clause(table.name, *(column(c.name, c.type) for c in shared))
                copied[table.name] = 0
                async for batch in result.partitions(COPY_BATCH):
                    rows = [dict(zip([c.name for c in shared], row, strict=True)) for row in batch]
                    await writer.execute(into.insert(), rows)
                    copied[table.name] += len(rows)
            if target.dialect.name == "postgresql":
                await _reset_sequences(writer, target_columns)
    return copied


async def _reset_sequences(writer: AsyncConnection, present: dict[str, set[str]]) -> None:
    """After rows were inserted with their ids, each serial's next value comes after the largest id."""
    for table in _tables():
        if table.name not in present or "id" not in table.columns or len(table.primary_key.columns) != 1:
            continue
        name = writer.dialect.identifier_preparer.quote(table.name)
        await writer.execute(
            text(
                f"SELECT setval(seq, coalesce((SELECT max(id) FROM {name}), 1), "
                f"(SELECT max(id) IS NOT NULL FROM {name})) "
                "FROM pg_get_serial_sequence(:name, 'id') AS seq WHERE seq IS NOT NULL"
            ),
            {"name": table.name},
        )


async def copy_database(source_url: str, target_url: str) -> dict[str, int]:
    """``chibo db copy --to``: the target is brought to the newest schema, must hold no rows, and gets
    every row of the source (which must be at the newest schema: run ``chibo db upgrade`` first)."""
    pending = await pending_migrations(source_url)
    if pending.revisions:
        raise OperationError("the source database is not at the newest schema: run `chibo db upgrade` on it first")
    await upgrade(target_url)
    source, target = create_engine(source_url), create_engine(target_url)
    try:
        await _refuse_unless_empty(target, "db copy")
        return await copy_rows(source, target)
    finally:
        await source.dispose()
        await target.dispose()


# --- backup ---------------------------------------------------------------------------------------


def _pg_environment(url: URL) -> dict[str, str]:
    """libpq's variables for ``url``, so the password never appears on a command line."""
    environment = dict(os.environ)
    for variable, value in (
        ("PGHOST", url.host),
        ("PGPORT", str(url.port) if url.port else None),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value:
            environment[variable] = str(value)
    return environment


def pg_tool(name: str) -> str:
    """The path of ``pg_dump`` or ``pg_restore``, or the reason it cannot be used."""
    found = shutil.which(name)
    if found is None:
        raise OperationError(
            f"{name} is not installed: install the PostgreSQL client (Debian: apt-get install postgresql-client), "
            "of the server's major version or newer"
        )
    return found


async def check_pg_client(url: str) -> None:
    """pg_dump and pg_restore are installed, and not older than the server (pg_dump refuses a newer one)."""
    dump = pg_tool("pg_dump")
    pg_tool("pg_restore")
    process = await asyncio.create_subprocess_exec(dump, "--version", stdout=asyncio.subprocess.PIPE)
    output, _ = await process.communicate()
    found = re.search(r"(\d+)(?:\.\d+)?", output.decode(errors="replace"))
    client = int(found.group(1)) if found else 0
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            server = int((await connection.execute(text("SHOW server_version_num"))).scalar_one()) // 10000
    finally:
        await engine.dispose()
    if client < server:
        raise OperationError(
            f"pg_dump is version {client} and the server {server}: install postgresql-client-{server} (or newer)"
        )


async def _run(program: str, arguments: Sequence[str], url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        program,
        *arguments,
        env=_pg_environment(make_url(url)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, errors = await process.communicate()
    if process.returncode != 0:
        lines = errors.decode(errors="replace").strip().splitlines() or [f"exit status {process.returncode}"]
        raise OperationError(f"{Path(program).name} failed: {lines[-1]}")


def _sqlite_backup(source: Path, target: Path) -> None:
    # SQLite's online backup API copies a consistent snapshot while other connections write.
    if not source.exists():
        raise OperationError(f"there is no database at {source}")
    reader = sqlite3.connect(source)
    writer = sqlite3.connect(target)
    try:
        reader.backup(writer)
        writer.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        # The copy is page for page, free pages included, which may still hold deleted rows. Whoever
        # later holds a backup must learn no more than the live data tells (DESIGN.md §4, secret
        # ballot threat model), so the copy is rebuilt without them.
        writer.execute("VACUUM")
    finally:
        writer.close()
        reader.close()


async def backup(url: str, file: Path) -> None:
    """Write a backup of the database at ``url`` to ``file`` (replaced only once it is complete)."""
    partial = file.with_name(file.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if _is_sqlite(url):
            await asyncio.to_thread(_sqlite_backup, _sqlite_path(url), partial)
        else:
            # One snapshot of the whole database; --no-owner so it restores under any role.
            await check_pg_client(url)
            arguments = ["--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"]
            await _run(pg_tool("pg_dump"), arguments, url)
        partial.replace(file)
    finally:
        partial.unlink(missing_ok=True)


# --- restore --------------------------------------------------------------------------------------


def backup_kind(file: Path) -> str:
    """``sqlite`` or ``pg_dump``, from the file's first bytes."""
    try:
        with file.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise OperationError(f"cannot read {file}: {error.strerror}") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "pg_dump"
    raise OperationError(f"{file} is not a chibo backup (neither a SQLite database nor a pg_dump archive)")


def _sqlite_restore(backup_file: Path, target: Path) -> None:
    reader = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    writer = sqlite3.connect(target)
    try:
        reader.backup(writer)
        writer.execute("PRAGMA journal_mode=WAL")
    finally:
        writer.close()
        reader.close()


async def restore(url: str, file: Path) -> None:
    """Restore ``file`` (from ``backup``) into the empty database at ``url``, then bring it to the
    newest schema. An empty database is one without tables, or with chibo's tables and no rows."""
    kind = backup_kind(file)
    target = create_engine(url)
    try:
        await _refuse_unless_empty(target, "restore")
    finally:
        await target.dispose()
    if kind == "pg_dump":
        if _is_sqlite(url):
            raise OperationError("a pg_dump backup restores into PostgreSQL only (then `chibo db copy` if need be)")
        await check_pg_client(url)
        # --clean --if-exists: the empty tables `chibo serve` may already have created make way.
        arguments = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
        arguments += ["--clean", "--if-exists"]
        await _run(pg_tool("pg_restore"), [*arguments, f"--dbname={make_url(url).database}", str(file)], url)
    elif _is_sqlite(url):
        await asyncio.to_thread(_sqlite_restore, file, _sqlite_path(url))
    else:
        # A SQLite backup into PostgreSQL: brought to the newest schema in a scratch copy (the backup
        # itself is never written to), then copied table by table.
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / "backup.db"
            await asyncio.to_thread(shutil.copyfile, file, copy)
            await upgrade(f"sqlite+aiosqlite:///{copy}")
            await copy_database(f"sqlite+aiosqlite:///{copy}", url)
    await upgrade(url)
