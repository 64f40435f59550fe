"""The vote path and the tally, measured.

1. Callback updates (one tap each, 10,000 distinct voters) POSTed to chibo's /webhooks/telegram,
   with a fixed number in flight, beside the same load on two baselines: a bare aiogram + FastAPI
   echo webhook (validates the update, answers the callback, stores nothing) and a bare durable one
   (the same, plus one asyncpg ``INSERT … ON CONFLICT DO NOTHING`` of the vote committed before the
   answer, one transaction per vote). Each server runs in a process of its own while this process
   plays the members and the fake Bot API. Prints votes/s, p50/p99 latency and the ratios. Then the
   latency at a steady 200 votes/s (2,000 votes, or ``--voters`` if fewer), timed from when each
   vote was due, so a server that falls behind shows it. Each server is warmed up first by votes
   not counted (its database connections opened, its statements prepared), the same number for
   each. A webhook answered 503 ("try again") is sent again, as Telegram would, and counted.
2. Tallying a 10,000-ballot poll (open and secret).

Both servers get the same client (aiohttp, light enough that the bare echo, not the client, sets
the echo's pace: httpx's pool cost this process more per request than the echo server spent).

    .venv/bin/python bench/votes.py                       # PostgreSQL on 127.0.0.1, 10,000 voters
    .venv/bin/python bench/votes.py --database-url sqlite+aiosqlite:///bench.db --voters 2000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import multiprocessing
import os
import signal
import socket
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiogram.types import Update
from fastapi import FastAPI, Request
from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web

from bot.channels.telegram import make_bot
from bot.cli.server import run_app
from bot.i18n import Catalogs
from bot.migrate import upgrade
from bot.settings import Settings
from handlers.polls import ballot_maker
from models.db import create_engine, session_factory
from models.permissions import OPERATOR
from models.polls import close, create_draft, eligible_members, publish, result, vote
from models.tables import Branch, ChannelIdentity, Committee, Member, Platform, Poll, utcnow
from tests.fake_telegram import FakeTelegram
from webhooks.app import create_app

TOKEN = "123456:bench-token-for-the-fake-bot-api"
SECRET = "bench-secret"
FIRST_USER = 5_000_000
IN_FLIGHT = 32
WARM_UP = 8 * IN_FLIGHT  # votes sent to each server before measuring, not counted


def callback(user: int, data: str, update_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cb{update_id}",
            "from": {"id": user, "is_bot": False, "first_name": "M"},
            "chat_instance": "1",
            "data": data,
            "message": {"message_id": 1, "date": 0, "chat": {"id": user, "type": "private"}, "text": "…"},
        },
    }


def _run_server(kind: str, port: int, options: dict[str, str]) -> None:
    """One server in a process of its own, as in production (chibo, or a baseline); with
    ``--profile DIR`` its CPU profile is written there when it stops (pstats, one file a server)."""
    options = dict(options)
    profile = options.pop("profile", "")
    if kind == "chibo":
        app = create_app(Settings(_env_file=None, **options), migrate=False)  # type: ignore[arg-type]
    elif kind == "durable":
        app = durable_app(options["telegram_api_base"], options["database_url"])
    else:
        app = echo_app(options["telegram_api_base"])
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        # uvicorn raises the SIGTERM it caught again once it has shut down: as SystemExit, so the
        # profile below is still written (the default action would end the process first).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        profiler.enable()
    try:
        run_app(app, "127.0.0.1", port)
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(Path(profile) / f"{kind}-{port}.pstats")


def _process_cpu(pid: int) -> float:
    """CPU seconds process ``pid`` has used so far (user and system; 0 without /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu() -> float:
    """CPU seconds every PostgreSQL process on this machine has used so far (0 without /proc): about
    what the run cost it, as a backend that ends meanwhile takes its own time with it."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            name, _, rest = stat.read_text().partition(") ")
            if name.endswith("(postgres"):
                fields = rest.split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


SERVED: dict[str, int] = {}  # url -> the process id of the server answering there


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def _serve(kind: str, options: dict[str, str]) -> AsyncIterator[str]:
    port = _free_port()
    # spawn, not fork: a forked child would share this process's event loop, sockets and connections.
    process = multiprocessing.get_context("spawn").Process(target=_run_server, args=(kind, port, options), daemon=True)
    process.start()
    url = f"http://127.0.0.1:{port}"
    SERVED[url] = process.pid or 0
    try:
        async with aiohttp.ClientSession() as client:
            for _ in range(2400):  # chibo takes seconds to start, more on a busy machine
                try:
                    async with client.get(f"{url}/healthz"):
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
        yield url
    finally:
        process.terminate()
        # Joined off the event loop: the server's shutdown may still call the fake Bot API here.
        await asyncio.to_thread(process.join)


def echo_app(api_base: str) -> FastAPI:
    """The baseline: an aiogram webhook that validates the update and answers the callback."""
    bot = make_bot(TOKEN, api_base)
    app = FastAPI()

    @app.post("/webhooks/telegram")
    async def hook(request: Request) -> dict[str, bool]:
        update = Update.model_validate(await request.json(), context={"bot": bot})
        if update.callback_query is not None:
            await bot.answer_callback_query(update.callback_query.id)
        return {"ok": True}

    return app


def _asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


DURABLE_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_vote (poll_id bigint, user_id bigint, mask int, PRIMARY KEY (poll_id, user_id))"
)


def durable_app(api_base: str, database_url: str) -> FastAPI:
    """The durable baseline: the echo, plus the vote recorded by one ``INSERT … ON CONFLICT DO
    NOTHING`` committed (asyncpg's autocommit: one transaction per vote) before the answer."""
    bot = make_bot(TOKEN, api_base)
    pools: list[asyncpg.Pool] = []

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The size of chibo's pool (SQLAlchemy's default: 5 + 10 overflow).
        pools.append(await asyncpg.create_pool(_asyncpg_dsn(database_url), ssl=False, min_size=1, max_size=15))
        yield
        await pools[0].close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/webhooks/telegram")
    async def hook(request: Request) -> dict[str, bool]:
        update = Update.model_validate(await request.json(), context={"bot": bot})
        query = update.callback_query
        if query is not None:
            _, poll, mask = (query.data or "").split(":")
            await pools[0].execute(
                "INSERT INTO bench_vote VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                int(poll), query.from_user.id, int(mask),
            )  # fmt: skip
            await bot.answer_callback_query(query.id)
        return {"ok": True}

    return app


async def _load(url: str, bodies: list[dict[str, Any]], rate: float | None = None) -> tuple[float, list[float]]:
    """POST every body (IN_FLIGHT at a time, or paced at ``rate``/s); seconds taken and latencies,
    when paced counted from when each body was due."""
    latencies: list[float] = []
    retried = [0]
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:

        async def worker(index: int) -> None:
            sent = 0
            while not queue.empty():
                body = queue.get_nowait()
                begin = time.perf_counter()
                if rate is not None:  # pace: this worker's share of the rate
                    due = started + (sent * IN_FLIGHT + index) / rate
                    await asyncio.sleep(max(0.0, due - begin))
                    begin = due
                sent += 1
                while True:
                    async with client.post("/webhooks/telegram", data=json.dumps(body), headers=headers) as response:
                        text = await response.text()
                    if response.status != 503:
                        break
                    retried[0] += 1  # "try again": Telegram would deliver it again, so does this member
                latencies.append(time.perf_counter() - begin)
                assert response.status == 200, text

        await asyncio.gather(*(worker(i) for i in range(IN_FLIGHT)))
    if retried[0]:
        print(f"  ({retried[0]} answered 503 and sent again)")
    return time.perf_counter() - started, latencies


def _line(label: str, seconds: float, latencies: list[float], cpu: float = 0.0) -> float:
    ordered = sorted(latencies)
    rate = len(ordered) / seconds
    p50, p99 = statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]
    used = f"   server CPU {cpu / len(ordered) * 1000:5.2f} ms/vote ({cpu / seconds:4.0%} of a core)" if cpu else ""
    print(f"  {label:<22} {rate:8.1f} votes/s   p50 {p50 * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms{used}")
    return rate


