"""Broadcast throughput: a notice to N members through a local fake Bot API that enforces L msg/s.

The fake (its own process, so it does not share our event loop) answers 429 with retry_after=1
when more than L calls arrive within a second, and also injects 1% 429s and 2% 403s (blocked).
It prints, for chibo's delivery worker and for a naive loop (send; sleep 1/L), achieved API
calls per second divided by L, and how many members got nothing (lost) or more than one (dup).

    .venv/bin/python bench/broadcast.py --database-url postgresql+asyncpg://postgres@127.0.0.1/bench
    .venv/bin/python bench/broadcast.py --recipients 2000 --rates 1000 --redis-url redis://127.0.0.1:6379/7

By default 3,000 recipients at L <= 100/s (100 s at 30/s) and 20,000 above (20 s at 1000/s), so
both rates fit in 10 minutes. chibo's budget is 0.99 L (``--pace``; chibo's own default for
Telegram is its stated limit itself, 30/s): the injected 429s take 1% of the calls, so 0.97 L left
at most 0.96 L accepted. The rate is counted from the first call to the last, the retries
included: the chats answered 429 near the end are retried a second later (retry_after), which
costs a 10,000-recipient run at 1000/s a tenth of its span; 20,000 halves that.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import re
import socket
import sys
import tempfile
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.channels.telegram import TelegramSender, make_bot
from bot.delivery import DeliveryWorker
from bot.i18n import Catalogs
from bot.metrics import Metrics
from bot.migrate import upgrade
from bot.ratelimit import LocalRateLimiter, RateLimiter, RedisRateLimiter
from bot.runtime import keep_out_of_full_collections
from handlers.notices import notice_body_maker
from models.db import create_engine, session_factory
from models.notices import Audience, create_draft, send_now
from models.permissions import OPERATOR
from models.tables import Branch, ChannelIdentity, Committee, Member, OutboxMessage, OutboxStatus, Platform

TOKEN = "123456:bench-token-for-the-fake-bot-api"
FIRST_CHAT = 1_000_000


def _blocked(chat: int) -> bool:
    return chat % 50 == 0  # 2%


_CHAT_FIELD = re.compile(rb'(?:^|&)chat_id=(-?\d+)|name="chat_id"[^\r]*\r\n(?:[^\r]+\r\n)*\r\n(-?\d+)')


def _slowed_once(chat: int, per_hundred: int) -> bool:
    # The first call for 1% of chats (by default) gets a 429; never a blocked chat, so it shows.
    return 1 <= chat % 100 <= per_hundred


def serve_fake(port: int, limit: float, inject_429: int) -> None:
    """The fake Bot API: sendMessage within ``limit`` calls per second, or 429.

    A bare asyncio protocol speaking just enough HTTP/1.1 (keep-alive, Content-Length bodies): the
    same rule as the platform at a fifth of the CPU aiohttp's server took (0.18 s against 0.91 s for
    3,000 calls in one broadcast), so that on a busy machine the fake is scheduled late less often.
    It counts its own limit's 429s apart from the injected ones, and the most calls it accepted
    within any one second."""
    recent: deque[float] = deque()
    delivered: Counter[int] = Counter()
    slowed: set[int] = set()
    calls = {"total": 0, "first": 0.0, "last": 0.0, "limited": 0, "over_limit": 0, "busiest_second": 0}
    per_second: Counter[int] = Counter()  # calls accepted in each second from the first call

    def send(body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
        if content_type.startswith("application/json"):
            chat = int(str(json.loads(body)["chat_id"]))
        else:  # aiogram's form: urlencoded, or multipart when it carries a file
            found = _CHAT_FIELD.search(body)
            if found is None:
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat_id is empty"}
            chat = int(found.group(1) or found.group(2))
        now = time.monotonic()
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        calls["total"] += 1
        calls["first"] = calls["first"] or now
        calls["last"] = now
        over = len(recent) >= limit
        if over or (_slowed_once(chat, inject_429) and chat not in slowed):
            slowed.add(chat)
            calls["limited"] += 1
            calls["over_limit"] += over
            body_ = {"ok": False, "error_code": 429, "description": "Too Many Requests"}
            return 429, {**body_, "parameters": {"retry_after": 1}}
        recent.append(now)
        per_second[int(now - calls["first"])] += 1
        calls["busiest_second"] = max(calls["busiest_second"], len(recent))
        if _blocked(chat):
            return 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
        delivered[chat] += 1
        result = {"message_id": 1, "date": 0, "chat": {"id": chat, "type": "private"}, "text": "x"}
        return 200, {"ok": True, "result": result}

    def answer(method: bytes, path: bytes, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
        if path == f"/bot{TOKEN}/sendMessage".encode():
            return send(body, content_type)
        if path == b"/stats":
            seconds = [per_second[second] for second in range(max(per_second, default=-1) + 1)]
            return 200, {"delivered": {str(k): v for k, v in delivered.items()}, "per_second": seconds, **calls}
        if path == b"/reset" and method == b"POST":
            delivered.clear()
            slowed.clear()
            recent.clear()
            per_second.clear()
            calls.update(total=0, first=0.0, last=0.0, limited=0, over_limit=0, busiest_second=0)
            return 200, {}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    class Http(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                head = self.buffer[:end].split(b"\r\n")
                headers = dict(line.split(b":", 1) for line in head[1:])
                fields = {k.strip().lower(): v.strip() for k, v in headers.items()}
                length = int(fields.get(b"content-length", b"0"))
                if len(self.buffer) < end + 4 + length:
                    return  # the rest of the body is on its way
                body = self.buffer[end + 4 : end + 4 + length]
                self.buffer = self.buffer[end + 4 + length :]
                method, path, _version = head[0].split(b" ", 2)
                status, payload = answer(method, path, body, fields.get(b"content-type", b"").decode())
                out = json.dumps(payload).encode()
                self.transport.write(
                    b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (status, len(out), out)
                )

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_until_up(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                await client.get(f"{url}/stats")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise RuntimeError("the fake Bot API did not start")


async def _stats(url: str, reset: bool = False) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        if reset:
            await client.post(f"{url}/reset")
            return {}
        result: dict[str, Any] = (await client.get(f"{url}/stats")).json()
        return result


def _report(label: str, stats: dict[str, Any], recipients: int, limit: float) -> None:
    delivered = {int(k): v for k, v in stats["delivered"].items()}
    reachable = [FIRST_CHAT + i for i in range(recipients) if not _blocked(FIRST_CHAT + i)]
    lost = sum(1 for chat in reachable if chat not in delivered)
    duplicated = sum(1 for count in delivered.values() if count > 1)
    elapsed = max(stats["last"] - stats["first"], 1e-9)
    accepted = stats["total"] - stats["limited"]
    rate = accepted / elapsed
    print(
        f"  {label:<8} {rate:8.1f} calls/s accepted  = {rate / limit:5.3f} x L   "
        f"{elapsed:7.1f} s   lost {lost}   duplicated {duplicated}   429s {stats['limited']} "
        f"({stats['over_limit']} for the rate)   busiest second {stats['busiest_second']}"
    )
    # Where a run falls short of L: a slow start, a pause, or the last chats' retries.
    print(f"           accepted each second from the first call: {' '.join(map(str, stats['per_second']))}")


async def seed_notice(sessions: async_sessionmaker[AsyncSession], recipients: int, first_chat: int, code: str) -> None:
    """A branch of ``recipients`` members on Telegram (chats from ``first_chat`` on) and a notice sent
    to all of them: an outbox row each, for delivery to drain. The roster is in place before the
    notice, as a commune's is: on PostgreSQL its tables are analysed first (the planner's figures
    for tables just filled said "empty", and a batch's languages took 60-110 ms instead of 1)."""
    async with sessions() as session, session.begin():
        committee = Committee(name="Bench")
        session.add(committee)
        await session.flush()
        branch = Branch(committee_id=committee.id or 0, code=code, name=f"Bench {code}")
        session.add(branch)
        await session.flush()
        people = [Member(branch_id=branch.id or 0, full_name=f"M {i}") for i in range(recipients)]
        session.add_all(people)
        await session.flush()
        session.add_all(
            ChannelIdentity(
                platform=Platform.TELEGRAM, platform_user_id=f"{code}-{i}", chat_id=str(first_chat + i),
                member_id=p.id or 0,
            )
            for i, p in enumerate(people)
        )  # fmt: skip
    async with sessions() as session, session.begin():
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            await connection.execute(text("ANALYZE member, channelidentity"))
    async with sessions() as session, session.begin():
        notice = await create_draft(session, OPERATOR, "Bench notice", Audience((branch.id or 0,)))
        await send_now(session, OPERATOR, notice, notice_body_maker(Catalogs("vi")))


