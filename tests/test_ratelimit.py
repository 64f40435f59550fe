"""The delivery budget: slots reserved one after another, per platform, per chat, shared through Redis."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.ratelimit import PER_CHAT_INTERVAL, LocalRateLimiter, RedisRateLimiter

REDIS_URL = "redis://127.0.0.1:6379/14"


def _redis_skip() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return None
    except OSError as error:
        return f"Redis at 127.0.0.1:6379 is unreachable ({error}); the shared budget is not tested"


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    reason = _redis_skip()
    if reason:
        pytest.skip(reason)
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def _redis_now_us(redis: Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1_000_000 + int(micros)


async def test_two_processes_share_one_budget_through_redis(redis: Redis) -> None:
    prefix = f"chibo:test:{uuid.uuid4().hex}"
    second_process = Redis.from_url(REDIS_URL)
    try:
        limiters = [RedisRateLimiter(r, {"telegram": 50.0}, prefix=prefix) for r in (redis, second_process)]
        start = await _redis_now_us(redis)
        await asyncio.gather(*(limiters[i % 2].acquire("telegram", f"chat-{i}") for i in range(20)))
        next_slot = int(await redis.get(f"{prefix}:telegram:next") or 0)
        # 20 sends at 50/s: the slots handed out span 20 intervals of 20 ms, whichever process asked.
        assert next_slot - start >= 20 * 20_000
        # Another platform has a budget of its own.
        assert await redis.get(f"{prefix}:zalo_bot:next") is None
    finally:
        await second_process.aclose()


async def test_one_chat_gets_at_most_one_message_a_second_and_a_pause_holds_everyone(redis: Redis) -> None:
    prefix = f"chibo:test:{uuid.uuid4().hex}"
    limiter = RedisRateLimiter(redis, {"telegram": 1000.0}, prefix=prefix)
    start = await _redis_now_us(redis)
    await limiter.acquire("telegram", "same-chat")
    await limiter.acquire("telegram", "same-chat")
    chat_next = int(await redis.get(f"{prefix}:telegram:chat:same-chat") or 0)
    assert chat_next - start >= 2 * PER_CHAT_INTERVAL * 1_000_000
    await limiter.pause("telegram", 0.5)
    paused_until = int(await redis.get(f"{prefix}:telegram:pause") or 0)
    await limiter.acquire("telegram", "another-chat")
    assert await _redis_now_us(redis) >= paused_until  # it waited out the pause


class _Clock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_local_budget_spaces_sends_and_honours_a_pause() -> None:
    clock = _Clock()
    limiter = LocalRateLimiter({"telegram": 100.0}, clock=clock)
    delays = [limiter._reserve("telegram", f"chat-{i}") for i in range(10)]
    # At 100/s, ten sends reserved at one instant are spread 10 ms apart, starting now.
    assert delays == pytest.approx([i * 0.01 for i in range(10)])
    assert limiter._reserve("telegram", "chat-0") == pytest.approx(PER_CHAT_INTERVAL)  # the same chat waits a second
    clock.now += 5.0
    assert limiter._reserve("telegram", "chat-0") == 0  # the budget has refilled by then
    await limiter.pause("telegram", 30.0)
    assert limiter._reserve("telegram", "fresh-chat") == pytest.approx(30.0)
    assert limiter._reserve("zalo_bot", "fresh-chat") == 0  # another platform is not paused


async def test_without_redis_each_process_keeps_its_own_budget() -> None:
    nowhere = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        limiter = RedisRateLimiter(nowhere, {"telegram": 2.0})
        await limiter.pause("telegram", 0.0)
        await limiter.acquire("telegram", "chat-0")  # no error: delivery goes on
        # ...on this process's own budget: that send took the slot, so at 2/s the next one waits.
        assert limiter._fallback._reserve("telegram", "chat-1") > 0.25
    finally:
        await nowhere.aclose()
