"""How fast chibo handles inbound updates, on SQLite and on PostgreSQL. Run by hand:

    .venv/bin/python -m bench.inbound [--updates 2000] [--postgres postgresql+asyncpg://postgres@127.0.0.1/test]

Each update is a linked member asking "my details" through Runtime.process: de-duplication row,
handler queries, outbox rows, one commit. Prints updates/second per database and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from bot.demo import seed_demo
from bot.migrate import upgrade
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.contract import Inbound
from models.db import create_engine, session_factory
from models.invites import issue_unlinked_invites
from models.tables import Platform


async def measure(url: str, updates: int, concurrency: int) -> float:
    await upgrade(url)
    settings = Settings(_env_file=None, database_url=url)
    engine = create_engine(url)
    async with session_factory(engine, ballot_secret=settings.ballot_secret)() as session, session.begin():
        await seed_demo(session)
        invites = await issue_unlinked_invites(session)
    await engine.dispose()
    runtime = Runtime.create(settings)
    users = [str(9000 + i) for i in range(len(invites))]
    for user, invite in zip(users, invites, strict=True):
        await runtime.process(Inbound(Platform.TELEGRAM, user, user, text=invite.code), None)
    queue = iter(range(updates))

    async def client() -> None:
        for number in queue:
            user = users[number % len(users)]
            await runtime.process(Inbound(Platform.TELEGRAM, user, user, payload="me"), f"bench-{number}")

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await runtime.engine.dispose()
    return updates / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as directory:
        results["sqlite"] = await measure(
            f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}", args.updates, args.concurrency
        )
    server = make_url(args.postgres)
    name = f"chibo_bench_{uuid.uuid4().hex[:8]}"
    dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = await asyncpg.connect(dsn)
    except OSError as error:
        print(f"postgresql: skipped ({error})")
    else:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = server.set(database=name).render_as_string(hide_password=False)
            results["postgresql"] = await measure(url, args.updates, args.concurrency)
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()
    for database, rate in results.items():
        print(f"{database:>10}: {rate:8.1f} updates/s  ({args.updates} updates, {args.concurrency} at a time)")
    if len(results) == 2:
        print(f"{'ratio':>10}: postgresql/sqlite = {results['postgresql'] / results['sqlite']:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
