"""Replies as OA customer-service messages: text pieces, buttons in template attachments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.channels.text import split_text
from bot.channels.zalo_oa.facts import (
    BUTTON_PREFIX,
    BUTTON_TITLE_LIMIT,
    HIDDEN_QUERY_BUTTON,
    MAX_BUTTONS,
    MESSAGE_LIMIT,
)
from handlers.contract import Button, Reply
from models.vietnamese import shorten


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
                        "title": shorten(button.label, BUTTON_TITLE_LIMIT),
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


def attachment(chat_id: str, *, file_token: str | None = None, photo_id: str | None = None) -> dict[str, Any]:
    """The send body for an uploaded document (its token) or photo (its attachment id)."""
    if file_token is not None:
        message: dict[str, Any] = {"attachment": {"type": "file", "payload": {"token": file_token}}}
    else:
        element = {"media_type": "image", "attachment_id": photo_id}
        message = {"attachment": {"type": "template", "payload": {"template_type": "media", "elements": [element]}}}
    return {"recipient": {"user_id": chat_id}, "message": message}
