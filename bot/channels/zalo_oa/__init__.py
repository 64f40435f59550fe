"""Zalo Official Account (OA API v3): webhook events in, customer-service messages out.

A commune party committee's official Zalo page. Buttons exist here: each one is an
``oa.query.hide`` button whose payload Zalo sends back as the member's (hidden) text, which this
adapter reads back as the button's payload. Sending needs an OAuth access token that expires
within a day and is renewed with a refresh token that changes on every renewal; ``OaTokens``
keeps both in the database. This package only translates; what to answer is decided in ``handlers``.

The package: ``facts`` (what we know of Zalo's APIs), ``client`` (the HTTP calls), ``signatures``
(webhook authenticity), ``events`` (webhook events and the member's events in them), ``tokens``
(the token store), ``rendering`` (replies as messages), ``outcomes`` (failed calls as delivery
rules), ``zns`` (template messages past the chat window) and ``channel`` (the sender and the
Connection the registry opens).
"""

from bot.channels.zalo_oa.channel import ZaloOaChannel, ZaloOaSender, connect
from bot.channels.zalo_oa.client import Grant, ZaloOaClient, ZaloOaError
from bot.channels.zalo_oa.events import (
    OaEvent,
    OaMessage,
    OaUser,
    inbound_from_follow,
    inbound_from_message,
    update_key,
)
from bot.channels.zalo_oa.facts import (
    BUTTON_PREFIX,
    FOLLOW_EVENT,
    KEEP_FRESH_INTERVAL,
    MAX_BUTTONS,
    MESSAGE_EVENTS,
    MESSAGE_LIMIT,
    OFFICIAL_API_BASE,
    OFFICIAL_OAUTH_BASE,
    PLATFORM,
    REFRESH_LEASE,
    REFRESH_MARGIN,
    SIGNATURE_HEADER,
    TEXT_EVENT,
    UNFOLLOW_EVENT,
    WEBHOOK_PATH,
)
from bot.channels.zalo_oa.outcomes import delivery_error
from bot.channels.zalo_oa.rendering import choices, render
from bot.channels.zalo_oa.signatures import event_timestamp, signature, signature_matches
from bot.channels.zalo_oa.tokens import OaTokens, TokenUnavailable
from bot.channels.zalo_oa.zns import ZnsFallback

__all__ = [
    "BUTTON_PREFIX",
    "FOLLOW_EVENT",
    "KEEP_FRESH_INTERVAL",
    "MAX_BUTTONS",
    "MESSAGE_EVENTS",
    "MESSAGE_LIMIT",
    "OFFICIAL_API_BASE",
    "OFFICIAL_OAUTH_BASE",
    "PLATFORM",
    "REFRESH_LEASE",
    "REFRESH_MARGIN",
    "SIGNATURE_HEADER",
    "TEXT_EVENT",
    "UNFOLLOW_EVENT",
    "WEBHOOK_PATH",
    "Grant",
    "OaEvent",
    "OaMessage",
    "OaTokens",
    "OaUser",
    "TokenUnavailable",
    "ZaloOaChannel",
    "ZaloOaClient",
    "ZaloOaError",
    "ZaloOaSender",
    "ZnsFallback",
    "choices",
    "connect",
    "delivery_error",
    "event_timestamp",
    "inbound_from_follow",
    "inbound_from_message",
    "render",
    "signature",
    "signature_matches",
    "update_key",
]