async def _seed(database_url: str, voters: int, secret: bool, first_user: int) -> int:
    engine = create_engine(database_url)
    async with session_factory(engine)() as session, session.begin():
        committee = Committee(name="Bench")
        session.add(committee)
        await session.flush()
        branch = Branch(committee_id=committee.id or 0, code=f"V{uuid.uuid4().hex[:6]}", name="Bench")
        session.add(branch)
        await session.flush()
        people = [Member(branch_id=branch.id or 0, full_name=f"M {i}") for i in range(voters)]
        session.add_all(people)
        await session.flush()
        session.add_all(
            ChannelIdentity(
                platform=Platform.TELEGRAM, platform_user_id=str(first_user + i), chat_id=str(first_user + i),
                member_id=p.id or 0,
            )
            for i, p in enumerate(people)
        )  # fmt: skip
        poll = await create_draft(session, OPERATOR, "Bench?", [branch.id or 0], utcnow() + timedelta(days=1))
        poll.secret = secret
        await publish(session, OPERATOR, poll, ballot_maker(Catalogs("vi"), Settings(_env_file=None).tz))
        poll_id = poll.id or 0
    if not database_url.startswith("sqlite"):
        # The planner's statistics, as autovacuum keeps them for a roster that has been there for
        # months (a vote does not open on tables filled a second before): without them PostgreSQL
        # guesses a few rows and reads every member of the branch to find the 32 that tapped.
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    await engine.dispose()
    return poll_id


