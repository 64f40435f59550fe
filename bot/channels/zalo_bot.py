"""Zalo Bot Platform (bots made in the "Zalo Bot Manager"): updates in, replies out.

Zalo bots have no buttons. A reply's buttons and menu are written as a numbered list, the numbers
are remembered per chat, and the member's "2" (or "số 2", or the label's words) is turned back into
the payload the button would carry. This file only translates; what to answer is decided in
``handlers``.
"""

from __future__ import annotations

import asyncio
import enum
import hmac
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import httpx
from pydantic import BaseModel, Field, ValidationError, model_validator
from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels import photo_links
from bot.channels.base import Polling, Refused, Rejected, RetryLater, SendError, Transient, Unavailable, Unreachable
from bot.channels.specs.zalo_bot import MESSAGE_LIMIT as MESSAGE_LIMIT
from bot.channels.specs.zalo_bot import OFFICIAL_API_BASE as OFFICIAL_API_BASE
from bot.channels.specs.zalo_bot import WEBHOOK_PATH as WEBHOOK_PATH
from bot.channels.specs.zalo_bot import ZaloBotMode
from bot.channels.text import document_elsewhere, split_text, web_chat_address
from handlers.contract import Button, Catalogs, Document, Inbound, Reply, Translator
from handlers.polls import unmarked
from models.db import is_database_unavailable
from models.roster import fold
from models.tables import Platform, ZaloBotMenu, utcnow

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.runtime import Runtime

log = logging.getLogger(__name__)

# ---- What we know about the Zalo Bot Platform (DESIGN.md §3). Official docs could not be read from
# here, so every fact sits in this block (and the few the settings check, in specs/zalo_bot.py):
# a correction is one edit.
SECRET_HEADER = "X-Bot-Api-Secret-Token"  # carries setWebhook's secret_token on every delivery
PRIVATE_CHAT = "PRIVATE"  # chat.chat_type; "GROUP" (beta) is not served
TEXT_EVENT = "message.text.received"
# Events that carry a message. Only text is read; the others reach the handlers as empty text.
MESSAGE_EVENTS = frozenset(
    {
        TEXT_EVENT,
        "message.image.received",
        "message.sticker.received",
        "message.voice.received",
        "message.unsupported.received",
    }
)
# error_code in an {ok: false} answer; it follows HTTP status codes.
IDLE = 408  # getUpdates found nothing new within its timeout: not an error
RATE_LIMITED = frozenset({429})  # no Bot-Platform-specific rate code found yet: add it here
INVALID_TOKEN = frozenset({401})
UNREACHABLE = frozenset({403})  # the member blocked the bot, or has never written to it
RATE_LIMIT_PAUSE_SECONDS = 1.0  # when a rate-limited answer does not say how long to wait
# sendPhoto {chat_id, photo, caption ≤ 2000}: the photo is an address Zalo fetches, not an upload;
# no method sends a document (a copy of the Bot API docs lists sendMessage, sendPhoto, sendSticker,
# sendChatAction only: unconfirmed). Its size and type limits are not known; chibo offers JPG and
# PNG only, as the OA takes them.
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")

# ---- Ours.
PLATFORM = Platform.ZALO_BOT.value
# How long a numbered menu answers to its numbers; after that "2" is a stale choice.
MENU_TTL = timedelta(days=30)


class StaleChoice(enum.Enum):
    """What a number on none of the open menus stands for: no payload, a stale button."""

    CHOICE = "stale"


# A number that is not on the member's open menus: it reaches the handlers as a stale button.
STALE_CHOICE: Final = StaleChoice.CHOICE
REDIS_KEY_PREFIX = "chibo:zalo_bot:menu:"  # + chat id
_NUMBER = re.compile(r"^(?:so|#)?\s*(\d{1,2})\s*[.)]?$")  # on folded text: "2", "so 2", "#2", "2."
_WORD = re.compile(r"\w+")


# ---- The HTTP client
class ZaloBotError(Exception):
    """A Bot API call that did not succeed. ``code`` is Zalo's error_code, else the HTTP status;
    None when no answer came (network) or the answer gave no code."""

    def __init__(self, method: str, code: int | None, description: str, retry_after: float | None = None) -> None:
        super().__init__(f"{method}: {'network' if code is None else code} {description}".strip())
        self.method = method
        self.code = code
        self.description = description
        self.retry_after = retry_after


