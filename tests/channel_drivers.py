"""The drivers of a member's conversations with chibo on Telegram, Zalo Bot and Zalo OA (the
``channel`` fixture of conftest; the scenarios are in test_channels.py and test_intents.py).

Each scenario runs against the whole app. The member's messages go in through the platform's
webhook route, over HTTP. chibo's answers go out through the delivery worker to a local fake of
that platform's API. A small driver per platform says how a member writes or picks a choice there
(a button, or a number on Zalo Bot). It also reads what the fake received back as messages with
their text and the choices offered: buttons on Telegram and the OA, the numbered list on Zalo Bot.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import httpx

from bot.channels import telegram, zalo_bot, zalo_oa
from bot.i18n import Catalogs
from bot.runtime import Runtime
from bot.settings import Settings
from models.tables import Platform
from tests import test_telegram, test_zalo_bot
from tests.conftest import Demo, serve_app, serve_fake, telegram_settings
from tests.fake_telegram import FakeTelegram, SentMessage
from tests.fake_zalo_bot import FakeZaloBot
from tests.fake_zalo_oa import FakeZaloOa
from tests.test_zalo_oa import oa_settings
from webhooks.app import create_app

VIETNAMESE = Catalogs("vi").translator("vi")  # members who have not chosen a language get it
_ = VIETNAMESE.gettext
PUBLIC_URL = "https://chibo.example.org/"
MEMBER, SECRETARY = "7001", "7002"  # digits: an id on every platform
BRANCH = "Chi bộ thôn Tây"  # of both people below, in the demo commune

Pick = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Choice:
    label: str
    tap: Pick  # the member taps the button (on Zalo Bot: writes its number)
    name: Pick  # the member writes its name (Zalo Bot); where there are buttons, they tap one


@dataclass(frozen=True)
class Shown:
    """One message as the member sees it: its text, and the choices offered with it, in order."""

    index: int  # its place in the member's chat
    text: str
    choices: tuple[Choice, ...] = ()

    @property
    def labels(self) -> list[str]:
        return [choice.label for choice in self.choices]

    def _matching(self, wanted: str) -> list[Choice]:
        # "Đồng ý" is also part of "Không đồng ý", and "Thông báo" of "Thông báo mới": the whole
        # label first, then a label that is an emoji and ``wanted``, then any label containing it.
        rules: list[Callable[[str], bool]] = [
            lambda label: label == wanted,
            lambda label: label.endswith(" " + wanted),
            lambda label: wanted in label,
        ]
        for rule in rules:
            if found := [choice for choice in self.choices if rule(choice.label)]:
                return found
        return []

    def offers(self, wanted: str) -> bool:
        return bool(self._matching(wanted))

    def choice(self, wanted: str) -> Choice:
        found = self._matching(wanted)
        assert len(found) == 1, f"{len(found)} choices {wanted!r} in {self.labels}"
        return found[0]


class Driver(Protocol):
    """How a member talks to chibo on one platform."""

    runtime: Runtime

    @property
    def platform(self) -> Platform: ...

    async def write(self, user: str, text: str) -> None:
        """The member sends ``text``; chibo has handled it when this returns."""

    def shown(self, user: str) -> list[Shown]:
        """Everything chibo has shown the member so far, in order."""

    async def wait_until(self, done: Callable[[], bool]) -> None: ...


@dataclass
class Chat:
    """One person's chat with chibo on the platform under test."""

    channel: Driver
    user: str
    received: int = 0  # how many of the messages shown to them the test has read

    async def say(self, text: str) -> None:
        await self.channel.write(self.user, text)

    async def receive(self, containing: str = "", offering: Sequence[str] = ()) -> Shown:
        """The first message not yet read whose text contains ``containing`` and which offers each
        of ``offering``, once it has come. The messages before it are passed over."""

        def wanted(shown: Shown) -> bool:
            return containing in shown.text and all(shown.offers(label) for label in offering)

        def first() -> Shown | None:
            return next(filter(wanted, self.channel.shown(self.user)[self.received :]), None)

        found = await self._waited(first, f"{containing!r} offering {list(offering)}")
        self.received = found.index + 1
        return found

    async def tap(self, shown: Shown, label: str) -> None:
        """Tap ``label`` under ``shown`` (on Zalo Bot: write its number)."""
        await (await self._offered(shown, label)).tap()

    async def choose(self, shown: Shown, label: str) -> None:
        """Pick ``label`` by its name: typed words on Zalo Bot, which reads them; a tap elsewhere."""
        await (await self._offered(shown, label)).name()

    async def _offered(self, shown: Shown, label: str) -> Choice:
        # The Zalo OA sends at most five buttons a message: the rest follow, maybe not there yet.
        def current() -> Shown | None:
            latest = self.channel.shown(self.user)[shown.index]
            return latest if latest.offers(label) else None

        return (await self._waited(current, f"{label!r} under message {shown.index}")).choice(label)

    async def _waited(self, found: Callable[[], Shown | None], what: str) -> Shown:
        try:
            await self.channel.wait_until(lambda: found() is not None)
        except TimeoutError:
            texts = [f"{s.text[:70]!r} {s.labels}" for s in self.channel.shown(self.user)]
            raise AssertionError(f"{self.user} was not shown {what}; they were shown:\n" + "\n".join(texts)) from None
        result = found()
        assert result is not None
        return result


