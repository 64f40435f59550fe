"""Shared fixtures: an empty database per test on SQLite and on PostgreSQL, made from one migrated
template per run (on PostgreSQL emptied and handed to the next test); the demo commune, copied in; a
live HTTP server for the app; the fake platform APIs served over HTTP; the channels' fixtures."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import graphlib
import os
import shutil
import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import asyncpg
import httpx
import pytest
import uvicorn
from aiohttp import web
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, select

import bot.ratelimit
from bot.channels.telegram import TelegramSender, make_bot
from bot.cli.server import GRACEFUL_SHUTDOWN_SECONDS, Server
from bot.delivery import DeliveryWorker
from bot.demo import seed_demo
from bot.migrate import upgrade
from bot.ratelimit import LocalRateLimiter
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.polls import ballot_maker
from models.db import create_engine, session_factory
from models.invites import IssuedInvite, issue_unlinked_invites
from models.polls import change_draft, create_draft, publish
from models.tables import Member, Platform, PollKind, utcnow
from tests.fake_telegram import FakeTelegram
from tests.tcp_proxy import TcpProxy
from webhooks.app import create_app, end_long_polls

POSTGRES_URL = os.environ.get("CHIBO_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TELEGRAM_TOKEN = "123456:TEST-token-for-the-fake-bot-api"
METRICS_TOKEN = "metrics-token-for-tests"
METRICS_HEADERS = {"Authorization": f"Bearer {METRICS_TOKEN}"}

if TYPE_CHECKING:
    pass


def _postgres_reachable() -> str | None:
    """None when the server answers, else the reason to skip."""
    url = make_url(POSTGRES_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=2):
            return None
    except OSError as error:
        return f"PostgreSQL at {url.host}:{url.port} is unreachable ({error}); set CHIBO_TEST_POSTGRES_URL"


_POSTGRES_SKIP = _postgres_reachable()


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run_apart(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to the end on an event loop of its own in another thread: the templates are
    first asked for from inside a test's running loop, where asyncio.run is not allowed."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, work).result()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to the newest schema per run; each test gets a copy of it."""
    path = tmp_path_factory.mktemp("template") / "chibo.db"
    _run_apart(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


async def _postgres_admin(statement: str, *args: object) -> None:
    admin = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL))
    try:
        await admin.execute(statement, *args)
    finally:
        await admin.close()


def _postgres_url(name: str) -> str:
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


# What makes a database's schema: if a test changed any of it (a migration test going down and
# not all the way back up, an extension), its database is dropped instead of being used again.
_SCHEMA = """
SELECT md5(concat_ws('|',
  (SELECT string_agg(c.relname || ':' || c.relkind::text, ',' ORDER BY c.relname)
     FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace),
  (SELECT string_agg(c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod) || ':'
                     || a.attnotnull::text || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
                     ',' ORDER BY c.relname, a.attnum)
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped),
  (SELECT string_agg(conname || ':' || pg_get_constraintdef(oid), ',' ORDER BY conname)
     FROM pg_constraint WHERE connamespace = 'public'::regnamespace),
  (SELECT string_agg(indexdef, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'),
  (SELECT string_agg(t.typname || ':' || e.enumlabel, ',' ORDER BY t.typname, e.enumsortorder)
     FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid),
  (SELECT string_agg(proname, ',' ORDER BY proname) FROM pg_proc WHERE pronamespace = 'public'::regnamespace),
  (SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal),
  (SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension),
  (SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace),
  (SELECT string_agg(version_num, ',') FROM alembic_version)
))
"""

_TABLES = """
SELECT c.relname, coalesce(array_agg(f.relname) FILTER (WHERE f.relname IS NOT NULL), '{}')
FROM pg_class c
LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'f'
LEFT JOIN pg_class f ON f.oid = k.confrelid
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relname <> 'alembic_version'
GROUP BY c.relname
"""