class ZaloBotClient:
    """A small typed client for the Bot API: every call is a POST of JSON, answered with the
    ``{ok, result | error_code, description}`` envelope, where HTTP 200 alone is not success."""

    def __init__(self, token: str, api_base: str = OFFICIAL_API_BASE, *, timeout: float = 15.0) -> None:
        self._token = token
        self._http = httpx.AsyncClient(base_url=f"{api_base.rstrip('/')}/bot{token}/", timeout=timeout)

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, request_timeout: float | None = None
    ) -> Any:
        """The ``result`` of ``method``, or ZaloBotError. Messages never contain the token."""
        try:
            response = await self._http.post(
                method,
                json=params or {},
                timeout=httpx.USE_CLIENT_DEFAULT if request_timeout is None else request_timeout,
            )
        except httpx.HTTPError as error:
            # The token is part of the URL: keep httpx's error (and its request) out of the chain.
            detail = f"{type(error).__name__}: {error}".replace(self._token, "<token>")
            raise ZaloBotError(method, None, detail) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ZaloBotError(method, response.status_code, "the answer is not a Bot API envelope")
        if body.get("ok") is True:
            return body.get("result")
        code = body.get("error_code")
        if type(code) is not int:
            code = None if response.is_success else response.status_code
        # Telegram's way of saying how long to wait; used when Zalo answers the same way.
        parameters = body.get("parameters")
        wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
        retry_after = float(wait) if isinstance(wait, int | float) and wait > 0 else None
        raise ZaloBotError(method, code, str(body.get("description") or ""), retry_after)

    async def get_me(self) -> dict[str, Any]:
        result = await self.call("getMe")
        return result if isinstance(result, dict) else {}

    async def get_update(self, poll_seconds: int) -> ZaloUpdate | None:
        """The next update, or None when none came within ``poll_seconds`` (Zalo's 408)."""
        try:
            result = await self.call("getUpdates", {"timeout": poll_seconds}, request_timeout=poll_seconds + 10)
        except ZaloBotError as error:
            if error.code == IDLE:
                return None
            raise
        if not result:
            return None
        try:
            return ZaloUpdate.model_validate(result)
        except ValueError:
            # Already taken off Zalo's queue, so nothing can be retried: say so and go on.
            log.warning("zalo bot: getUpdates returned something that is not an update; skipped")
            return None

    async def set_webhook(self, url: str, secret: str) -> None:
        await self.call("setWebhook", {"url": url, "secret_token": secret})

    async def delete_webhook(self) -> None:
        await self.call("deleteWebhook")

    async def send_message(self, chat_id: str, text: str) -> None:
        await self.call("sendMessage", {"chat_id": chat_id, "text": text})

    async def send_photo(self, chat_id: str, url: str) -> None:
        await self.call("sendPhoto", {"chat_id": chat_id, "photo": url})

    async def aclose(self) -> None:
        await self._http.aclose()


# ---- Updates, as Zalo shapes them (unknown fields are ignored)
class ZaloUser(BaseModel):
    id: str = Field(min_length=1, max_length=128)
    display_name: str = ""


# Zalo's ids are 20 hex digits; the bounds keep "<chat id>:<message id>" within a 128-character
# de-duplication key.
class ZaloChat(BaseModel):
    id: str = Field(min_length=1, max_length=63)
    chat_type: str = ""


class ZaloMessage(BaseModel):
    message_id: str = Field(min_length=1, max_length=64)
    sender: ZaloUser = Field(alias="from")
    chat: ZaloChat
    text: str | None = None
    caption: str | None = None


class ZaloUpdate(BaseModel):
    # getUpdates samples leave event_name out; such an update is a message.
    event_name: str | None = Field(default=None, max_length=100)
    message: ZaloMessage | None = None

    @model_validator(mode="after")
    def _message_events_carry_a_message(self) -> ZaloUpdate:
        if (self.event_name is None or self.event_name in MESSAGE_EVENTS) and self.message is None:
            raise ValueError(f"{self.event_name or 'an update'} without a message")
        return self


