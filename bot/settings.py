"""Every setting chibo reads, from the environment (prefix ``CHIBO_``) or a ``.env`` file."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from bot.channels import zalo_bot, zalo_oa

SUPPORTED_LOCALES = ("vi", "en")
OFFICIAL_TELEGRAM_API = "https://api.telegram.org"
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_TELEGRAM_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
# <bot id>:<secret>; it goes into the URL path, so no slash, query, fragment or space.
_ZALO_BOT_TOKEN = re.compile(r"^\d+:[^\s/?#]+$")
_ZALO_BOT_SECRET = re.compile(rf"^[A-Za-z0-9_-]{{{zalo_bot.SECRET_MIN_LENGTH},{zalo_bot.SECRET_MAX_LENGTH}}}$")
_ZALO_OA_APP_ID = re.compile(r"^\d{1,64}$")
BALLOT_KEY_MIN_LENGTH = 32


class TelegramMode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"
    OFF = "off"


class ZaloBotMode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"
    OFF = "off"


class ZaloOaMode(StrEnum):
    ON = "on"
    OFF = "off"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHIBO_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./chibo.db"
    redis_url: str | None = None
    telegram_token: str | None = None
    telegram_api_base: AnyHttpUrl = AnyHttpUrl(OFFICIAL_TELEGRAM_API)
    # None means "polling when a token is set, else off"; resolved in the validator below.
    telegram_mode: TelegramMode | None = None
    public_url: AnyHttpUrl | None = None
    webhook_secret: str | None = None
    zalo_bot_token: str | None = None
    zalo_bot_api_base: AnyHttpUrl = AnyHttpUrl(zalo_bot.OFFICIAL_API_BASE)
    # None means "polling when a token is set, else off", as for Telegram.
    zalo_bot_mode: ZaloBotMode | None = None
    zalo_bot_secret: str | None = None
    # Messages per second for the shared rate limiter.
    zalo_bot_rate: Annotated[float, Field(gt=0)] = 10.0
    # The Zalo Official Account: the app (developers.zalo.me) linked to the OA, the OA's secret key
    # (webhook signatures), the app secret (token refresh) and the first refresh token, used only
    # while the database holds none (Zalo changes it on every refresh; the database keeps the newest).
    zalo_oa_app_id: str | None = None
    zalo_oa_secret_key: str | None = None
    zalo_oa_app_secret: str | None = None
    zalo_oa_refresh_token: str | None = None
    zalo_oa_api_base: AnyHttpUrl = AnyHttpUrl(zalo_oa.OFFICIAL_API_BASE)
    zalo_oa_oauth_base: AnyHttpUrl = AnyHttpUrl(zalo_oa.OFFICIAL_OAUTH_BASE)
    # None means "on when an app id is set, else off".
    zalo_oa_mode: ZaloOaMode | None = None
    zalo_oa_rate: Annotated[float, Field(gt=0)] = 10.0
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    locale: str = "vi"
    timezone: str = "Asia/Ho_Chi_Minh"
    # Notices: the delivery budget per platform (messages/second, shared through Redis when set)
    # and how often a secretary may remind those who have not read a notice.
    broadcast_rate: Annotated[float, Field(gt=0, le=10_000)] = 30.0
    nudge_interval_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 24.0
    # How long a claimed outbox row is held by the worker that claimed it: after a crash, another
    # worker (or the restarted one) takes it over once the lease ends.
    delivery_lease_seconds: Annotated[float, Field(ge=1, le=3600)] = 60.0
    # How long chibo waits for the database (connecting, a statement, a free pooled connection)
    # before it answers 503, so a database that hangs cannot hang the service (PostgreSQL).
    db_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 2.0
    # The web chat: a session idle this long is forgotten; wrong invite codes allowed within
    # invite_window_minutes per browser session and per client address before a lock-out that long.
    webchat_idle_days: Annotated[float, Field(gt=0, le=3650)] = 30.0
    invite_attempts_per_session: Annotated[int, Field(ge=1, le=1000)] = 5
    invite_attempts_per_address: Annotated[int, Field(ge=1, le=10_000)] = 20
    invite_window_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 15.0
    # New web chat sessions per client address within invite_window_minutes; beyond it, 429.
    webchat_sessions_per_address: Annotated[int, Field(ge=1, le=100_000)] = 30
    # The reverse proxies whose X-Forwarded-For names the client (addresses or networks, comma-
    # separated). None by default: then nobody, not even a local process, can claim another address.
    trusted_proxies: str = ""
    # GET /metrics needs "Authorization: Bearer <this>"; unset, /metrics answers 404.
    metrics_token: str | None = None
    # Serve /openapi.json and /docs (off in production: they map the attack surface).
    api_docs: bool = False
    log_format: LogFormat = LogFormat.TEXT
    log_level: str = "INFO"
    # The server's own secret for secret ballots (README "Secret ballot"): each poll's key is derived
    # from it, so it must never be in the database, nor in its backups. Given here, or kept in a
    # file (made on first need, readable by the owner only): next to the SQLite database by default,
    # else ./chibo.ballot-key. Several processes must share one; losing it loses open secret polls.
    ballot_key: SecretStr | None = None
    ballot_key_file: Path | None = None

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @field_validator("telegram_token")
    @classmethod
    def _token_shape(cls, value: str | None) -> str | None:
        if value and not _TELEGRAM_TOKEN.match(value):
            raise ValueError("is not a Telegram bot token (expected <digits>:<secret> from @BotFather)")
        return value or None

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: str | None) -> str | None:
        # Telegram accepts 1-256 characters of A-Z a-z 0-9 _ - for secret_token.
        if value and not _SECRET_TOKEN.match(value):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value or None

    @field_validator("zalo_bot_token")
    @classmethod
    def _zalo_bot_token_shape(cls, value: str | None) -> str | None:
        if value and not _ZALO_BOT_TOKEN.match(value):
            raise ValueError("is not a Zalo bot token (expected <digits>:<secret> from the Zalo Bot Manager)")
        return value or None

    @field_validator("zalo_bot_secret")
    @classmethod
    def _zalo_bot_secret_shape(cls, value: str | None) -> str | None:
        if value and not _ZALO_BOT_SECRET.match(value):
            raise ValueError(
                f"must be {zalo_bot.SECRET_MIN_LENGTH}-{zalo_bot.SECRET_MAX_LENGTH} characters "
                "of A-Z, a-z, 0-9, _ and -"
            )
        return value or None

    @field_validator("zalo_oa_app_id")
    @classmethod
    def _zalo_oa_app_id_shape(cls, value: str | None) -> str | None:
        if value and not _ZALO_OA_APP_ID.match(value):
            raise ValueError("is not a Zalo app id (digits, from developers.zalo.me)")
        return value or None

    @field_validator("zalo_oa_secret_key", "zalo_oa_app_secret", "zalo_oa_refresh_token", "metrics_token")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value else None

    @field_validator("ballot_key")
    @classmethod
    def _ballot_key_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < BALLOT_KEY_MIN_LENGTH:
            raise ValueError(
                f"must be at least {BALLOT_KEY_MIN_LENGTH} random characters, e.g. from `openssl rand -base64 32`"
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network, e.g. 172.28.0.10 or 10.0.0.0/8") from None
        return value

    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False) for part in self.trusted_proxies.split(",") if part.strip()
        )

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a known IANA time zone, e.g. Asia/Ho_Chi_Minh") from None
        return value

    @model_validator(mode="after")
    def _resolve_telegram_mode(self) -> Settings:
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

    @model_validator(mode="after")
    def _resolve_zalo_bot_mode(self) -> Settings:
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

    @model_validator(mode="after")
    def _resolve_zalo_oa_mode(self) -> Settings:
        if self.zalo_oa_mode is None:
            self.zalo_oa_mode = ZaloOaMode.ON if self.zalo_oa_app_id else ZaloOaMode.OFF
        if self.zalo_oa_mode is ZaloOaMode.ON:
            for name in ("zalo_oa_app_id", "zalo_oa_secret_key", "zalo_oa_app_secret"):
                if not getattr(self, name):
                    raise ValueError(f"CHIBO_ZALO_OA_MODE=on needs CHIBO_{name.upper()}")
        return self

    def ballot_secret(self) -> bytes:
        """The secret ballot key: CHIBO_BALLOT_KEY, else the key file, made now if there is none."""
        if self.ballot_key is not None:
            return self.ballot_key.get_secret_value().strip().encode()
        path = self.ballot_key_file or _default_ballot_key_file(self.database_url)
        try:
            # O_EXCL: two processes starting at once make one key, and the other reads it.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w") as made:
                made.write(secrets.token_urlsafe(32) + "\n")
            logging.getLogger(__name__).warning("made a new secret ballot key in %s: keep it out of backups", path)
        key = path.read_text(encoding="utf-8").strip()
        if len(key) < BALLOT_KEY_MIN_LENGTH:
            raise SettingsError(f"CHIBO_BALLOT_KEY_FILE: {path} holds fewer than {BALLOT_KEY_MIN_LENGTH} characters")
        return key.encode()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def platform_rates(self) -> dict[str, float]:
        """Messages/second each platform allows this bot."""
        return {"telegram": self.broadcast_rate, "zalo_bot": self.zalo_bot_rate, "zalo_oa": self.zalo_oa_rate}

    @property
    def nudge_interval(self) -> timedelta:
        return timedelta(hours=self.nudge_interval_hours)

    @property
    def webchat_idle(self) -> timedelta:
        return timedelta(days=self.webchat_idle_days)

    @property
    def invite_window(self) -> timedelta:
        return timedelta(minutes=self.invite_window_minutes)

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_mode is not TelegramMode.OFF

    @property
    def zalo_bot_enabled(self) -> bool:
        return self.zalo_bot_mode is not ZaloBotMode.OFF

    @property
    def zalo_oa_enabled(self) -> bool:
        return self.zalo_oa_mode is ZaloOaMode.ON


class SettingsError(Exception):
    """A bad setting, explained in one line that names the variable."""


def _default_ballot_key_file(database_url: str) -> Path:
    database = make_url(database_url).database
    if database_url.startswith("sqlite") and database and database != ":memory:":
        return Path(database).with_suffix(".ballot-key")
    return Path("chibo.ballot-key")


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's report into one line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            field = ".".join(str(part) for part in problem["loc"])
            name = f"CHIBO_{field.upper()}" if field else "settings"
            message = problem["msg"].removeprefix("Value error, ")
            lines.append(f"{name}: {message}" if field else message)
        raise SettingsError("; ".join(lines)) from None
