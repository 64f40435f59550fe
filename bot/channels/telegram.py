"""Telegram through aiogram 3: updates in (long polling or webhook), replies out.

This file only translates; what to answer is decided in ``handlers``.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendDocument, SendMessage, SendPhoto
from aiogram.methods.base import Response
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from aiohttp import ClientError, ClientTimeout
from pydantic import AfterValidator, BaseModel, Field, ValidationError

from bot.channels.base import Polling, Refused, Rejected, RetryLater, Transient, Unreachable, part
from bot.channels.specs.telegram import MESSAGE_LIMIT as MESSAGE_LIMIT
from bot.channels.specs.telegram import WEBHOOK_PATH as WEBHOOK_PATH
from bot.channels.specs.telegram import TelegramMode
from bot.channels.text import split_text
from bot.charts import bar_chart_png
from bot.runtime import Runtime
from handlers.contract import Attachment, Document, Inbound, Reply
from models.db import is_database_unavailable
from models.tables import Platform

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]
CAPTION_LIMIT = 1024  # characters in a photo's or document's caption
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses bigger files
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
# The Bot API's answer to a call it accepted (as it writes it; anything else is parsed in full).
_MARKUPS_KEPT = 256  # keyboards kept ready to send (a broadcast has one)
_ACCEPTED = re.compile(r'\s*\{\s*"ok"\s*:\s*true\b')

# aiogram reads every Bot API answer as Response[T], a pydantic generic that pydantic caches only
# weakly: after a garbage collection frees it, the next call rebuilds its schema, milliseconds with
# the event loop blocked. Held here, the types of the calls made per message stay built.
_ANSWER_TYPES = tuple(
    Response[method.__returning__]  # type: ignore[name-defined]
    for method in (AnswerCallbackQuery, SendMessage, EditMessageText, SendPhoto, SendDocument)
)


def make_bot(token: str, api_base: str) -> Bot:
    server = TelegramAPIServer.from_base(api_base)
    return Bot(token, session=AiohttpSession(api=server))


async def bot_username(token: str, api_base: str) -> str | None:
    """The bot's @username, for invite links; None when Telegram cannot be asked right now."""
    bot = make_bot(token, api_base)
    try:
        me = await bot.get_me(request_timeout=10)
        return me.username
    except TelegramAPIError as error:
        log.warning("telegram: getMe failed (%s); invite links are printed without the bot name", error)
        return None
    finally:
        await bot.session.close()


# Telegram's ids are at most 52 bits; anything beyond 64 would not fit the columns chibo keeps them
# in (as text of at most 128 characters) and could only be forged: refused as malformed (422), not
# failed on (500) at every re-delivery.
_ID_RANGE = 2**63
PlatformId = Annotated[int, Field(ge=-_ID_RANGE, lt=_ID_RANGE)]


def _encodable(text: str) -> str:
    text.encode()  # a lone surrogate (valid JSON, not UTF-8) raises, and pydantic says 422
    return text


class _TapSender(BaseModel):
    id: PlatformId
    first_name: str
    last_name: str | None = None


class _TapChat(BaseModel):
    id: PlatformId
    type: str


class _TappedMessage(BaseModel):
    message_id: int
    chat: _TapChat


class _Tap(BaseModel):
    # Sent back in the webhook's reply: text that can be encoded, of a sane length.
    id: Annotated[str, Field(max_length=128), AfterValidator(_encodable)]
    from_user: _TapSender = Field(alias="from")
    message: _TappedMessage | None = None
    data: str | None = None


class TapUpdate(BaseModel):
    """A button press as the webhook reads it: only what chibo uses of it (pydantic ignores the
    rest). aiogram's Update would build the whole message the button was under, its keyboard of a
    dozen buttons included, for every tap: most of a vote's parsing."""

    update_id: Annotated[int, Field(ge=0, lt=_ID_RANGE)]
    callback_query: _Tap