class ZaloWebhookBody(BaseModel):
    ok: bool
    result: ZaloUpdate


# ---- Numbered menus in place of buttons
#
# Several messages can wait for an answer at once: a ballot, then a notice, then a meeting
# invitation. Each open message gets its own numbers, after those still open (ballot 1-3, notice 4,
# invitation 5-6), so a number answers the message it was printed under and no other. A message
# chibo pushed stays open until it is answered, expires, or MAX_PUSHED newer ones push it out; the
# answer to what the member just did replaces the previous such answer's numbers.
MAX_PUSHED = 5


@dataclass(frozen=True)
class Menu:
    """The numbered choices printed under one message."""

    first: int
    choices: tuple[Button, ...]
    pushed: bool
    shown_at: datetime
    # Printed under a message that asks a question (``Reply.asks``): its choices carry no numbers,
    # and while it is open a typed number answers the question (a day, an hour), not a menu.
    asks: bool = False

    @property
    def last(self) -> int:
        return self.first + len(self.choices) - 1 if not self.asks else self.first - 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "pushed": self.pushed,
            "at": self.shown_at.isoformat(),
            "choices": [b.to_dict() for b in self.choices],
        } | ({"asks": True} if self.asks else {})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Menu:
        choices = tuple(Button(c["label"], c["payload"]) for c in data["choices"])
        when = datetime.fromisoformat(data["at"])
        return cls(int(data["first"]), choices, bool(data["pushed"]), when, data.get("asks") is True)


def place(
    menus: Sequence[Menu], choices: Sequence[Button], pushed: bool, now: datetime, asks: bool = False
) -> list[Menu]:
    """The open menus once a message offering ``choices`` is shown; the new one, if any, last.
    Menus chibo pushed stay open (the MAX_PUSHED newest); the menu of an earlier answer to the
    member is replaced, by the next answer or by a pushed message, which then numbers from 1. A
    message asking a question is remembered even without choices: numbers then answer it."""
    kept = [m for m in menus if m.pushed and m.shown_at > now - MENU_TTL]
    if asks and not pushed:
        return [*kept, Menu(max((m.last for m in kept), default=0) + 1, tuple(choices), False, now, asks=True)]
    if not choices:
        return kept
    if pushed:
        kept = kept[max(0, len(kept) - (MAX_PUSHED - 1)) :]
    first = max((m.last for m in kept), default=0) + 1
    return [*kept, Menu(first, tuple(choices), pushed, now)]


def answered(menus: Sequence[Menu], number: int) -> list[Menu]:
    """The open menus once ``number`` was answered: a pushed message's menu closes with its answer."""
    return [m for m in menus if not (m.pushed and m.first <= number <= m.last)]


def offered(reply: Reply) -> list[Button] | None:
    """The choices ``reply`` offers, in the order they are numbered: its buttons, then its menu.
    ``[]`` takes the last menu away; None leaves it as it is (the reply has no menu of its own)."""
    rows = reply.buttons + (reply.menu or ())
    if rows:
        return [button for row in rows for button in row]
    return [] if reply.menu is not None else None


def menu_hint(translator: Translator, count: int, first: int = 1) -> str:
    """'Reply 4, 5 or 6.' in the member's language."""
    _ = translator.gettext
    numbers = list(range(first, first + count))
    if count == 1:
        return _("Reply {number}.").format(number=first)
    return _("Reply {numbers} or {last}.").format(numbers=", ".join(map(str, numbers[:-1])), last=numbers[-1])


def render(reply: Reply, choices: Sequence[Button], hint: str, first: int = 1) -> list[str]:
    """The sendMessage texts for one reply: the text, then its choices as numbered lines (as
    bullets under a question, whose answer may itself be a number)."""
    text = reply.text
    if choices:
        if reply.asks:
            lines = "\n".join(f"• {button.label}" for button in choices)
        else:
            lines = "\n".join(f"{number}. {button.label}" for number, button in enumerate(choices, first))
        text = f"{text}\n\n{lines}\n\n{hint}"
    return split_text(text, MESSAGE_LIMIT)


