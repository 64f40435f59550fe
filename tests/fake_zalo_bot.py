"""A local stand-in for the Zalo Bot Platform API, served over real HTTP.

Tests point ``CHIBO_ZALO_BOT_API_BASE`` at it, so the code under test is the code that talks to
Zalo. Like Zalo it answers every call with the ``{ok, result | error_code, description}``
envelope, serves one update per getUpdates (no offset: fetching takes it off the queue), answers
an idle poll with ``ok=false, error_code=408`` and fetches a sendPhoto's photo from its address. It
records what the bot sends and can be told to answer a chat's next sends, or the next polls, with
errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError, ClientSession, web

# How long a test waits for the bot to do something before it fails (a deadline, not a delay): longer
# than the delivery worker's longest pause after the database was down (30 s), with room for a busy machine.
WAIT_LIMIT = 60.0
# The longest an idle getUpdates is held open, so a poll loop cycles quickly in tests.
IDLE_POLL_LIMIT = 0.5
TEXT_LIMIT = 2000
BOT = {"id": "1459232241454765289", "account_name": "bot.chibo_test", "account_type": "BASIC"}


@dataclass(frozen=True)
class Failure:
    """One error answer: the HTTP status, and the envelope's error_code (None: a body that is not JSON)."""

    http_status: int
    error_code: int | None
    description: str = "error"
    retry_after: float | None = None


@dataclass
class SentText:
    chat_id: str
    text: str
    photo: bytes | None = None  # what sendPhoto's address served, when Zalo fetched it


@dataclass
class FakeZaloBot:
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[SentText] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # chat_id -> the error answers its next sendMessage calls get, in order
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    # the error answers the next getUpdates calls get, in order
    poll_failures: list[Failure] = field(default_factory=list)
    served: int = 0  # updates handed out by getUpdates
    idle_answers: int = 0  # getUpdates answered with 408
    url: str = ""
    # Where the fake fetches a photo address from instead (the public https address, served locally).
    fetch_instead: tuple[str, str] | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ---- building updates, the way Zalo shapes them
    def message_update(
        self,
        user_id: str,
        text: str,
        *,
        name: str = "Member",
        chat_type: str = "PRIVATE",
        event_name: str = "message.text.received",
    ) -> dict[str, Any]:
        """The ``result`` part: what getUpdates returns and what the webhook body wraps."""
        return {
            "event_name": event_name,
            "message": {
                "message_id": f"{next(self._message_ids):020x}",
                "date": 1764000000000,
                "from": {"id": user_id, "display_name": name, "is_bot": False},
                "chat": {"id": user_id, "chat_type": chat_type},
                "text": text,
            },
        }

    @staticmethod
    def webhook_body(update: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "result": update}

    async def push(self, update: dict[str, Any]) -> None:
        async with self._changed:
            self.updates.append(update)
            self._changed.notify_all()

    # ---- waiting for what the bot does
    async def wait_until(self, done: Any) -> None:
        """Return once ``done()`` is true; fail after WAIT_LIMIT."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(done), WAIT_LIMIT)

    async def wait_for(self, count: int, chat_id: str | None = None) -> list[SentText]:
        """The texts sent (to ``chat_id``) once there are at least ``count`` of them."""

        def matching() -> list[SentText]:
            return [m for m in self.sent if chat_id is None or m.chat_id == chat_id]

        await self.wait_until(lambda: len(matching()) >= count)
        return matching()

    async def wait_for_call(self, method: str) -> dict[str, Any]:
        def found() -> list[dict[str, Any]]:
            return [params for name, params in self.calls if name == method]

        await self.wait_until(lambda: bool(found()))
        return found()[-1]

    # ---- the HTTP side
    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = await request.json() if request.can_read_body else {}
        async with self._changed:
            self.calls.append((method, params))
            self._changed.notify_all()
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(Failure(404, 404, "method not found"))
        result: web.Response = await handler(params)
        return result

    async def _api_getMe(self, params: dict[str, Any]) -> web.Response:
        return _ok(BOT)

    async def _api_getUpdates(self, params: dict[str, Any]) -> web.Response:
        if self.poll_failures:
            return _error(self.poll_failures.pop(0))
        timeout = min(float(params.get("timeout") or 0), IDLE_POLL_LIMIT)
        async with self._changed:
            if not self.updates and timeout:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait_for(lambda: bool(self.updates)), timeout)
            if not self.updates:
                self.idle_answers += 1
                self._changed.notify_all()
                # Zalo says "nothing new" as an error envelope inside HTTP 200.
                return _error(Failure(200, 408, "Request timeout"))
            self.served += 1
            self._changed.notify_all()
            return _ok(self.updates.pop(0))

    async def _api_sendMessage(self, params: dict[str, Any]) -> web.Response:
        chat_id = str(params["chat_id"])
        pending = self.failures.get(chat_id)
        if pending:
            return _error(pending.pop(0))
        text = params.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= TEXT_LIMIT:
            return _error(Failure(200, 400, "text must be 1-2000 characters"))
        async with self._changed:
            self.sent.append(SentText(chat_id, text))
            self._changed.notify_all()
        return _ok({"message_id": f"{next(self._message_ids):020x}", "date": 1764000000000})

    async def _api_sendPhoto(self, params: dict[str, Any]) -> web.Response:
        """Like Zalo: the photo is an address, fetched from there."""
        chat_id, address = str(params["chat_id"]), str(params.get("photo") or "")
        if self.fetch_instead is not None:
            address = address.replace(*self.fetch_instead, 1)
        try:
            async with ClientSession() as http, http.get(address) as answer:
                photo = await answer.read() if answer.status == 200 else None
        except (ClientError, ValueError):
            photo = None
        if photo is None:
            return _error(Failure(200, 400, "cannot fetch the photo"))
        async with self._changed:
            self.sent.append(SentText(chat_id, str(params.get("caption") or ""), photo))
            self._changed.notify_all()
        return _ok({"message_id": f"{next(self._message_ids):020x}", "date": 1764000000000})

    async def _api_setWebhook(self, params: dict[str, Any]) -> web.Response:
        return _ok({"url": params["url"], "updated_at": 1764000000000})

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        return _ok({"url": "", "updated_at": 1764000000000})

    def app(self) -> web.Application:
        application = web.Application()
        application.router.add_post("/bot{token}/{method}", self._handle)
        return application


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(failure: Failure) -> web.Response:
    if failure.error_code is None:
        return web.Response(status=failure.http_status, text="<html>Bad Gateway</html>", content_type="text/html")
    body: dict[str, Any] = {"ok": False, "error_code": failure.error_code, "description": failure.description}
    if failure.retry_after is not None:
        body["parameters"] = {"retry_after": failure.retry_after}
    return web.json_response(body, status=failure.http_status)
