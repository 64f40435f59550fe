"""Web Push: a copy of every web chat message, as a notification, for the browsers that turned it on.

Two steps, each an outbox row the delivery worker sends with its own rate limit and retries:
a web chat message, once sent to the page, queues a ``web_push`` row for the chat when it has a
subscription (``AlsoPush``); that row is then encrypted and posted to the browser's push service
(``WebPushSender``). So a push service that says "slow down" or is down holds back only the
notifications, never the live page, and a retried notification never shows twice on the page.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import time
import urllib.parse
from typing import TYPE_CHECKING

import http_ece
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from bot.channels.base import Polling, Rejected, RetryLater, Sender, Transient, Unreachable
from bot.delivery import SENDING
from handlers.contract import Reply
from models.db import insert_ignoring_conflict
from models.push_subscriptions import forget, subscription_of
from models.tables import OutboxMessage, Platform, VapidKey, utcnow

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.runtime import Runtime
    from bot.settings import Settings

log = logging.getLogger(__name__)

# ---- Facts (RFC 8030 push protocol, RFC 8291 message encryption, RFC 8292 VAPID)
ENDPOINT_MAX_LENGTH = 2048
PUBLIC_KEY_BYTES = 65  # p256dh: an uncompressed P-256 point, 0x04 || X || Y
AUTH_BYTES = 16  # the authentication secret
# A push service takes at least 4096 bytes of encrypted payload; aes128gcm adds a 86-byte header
# (salt, record size, key id), a 16-byte tag and a padding delimiter. The text is cut well below.
NOTIFICATION_TEXT_LIMIT = 500
JWT_LIFETIME_SECONDS = 12 * 3600  # at most 24 h (RFC 8292 §2)
SEND_TIMEOUT_SECONDS = 10.0
DEFAULT_RETRY_AFTER = 60.0
URGENCY = "normal"  # RFC 8030 §5.3: delivered while the phone is on battery, not only when charging
FALLBACK_SUBJECT = "mailto:chibo@localhost"
NOTIFICATION_TITLE = "chibo"
CHANNEL_KEY = Platform.WEB_PUSH.value  # its key in the registry (bot/channels/specs/web_push.py)


class InvalidSubscription(ValueError):
    """A PushSubscription the server will not use: which field, and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def b64url_decode(value: str) -> bytes:
    """base64url, with or without its padding; ValueError for anything else."""
    if not value or len(value) > 256 or not value.replace("-", "").replace("_", "").rstrip("=").isalnum():
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def b64url_encode(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


def _services(settings: Settings) -> tuple[set[str], list[str]]:
    """The allowed push service origins (exact) and host names (with their subdomains, https)."""
    origins, hosts = set(), []
    for service in (s.strip().lower() for s in settings.web_push_services.split(",")):
        if "://" in service:
            origins.add(service)
        else:
            hosts.append(service)
    return origins, hosts


_HOST_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")


def check_subscription(settings: Settings, endpoint: str, p256dh: str, auth: str) -> None:
    """Refuse (InvalidSubscription) a subscription that is not a browser's: its endpoint https on a
    known push service (so the server never posts where a browser merely says), its keys the sizes
    RFC 8291 gives and its public key a point on P-256."""
    if len(endpoint) > ENDPOINT_MAX_LENGTH:
        raise InvalidSubscription("endpoint", "endpoint is too long")
    try:
        parts = urllib.parse.urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise InvalidSubscription("endpoint", "endpoint is not a URL") from None
    host = (parts.hostname or "").lower()
    # A host name of plain letters, digits, dots and hyphens, and an address the HTTP client reads as
    # written: a full-width letter or a tab passed the checks above and then failed every send.
    if not _HOST_NAME.fullmatch(host) or not endpoint.isascii() or any(c.isspace() for c in endpoint):
        raise InvalidSubscription("endpoint", "endpoint is not an https address of a known push service")
    try:
        httpx.URL(endpoint)
    except httpx.InvalidURL:
        raise InvalidSubscription("endpoint", "endpoint is not a URL") from None
    origins, hosts = _services(settings)
    origin = f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")
    known_host = (
        parts.scheme.lower() == "https"
        and port in (None, 443)
        and any(host == h or host.endswith("." + h) for h in hosts)
    )
    if parts.username is not None or parts.password is not None or not (known_host or origin in origins):
        raise InvalidSubscription("endpoint", "endpoint is not an https address of a known push service")
    try:
        key = b64url_decode(p256dh)
        secret = b64url_decode(auth)
    except ValueError:
        raise InvalidSubscription("keys", "keys must be base64url") from None
    if len(key) != PUBLIC_KEY_BYTES or len(secret) != AUTH_BYTES:
        raise InvalidSubscription("keys", "keys.p256dh must be 65 bytes and keys.auth 16 bytes")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
    except ValueError:
        raise InvalidSubscription("keys", "keys.p256dh is not a P-256 public key") from None


def encrypt(payload: bytes, p256dh: str, auth: str) -> bytes:
    """``payload`` encrypted for the browser (RFC 8291, aes128gcm): a fresh key pair and salt each time."""
    sender_key = ec.generate_private_key(ec.SECP256R1())
    encrypted: bytes = http_ece.encrypt(
        payload,
        private_key=sender_key,
        dh=b64url_decode(p256dh),
        auth_secret=b64url_decode(auth),
        version="aes128gcm",
    )
    return encrypted


def notification(reply: Reply, web_message_id: int | None) -> bytes:
    """What the service worker shows (webhooks/static/sw.js): the text, cut short, and where a tap opens."""
    text = reply.text if len(reply.text) <= NOTIFICATION_TEXT_LIMIT else reply.text[: NOTIFICATION_TEXT_LIMIT - 1] + "…"
    url = "/" if web_message_id is None else f"/#message-{web_message_id}"
    body = {"title": NOTIFICATION_TITLE, "body": text, "url": url, "tag": url}
    return json.dumps(body, ensure_ascii=False).encode()


def _retry_after(value: str | None) -> float:
    try:
        return max(1.0, float(value)) if value else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER  # an HTTP date: wait the default


class VapidKeys:
    """The server's VAPID key: CHIBO_VAPID_PRIVATE_KEY, or the one in the database (made on first
    start; every process then signs with the key browsers subscribed to)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._vapid: Vapid02 | None = None
        self._lock = asyncio.Lock()
        configured = runtime.settings.vapid_private_key
        if configured is not None:
            try:
                if configured.startswith("-----BEGIN"):
                    self._vapid = Vapid02.from_pem(configured.encode())
                else:
                    self._vapid = Vapid02.from_string(configured)
            except Exception:
                raise ValueError("CHIBO_VAPID_PRIVATE_KEY is not a VAPID private key (base64url or PEM)") from None
        subject = runtime.settings.vapid_subject
        public_url = runtime.settings.public_url
        if subject is None and public_url is not None and public_url.scheme == "https":
            subject = str(public_url)
        self.subject = subject or FALLBACK_SUBJECT

    async def vapid(self) -> Vapid02:
        async with self._lock:
            if self._vapid is None:
                self._vapid = Vapid02.from_pem(await self._stored_pem())
            return self._vapid

    async def _stored_pem(self) -> bytes:
        async with self._runtime.sessions() as session, session.begin():
            stored = await session.get(VapidKey, 1)
            if stored is None:
                fresh = Vapid02()
                fresh.generate_keys()
                # Two processes starting together: one insert wins, both read the winner's key.
                made = await insert_ignoring_conflict(
                    session, VapidKey, id=1, private_key=fresh.private_pem().decode(), created_at=utcnow()
                )
                stored = await session.get(VapidKey, 1)
                assert stored is not None
                if made:
                    log.info("web push: made a new VAPID key")
            return stored.private_key.encode()

    async def public_key(self) -> str:
        """The applicationServerKey a browser subscribes with (base64url, uncompressed point)."""
        vapid = await self.vapid()
        raw = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return b64url_encode(raw)

    async def authorization(self, endpoint: str) -> str:
        """The Authorization header for a POST to ``endpoint`` (RFC 8292 §3: vapid t=<JWT>, k=<key>)."""
        parts = urllib.parse.urlsplit(endpoint)
        claims = {"aud": f"{parts.scheme}://{parts.netloc}", "exp": int(time.time()) + JWT_LIFETIME_SECONDS}
        headers = (await self.vapid()).sign({**claims, "sub": self.subject})
        return str(headers["Authorization"])


class WebPushSender:
    """Sends a ``web_push`` outbox row to its chat's subscription: encrypted, signed, with a TTL."""

    def __init__(self, runtime: Runtime, keys: VapidKeys, client: httpx.AsyncClient) -> None:
        self._runtime = runtime
        self._keys = keys
        self._client = client

    async def send(self, chat_id: str, reply: Reply, locale: str | None = None) -> None:
        async with self._runtime.sessions() as session:
            subscription = await subscription_of(session, chat_id)
        if subscription is None:
            return  # turned off (or the member left) since the message was queued: nothing to send
        row = SENDING.get()
        web_message_id = row.body.get("web_message_id") if row is not None else None
        body = encrypt(
            notification(reply, web_message_id if isinstance(web_message_id, int) else None),
            subscription.p256dh,
            subscription.auth,
        )
        headers = {
            "Authorization": await self._keys.authorization(subscription.endpoint),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(self._runtime.settings.web_push_ttl_seconds),
            "Urgency": URGENCY,
        }
        if isinstance(web_message_id, int):
            # RFC 8030 §5.4: a message sent again (a retry after a lost answer) replaces the one the
            # push service still holds instead of arriving twice; the page shows it once by its tag.
            headers["Topic"] = f"message-{web_message_id}"
        try:
            response = await self._client.post(subscription.endpoint, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise Transient(f"push service unreachable: {type(error).__name__}") from None
        status = response.status_code
        if status in (200, 201, 202):
            return
        if status in (404, 410):
            # RFC 8030 §7.3: the subscription expired or the member turned notifications off.
            async with self._runtime.sessions() as session, session.begin():
                await forget(session, subscription.id)
            raise Unreachable(f"push subscription gone ({status})")
        if status == 429:
            raise RetryLater(_retry_after(response.headers.get("retry-after")))
        if status >= 500:
            raise Transient(f"push service answered {status}")
        raise Rejected(f"push service refused the notification ({status}): {response.text[:200]}")


class AlsoPush:
    """The web chat's sender, followed by a ``web_push`` row for a chat with a subscription, so
    every message sent to a member's web chat also reaches their phone when the page is closed."""

    def __init__(self, runtime: Runtime, page: Sender | None) -> None:
        self._runtime = runtime
        self._page = page

    async def send(self, chat_id: str, reply: Reply, locale: str | None = None) -> str | None:
        # The page's own number for the message, so the notification opens the chat at it.
        shown = None if self._page is None else await self._page.send(chat_id, reply, locale)
        async with self._runtime.sessions() as session, session.begin():
            subscription = await subscription_of(session, chat_id)
            if subscription is None:
                return shown
            session.add(
                OutboxMessage(
                    platform=Platform.WEB_PUSH,
                    chat_id=chat_id,
                    body={**reply.to_dict(), "web_message_id": int(shown) if shown and shown.isdigit() else None},
                    member_id=subscription.member_id,
                )
            )
        self._runtime.on_outbox()
        return shown


class WebPushConnection:
    """Web Push, opened: the sender of ``web_push`` rows and the VAPID key the page subscribes with."""

    webhook = None

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self.keys = VapidKeys(runtime)
        self._client = httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS, follow_redirects=False)
        self._sender = WebPushSender(runtime, self.keys, self._client)

    @property
    def sender(self) -> Sender:
        return self._sender

    def also_push(self, page: Sender | None) -> Sender:
        """The web chat's sender (None while the page fetches its own messages), with Web Push after it."""
        return AlsoPush(self._runtime, page)

    async def start(self, scheduler: AsyncIOScheduler) -> Polling | None:
        if self.keys.subject == FALLBACK_SUBJECT:
            log.warning("web push: set CHIBO_VAPID_SUBJECT (mailto: or https://); Apple refuses %s", FALLBACK_SUBJECT)
        await self.keys.vapid()  # made now, not on the first member's tap
        return None

    async def stop(self) -> None:
        await self._client.aclose()


def connect(runtime: Runtime) -> WebPushConnection:
    return WebPushConnection(runtime)
