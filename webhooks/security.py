"""What every HTTP answer of chibo has in common, whatever produced it: the security headers, the
client address as far as it can be trusted, and the limit on new web chat sessions per address.

FastAPI puts its own error handling (the 500 of ServerErrorMiddleware) and the body limit (413)
outside every middleware added with ``add_middleware``, so answers made there went out without the
headers. ``HardenedFastAPI`` wraps the whole stack instead: nothing answers from outside it.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, HTTPException
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.runtime import Runtime
from models.db import database_deadline
from models.invites import record_attempt, window_frees
from models.tables import utcnow

# Every response: no script, style or frame from elsewhere, no inline script, no sniffing, no referrer.
# The service worker and the web app manifest come from this server only.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        b"connect-src 'self'; worker-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP response (pure ASGI: bodies pass untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = [(b"cache-control", b"no-store")] if scope["path"].startswith("/api/") else []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS, *no_store]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class DatabaseDeadline:
    """Bounds each HTTP request's waits for a database connection (``models.db.database_deadline``),
    so that with the database hanging every endpoint answers 503 within its budget."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with database_deadline(self.seconds):
            await self.app(scope, receive, send)


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def forwarded_client(peer: str, forwarded_for: str, networks: Sequence[Network]) -> str:
    """The client's address: the peer's own, unless the peer is a trusted proxy; then the nearest
    address in X-Forwarded-For that is not a trusted proxy (each proxy appends the address it was
    called from, so only the entries right of the first untrusted one are vouched for)."""
    if not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


class TrustedProxies:
    """Sets the request's client address from X-Forwarded-For, for the proxies in ``networks`` only
    (uvicorn's own handling is off: it trusted 127.0.0.1, so any local process could pose as anyone)."""

    def __init__(self, app: ASGIApp, networks: Sequence[Network]) -> None:
        self.app = app
        self.networks = tuple(networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and self.networks and client is not None:
            headers = [value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"]
            host = forwarded_client(client[0], ",".join(headers), self.networks)
            if host != client[0]:
                scope = {**scope, "client": (host, 0)}
        await self.app(scope, receive, send)


class HardenedFastAPI(FastAPI):
    """FastAPI with the client address resolved and SECURITY_HEADERS added outside everything else,
    so every answer carries them: a 404 or 405 of the router, a 413 while the body streams in, the
    500 of an unexpected error."""

    def __init__(
        self, *, trusted_proxies: Sequence[Network] = (), database_budget: float | None = None, **options: Any
    ) -> None:
        self.trusted_proxies = tuple(trusted_proxies)
        self.database_budget = database_budget
        super().__init__(**options)

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        if self.database_budget is not None:
            app = DatabaseDeadline(app, self.database_budget)
        return TrustedProxies(SecurityHeaders(app), self.trusted_proxies)


async def limit_new_sessions(runtime: Runtime, session: AsyncSession, address: str, *, sweep: bool = True) -> None:
    """Count a new web chat session against the client address, in the caller's transaction; 429
    once the address has opened CHIBO_WEBCHAT_SESSIONS_PER_ADDRESS within the last invite window,
    with Retry-After when the oldest of them leaves it (the invite lock-out's bookkeeping:
    concurrent requests may pass a few over the limit, never many). ``sweep``: old attempts are
    dropped on the way."""
    settings = runtime.settings
    scope = f"new-session:{address}"[:100]
    frees = await window_frees(
        session, scope, limit=settings.webchat_sessions_per_address, window=settings.invite_window
    )
    if frees is None:
        await record_attempt(session, [scope], window=settings.invite_window, sweep=sweep)
        return
    runtime.metrics.updates_rejected.labels("web", "session_limit").inc()
    seconds = max(1, math.ceil((frees - utcnow()).total_seconds()))
    _ = runtime.catalogs.translator(None).gettext
    detail = _(
        "Too many new chats were opened from this network. Please wait {minutes} minutes and open the page again."
    )
    raise HTTPException(429, detail.format(minutes=math.ceil(seconds / 60)), headers={"Retry-After": str(seconds)})
