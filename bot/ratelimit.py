"""Keeping sends within what a platform allows: a global messages/second budget per platform, at
most one message per second to any one chat, and a pause for everyone after a 429.

Each send reserves the next free slot and sleeps until it; reserving is one atomic step (in this
process, or in Redis when several processes share the budget), so slots never overlap and a
burst is spread evenly instead of being refused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

PER_CHAT_INTERVAL = 1.0  # seconds between two messages to one chat
_CHAT_MEMORY = 10_000  # per-chat slots remembered in process before the oldest are dropped


class RateLimiter(Protocol):
    async def acquire(self, platform: str, chat_id: str) -> None:
        """Wait until this chat on this platform may receive one message."""

    async def pause(self, platform: str, seconds: float) -> None:
        """Nobody on the platform sends for ``seconds`` (the platform said 429 retry_after)."""


class LocalRateLimiter:
    """The budget of one process, on a monotonic clock (passed in, so tests can set the time)."""

    def __init__(self, rates: Mapping[str, float], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._interval = {platform: 1.0 / rate for platform, rate in rates.items()}
        self._next: dict[str, float] = {}
        self._paused_until: dict[str, float] = {}
        self._chat_next: dict[tuple[str, str], float] = {}

    def _reserve(self, platform: str, chat_id: str) -> float:
        now = self._clock()
        chat_key = (platform, chat_id)
        slot = max(now, self._chat_next.get(chat_key, 0.0), self._next.get(platform, 0.0),
                   self._paused_until.get(platform, 0.0))  # fmt: skip
        self._next[platform] = slot + self._interval.get(platform, 0.0)
        self._chat_next[chat_key] = slot + PER_CHAT_INTERVAL
        if len(self._chat_next) > _CHAT_MEMORY:
            for key in [k for k, until in self._chat_next.items() if until < now]:
                del self._chat_next[key]
        return slot - now

    async def acquire(self, platform: str, chat_id: str) -> None:
        delay = self._reserve(platform, chat_id)
        if delay > 0:
            await asyncio.sleep(delay)
        # A pause that began while this send slept still applies to it.
        paused = self._paused_until.get(platform, 0.0) - self._clock()
        if paused > 0:
            await self.acquire(platform, chat_id)

    async def pause(self, platform: str, seconds: float) -> None:
        until = self._clock() + seconds
        self._paused_until[platform] = max(self._paused_until.get(platform, 0.0), until)
        self._next[platform] = max(self._next.get(platform, 0.0), until)


# KEYS: next slot of the platform, its pause, the chat's next slot. ARGV: interval, per-chat interval.
# Times are Redis's own clock (TIME), so every process agrees on them. Returns the wait in µs.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local per_chat = tonumber(ARGV[2])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or 0),
                      tonumber(redis.call('GET', KEYS[2]) or 0), tonumber(redis.call('GET', KEYS[3]) or 0))
redis.call('SET', KEYS[1], string.format('%d', slot + interval), 'PX', 60000)
local chat_ttl = math.floor((slot - now + per_chat) / 1000) + 1000
redis.call('SET', KEYS[3], string.format('%d', slot + per_chat), 'PX', chat_ttl)
return slot - now
"""
_PAUSE = """
local t = redis.call('TIME')
local until_ = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or 0)
if until_ > current then
  redis.call('SET', KEYS[1], string.format('%d', until_), 'PX', math.floor(tonumber(ARGV[1]) / 1000) + 1000)
end
return until_
"""
_CHECK_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
return math.max(0, tonumber(redis.call('GET', KEYS[1]) or 0) - now)
"""


class RedisRateLimiter:
    """The same budget, shared by every process that uses this Redis (atomic Lua scripts).

    While Redis does not answer, each process keeps to the budget on its own (it may then send
    up to N times the rate for N processes) rather than stop delivering."""

    def __init__(self, redis: Redis, rates: Mapping[str, float], *, prefix: str = "chibo:rate") -> None:
        self._redis = redis
        self._fallback = LocalRateLimiter(rates)
        self._interval_us = {platform: round(1_000_000 / rate) for platform, rate in rates.items()}
        self._prefix = prefix
        self._reserve = redis.register_script(_RESERVE)
        self._pause = redis.register_script(_PAUSE)
        self._check_pause = redis.register_script(_CHECK_PAUSE)

    def _keys(self, platform: str) -> tuple[str, str]:
        return f"{self._prefix}:{platform}:next", f"{self._prefix}:{platform}:pause"

    async def acquire(self, platform: str, chat_id: str) -> None:
        try:
            await self._acquire(platform, chat_id)
        except (RedisError, OSError) as error:
            log.warning("rate limit: Redis unavailable (%s); keeping to this process's budget", type(error).__name__)
            await self._fallback.acquire(platform, chat_id)

    async def _acquire(self, platform: str, chat_id: str) -> None:
        next_key, pause_key = self._keys(platform)
        chat_key = f"{self._prefix}:{platform}:chat:{chat_id}"
        interval = self._interval_us.get(platform, 0)
        wait_us = int(
            await self._reserve(keys=[next_key, pause_key, chat_key], args=[interval, round(PER_CHAT_INTERVAL * 1e6)])
        )
        if wait_us > 0:
            await asyncio.sleep(wait_us / 1_000_000)
        if int(await self._check_pause(keys=[pause_key])) > 0:
            await self._acquire(platform, chat_id)

    async def pause(self, platform: str, seconds: float) -> None:
        await self._fallback.pause(platform, seconds)
        try:
            await self._pause(keys=[self._keys(platform)[1]], args=[round(seconds * 1_000_000)])
        except (RedisError, OSError) as error:
            log.warning("rate limit: Redis unavailable (%s); the pause holds this process only", type(error).__name__)
