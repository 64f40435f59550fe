"""A local stand-in for the Telegram Bot API, served over real HTTP.

Tests point ``CHIBO_TELEGRAM_API_BASE`` at it, so the code under test is the same code that
talks to Telegram. It queues updates for getUpdates, records what the bot sends, and can be told
to answer a chat's next sends with errors (429 with retry_after, 403, 400, 500).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# How long a test waits for the bot to do something before it fails (a deadline, not a delay): longer
# than the delivery worker's longest pause after the database was down (30 s), with room for a busy machine.
WAIT_LIMIT = 60.0
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
BOT_USER = {"id": 4242, "is_bot": True, "first_name": "chibo", "username": "chibo_test_bot"}


@dataclass
class SentMessage:
    chat_id: int
    text: str
    reply_markup: dict[str, Any] | None
    at: float = 0.0  # time.monotonic() when the fake accepted it
    message_id: int = 0

    def keyboard_labels(self) -> list[str]:
        markup = self.reply_markup or {}
        rows = markup.get("keyboard") or markup.get("inline_keyboard") or []
        return [button["text"] for row in rows for button in row]


@dataclass
class FakeTelegram:
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[SentMessage] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # chat_id -> the error answers its next sendMessage calls get, in order
    failures: dict[int, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    # (monotonic time, retry_after, chat id) of every 429 answered
    rate_limited: list[tuple[float, float, int]] = field(default_factory=list)
    # (chat id, caption, PNG bytes) of every photo sent
    photos: list[tuple[int, str, bytes]] = field(default_factory=list)
    # (chat id, file name, caption, bytes) of every document sent
    documents: list[tuple[int, str, str, bytes]] = field(default_factory=list)
    # file_id -> content of the files members sent, for getFile and the download
    files: dict[str, bytes] = field(default_factory=dict)
    # The chats as their members saw them, in order: each message sent, and each edit again under
    # the message's id (a ballot that now shows the vote).
    shown: list[SentMessage] = field(default_factory=list)
    # getUpdates calls that came while another was open: Telegram answers them 409 Conflict
    # ("terminated by other getUpdates request"), two pollers taking each other's updates.
    overlapping_polls: int = 0
    url: str = ""
    _polls_open: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ---- building updates, the way Telegram shapes them
    def _user(self, user_id: int, name: str) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": name, "language_code": "vi"}

    def message_update(self, user_id: int, text: str, name: str = "Member") -> dict[str, Any]:
        return {
            "update_id": next(self._update_ids),
            "message": {
                "message_id": next(self._message_ids),
                "date": 1764000000,
                "chat": {"id": user_id, "type": "private", "first_name": name},
                "from": self._user(user_id, name),
                "text": text,
            },
        }

    def document_update(self, user_id: int, name: str, content: bytes) -> dict[str, Any]:
        """A member sends a file; the fake keeps it for getFile and the download."""
        file_id = f"doc{next(self._message_ids)}"
        self.files[file_id] = content
        update = self.message_update(user_id, "")
        message = update["message"]
        del message["text"]
        message["document"] = {"file_id": file_id, "file_unique_id": file_id, "file_name": name,
                               "file_size": len(content)}  # fmt: skip
        return update

    def contact_update(self, user_id: int, phone: str, contact_user_id: int | None) -> dict[str, Any]:
        update = self.message_update(user_id, "")
        del update["message"]["text"]
        update["message"]["contact"] = {"phone_number": phone, "first_name": "X", "user_id": contact_user_id}
        return update

    def callback_update(self, user_id: int, data: str, message_id: int | None = None) -> dict[str, Any]:
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": f"cb{next(self._message_ids)}",
                "from": self._user(user_id, "Member"),
                "chat_instance": "1",
                "data": data,
                "message": {
                    "message_id": message_id or next(self._message_ids),
                    "date": 1764000000,
                    "chat": {"id": user_id, "type": "private"},
                    "from": BOT_USER,
                    "text": "…",
                },
            },
        }

    async def push(self, update: dict[str, Any]) -> None:
        async with self._changed:
            self.updates.append(update)
            self._changed.notify_all()

    # ---- waiting for what the bot does
    async def wait_until(self, done: Callable[[], bool]) -> None:
        """Return once ``done()`` is true; fail after WAIT_LIMIT."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(done), WAIT_LIMIT)

    async def wait_for(self, count: int, chat_id: int | None = None) -> list[SentMessage]:
        """The messages sent (to ``chat_id``) once there are at least ``count`` of them."""

        def matching() -> list[SentMessage]:
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
        params: dict[str, Any] = {}
        if request.content_type == "application/json":
            params = await request.json()
        else:
            for key, value in (await request.post()).items():
                params[key] = _maybe_json(value) if isinstance(value, str) else value
        async with self._changed:
            self.calls.append((method, params))
            self._changed.notify_all()
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        result: web.Response = await handler(params)
        return result

    async def _api_getMe(self, params: dict[str, Any]) -> web.Response:
        return _ok(BOT_USER)

    async def _api_getUpdates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 2.0)
        self.overlapping_polls += self._polls_open > 0
        self._polls_open += 1
        try:
            async with self._changed:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
                if not self.updates and timeout:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait_for(lambda: bool(self.updates)), timeout)
                return _ok(list(self.updates))
        finally:
            self._polls_open -= 1

    async def _api_sendMessage(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        pending = self.failures.get(chat_id)
        if pending:
            status, extra = pending.pop(0)
            if status == 429:
                self.rate_limited.append((time.monotonic(), float(extra["parameters"]["retry_after"]), chat_id))
            return _error(status, extra.get("description", "error"), extra.get("parameters"))
        message = SentMessage(
            chat_id, params["text"], params.get("reply_markup"), time.monotonic(), next(self._message_ids)
        )
        async with self._changed:
            self.sent.append(message)
            self.shown.append(message)
            self._changed.notify_all()
        return _ok(
            {
                "message_id": message.message_id,
                "date": 1764000000,
                "chat": {"id": chat_id, "type": "private"},
                "text": params["text"],
            }
        )

    async def _api_sendPhoto(self, params: dict[str, Any]) -> web.Response:
        chat_id, photo = int(params["chat_id"]), params["photo"]
        if isinstance(photo, str) and photo.startswith("attach://"):  # how aiogram uploads a file
            photo = params[photo.removeprefix("attach://")]
        async with self._changed:
            self.photos.append((chat_id, str(params.get("caption") or ""), photo.file.read()))
            self._changed.notify_all()
        sizes = [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]
        chat = {"id": chat_id, "type": "private"}
        return _ok({"message_id": next(self._message_ids), "date": 1764000000, "chat": chat, "photo": sizes})

    async def _api_sendDocument(self, params: dict[str, Any]) -> web.Response:
        chat_id, document = int(params["chat_id"]), params["document"]
        if isinstance(document, str) and document.startswith("attach://"):
            document = params[document.removeprefix("attach://")]
        async with self._changed:
            self.documents.append((chat_id, document.filename, str(params.get("caption") or ""), document.file.read()))
            self._changed.notify_all()
        chat = {"id": chat_id, "type": "private"}
        return _ok({"message_id": next(self._message_ids), "date": 1764000000, "chat": chat})

    async def _api_getFile(self, params: dict[str, Any]) -> web.Response:
        file_id = str(params["file_id"])
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        size = len(self.files[file_id])
        return _ok(
            {"file_id": file_id, "file_unique_id": file_id, "file_size": size, "file_path": f"documents/{file_id}"}
        )

    async def _download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["path"].rsplit("/", 1)[-1]
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id])

    async def _api_editMessageText(self, params: dict[str, Any]) -> web.Response:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        edited = SentMessage(chat_id, params["text"], params.get("reply_markup"), time.monotonic(), message_id)
        now = [m for m in self.shown if (m.chat_id, m.message_id) == (chat_id, message_id)][-1:]
        if now and (now[0].text, now[0].reply_markup) == (edited.text, edited.reply_markup):
            return _error(400, NOT_MODIFIED)  # as Telegram answers an edit that changes nothing
        async with self._changed:
            self.shown.append(edited)
            self._changed.notify_all()
        return _ok({"message_id": message_id, "date": 1764000000, "chat": {"id": chat_id, "type": "private"},
                    "text": params["text"]})  # fmt: skip

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> web.Response:
        return _ok(True)

    async def _api_setWebhook(self, params: dict[str, Any]) -> web.Response:
        return _ok(True)

    async def _api_setMyCommands(self, params: dict[str, Any]) -> web.Response:
        return _ok(True)

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        return _ok(True)

    def app(self) -> web.Application:
        application = web.Application()
        application.router.add_route("*", "/bot{token}/{method}", self._handle)
        application.router.add_get("/file/bot{token}/{path:.+}", self._download)
        return application


def _maybe_json(value: str) -> Any:
    if value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)
