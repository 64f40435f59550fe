"""Telegram, as the registry knows it: its settings, limits and webhook path. The adapter,
``bot/channels/telegram.py``, is imported only when Telegram is enabled."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import AnyHttpUrl, field_validator, model_validator

from bot.channels.base import Connection, Limits, PublicAddress

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.runtime import Runtime
    from bot.settings import Settings

OFFICIAL_API_BASE = "https://api.telegram.org"
WEBHOOK_PATH = "/webhooks/telegram"
MESSAGE_LIMIT = 4096
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")


class TelegramMode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"
    OFF = "off"


class TelegramSettings(PublicAddress):
    telegram_token: str | None = None
    telegram_api_base: AnyHttpUrl = AnyHttpUrl(OFFICIAL_API_BASE)
    # None means "polling when a token is set, else off"; resolved in the validator below.
    telegram_mode: TelegramMode | None = None
    webhook_secret: str | None = None

    @field_validator("telegram_token")
    @classmethod
    def _token_shape(cls, value: str | None) -> str | None:
        if value and not _TOKEN.match(value):
            raise ValueError("is not a Telegram bot token (expected <digits>:<secret> from @BotFather)")
        return value or None

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: str | None) -> str | None:
        # Telegram accepts 1-256 characters of A-Z a-z 0-9 _ - for secret_token.
        if value and not _SECRET_TOKEN.match(value):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value or None

    @model_validator(mode="after")
    def _resolve_telegram_mode(self) -> TelegramSettings:
        if self.telegram_mode is None:
            self.telegram_mode = TelegramMode.POLLING if self.telegram_token else TelegramMode.OFF
        if self.telegram_mode is not TelegramMode.OFF and not self.telegram_token:
            raise ValueError("CHIBO_TELEGRAM_MODE needs CHIBO_TELEGRAM_TOKEN")
        if self.telegram_mode is TelegramMode.WEBHOOK:
            if self.public_url is None or self.public_url.scheme != "https":
                raise ValueError("CHIBO_TELEGRAM_MODE=webhook needs CHIBO_PUBLIC_URL, an https:// address")
            if not self.webhook_secret:
                raise ValueError("CHIBO_TELEGRAM_MODE=webhook needs CHIBO_WEBHOOK_SECRET")
        return self

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_mode is not TelegramMode.OFF


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