def _words(text: str) -> str:
    return " ".join(_WORD.findall(fold(text)))


def typed_number(text: str) -> int | None:
    number = _NUMBER.match(fold(text))
    return None if number is None else int(number.group(1))


def choose(text: str, menus: Sequence[Menu]) -> str | Literal[StaleChoice.CHOICE] | None:
    """The payload a typed reply stands for: a number from an open menu, or the words of one label
    on them (without diacritics, any case). STALE_CHOICE for a number on none; None for other text."""
    number = typed_number(text)
    if number is not None and any(menu.asks for menu in menus):
        return None  # "17" answers the question chibo asked (a day, an hour), never a numbered menu
    if number is not None:
        for menu in menus:
            if menu.first <= number <= menu.last:
                return menu.choices[number - menu.first].payload
        return STALE_CHOICE
    words = _words(text)
    if not words:
        return None
    # A label such as "Ngôn ngữ / Language" answers to each of its halves as well.
    matching = {
        b.payload
        for menu in menus
        for b in menu.choices
        if words in {_words(b.label), *map(_words, b.label.split("/"))}
    }
    return matching.pop() if len(matching) == 1 else None


def choice_payload(text: str, choices: Sequence[Button]) -> str | Literal[StaleChoice.CHOICE] | None:
    """The same, for one menu numbered from 1."""
    return choose(text, [Menu(1, tuple(choices), False, utcnow())])


class MenuStoreUnavailable(Unavailable):
    """The store of numbered menus (Redis) did not answer."""

    reason = "menu_store"
    detail = "conversation state unavailable, try again"


MenuChange = Callable[[list[Menu]], list[Menu]]


class MenuStore(Protocol):
    """The menus open in each chat, so that "2" can be read back."""

    async def recall(self, chat_id: str) -> list[Menu]: ...

    async def change(self, chat_id: str, edit: MenuChange) -> list[Menu]:
        """Replace the chat's open menus by ``edit`` of them, atomically; the new ones."""
        ...


def _menus(data: object) -> list[Menu]:
    if not isinstance(data, list):
        return []
    if data and "first" not in data[0]:  # a single menu as stored before menus could stack up
        return [Menu(1, tuple(Button(c["label"], c["payload"]) for c in data), False, utcnow())]
    return [Menu.from_dict(m) for m in data]


class DatabaseMenuStore:
    """Menus in the zalobotmenu table: one row per chat holding its open menus."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def recall(self, chat_id: str) -> list[Menu]:
        async with self._sessions() as session:
            row = await session.get(ZaloBotMenu, chat_id)
        return [] if row is None else [m for m in _menus(row.choices) if m.shown_at > utcnow() - MENU_TTL]

    async def change(self, chat_id: str, edit: MenuChange) -> list[Menu]:
        async with self._sessions() as session, session.begin():
            dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            # The row is written before it is read, so the write lock (SQLite) or the row lock
            # (PostgreSQL) is held from the start: two senders, or a sender and an answer, take
            # turns instead of one overwriting the other's change.
            await session.exec(
                insert(ZaloBotMenu)
                .values(chat_id=chat_id, choices=[], shown_at=utcnow())
                .on_conflict_do_update(index_elements=["chat_id"], set_={"chat_id": chat_id})
            )
            row = (
                await session.exec(
                    select(ZaloBotMenu)
                    .where(col(ZaloBotMenu.chat_id) == chat_id)
                    .execution_options(populate_existing=True)
                )
            ).one()
            menus = edit(_menus(row.choices))
            if not menus:
                await session.exec(delete(ZaloBotMenu).where(col(ZaloBotMenu.chat_id) == chat_id))
                return []
            row.choices = [m.to_dict() for m in menus]
            row.shown_at = max(m.shown_at for m in menus)
            session.add(row)
            return menus


class RedisMenuStore:
    """Menus in Redis, shared by every replica, each key expiring after MENU_TTL."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def recall(self, chat_id: str) -> list[Menu]:
        try:
            raw = await self._redis.get(REDIS_KEY_PREFIX + chat_id)
        except (RedisError, OSError) as error:
            raise MenuStoreUnavailable(f"redis: {type(error).__name__}") from error
        menus = [] if raw is None else _menus(json.loads(raw))
        return [m for m in menus if m.shown_at > utcnow() - MENU_TTL]

    async def change(self, chat_id: str, edit: MenuChange) -> list[Menu]:
        key = REDIS_KEY_PREFIX + chat_id
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                while True:  # optimistic: redone if another replica changed the key meanwhile
                    try:
                        await pipe.watch(key)
                        raw = await pipe.get(key)
                        menus = edit([] if raw is None else _menus(json.loads(raw)))
                        pipe.multi()  # type: ignore[no-untyped-call]
                        if menus:
                            value = json.dumps([m.to_dict() for m in menus], ensure_ascii=False)
                            pipe.set(key, value, ex=int(MENU_TTL.total_seconds()))
                        else:
                            pipe.delete(key)
                        await pipe.execute()
                        return menus
                    except WatchError:
                        continue
        except (RedisError, OSError) as error:
            raise MenuStoreUnavailable(f"redis: {type(error).__name__}") from error


