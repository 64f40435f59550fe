"""The delivery budget: slots reserved one after another, per platform, per chat, shared through Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from bot.ratelimit import (
    CONGESTION_CHATS,
    CONGESTION_SAMPLE,
    DECREASE,
    INCREASE_SHARE,
    PER_CHAT_INTERVAL,
    LocalRateLimiter,
    RedisRateLimiter,
)
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.paced  # the platforms' one message a second to a chat, as in production


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
    assert [delay for delay, _ in delays] == pytest.approx([i * 0.01 for i in range(10)])
    # The same chat waits a second, without taking a slot from the others meanwhile.
    assert limiter._reserve("telegram", "chat-0") == pytest.approx((PER_CHAT_INTERVAL, False))
    assert limiter._reserve("telegram", "chat-10") == pytest.approx((0.1, True))
    clock.now += 5.0
    assert limiter._reserve("telegram", "chat-0") == (0, True)  # the budget has refilled by then
    await limiter.pause("telegram", 30.0)
    assert limiter._reserve("telegram", "fresh-chat") == pytest.approx((30.0, True))
    assert limiter._reserve("zalo_bot", "fresh-chat") == (0, True)  # another platform is not paused


async def test_sends_that_wake_late_together_still_leave_spaced() -> None:
    clock = _Clock()
    limiter = LocalRateLimiter({"telegram": 100.0}, clock=clock)
    for i in range(3):
        limiter._reserve("telegram", f"chat-{i}")
    clock.now += 0.5  # the event loop stalled: all three slots have passed when they wake
    assert [limiter._commit("telegram") for _ in range(3)] == pytest.approx([0.0, 0.01, 0.02])


async def test_a_429_for_one_chat_holds_that_chat_only() -> None:
    clock = _Clock()
    limiter = LocalRateLimiter({"telegram": 100.0}, clock=clock)
    for i in range(CONGESTION_CHATS - 1):  # a few chats, each answered 429: no cut
        assert not await limiter.limited("telegram", f"slow-{i}", 3.0)
    assert limiter._reserve("telegram", "slow-0") == pytest.approx((3.0, False))  # held, no slot taken
    assert limiter._reserve("telegram", "other") == (0, True)  # the others go at once...
    assert limiter.rate("telegram") == 100.0  # ...at the full rate
    clock.now += 3.0
    assert limiter._reserve("telegram", "slow-0") == (0, True)  # after retry_after, it goes


async def test_429s_from_many_chats_at_once_pause_the_platform_and_cut_its_rate() -> None:
    clock = _Clock()
    limiter = LocalRateLimiter({"telegram": 100.0}, clock=clock)
    cuts = [await limiter.limited("telegram", f"chat-{i}", 2.0) for i in range(CONGESTION_CHATS)]
    assert cuts == [False] * (CONGESTION_CHATS - 1) + [True]
    assert limiter.rate("telegram") == 100.0 * DECREASE
    assert limiter._reserve("telegram", "fresh-chat") == pytest.approx((2.0, True))  # everyone waits retry_after
    assert limiter._reserve("zalo_bot", "fresh-chat") == (0, True)  # another platform does not
    clock.now += 2.0 + 1.0  # a second after the pause: grown back by INCREASE_SHARE of the rate
    assert limiter.rate("telegram") == pytest.approx(100.0 * (DECREASE + INCREASE_SHARE))
    clock.now += 60.0
    assert limiter.rate("telegram") == 100.0  # never above what was configured
    # 429s spread out in time (one now and then, as a chat's own limit gives) never add up to a cut.
    for i in range(3 * CONGESTION_CHATS):
        assert not await limiter.limited("telegram", f"now-and-then-{i}", 1.0)
        clock.now += 1.1 * CONGESTION_SAMPLE / 100.0 / (CONGESTION_CHATS - 1)  # just under ten in the span


async def test_redis_holds_a_429d_chat_only_and_many_chats_429s_cut_every_process(redis: Redis) -> None:
    prefix = f"chibo:test:{uuid.uuid4().hex}"
    second_process = Redis.from_url(REDIS_URL)
    try:
        one, other = (RedisRateLimiter(r, {"telegram": 1000.0}, prefix=prefix) for r in (redis, second_process))
        assert not await one.limited("telegram", "held-long", 30.0)
        assert not await one.limited("telegram", "slow", 0.3)
        long_hold = int(await redis.get(f"{prefix}:telegram:chat:held-long") or 0)
        hold = int(await redis.get(f"{prefix}:telegram:chat:slow") or 0)
        await other.acquire("telegram", "fresh")  # another process, another chat: not held
        fresh_slot = int(await redis.get(f"{prefix}:telegram:chat:fresh") or 0) - PER_CHAT_INTERVAL * 1_000_000
        assert fresh_slot < long_hold
        await other.acquire("telegram", "slow")  # the held chat, in any process, waits out its retry_after
        assert await _redis_now_us(redis) >= hold
        assert await redis.get(f"{prefix}:telegram:window") is None  # one chat's 429: the rate stands
        cuts = [await (one, other)[i % 2].limited("telegram", f"chat-{i}", 0.3) for i in range(CONGESTION_CHATS)]
        assert cuts[-1] and not any(cuts[:-1])  # the tenth chat within the span, whichever process heard it
        window = await redis.hgetall(f"{prefix}:telegram:window")
        assert float(window[b"base"]) == 1000.0 * DECREASE
        paused_until = int(await redis.get(f"{prefix}:telegram:pause") or 0)
        await one.acquire("telegram", "fresh-2")
        assert await _redis_now_us(redis) >= paused_until  # every chat waited for the platform
    finally:
        await second_process.aclose()


async def test_without_redis_each_process_keeps_its_own_budget() -> None:
    nowhere = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        limiter = RedisRateLimiter(nowhere, {"telegram": 2.0})
        await limiter.pause("telegram", 0.0)
        await limiter.acquire("telegram", "chat-0")  # no error: delivery goes on
        # ...on this process's own budget: that send took the slot, so at 2/s the next one waits.
        assert limiter._fallback._reserve("telegram", "chat-1")[0] > 0.25
    finally:
        await nowhere.aclose()
