"""Talking to chibo as a member would, through the entry point every channel uses."""

from __future__ import annotations

import itertools

from bot.runtime import Runtime
from handlers.contract import Inbound, Reply
from models.tables import Platform

_update_keys = itertools.count(1)


async def say(
    runtime: Runtime, user: int, text: str | None = None, *, payload: str | None = None, **extra: object
) -> list[Reply]:
    inbound = Inbound(
        platform=Platform.TELEGRAM,
        user_id=str(user),
        chat_id=str(user),
        display_name="Tester",
        text=text,
        payload=payload,
        can_share_contact=True,
        **extra,  # type: ignore[arg-type]
    )
    return (await runtime.process(inbound, str(next(_update_keys)), answer_inline=True)).replies


def labels(reply: Reply) -> list[str]:
    return [b.label for row in (reply.menu or ()) for b in row]


def button(reply: Reply, label_part: str) -> str:
    """The payload of the button whose label contains ``label_part``."""
    for row in reply.buttons:
        for candidate in row:
            if label_part in candidate.label:
                return candidate.payload
    raise AssertionError(f"no button {label_part!r} in {[b.label for row in reply.buttons for b in row]}")