def menu_store(redis: Redis | None, sessions: async_sessionmaker[AsyncSession]) -> MenuStore:
    """Redis when it is configured (several replicas share it), else the database."""
    return RedisMenuStore(redis) if redis is not None else DatabaseMenuStore(sessions)


# ---- Inbound
def private_message(update: ZaloUpdate) -> ZaloMessage | None:
    """The message in an update, or None for what chibo does not serve (groups, other events)."""
    message = update.message
    return message if message is not None and message.chat.chat_type.upper() == PRIVATE_CHAT else None


def inbound_from_message(message: ZaloMessage, menus: Sequence[Menu]) -> Inbound:
    """The member's message as an event; a choice from an open menu arrives as its payload."""
    text = message.text or message.caption or ""
    chosen = choose(text, menus)
    return Inbound(
        platform=Platform.ZALO_BOT,
        user_id=message.sender.id,
        chat_id=message.chat.id,
        display_name=message.sender.display_name,
        text=None if chosen is not None else text,
        payload=chosen if isinstance(chosen, str) else None,
        stale_button=chosen is STALE_CHOICE,
        # Zalo bots cannot ask for a phone number: members join with their printed invite code.
        can_share_contact=False,
    )


def update_key(message: ZaloMessage) -> str:
    """What makes a delivery of this message unique, for de-duplication."""
    return f"{message.chat.id}:{message.message_id}"


# ---- Outbound
def delivery_error(error: ZaloBotError) -> SendError:
    """The delivery worker's retry rule for a failed send."""
    code = error.code
    if code in RATE_LIMITED:
        return RetryLater(error.retry_after or RATE_LIMIT_PAUSE_SECONDS)
    if code in UNREACHABLE:
        return Unreachable(str(error))
    # A bad token is the operator's to fix: keep the message and retry, as after a network error.
    if code is None or code in INVALID_TOKEN or not 400 <= code < 500:
        return Transient(str(error))
    return Rejected(str(error))


# The address Zalo can fetch a photo from.
PhotoAddress = Callable[[Document], str]
# A stored file by its Document: (file name, bytes), or None when it is gone.
FileLoader = Callable[[Document], Awaitable[tuple[str, bytes] | None]]
STORED_RECHECK = timedelta(hours=1)  # how long a file is known to be there (or gone)


