"""What a failed call to Zalo means for the delivery worker."""

from __future__ import annotations

from bot.channels.base import Rejected, RetryLater, SendError, Transient, WindowClosed
from bot.channels.zalo_oa.client import ZaloOaError
from bot.channels.zalo_oa.facts import (
    INVALID_TOKEN,
    RATE_LIMIT_PAUSE_SECONDS,
    RATE_LIMITED,
    UNREACHABLE,
    WINDOW_CLOSED,
)


def delivery_error(error: ZaloOaError) -> SendError:
    """The delivery worker's retry rule for a failed send."""
    code = error.code
    if code in RATE_LIMITED:
        return RetryLater(RATE_LIMIT_PAUSE_SECONDS)
    if code in WINDOW_CLOSED:
        return WindowClosed(f"{UNREACHABLE[code]} ({error})")
    if code is None or code in INVALID_TOKEN or (error.http_status or 0) >= 500:
        return Transient(str(error))
    return Rejected(str(error))
