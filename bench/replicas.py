"""Two `chibo serve` replicas on one PostgreSQL and one Redis, behind the same webhook traffic and a broadcast.

First one replica alone, then both: each phase POSTs vote callbacks to /webhooks/telegram (with
two replicas, alternately to each, as a round-robin balancer does) while a notice to a branch is
being delivered by the replicas' delivery workers, within one shared budget of
``--rate`` messages/s (CHIBO_BROADCAST_RATE, shared through CHIBO_REDIS_URL). The fake Bot API
runs in a process of its own and records when each message arrived. Prints, per phase: votes/s and their
ratio (does the webhook throughput add up?); the broadcast's messages/s, lost and duplicated; the
most messages the fake received in any one second, against the budget (the poll's ballots, sent
through the same outbox while the phases run, count in "all").

    .venv/bin/python bench/replicas.py                       # PostgreSQL on 127.0.0.1, Redis db 7
    .venv/bin/python bench/replicas.py --rate 100 --recipients 1500 --votes 2000
    .venv/bin/python bench/replicas.py --no-redis            # each replica keeps its own budget: twice the rate
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import func
from sqlmodel import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.broadcast import _free_port, _wait_until_up, seed_notice
from bench.votes import SECRET, TOKEN, _seed, _serve, callback, fresh_database
from bot.migrate import upgrade
from models.db import create_engine, session_factory
from models.tables import OutboxMessage, OutboxStatus
from tests.fake_telegram import FakeTelegram

FIRST_VOTER = 7_000_000
FIRST_CHAT = 8_000_000  # the broadcast's chats: phase n's from FIRST_CHAT + n * 1,000,000
IN_FLIGHT = 32
WARM_UP = 64  # votes each replica gets before a phase is measured, not counted


def _serve_fake(port: int) -> None:
    """The fake Bot API in a process of its own (so the votes this process posts do not delay it),
    with the arrival times of what it was sent at /bench/sent."""
    fake = FakeTelegram()
    app = fake.app()

    async def sent(request: web.Request) -> web.Response:
        # Every message sent and every edit (a vote's answer edits its ballot): both spend the budget.
        return web.json_response([[m.chat_id, m.at] for m in fake.shown])

    app.router.add_get("/bench/sent", sent)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def _sent(fake_url: str) -> list[tuple[int, float]]:
    async with aiohttp.ClientSession() as client, client.get(f"{fake_url}/bench/sent") as response:
        return [(int(chat), float(at)) for chat, at in await response.json()]


async def _post_votes(urls: list[str], bodies: list[dict[str, Any]], retries: list[int]) -> float:
    """POST every body, IN_FLIGHT at a time, spread over the replicas in turn; votes per second.
    ``retries`` counts the 5xx answers (the replica's database pool was busy), each posted again."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as client:

        async def worker(index: int) -> None:
            url = urls[index % len(urls)]
            while not queue.empty():
                body = queue.get_nowait()
                for _ in range(20):  # a 5xx is delivered again, as Telegram does
                    async with client.post(f"{url}/webhooks/telegram", data=json.dumps(body), headers=headers) as got:
                        text = await got.text()
                    if got.status < 500:
                        break
                    retries[0] += 1
                    await asyncio.sleep(0.2)
                assert got.status == 200, text

        await asyncio.gather(*(worker(i) for i in range(IN_FLIGHT)))
    return len(bodies) / (time.perf_counter() - started)


async def _healthy(url: str) -> None:
    """Wait for a replica to answer /healthz (a spawned process imports everything anew: slow on a busy machine)."""
    async with aiohttp.ClientSession() as client:
        for _ in range(600):
            with contextlib.suppress(aiohttp.ClientError):
                async with client.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} did not start")


