"""The OA as chibo runs it: webhook events in, customer-service messages out."""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bot.channels.base import SKIPPED, Polling, Refused, Transient, part
from bot.channels.text import document_elsewhere, web_chat_address
from bot.channels.zalo_oa.client import ZaloOaClient, ZaloOaError
from bot.channels.zalo_oa.events import OaEvent, inbound_from_follow, inbound_from_message, receipts, update_key
from bot.channels.zalo_oa.facts import (
    FILE_SUFFIXES,
    FOLLOW_EVENT,
    IMAGE_SUFFIXES,
    KEEP_FRESH_INTERVAL,
    MAX_BUTTONS,
    MAX_FILE_BYTES,
    MAX_IMAGE_BYTES,
    MESSAGE_EVENTS,
    PLATFORM,
    RECEIPT_EVENTS,
    SENT_MESSAGE_ID,
    SIGNATURE_HEADER,
    UNFOLLOW_EVENT,
    UPLOAD_FILE_PATH,
    UPLOAD_IMAGE_PATH,
    UPLOAD_REUSE,
    WEBHOOK_PATH,
)
from bot.channels.zalo_oa.outcomes import delivery_error
from bot.channels.zalo_oa.rendering import attachment, choices, render
from bot.channels.zalo_oa.signatures import event_timestamp, signature_matches
from bot.channels.zalo_oa.tokens import OaTokens, TokenUnavailable
from bot.channels.zalo_oa.zns import ZnsFallback
from handlers.contract import Catalogs, Document, Reply
from models.db import is_database_unavailable
from models.notice_receipts import record_platform_receipts
from models.outbox import TemplateKind
from models.tables import Platform, utcnow

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.runtime import Runtime
    from bot.settings import Settings

log = logging.getLogger(__name__)


# A signed event older than this is a replay: its de-duplication row may be gone (processed updates
# are kept 7 days, scheduler/housekeeping.py), so it is answered and not handled.
OLDEST_EVENT = timedelta(days=6)


def _event_time(timestamp: str) -> datetime:
    """When Zalo says the event happened (milliseconds), or now when that is no time at all."""
    try:
        return datetime.fromtimestamp(int(timestamp) / 1000, UTC)
    except (OverflowError, ValueError, OSError):
        return utcnow()


# A stored file by its Document: (file name, bytes), or None when it is gone.
FileLoader = Callable[[Document], Awaitable[tuple[str, bytes] | None]]


def _upload_kind(name: str, size: int, is_photo: bool) -> str | None:
    """The upload path for a file Zalo takes as an attachment, or None (type or size)."""
    lowered = name.lower()
    if is_photo and lowered.endswith(IMAGE_SUFFIXES) and size <= MAX_IMAGE_BYTES:
        return UPLOAD_IMAGE_PATH
    if lowered.endswith(FILE_SUFFIXES) and size <= MAX_FILE_BYTES:
        return UPLOAD_FILE_PATH
    return None


