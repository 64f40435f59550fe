"""The Zalo Official Account, as the registry knows it; the adapter is ``bot/channels/zalo_oa/``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.channels.base import Connection, Limits

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.runtime import Runtime
    from bot.settings import Settings

OFFICIAL_API_BASE = "https://openapi.zalo.me"
OFFICIAL_OAUTH_BASE = "https://oauth.zaloapp.com"
MESSAGE_LIMIT = 2000  # message.text
MAX_BUTTONS = 5  # buttons in one template attachment (unconfirmed); more go in further messages
WEBHOOK_PATH = "/webhooks/zalo-oa"


class ZaloOa:
    key = "zalo_oa"
    title = "Zalo OA"
    limits = Limits(message_length=MESSAGE_LIMIT, buttons=MAX_BUTTONS)
    # Set in Zalo's developer console, not by chibo.
    webhook_path: str | None = WEBHOOK_PATH

    def enabled(self, settings: Settings) -> bool:
        return settings.zalo_oa_enabled

    def rate(self, settings: Settings) -> float | None:
        return settings.zalo_oa_rate

    def open(self, runtime: Runtime, redis: Redis | None) -> Connection:
        from bot.channels.zalo_oa import connect

        return connect(runtime)


CHANNEL = ZaloOa()