# ---- the drivers
Fake = TypeVar("Fake", FakeTelegram, FakeZaloBot, FakeZaloOa)


@dataclass
class Driving(Generic[Fake]):
    """What every driver holds: the running app, a client of its HTTP side, the platform's fake."""

    runtime: Runtime
    client: httpx.AsyncClient
    fake: Fake

    async def wait_until(self, done: Callable[[], bool]) -> None:
        await self.fake.wait_until(done)


class TelegramDriver(Driving[FakeTelegram]):
    platform: ClassVar[Platform] = Platform.TELEGRAM

    async def _post(self, update: dict[str, Any]) -> None:
        headers = {telegram.SECRET_HEADER: test_telegram.SECRET}
        response = await self.client.post(telegram.WEBHOOK_PATH, json=update, headers=headers)
        assert response.status_code == 200, response.text

    async def write(self, user: str, text: str) -> None:
        await self._post(self.fake.message_update(int(user), text))

    async def _callback(self, user: str, data: str, message_id: int) -> None:
        await self._post(self.fake.callback_update(int(user), data, message_id))

    def shown(self, user: str) -> list[Shown]:
        messages = [m for m in self.fake.shown if m.chat_id == int(user)]
        return [Shown(index, m.text, self._choices(user, m)) for index, m in enumerate(messages)]

    def _choices(self, user: str, message: SentMessage) -> tuple[Choice, ...]:
        markup = message.reply_markup or {}
        choices: list[Choice] = []
        for row in markup.get("inline_keyboard", []):
            for button in row:
                tap = partial(self._callback, user, str(button["callback_data"]), message.message_id)
                choices.append(Choice(str(button["text"]), tap, tap))
        # The main menu is a keyboard whose buttons send their label as text.
        for row in markup.get("keyboard", []):
            for button in row:
                tap = partial(self.write, user, str(button["text"]))
                choices.append(Choice(str(button["text"]), tap, tap))
        return tuple(choices)


class ZaloBotDriver(Driving[FakeZaloBot]):
    platform: ClassVar[Platform] = Platform.ZALO_BOT

    async def write(self, user: str, text: str) -> None:
        body = self.fake.webhook_body(self.fake.message_update(user, text))
        response = await self.client.post(zalo_bot.WEBHOOK_PATH, json=body, headers=test_zalo_bot.HEADERS)
        assert response.status_code == 200, response.text

    async def _answer(self, user: str, index: int, text: str) -> None:
        # Each open message has numbers of its own, so a number from an older list still open
        # answers that list; one whose list was replaced gets "no longer valid".
        await self.write(user, text)

    def shown(self, user: str) -> list[Shown]:
        texts = [m.text for m in self.fake.sent if m.chat_id == user]
        return [self._read(user, index, text) for index, text in enumerate(texts)]

    def _read(self, user: str, index: int, text: str) -> Shown:
        """The message with the numbered list the adapter ends it with read back as its choices."""
        parts = text.rsplit("\n\n", 2)
        if len(parts) == 3:
            body, listed, hint = parts
            lines = listed.split("\n")
            labels = [line.partition(". ")[2] for line in lines]
            first = lines[0].partition(". ")[0]
            first_number = int(first) if first.isdigit() else 1
            numbered = lines == [f"{n}. {label}" for n, label in enumerate(labels, first_number)]
            if numbered and hint == zalo_bot.menu_hint(VIETNAMESE, len(labels), first_number):
                choices = enumerate(labels, first_number)
                return Shown(index, body, tuple(self._choice(user, index, n, label) for n, label in choices))
            if all(line.startswith("• ") for line in lines) and hint == _(
                "Type your answer, or the words of one of these."
            ):
                # Under a question the choices carry no numbers: a typed number would be its answer.
                worded = [line.removeprefix("• ") for line in lines]
                return Shown(index, body, tuple(self._worded(user, index, label) for label in worded))
        return Shown(index, text)

    def _worded(self, user: str, index: int, label: str) -> Choice:
        by_words = partial(self._answer, user, index, label.lower())
        return Choice(label, by_words, by_words)

    def _choice(self, user: str, index: int, number: int, label: str) -> Choice:
        by_words = label.lower()  # as a member types it: "đồng ý"
        return Choice(
            label, partial(self._answer, user, index, str(number)), partial(self._answer, user, index, by_words)
        )


