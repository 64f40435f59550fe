"""The async engine and session factory, for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Table, event, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, InterfaceError, InvalidatePoolError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.sql.dml import Insert
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

# Errors that mean "the database is not there right now", as opposed to a bug: callers answer 503.
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    OSError,
    TimeoutError,
    PoolTimeout,  # no pooled connection free within the time-out: overloaded, not a bug (was: 500)
)


# PostgreSQL cancelled the statement: its statement_timeout fired (a lock held elsewhere, a hung
# server), which may come before the client's own time-out. The database is not answering in time.
_QUERY_CANCELED = "57014"
# The share of the database time-out PostgreSQL itself waits on a statement (see create_engine).
SERVER_SHARE = 0.9


def statement_cancelled(error: BaseException) -> bool:
    """PostgreSQL cancelled the statement at its statement_timeout: slow or blocked, but answering."""
    return isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) == _QUERY_CANCELED


# PostgreSQL rolled the transaction back so that another could go on: a deadlock (two replicas
# handed the same updates in opposite orders) or a serialization failure. Nothing of it was kept,
# and the same work done again succeeds.
_TRY_AGAIN = frozenset({"40P01", "40001"})


def rolled_back_for_another(error: BaseException) -> bool:
    """The database gave this transaction up for another's sake (see _TRY_AGAIN): callers answer 503."""
    return isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) in _TRY_AGAIN


def is_database_unavailable(error: BaseException) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if statement_cancelled(error):
        return True
    return isinstance(error, DATABASE_UNAVAILABLE)


# When the request being served must have its answer (the event loop's clock), if it is one: a new
# connection made for it may take only what is left (see ``database_deadline``).
_DEADLINE: ContextVar[float | None] = ContextVar("chibo_database_deadline", default=None)
# Below this much time left, no connection is attempted: it could not finish anyway.
_LEAST_CONNECT_TIME = 0.05


class NoTimeLeft(TimeoutError):
    """The request's deadline was spent before the database was tried (a wait elsewhere): 503,
    but no sign that the database is not answering."""


@contextlib.contextmanager
def database_deadline(seconds: float) -> Iterator[None]:
    """Everything in the block waits at most ``seconds`` in all for a pooled connection plus a new
    one: a request that waited for the pool while the database hung (connections discarded one
    by one as their statements time out) does not then wait the whole connect time-out as well."""
    with deadline_at(asyncio.get_running_loop().time() + seconds):
        yield


def request_deadline() -> float | None:
    """The deadline ``database_deadline`` set for what is being served (the event loop's clock), if any."""
    return _DEADLINE.get()


@contextlib.contextmanager
def deadline_at(when: float | None) -> Iterator[None]:
    """``database_deadline`` at a moment already known: work done for a request elsewhere (a group
    commit) keeps that request's deadline."""
    token = _DEADLINE.set(when)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _connect_within_deadline(
    _dialect: Any, _record: ConnectionPoolEntry, _cargs: list[Any], cparams: dict[str, Any]
) -> None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return
    left = deadline - asyncio.get_running_loop().time()
    if left < _LEAST_CONNECT_TIME:
        raise NoTimeLeft("no time left to connect to the database")
    cparams["timeout"] = min(float(cparams.get("timeout", left)), left)


def create_engine(url: str, *, timeout: float | None = None, **kwargs: Any) -> AsyncEngine:
    """An engine for ``url``; on SQLite with write-ahead logging and foreign keys enforced.

    ``timeout`` (seconds) bounds every wait on PostgreSQL: connecting, each statement (in the
    client, and on the server as ``statement_timeout``) and waiting for a pooled connection, so a
    database or network that hangs gives ``TimeoutError`` (503) instead of a request that never
    ends. A connection whose statement timed out is discarded, not rolled back: the rollback would
    wait as long again. Inside ``database_deadline`` a new connection gets only the time left.
    SQLite is a file and cannot hang so; a write another process locks out
    waits sqlite3's busy timeout (5 s), then fails as unavailable too.
    """
    # A failed statement's parameters (names, birth dates, phones) stay out of error messages and logs.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if timeout is not None:
        connect_args = {
            "timeout": timeout,
            "command_timeout": timeout,
            # The server gives up a little before the client: a statement waiting on a lock held
            # elsewhere is then cancelled by PostgreSQL, which answered (``statement_cancelled``),
            # and only a database that does not answer at all meets the client's time-out.
            "server_settings": {"statement_timeout": str(max(1, round(timeout * 1000 * SERVER_SHARE)))},
            **kwargs.pop("connect_args", {}),
        }
        kwargs = {"pool_timeout": timeout, "connect_args": connect_args, **kwargs}
    engine = create_async_engine(url, pool_size=10, max_overflow=10, **kwargs)
    event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    event.listen(engine.sync_engine, "do_connect", _connect_within_deadline)
    event.listen(engine.sync_engine, "handle_error", _discard_timed_out_connection)
    return engine


