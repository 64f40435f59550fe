"""Web Push, as the registry knows it: its settings and limits. The adapter,
``bot/channels/web_push.py``, sends a copy of each web chat message to the browsers that turned
notifications on. Always on: the VAPID key is made on first start when none is set."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, Field, field_validator

from bot.channels.base import Connection, Limits

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.runtime import Runtime
    from bot.settings import Settings

# Where browsers' push services live (a subscription's endpoint must be https on one of them, so a
# browser cannot make the server post to any address it likes): Chrome and Android (FCM), Firefox
# (Mozilla autopush), Safari and iPhone (Apple), Edge (Windows Notification Service).
DEFAULT_SERVICES = "fcm.googleapis.com,push.services.mozilla.com,push.apple.com,notify.windows.com"
_SUBJECT = re.compile(r"^(mailto:[^\s@]+@[^\s@]+|https://\S+)$")
_SERVICE = re.compile(r"^(https?://[A-Za-z0-9.-]+(:\d{1,5})?|[A-Za-z0-9.-]+)$")


class WebPushSettings(BaseModel):
    # The VAPID private key (base64url of the raw 32 bytes, as `vapid --gen` or web-push print it,
    # or PEM); unset: one is made on first start and kept in the database.
    vapid_private_key: str | None = None
    # Who the push services contact about this server (RFC 8292 "sub"): mailto: or https://.
    vapid_subject: str | None = None
    # Push services a subscription may point at: host names (their subdomains too, https only), or
    # full http(s)://host:port origins (a push service of one's own, the tests' fake).
    web_push_services: str = DEFAULT_SERVICES
    # How long a push service keeps a notification for a phone that is off (RFC 8030 TTL).
    web_push_ttl_seconds: Annotated[int, Field(ge=0, le=28 * 24 * 3600)] = 24 * 3600
    web_push_rate: Annotated[float, Field(gt=0, le=10_000)] = 30.0

    @field_validator("vapid_subject")
    @classmethod
    def _subject_shape(cls, value: str | None) -> str | None:
        if value and not _SUBJECT.match(value):
            raise ValueError("must be a mailto: address or an https:// URL (RFC 8292)")
        return value or None

    @field_validator("vapid_private_key")
    @classmethod
    def _key_empty_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value else None

    @field_validator("web_push_services")
    @classmethod
    def _services_shape(cls, value: str) -> str:
        for service in value.split(","):
            if not _SERVICE.match(service.strip()):
                raise ValueError(f"{service.strip()!r} is not a host name or an http(s)://host[:port] origin")
        return value


class WebPush:
    key = "web_push"  # models.tables.Platform.WEB_PUSH
    title = "Web Push"
    limits = Limits(message_length=4096, buttons=0)
    webhook_path: str | None = None

    def enabled(self, settings: Settings) -> bool:
        return True

    def rate(self, settings: Settings) -> float | None:
        return settings.web_push_rate

    def open(self, runtime: Runtime, redis: Redis | None) -> Connection:
        from bot.channels.web_push import connect

        return connect(runtime)


CHANNEL = WebPush()