async def _chibo(
    url: str, database_url: str, recipients: int, limit: float, redis_url: str | None, pace: float
) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    await seed_notice(sessions, recipients, FIRST_CHAT, f"B{int(limit)}")
    keep_out_of_full_collections()  # as `chibo serve` does once started
    bot = make_bot(TOKEN, url)
    # A little under L (--pace): the fake counts arrivals, and a busy event loop bunches some of them.
    rates = {"telegram": limit * pace}
    redis = Redis.from_url(redis_url) if redis_url else None
    if redis is not None:
        await redis.flushdb()  # the bench's own Redis database: no budget left from an earlier run
    limiter: RateLimiter = RedisRateLimiter(redis, rates) if redis is not None else LocalRateLimiter(rates)
    worker = DeliveryWorker(sessions, {Platform.TELEGRAM: TelegramSender(bot)}, Metrics(), limiter=limiter)
    task = asyncio.create_task(worker.run())
    from sqlalchemy import func
    from sqlmodel import select

    while True:
        async with sessions() as session:
            pending = (
                await session.exec(
                    select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
                )
            ).one()
        if not pending:
            break
        await asyncio.sleep(0.2)
    worker.stop()
    await task
    await bot.session.close()
    await engine.dispose()
    if redis is not None:
        await redis.aclose()


