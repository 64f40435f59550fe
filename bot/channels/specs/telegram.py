"""Telegram, as the registry knows it; the adapter is ``bot/channels/telegram.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.channels.base import Connection, Limits

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.runtime import Runtime
    from bot.settings import Settings

OFFICIAL_API_BASE = "https://api.telegram.org"
WEBHOOK_PATH = "/webhooks/telegram"
MESSAGE_LIMIT = 4096


class Telegram:
    key = "telegram"
    title = "Telegram"
    limits = Limits(message_length=MESSAGE_LIMIT, buttons=None)
    webhook_path: str | None = WEBHOOK_PATH

    def enabled(self, settings: Settings) -> bool:
        return settings.telegram_enabled

    def rate(self, settings: Settings) -> float | None:
        return settings.broadcast_rate

    def open(self, runtime: Runtime, redis: Redis | None) -> Connection:
        from bot.channels.telegram import connect  # aiogram takes seconds to import: only when enabled

        return connect(runtime)


CHANNEL = Telegram()
