"""Talking to chibo as a member would: through the entry point every channel uses, or as a web chat
visitor over HTTP."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from bot.i18n import Catalogs
from bot.runtime import Runtime
from handlers.contract import Inbound, Reply
from models.tables import Platform

_update_keys = itertools.count(1)
_VIETNAMESE = Catalogs("vi").translator("vi")


def vi(message: str) -> str:
    """A catalogue message (its English msgid, as the code writes it) as a member reading Vietnamese sees it."""
    return _VIETNAMESE.gettext(message)


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


class Visitor:
    """One browser: a session token and numbered messages."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client, self.token, self.sent = client, token, 0

    async def send(self, message_id: str | None = None, **body: Any) -> httpx.Response:
        self.sent += 1
        response = await self.client.post(
            "/api/webchat/messages",
            json={"id": message_id or f"m{self.sent}", **body},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        if response.status_code == 200 and "token" in response.json():
            self.token = response.json()["token"]  # a join re-issues the session's token
        return response

    async def replies(self, **body: Any) -> list[dict[str, Any]]:
        response = await self.send(**body)
        assert response.status_code == 200, response.text
        replies: list[dict[str, Any]] = response.json()["replies"]
        return replies

    async def upload(self, name: str, content: bytes, message_id: str | None = None) -> httpx.Response:
        self.sent += 1
        return await self.client.post(
            "/api/webchat/upload",
            params={"id": message_id or f"m{self.sent}", "name": name},
            content=content,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/octet-stream"},
        )


async def visitor(client: httpx.AsyncClient) -> Visitor:
    token = (await client.post("/api/webchat/session")).json()["token"]
    return Visitor(client, token)