async def _pending(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            count = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
            return int((await session.exec(count)).one())
    finally:
        await engine.dispose()


def _busiest_second(times: list[float]) -> int:
    """The most arrivals within any one second (a window sliding over every arrival)."""
    ordered, most, first = sorted(times), 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


async def _phase(
    label: str,
    urls: list[str],
    database_url: str,
    fake_url: str,
    votes: list[dict[str, Any]],
    recipients: int,
    first_chat: int,
    rate: float,
) -> float:
    for url in urls:
        await _healthy(url)
    for url in urls:  # every replica's connections opened and statements prepared before measuring
        await _post_votes([url], votes[:WARM_UP], [0])
    votes = votes[len(urls) * WARM_UP :]
    already = len(await _sent(fake_url))
    engine = create_engine(database_url)
    await seed_notice(session_factory(engine), recipients, first_chat, f"R{first_chat}")
    await engine.dispose()
    retries = [0]
    votes_per_second = await _post_votes(urls, votes, retries)
    deadline = time.monotonic() + recipients / rate * 3 + 60
    while await _pending(database_url):
        if time.monotonic() > deadline:
            raise TimeoutError("the outbox was not drained")
        await asyncio.sleep(0.5)
    sent = (await _sent(fake_url))[already:]
    broadcast = [at for chat, at in sent if first_chat <= chat < first_chat + recipients]
    per_chat = Counter(chat for chat, _ in sent if first_chat <= chat < first_chat + recipients)
    lost = recipients - len(per_chat)
    duplicated = sum(1 for count in per_chat.values() if count > 1)
    span = max(broadcast) - min(broadcast)
    during = sum(1 for _, at in sent if min(broadcast) <= at <= max(broadcast))
    busiest, busiest_broadcast = _busiest_second([at for _, at in sent]), _busiest_second(broadcast)
    print(f"  {label}: votes {votes_per_second:6.1f}/s ({retries[0]} 5xx retried); broadcast "
          f"{len(broadcast) / span:6.1f} msg/s = {len(broadcast) / span / rate:5.3f} x budget, lost {lost}, "
          f"duplicated {duplicated}; while it went, all calls (votes' answers too) {during / span:6.1f}/s = "
          f"{during / span / rate:5.3f} x budget; busiest second at the fake: {busiest_broadcast} broadcast "
          f"messages, {busiest} calls in all ({len(sent) - len(broadcast)} not the broadcast)")  # fmt: skip
    return votes_per_second


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7", help="emptied first")
    parser.add_argument("--no-redis", action="store_true", help="replicas without Redis: each its own budget")
    parser.add_argument("--rate", type=float, default=100.0, help="CHIBO_BROADCAST_RATE, messages/s")
    parser.add_argument("--recipients", type=int, default=1500, help="the broadcast's size, each phase")
    parser.add_argument("--votes", type=int, default=2000, help="vote callbacks posted, each phase")
    args = parser.parse_args()
    port = _free_port()
    fake = multiprocessing.Process(target=_serve_fake, args=(port,), daemon=True)
    fake.start()
    fake_url = f"http://127.0.0.1:{port}"
    await _wait_until_up(fake_url)
    redis_url = None if args.no_redis else args.redis_url
    if redis_url:
        async with contextlib.aclosing(Redis.from_url(redis_url)) as redis:
            await redis.flushdb()
    async with fresh_database(args.database_url) as database_url:
        await upgrade(database_url)
        voters = 2 * (args.votes + 2 * WARM_UP)
        poll = await _seed(database_url, voters, secret=False, first_user=FIRST_VOTER)
        votes = [callback(FIRST_VOTER + i, f"pv:{poll}:{1 << (i % 3)}", 40_000_000 + i) for i in range(voters)]
        options = {
            "database_url": database_url, "telegram_token": TOKEN, "telegram_mode": "webhook",
            "public_url": "https://bench.invalid", "webhook_secret": SECRET, "telegram_api_base": fake_url,
            "broadcast_rate": str(args.rate), **({"redis_url": redis_url} if redis_url else {}),
        }  # fmt: skip
        budget = f"shared through {redis_url}" if redis_url else "each replica its own (no Redis)"
        print(f"{args.recipients} recipients and {args.votes} votes per phase, budget {args.rate:g}/s {budget}, "
              f"{database_url.split(':')[0]}")  # fmt: skip
        half = len(votes) // 2
        async with _serve("chibo", options) as first:
            one = await _phase("1 replica ", [first], database_url, fake_url, votes[:half], args.recipients,
                               FIRST_CHAT + 1_000_000, args.rate)  # fmt: skip
            async with _serve("chibo", options) as second:
                two = await _phase("2 replicas", [first, second], database_url, fake_url, votes[half:],
                                   args.recipients, FIRST_CHAT + 2_000_000, args.rate)  # fmt: skip
        print(f"  votes/s with 2 replicas / with 1: {two / one:.2f}")
    fake.terminate()
    fake.join()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
