"""The channel registry drives the app: a platform is one entry, and reading the settings loads no adapter."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.asyncio import Redis

from bot.channels.base import Channel, Connection, Limits, Polling, Refused
from bot.channels.registry import CHANNELS
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.contract import Inbound, Reply
from models.tables import Platform
from tests.conftest import make_settings, serve_app
from webhooks.app import create_app

FAKE_PATH = "/webhooks/fake"
HEADER = "X-Fake-Secret"
FAKE_LIMITS = Limits(message_length=100, buttons=0)


@dataclass
class FakeConnection:
    """A platform that records what the app does with it."""

    runtime: Runtime
    received: list[Any] = field(default_factory=list)
    sent: list[tuple[str, str, str | None]] = field(default_factory=list)
    polling_started: asyncio.Event = field(default_factory=asyncio.Event)
    delivered: asyncio.Event = field(default_factory=asyncio.Event)
    stopped: bool = False

    @property
    def sender(self) -> FakeConnection:
        return self

    @property
    def webhook(self) -> FakeConnection:
        return self

    async def send(self, chat_id: str, reply: Reply, locale: str | None = None) -> None:
        self.sent.append((chat_id, reply.text, locale))
        self.delivered.set()

    def check_headers(self, headers: Mapping[str, str]) -> None:
        if headers.get(HEADER) != "yes":
            raise Refused(401, "secret", "wrong or missing secret token")

    async def receive(self, headers: Mapping[str, str], body: bytes, data: Any) -> None:
        self.received.append(data)
        inbound = Inbound(platform=Platform.ZALO_BOT, user_id="u1", chat_id="c1", text="/start")
        await self.runtime.process(inbound, f"fake:{data['id']}")

    async def start(self, scheduler: AsyncIOScheduler) -> Polling | None:
        return self._poll

    async def _poll(self) -> None:
        self.polling_started.set()
        await asyncio.Event().wait()  # until cancelled

    async def stop(self) -> None:
        self.stopped = True


@dataclass
class FakeChannel:
    key: str = Platform.ZALO_BOT.value
    title: str = "Fake"
    limits: Limits = FAKE_LIMITS
    webhook_path: str | None = FAKE_PATH
    opened: list[FakeConnection] = field(default_factory=list)

    def enabled(self, settings: Settings) -> bool:
        return True

    def rate(self, settings: Settings) -> float | None:
        return 10.0

    def open(self, runtime: Runtime, redis: Redis | None) -> Connection:
        self.opened.append(FakeConnection(runtime))
        return self.opened[-1]


async def test_one_registry_entry_gets_its_webhook_polling_loop_sender_and_stop(database_url: str) -> None:
    fake = FakeChannel()
    channels: tuple[Channel, ...] = (fake,)
    app = create_app(make_settings(database_url), migrate=False, channels=channels)
    async for server in serve_app(app):
        (connection,) = fake.opened
        await asyncio.wait_for(connection.polling_started.wait(), 10)
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            refused = await client.post(FAKE_PATH, json={"id": 1})
            assert refused.status_code == 401
            assert (await client.post(FAKE_PATH, content=b"{", headers={HEADER: "yes"})).status_code == 400
            taken = await client.post(FAKE_PATH, json={"id": 1}, headers={HEADER: "yes"})
            assert taken.status_code == 200 and taken.json() == {"ok": True}
        assert connection.received == [{"id": 1}]
        # The welcome was queued for the platform and sent by the delivery worker with its sender.
        await asyncio.wait_for(connection.delivered.wait(), 10)
        assert [(chat, locale) for chat, _, locale in connection.sent] == [("c1", None)]
    assert connection.stopped


async def test_a_channel_that_is_not_enabled_is_not_opened_and_its_webhook_is_404(database_url: str) -> None:
    app = create_app(make_settings(database_url), migrate=False)
    routes = {getattr(route, "path", None) for route in app.routes}
    assert {c.webhook_path for c in CHANNELS if c.webhook_path is not None} <= routes
    async for server in serve_app(app):
        assert set(app.state.connections) == {c.key for c in CHANNELS if c.enabled(app.state.runtime.settings)}
        assert set(app.state.connections) == {"web", "web_push"}  # always on: the web chat and its Web Push
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            for channel in CHANNELS:
                if channel.webhook_path is not None:
                    assert (await client.post(channel.webhook_path, json={})).status_code == 404, channel.key


def test_reading_the_settings_imports_no_adapter() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import json, sys, bot.settings; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    modules = set(json.loads(loaded.stdout))
    heavy = ("bot.delivery", "bot.runtime", "aiogram", "httpx", "redis", "sqlalchemy", "sqlmodel")
    adapters = {"bot.channels.telegram", "bot.channels.zalo_bot", "bot.channels.zalo_oa", "bot.channels.web"}
    assert "bot.channels.registry" in modules  # the settings do read the registry
    assert not modules & adapters
    assert not {m for m in modules if m.split(".")[0] in heavy or m.startswith(heavy)}