class PostgresDatabases:
    """The run's PostgreSQL databases for tests, created from the migrated template. A test's database
    is emptied afterwards (a DELETE per table in foreign-key order and every sequence restarted: a few
    ms) and given to the next test, because creating a database costs half a second and dropping one
    waits for a checkpoint. The state a test starts from is the template's, rows and ids alike."""

    def __init__(self, template: str, schema: str, empty: str) -> None:
        self.template = template
        self.schema = schema
        self.empty = empty
        self.free: list[str] = []
        self.made: set[str] = set()

    @classmethod
    async def of(cls, template: str) -> PostgresDatabases:
        connection = await asyncpg.connect(_asyncpg_dsn(_postgres_url(template)))
        try:
            schema = await connection.fetchval(_SCHEMA)
            references = {name: set(refs) - {name} for name, refs in await connection.fetch(_TABLES)}
            sequences = [
                name
                for (name,) in await connection.fetch(
                    "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1"
                )
            ]
            left = [t for t in references if await connection.fetchval(f'SELECT EXISTS (SELECT FROM "{t}")')]
        finally:
            await connection.close()
        assert not left, f"the migrations leave rows in {left}; emptying a test's database would lose them"
        # Referencing tables first, so that no DELETE is refused by a foreign key.
        order = reversed(list(graphlib.TopologicalSorter(references).static_order()))
        empty = "; ".join(
            [f'DELETE FROM "{table}"' for table in order] + [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
        )
        return cls(template, schema, empty)

    async def take(self, fresh: bool) -> str:
        if self.free and not fresh:
            return self.free.pop()
        name = f"chibo_test_{uuid.uuid4().hex[:12]}"
        await _postgres_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.made.add(name)
        return name

    async def give_back(self, name: str, fresh: bool) -> None:
        """Empty the database for the next test, or drop it when it cannot be emptied to the template's state."""
        await _postgres_admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        reusable = False
        if not fresh:
            connection = await asyncpg.connect(_asyncpg_dsn(_postgres_url(name)))
            try:
                if await connection.fetchval(_SCHEMA) == self.schema:
                    async with connection.transaction():
                        await connection.execute(self.empty)
                    reusable = True
            finally:
                await connection.close()
        if reusable:
            self.free.append(name)
        else:
            await self.drop(name)

    async def drop(self, name: str) -> None:
        self.made.discard(name)
        await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def drop_all(self) -> None:
        for name in list(self.made):
            await self.drop(name)
        await _postgres_admin(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """One PostgreSQL database migrated to the newest schema per run (per xdist worker); the tests'
    databases are created from it (CREATE DATABASE ... TEMPLATE, a copy instead of every migration)."""
    if _POSTGRES_SKIP:
        pytest.skip(_POSTGRES_SKIP)
    template = f"chibo_template_{uuid.uuid4().hex[:12]}"
    made: list[PostgresDatabases] = []

    async def prepare() -> None:
        await _postgres_admin(f'CREATE DATABASE "{template}"')
        await upgrade(_postgres_url(template))
        made.append(await PostgresDatabases.of(template))

    try:
        _run_apart(prepare())
        yield made[0]
    finally:
        if made:
            _run_apart(made[0].drop_all())
        else:
            _run_apart(_postgres_admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own for each test, at the newest schema and empty (a copy of the run's
    template, or on PostgreSQL one emptied back to it). A test marked ``fresh_database`` gets one no
    test has written to, for what reads the raw pages."""
    if request.param == "sqlite":
        path = tmp_path / "chibo.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    fresh = request.node.get_closest_marker("fresh_database") is not None
    name = await databases.take(fresh)
    try:
        yield _postgres_url(name)
    finally:
        await databases.give_back(name, fresh)


# The platforms' rule of one message a second to a chat (bot/ratelimit.py) holds each of chibo's
# replies in a conversation for up to a second of real time; the fake platforms enforce no such rule.
# Tests of the pacing itself are marked ``paced`` (tests/test_ratelimit.py, tests/test_delivery.py);
# elsewhere a chat's messages are spaced by a quarter of a second (in order, through the same code),
# which halves the time of the conversation tests. Not less: at a hundredth of a second a Zalo Bot
# meeting scenario in tests/test_channels.py lost its invitations.
TEST_CHAT_INTERVAL = 0.25


@pytest.fixture(autouse=True)
def _chat_pacing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("paced") is None:
        monkeypatch.setattr(bot.ratelimit, "PER_CHAT_INTERVAL", TEST_CHAT_INTERVAL)


TEST_BALLOT_KEY = "a-secret-ballot-key-for-the-tests-only"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    overrides.setdefault("ballot_key", TEST_BALLOT_KEY)  # no key file left in the working directory
    # A test machine busy with two test processes is not a hung database: fifty taps at once must
    # not meet the pool's time-out. The tests of time-outs set their own.
    overrides.setdefault("db_timeout_seconds", 10.0)
    return Settings(_env_file=None, database_url=database_url, **{"metrics_token": METRICS_TOKEN, **overrides})


def zone_on_another_day() -> str:
    """A time zone whose date is not UTC's (the server's) now, an hour or more from its midnight:
    what the commune's clock says in Vietnam until 07:00, at any hour the tests run. Kiribati
    (UTC+14) is a day ahead from 10:00 UTC, Baker Island (UTC-12) a day behind until 12:00 UTC."""
    return "Pacific/Kiritimati" if datetime.now(UTC).hour >= 11 else "Etc/GMT+12"


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(make_settings(database_url))
    yield runtime
    await runtime.engine.dispose()


@dataclass
class Demo:
    invites: dict[str, IssuedInvite]

    def code(self, name: str) -> str:
        return self.invites[name].code


async def _seed_demo(database_url: str) -> Demo:
    engine = create_engine(database_url)
    try:
        # The server's secret, as the runtime reads it: invite codes are stored keyed by it.
        secret = make_settings(database_url).ballot_secret
        async with session_factory(engine, ballot_secret=secret)() as session, session.begin():
            await seed_demo(session)
            printed = await issue_unlinked_invites(session)
    finally:
        await engine.dispose()
    return Demo({p.full_name: p for p in printed})


# Parents first: the order in which the demo's rows are copied in.
_TABLE_ORDER = [table.name for table in SQLModel.metadata.sorted_tables]
_ANY_ROW = " OR ".join(f'EXISTS (SELECT 1 FROM "{name}")' for name in _TABLE_ORDER)


@dataclass
class DemoCopy:
    """The demo commune seeded once per run (per backend and worker), to be copied into a test's empty
    database: a few inserts instead of seeding and issuing thirty invites (the codes are the same in
    every test of the run, each database holding its own copy of them)."""

    demo: Demo
    sqlite_file: Path | None = None
    # PostgreSQL: each table's columns and rows, parents first, and each sequence's position.
    rows: list[tuple[str, list[str], list[tuple[Any, ...]]]] = field(default_factory=list)
    sequences: list[tuple[str, int, bool]] = field(default_factory=list)


@pytest.fixture(scope="session")
def sqlite_demo(sqlite_template: Path) -> DemoCopy:
    path = sqlite_template.with_name("demo.db")
    shutil.copyfile(sqlite_template, path)
    made: list[Demo] = []

    async def seed() -> None:
        made.append(await _seed_demo(f"sqlite+aiosqlite:///{path}"))

    _run_apart(seed())
    return DemoCopy(made[0], sqlite_file=path)


@pytest.fixture(scope="session")
def postgres_demo(postgres_databases: PostgresDatabases) -> DemoCopy:
    made: list[DemoCopy] = []

    async def seed() -> None:
        name = await postgres_databases.take(fresh=False)
        try:
            demo = await _seed_demo(_postgres_url(name))
            connection = await asyncpg.connect(_asyncpg_dsn(_postgres_url(name)))
            try:
                copy = DemoCopy(demo)
                for table in _TABLE_ORDER:
                    records = await connection.fetch(f'SELECT * FROM "{table}"')
                    if records:
                        copy.rows.append((table, list(records[0].keys()), [tuple(r) for r in records]))
                for (sequence,) in await connection.fetch(
                    "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
                ):
                    last, called = await connection.fetchrow(f'SELECT last_value, is_called FROM "{sequence}"')
                    copy.sequences.append((sequence, last, called))
            finally:
                await connection.close()
        finally:
            await postgres_databases.give_back(name, fresh=False)
        made.append(copy)

    _run_apart(seed())
    return made[0]


def _copy_sqlite_demo(database_url: str, copy: DemoCopy) -> bool:
    """Copy the demo's rows into an empty SQLite database; False when it is not empty."""
    connection = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    try:
        if connection.execute(f"SELECT {_ANY_ROW}").fetchone()[0]:
            return False
        connection.execute("ATTACH DATABASE ? AS demo", (str(copy.sqlite_file),))
        connection.execute("BEGIN IMMEDIATE")
        for table in _TABLE_ORDER:
            connection.execute(f'INSERT INTO main."{table}" SELECT * FROM demo."{table}"')
        connection.execute("COMMIT")
        return True
    finally:
        connection.close()


async def _copy_postgres_demo(database_url: str, copy: DemoCopy) -> bool:
    """Copy the demo's rows into an empty PostgreSQL database; False when it is not empty."""
    connection = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        if await connection.fetchval(f"SELECT {_ANY_ROW}"):
            return False
        async with connection.transaction():
            for table, columns, records in copy.rows:
                await connection.copy_records_to_table(table, records=records, columns=columns)
            for sequence, last, called in copy.sequences:
                await connection.execute(f"SELECT setval('\"{sequence}\"', $1, $2)", last, called)
        return True
    finally:
        await connection.close()


@pytest.fixture
async def demo(database_url: str, request: pytest.FixtureRequest) -> Demo:
    """The demo commune with a fresh invite code for every member, by full name: copied in when the
    database is still empty (as it is unless a fixture wrote to it first), else seeded."""
    if database_url.startswith("sqlite"):
        copy: DemoCopy = request.getfixturevalue("sqlite_demo")
        copied = _copy_sqlite_demo(database_url, copy)
    else:
        copy = request.getfixturevalue("postgres_demo")
        copied = await _copy_postgres_demo(database_url, copy)
    return copy.demo if copied else await _seed_demo(database_url)


async def member_named(runtime: Runtime, name: str) -> Member:
    async with runtime.sessions() as session:
        return (await session.exec(select(Member).where(Member.full_name == name))).one()


async def open_election(runtime: Runtime, question: str, candidates: list[str], seats: int, *, secret: bool) -> int:
    """An election in the demo's branch of Lý Văn Quang, open until tomorrow, its ballots sent: its id."""
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        poll = await create_draft(session, secretary, question, [secretary.branch_id], utcnow() + timedelta(days=1))
        await change_draft(session, secretary, poll, kind=PollKind.ELECTION, options=candidates, max_choices=seats)
        poll.secret = secret
        await publish(session, secretary, poll, ballot_maker(runtime.catalogs, runtime.settings.tz))
        return poll.id or 0


class FakeApi(Protocol):
    """A local stand-in for a platform's API (tests/fake_*.py)."""

    url: str

    def app(self) -> web.Application: ...


Fake = TypeVar("Fake", bound=FakeApi)


@contextlib.asynccontextmanager
async def serve_fake(fake: Fake) -> AsyncIterator[Fake]:
    """Serve ``fake`` over HTTP on a free port of this machine; its ``url`` says where."""
    runner = web.AppRunner(fake.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield fake
    finally:
        await runner.cleanup()


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    async with serve_fake(FakeTelegram()) as fake:
        yield fake


@dataclass
class LiveServer:
    url: str
    app: FastAPI


async def serve_app(app: FastAPI) -> AsyncIterator[LiveServer]:
    """Run ``app`` under uvicorn on a free port of this machine, lifespan included."""
    # As `chibo serve` runs it: the app alone decides whom X-Forwarded-For is taken from.
    # And as it stops: the pages' long polls answered at once, anything else cut off after a few seconds.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        lifespan="on",
        proxy_headers=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = Server(config, on_stop=lambda: end_long_polls(app))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # start-up failed: raise its error here
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        await task


# --- the channels' fixtures, shared by the tests of several features ------------------------------


def telegram_settings(database_url: str, fake: FakeTelegram, **overrides: object) -> Settings:
    return make_settings(database_url, telegram_token=TELEGRAM_TOKEN, telegram_api_base=fake.url, **overrides)


# The shared delivery budget's tests (test_ratelimit.py, test_delivery.py); each uses keys of its own.
REDIS_URL = "redis://127.0.0.1:6379/14"


def _redis_skip() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return None
    except OSError as error:
        return f"Redis at 127.0.0.1:6379 is unreachable ({error}); the shared budget is not tested"


@contextlib.asynccontextmanager
async def redis_client() -> AsyncIterator[Redis]:
    """A client of the rate limit tests' Redis database; the test is skipped, saying why, without one."""
    reason = _redis_skip()
    if reason:
        pytest.skip(reason)
    client = Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    async with redis_client() as client:
        yield client


@pytest.fixture
async def polling_bot(database_url: str, fake_telegram: FakeTelegram) -> AsyncIterator[FakeTelegram]:
    app = create_app(telegram_settings(database_url, fake_telegram, telegram_mode="polling"), migrate=False)
    async with app.router.lifespan_context(app):
        yield fake_telegram


@pytest.fixture
async def telegram_sender(fake_telegram: FakeTelegram) -> AsyncIterator[TelegramSender]:
    bot = make_bot(TELEGRAM_TOKEN, fake_telegram.url)
    yield TelegramSender(bot)
    await bot.session.close()


def worker(runtime: Runtime, sender: TelegramSender, rate: float = 1000.0) -> DeliveryWorker:
    limiter = LocalRateLimiter({"telegram": rate})
    return DeliveryWorker(
        runtime.sessions, {Platform.TELEGRAM: sender}, runtime.metrics, limiter=limiter, backoff=lambda attempts: 0.0
    )


@pytest.fixture
async def web_chat(database_url: str) -> AsyncIterator[LiveServer]:
    async for server in serve_app(create_app(make_settings(database_url), migrate=False)):
        yield server


@pytest.fixture
async def desk_app(database_url: str, demo: Demo) -> AsyncIterator[FastAPI]:
    """The app serving the secretary's desk over the demo commune, in-process (tests/desk.py
    signs members in to it); its database closed after the test."""
    app = create_app(make_settings(database_url), migrate=False)
    yield app
    await app.state.runtime.engine.dispose()


WEBHOOK_SECRET = "webhook-secret-123"
WEBHOOK_HEADERS = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}


@dataclass
class Outage:
    """Makes the app's database unavailable and available again, for real."""

    url: str
    proxy: TcpProxy | None = None
    _lock: sqlite3.Connection | None = None

    async def begin(self) -> None:
        if self.proxy is not None:
            await self.proxy.stop()
        else:
            # Another process holding SQLite's exclusive lock: every write waits, then gives up.
            self._lock = sqlite3.connect(make_url(self.url).database or "", isolation_level=None)
            self._lock.execute("BEGIN EXCLUSIVE")

    async def end(self) -> None:
        if self.proxy is not None:
            await self.proxy.start()
        elif self._lock is not None:
            self._lock.execute("ROLLBACK")
            self._lock.close()


@dataclass
class Webhook:
    """The app on Telegram webhooks over HTTP, with a database the test can take away."""

    client: httpx.AsyncClient
    runtime: Runtime
    fake: FakeTelegram
    outage: Outage

    async def post(self, body: object, headers: dict[str, str] = WEBHOOK_HEADERS) -> httpx.Response:
        return await self.client.post("/webhooks/telegram", json=body, headers=headers, timeout=5)

    async def count(self, table: type) -> int:
        async with self.runtime.sessions() as session:
            return (await session.exec(select(func.count()).select_from(table))).one()


@contextlib.asynccontextmanager
async def database_with_outage(database_url: str) -> AsyncIterator[tuple[str, AsyncEngine, Outage]]:
    """An engine on ``database_url`` (through a proxy on PostgreSQL) and the outage to inflict on it."""
    proxy: TcpProxy | None = None
    engine_url = database_url
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"timeout": 2})
    else:
        url = make_url(database_url)
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        await proxy.start()
        engine_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        engine = create_engine(engine_url, timeout=2)
    try:
        yield engine_url, engine, Outage(database_url, proxy)
    finally:
        await engine.dispose()
        if proxy is not None:
            await proxy.stop()


@pytest.fixture
async def webhook(database_url: str, fake_telegram: FakeTelegram) -> AsyncIterator[Webhook]:
    async with database_with_outage(database_url) as (engine_url, engine, outage):
        settings = make_settings(
            engine_url,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_base=fake_telegram.url,
            telegram_mode="webhook",
            public_url="https://chibo.example.org",
            webhook_secret=WEBHOOK_SECRET,
        )
        app = create_app(settings, engine=engine, migrate=False)
        async for server in serve_app(app):
            async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
                yield Webhook(client, app.state.runtime, fake_telegram, outage)


@pytest.fixture(params=["telegram", "zalo_bot", "zalo_oa"])
async def channel(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Any]:
    """The app with one platform switched on, and the driver a test talks to it with there
    (``tests.channels.Driver``; imported here, not at the top: that module imports this one)."""
    from tests.channels import CHANNELS

    async with CHANNELS[request.param](database_url) as driver:
        yield driver
