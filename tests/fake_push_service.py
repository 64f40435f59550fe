"""A local stand-in for a browser's push service (RFC 8030), served over real HTTP.

It makes subscriptions the way a browser does (its own P-256 key pair and auth secret, for the
server's VAPID key), and for every notification posted to one it checks what a real push service
and browser check: the VAPID JWT's ES256 signature with the key in the header (RFC 8292), its
audience and expiry, the TTL and Urgency headers; then it decrypts the aes128gcm payload with the
subscription's private key (RFC 8291), as the browser would. It can be told to answer a
subscription's next posts with errors (410, 429, 5xx).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

WAIT_LIMIT = 60.0  # a deadline for what the server is expected to do, not a delay


def _b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


def _unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeSubscription:
    number: int
    server_key: str  # the applicationServerKey it was made for
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    endpoint: str

    def to_json(self) -> dict[str, Any]:
        """As the browser's PushSubscription.toJSON() gives it."""
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": _b64(public), "auth": _b64(self.auth)},
        }


@dataclass
class Delivered:
    subscription: int
    notification: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakePushService:
    url: str = ""
    subscriptions: dict[int, FakeSubscription] = field(default_factory=dict)
    delivered: list[Delivered] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why posts that a real service refuses were refused
    posts: int = 0
    # subscription number -> the answers its next posts get, in order
    failures: dict[int, list[Answer]] = field(default_factory=dict)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def subscribe(self, server_key: str) -> FakeSubscription:
        number = next(self._numbers)
        subscription = FakeSubscription(
            number,
            server_key,
            ec.generate_private_key(ec.SECP256R1()),
            bytes(range(number, number + 16)),
            f"{self.url}/push/{number}",
        )
        self.subscriptions[number] = subscription
        return subscription

    def app(self) -> web.Application:
        application = web.Application()
        application.router.add_post("/push/{number}", self._post)
        return application

    async def wait_for(self, count: int, *, posts: int = 0) -> list[Delivered]:
        """The first ``count`` notifications delivered (and ``posts`` posts seen), waiting for them."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.delivered) >= count and self.posts >= posts), WAIT_LIMIT
            )
        return self.delivered[:count]

    async def _post(self, request: web.Request) -> web.Response:
        self.posts += 1
        try:
            return await self._answer(request)
        finally:
            async with self._changed:
                self._changed.notify_all()

    async def _answer(self, request: web.Request) -> web.Response:
        subscription = self.subscriptions.get(int(request.match_info["number"]))
        if subscription is None:
            return web.Response(status=404)
        queued = self.failures.get(subscription.number)
        if queued:
            answer = queued.pop(0)
            return web.Response(status=answer.status, headers=answer.headers)
        problem = self._check_headers(request, subscription)
        if problem is not None:
            self.refused.append(problem)
            return web.Response(status=403 if "vapid" in problem else 400, text=problem)
        body = await request.read()
        plain = http_ece.decrypt(
            body, private_key=subscription.private_key, auth_secret=subscription.auth, version="aes128gcm"
        )
        self.delivered.append(Delivered(subscription.number, json.loads(plain), dict(request.headers)))
        return web.Response(status=201, headers={"Location": f"{self.url}/message/{len(self.delivered)}"})

    def _check_headers(self, request: web.Request, subscription: FakeSubscription) -> str | None:
        if request.headers.get("Content-Encoding") != "aes128gcm":
            return "content encoding is not aes128gcm"
        if not request.headers.get("TTL", "").isdigit():
            return "no TTL"
        if request.headers.get("Urgency") not in ("very-low", "low", "normal", "high"):
            return "no valid Urgency"
        if "Topic" in request.headers and not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", request.headers["Topic"]):
            return "Topic is not at most 32 characters of the URL-safe base64 alphabet (RFC 8030 §5.4)"
        scheme, _, params = request.headers.get("Authorization", "").partition(" ")
        fields = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        if scheme != "vapid" or "t" not in fields or "k" not in fields:
            return "vapid: no vapid t=, k= authorization"
        if fields["k"] != subscription.server_key:
            return "vapid: signed with another key than the subscription's"
        header, claims, signature = fields["t"].split(".")
        if json.loads(_unb64(header)).get("alg") != "ES256":
            return "vapid: not ES256"
        raw = _unb64(signature)
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(fields["k"]))
        try:
            public.verify(
                encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                f"{header}.{claims}".encode(),
                ec.ECDSA(hashes.SHA256()),
            )
        except InvalidSignature:
            return "vapid: bad signature"
        payload = json.loads(_unb64(claims))
        if payload.get("aud") != self.url:
            return f"vapid: audience {payload.get('aud')!r} is not {self.url!r}"
        if not time.time() < payload.get("exp", 0) <= time.time() + 24 * 3600:
            return "vapid: expiry not within 24 hours"
        if not str(payload.get("sub", "")).startswith(("mailto:", "https://")):
            return "vapid: no subject"
        return None
