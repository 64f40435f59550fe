"""The Zalo Bot Platform, as the registry knows it: its settings, limits and webhook path. The
adapter, ``bot/channels/zalo_bot.py``, is imported only when the bot is enabled."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from pydantic import AnyHttpUrl, Field, field_validator, model_validator

from bot.channels.base import Connection, Limits, PublicAddress

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
# <bot id>:<secret>; it goes into the URL path, so no slash, query, fragment or space.
_TOKEN = re.compile(r"^\d+:[^\s/?#]+$")
_SECRET = re.compile(rf"^[A-Za-z0-9_-]{{{SECRET_MIN_LENGTH},{SECRET_MAX_LENGTH}}}$")


class ZaloBotMode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"
    OFF = "off"


class ZaloBotSettings(PublicAddress):
    zalo_bot_token: str | None = None
    zalo_bot_api_base: AnyHttpUrl = AnyHttpUrl(OFFICIAL_API_BASE)
    # None means "polling when a token is set, else off", as for Telegram.
    zalo_bot_mode: ZaloBotMode | None = None
    zalo_bot_secret: str | None = None
    # Messages per second for the shared rate limiter.
    zalo_bot_rate: Annotated[float, Field(gt=0)] = 10.0

    @field_validator("zalo_bot_token")
    @classmethod
    def _zalo_bot_token_shape(cls, value: str | None) -> str | None:
        if value and not _TOKEN.match(value):
            raise ValueError("is not a Zalo bot token (expected <digits>:<secret> from the Zalo Bot Manager)")
        return value or None

    @field_validator("zalo_bot_secret")
    @classmethod
    def _zalo_bot_secret_shape(cls, value: str | None) -> str | None:
        if value and not _SECRET.match(value):
            raise ValueError(f"must be {SECRET_MIN_LENGTH}-{SECRET_MAX_LENGTH} characters of A-Z, a-z, 0-9, _ and -")
        return value or None

    @model_validator(mode="after")
    def _resolve_zalo_bot_mode(self) -> ZaloBotSettings:
        if self.zalo_bot_mode is None:
            self.zalo_bot_mode = ZaloBotMode.POLLING if self.zalo_bot_token else ZaloBotMode.OFF
        if self.zalo_bot_mode is not ZaloBotMode.OFF and not self.zalo_bot_token:
            raise ValueError("CHIBO_ZALO_BOT_MODE needs CHIBO_ZALO_BOT_TOKEN")
        if self.zalo_bot_mode is ZaloBotMode.WEBHOOK:
            # Zalo calls only public https addresses.
            if self.public_url is None or self.public_url.scheme != "https":
                raise ValueError("CHIBO_ZALO_BOT_MODE=webhook needs CHIBO_PUBLIC_URL, an https:// address")
            if not self.zalo_bot_secret:
                raise ValueError("CHIBO_ZALO_BOT_MODE=webhook needs CHIBO_ZALO_BOT_SECRET")
        return self

    @property
    def zalo_bot_enabled(self) -> bool:
        return self.zalo_bot_mode is not ZaloBotMode.OFF


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