def _ballot_secret() -> bytes:
    return b"a-ballot-key-for-the-bench-only-0123456789"


async def _cast_directly(database_url: str, poll_id: int) -> None:
    """Every eligible member votes, through the domain, to have a full ballot box to count."""
    engine = create_engine(database_url)
    async with session_factory(engine, ballot_secret=_ballot_secret)() as session, session.begin():
        poll = await session.get(Poll, poll_id)
        assert poll is not None
        for index, member in enumerate(await eligible_members(session, poll)):
            await vote(session, poll_id, member, 1 << (index % len(poll.options)))
    await engine.dispose()


async def _tally(database_url: str, poll_id: int, label: str) -> None:
    """The result; for a secret poll, the close that opens every sealed ballot and counts them
    (rolled back each time, so it can be timed again)."""
    engine = create_engine(database_url)
    timings = []
    for _ in range(5):
        async with session_factory(engine, ballot_secret=_ballot_secret)() as session:
            poll = await session.get(Poll, poll_id)
            assert poll is not None
            begin = time.perf_counter()
            if poll.secret:
                await close(session, poll)
            decision = await result(session, poll)
            timings.append(time.perf_counter() - begin)
            await session.rollback()
    await engine.dispose()
    print(f"  tally {label:<16} {decision.voters} ballots in {min(timings) * 1000:6.1f} ms (best of 5)")


@contextlib.asynccontextmanager
async def fresh_database(url: str) -> AsyncIterator[str]:
    if url.startswith("sqlite"):
        yield url
        return
    name = f"chibo_bench_{uuid.uuid4().hex[:8]}"
    admin_dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_dsn, ssl=False)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            admin = await asyncpg.connect(admin_dsn, ssl=False, timeout=10)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
        except (OSError, TimeoutError, asyncpg.PostgresError) as error:
            print(f"(could not drop the bench database {name}: {type(error).__name__}; drop it by hand)")


async def _measure(
    kind: str,
    options: dict[str, str],
    warm_up: list[dict[str, Any]],
    bodies: list[dict[str, Any]],
    rate: float | None = None,
) -> tuple[float, list[float], float]:
    """Seconds taken, latencies, and the CPU seconds the server used for ``bodies``."""
    async with _serve(kind, options) as url:
        await _load(url, warm_up)
        before, postgres, here = _process_cpu(SERVED[url]), _postgres_cpu(), time.process_time()
        seconds, latencies = await _load(url, bodies, rate)
        if rate is None:
            count = len(bodies)
            print(
                f"  ({kind}: beside the server, PostgreSQL about "
                f"{(_postgres_cpu() - postgres) / count * 1000:.2f} ms and "
                f"this process, the members and the fake Bot API, {(time.process_time() - here) / count * 1000:.2f} ms "
                f"of CPU a vote)"
            )
        return seconds, latencies, _process_cpu(SERVED[url]) - before


