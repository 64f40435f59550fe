"""A local stand-in for the Zalo OA API (the send and upload endpoints), Zalo OAuth (the refresh
endpoint) and ZNS (template info and template send), served over real HTTP.

Tests point ``CHIBO_ZALO_OA_API_BASE`` and ``CHIBO_ZALO_OA_OAUTH_BASE`` at it, so the code under test
is the code that talks to Zalo. Like Zalo it answers sends with the ``{error, message, data}``
envelope inside HTTP 200, refuses an access token it did not issue (or has expired) with -216, and
rotates the refresh token on every refresh, honouring a refresh token until the one that replaced
it is used. Uploads answer a token (documents: PDF, DOC, DOCX up to 5 MB) or an attachment id
(photos: JPG, PNG up to 1 MB) that a later send must name. It records every call, can be told to
answer a user's next sends or the next refreshes with errors, to hold a refresh open, and to run a
test's code at chosen moments.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.channels.zalo_oa import signature

WAIT_LIMIT = 60.0  # how long a test waits for the bot to do something (a deadline, not a delay; see fake_telegram)
APP_ID = "1234567890123456789"
APP_SECRET = "fake-app-secret"
SECRET_KEY = "fake-oa-secret-key"  # the OA secret key that signs webhook events
OA_ID = "579745863508352884"
FIRST_REFRESH_TOKEN = "refresh-0"
TEXT_LIMIT = 2000
MAX_BUTTONS = 5
TITLE_LIMIT = 100
PAYLOAD_LIMIT = 1000
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_BYTES = 1024 * 1024


@dataclass
class Upload:
    kind: str  # "file" or "image"
    filename: str
    content: bytes
    handle: str  # the token or attachment id Zalo answered


@dataclass
class Template:
    """A ZNS template as Zalo describes it."""

    status: str = "ENABLE"
    params: tuple[str, ...] = ("member_name", "title", "time")
    max_length: int = 30


@dataclass
class TemplateSend:
    phone: str
    template_id: str
    data: dict[str, str]
    tracking_id: str
    msg_id: str


@dataclass(frozen=True)
class Failure:
    """One error answer: the HTTP status, and the envelope's error code (None: a body that is not JSON)."""

    http_status: int
    error: int | None
    message: str = "error"


@dataclass
class SentMessage:
    user_id: str
    text: str
    buttons: list[dict[str, Any]]
    access_token: str
    message_id: str = ""
    upload: Upload | None = None  # the document or photo the message carries

    def titles(self) -> list[str]:
        return [b["title"] for b in self.buttons]

    def payload(self, title_part: str) -> str:
        """The payload Zalo would send back when the button whose title contains ``title_part`` is tapped."""
        for b in self.buttons:
            if title_part in b["title"]:
                return str(b["payload"])
        raise AssertionError(f"no button {title_part!r} in {self.titles()}")


