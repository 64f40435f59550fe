"""Shared fixtures: a fresh database per test on SQLite and on PostgreSQL, copied from one migrated
template per run; the demo commune, a live HTTP server for the app, and the fake platform APIs served over HTTP."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import asyncpg
import pytest
import uvicorn
from aiohttp import web
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlmodel import select

from bot.demo import seed_demo
from bot.migrate import upgrade
from bot.runtime import Runtime
from bot.settings import Settings
from models.db import create_engine, session_factory
from models.invites import IssuedInvite, issue_unlinked_invites
from models.tables import Member
from tests.fake_telegram import FakeTelegram

POSTGRES_URL = os.environ.get("CHIBO_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TELEGRAM_TOKEN = "123456:TEST-token-for-the-fake-bot-api"
METRICS_TOKEN = "metrics-token-for-tests"
METRICS_HEADERS = {"Authorization": f"Bearer {METRICS_TOKEN}"}


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


async def _postgres_admin(statement: str) -> None:
    admin = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL))
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


def _postgres_url(name: str) -> str:
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """One PostgreSQL database migrated to the newest schema per run; each test's database is
    created from it (CREATE DATABASE ... TEMPLATE), which costs a file copy instead of every migration."""
    if _POSTGRES_SKIP:
        pytest.skip(_POSTGRES_SKIP)
    name = f"chibo_template_{uuid.uuid4().hex[:12]}"
    _run_apart(_postgres_admin(f'CREATE DATABASE "{name}"'))
    try:
        _run_apart(upgrade(_postgres_url(name)))
        yield name
    finally:
        _run_apart(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of its own for each test, at the newest schema (a copy of the run's template)."""
    if request.param == "sqlite":
        path = tmp_path / "chibo.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template: str = request.getfixturevalue("postgres_template")
    name = f"chibo_test_{uuid.uuid4().hex[:12]}"
    await _postgres_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _postgres_url(name)
    finally:
        await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


TEST_BALLOT_KEY = "a-secret-ballot-key-for-the-tests-only"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    overrides.setdefault("ballot_key", TEST_BALLOT_KEY)  # no key file left in the working directory
    return Settings(_env_file=None, database_url=database_url, **{"metrics_token": METRICS_TOKEN, **overrides})


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


@pytest.fixture
async def demo(database_url: str) -> Demo:
    """The demo commune with a fresh invite code for every member, by full name."""
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


async def member_named(runtime: Runtime, name: str) -> Member:
    async with runtime.sessions() as session:
        return (await session.exec(select(Member).where(Member.full_name == name))).one()


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
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on", proxy_headers=False)
    server = uvicorn.Server(config)
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