async def _round(database_url: str, options: dict[str, str], voters: int, round_: int) -> float:
    """chibo, then the durable baseline, each on a poll and voters of its own: the ratio of their rates."""
    rates = []
    for kind, offset in (("chibo", 0), ("durable", 1)):
        first = FIRST_USER + (10 + 2 * round_ + offset) * 1_000_000
        poll_id = await _seed(database_url, voters + WARM_UP, secret=False, first_user=first)
        bodies = [callback(first + i, f"pv:{poll_id}:{1 << (i % 3)}", first * 10 + i) for i in range(voters + WARM_UP)]
        seconds, latencies, cpu = await _measure(kind, options, bodies[voters:], bodies[:voters])
        rates.append(_line(f"{kind}, round {round_}", seconds, latencies, cpu))
    return rates[0] / rates[1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--voters", type=int, default=10_000)
    parser.add_argument("--no-tally", action="store_true", help="skip part 2 (the tallies)")
    parser.add_argument("--profile", metavar="DIR", help="write each server's CPU profile (cProfile) to DIR")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="chibo and the durable baseline again in turn, each round on new voters, and the median of the "
        "rounds' ratios (a machine whose speed drifts between runs says little in one)",
    )
    args = parser.parse_args()
    fake = FakeTelegram()
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    async with fresh_database(args.database_url) as database_url:
        await upgrade(database_url)
        poll_id = await _seed(database_url, args.voters + WARM_UP, secret=False, first_user=FIRST_USER)
        options = {
            "database_url": database_url, "telegram_token": TOKEN, "telegram_mode": "webhook",
            "public_url": "https://bench.invalid", "webhook_secret": SECRET, "telegram_api_base": fake.url,
            "profile": args.profile or "",  # the servers start in this directory too
        }  # fmt: skip
        votes = [
            callback(FIRST_USER + i, f"pv:{poll_id}:{1 << (i % 3)}", 10_000_000 + i)
            for i in range(args.voters + WARM_UP)
        ]
        print(f"{args.voters} voters, {IN_FLIGHT} requests in flight, {database_url.split(':')[0]}")
        for secret, first in ((False, FIRST_USER + 3_000_000), (True, FIRST_USER + 4_000_000))[
            : 0 if args.no_tally else 2
        ]:
            counted = await _seed(database_url, args.voters, secret=secret, first_user=first)
            await _cast_directly(database_url, counted)
            await _tally(database_url, counted, "secret" if secret else "open")
        seconds, latencies, cpu = await _measure("chibo", options, votes[args.voters :], votes[: args.voters])
        chibo = _line("chibo vote webhook", seconds, latencies, cpu)
        echo_bodies = [callback(FIRST_USER + i, "pv:1:1", 20_000_000 + i) for i in range(args.voters + WARM_UP)]
        seconds, latencies, cpu = await _measure(
            "echo", options, echo_bodies[args.voters :], echo_bodies[: args.voters]
        )
        echo = _line("bare aiogram echo", seconds, latencies, cpu)
        durable = 0.0
        if not database_url.startswith("sqlite"):
            admin = await asyncpg.connect(_asyncpg_dsn(database_url), ssl=False)
            await admin.execute(DURABLE_TABLE)
            await admin.close()
            durable_bodies = [
                callback(FIRST_USER + i, f"pv:{poll_id}:{1 << (i % 3)}", 40_000_000 + i)
                for i in range(args.voters + WARM_UP)
            ]
            seconds, latencies, cpu = await _measure(
                "durable", options, durable_bodies[args.voters :], durable_bodies[: args.voters]
            )
            durable = _line("bare durable vote", seconds, latencies, cpu)
        print(f"  ratio chibo / echo      {chibo / echo:8.2f}")
        if durable:
            print(f"  ratio chibo / durable   {chibo / durable:8.2f}   (target >= 1.0)")
            ratios = [chibo / durable]
            for round_ in range(2, args.rounds + 1):
                ratios.append(await _round(database_url, options, args.voters, round_))
            if len(ratios) > 1:
                listed = ", ".join(f"{ratio:.2f}" for ratio in ratios)
                median = statistics.median(ratios)
                print(f"  ratio chibo / durable over {len(ratios)} rounds: median {median:.2f} ({listed})")
        steady_first, steady_voters = FIRST_USER + 1_000_000, min(2000, args.voters)
        steady_poll = await _seed(database_url, steady_voters + WARM_UP, secret=False, first_user=steady_first)
        steady = [
            callback(steady_first + i, f"pv:{steady_poll}:1", 30_000_000 + i) for i in range(steady_voters + WARM_UP)
        ]
        seconds, latencies, cpu = await _measure(
            "chibo", options, steady[steady_voters:], steady[:steady_voters], 200.0
        )
        _line("chibo at 200 votes/s", seconds, latencies, cpu)
        seconds, latencies, cpu = await _measure(
            "echo", options, echo_bodies[args.voters :], echo_bodies[:steady_voters], 200.0
        )
        _line("bare echo at 200/s", seconds, latencies, cpu)
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