def _discard_timed_out_connection(context: ExceptionContext) -> None:
    if isinstance(context.original_exception, TimeoutError):
        context.is_disconnect = True
        # Closed at once: discarding it would first try a polite close, which waits on the hung
        # connection 2 s more (a request then took two time-outs to get its 503).
        connection = context.connection
        driver = None if connection is None or connection.invalidated else connection.connection.driver_connection
        if driver is not None:
            driver.terminate()


def _refuse_closed_connection(
    _dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    """A pooled connection the server or the network has closed (a restart, an outage) is replaced,
    with every connection older than it, before it is used. asyncpg knows without asking the server;
    pool_pre_ping would ask, at three round trips (BEGIN, a query, ROLLBACK) per transaction."""
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise InvalidatePoolError("the database closed this connection")


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # Deleted rows are overwritten with zeros, not left in free space: a secret poll's sealed
    # ballots and its box's salt must be gone from the file once the poll closes (models/ballots.py).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


# Where a session keeps the function that reads the server's ballot secret (models/ballots.py).
BALLOT_SECRET_INFO = "chibo.ballot_secret"
# ...and the one that wakes the delivery worker after a commit that queued messages (models/outbox.py).
OUTBOX_WAKE_INFO = "chibo.outbox_wake"


def session_factory(
    engine: AsyncEngine,
    *,
    ballot_secret: Callable[[], bytes] | None = None,
    on_outbox: Callable[[], None] | None = None,
) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine``; ``ballot_secret`` gives the server's own secret to the secret polls
    that need it (models/ballots.py), read only then; ``on_outbox`` is called after each commit
    that queued outbox rows."""
    info: dict[str, object] = {}
    if ballot_secret is not None:
        info[BALLOT_SECRET_INFO] = ballot_secret
    if on_outbox is not None:
        info[OUTBOX_WAKE_INFO] = on_outbox
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False, info=info)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a model: statements on it skip the ORM's per-object bookkeeping,
    for hot paths that need no objects back."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


@cache
def _insert_ignoring_conflict(dialect: str, table: Table) -> Insert:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing()


async def insert_ignoring_conflict(session: AsyncSession, table: type[SQLModel], **values: Any) -> bool:
    """INSERT a row unless it clashes with a unique key; True when it was inserted.

    One statement on both databases, so two processes racing on the same key never both win.
    Built once per table and dialect (every update runs it), with the values as parameters.
    """
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    result = await session.exec(_insert_ignoring_conflict(dialect, table_of(table)), params=values)
    return bool(result.rowcount)


@cache
def _insert_many_ignoring_conflict(dialect: str, table: Table, returned: tuple[str, ...]) -> Insert:
    return _insert_ignoring_conflict(dialect, table).returning(*(table.c[name] for name in returned))


async def insert_many_ignoring_conflict(
    session: AsyncSession, table: type[SQLModel], rows: list[dict[str, Any]], returned: tuple[str, ...]
) -> set[tuple[Any, ...]]:
    """``insert_ignoring_conflict`` for many rows in one round trip: the ``returned`` columns of the
    rows that were inserted (a row that clashed with a unique key is not among them). On the
    session's connection, as Core: nothing goes through the ORM."""
    connection = await session.connection()
    statement = _insert_many_ignoring_conflict(connection.dialect.name, table_of(table), returned)
    return {tuple(row) for row in (await connection.execute(statement, rows)).all()}


async def claim(session: AsyncSession, table: type[SQLModel], *conditions: ColumnElement[bool], **values: Any) -> bool:
    """``UPDATE table SET values WHERE conditions``; True when a row changed.

    The conditions are the claim (``status == DRAFT``, ``claimed_at IS NULL``): checked and written
    in one statement, so of two taps, two secretaries or two replicas at once exactly one wins, and
    the loser learns it from the False without having changed anything.
    """
    result = await session.exec(update(table).where(*conditions).values(**values))
    return bool(result.rowcount)


async def listen(engine: AsyncEngine, channel: str, heard: Callable[[str], None], *, what: str) -> None:
    """PostgreSQL's LISTEN on ``channel``, on a connection of its own, calling ``heard`` with each
    NOTIFY's payload; again after the connection is lost (``what`` names it in the warning). Runs
    until cancelled: what it wakes also looks by itself now and then, so a gap loses nothing."""
    import asyncpg  # only with PostgreSQL

    log = logging.getLogger(__name__)
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while True:
        try:
            connection = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError) as error:
            log.warning("%s: cannot listen (%s); retrying", what, type(error).__name__)
            await asyncio.sleep(5.0)
            continue
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
            await connection.add_listener(channel, lambda _c, _pid, _channel, payload: heard(payload))
            await lost.wait()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(connection.close(timeout=2))
        await asyncio.sleep(1.0)
