"""The Zalo Official Account, as the registry knows it: its settings, limits and webhook path. The
adapter, ``bot/channels/zalo_oa/``, is imported only when the OA is enabled."""

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

OFFICIAL_API_BASE = "https://openapi.zalo.me"
OFFICIAL_OAUTH_BASE = "https://oauth.zaloapp.com"
OFFICIAL_ZNS_API_BASE = "https://business.openapi.zalo.me"  # ZNS template messages
MESSAGE_LIMIT = 2000  # message.text
MAX_BUTTONS = 5  # buttons in one template attachment (unconfirmed); more go in further messages
# Set in Zalo's developer console, not by chibo.
WEBHOOK_PATH = "/webhooks/zalo-oa"
_APP_ID = re.compile(r"^\d{1,64}$")
_TEMPLATE_ID = re.compile(r"^\d{1,20}$")


class ZaloOaMode(StrEnum):
    ON = "on"
    OFF = "off"


class ZaloOaSettings(PublicAddress):
    # The app (developers.zalo.me) linked to the OA, the OA's secret key (webhook signatures), the
    # app secret (token refresh) and the first refresh token, used only while the database holds
    # none (Zalo changes it on every refresh; the database keeps the newest).
    zalo_oa_app_id: str | None = None
    zalo_oa_secret_key: str | None = None
    zalo_oa_app_secret: str | None = None
    zalo_oa_refresh_token: str | None = None
    zalo_oa_api_base: AnyHttpUrl = AnyHttpUrl(OFFICIAL_API_BASE)
    zalo_oa_oauth_base: AnyHttpUrl = AnyHttpUrl(OFFICIAL_OAUTH_BASE)
    # None means "on when an app id is set, else off".
    zalo_oa_mode: ZaloOaMode | None = None
    zalo_oa_rate: Annotated[float, Field(gt=0)] = 10.0
    # ZNS template ids (approved in the ZNS account of the OA), one per kind of pushed message: a
    # member outside the OA's chat window gets that kind by ZNS instead. Unset: no ZNS for it.
    zalo_oa_zns_notice_template: str | None = None
    zalo_oa_zns_invitation_template: str | None = None
    zalo_oa_zns_reminder_template: str | None = None
    zalo_oa_zns_vote_template: str | None = None
    zalo_oa_zns_api_base: AnyHttpUrl = AnyHttpUrl(OFFICIAL_ZNS_API_BASE)

    @field_validator("zalo_oa_app_id")
    @classmethod
    def _zalo_oa_app_id_shape(cls, value: str | None) -> str | None:
        if value and not _APP_ID.match(value):
            raise ValueError("is not a Zalo app id (digits, from developers.zalo.me)")
        return value or None

    @field_validator(
        "zalo_oa_zns_notice_template",
        "zalo_oa_zns_invitation_template",
        "zalo_oa_zns_reminder_template",
        "zalo_oa_zns_vote_template",
    )
    @classmethod
    def _zns_template_shape(cls, value: str | None) -> str | None:
        value = value.strip() if value else None
        if value and not _TEMPLATE_ID.match(value):
            raise ValueError("is not a ZNS template id (digits, from the ZNS account)")
        return value or None

    @field_validator("zalo_oa_secret_key", "zalo_oa_app_secret", "zalo_oa_refresh_token")
    @classmethod
    def _zalo_oa_empty_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value else None

    @model_validator(mode="after")
    def _resolve_zalo_oa_mode(self) -> ZaloOaSettings:
        if self.zalo_oa_mode is None:
            self.zalo_oa_mode = ZaloOaMode.ON if self.zalo_oa_app_id else ZaloOaMode.OFF
        if self.zalo_oa_mode is ZaloOaMode.ON:
            for name in ("zalo_oa_app_id", "zalo_oa_secret_key", "zalo_oa_app_secret"):
                if not getattr(self, name):
                    raise ValueError(f"CHIBO_ZALO_OA_MODE=on needs CHIBO_{name.upper()}")
        return self

    @property
    def zalo_oa_enabled(self) -> bool:
        return self.zalo_oa_mode is ZaloOaMode.ON


class ZaloOa:
    key = "zalo_oa"
    title = "Zalo OA"
    limits = Limits(message_length=MESSAGE_LIMIT, buttons=MAX_BUTTONS)
    webhook_path: str | None = WEBHOOK_PATH

    def enabled(self, settings: Settings) -> bool:
        return settings.zalo_oa_enabled

    def rate(self, settings: Settings) -> float | None:
        return settings.zalo_oa_rate

    def open(self, runtime: Runtime, redis: Redis | None) -> Connection:
        from bot.channels.zalo_oa import connect

        return connect(runtime)


CHANNEL = ZaloOa()