@dataclass
class FakeZaloOa:
    sent: list[SentMessage] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # user id -> the error answers its next sends get, in order
    failures: dict[str, list[Failure | None]] = field(default_factory=dict)
    refresh_failures: list[Failure] = field(default_factory=list)
    refused_refresh_tokens: set[str] = field(default_factory=set)  # refused however often they are tried
    expires_in: object = "90000"  # as Zalo sends it: seconds, as a string
    # While set, a refresh waits for this event before it answers (it has already rotated).
    hold_refresh: asyncio.Event | None = None
    # Run after a refresh has rotated the tokens, before the answer goes out.
    after_refresh: Callable[[], Awaitable[None]] | None = None
    # Run with the access token of each send, before it is checked.
    before_send: Callable[[str], Awaitable[None]] | None = None
    url: str = ""
    uploads: list[Upload] = field(default_factory=list)
    templates: dict[str, Template] = field(default_factory=dict)  # ZNS templates by id
    template_sends: list[TemplateSend] = field(default_factory=list)
    access_tokens: set[str] = field(default_factory=set)  # valid ones
    live_refresh_tokens: set[str] = field(default_factory=lambda: {FIRST_REFRESH_TOKEN})
    _replaced_by: dict[str, str] = field(default_factory=dict)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def refreshes(self) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == "refresh"]

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    # ---- webhook events, the way Zalo shapes them
    def _event(self, event_name: str, **parts: Any) -> dict[str, Any]:
        return {
            "app_id": APP_ID,
            "oa_id": OA_ID,
            "user_id_by_app": f"app-{next(self._numbers)}",
            "event_name": event_name,
            "timestamp": str(int(time.time() * 1000) + next(self._numbers)),  # now, as Zalo stamps it
            **parts,
        }

    def text_event(self, user_id: str, text: str, *, event_name: str = "user_send_text") -> dict[str, Any]:
        return self._event(
            event_name,
            sender={"id": user_id},
            recipient={"id": OA_ID},
            message={"msg_id": f"{next(self._numbers):032x}", "text": text},
        )

    def follow_event(self, user_id: str, *, event_name: str = "follow") -> dict[str, Any]:
        return self._event(event_name, source="oa_profile", follower={"id": user_id})

    def seen_event(self, user_id: str) -> dict[str, Any]:
        return self._event(
            "user_seen_message",
            sender={"id": user_id},
            recipient={"id": OA_ID},
            message={"msg_ids": [f"{next(self._numbers):032x}"]},
        )

    def received_event(self, user_id: str, msg_id: str = "", tracking_id: str | None = None) -> dict[str, Any]:
        """Zalo's delivery receipt for a message (a ZNS one carries the send's tracking id)."""
        message: dict[str, Any] = {"msg_id": msg_id or f"{next(self._numbers):032x}"}
        if tracking_id is not None:
            message["tracking_id"] = tracking_id
        return self._event("user_received_message", sender={"id": OA_ID}, recipient={"id": user_id}, message=message)

    def seen_by(self, user_id: str, msg_ids: list[str]) -> dict[str, Any]:
        """Zalo's seen receipt for these messages."""
        return self._event(
            "user_seen_message", sender={"id": user_id}, recipient={"id": OA_ID}, message={"msg_ids": msg_ids}
        )

    @staticmethod
    def signed(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """The body Zalo would post for ``event`` and its headers, signature included."""
        body = json.dumps(event, ensure_ascii=False).encode()
        mac = signature(APP_ID, body, str(event["timestamp"]), SECRET_KEY)
        return body, {"X-ZEvent-Signature": mac, "Content-Type": "application/json"}

    # ---- waiting for what the bot does
    async def wait_until(self, done: Callable[[], bool]) -> None:
        """Return once ``done()`` is true; fail after WAIT_LIMIT."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(done), WAIT_LIMIT)

    async def wait_for(self, count: int, user_id: str | None = None) -> list[SentMessage]:
        """The messages sent (to ``user_id``) once there are at least ``count`` of them."""

        def matching() -> list[SentMessage]:
            return [m for m in self.sent if user_id is None or m.user_id == user_id]

        await self.wait_until(lambda: len(matching()) >= count)
        return matching()

    async def _record(self, name: str, params: dict[str, Any]) -> None:
        async with self._changed:
            self.calls.append((name, params))
            self._changed.notify_all()

    # ---- the HTTP side
    async def _send(self, request: web.Request) -> web.Response:
        token = request.headers.get("access_token", "")
        body: dict[str, Any] = await request.json()
        await self._record("send", body)
        if self.before_send is not None:
            await self.before_send(token)
        if token not in self.access_tokens:
            return _answer(Failure(200, -216, "Access token is invalid"))
        user_id = str(body.get("recipient", {}).get("user_id", ""))
        pending = self.failures.get(user_id)
        if pending and (failure := pending.pop(0)) is not None:  # None: that call goes through
            return _answer(failure)
        message = body.get("message", {})
        text = message.get("text")
        attachment = message.get("attachment") or {}
        upload = self._named_upload(attachment)
        if upload is None and (not isinstance(text, str) or not 1 <= len(text) <= TEXT_LIMIT):
            return _answer(Failure(200, -201, "text must be 1-2000 characters"))
        carries_file = attachment.get("type") == "file" or attachment.get("payload", {}).get("template_type") == "media"
        if carries_file and upload is None:
            return _answer(Failure(200, -201, "no such attachment"))
        buttons: list[dict[str, Any]] = []
        if not carries_file and "attachment" in message:
            buttons = attachment.get("payload", {}).get("buttons", [])
            if attachment.get("type") != "template" or not 1 <= len(buttons) <= MAX_BUTTONS:
                return _answer(Failure(200, -201, "a template holds 1-5 buttons"))
            for b in buttons:
                if b.get("type") != "oa.query.hide" or not 1 <= len(b.get("title", "")) <= TITLE_LIMIT:
                    return _answer(Failure(200, -201, "bad button"))
                if not isinstance(b.get("payload"), str) or len(b["payload"]) > PAYLOAD_LIMIT:
                    return _answer(Failure(200, -201, "bad button payload"))
        message_id = f"{next(self._numbers):032x}"
        async with self._changed:
            self.sent.append(SentMessage(user_id, text or "", buttons, token, message_id, upload))
            self._changed.notify_all()
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"message_id": message_id, "user_id": user_id}}
        )

    def _named_upload(self, attachment: dict[str, Any]) -> Upload | None:
        """The upload an attachment names by its token (a file) or attachment id (a media template)."""
        payload = attachment.get("payload") or {}
        if attachment.get("type") == "file":
            wanted, kind = payload.get("token"), "file"
        elif payload.get("template_type") == "media":
            elements = payload.get("elements") or [{}]
            wanted, kind = elements[0].get("attachment_id"), "image"
        else:
            return None
        return next((u for u in self.uploads if u.handle == wanted and u.kind == kind), None)

    async def _upload(self, request: web.Request, kind: str) -> web.Response:
        if request.headers.get("access_token", "") not in self.access_tokens:
            return _answer(Failure(200, -216, "Access token is invalid"))
        form = await request.post()
        part = form.get("file")
        if not isinstance(part, web.FileField):
            return _answer(Failure(200, -201, "no file"))
        content = part.file.read()
        name = part.filename.lower()
        await self._record(f"upload_{kind}", {"filename": part.filename, "size": len(content)})
        if kind == "image" and (not name.endswith((".jpg", ".jpeg", ".png")) or len(content) > MAX_IMAGE_BYTES):
            return _answer(Failure(200, -210, "image must be jpg or png up to 1 MB"))
        if kind == "file" and (not name.endswith((".pdf", ".doc", ".docx")) or len(content) > MAX_FILE_BYTES):
            return _answer(Failure(200, -210, "file must be pdf, doc or docx up to 5 MB"))
        handle = f"{kind}-{next(self._numbers)}"
        self.uploads.append(Upload(kind, part.filename, content, handle))
        data = {"attachment_id": handle} if kind == "image" else {"token": handle}
        return web.json_response({"error": 0, "message": "Success", "data": data})

    async def _upload_file(self, request: web.Request) -> web.Response:
        return await self._upload(request, "file")

    async def _upload_image(self, request: web.Request) -> web.Response:
        return await self._upload(request, "image")

    # ---- ZNS
    async def _template_info(self, request: web.Request) -> web.Response:
        await self._record("template_info", dict(request.query))
        if request.headers.get("access_token", "") not in self.access_tokens:
            return _answer(Failure(200, -216, "Access token is invalid"))
        template = self.templates.get(request.query.get("template_id", ""))
        if template is None:
            return _answer(Failure(200, -1123, "Template does not exist"))
        params = [
            {"name": name, "require": True, "type": "STRING", "maxLength": template.max_length, "minLength": 0}
            for name in template.params
        ]
        data = {"templateId": request.query["template_id"], "status": template.status, "listParams": params}
        return web.json_response({"error": 0, "message": "Success", "data": data})

    async def _template_send(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        await self._record("zns", body)
        if request.headers.get("access_token", "") not in self.access_tokens:
            return _answer(Failure(200, -216, "Access token is invalid"))
        template = self.templates.get(str(body.get("template_id")))
        phone, data = str(body.get("phone", "")), body.get("template_data")
        if template is None or template.status != "ENABLE":
            return _answer(Failure(200, -1123, "Template is not usable"))
        if not (phone.startswith("84") and phone.isdigit()) or not isinstance(data, dict):
            return _answer(Failure(200, -108, "Phone number is invalid"))
        if set(data) != set(template.params) or any(len(str(v)) > template.max_length for v in data.values()):
            return _answer(Failure(200, -1124, "Template data is invalid"))
        msg_id = f"zns-{next(self._numbers)}"
        async with self._changed:
            self.template_sends.append(
                TemplateSend(phone, str(body["template_id"]), data, str(body.get("tracking_id")), msg_id)
            )
            self._changed.notify_all()
        return web.json_response({"error": 0, "message": "Success", "data": {"msg_id": msg_id, "sent_time": "1"}})

    async def _refresh(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        await self._record("refresh", {**form, "secret_key": request.headers.get("secret_key", "")})
        if self.refresh_failures:
            return _answer(self.refresh_failures.pop(0))
        used = str(form.get("refresh_token", ""))
        if (
            request.headers.get("secret_key") != APP_SECRET
            or form.get("app_id") != APP_ID
            or form.get("grant_type") != "refresh_token"
            or used not in self.live_refresh_tokens
            or used in self.refused_refresh_tokens
        ):
            return web.json_response({"error": -14014, "error_name": "Invalid refresh token", "error_reason": ""})
        number = next(self._numbers)
        access, refresh = f"access-{number}", f"refresh-{number}"
        # Using a refresh token retires the one it replaced; it stays valid itself until its
        # successor is used.
        for older, newer in list(self._replaced_by.items()):
            if newer == used:
                self.live_refresh_tokens.discard(older)
        self._replaced_by[used] = refresh
        self.live_refresh_tokens.add(refresh)
        self.access_tokens.add(access)
        if self.after_refresh is not None:
            await self.after_refresh()
        if self.hold_refresh is not None:
            await self.hold_refresh.wait()
        return web.json_response({"access_token": access, "refresh_token": refresh, "expires_in": self.expires_in})

    def app(self) -> web.Application:
        application = web.Application(client_max_size=10 * 1024 * 1024)
        application.router.add_post("/v3.0/oa/message/cs", self._send)
        application.router.add_post("/v4/oa/access_token", self._refresh)
        application.router.add_post("/v2.0/oa/upload/file", self._upload_file)
        application.router.add_post("/v2.0/oa/upload/image", self._upload_image)
        application.router.add_get("/template/info/v2", self._template_info)
        application.router.add_post("/message/template", self._template_send)
        return application


def _answer(failure: Failure) -> web.Response:
    if failure.error is None:
        return web.Response(status=failure.http_status, text="<html>Bad Gateway</html>", content_type="text/html")
    return web.json_response({"error": failure.error, "message": failure.message}, status=failure.http_status)
