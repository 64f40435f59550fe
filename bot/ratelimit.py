"""Keeping sends within what a platform allows: a messages/second budget per platform, at most one
message per second to any one chat, and the platform's 429s answered where they belong.

Each send reserves the next free slot and sleeps until it; reserving is one atomic step (in this
process, or in Redis when several processes share the budget), so slots never overlap and a
burst is spread evenly instead of being refused. Waking at its slot, a send takes a second, short
step that spaces it from the send that last left, so sends that woke late together (a busy event
loop) do not reach the platform in a burst above the rate. A chat that is waiting (its second since the last
message, or a 429's ``retry_after``) waits without taking a slot, so it holds up nobody else.

A 429 holds its own chat for ``retry_after``. The platform's rate is a congestion window, as in TCP
(AIMD): when 429s come from many chats at once (``CONGESTION_CHATS`` distinct chats within the time
of the last ``CONGESTION_SAMPLE`` sends: one call in five refused) the platform itself is over its
limit, so every send waits ``retry_after`` and the rate is cut by ``DECREASE``; it then grows back by
``INCREASE_SHARE`` of the configured rate each second, up to that rate.

Why these numbers, against what the platforms state. Telegram allows a bot about 30 messages/s in
bulk (up to 1000/s with paid broadcasts), one a second per chat and 20 a minute per group; over
them it answers 429 with ``retry_after``. A chat's own limit refuses that one chat (the odd
recipient of a reply and a notice in the same second, a busy group): a hold on the chat is the whole
answer, and never slows the others. The bulk limit refuses every call past it: sent at a quarter
above the limit, one call in five is refused, in every span of sends, and that is a cut. Refusals
below that share are arrivals bunched at the limit (a send paced just under it, delayed by a busy
event loop or network, lands in the same second as the next): each is held and retried after its
``retry_after``, and halving the rate for them (as the first version did) cost more than the
refusals. The configured rate is the platform's stated limit, so the window only has to find a
limit a little lower than stated (a shared bot, a platform under load): a cut of 15% and a second
or two to grow back, not TCP's halving. Zalo states no per-second limit we could read (its answers
"over the request rate" carry no wait; the channels then use one second): the same rule applies, at
the rate configured for each Zalo channel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the redis library is loaded only when CHIBO_REDIS_URL is set
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

PER_CHAT_INTERVAL = 1.0  # seconds between two messages to one chat
CONGESTION_SAMPLE = 50  # sends: 429s are counted within the time these take (at least a second)
CONGESTION_CHATS = 10  # distinct chats answered 429 within it (one in five): the platform's limit
DECREASE = 0.85  # the rate after a cut, as a share of the rate before it
INCREASE_SHARE = 0.1  # of the configured rate, added back each second after a cut
MIN_RATE = 1.0  # messages per second: no cut goes below it
_CHAT_MEMORY = 10_000  # per-chat slots remembered in process before the oldest are dropped


class RateLimiter(Protocol):
    async def acquire(self, platform: str, chat_id: str) -> None:
        """Wait until this chat on this platform may receive one message."""

    async def limited(self, platform: str, chat_id: str, seconds: float) -> bool:
        """The platform answered 429 ``retry_after=seconds`` for this chat: the chat waits that long;
        when many chats were answered so at once, the whole platform waits and its rate is cut.
        True when it was cut."""


class _Window:
    """One platform's congestion window in this process: its rate after the last cut, growing back."""

    def __init__(self, rate: float) -> None:
        self.ceiling = rate
        self.base = rate
        self.since = float("-inf")
        self.limited: dict[str, float] = {}  # chat → when it was last answered 429

    def rate(self, now: float) -> float:
        return min(self.ceiling, self.base + self.ceiling * INCREASE_SHARE * max(0.0, now - self.since))


