"""The channel contract: what the app, the settings and delivery know of a platform.

A platform is described by a ``Channel`` (a light object in ``bot/channels/specs/``, beside its
settings: its limits, whether the settings enable it, its webhook path) and implemented by its adapter module, which
``Channel.open`` imports only when the platform is enabled. ``open`` gives a ``Connection``: the
sender the delivery worker uses, the webhook that takes the platform's POSTs or the polling loop
that fetches its updates, and ``start``/``stop``. This module imports nothing heavy, so the
settings can read the registry without loading any adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from pydantic import AnyHttpUrl, BaseModel

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from redis.asyncio import Redis

    from bot.runtime import Runtime
    from bot.settings import Settings
    from handlers.contract import Reply


T = TypeVar("T")


class PublicAddress(BaseModel):
    """The settings every channel may read: the service's public address, where platforms post
    their webhooks (and the address invite sheets print)."""

    public_url: AnyHttpUrl | None = None


@dataclass(frozen=True)
class Limits:
    """What one message on the platform can hold."""

    message_length: int  # characters; longer text is split at paragraph ends
    # Buttons one message can carry; 0: the platform has none (a numbered list is written
    # instead); None: no limit chibo needs to mind.
    buttons: int | None


# ---- Sending, as the delivery worker sees it
class SendError(Exception):
    """A send that did not go through; the subclass says what to do about it."""


class RetryLater(SendError):
    """The platform asked us to slow down (HTTP 429): wait exactly ``after`` seconds."""

    def __init__(self, after: float) -> None:
        super().__init__(f"rate limited, retry after {after}s")
        self.after = after


class Unreachable(SendError):
    """The member blocked the bot or left: never retry, mark them unreachable."""


class WindowClosed(Unreachable):
    """The platform delivers chat messages only to members who wrote lately, and this one has not:
    a template message (the channel's ``fallback``) may still reach them."""


class Rejected(SendError):
    """The platform refused this message for good (HTTP 400): retrying cannot help."""


class Transient(SendError):
    """A network error or a 5xx: retry with backoff."""


class Sender(Protocol):
    async def send(self, chat_id: str, reply: Reply, locale: str | None = None) -> str | None:
        """Send ``reply`` to ``chat_id``, or raise a SendError. ``locale`` is the recipient's
        language (None: the default), for the words an adapter adds itself ("Reply 1 or 2").
        Returns the platform's id of the (last) message sent where its receipts name it, else None."""
        ...


@dataclass
class Progress:
    """How far an earlier attempt got with one message sent in several calls (a file, then its
    text): a retry skips the calls already made, so nobody gets the file twice. Set by the
    delivery worker around ``Sender.send``; ``record`` keeps the count on the outbox row before
    the next call is made (the last call is recorded with the row's sent status, in the worker's
    batch, so a one-call message costs no write of its own)."""

    done: int
    record: Callable[[int], Coroutine[Any, Any, None]]
    made: int = 0


PROGRESS: ContextVar[Progress | None] = ContextVar("progress", default=None)
SKIPPED: Any = object()  # what ``part`` answers for a call an earlier attempt made


async def part(call: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """One call of the message being sent: made and recorded, or skipped (``SKIPPED``) when an
    earlier attempt already made it. Outside the delivery worker, always made."""
    progress = PROGRESS.get()
    if progress is None:
        return await call()
    index = progress.made
    progress.made += 1
    if index < progress.done:
        return SKIPPED  # type: ignore[no-any-return]
    if index > progress.done:
        await progress.record(index)  # the call before this one, made by this attempt
    return await call()


@dataclass(frozen=True)
class Pushed:
    """An outbox row chibo pushed to a member, as a template fallback sees it."""

    outbox_id: int
    member_id: int
    notice_id: int | None
    body: dict[str, Any]


class NoTemplate(SendError):
    """No template message applies (none set up for this kind of message, no phone number): the
    chat message's own failure stands."""


class TemplateFallback(Protocol):
    async def send(self, pushed: Pushed) -> str:
        """Send ``pushed`` as a template message; the platform's id of it. Raises NoTemplate when
        none applies, another SendError when the send failed."""
        ...


# ---- Receiving
class Refused(Exception):
    """A webhook request that is not the platform's, or not an update: answered ``status``,
    counted as a rejected update for ``reason``."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


class Unavailable(Exception):
    """Something the adapter needs (besides the database) is down: the update is offered again later.
    A webhook answers 503 with ``detail``, counted as rejected for ``reason``."""

    reason: ClassVar[str] = "unavailable"
    detail: ClassVar[str] = "unavailable, try again"


class Webhook(Protocol):
    """Takes the platform's POSTs to its channel's ``webhook_path`` (the app reads the body and
    answers: 404 when the channel does not take webhooks, 400 for a body that is not JSON)."""

    def check_headers(self, headers: Mapping[str, str]) -> None:
        """Refuse (raise Refused) a request that cannot be the platform's, before its body is read."""
        ...

    async def receive(self, headers: Mapping[str, str], body: bytes, data: Any) -> dict[str, Any] | None:
        """Handle the update in ``data`` (``body`` parsed) durably, or raise Refused when it is not
        one. Database errors and Unavailable propagate: the platform delivers it again. Returns
        what to answer the POST with, for a platform that takes a call of its own there (Telegram's
        webhook reply); None: the usual ``{"ok": true}``."""
        ...


# A polling loop: runs until cancelled.
Polling = Callable[[], Coroutine[Any, Any, None]]


class Connection(Protocol):
    """An enabled channel, opened: what the app starts, stops and hands to the delivery worker."""

    @property
    def sender(self) -> Sender | None:
        """What the delivery worker sends with; None: replies are answered inline (the web chat)."""
        ...

    @property
    def webhook(self) -> Webhook | None:
        """None while updates are not taken by webhook (polled, or the web chat's own API)."""
        ...

    async def start(self, scheduler: AsyncIOScheduler) -> Polling | None:
        """Set the webhook or jobs up; the polling loop to run until cancelled, if the channel polls."""
        ...

    async def stop(self) -> None:
        """Close the clients (after the polling loop was cancelled)."""
        ...


class Channel(Protocol):
    """One platform, as registered in ``bot/channels/registry.py``."""

    key: str  # the models.tables.Platform value
    title: str  # the platform's name as members know it ("Zalo OA")
    limits: Limits
    webhook_path: str | None  # where the platform posts updates, if it can

    def enabled(self, settings: Settings) -> bool: ...

    def rate(self, settings: Settings) -> float | None:
        """Messages per second the platform allows this bot; None when nothing is sent to it."""
        ...

    def open(self, runtime: Runtime, redis: Redis | None) -> Connection:
        """The adapter, imported only now, with its clients made."""
        ...
