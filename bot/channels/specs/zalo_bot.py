"""The Zalo Bot Platform, as the registry knows it; the adapter is ``bot/channels/zalo_bot.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.channels.base import Connection, Limits

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.runtime import Runtime
    from bot.settings import Settings

# Facts about the platform the settings check too (the rest are in the adapter's facts block).
OFFICIAL_API_BASE = "https://bot-api.zaloplatforms.com"  # + /bot<token>/<method>, POST JSON
MESSAGE_LIMIT = 2000  # sendMessage text: 1-2000 characters
SECRET_MIN_LENGTH = 8  # setWebhook's secret_token
SECRET_MAX_LENGTH = 256
WEBHOOK_PATH = "/webhooks/zalo-bot"


class ZaloBot:
    key = "zalo_bot"
    title = "Zalo"
    # No buttons: a reply's choices are written as a numbered list.
    limits = Limits(message_length=MESSAGE_LIMIT, buttons=0)
    webhook_path: str | None = WEBHOOK_PATH

    def enabled(self, settings: Settings) -> bool:
        return settings.zalo_bot_enabled

    def rate(self, settings: Settings) -> float | None:
        return settings.zalo_bot_rate

    def open(self, runtime: Runtime, redis: Redis | None) -> Connection:
        from bot.channels.zalo_bot import connect

        return connect(runtime, redis)


CHANNEL = ZaloBot()