class ZaloOaDriver(Driving[FakeZaloOa]):
    platform: ClassVar[Platform] = Platform.ZALO_OA

    async def write(self, user: str, text: str) -> None:
        body, headers = self.fake.signed(self.fake.text_event(user, text))
        response = await self.client.post(zalo_oa.WEBHOOK_PATH, content=body, headers=headers)
        assert response.status_code == 200, response.text

    def shown(self, user: str) -> list[Shown]:
        result: list[Shown] = []
        for message in (m for m in self.fake.sent if m.user_id == user):
            choices: list[Choice] = []
            for button in message.buttons:
                tap = partial(self.write, user, str(button["payload"]))  # comes back as the member's text
                choices.append(Choice(str(button["title"]), tap, tap))
            if result and message.text == _("More choices:"):  # the buttons that did not fit above
                result[-1] = replace(result[-1], choices=(*result[-1].choices, *choices))
            else:
                result.append(Shown(len(result), message.text, tuple(choices)))
        return result


@contextlib.asynccontextmanager
async def _served(settings: Settings) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    app = create_app(settings, migrate=False)
    async for server in serve_app(app):
        if "zalo_oa" in app.state.connections:
            # The token refresh on start is over before the member writes (no send waits for it).
            await app.state.connections["zalo_oa"].tokens.access_token()
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            yield app.state.runtime, client


@contextlib.asynccontextmanager
async def _telegram(database_url: str) -> AsyncIterator[Driver]:
    async with serve_fake(FakeTelegram()) as fake:
        settings = telegram_settings(
            database_url, fake, telegram_mode="webhook", public_url=PUBLIC_URL, webhook_secret=test_telegram.SECRET
        )
        async with _served(settings) as (runtime, client):
            yield TelegramDriver(runtime, client, fake)


@contextlib.asynccontextmanager
async def _zalo_bot(database_url: str) -> AsyncIterator[Driver]:
    async with serve_fake(FakeZaloBot()) as fake:
        settings = test_zalo_bot.zalo_settings(
            database_url, fake, zalo_bot_mode="webhook", public_url=PUBLIC_URL, zalo_bot_secret=test_zalo_bot.SECRET
        )
        async with _served(settings) as (runtime, client):
            yield ZaloBotDriver(runtime, client, fake)


@contextlib.asynccontextmanager
async def _zalo_oa(database_url: str) -> AsyncIterator[Driver]:
    async with serve_fake(FakeZaloOa()) as fake, _served(oa_settings(database_url, fake)) as (runtime, client):
        yield ZaloOaDriver(runtime, client, fake)


CHANNELS: dict[str, Callable[[str], contextlib.AbstractAsyncContextManager[Driver]]] = {
    "telegram": _telegram,
    "zalo_bot": _zalo_bot,
    "zalo_oa": _zalo_oa,
}


async def joined(channel: Driver, demo: Demo, user: str, name: str) -> tuple[Chat, Shown]:
    """``name``'s chat after they typed their invite code as their first message, and the welcome."""
    chat = Chat(channel, user)
    await chat.say(demo.code(name))
    return chat, await chat.receive(f"Chào mừng đồng chí {name}")
