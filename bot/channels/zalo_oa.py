"""Zalo Official Account (OA API v3): webhook events in, customer-service messages out.

A commune party committee's official Zalo page. Buttons exist here: each one is an
``oa.query.hide`` button whose payload Zalo sends back as the member's (hidden) text, which this
adapter reads back as the button's payload. Sending needs an OAuth access token that expires
within a day and is renewed with a refresh token that changes on every renewal; ``OaTokens``
keeps both in the database. This file only translates; what to answer is decided in ``handlers``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.text import split_text
from bot.delivery import Rejected, RetryLater, SendError, Transient, Unreachable
from handlers.contract import Button, Catalogs, Inbound, Reply
from models.db import insert_ignoring_conflict, is_database_unavailable
from models.tables import ChannelIdentity, Member, Platform, ProcessedUpdate, ZaloOaToken, utcnow

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

# ---- What we know about the Zalo OA API v3 and Zalo OAuth v4 (DESIGN.md §3). Official docs could
# not be read from here; these facts come from integrations that call the APIs, so every one sits in
# this block: a correction is one edit. "Unconfirmed" marks what only one integration shows.
OFFICIAL_API_BASE = "https://openapi.zalo.me"
OFFICIAL_OAUTH_BASE = "https://oauth.zaloapp.com"
SEND_PATH = "v3.0/oa/message/cs"  # a customer-service ("tư vấn") message, POST JSON
ACCESS_TOKEN_HEADER = "access_token"  # on every openapi call
REFRESH_PATH = "v4/oa/access_token"  # POST form: app_id, grant_type=refresh_token, refresh_token
APP_SECRET_HEADER = "secret_key"  # on the refresh call: the app secret
# Webhook: "mac=" + sha256 hex of app_id + raw body + the body's "timestamp" + the OA secret key
# (a plain hash of the concatenation, not an HMAC).
SIGNATURE_HEADER = "X-ZEvent-Signature"
SIGNATURE_PREFIX = "mac="
MESSAGE_LIMIT = 2000  # message.text
MAX_BUTTONS = 5  # buttons in one template attachment (unconfirmed); more go in further messages
BUTTON_TITLE_LIMIT = 100
HIDDEN_QUERY_BUTTON = "oa.query.hide"  # its payload comes back as user_send_text, hidden in the chat
TEXT_EVENT = "user_send_text"
# Events that carry {sender {id}, message {msg_id, text?}}. Only text is read; the others reach the
# handlers as empty text (the member wrote, so they can be reached again).
MESSAGE_EVENTS = frozenset(
    {
        TEXT_EVENT,
        "user_send_image",
        "user_send_link",
        "user_send_audio",
        "user_send_video",
        "user_send_sticker",
        "user_send_gif",
        "user_send_file",
        "user_send_location",
        "user_send_business_card",
    }
)
FOLLOW_EVENT = "follow"  # {follower {id}}
UNFOLLOW_EVENT = "unfollow"  # {follower {id}}
# openapi answers {"error": 0, "message": "Success", "data": {...}}, with error != 0 on failure,
# usually inside HTTP 200.
INVALID_TOKEN = frozenset({-216, -124})  # -216 invalid access token; -124 "expired" (unconfirmed)
RATE_LIMITED = frozenset({-32, 429})  # -32 over the request rate (unconfirmed); 429 as HTTP status
# Zalo will not deliver to this member now: why, in the words kept on the outbox row. Both codes
# appear in integrations for the window after the member's last interaction (7 days reportedly;
# -213 is also reported as "does not follow the OA"): unconfirmed.
UNREACHABLE = {
    -213: "the member does not follow the OA or has not interacted with it recently",
    -230: "the member has not interacted with the OA in the last 7 days",
}
RATE_LIMIT_PAUSE_SECONDS = 1.0  # Zalo says nothing of how long to wait
# OAuth v4: an access token lasts about 25 h ("expires_in" says exactly, in seconds, sometimes as
# a string); the refresh token changes with every refresh and is reportedly honoured until the one
# that replaced it is used.

# ---- Ours.
WEBHOOK_PATH = "/webhooks/zalo-oa"
PLATFORM = Platform.ZALO_OA.value
# What a button's payload starts with when Zalo sends it back as text.
BUTTON_PREFIX = "#chibo:"
REFRESH_MARGIN = timedelta(hours=1)  # refresh this long before the access token expires
# A refresh claim's lease: well over the refresh call's timeout, so only a dead process loses it.
REFRESH_LEASE = timedelta(seconds=60)
# A token refused this soon after it was issued is not refreshed again (a storm of refreshes, each
# rotating the refresh token, would only add ways to lose it).
FORCED_REFRESH_INTERVAL = timedelta(minutes=1)
KEEP_FRESH_INTERVAL = timedelta(minutes=30)  # how often the scheduler looks at the token
HTTP_TIMEOUT_SECONDS = 15.0


# ---- The HTTP client
class ZaloOaError(Exception):
    """A call to Zalo that did not succeed. ``code`` is Zalo's error code, else the HTTP status;
    None when no answer came (network). ``http_status`` is set when the answer was not Zalo's
    (a 5xx, a 429, a proxy's page)."""

    def __init__(self, call: str, code: int | None, message: str, *, http_status: int | None = None) -> None:
        super().__init__(f"{call}: {'network' if code is None else code} {message}".strip())
        self.call = call
        self.code = code
        self.message = message
        self.http_status = http_status

    @property
    def refused(self) -> bool:
        """Zalo answered with an error of its own (not a network, server or rate-limit failure)."""
        return self.code is not None and self.http_status is None


@dataclass(frozen=True)
class Grant:
    """What a refresh returns."""

    access_token: str
    refresh_token: str
    expires_in: timedelta


class ZaloOaClient:
    """A small typed client for the two calls chibo makes: send a message, refresh the tokens."""

    def __init__(
        self,
        api_base: str = OFFICIAL_API_BASE,
        oauth_base: str = OFFICIAL_OAUTH_BASE,
        *,
        timeout: float = HTTP_TIMEOUT_SECONDS,
    ) -> None:
        self._api = httpx.AsyncClient(base_url=api_base.rstrip("/") + "/", timeout=timeout)
        self._oauth = httpx.AsyncClient(base_url=oauth_base.rstrip("/") + "/", timeout=timeout)

    async def send_message(self, access_token: str, body: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of a successful send, or ZaloOaError."""
        answer = await self._post(self._api, "send", SEND_PATH, json=body, headers={ACCESS_TOKEN_HEADER: access_token})
        error = answer.get("error")
        if error != 0:
            code = error if type(error) is int else None
            raise ZaloOaError("send", code, str(answer.get("message") or ""))
        data = answer.get("data")
        return data if isinstance(data, dict) else {}

    async def refresh(self, app_id: str, app_secret: str, refresh_token: str) -> Grant:
        """New tokens for ``refresh_token``, or ZaloOaError."""
        form = {"app_id": app_id, "grant_type": "refresh_token", "refresh_token": refresh_token}
        answer = await self._post(
            self._oauth, "refresh", REFRESH_PATH, data=form, headers={APP_SECRET_HEADER: app_secret}
        )
        access, refresh, expires_in = answer.get("access_token"), answer.get("refresh_token"), answer.get("expires_in")
        # expires_in comes as a number or as a string of digits.
        seconds = (
            int(expires_in)
            if type(expires_in) is int
            or (isinstance(expires_in, str) and expires_in.isascii() and expires_in.isdigit())
            else 0
        )
        if isinstance(access, str) and access and isinstance(refresh, str) and refresh and seconds > 0:
            return Grant(access, refresh, timedelta(seconds=seconds))
        error = answer.get("error")
        detail = answer.get("error_description") or answer.get("error_name") or answer.get("message") or ""
        # An answer without tokens is a refusal even when it carries no code.
        raise ZaloOaError("refresh", error if type(error) is int and error != 0 else 0, str(detail))

    async def _post(self, http: httpx.AsyncClient, call: str, path: str, **request: Any) -> dict[str, Any]:
        try:
            response = await http.post(path, **request)
        except httpx.HTTPError as error:
            # The request (with its token header) stays out of the chain.
            raise ZaloOaError(call, None, f"{type(error).__name__}: {error}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 500 or response.status_code == 429 or not isinstance(body, dict):
            raise ZaloOaError(call, response.status_code, "unexpected answer", http_status=response.status_code)
        return body

    async def aclose(self) -> None:
        await self._api.aclose()
        await self._oauth.aclose()


# ---- Webhook signatures
def signature(app_id: str, body: bytes, timestamp: str, secret_key: str) -> str:
    """The X-ZEvent-Signature Zalo sends with ``body``."""
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret_key.encode()).hexdigest()
    return SIGNATURE_PREFIX + digest


def signature_matches(given: str, app_id: str, body: bytes, timestamp: str, secret_key: str) -> bool:
    """Whether ``given`` is Zalo's signature of ``body``, compared in constant time."""
    expected = signature(app_id, body, timestamp, secret_key)
    return hmac.compare_digest(given.strip().lower().encode(), expected.encode())


def event_timestamp(data: object) -> str | None:
    """The body's "timestamp" as it enters the signature, or None when there is none."""
    value = data.get("timestamp") if isinstance(data, dict) else None
    if type(value) is int:
        return str(value)
    return value if isinstance(value, str) and value else None


# ---- Events, as Zalo shapes them (unknown fields are ignored)
class OaUser(BaseModel):
    # Bounded so "<event>:<user id>:<timestamp>" fits the 128-character de-duplication key.
    id: str = Field(min_length=1, max_length=64)


class OaMessage(BaseModel):
    msg_id: str = Field(min_length=1, max_length=128)
    text: str | None = None


class OaEvent(BaseModel):
    event_name: str = Field(min_length=1, max_length=100)
    timestamp: str = Field(pattern=r"^\d{1,20}$")
    sender: OaUser | None = None
    message: OaMessage | None = None
    follower: OaUser | None = None

    @model_validator(mode="before")
    @classmethod
    def _only_what_is_read(cls, data: Any) -> Any:
        # Other events shape these parts differently (a seen receipt's message holds msg_ids): only
        # the events chibo handles are held to the shape it reads.
        if not isinstance(data, dict):
            return data
        name = data.get("event_name")
        dropped = (() if name in MESSAGE_EVENTS else ("sender", "message")) + (
            () if name in (FOLLOW_EVENT, UNFOLLOW_EVENT) else ("follower",)
        )
        return {key: value for key, value in data.items() if key not in dropped}

    @field_validator("timestamp", mode="before")
    @classmethod
    def _number_as_text(cls, value: object) -> object:
        return str(value) if type(value) is int else value

    @model_validator(mode="after")
    def _events_carry_their_parts(self) -> OaEvent:
        if self.event_name in MESSAGE_EVENTS and (self.sender is None or self.message is None):
            raise ValueError(f"{self.event_name} without a sender or a message")
        if self.event_name in (FOLLOW_EVENT, UNFOLLOW_EVENT) and self.follower is None:
            raise ValueError(f"{self.event_name} without a follower")
        return self


# ---- Tokens
@dataclass(frozen=True)
class _Refreshed:
    """New tokens, under the claim (the row's version) that allowed the refresh."""

    claimed: int
    grant: Grant
    used: str  # the refresh token that obtained them
    obtained_at: datetime


class TokenUnavailable(Exception):
    """No usable access token now: none stored, the refresh failed, or another process is refreshing."""


class OaTokens:
    """The OA's access token, refreshed before it expires and when Zalo refuses it.

    The tokens live in the database (the refresh token changes on every refresh, so it exists
    nowhere else). Within a process a lock lets one task refresh; across processes a
    compare-and-set on the row's ``version`` lets one process refresh, with a lease in case it dies.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: ZaloOaClient,
        app_id: str,
        app_secret: str,
        initial_refresh_token: str | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._app_id = app_id
        self._app_secret = app_secret
        self._initial = initial_refresh_token
        self._clock = clock
        self._lock = asyncio.Lock()
        self._current: tuple[str, datetime] | None = None  # the access token and its expiry
        self._unstored: _Refreshed | None = None  # new tokens the database was not there to take

    async def access_token(self) -> str:
        """A valid access token, refreshed first when it is close to expiring."""
        current = self._current
        if current is not None and not self._due(current[1]):
            return current[0]
        async with self._lock:
            row = await self._row()
            if row.access_token and row.expires_at is not None and not self._due(row.expires_at):
                return self._keep(row.access_token, row.expires_at)
            return await self._refresh(row, refused=None)

    async def replace(self, refused: str) -> str:
        """An access token to use instead of ``refused``: one another task or process already got,
        else a refresh."""
        async with self._lock:
            self._current = None
            row = await self._row()
            if self._usable(row, refused):
                assert row.access_token is not None and row.expires_at is not None
                return self._keep(row.access_token, row.expires_at)
            if row.access_token == refused and self._clock() - row.updated_at < FORCED_REFRESH_INTERVAL:
                raise TokenUnavailable("Zalo refused an access token issued moments ago; check the app and the OA")
            return await self._refresh(row, refused=refused)

    def _due(self, expires_at: datetime) -> bool:
        return expires_at - self._clock() <= REFRESH_MARGIN

    def _usable(self, row: ZaloOaToken, refused: str | None) -> bool:
        return (
            row.access_token is not None
            and row.access_token != refused
            and row.expires_at is not None
            and row.expires_at > self._clock()
        )

    def _keep(self, access_token: str, expires_at: datetime) -> str:
        self._current = (access_token, expires_at)
        return access_token

    async def _row(self) -> ZaloOaToken:
        """The stored tokens; the first time, seeded from the initial refresh token setting."""
        async with self._sessions() as session, session.begin():
            row = await session.get(ZaloOaToken, self._app_id)
            if row is None and self._initial:
                # Only when the database holds none: afterwards the setting is stale (rotated).
                await insert_ignoring_conflict(
                    session,
                    ZaloOaToken,
                    app_id=self._app_id,
                    refresh_token=self._initial,
                    updated_at=self._clock(),
                    version=0,
                )
                row = await session.get(ZaloOaToken, self._app_id)
        if row is None:
            raise TokenUnavailable("no Zalo OA refresh token stored; set CHIBO_ZALO_OA_REFRESH_TOKEN")
        return row

    async def _refresh(self, row: ZaloOaToken, refused: str | None) -> str:
        unstored, self._unstored = self._unstored, None
        if unstored is not None and unstored.claimed == row.version:
            # Our refresh got new tokens but the database was away: our claim still stands, so they
            # are stored now rather than refreshed again.
            return await self._store(unstored, refused)
        now = self._clock()
        claimed = row.version + 1
        async with self._sessions() as session, session.begin():
            won = await session.exec(
                update(ZaloOaToken)
                .where(col(ZaloOaToken.app_id) == self._app_id, col(ZaloOaToken.version) == row.version)
                .where(or_(col(ZaloOaToken.refreshing_until).is_(None), col(ZaloOaToken.refreshing_until) < now))
                .values(version=claimed, refreshing_until=now + REFRESH_LEASE)
            )
        if not won.rowcount:
            # Another process is refreshing, or has just stored: its token, or the old one while valid.
            latest = await self._row()
            if self._usable(latest, refused):
                assert latest.access_token is not None and latest.expires_at is not None
                return self._keep(latest.access_token, latest.expires_at)
            raise TokenUnavailable("another process is refreshing the Zalo OA access token")
        try:
            grant, used = await self._grant(row)
        except Exception:
            await self._release(claimed)
            raise
        return await self._store(_Refreshed(claimed, grant, used, self._clock()), refused)

    async def _store(self, refreshed: _Refreshed, refused: str | None) -> str:
        """Store new tokens under our claim, then use them.

        Zalo has rotated the refresh token: the new one exists only in this process until this
        commit, so it is stored, with the one it replaced, before the new access token is used.
        Should the process die before the commit, the row still holds the refresh token just used,
        which Zalo reportedly honours until its successor is used, and nothing has used that
        successor: the next refresh (once the claim's lease ends) succeeds. Should the database
        fail instead, the tokens are kept here and stored on the next attempt.
        """
        grant = refreshed.grant
        expires_at = refreshed.obtained_at + grant.expires_in
        try:
            async with self._sessions() as session, session.begin():
                stored = await session.exec(
                    update(ZaloOaToken)
                    .where(col(ZaloOaToken.app_id) == self._app_id, col(ZaloOaToken.version) == refreshed.claimed)
                    .values(
                        access_token=grant.access_token,
                        refresh_token=grant.refresh_token,
                        previous_refresh_token=refreshed.used,
                        expires_at=expires_at,
                        updated_at=refreshed.obtained_at,
                        refreshing_until=None,
                        version=refreshed.claimed + 1,
                    )
                )
        except Exception as error:
            if is_database_unavailable(error):
                self._unstored = refreshed
            raise
        if not stored.rowcount:
            # Paused past the lease while another process refreshed and stored: its tokens stand.
            log.warning("zalo oa: a refresh finished after its lease; the other process's tokens are kept")
            latest = await self._row()
            if not self._usable(latest, refused):
                raise TokenUnavailable("the Zalo OA tokens changed during a refresh")
            assert latest.access_token is not None and latest.expires_at is not None
            return self._keep(latest.access_token, latest.expires_at)
        log.info("zalo oa: access token refreshed; it expires at %s", expires_at.isoformat(timespec="seconds"))
        return self._keep(grant.access_token, expires_at)

    async def _grant(self, row: ZaloOaToken) -> tuple[Grant, str]:
        """New tokens from Zalo, and the refresh token that obtained them."""
        try:
            return await self._client.refresh(self._app_id, self._app_secret, row.refresh_token), row.refresh_token
        except ZaloOaError as error:
            previous = row.previous_refresh_token
            if not error.refused or not previous or previous == row.refresh_token:
                raise self._refresh_failed(error) from error
            # The refresh token before the current one is honoured until the current one is used:
            # if the current one was stored but is refused, the previous one may still work.
            log.warning("zalo oa: the refresh token was refused (%s); trying the one before it", error)
        try:
            return await self._client.refresh(self._app_id, self._app_secret, previous), previous
        except ZaloOaError as error:
            raise self._refresh_failed(error) from error

    @staticmethod
    def _refresh_failed(error: ZaloOaError) -> TokenUnavailable:
        if error.refused:
            # Nothing chibo can do alone: a person must authorise the app for the OA again.
            log.error("zalo oa: Zalo refused the refresh token (%s); authorise the app again", error)
        return TokenUnavailable(f"refreshing the Zalo OA access token failed: {error}")

    async def _release(self, claimed: int) -> None:
        """Give up a claim at once, rather than when its lease ends."""
        try:
            async with self._sessions() as session, session.begin():
                await session.exec(
                    update(ZaloOaToken)
                    .where(col(ZaloOaToken.app_id) == self._app_id, col(ZaloOaToken.version) == claimed)
                    .values(refreshing_until=None)
                )
        except Exception as error:
            if not is_database_unavailable(error):
                raise
            log.warning("zalo oa: could not release the refresh claim; its lease will end it")


# ---- Inbound
def inbound_from_message(event: OaEvent) -> Inbound:
    """The member's message as an event; a button's hidden text arrives as its payload."""
    assert event.sender is not None and event.message is not None
    text = event.message.text or ""
    payload = text[len(BUTTON_PREFIX) :] if event.event_name == TEXT_EVENT and text.startswith(BUTTON_PREFIX) else None
    return Inbound(
        platform=Platform.ZALO_OA,
        user_id=event.sender.id,
        chat_id=event.sender.id,
        text=None if payload is not None else text,
        payload=payload,
        # Members join with their printed invite code: no phone sharing on Zalo.
        can_share_contact=False,
    )


def inbound_from_follow(event: OaEvent) -> Inbound:
    """Following the OA is opening the chat: answered as /start (a welcome, or welcome back)."""
    assert event.follower is not None
    user = event.follower.id
    return Inbound(platform=Platform.ZALO_OA, user_id=user, chat_id=user, text="/start", can_share_contact=False)


def update_key(event: OaEvent) -> str:
    """What makes a delivery of this event unique, for de-duplication."""
    if event.message is not None:
        return event.message.msg_id
    assert event.follower is not None
    return f"{event.event_name}:{event.follower.id}:{event.timestamp}"


# ---- Outbound
def choices(reply: Reply) -> list[Button]:
    """The buttons a reply offers, its own first, then its menu (the OA has no persistent menu)."""
    return [button for row in reply.buttons + (reply.menu or ()) for button in row]


def _with_buttons(text: str, buttons: Sequence[Button]) -> dict[str, Any]:
    return {
        "text": text,
        "attachment": {
            "type": "template",
            "payload": {
                "buttons": [
                    {
                        "title": button.label[:BUTTON_TITLE_LIMIT],
                        "type": HIDDEN_QUERY_BUTTON,
                        "payload": BUTTON_PREFIX + button.payload,
                    }
                    for button in buttons
                ]
            },
        },
    }


def render(chat_id: str, reply: Reply, more_text: str) -> list[dict[str, Any]]:
    """The send bodies for one reply: the text in pieces, the buttons under the last one; more
    buttons than one message holds are shared out evenly over further messages saying ``more_text``."""
    pieces = split_text(reply.text, MESSAGE_LIMIT)
    messages: list[dict[str, Any]] = [{"text": piece} for piece in pieces]
    offered = choices(reply)
    if offered:
        count = -(-len(offered) // MAX_BUTTONS)
        size = -(-len(offered) // count)
        groups = [offered[start : start + size] for start in range(0, len(offered), size)]
        messages[-1] = _with_buttons(pieces[-1], groups[0])
        messages += [_with_buttons(more_text, group) for group in groups[1:]]
    return [{"recipient": {"user_id": chat_id}, "message": message} for message in messages]


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

    def __init__(
        self,
        client: ZaloOaClient,
        tokens: OaTokens,
        sessions: async_sessionmaker[AsyncSession],
        catalogs: Catalogs,
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._sessions = sessions
        self._catalogs = catalogs

    async def send(self, chat_id: str, reply: Reply) -> None:
        try:
            more_text = ""
            if len(choices(reply)) > MAX_BUTTONS:
                more_text = self._catalogs.translator(await self._locale(chat_id)).gettext("More choices:")
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

    async def _locale(self, chat_id: str) -> str | None:
        """The language of the member in this chat, for the line the adapter adds itself."""
        async with self._sessions() as session:
            return (
                await session.exec(
                    select(Member.locale)
                    .join(ChannelIdentity, col(ChannelIdentity.member_id) == col(Member.id))
                    .where(ChannelIdentity.platform == Platform.ZALO_OA, ChannelIdentity.chat_id == chat_id)
                )
            ).first()


class ZaloOaChannel:
    def __init__(self, runtime: Runtime, tokens: OaTokens) -> None:
        self.runtime = runtime
        self.tokens = tokens

    async def handle_event(self, event: OaEvent) -> None:
        """Handle one webhook event durably. Database errors propagate, so Zalo delivers it again."""
        metrics = self.runtime.metrics
        metrics.updates_received.labels(PLATFORM).inc()
        if event.event_name in MESSAGE_EVENTS:
            await self.runtime.process(inbound_from_message(event), update_key(event))
        elif event.event_name == FOLLOW_EVENT:
            await self.runtime.process(inbound_from_follow(event), update_key(event))
        elif event.event_name == UNFOLLOW_EVENT:
            await self._unfollowed(event)
        else:
            # Seen receipts, the OA's own messages echoed, future events: nothing to do, and
            # ignoring is idempotent.
            metrics.updates_rejected.labels(PLATFORM, "unsupported").inc()

    async def _unfollowed(self, event: OaEvent) -> None:
        """The member left the OA: Zalo will not deliver to them until they follow again."""
        assert event.follower is not None
        now = utcnow()
        async with self.runtime.sessions() as session, session.begin():
            if not await insert_ignoring_conflict(
                session, ProcessedUpdate, platform=PLATFORM, update_key=update_key(event), processed_at=now
            ):
                self.runtime.metrics.updates_rejected.labels(PLATFORM, "duplicate").inc()
                return
            await session.exec(
                update(ChannelIdentity)
                .where(col(ChannelIdentity.platform) == Platform.ZALO_OA)
                .where(col(ChannelIdentity.platform_user_id) == event.follower.id)
                .values(unreachable_at=now)
            )
        self.runtime.metrics.updates_handled.labels(PLATFORM).inc()

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