class ZaloBotSender:
    """Sends replies through the Bot API, remembering each numbered menu before it is shown; a
    reply's photo goes first, by a signed address, and a document as a line pointing to the web chat."""

    def __init__(
        self,
        client: ZaloBotClient,
        menus: MenuStore,
        catalogs: Catalogs,
        *,
        files: FileLoader | None = None,
        photo_address: PhotoAddress | None = None,
        web_chat: str = "",
    ) -> None:
        self._client = client
        self._menus = menus
        self._catalogs = catalogs
        self._files = files
        self._photo_address = photo_address
        self._web_chat = web_chat
        # (source, file id) -> its stored name, or None when it is gone, and when that was looked at:
        # a notice to hundreds of members reads its file once.
        self._stored: dict[tuple[str, int], tuple[str | None, datetime]] = {}

    async def send(self, chat_id: str, reply: Reply, locale: str | None = None) -> None:
        choices = offered(reply)
        hint = ""
        first = 1
        try:
            # Remembered first: if this failed after sending, a retry would send the message twice.
            if choices is not None or reply.asks:
                now = utcnow()
                # Remembered without a secret ballot's ticks, which only the sent message shows.
                kept = [unmarked(choice) for choice in choices or []]
                menus = await self._menus.change(
                    chat_id, lambda menus: place(menus, kept, reply.pushed, now, reply.asks)
                )
                first = menus[-1].first if choices else 1
            if choices and reply.asks:
                hint = self._catalogs.translator(locale).gettext("Type your answer, or the words of one of these.")
            elif choices:
                hint = menu_hint(self._catalogs.translator(locale), len(choices), first)
            document = reply.document
            stored_name = await self._stored_name(document) if document is not None else None
        except MenuStoreUnavailable as error:
            raise Transient(str(error)) from error
        except Exception as error:
            if not is_database_unavailable(error):
                raise
            raise Transient(f"database unavailable: {type(error).__name__}") from error
        try:
            if document is not None and stored_name is not None:
                address = self._address(document, stored_name)
                if address is not None:
                    await self._client.send_photo(chat_id, address)
                else:
                    gettext = self._catalogs.translator(locale).gettext
                    reply = replace(
                        reply, text=f"{reply.text}\n\n{document_elsewhere(gettext, stored_name, self._web_chat)}"
                    )
            for text in render(reply, choices or [], hint, first):
                await self._client.send_message(chat_id, text)
        except ZaloBotError as error:
            raise delivery_error(error) from error

    async def _stored_name(self, document: Document) -> str | None:
        """The stored file's name; None for a generated file (nothing in the web chat to point to) or
        one that is gone (a meeting's link, a deleted file)."""
        if document.inline is not None or self._files is None:
            return None
        key, now = (document.source, document.file_id), utcnow()
        known = self._stored.get(key)
        if known is None or now - known[1] > STORED_RECHECK:
            stored = await self._files(document)
            known = self._stored[key] = (None if stored is None else stored[0], now)
        return known[0]

    def _address(self, document: Document, name: str) -> str | None:
        """Where Zalo can fetch this photo; None for a document, or without a public address."""
        if self._photo_address is None or not document.is_photo or not name.lower().endswith(PHOTO_SUFFIXES):
            return None
        return self._photo_address(document)


def backoff_seconds(failures: int) -> float:
    """Capped exponential backoff with jitter, for polling after errors."""
    return random.uniform(0.5, min(30.0, 2.0**failures))


def connect(runtime: Runtime, redis: Redis | None) -> ZaloBotChannel:
    """The channel for the configured bot (the Connection the registry opens)."""
    settings = runtime.settings
    assert settings.zalo_bot_token is not None
    client = ZaloBotClient(settings.zalo_bot_token, str(settings.zalo_bot_api_base))
    return ZaloBotChannel(runtime, client, menu_store(redis, runtime.sessions))


def photo_address(runtime: Runtime) -> PhotoAddress | None:
    """Signed addresses under the public https address, which Zalo's servers can fetch; None without one."""
    settings = runtime.settings
    public_url = settings.public_url
    if public_url is None or public_url.scheme != "https":
        return None
    base = str(public_url).rstrip("/") + photo_links.PATH
    secret = settings.ballot_secret()

    def address(document: Document) -> str:
        return base + photo_links.photo_token(secret, document.source, document.file_id, utcnow())

    return address


