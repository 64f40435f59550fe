"""What chibo knows of the Zalo OA API v3 and Zalo OAuth v4, and its own constants for the OA."""

from __future__ import annotations

from datetime import timedelta

from bot.channels.specs.zalo_oa import MAX_BUTTONS as MAX_BUTTONS
from bot.channels.specs.zalo_oa import MESSAGE_LIMIT as MESSAGE_LIMIT
from bot.channels.specs.zalo_oa import OFFICIAL_API_BASE as OFFICIAL_API_BASE
from bot.channels.specs.zalo_oa import OFFICIAL_OAUTH_BASE as OFFICIAL_OAUTH_BASE
from bot.channels.specs.zalo_oa import OFFICIAL_ZNS_API_BASE as OFFICIAL_ZNS_API_BASE
from bot.channels.specs.zalo_oa import WEBHOOK_PATH as WEBHOOK_PATH
from models.tables import Platform

# ---- What we know about the Zalo OA API v3 and Zalo OAuth v4 (DESIGN.md §3). Official docs could
# not be read from here; these facts come from integrations that call the APIs, so every one sits in
# this block (and the few the settings read, in specs/zalo_oa.py): a correction is one edit.
# "Unconfirmed" marks what only one integration shows.
SEND_PATH = "v3.0/oa/message/cs"  # a customer-service ("tư vấn") message, POST JSON
ACCESS_TOKEN_HEADER = "access_token"  # on every openapi call
REFRESH_PATH = "v4/oa/access_token"  # POST form: app_id, grant_type=refresh_token, refresh_token
APP_SECRET_HEADER = "secret_key"  # on the refresh call: the app secret
# Webhook: "mac=" + sha256 hex of app_id + raw body + the body's "timestamp" + the OA secret key
# (a plain hash of the concatenation, not an HMAC).
SIGNATURE_HEADER = "X-ZEvent-Signature"
SIGNATURE_PREFIX = "mac="
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
# Receipts for the OA's own messages (Chatwoot reads both): delivered {message {msg_id}}, and seen
# {message {msg_ids [...]}}. A ZNS message's delivery comes as the delivered event with the
# send's tracking_id in its message (Chatwoot; unconfirmed).
RECEIVED_EVENT = "user_received_message"
SEEN_EVENT = "user_seen_message"
RECEIPT_EVENTS = frozenset({RECEIVED_EVENT, SEEN_EVENT})
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
# Either way a ZNS template message, sent by phone number, may still reach them.
WINDOW_CLOSED = frozenset(UNREACHABLE)
# A successful send answers data {message_id, user_id}: the id the receipt events name.
SENT_MESSAGE_ID = "message_id"
# Files: uploaded first (multipart/form-data, field "file", header access_token), then sent as a
# customer-service message's attachment (Chatwoot; the v2.0 paths are the ones integrations still
# use with the v3 send). A document answers data {token} and goes as {"type": "file", "payload":
# {"token"}}; a photo answers data {attachment_id} and goes as a "media" template. The limits are
# from one integration (goclaw): documents PDF, DOC or DOCX up to 5 MB, photos JPG or PNG up to
# 1 MB (unconfirmed). How long an upload's token stays usable is not known: chibo reuses one for an
# hour (unconfirmed).
UPLOAD_FILE_PATH = "v2.0/oa/upload/file"
UPLOAD_IMAGE_PATH = "v2.0/oa/upload/image"
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_BYTES = 1024 * 1024
FILE_SUFFIXES = (".pdf", ".doc", ".docx")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
UPLOAD_REUSE = timedelta(hours=1)
# ZNS (Zalo Notification Service): a template message Zalo approved beforehand, sent by phone
# number ("84…", no plus) with the OA's access token, reaching any Zalo user, paid per message.
# POST {phone, template_id, template_data {param: value}, tracking_id} answers data {msg_id,
# sent_time, quota}; GET template/info/v2?template_id= answers data {status ("ENABLE" when usable),
# listParams [{name, require, type, maxLength}]} (Chatwoot; unconfirmed). tracking_id is ours, up
# to 48 characters (unconfirmed).
ZNS_SEND_PATH = "message/template"
ZNS_TEMPLATE_INFO_PATH = "template/info/v2"
ZNS_TEMPLATE_ENABLED = "ENABLE"
RATE_LIMIT_PAUSE_SECONDS = 1.0  # Zalo says nothing of how long to wait
# OAuth v4: an access token lasts about 25 h ("expires_in" says exactly, in seconds, sometimes as
# a string); the refresh token changes with every refresh and is reportedly honoured until the one
# that replaced it is used.

# ---- Ours.
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
UPLOAD_TIMEOUT_SECONDS = 60.0  # a 5 MB upload on a slow line
# A ZNS tracking id: this prefix and the outbox row's id.
TRACKING_PREFIX = "chibo-"
# The parameters every chibo ZNS template has, named the same in each (README "Zalo Official Account").
ZNS_PARAMS = ("member_name", "title", "time")
TEMPLATE_CHECK_INTERVAL = timedelta(hours=1)  # how long a template's check is trusted
