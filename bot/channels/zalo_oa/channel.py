"""The OA as chibo runs it: webhook events in, customer-service messages out."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bot.channels.base import Polling, Refused, Rejected, RetryLater, SendError, Transient, Unreachable
from bot.channels.zalo_oa.client import ZaloOaClient, ZaloOaError
from bot.channels.zalo_oa.events import OaEvent, inbound_from_follow, inbound_from_message, update_key
from bot.channels.zalo_oa.facts import (
    FOLLOW_EVENT,
    INVALID_TOKEN,
    KEEP_FRESH_INTERVAL,
    MAX_BUTTONS,
    MESSAGE_EVENTS,
    PLATFORM,
    RATE_LIMIT_PAUSE_SECONDS,
    RATE_LIMITED,
    SIGNATURE_HEADER,
    UNFOLLOW_EVENT,
    UNREACHABLE,
    WEBHOOK_PATH,
)
from bot.channels.zalo_oa.rendering import choices, render
from bot.channels.zalo_oa.signatures import event_timestamp, signature_matches
from bot.channels.zalo_oa.tokens import OaTokens, TokenUnavailable
from handlers.contract import Catalogs, Reply
from models.db import is_database_unavailable
from models.tables import Platform

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.runtime import Runtime

log = logging.getLogger(__name__)


def delivery_error(error: ZaloOaError) -> SendError:
    """The delivery worker's retry rule for a failed send."""
    code = error.code
    if code in RATE_LIMITED:
        return RetryLater(RATE_LIMIT_PAUSE_SECONDS)
    if code in UNREACHABLE:
        return Unreachable(f"{UNREACHABLE[code]} ({error})")
    if code is None or code in INVALID_TOKEN or (error.http_status or 0) >= 500:
        return Transient(str(error))
    return Rejected(str(error))


class ZaloOaSender:
    """Sends replies as OA customer-service messages, refreshing the access token when needed."""

    def __init__(self, client: ZaloOaClient, tokens: OaTokens, catalogs: Catalogs) -> None:
        self._client = client
        self._tokens = tokens
        self._catalogs = catalogs

    async def send(self, chat_id: str, reply: Reply, locale: str | None = None) -> None:
        try:
            more_text = ""
            if len(choices(reply)) > MAX_BUTTONS:
                more_text = self._catalogs.translator(locale).gettext("More choices:")
            for body in render(chat_id, reply, more_text):
                await self._send(body)
        except ZaloOaError as error:
            raise delivery_error(error) from error
        except TokenUnavailable as error:
            raise Transient(str(error)) from error
        except Exception as error:
            if not is_database_unavailable(error):
                raise
            raise Transient(f"database unavailable: {type(error).__name__}") from error

    async def _send(self, body: dict[str, Any]) -> None:
        token = await self._tokens.access_token()
        try:
            await self._client.send_message(token, body)
        except ZaloOaError as error:
            if error.code not in INVALID_TOKEN:
                raise
            # Expired early or revoked: once more with a new token; a second refusal is Transient.
            await self._client.send_message(await self._tokens.replace(token), body)


def connect(runtime: Runtime) -> ZaloOaChannel:
    """The channel for the configured OA (the Connection the registry opens)."""
    settings = runtime.settings
    assert settings.zalo_oa_app_id is not None and settings.zalo_oa_app_secret is not None
    client = ZaloOaClient(str(settings.zalo_oa_api_base), str(settings.zalo_oa_oauth_base))
    tokens = OaTokens(
        runtime.sessions, client, settings.zalo_oa_app_id, settings.zalo_oa_app_secret, settings.zalo_oa_refresh_token
    )
    return ZaloOaChannel(runtime, tokens, client)


class ZaloOaChannel:
    """The OA's Connection: Zalo calls the webhook set in its developer console; chibo only keeps
    the access token fresh."""

    def __init__(self, runtime: Runtime, tokens: OaTokens, client: ZaloOaClient) -> None:
        self.runtime = runtime
        self.tokens = tokens
        self.client = client
        self.sender = ZaloOaSender(client, tokens, runtime.catalogs)
        self.webhook = self

    async def start(self, scheduler: AsyncIOScheduler) -> Polling | None:
        scheduler.add_job(
            self.keep_token_fresh,
            "interval",
            seconds=KEEP_FRESH_INTERVAL.total_seconds(),
            next_run_time=datetime.now(UTC),  # at start: a bad app secret or refresh token shows at once
            id="zalo-oa-token",
            coalesce=True,
            max_instances=1,
        )
        public_url = self.runtime.settings.public_url
        if public_url is not None:
            log.info("zalo oa: webhook address %s", str(public_url).rstrip("/") + WEBHOOK_PATH)
        return None

    async def stop(self) -> None:
        await self.client.aclose()

    def check_headers(self, headers: Mapping[str, str]) -> None:
        if not headers.get(SIGNATURE_HEADER, ""):
            raise Refused(401, "signature", "missing signature")

    async def receive(self, headers: Mapping[str, str], body: bytes, data: Any) -> None:
        settings = self.runtime.settings
        assert settings.zalo_oa_app_id is not None and settings.zalo_oa_secret_key is not None
        # The signature covers the body's own timestamp, so the body is read before it is checked.
        timestamp = event_timestamp(data)
        if timestamp is None:
            raise Refused(400, "malformed", "not a Zalo OA event: no timestamp")
        given = headers.get(SIGNATURE_HEADER, "")
        if not signature_matches(given, settings.zalo_oa_app_id, body, timestamp, settings.zalo_oa_secret_key):
            raise Refused(401, "signature", "wrong signature")
        try:
            event = OaEvent.model_validate(data)
        except ValidationError:
            raise Refused(422, "malformed", "not a Zalo OA event") from None
        await self.handle_event(event)

    async def handle_event(self, event: OaEvent) -> None:
        """Handle one webhook event durably. Database errors propagate, so Zalo delivers it again."""
        metrics = self.runtime.metrics
        metrics.updates_received.labels(PLATFORM).inc()
        if event.event_name in MESSAGE_EVENTS:
            await self.runtime.process(inbound_from_message(event), update_key(event))
        elif event.event_name == FOLLOW_EVENT:
            await self.runtime.process(inbound_from_follow(event), update_key(event))
        elif event.event_name == UNFOLLOW_EVENT:
            # The member left the OA: Zalo will not deliver to them until they follow again.
            assert event.follower is not None
            await self.runtime.left(Platform.ZALO_OA, event.follower.id, update_key(event))
        else:
            # Seen receipts, the OA's own messages echoed, future events: nothing to do, and
            # ignoring is idempotent.
            metrics.updates_rejected.labels(PLATFORM, "unsupported").inc()

    async def keep_token_fresh(self) -> None:
        """Refresh the access token when it is due, even while nothing is sent: a refresh token
        left unused long enough expires too. A warning, not a failure, when it cannot be done now."""
        try:
            await self.tokens.access_token()
        except TokenUnavailable as error:
            log.warning("zalo oa: %s", error)
        except Exception as error:
            if not is_database_unavailable(error):
                raise
            log.warning("zalo oa: database unavailable; the token is looked at again later")
