"""Webhook signatures: how chibo knows a POST comes from Zalo."""

from __future__ import annotations

import hashlib
import hmac

from bot.channels.zalo_oa.facts import SIGNATURE_PREFIX


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
