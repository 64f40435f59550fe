"""Every setting chibo reads, from the environment (prefix ``CHIBO_``) or a ``.env`` file.

Each channel's settings are its spec's (``bot/channels/specs/``), gathered in
``bot.channels.registry.ChannelSettings``: reading the settings imports no channel adapter."""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.channels.registry import CHANNELS, ChannelSettings

if TYPE_CHECKING:  # models.dues imports SQLAlchemy: reading the settings must not (tests/test_registry.py)
    from models.dues import DuesRates

SUPPORTED_LOCALES = ("vi", "en")
BALLOT_KEY_MIN_LENGTH = 32


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class Settings(ChannelSettings, BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHIBO_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./chibo.db"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    # `chibo serve` processes sharing the port, about one per core (PostgreSQL only: the web chat's
    # pages are woken across processes by its NOTIFY); the first also polls and delivers.
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    locale: str = "vi"
    timezone: str = "Asia/Ho_Chi_Minh"
    # Notices: the delivery budget per platform (messages/second, shared through Redis when set)
    # and how often a secretary may remind those who have not read a notice.
    broadcast_rate: Annotated[float, Field(gt=0, le=10_000)] = 30.0
    nudge_interval_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 24.0
    # Party dues (Quy định 01-QĐ/TW; models/dues.py says which figures are unconfirmed): the share
    # of a salary or allowance and of a pension, in percent; the fixed monthly amounts (VND) of other
    # members, of those past working age and of students; the rounding; the branch's share kept.
    dues_salary_percent: Annotated[float, Field(ge=0, le=100)] = 1.0
    dues_pension_percent: Annotated[float, Field(ge=0, le=100)] = 0.5
    dues_other_vnd: Annotated[int, Field(ge=0, le=10_000_000)] = 10_000
    dues_elderly_vnd: Annotated[int, Field(ge=0, le=10_000_000)] = 5_000
    dues_student_vnd: Annotated[int, Field(ge=0, le=10_000_000)] = 5_000
    dues_round_vnd: Annotated[int, Field(ge=1, le=100_000)] = 1_000
    dues_branch_keeps_percent: Annotated[int, Field(ge=0, le=100)] = 30
    # Files one member may send chibo to read in a day (attachments, register imports, web chat files).
    uploads_per_day: Annotated[int, Field(ge=1, le=10_000)] = 30
    # How long a claimed outbox row is held by the worker that claimed it: after a crash, another
    # worker (or the restarted one) takes it over once the lease ends.
    delivery_lease_seconds: Annotated[float, Field(ge=1, le=3600)] = 60.0
    # How long chibo waits for the database (connecting, a statement, a free pooled connection)
    # before it answers 503, so a database that hangs cannot hang the service (PostgreSQL).
    db_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 2.0
    # The web chat: a session idle this long is forgotten; wrong invite codes allowed within
    # invite_window_minutes per browser session and per client address before a lock-out that long.
    webchat_idle_days: Annotated[float, Field(gt=0, le=3650)] = 180.0
    # An open page's wait for new messages ends, empty, after this long (it then asks again);
    # under the idle time-out of the proxies in front.
    webchat_wait_seconds: Annotated[float, Field(gt=0, le=300)] = 25.0
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

    @field_validator("metrics_token")
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

    @model_validator(mode="after")
    def _workers_share_a_server(self) -> Settings:
        if self.workers > 1 and not self.database_url.startswith("postgresql"):
            raise ValueError("CHIBO_WORKERS above 1 needs PostgreSQL (CHIBO_DATABASE_URL=postgresql+asyncpg://...)")
        return self

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
        return {channel.key: rate for channel in CHANNELS if (rate := channel.rate(self)) is not None}

    @property
    def dues_rates(self) -> DuesRates:
        from models.dues import DuesRates

        return DuesRates(
            salary_basis_points=round(self.dues_salary_percent * 100),
            pension_basis_points=round(self.dues_pension_percent * 100),
            other_vnd=self.dues_other_vnd,
            elderly_vnd=self.dues_elderly_vnd,
            student_vnd=self.dues_student_vnd,
            round_vnd=self.dues_round_vnd,
            branch_keeps_percent=self.dues_branch_keeps_percent,
        )

    @property
    def nudge_interval(self) -> timedelta:
        return timedelta(hours=self.nudge_interval_hours)

    @property
    def webchat_idle(self) -> timedelta:
        return timedelta(days=self.webchat_idle_days)

    @property
    def invite_window(self) -> timedelta:
        return timedelta(minutes=self.invite_window_minutes)


class SettingsError(Exception):
    """A bad setting, explained in one line that names the variable."""


def _default_ballot_key_file(database_url: str) -> Path:
    from sqlalchemy.engine import make_url  # SQLAlchemy takes half a second to import: only when needed

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
