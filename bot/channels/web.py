"""The built-in web chat: a page anyone can open, talking JSON to the same handlers.

A browser holds a random bearer token; only its hash identifies the chat, so a leaked database
row cannot be replayed as a session.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from bot.charts import bar_chart_png
from handlers.contract import Attachment, Inbound, Reply
from models.tables import Platform

MESSAGE_LIMIT = 4096


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def user_id_for(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def inbound_from_message(token: str, text: str | None, payload: str | None) -> Inbound:
    user_id = user_id_for(token)
    return Inbound(platform=Platform.WEB, user_id=user_id, chat_id=user_id, text=text, payload=payload)


def inbound_from_upload(token: str, attachment: Attachment) -> Inbound:
    user_id = user_id_for(token)
    return Inbound(platform=Platform.WEB, user_id=user_id, chat_id=user_id, attachment=attachment)


def render(reply: Reply) -> dict[str, Any]:
    """A reply as the page shows it. The page cannot prove a phone number, so no contact button;
    a chart comes drawn, as a PNG data URL."""
    body = reply.to_dict()
    body.pop("contact_label")
    body.pop("edit_message_id")
    chart = body.pop("chart")
    document = body.pop("document")
    if reply.document is not None and document is not None:
        folder = "meeting-files" if reply.document.source == "meeting" else "files"
        url = (
            f"data:text/csv;base64,{reply.document.inline}"
            if reply.document.inline is not None
            else f"/api/webchat/{folder}/{reply.document.file_id}"
        )
        body["document"] = {"name": reply.document.name, "url": url}
    if reply.chart is not None and chart is not None:
        body["image"] = "data:image/png;base64," + base64.b64encode(bar_chart_png(reply.chart)).decode()
    return body