class ZaloBotChannel:
    """The Zalo bot's Connection: updates in by webhook or polling, replies out through the sender."""

    def __init__(
        self,
        runtime: Runtime,
        client: ZaloBotClient,
        menus: MenuStore,
        *,
        poll_timeout: int = 25,
        backoff: Callable[[int], float] = backoff_seconds,
    ) -> None:
        self.runtime = runtime
        self.client = client
        self.menus = menus
        self.poll_timeout = poll_timeout
        self._backoff = backoff
        settings = runtime.settings
        self.sender = ZaloBotSender(
            client,
            menus,
            runtime.catalogs,
            files=runtime.load_file,
            photo_address=photo_address(runtime),
            web_chat=web_chat_address(settings.public_url, settings.host, settings.port),
        )
        self.webhook = self if runtime.settings.zalo_bot_mode is ZaloBotMode.WEBHOOK else None

    async def start(self, scheduler: AsyncIOScheduler) -> Polling | None:
        await self.check_token()
        if self.webhook is None:
            return self.run_polling
        settings = self.runtime.settings
        assert settings.public_url is not None and settings.zalo_bot_secret is not None
        await self.set_webhook(str(settings.public_url), settings.zalo_bot_secret)
        return None

    async def stop(self) -> None:
        await self.client.aclose()

    def check_headers(self, headers: Mapping[str, str]) -> None:
        secret = self.runtime.settings.zalo_bot_secret
        assert secret is not None
        if not hmac.compare_digest(headers.get(SECRET_HEADER, "").encode(), secret.encode()):
            raise Refused(401, "secret", "wrong or missing secret token")

    async def receive(self, headers: Mapping[str, str], body: bytes, data: Any) -> dict[str, Any] | None:
        try:
            update = ZaloWebhookBody.model_validate(data).result
        except ValidationError:
            raise Refused(422, "malformed", "not a Zalo Bot update") from None
        await self.handle_update(update)
        return None

    async def handle_update(self, update: ZaloUpdate) -> None:
        """Handle one update durably. Database and menu store errors propagate, so it is offered again."""
        self.runtime.metrics.updates_received.labels(PLATFORM).inc()
        message = private_message(update)
        if message is None:
            # A group message, a future event…: chibo serves private chats only, and ignoring is idempotent.
            self.runtime.metrics.updates_rejected.labels(PLATFORM, "unsupported").inc()
            return
        menus = await self.menus.recall(message.chat.id)
        inbound = inbound_from_message(message, menus)
        await self.runtime.process(inbound, update_key(message))
        number = typed_number(message.text or message.caption or "")
        if inbound.payload is not None and number is not None and any(m.pushed for m in menus):
            # The ballot (notice, invitation) this number answered has had its answer.
            await self.menus.change(message.chat.id, lambda menus: answered(menus, number))

    async def check_token(self) -> None:
        """Log which bot the token belongs to; a warning, not a failure, when Zalo cannot be asked."""
        try:
            me = await self.client.get_me()
        except ZaloBotError as error:
            log.warning("zalo bot: getMe failed (%s); check CHIBO_ZALO_BOT_TOKEN", error)
            return
        log.info("zalo bot: connected as %s", me.get("account_name") or me.get("id") or "?")

    async def set_webhook(self, public_url: str, secret: str) -> None:
        url = public_url.rstrip("/") + WEBHOOK_PATH
        await self.client.set_webhook(url, secret)
        log.info("zalo bot: webhook set to %s", url)

    async def run_polling(self) -> None:
        """Poll until cancelled. getUpdates has no offset to confirm with: an update leaves Zalo's
        queue when fetched, so one that cannot be handled yet (database down) is kept and retried."""
        webhook_deleted = False
        pending: ZaloUpdate | None = None
        failures = 0
        while True:
            try:
                if not webhook_deleted:
                    # Polling and a webhook exclude each other.
                    await self.client.delete_webhook()
                    webhook_deleted = True
                if pending is None:
                    pending = await self.client.get_update(self.poll_timeout)
                if pending is not None:
                    await self.handle_update(pending)
                    pending = None
                failures = 0
            except ZaloBotError as error:
                if error.code in RATE_LIMITED:
                    await asyncio.sleep(error.retry_after or RATE_LIMIT_PAUSE_SECONDS)
                    continue
                failures += 1
                log.warning("zalo bot: polling failed (%s); retrying", error)
                await asyncio.sleep(self._backoff(failures))
            except MenuStoreUnavailable as error:
                failures += 1
                log.warning("zalo bot: %s; the update will be handled on retry", error)
                await asyncio.sleep(self._backoff(failures))
            except Exception as error:
                if not is_database_unavailable(error):
                    raise
                failures += 1
                log.warning("zalo bot: database unavailable; the update will be handled on retry")
                await asyncio.sleep(self._backoff(failures))