class LocalRateLimiter:
    """The budget of one process, on a monotonic clock (passed in, so tests can set the time)."""

    def __init__(self, rates: Mapping[str, float], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows = {platform: _Window(rate) for platform, rate in rates.items()}
        self._next: dict[str, float] = {}
        self._sent_next: dict[str, float] = {}
        self._paused_until: dict[str, float] = {}
        self._chat_next: dict[tuple[str, str], float] = {}

    def rate(self, platform: str) -> float | None:
        """Messages per second allowed now (None: no limit)."""
        window = self._windows.get(platform)
        return None if window is None else window.rate(self._clock())

    def _reserve(self, platform: str, chat_id: str) -> tuple[float, bool]:
        """The wait before this chat's send, and whether a slot was taken (else the chat itself
        must wait that long first, and ask again)."""
        now = self._clock()
        chat_key = (platform, chat_id)
        held = self._chat_next.get(chat_key, 0.0) - now
        if held > 0:
            return held, False
        slot = max(now, self._next.get(platform, 0.0), self._paused_until.get(platform, 0.0))
        rate = self.rate(platform)
        self._next[platform] = slot + (1.0 / rate if rate else 0.0)
        self._chat_next[chat_key] = slot + PER_CHAT_INTERVAL
        if len(self._chat_next) > _CHAT_MEMORY:
            for key in [k for k, until in self._chat_next.items() if until < now]:
                del self._chat_next[key]
        return slot - now, True

    def _commit(self, platform: str) -> float | None:
        """At the reserved slot: the wait before the send really leaves, spaced from the last one that
        did (a send that woke late, as many do after the event loop stalled, does not leave in a burst
        with the others); None when a pause began meanwhile (reserve again)."""
        now = self._clock()
        if self._paused_until.get(platform, 0.0) > now:
            return None
        at = max(now, self._sent_next.get(platform, 0.0))
        rate = self.rate(platform)
        self._sent_next[platform] = at + (1.0 / rate if rate else 0.0)
        return at - now

    async def acquire(self, platform: str, chat_id: str) -> None:
        while True:
            delay, reserved = self._reserve(platform, chat_id)
            if delay > 0:
                await asyncio.sleep(delay)
            if not reserved:
                continue
            wait = self._commit(platform)
            if wait is not None:
                if wait > 0:
                    await asyncio.sleep(wait)
                return

    async def limited(self, platform: str, chat_id: str, seconds: float) -> bool:
        now = self._clock()
        chat_key = (platform, chat_id)
        self._chat_next[chat_key] = max(self._chat_next.get(chat_key, 0.0), now + seconds)
        window = self._windows.get(platform)
        if window is None:
            return False
        span = CONGESTION_SAMPLE / window.rate(now)
        window.limited[chat_id] = now
        for chat in [c for c, at in window.limited.items() if at < now - span]:
            del window.limited[chat]
        if len(window.limited) < CONGESTION_CHATS:
            return False
        window.limited.clear()
        window.base = max(MIN_RATE, window.rate(now) * DECREASE)
        window.since = now + seconds
        await self.pause(platform, seconds)
        return True

    async def pause(self, platform: str, seconds: float) -> None:
        """Nobody on the platform sends for ``seconds``."""
        until = self._clock() + seconds
        self._paused_until[platform] = max(self._paused_until.get(platform, 0.0), until)
        self._next[platform] = max(self._next.get(platform, 0.0), until)


# Times are Redis's own clock (TIME, in µs), so every process agrees on them. The window's rate
# after a cut lives in a hash (base, since) that expires once the rate has grown back.
_RATE = """
local function rate_now(window, now, ceiling, increase)
  if ceiling <= 0 then return 0 end
  local base = tonumber(redis.call('HGET', window, 'base') or 0)
  if base <= 0 then return ceiling end
  local since = tonumber(redis.call('HGET', window, 'since') or 0)
  return math.min(ceiling, base + increase * math.max(0, now - since) / 1000000)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
"""
# KEYS: the platform's next slot, its pause, its window, the chat's next slot.
# ARGV: the configured rate (0: none), the increase per second, the per-chat interval (µs).
# Returns {wait µs, 1 when a slot was taken / 0 when the chat itself must wait first}.
_RESERVE = (
    _RATE
    + """
local held = tonumber(redis.call('GET', KEYS[4]) or 0) - now
if held > 0 then return {held, 0} end
local rate = rate_now(KEYS[3], now, tonumber(ARGV[1]), tonumber(ARGV[2]))
local interval = 0
if rate > 0 then interval = math.floor(1000000 / rate) end
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or 0), tonumber(redis.call('GET', KEYS[2]) or 0))
redis.call('SET', KEYS[1], string.format('%d', slot + interval), 'PX', 60000)
local per_chat = tonumber(ARGV[3])
local chat_ttl = math.floor((slot - now + per_chat) / 1000) + 1000
redis.call('SET', KEYS[4], string.format('%d', slot + per_chat), 'PX', chat_ttl)
return {slot - now, 1}
"""
)
# KEYS: the chat's next slot, the platform's recent 429s (a sorted set of chats), its window, its pause.
# ARGV: retry_after (µs), the chat, the configured rate, the increase per second, CONGESTION_SAMPLE,
# CONGESTION_CHATS, DECREASE, MIN_RATE. Returns 1 when the window was cut.
_LIMITED = (
    _RATE
    + """
local hold = tonumber(ARGV[1])
if now + hold > tonumber(redis.call('GET', KEYS[1]) or 0) then
  redis.call('SET', KEYS[1], string.format('%d', now + hold), 'PX', math.floor(hold / 1000) + 1000)
end
local ceiling = tonumber(ARGV[3])
if ceiling <= 0 then return 0 end
local increase = tonumber(ARGV[4])
local rate = rate_now(KEYS[3], now, ceiling, increase)
local span = math.floor(tonumber(ARGV[5]) * 1000000 / rate)
redis.call('ZADD', KEYS[2], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - span)
redis.call('PEXPIRE', KEYS[2], math.floor(span / 1000) + 1000)
if redis.call('ZCARD', KEYS[2]) < tonumber(ARGV[6]) then return 0 end
redis.call('DEL', KEYS[2])
local base = math.max(tonumber(ARGV[8]), rate * tonumber(ARGV[7]))
redis.call('HSET', KEYS[3], 'base', tostring(base), 'since', string.format('%d', now + hold))
redis.call('PEXPIRE', KEYS[3], math.floor(hold / 1000 + (ceiling - base) / increase * 1000) + 1000)
if now + hold > tonumber(redis.call('GET', KEYS[4]) or 0) then
  redis.call('SET', KEYS[4], string.format('%d', now + hold), 'PX', math.floor(hold / 1000) + 1000)
end
return 1
"""
)
_PAUSE = """
local t = redis.call('TIME')
local until_ = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or 0)
if until_ > current then
  redis.call('SET', KEYS[1], string.format('%d', until_), 'PX', math.floor(tonumber(ARGV[1]) / 1000) + 1000)
end
return until_
"""
# At the reserved slot. KEYS: the platform's last send's next slot, its pause, its window.
# ARGV: the configured rate (0: none), the increase per second. Returns the wait in µs before the
# send leaves, spaced from the last one that did; -1 when a pause began meanwhile (reserve again).
_COMMIT = (
    _RATE
    + """
if tonumber(redis.call('GET', KEYS[2]) or 0) > now then return -1 end
local rate = rate_now(KEYS[3], now, tonumber(ARGV[1]), tonumber(ARGV[2]))
local interval = 0
if rate > 0 then interval = math.floor(1000000 / rate) end
local at = math.max(now, tonumber(redis.call('GET', KEYS[1]) or 0))
redis.call('SET', KEYS[1], string.format('%d', at + interval), 'PX', 60000)
return at - now
"""
)


class RedisRateLimiter:
    """The same budget, shared by every process that uses this Redis (atomic Lua scripts): the
    slots, each chat's hold, the recent 429s and the congestion window.

    While Redis does not answer, each process keeps to the budget on its own (it may then send
    up to N times the rate for N processes) rather than stop delivering."""

    def __init__(self, redis: Redis, rates: Mapping[str, float], *, prefix: str = "chibo:rate") -> None:
        from redis.exceptions import RedisError

        self._unavailable = (RedisError, OSError)
        self._redis = redis
        self._fallback = LocalRateLimiter(rates)
        self._rates = dict(rates)
        self._prefix = prefix
        self._reserve = redis.register_script(_RESERVE)
        self._limited = redis.register_script(_LIMITED)
        self._pause = redis.register_script(_PAUSE)
        self._commit = redis.register_script(_COMMIT)

    def _key(self, platform: str, name: str) -> str:
        return f"{self._prefix}:{platform}:{name}"

    def _rate_args(self, platform: str) -> list[float]:
        ceiling = self._rates.get(platform, 0.0)
        return [ceiling, ceiling * INCREASE_SHARE]

    async def acquire(self, platform: str, chat_id: str) -> None:
        try:
            await self._acquire(platform, chat_id)
        except self._unavailable as error:
            log.warning("rate limit: Redis unavailable (%s); keeping to this process's budget", type(error).__name__)
            await self._fallback.acquire(platform, chat_id)

    async def _acquire(self, platform: str, chat_id: str) -> None:
        keys = [self._key(platform, "next"), self._key(platform, "pause"), self._key(platform, "window"),
                self._key(platform, f"chat:{chat_id}")]  # fmt: skip
        args = [*self._rate_args(platform), round(PER_CHAT_INTERVAL * 1e6)]
        commit_keys = [self._key(platform, "sent"), keys[1], keys[2]]
        while True:
            wait_us, reserved = (int(v) for v in await self._reserve(keys=keys, args=args))
            if wait_us > 0:
                await asyncio.sleep(wait_us / 1_000_000)
            if not reserved:
                continue
            wait_us = int(await self._commit(keys=commit_keys, args=self._rate_args(platform)))
            if wait_us >= 0:
                if wait_us > 0:
                    await asyncio.sleep(wait_us / 1_000_000)
                return

    async def limited(self, platform: str, chat_id: str, seconds: float) -> bool:
        fallback_cut = await self._fallback.limited(platform, chat_id, seconds)
        keys = [self._key(platform, f"chat:{chat_id}"), self._key(platform, "limited"), self._key(platform, "window"),
                self._key(platform, "pause")]  # fmt: skip
        args: list[str | float] = [round(seconds * 1_000_000), chat_id, *self._rate_args(platform),
                                   CONGESTION_SAMPLE, CONGESTION_CHATS, DECREASE, MIN_RATE]  # fmt: skip
        try:
            return bool(int(await self._limited(keys=keys, args=args)))
        except self._unavailable as error:
            log.warning("rate limit: Redis unavailable (%s); the 429 holds this process only", type(error).__name__)
            return fallback_cut

    async def pause(self, platform: str, seconds: float) -> None:
        """Nobody on the platform, in any process, sends for ``seconds``."""
        await self._fallback.pause(platform, seconds)
        try:
            await self._pause(keys=[self._key(platform, "pause")], args=[round(seconds * 1_000_000)])
        except self._unavailable as error:
            log.warning("rate limit: Redis unavailable (%s); the pause holds this process only", type(error).__name__)