def _ids_fit(update: Update) -> bool:
    """Whether the ids of a message update (its own, its sender's and its chat's) are in range."""
    message = update.message
    ids = [update.update_id]
    if message is not None:
        ids += [message.chat.id] + ([message.from_user.id] if message.from_user is not None else [])
    return all(-_ID_RANGE <= value < _ID_RANGE for value in ids)


def _tap_inbound(
    user_id: int, full_name: str, chat: tuple[int, str] | None, payload: str | None, message_id: int | None
) -> Inbound | None:
    if chat is not None and chat[1] != "private":
        return None
    return Inbound(
        platform=Platform.TELEGRAM,
        user_id=str(user_id),
        chat_id=str(chat[0] if chat is not None else user_id),
        display_name=full_name,
        payload=payload or "",
        can_share_contact=True,
        source_message_id=str(message_id) if message_id is not None else None,
    )


def inbound_from_tap(update: TapUpdate) -> Inbound | None:
    """The button press in ``update``, as ``inbound_from_update`` reads it from aiogram's Update."""
    query = update.callback_query
    sender = query.from_user
    message = query.message
    return _tap_inbound(
        sender.id,
        f"{sender.first_name} {sender.last_name}" if sender.last_name else sender.first_name,
        (message.chat.id, message.chat.type) if message is not None else None,
        query.data,
        message.message_id if message is not None else None,
    )


def inbound_from_update(update: Update) -> Inbound | None:
    """The event in a Telegram update, or None for what chibo does not serve (groups, edits…)."""
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        return _tap_inbound(
            query.from_user.id,
            query.from_user.full_name,
            (message.chat.id, message.chat.type) if message is not None else None,
            query.data,
            message.message_id if message is not None else None,
        )
    message = update.message
    if message is None or message.chat.type != "private" or message.from_user is None:
        return None
    sender = message.from_user
    common: dict[str, Any] = {
        "platform": Platform.TELEGRAM,
        "user_id": str(sender.id),
        "chat_id": str(message.chat.id),
        "display_name": sender.full_name,
        "can_share_contact": True,
    }
    if message.contact is not None:
        return Inbound(
            **common,
            contact_phone=message.contact.phone_number,
            contact_is_own=message.contact.user_id == sender.id,
        )
    return Inbound(**common, text=message.text or message.caption or "")


