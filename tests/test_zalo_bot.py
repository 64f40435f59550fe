"""The Zalo Bot channel end to end, over HTTP against a local fake of the Bot API: joining with a
typed code, numbered menus in place of buttons, the webhook's safety, polling, delivery errors."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlmodel import select

from bot.channels import photo_links, zalo_bot
from bot.channels.zalo_bot import (
    STALE_CHOICE,
    DatabaseMenuStore,
    Menu,
    MenuStore,
    RedisMenuStore,
    ZaloBotChannel,
    ZaloBotClient,
    ZaloBotError,
    ZaloBotSender,
    answered,
    choice_payload,
    choose,
    place,
)
from bot.delivery import DeliveryWorker, Rejected, RetryLater, SendError, Transient, Unreachable
from bot.i18n import Catalogs
from bot.runtime import Runtime
from bot.settings import Settings, SettingsError, load_settings
from handlers.contract import Button, Inbound, Reply
from handlers.notices import notice_body_maker
from models.db import create_engine
from models.notices import Audience, attach, create_draft, send_now
from models.permissions import OPERATOR
from models.tables import (
    ChannelIdentity,
    MeetingInvitation,
    OpenBallot,
    OutboxMessage,
    OutboxStatus,
    Platform,
    ProcessedUpdate,
    ZaloBotMenu,
    utcnow,
)
from tests.chat import button, say
from tests.conftest import METRICS_HEADERS, Demo, Outage, make_settings, member_named, serve_app, serve_fake
from tests.fake_zalo_bot import Failure, FakeZaloBot
from tests.tcp_proxy import TcpProxy
from webhooks.app import create_app

TOKEN = "1459232241454765289:test-secret-for-the-fake"
SECRET = "zalo-webhook-secret-42"
HEADERS = {"X-Bot-Api-Secret-Token": SECRET}
REDIS_URL = "redis://127.0.0.1:6379/15"
MENU_LINES = [
    "1. 📢 Thông báo",
    "2. 🗳 Biểu quyết đang mở",
    "3. 📅 Cuộc họp",
    "4. 👤 Thông tin của tôi",
    "5. 🏠 Chi bộ của tôi",
    "6. 🛠 Quản lý",
    "7. 🌐 Ngôn ngữ / Language",
    "8. ❓ Hướng dẫn",
]


@pytest.fixture
async def fake_zalo() -> AsyncIterator[FakeZaloBot]:
    async with serve_fake(FakeZaloBot()) as fake:
        yield fake


def zalo_settings(database_url: str, fake: FakeZaloBot, **overrides: object) -> Settings:
    return make_settings(database_url, zalo_bot_token=TOKEN, zalo_bot_api_base=fake.url, **overrides)


@pytest.fixture
async def polling_zalo(database_url: str, fake_zalo: FakeZaloBot) -> AsyncIterator[FakeZaloBot]:
    app = create_app(zalo_settings(database_url, fake_zalo, zalo_bot_mode="polling"), migrate=False)
    async with app.router.lifespan_context(app):
        yield fake_zalo


def _redis_skip() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return None
    except OSError as error:
        return f"Redis at 127.0.0.1:6379 is unreachable ({error}); the Redis menu store is not tested"


# ---- joining and numbered menus
async def test_join_with_typed_code_then_numbered_menu_chosen_by_number_and_words(
    polling_zalo: FakeZaloBot, demo: Demo
) -> None:
    fake, user = polling_zalo, "e4ea2cd5189df1c3a88c"
    await fake.push(fake.message_update(user, demo.code("Trần Thị Lan").lower(), name="Lan"))
    welcome = (await fake.wait_for(1, user))[0].text
    assert "Chào mừng đồng chí Trần Thị Lan" in welcome
    assert welcome.endswith("\n\n" + "\n".join(MENU_LINES) + "\n\nTrả lời 1, 2, 3, 4, 5, 6, 7 hoặc 8.")

    await fake.push(fake.message_update(user, "5"))
    branch = (await fake.wait_for(2, user))[1].text
    assert "Bí thư: Nguyễn Văn Hùng" in branch
    assert branch.endswith("Trả lời 1, 2, 3, 4, 5, 6, 7 hoặc 8.")  # the menu comes back with every answer

    await fake.push(fake.message_update(user, "Số 4"))
    assert "Họ và tên: Trần Thị Lan" in (await fake.wait_for(3, user))[2].text

    await fake.push(fake.message_update(user, "ngon ngu"))  # half of "Ngôn ngữ / Language", no diacritics
    chooser = (await fake.wait_for(4, user))[3].text
    assert chooser.endswith("1. 🇻🇳 Tiếng Việt\n2. 🇬🇧 English\n\nTrả lời 1 hoặc 2.")
    await fake.push(fake.message_update(user, "ENGLISH"))
    switched = (await fake.wait_for(5, user))[4].text
    assert switched.startswith("From now on I will write to you in English.")
    assert "4. 👤 My details" in switched and switched.endswith("Reply 1, 2, 3, 4, 5, 6, 7 or 8.")

    assert [name for name, _ in fake.calls][:2] == ["getMe", "deleteWebhook"]


async def test_a_number_not_on_the_last_menu_is_a_stale_choice(polling_zalo: FakeZaloBot, demo: Demo) -> None:
    fake, user = polling_zalo, "u-stale"
    await fake.push(fake.message_update(user, "1"))  # a stranger with no menu yet
    hello = (await fake.wait_for(1, user))[0].text
    assert "mã mời" in hello and "số điện thoại" not in hello  # no phone sharing on Zalo
    await fake.push(fake.message_update(user, demo.code("Đinh Văn Khánh")))
    await fake.wait_for(2, user)
    await fake.push(fake.message_update(user, "9"))
    stale = (await fake.wait_for(3, user))[2].text
    assert stale.startswith("Nút này không còn dùng được nữa.")
    assert "4. 👤 Thông tin của tôi" in stale
    await fake.push(fake.message_update(user, "chào đồng chí"))  # words that are no label: plain text
    assert (await fake.wait_for(4, user))[3].text.startswith("Chào đồng chí Đinh Văn Khánh!")


async def test_a_secretary_reaches_the_roster_through_a_button_turned_number(
    polling_zalo: FakeZaloBot, demo: Demo
) -> None:
    fake, user = polling_zalo, "u-secretary"
    await fake.push(fake.message_update(user, demo.code("Lý Văn Quang")))
    await fake.wait_for(1, user)
    await fake.push(fake.message_update(user, "6"))  # 🛠 Quản lý
    manage = (await fake.wait_for(2, user))[1].text
    assert "\n5. 📋 Danh sách đảng viên\n" in manage
    assert manage.endswith("Trả lời 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 hoặc 14.")
    await fake.push(fake.message_update(user, "5"))
    roster = (await fake.wait_for(3, user))[2].text
    assert "7. Lý Văn Quang — Bí thư, đảng viên chính thức, Zalo" in roster  # by given name: 7th


def test_choice_payload_reads_numbers_and_label_words() -> None:
    choices = [Button("👤 Thông tin của tôi", "me"), Button("🌐 Ngôn ngữ / Language", "lang"), Button("Tôi", "x")]
    for typed, payload in [
        ("2", "lang"),
        (" số 2 ", "lang"),
        ("So 1", "me"),
        ("#3", "x"),
        ("3.", "x"),
        ("4", STALE_CHOICE),
        ("0", STALE_CHOICE),
        ("THÔNG TIN CỦA TÔI", "me"),
        ("thong tin cua toi!", "me"),
        ("language", "lang"),
        ("toi", "x"),
        ("thong tin", None),
        ("2345-6789", None),  # an invite code of digits is not a choice
        ("", None),
    ]:
        assert choice_payload(typed, choices) == payload, typed
    assert choice_payload("1", []) == STALE_CHOICE
    assert choice_payload("same", [Button("Same", "a"), Button("same", "b")]) is None  # ambiguous


def test_a_number_on_no_open_menu_arrives_as_a_stale_button_not_a_payload() -> None:
    message = zalo_bot.ZaloMessage.model_validate(
        {"message_id": "m1", "from": {"id": "u1"}, "chat": {"id": "c1", "chat_type": "PRIVATE"}, "text": "7"}
    )
    stale = zalo_bot.inbound_from_message(message, [])
    assert stale.stale_button and stale.payload is None and stale.text is None
    menu = Menu(1, (Button("A", "me"),), False, utcnow())
    chosen = zalo_bot.inbound_from_message(message.model_copy(update={"text": "1"}), [menu])
    assert chosen.payload == "me" and not chosen.stale_button and chosen.text is None
    typed = zalo_bot.inbound_from_message(message.model_copy(update={"text": "xin chào"}), [menu])
    assert typed.text == "xin chào" and typed.payload is None and not typed.stale_button


async def _show(store: MenuStore, chat: str, choices: list[Button], pushed: bool = False) -> list[Menu]:
    now = utcnow()
    return await store.change(chat, lambda menus: place(menus, choices, pushed, now))


def _numbered(menus: list[Menu]) -> list[tuple[int, str]]:
    return [(m.first + i, b.payload) for m in menus for i, b in enumerate(m.choices)]


async def test_menus_live_in_the_database_without_redis(runtime: Runtime) -> None:
    store = DatabaseMenuStore(runtime.sessions)
    assert await store.recall("c1") == []
    await _show(store, "c1", [Button("A", "me")])
    await _show(store, "c1", [Button("B", "branch"), Button("C", "help")])  # replaces, on both databases
    assert _numbered(await store.recall("c1")) == [(1, "branch"), (2, "help")]
    await _show(store, "c1", [])
    assert await store.recall("c1") == []


async def test_open_messages_get_numbers_of_their_own(runtime: Runtime) -> None:
    store = DatabaseMenuStore(runtime.sessions)
    await _show(store, "c2", [Button("Menu", "home")])
    await _show(store, "c2", [Button("Đồng ý", "pv:1:1"), Button("Không", "pv:1:2"), Button("Khác", "pv:1:4")], True)
    await _show(store, "c2", [Button("Đã đọc", "read:1")], pushed=True)
    await _show(store, "c2", [Button("Tham dự", "mty:1:yes"), Button("Vắng", "mty:1:no")], pushed=True)
    opened = await store.recall("c2")
    # The earlier answer's menu gave way to the ballot; each pushed message keeps its own numbers.
    assert _numbered(opened) == [(1, "pv:1:1"), (2, "pv:1:2"), (3, "pv:1:4"), (4, "read:1"), (5, "mty:1:yes"),
                                 (6, "mty:1:no")]  # fmt: skip
    assert choose("1", opened) == "pv:1:1" and choose("5", opened) == "mty:1:yes"
    assert choose("7", opened) == STALE_CHOICE
    await store.change("c2", lambda menus: answered(menus, 1))  # the ballot was answered
    await _show(store, "c2", [Button("Menu", "home"), Button("Help", "help")])  # and its answer shown
    assert _numbered(await store.recall("c2")) == [(4, "read:1"), (5, "mty:1:yes"), (6, "mty:1:no"), (7, "home"),
                                                  (8, "help")]  # fmt: skip
    for n in range(zalo_bot.MAX_PUSHED + 2):
        await _show(store, "c2", [Button(f"Đã đọc {n}", f"read:{n + 10}")], pushed=True)
    assert len(await store.recall("c2")) == zalo_bot.MAX_PUSHED  # the oldest pushed give way


async def test_menus_live_in_redis_with_an_expiry_when_configured(
    database_url: str, fake_zalo: FakeZaloBot, demo: Demo
) -> None:
    if reason := _redis_skip():
        pytest.skip(reason)
    redis = Redis.from_url(REDIS_URL)
    chat = f"redis-{uuid.uuid4().hex}"
    key = zalo_bot.REDIS_KEY_PREFIX + chat
    try:
        store = RedisMenuStore(redis)
        await _show(store, chat, [Button("Một", "me")])
        await _show(store, chat, [Button("Hai", "help")], pushed=True)
        assert _numbered(await store.recall(chat)) == [(1, "help")]
        await _show(store, chat, [Button("Ba", "branch")])
        assert _numbered(await store.recall(chat)) == [(1, "help"), (2, "branch")]
        assert 0 < await redis.ttl(key) <= zalo_bot.MENU_TTL.total_seconds()
        await store.change(chat, lambda menus: [])
        assert await redis.exists(key) == 0

        # And wired in: with CHIBO_REDIS_URL the app keeps menus there, not in the database.
        settings = zalo_settings(database_url, fake_zalo, zalo_bot_mode="polling", redis_url=REDIS_URL)
        app = create_app(settings, migrate=False)
        async with app.router.lifespan_context(app):
            await fake_zalo.push(fake_zalo.message_update(chat, demo.code("Mai Văn Sơn")))
            await fake_zalo.wait_for(1, chat)
            assert await redis.ttl(key) > 0
            await fake_zalo.push(fake_zalo.message_update(chat, "4"))
            assert "Họ và tên: Mai Văn Sơn" in (await fake_zalo.wait_for(2, chat))[1].text
        runtime: Runtime = app.state.runtime
        async with runtime.sessions() as session:
            assert (await session.exec(select(func.count()).select_from(ZaloBotMenu))).one() == 0
    finally:
        await redis.delete(key)
        await redis.aclose()


async def test_redis_down_means_try_again_later_not_a_crash(runtime: Runtime, fake_zalo: FakeZaloBot) -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    client = ZaloBotClient(TOKEN, fake_zalo.url)
    try:
        store = RedisMenuStore(redis)
        with pytest.raises(zalo_bot.MenuStoreUnavailable):
            await store.recall("c")
        sender = ZaloBotSender(client, store, runtime.catalogs)
        with pytest.raises(Transient):  # retried later, and not sent with numbers nobody could read back
            await sender.send("c", Reply("menu", menu=((Button("A", "me"),),)))
        assert fake_zalo.sent == []
    finally:
        await client.aclose()
        await redis.aclose()


# ---- sending
@dataclass
class Sending:
    runtime: Runtime
    fake: FakeZaloBot
    client: ZaloBotClient
    sender: ZaloBotSender


@pytest.fixture
async def sending(runtime: Runtime, fake_zalo: FakeZaloBot) -> AsyncIterator[Sending]:
    client = ZaloBotClient(TOKEN, fake_zalo.url)
    sender = ZaloBotSender(client, DatabaseMenuStore(runtime.sessions), runtime.catalogs)
    yield Sending(runtime, fake_zalo, client, sender)
    await client.aclose()


async def test_long_text_is_split_at_2000_on_paragraphs_with_the_menu_last(sending: Sending) -> None:
    paragraphs = [f"Đoạn {i}: " + "chữ " * 150 for i in range(8)]  # about 600 characters each
    menu = ((Button("👤 Thông tin của tôi", "me"),), (Button("❓ Hướng dẫn", "help"),))
    await sending.sender.send("long", Reply("\n\n".join(paragraphs), menu=menu))
    pieces = [m.text for m in sending.fake.sent]
    assert len(pieces) == 3 and all(len(p) <= zalo_bot.MESSAGE_LIMIT for p in pieces)
    assert all(p.startswith("Đoạn") for p in pieces)
    assert sum(p.count("Đoạn") for p in pieces) == 8
    assert pieces[-1].endswith("1. 👤 Thông tin của tôi\n2. ❓ Hướng dẫn\n\nTrả lời 1 hoặc 2.")


async def test_send_errors_map_to_the_delivery_rules(sending: Sending) -> None:
    cases: list[tuple[Failure, type[SendError]]] = [
        (Failure(429, 429, "Too Many Requests", retry_after=7), RetryLater),
        (Failure(200, 429, "rate limited"), RetryLater),
        (Failure(200, 401, "invalid token"), Transient),
        (Failure(500, 500, "internal error"), Transient),
        (Failure(502, None), Transient),  # a proxy's HTML page
        (Failure(200, 403, "user blocked the bot"), Unreachable),
        (Failure(200, 400, "bad request"), Rejected),  # HTTP 200, yet a failure
        (Failure(404, 404, "chat not found"), Rejected),
    ]
    for failure, expected in cases:
        sending.fake.failures["c"] = [failure]
        with pytest.raises(SendError) as raised:
            await sending.sender.send("c", Reply("xin chào"))
        assert type(raised.value) is expected, failure
    assert isinstance(raised.value, Rejected)
    sending.fake.failures["c"] = [Failure(429, 429, retry_after=7)]
    with pytest.raises(RetryLater) as waited:
        await sending.sender.send("c", Reply("xin chào"))
    assert waited.value.after == 7
    assert sending.fake.sent == []

    # No answer at all: a network error, retried; the token never appears in what is logged.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    offline = ZaloBotClient(TOKEN, f"http://127.0.0.1:{closed_port}")
    try:
        with pytest.raises(ZaloBotError) as failed:
            await offline.send_message("c", "xin chào")
        assert failed.value.code is None and TOKEN not in str(failed.value)
        assert failed.value.__cause__ is None and failed.value.__suppress_context__
        with pytest.raises(Transient):
            await ZaloBotSender(offline, DatabaseMenuStore(sending.runtime.sessions), sending.runtime.catalogs).send(
                "c", Reply("xin chào")
            )
    finally:
        await offline.aclose()


async def test_a_member_who_blocked_the_bot_is_marked_unreachable(sending: Sending, demo: Demo) -> None:
    runtime, user = sending.runtime, "blocker"
    joined = Inbound(Platform.ZALO_BOT, user, user, text=demo.code("Hồ Thị Ngọc"))
    await runtime.process(joined, None)
    sending.fake.failures[user] = [Failure(200, 403, "user blocked the bot")]
    worker = DeliveryWorker(runtime.sessions, {Platform.ZALO_BOT: sending.sender}, runtime.metrics)
    await worker.drain_once()
    async with runtime.sessions() as session:
        row = (await session.exec(select(OutboxMessage))).one()
        identity = (await session.exec(select(ChannelIdentity))).one()
    assert row.status is OutboxStatus.FAILED and row.platform is Platform.ZALO_BOT
    assert identity.platform is Platform.ZALO_BOT and identity.unreachable_at is not None
    assert sending.fake.sent == []


# ---- the webhook
@dataclass
class Webhook:
    client: httpx.AsyncClient
    runtime: Runtime
    fake: FakeZaloBot
    outage: Outage

    async def post(self, body: object, headers: dict[str, str] = HEADERS) -> httpx.Response:
        return await self.client.post(zalo_bot.WEBHOOK_PATH, json=body, headers=headers)

    async def count(self, table: type) -> int:
        async with self.runtime.sessions() as session:
            return (await session.exec(select(func.count()).select_from(table))).one()


@pytest.fixture
async def webhook(database_url: str, fake_zalo: FakeZaloBot) -> AsyncIterator[Webhook]:
    proxy: TcpProxy | None = None
    engine_url = database_url
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"timeout": 2})
    else:
        url = make_url(database_url)
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        await proxy.start()
        engine_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        engine = create_engine(engine_url, connect_args={"timeout": 2})
    settings = zalo_settings(
        engine_url,
        fake_zalo,
        zalo_bot_mode="webhook",
        public_url="https://chibo.example.org/",
        zalo_bot_secret=SECRET,
    )
    app = create_app(settings, engine=engine, migrate=False)
    async for server in serve_app(app):
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            yield Webhook(client, app.state.runtime, fake_zalo, Outage(database_url, proxy))
    if proxy is not None:
        await proxy.stop()


async def test_webhook_is_registered_with_its_secret_and_answers(webhook: Webhook, demo: Demo) -> None:
    registered = await webhook.fake.wait_for_call("setWebhook")
    assert registered == {"url": "https://chibo.example.org/webhooks/zalo-bot", "secret_token": SECRET}
    assert "deleteWebhook" not in [name for name, _ in webhook.fake.calls]
    update = webhook.fake.message_update("w1", demo.code("Võ Thị Thanh"))
    response = await webhook.post(webhook.fake.webhook_body(update))
    assert response.status_code == 200
    assert "Chào mừng đồng chí Võ Thị Thanh" in (await webhook.fake.wait_for(1, "w1"))[0].text


async def test_wrong_or_missing_secret_is_refused_and_nothing_is_processed(webhook: Webhook, demo: Demo) -> None:
    body = webhook.fake.webhook_body(webhook.fake.message_update("w2", demo.code("Hồ Thị Ngọc")))
    assert (await webhook.post(body, headers={})).status_code == 401
    assert (await webhook.post(body, headers={"X-Bot-Api-Secret-Token": SECRET[:-1]})).status_code == 401
    assert (await webhook.post(body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})).status_code == 401
    assert await webhook.count(ProcessedUpdate) == 0
    assert await webhook.count(ChannelIdentity) == 0


async def test_malformed_bodies_get_4xx(webhook: Webhook) -> None:
    client = webhook.client
    raw = await client.post(zalo_bot.WEBHOOK_PATH, content=b"{not json", headers=HEADERS)
    assert raw.status_code == 400
    good = webhook.fake.message_update("w3", "xin chào")
    no_chat = {**good, "message": {k: v for k, v in good["message"].items() if k != "chat"}}
    numeric_id = {**good, "message": {**good["message"], "message_id": 12}}
    long_chat = {**good, "message": {**good["message"], "chat": {"id": "c" * 64, "chat_type": "PRIVATE"}}}
    bodies: list[object] = [
        [1, 2],
        {"ok": True},
        good,  # not wrapped in {ok, result}
        {"ok": True, "result": {"event_name": "message.text.received"}},  # no message
        {"ok": True, "result": no_chat},
        {"ok": True, "result": numeric_id},
        {"ok": True, "result": long_chat},  # would not fit the de-duplication key
    ]
    for body in bodies:
        assert (await webhook.post(body)).status_code == 422, body
    huge = await client.post(zalo_bot.WEBHOOK_PATH, content=b" " * 1_000_001, headers=HEADERS)
    assert huge.status_code == 413
    assert await webhook.count(ProcessedUpdate) == 0


async def test_group_messages_and_unknown_events_are_acknowledged_and_ignored(webhook: Webhook) -> None:
    group = webhook.fake.message_update("w4", "1", chat_type="GROUP")
    future = {"event_name": "bot.something.new"}
    for update in (group, future):
        assert (await webhook.post(webhook.fake.webhook_body(update))).status_code == 200
    assert await webhook.count(ProcessedUpdate) == 0


async def test_an_event_delivered_twice_even_at_once_is_handled_once(webhook: Webhook, demo: Demo) -> None:
    body = webhook.fake.webhook_body(webhook.fake.message_update("w5", demo.code("Đinh Văn Khánh")))
    answers = await asyncio.gather(webhook.post(body), webhook.post(body), webhook.post(body))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert (await webhook.post(body)).status_code == 200
    assert await webhook.count(ProcessedUpdate) == 1
    assert await webhook.count(ChannelIdentity) == 1
    assert await webhook.count(OutboxMessage) == 1
    sent = await webhook.fake.wait_for(1, "w5")
    assert len(sent) == 1 and "Chào mừng đồng chí Đinh Văn Khánh" in sent[0].text


async def test_database_down_answers_503_then_the_retry_succeeds(webhook: Webhook, demo: Demo) -> None:
    body = webhook.fake.webhook_body(webhook.fake.message_update("w6", demo.code("Tạ Văn Bình")))
    await webhook.outage.begin()
    try:
        assert (await webhook.post(body)).status_code == 503
    finally:
        await webhook.outage.end()
    assert (await webhook.post(body)).status_code == 200
    assert "Chào mừng đồng chí Tạ Văn Bình" in (await webhook.fake.wait_for(1, "w6"))[0].text
    assert await webhook.count(ProcessedUpdate) == 1
    metrics = (await webhook.client.get("/metrics", headers=METRICS_HEADERS)).text
    assert 'chibo_updates_rejected_total{platform="zalo_bot",reason="database"} 1.0' in metrics


# ---- polling
async def test_polling_treats_408_as_idle_and_survives_errors(database_url: str, fake_zalo: FakeZaloBot) -> None:
    engine = create_engine(database_url)
    runtime = Runtime.create(make_settings(database_url), engine)
    client = ZaloBotClient(TOKEN, fake_zalo.url)
    channel = ZaloBotChannel(runtime, client, DatabaseMenuStore(runtime.sessions), poll_timeout=1, backoff=lambda n: 0)
    handled = asyncio.Event()
    runtime.on_outbox = handled.set
    fake_zalo.poll_failures = [Failure(500, 500, "internal error"), Failure(200, 401, "invalid token")]
    task = asyncio.create_task(channel.run_polling())
    try:
        await fake_zalo.wait_until(lambda: fake_zalo.idle_answers >= 2)
        assert not fake_zalo.poll_failures and not task.done()
        await fake_zalo.push(fake_zalo.message_update("p1", "/start"))
        await asyncio.wait_for(handled.wait(), 15)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()
        await engine.dispose()
    assert fake_zalo.served == 1


async def test_polling_keeps_an_update_it_could_not_handle_and_retries_it(
    database_url: str, fake_zalo: FakeZaloBot, demo: Demo
) -> None:
    proxy: TcpProxy | None = None
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"timeout": 2})
    else:
        url = make_url(database_url)
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        await proxy.start()
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        engine = create_engine(proxied, connect_args={"timeout": 2})
    outage = Outage(database_url, proxy)
    runtime = Runtime.create(make_settings(database_url), engine)
    client = ZaloBotClient(TOKEN, fake_zalo.url)
    failed = asyncio.Event()

    def backoff(failures: int) -> float:
        failed.set()
        return 0.0

    channel = ZaloBotChannel(runtime, client, DatabaseMenuStore(runtime.sessions), poll_timeout=1, backoff=backoff)
    handled = asyncio.Event()
    runtime.on_outbox = handled.set
    task = asyncio.create_task(channel.run_polling())
    try:
        await outage.begin()
        try:
            await fake_zalo.push(fake_zalo.message_update("p2", demo.code("Tạ Văn Bình")))
            await asyncio.wait_for(failed.wait(), 15)  # the database refused it at least once
            assert fake_zalo.served == 1 and not handled.is_set()
        finally:
            await outage.end()
        await asyncio.wait_for(handled.wait(), 15)
        assert fake_zalo.served == 1  # fetched once, handled once it could be
        async with runtime.sessions() as session:
            identity = (await session.exec(select(ChannelIdentity))).one()
        assert identity.platform is Platform.ZALO_BOT and identity.chat_id == "p2"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()
        await engine.dispose()
        if proxy is not None:
            await proxy.stop()


# ---- settings
def test_settings_explain_what_the_zalo_bot_needs() -> None:
    assert load_settings(_env_file=None).zalo_bot_enabled is False
    polling = load_settings(_env_file=None, zalo_bot_token=TOKEN)
    assert polling.zalo_bot_mode == "polling" and polling.zalo_bot_rate == 10.0
    assert str(polling.zalo_bot_api_base) == "https://bot-api.zaloplatforms.com/"
    cases: list[tuple[dict[str, object], str]] = [
        ({"zalo_bot_token": "not a token"}, "CHIBO_ZALO_BOT_TOKEN: is not a Zalo bot token"),
        ({"zalo_bot_mode": "polling"}, "CHIBO_ZALO_BOT_MODE needs CHIBO_ZALO_BOT_TOKEN"),
        ({"zalo_bot_token": TOKEN, "zalo_bot_mode": "webhook"}, "needs CHIBO_PUBLIC_URL"),
        (
            {"zalo_bot_token": TOKEN, "zalo_bot_mode": "webhook", "public_url": "https://chibo.example.org"},
            "needs CHIBO_ZALO_BOT_SECRET",
        ),
        ({"zalo_bot_secret": "short"}, "CHIBO_ZALO_BOT_SECRET: must be 8-256 characters"),
        ({"zalo_bot_rate": 0}, "CHIBO_ZALO_BOT_RATE"),
    ]
    for overrides, message in cases:
        with pytest.raises(SettingsError, match=message):
            load_settings(_env_file=None, **overrides)


# ---- several open messages: a number answers the one it was printed under
async def test_a_number_answers_the_ballot_it_was_printed_under_not_a_later_invitation(
    database_url: str, fake_zalo: FakeZaloBot, demo: Demo
) -> None:
    """As reported: a ballot, then a notice and a meeting invitation; "1" meant the ballot."""
    app = create_app(zalo_settings(database_url, fake_zalo, zalo_bot_mode="polling"), migrate=False)
    secretary, son = 950, "u-son"
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        await fake_zalo.push(fake_zalo.message_update(son, demo.code("Mai Văn Sơn")))
        await fake_zalo.wait_for(1, son)
        await say(runtime, secretary, f"/start {demo.code('Lý Văn Quang')}")
        await say(runtime, secretary, payload="pnew")
        preview = (await say(runtime, secretary, "Thông qua kế hoạch quý I?"))[0]
        await say(runtime, secretary, payload=button(preview, "Mở biểu quyết"))
        ballot = (await fake_zalo.wait_for(2, son))[1].text
        assert "1. " in ballot and ballot.endswith("Trả lời 1, 2 hoặc 3.")
        await say(runtime, secretary, payload="nnew")
        draft = (await say(runtime, secretary, "Thông báo thu đảng phí tháng 12"))[0]
        await say(runtime, secretary, payload=button(draft, "Gửi ngay"))
        assert (await fake_zalo.wait_for(3, son))[2].text.endswith("Trả lời 4.")
        await say(runtime, secretary, payload="mtn")
        await say(runtime, secretary, "Sinh hoạt chi bộ định kỳ tháng 12")
        when = (datetime.now() + timedelta(days=3)).strftime("%d/%m") + " 19:30"
        preview = (await say(runtime, secretary, when))[0]
        await say(runtime, secretary, payload=button(preview, "Gửi giấy mời"))
        invitation = (await fake_zalo.wait_for(4, son))[3].text
        assert "\n5. " in invitation and "\n1. " not in invitation

        await fake_zalo.push(fake_zalo.message_update(son, "1"))
        answer = (await fake_zalo.wait_for(5, son))[4].text
        member = await member_named(runtime, "Mai Văn Sơn")
        async with runtime.sessions() as session:
            ballots = (await session.exec(select(OpenBallot).where(OpenBallot.member_id == member.id))).all()
            invited = (
                await session.exec(select(MeetingInvitation).where(MeetingInvitation.member_id == member.id))
            ).one()
        assert [b.option for b in ballots] == [0], answer  # "1" was the ballot's first option
        assert invited.rsvp is None  # not taken as "I will attend"

        await fake_zalo.push(fake_zalo.message_update(son, "5"))  # the invitation's own first number
        await fake_zalo.wait_for(6, son)
        async with runtime.sessions() as session:
            invited = (
                await session.exec(select(MeetingInvitation).where(MeetingInvitation.member_id == member.id))
            ).one()
        assert invited.rsvp is not None


async def test_a_notice_photo_arrives_as_a_photo_and_a_pdf_as_the_web_chat_link(
    database_url: str, fake_zalo: FakeZaloBot, demo: Demo
) -> None:
    """The Bot API sends photos by address only and has no documents: the photo is fetched from a
    signed address chibo serves, the PDF is named with the web chat's address."""
    public = "https://chibo.example"
    settings = zalo_settings(database_url, fake_zalo, zalo_bot_mode="polling", public_url=public)
    app = create_app(settings, migrate=False)
    son = "u-son-files"
    async for server in serve_app(app):
        fake_zalo.fetch_instead = (public, server.url)
        runtime: Runtime = app.state.runtime
        await fake_zalo.push(fake_zalo.message_update(son, demo.code("Mai Văn Sơn")))
        await fake_zalo.wait_for(1, son)
        member = await member_named(runtime, "Mai Văn Sơn")
        photo, pdf = b"\xff\xd8\xff\xe0 anh buoi hop", b"%PDF-1.4 ke hoach"
        for text, name, content in (("Ảnh buổi họp.", "buoi-hop.jpg", photo), ("Kế hoạch.", "ke-hoach.pdf", pdf)):
            async with runtime.sessions() as session, session.begin():
                notice = await create_draft(session, OPERATOR, text, Audience(None, members=(member.id or 0,)))
                await attach(session, OPERATOR, notice, name, content)
                await send_now(session, OPERATOR, notice, notice_body_maker(Catalogs("vi")))
            runtime.on_outbox()
        sent = (await fake_zalo.wait_for(4, son))[1:]
        assert sent[0].photo == photo  # fetched by Zalo from chibo's signed address
        assert "Ảnh buổi họp." in sent[1].text and sent[1].text.endswith("Trả lời 1.")
        assert sent[2].photo is None and "Kế hoạch." in sent[2].text
        assert f"ke-hoach.pdf không gửi được qua đây; xin đồng chí mở trong trang chat web: {public}" in sent[2].text
        address = next(params["photo"] for name, params in fake_zalo.calls if name == "sendPhoto")
        assert address.startswith(public + "/photos/")
        async with httpx.AsyncClient(base_url=server.url) as client:
            token = address.removeprefix(public + "/photos/")
            assert (await client.get("/photos/" + token)).content == photo
            forged = token[:-1] + ("0" if token[-1] != "0" else "1")
            assert (await client.get("/photos/" + forged)).status_code == 404
            assert (await client.get("/photos/bm90aWNlOjE6OTk5OTk5OTk5OQ.abc")).status_code == 404


def test_a_photo_address_expires_and_names_only_what_it_signed() -> None:
    now = utcnow()
    token = photo_links.photo_token(b"k" * 32, "notice", 7, now)
    assert photo_links.photo_of(b"k" * 32, token, now) == ("notice", 7)
    assert photo_links.photo_of(b"k" * 32, token, now + photo_links.LIFETIME + timedelta(minutes=1)) is None
    assert photo_links.photo_of(b"other key" * 4, token, now) is None