class ZaloOaSender:
    """Sends replies as OA customer-service messages, refreshing the access token when needed; a
    reply's document or photo goes first, uploaded, or as a line pointing to the web chat."""

    def __init__(
        self,
        client: ZaloOaClient,
        tokens: OaTokens,
        catalogs: Catalogs,
        *,
        files: FileLoader | None = None,
        web_chat: str = "",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._catalogs = catalogs
        self._files = files
        self._web_chat = web_chat
        self._clock = clock
        # (source, file id) -> the upload path, the attachment's token or id, and when it was
        # uploaded (an empty path: Zalo cannot take the file): a notice to hundreds of members
        # reads and uploads its file once.
        self._uploaded: dict[tuple[str, int], tuple[str, str, datetime]] = {}

    async def send(self, chat_id: str, reply: Reply, locale: str | None = None) -> str | None:
        try:
            translator = self._catalogs.translator(locale)
            more_text = ""
            if len(choices(reply)) > MAX_BUTTONS:
                more_text = translator.gettext("More choices:")
            document = reply.document
            # Each call is a part of the message: a retry after a failed text does not send the file again.
            sent_file = None if document is None else await part(partial(self._send_document, chat_id, document))
            if document is not None and sent_file is False and not document.inline:
                # A stored file Zalo cannot take: its copy is in the web chat (a generated one is not).
                line = document_elsewhere(translator.gettext, document.name, self._web_chat)
                reply = replace(reply, text=f"{reply.text}\n\n{line}")
            message_id = None
            for body in render(chat_id, reply, more_text):
                sent = await part(partial(self._send, body))
                message_id = None if sent is SKIPPED else sent
            return message_id
        except ZaloOaError as error:
            raise delivery_error(error) from error
        except TokenUnavailable as error:
            raise Transient(str(error)) from error
        except Exception as error:
            if not is_database_unavailable(error):
                raise
            raise Transient(f"database unavailable: {type(error).__name__}") from error

    async def _send_document(self, chat_id: str, document: Document) -> bool | None:
        """The document or photo as an attachment, sent before the text (whose buttons stay last):
        True; False when Zalo cannot take it (type, size); None when it is gone."""
        key = (document.source, document.file_id)
        uploaded = self._uploaded.get(key) if document.inline is None else None
        if uploaded is None or self._clock() - uploaded[2] > UPLOAD_REUSE:
            if document.inline is not None:
                stored: tuple[str, bytes] | None = (document.name, base64.b64decode(document.inline))
            else:
                stored = await self._files(document) if self._files is not None else None
            if stored is None:
                log.warning("zalo oa: file %s of a message is gone; sending the text alone", document.file_id)
                return None
            name, content = stored
            path = _upload_kind(name, len(content), document.is_photo)
            uploaded = ("", "", self._clock())  # remembered too: Zalo cannot take it
            if path is not None:
                data = await self._tokens.call(lambda token: self._client.upload(token, path, name, content))
                handle = data.get("attachment_id" if path == UPLOAD_IMAGE_PATH else "token")
                if not isinstance(handle, str) or not handle:
                    raise ZaloOaError("upload", 0, "the answer holds no token")
                uploaded = (path, handle, self._clock())
            if document.inline is None:
                self._uploaded[key] = uploaded
        if not uploaded[0]:
            return False
        if uploaded[0] == UPLOAD_IMAGE_PATH:
            await self._send(attachment(chat_id, photo_id=uploaded[1]))
        else:
            await self._send(attachment(chat_id, file_token=uploaded[1]))
        return True

    async def _send(self, body: dict[str, Any]) -> str | None:
        """Send one message; its id, which the receipt events name."""
        data = await self._tokens.call(lambda token: self._client.send_message(token, body))
        message_id = data.get(SENT_MESSAGE_ID)
        return message_id if isinstance(message_id, str) and message_id else None


def connect(runtime: Runtime) -> ZaloOaChannel:
    """The channel for the configured OA (the Connection the registry opens)."""
    settings = runtime.settings
    assert settings.zalo_oa_app_id is not None and settings.zalo_oa_app_secret is not None
    client = ZaloOaClient(
        str(settings.zalo_oa_api_base), str(settings.zalo_oa_oauth_base), str(settings.zalo_oa_zns_api_base)
    )
    tokens = OaTokens(
        runtime.sessions, client, settings.zalo_oa_app_id, settings.zalo_oa_app_secret, settings.zalo_oa_refresh_token
    )
    return ZaloOaChannel(runtime, tokens, client)


def zns_templates(settings: Settings) -> dict[TemplateKind, str]:
    """The ZNS template id set for each kind of pushed message."""
    chosen = {
        TemplateKind.NOTICE: settings.zalo_oa_zns_notice_template,
        TemplateKind.MEETING_INVITATION: settings.zalo_oa_zns_invitation_template,
        TemplateKind.MEETING_REMINDER: settings.zalo_oa_zns_reminder_template,
        TemplateKind.VOTE_OPENED: settings.zalo_oa_zns_vote_template,
    }
    return {kind: template for kind, template in chosen.items() if template}


class ZaloOaChannel:
    """The OA's Connection: Zalo calls the webhook set in its developer console; chibo only keeps
    the access token fresh."""

    def __init__(self, runtime: Runtime, tokens: OaTokens, client: ZaloOaClient) -> None:
        self.runtime = runtime
        self.tokens = tokens
        self.client = client
        settings = runtime.settings
        web_chat = web_chat_address(settings.public_url, settings.host, settings.port)
        self.sender = ZaloOaSender(client, tokens, runtime.catalogs, files=runtime.load_file, web_chat=web_chat)
        self.webhook = self
        templates = zns_templates(settings)
        # Without ZNS templates nothing changes: the window's refusal stands.
        self.fallback = ZnsFallback(client, tokens, runtime.sessions, templates, settings.tz) if templates else None

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

    async def receive(self, headers: Mapping[str, str], body: bytes, data: Any) -> dict[str, Any] | None:
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
        if _event_time(event.timestamp) < utcnow() - OLDEST_EVENT:
            self.runtime.metrics.updates_rejected.labels(PLATFORM, "stale").inc()
            return None
        await self.handle_event(event)
        return None

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
        elif event.event_name in RECEIPT_EVENTS:
            delivered, seen, rows = receipts(event)
            at = _event_time(event.timestamp)
            # The first report of each stands, so a re-delivered event changes nothing.
            async with self.runtime.sessions() as session, session.begin():
                await record_platform_receipts(
                    session, Platform.ZALO_OA, at, delivered=delivered, seen=seen, delivered_rows=rows
                )
            metrics.updates_handled.labels(PLATFORM).inc()
        else:
            # The OA's own messages echoed, future events: nothing to do, and ignoring is idempotent.
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