async def _naive(url: str, recipients: int, limit: float) -> None:
    """The baseline: one member after another, a fixed sleep between sends, no retry logic."""
    bot = make_bot(TOKEN, url)
    sender = TelegramSender(bot)
    from bot.delivery import SendError
    from handlers.contract import Reply

    for i in range(recipients):
        with contextlib.suppress(SendError):  # the naive loop loses what fails
            await sender.send(str(FIRST_CHAT + i), Reply("Bench notice"))
        await asyncio.sleep(1 / limit)
    await bot.session.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, help="default: 3,000 at L <= 100/s, else 20,000")
    parser.add_argument("--rates", type=float, nargs="+", default=[30.0, 1000.0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--redis-url", help="share the budget through this Redis database (it is emptied)")
    parser.add_argument("--inject-429", type=int, default=1, metavar="PERCENT", help="chats whose first call gets 429")
    parser.add_argument("--pace", type=float, default=0.99, help="chibo's budget as a share of L (default 0.99)")
    args = parser.parse_args()
    for limit in args.rates:
        recipients = args.recipients or (3_000 if limit <= 100 else 20_000)
        port = _free_port()
        fake = multiprocessing.Process(target=serve_fake, args=(port, limit, args.inject_429), daemon=True)
        fake.start()
        url = f"http://127.0.0.1:{port}"
        try:
            await _wait_until_up(url)
            with tempfile.TemporaryDirectory() as tmp:
                database_url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
                await upgrade(database_url)
                kind = database_url.split(":")[0]
                budget = "Redis" if args.redis_url else "in process"
                print(f"L = {limit:g} msg/s, {recipients} recipients ({args.inject_429}% 429, 2% 403), {kind}, "
                      f"budget {budget}")  # fmt: skip
                await _chibo(url, database_url, recipients, limit, args.redis_url, args.pace)
                _report("chibo", await _stats(url), recipients, limit)
            await _stats(url, reset=True)
            await _naive(url, recipients, limit)
            _report("naive", await _stats(url), recipients, limit)
        finally:
            fake.terminate()
            fake.join()


if __name__ == "__main__":
    asyncio.run(main())
