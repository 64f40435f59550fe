"""The web chat, as the registry knows it; the adapter is ``bot/channels/web.py``, its HTTP API
``webhooks/app.py``. Always on: answers go inline; what chibo sends on its own goes through the
outbox, stored for the page to fetch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.channels.base import Connection, Limits

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.runtime import Runtime
    from bot.settings import Settings

MESSAGE_LIMIT = 4096
# Messages stored for web chats per second: a broadcast must not crowd out the database.
STORE_RATE = 200.0


class Web:
    key = "web"
    title = "Web"
    limits = Limits(message_length=MESSAGE_LIMIT, buttons=None)
    webhook_path: str | None = None

    def enabled(self, settings: Settings) -> bool:
        return True

    def rate(self, settings: Settings) -> float | None:
        return STORE_RATE

    def open(self, runtime: Runtime, redis: Redis | None) -> Connection:
        from bot.channels.web import WebConnection

        return WebConnection(runtime.sessions, runtime.engine)


CHANNEL = Web()