def render(reply: Reply) -> list[tuple[str, Markup | None]]:
    """The sendMessage calls for one reply: text pieces, the keyboard on the last one."""
    markup: Markup | None = None
    if reply.buttons:
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=b.label, callback_data=b.payload) for b in row] for row in reply.buttons
            ]
        )
    elif reply.contact_label:
        markup = ReplyKeyboardMarkup(
            keyboard=[[KeyboardButton(text=reply.contact_label, request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    elif reply.menu is not None:
        markup = (
            ReplyKeyboardMarkup(
                keyboard=[[KeyboardButton(text=b.label) for b in row] for row in reply.menu],
                resize_keyboard=True,
                is_persistent=True,
            )
            if reply.menu
            else ReplyKeyboardRemove()
        )
    pieces = split_text(reply.text, MESSAGE_LIMIT)
    return [(piece, markup if i == len(pieces) - 1 else None) for i, piece in enumerate(pieces)]


# A notice's stored file by id: (file name, bytes), or None when it is gone.
FileLoader = Callable[[Document], Awaitable[tuple[str, bytes] | None]]


# The command list in Vietnamese: the aliases handlers.conversation.COMMANDS reads.
VIETNAMESE_COMMANDS = ("toi", "chibo", "lichhop", "ngonngu", "huongdan")


class TelegramSender:
    """Sends replies through the Bot API, turning its errors into the worker's retry rules."""

    def __init__(self, bot: Bot, files: FileLoader | None = None) -> None:
        self._bot = bot
        self._files = files
        self._markups: dict[str, str] = {}

    async def send(self, chat_id: str, reply: Reply, locale: str | None = None) -> None:
        try:
            if reply.edit_message_id is not None and await self._edit(chat_id, reply):
                return
            # Each call is a part of the message: a retry after a failed text does not send the file again.
            if reply.document is not None and await part(partial(self._send_document, chat_id, reply)) is True:
                return
            if reply.chart is not None:
                picture = BufferedInputFile(bar_chart_png(reply.chart), filename="ket-qua.png")
                if len(reply.text) <= CAPTION_LIMIT and not reply.buttons:
                    # One message, so a retry cannot leave the picture sent twice.
                    await self._bot.send_photo(chat_id=int(chat_id), photo=picture, caption=reply.text)
                    return
                await part(partial(self._bot.send_photo, chat_id=int(chat_id), photo=picture))
            for text, markup in render(reply):
                await part(partial(self._send_message, int(chat_id), text, markup))
        except TelegramRetryAfter as error:
            raise RetryLater(float(error.retry_after)) from error
        except TelegramForbiddenError as error:
            raise Unreachable(error.message) from error
        except (TelegramBadRequest, TelegramNotFound) as error:
            raise Rejected(error.message) from error
        except (TelegramNetworkError, TelegramServerError) as error:
            raise Transient(error.message) from error
        except TelegramAPIError as error:
            raise Rejected(error.message) from error

    async def _send_message(self, chat_id: int, text: str, markup: Markup | None) -> None:
        """sendMessage through aiogram's session, a step below ``Bot.send_message``: the same form and
        the same errors, but an accepted answer is not built into a Message (nothing here reads it).
        At a broadcast's 1000 messages/s, building the request's and the answer's models was most of
        a send's CPU."""
        session = self._bot.session
        if not isinstance(session, AiohttpSession):  # another kind of session (none in chibo): the usual call
            await self._bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)
            return
        form: dict[str, str] = {"chat_id": str(chat_id), "text": text}
        if markup is not None:
            form["reply_markup"] = self._prepared(markup)
        url = session.api.api_url(token=self._bot.token, method="sendMessage")
        client = await session.create_session()  # aiogram's own connection pool
        try:
            async with client.post(url, data=form, timeout=ClientTimeout(total=session.timeout)) as response:
                status, content = response.status, await response.text()
        except (TimeoutError, ClientError) as error:
            reason = "Request timeout error" if isinstance(error, TimeoutError) else f"{type(error).__name__}: {error}"
            raise TelegramNetworkError(method=SendMessage(chat_id=chat_id, text=text), message=reason) from error
        if status == HTTPStatus.OK and _ACCEPTED.match(content):
            return
        # Anything else is read as aiogram reads it, raising its errors (429 with retry_after, 403, …).
        session.check_response(
            bot=self._bot, method=SendMessage(chat_id=chat_id, text=text, reply_markup=markup),
            status_code=status, content=content,
        )  # fmt: skip

    def _prepared(self, markup: Markup) -> str:
        """The keyboard as aiogram writes it into the form, made once for a broadcast's thousands of
        copies (pydantic's own dump of it, the key, is a small part of that cost)."""
        key = markup.model_dump_json()
        prepared = self._markups.get(key)
        if prepared is None:
            if len(self._markups) >= _MARKUPS_KEPT:
                self._markups.clear()
            prepared = self._markups[key] = str(self._bot.session.prepare_value(markup, bot=self._bot, files={}))
        return prepared

    async def _send_document(self, chat_id: str, reply: Reply) -> bool:
        """The document or photo, with the text as its caption when it fits (one message, so a
        retry cannot send the file twice); True when that said everything."""
        assert reply.document is not None
        if reply.document.inline is not None:
            stored: tuple[str, bytes] | None = (reply.document.name, base64.b64decode(reply.document.inline))
        else:
            stored = await self._files(reply.document) if self._files is not None else None
        if stored is None:
            log.warning("telegram: file %s of a message is gone; sending the text alone", reply.document.file_id)
            return False
        name, content = stored
        upload = BufferedInputFile(content, filename=name)
        pieces = render(reply)
        caption, markup = pieces[0] if len(pieces) == 1 and len(reply.text) <= CAPTION_LIMIT else (None, None)
        if reply.document.is_photo:
            await self._bot.send_photo(chat_id=int(chat_id), photo=upload, caption=caption, reply_markup=markup)
        else:
            await self._bot.send_document(chat_id=int(chat_id), document=upload, caption=caption, reply_markup=markup)
        return caption is not None

    async def _edit(self, chat_id: str, reply: Reply) -> bool:
        """Replace the tapped message (a ballot showing the member's choice); False when Telegram
        will not (too old, not found, too long for one message): then it is sent as new."""
        pieces = render(reply)
        markup = pieces[0][1]
        if len(pieces) != 1 or not (markup is None or isinstance(markup, InlineKeyboardMarkup)):
            return False
        try:
            await self._bot.edit_message_text(
                chat_id=int(chat_id), message_id=int(reply.edit_message_id or 0), text=pieces[0][0], reply_markup=markup
            )
        except TelegramBadRequest as error:
            if "message is not modified" in error.message:
                return True  # it already shows this (a double tap): sent anew, it would be there twice
            log.info("telegram: could not edit message (%s); sending it anew", error.message)
            return False
        return True


def connect(runtime: Runtime) -> TelegramChannel:
    """The channel for the configured bot (the Connection the registry opens)."""
    settings = runtime.settings
    assert settings.telegram_token is not None
    return TelegramChannel(runtime, make_bot(settings.telegram_token, str(settings.telegram_api_base)))


class TelegramChannel:
    """Telegram's Connection: updates in by webhook or polling, replies out through the sender."""

    def __init__(self, runtime: Runtime, bot: Bot, *, poll_timeout: int = 25) -> None:
        self.runtime = runtime
        self.bot = bot
        self.poll_timeout = poll_timeout
        self.sender = TelegramSender(bot, files=runtime.load_file)
        self.webhook = self if runtime.settings.telegram_mode is TelegramMode.WEBHOOK else None

    async def start(self, scheduler: AsyncIOScheduler) -> Polling | None:
        await self.publish_commands()
        if self.webhook is None:
            return self.run_polling
        settings = self.runtime.settings
        assert settings.public_url is not None and settings.webhook_secret is not None
        await self.set_webhook(str(settings.public_url), settings.webhook_secret)
        return None

    async def stop(self) -> None:
        await self.bot.session.close()

    def check_headers(self, headers: Mapping[str, str]) -> None:
        secret = self.runtime.settings.webhook_secret
        assert secret is not None
        if not hmac.compare_digest(headers.get(SECRET_HEADER, "").encode(), secret.encode()):
            raise Refused(401, "secret", "wrong or missing secret token")

    async def receive(self, headers: Mapping[str, str], body: bytes, data: Any) -> dict[str, Any] | None:
        if not isinstance(data, dict) or type(data.get("update_id")) is not int:
            raise Refused(422, "malformed", "not a Telegram update: update_id missing")
        if data.get("callback_query") is not None:
            try:
                tap = TapUpdate.model_validate(data)
            except ValidationError:
                raise Refused(422, "malformed", "not a valid Telegram update") from None
            inbound = self._served(inbound_from_tap(tap))
            if inbound is not None:
                await self.runtime.process(inbound, str(tap.update_id))
            # Owed for every button press (else the member's spinner hangs): answered as the
            # webhook's reply, which Telegram performs itself, instead of a request of ours to the
            # Bot API for every tap. Only once the update is committed; a reply that is lost leaves
            # the spinner to time out, and a re-delivered tap is answered again.
            return {"method": "answerCallbackQuery", "callback_query_id": tap.callback_query.id}
        try:
            update = Update.model_validate(data, context={"bot": self.bot})
        except ValidationError:
            raise Refused(422, "malformed", "not a valid Telegram update") from None
        if not _ids_fit(update):
            raise Refused(422, "malformed", "an id beyond what Telegram gives")
        await self.handle_update(update)
        return None

    def _served(self, inbound: Inbound | None) -> Inbound | None:
        """The update counted as received; None (counted as refused) for what chibo does not serve:
        a group's message or button, an edit… (private chats only; ignoring is idempotent)."""
        self.runtime.metrics.updates_received.labels("telegram").inc()
        if inbound is None:
            self.runtime.metrics.updates_rejected.labels("telegram", "unsupported").inc()
        return inbound

    async def handle_update(self, update: Update) -> None:
        """Handle one update durably. Database errors propagate, so the update is offered again.
        A button press is answered here (polling; the webhook reads presses itself, ``receive``)."""
        inbound = self._served(inbound_from_update(update))
        if inbound is None:
            return
        if update.message is not None and (update.message.document or update.message.photo):
            inbound = await self._with_file(update.message, inbound)
        await self.runtime.process(inbound, str(update.update_id))
        if update.callback_query is not None:
            # Owed for every button press, else the member's spinner hangs.
            try:
                await self.bot.answer_callback_query(update.callback_query.id)
            except TelegramAPIError as error:
                log.info("telegram: callback answer failed: %s", error)

    async def _with_file(self, message: Message, inbound: Inbound) -> Inbound:
        """A sent document or photo, downloaded (the Bot API lets bots fetch up to 20 MB)."""
        if message.document is not None:
            file_id, name, size = (
                message.document.file_id,
                message.document.file_name or "tep",
                message.document.file_size,
            )
        else:
            largest = max(message.photo or [], key=lambda p: p.width * p.height)
            file_id, name, size = largest.file_id, "anh.jpg", largest.file_size
        if size is not None and size > MAX_DOWNLOAD_BYTES:
            return replace(inbound, attachment=Attachment(name, b"", declared_size=size), text=None)
        buffer = await self.bot.download(file_id)
        content = buffer.read() if buffer is not None else b""
        return replace(inbound, attachment=Attachment(name, content), text=None)

    async def publish_commands(self) -> None:
        """The command list Telegram shows behind the "/" button, in each language we speak."""
        for locale in self.runtime.catalogs.locales:
            _ = self.runtime.catalogs.translator(locale).gettext
            # In Vietnamese the Vietnamese commands (/toi, /chibo, …), which handlers.conversation reads
            # beside the English ones (issue 14).
            names = VIETNAMESE_COMMANDS if locale == "vi" else ("me", "branch", "meetings", "lang", "help")
            descriptions = (_("My details"), _("My branch"), _("Meetings"), _("Language / Ngôn ngữ"), _("Help"))
            commands = [
                BotCommand(command=name, description=description)
                for name, description in zip(names, descriptions, strict=True)
            ]
            default = locale == self.runtime.catalogs.default_locale
            try:
                await self.bot.set_my_commands(commands, language_code=None if default else locale)
            except TelegramAPIError as error:
                log.warning("telegram: setMyCommands failed: %s", error)

    async def set_webhook(self, public_url: str, secret: str) -> None:
        url = public_url.rstrip("/") + WEBHOOK_PATH
        await self.bot.set_webhook(url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        log.info("telegram: webhook set to %s", url)

    async def run_polling(self) -> None:
        """Long-poll until cancelled. An update is confirmed only after it was handled."""
        # Polling and a webhook exclude each other; updates waiting for the webhook are kept.
        await self.bot.delete_webhook(drop_pending_updates=False)
        offset: int | None = None
        failures = 0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset,
                    timeout=self.poll_timeout,
                    allowed_updates=ALLOWED_UPDATES,
                    request_timeout=self.poll_timeout + 10,
                )
                for update in updates:
                    await self.handle_update(update)
                    offset = update.update_id + 1
                failures = 0
            except TelegramRetryAfter as error:
                await asyncio.sleep(error.retry_after)
            except (TelegramNetworkError, TelegramServerError) as error:
                failures += 1
                log.warning("telegram: polling failed (%s); retrying", error.message)
                await asyncio.sleep(min(30.0, 2.0**failures))
            except Exception as error:
                if not is_database_unavailable(error):
                    raise
                failures += 1
                log.warning("telegram: database unavailable; the update will be handled on retry")
                await asyncio.sleep(min(30.0, 2.0**failures))
