"""Signed, expiring addresses of a notice's or a meeting's photo, for a platform that takes a photo
only by address (the Zalo bot's sendPhoto): the platform fetches it from ``/photos/<token>``
without a session, so the token itself says which photo and until when, under the server's key."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

PATH = "/photos/"
LIFETIME = timedelta(days=1)  # long enough for the platform to fetch it, whenever it does
_SOURCES = ("notice", "meeting")


def _key(secret: bytes) -> bytes:
    # Derived, so the server's ballot key itself never signs anything a platform sees.
    return hmac.new(secret, b"chibo photo links", hashlib.sha256).digest()


def _mac(secret: bytes, claim: str) -> str:
    return hmac.new(_key(secret), claim.encode(), hashlib.sha256).hexdigest()[:32]


def photo_token(secret: bytes, source: str, file_id: int, now: datetime) -> str:
    """The token for one photo, valid for LIFETIME from ``now``."""
    claim = f"{source}:{file_id}:{int((now + LIFETIME).timestamp())}"
    return base64.urlsafe_b64encode(claim.encode()).decode().rstrip("=") + "." + _mac(secret, claim)


def photo_of(secret: bytes, token: str, now: datetime) -> tuple[str, int] | None:
    """(source, file id) of a genuine, unexpired token; else None."""
    encoded, _, mac = token.partition(".")
    if not token.isascii():
        return None
    try:
        claim = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not hmac.compare_digest(mac.encode(), _mac(secret, claim).encode()):
        return None
    parts = claim.split(":")
    if len(parts) != 3 or parts[0] not in _SOURCES or not all(p.isascii() and p.isdigit() for p in parts[1:]):
        return None
    source, file_id, expires = parts
    return None if int(expires) < now.timestamp() else (source, int(file_id))
