"""The web chat, as the registry knows it; the adapter is ``bot/channels/web.py``, its HTTP API
``webhooks/webchat.py``. Always on: its replies are answered inline, nothing is queued for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.channels.base import Connection, Limits

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.runtime import Runtime
    from bot.settings import Settings

MESSAGE_LIMIT = 4096


class Web:
    key = "web"
    title = "Web"
    limits = Limits(message_length=MESSAGE_LIMIT, buttons=None)
    webhook_path: str | None = None

    def enabled(self, settings: Settings) -> bool:
        return True

    def rate(self, settings: Settings) -> float | None:
        return None

    def open(self, runtime: Runtime, redis: Redis | None) -> Connection:
        from bot.channels.web import WebConnection

        return WebConnection()


CHANNEL = Web()
