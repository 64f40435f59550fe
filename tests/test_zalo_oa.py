"""The Zalo OA channel end to end, over HTTP against a local fake of the OA API and Zalo OAuth:
joining with a typed code, hidden-query buttons read back as payloads, signed webhooks, follow and
unfollow, delivery errors, the messaging window, and the rotating OAuth tokens."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels import zalo_oa
from bot.channels.base import NoTemplate, Pushed, WindowClosed
from bot.channels.zalo_oa import (
    OaEvent,
    OaTokens,
    TokenUnavailable,
    ZaloOaChannel,
    ZaloOaClient,
    ZaloOaError,
    ZaloOaSender,
    ZnsFallback,
    signature,
    signature_matches,
)
from bot.delivery import DeliveryWorker, Rejected, RetryLater, SendError, Transient, Unreachable
from bot.i18n import Catalogs
from bot.ratelimit import LocalRateLimiter
from bot.runtime import Runtime
from bot.settings import Settings, SettingsError, load_settings
from handlers.contract import Button, Document, Inbound, Reply
from handlers.notices import notice_body_maker
from handlers.notices.actions import TrackNotice
from handlers.notices.tracking import receipt_table
from models.db import create_engine, is_database_unavailable, session_factory
from models.notice_tracking import Delivery, notice_tracking
from models.notices import Audience, attach, create_draft, send_now
from models.outbox import TemplateKind, with_template
from models.permissions import OPERATOR
from models.tables import (
    ChannelIdentity,
    Meeting,
    MeetingFile,
    Member,
    Notice,
    NoticeRecipient,
    OutboxMessage,
    OutboxStatus,
    Platform,
    ProcessedUpdate,
    ZaloOaToken,
    utcnow,
)
from tests.chat import say, vi
from tests.conftest import (
    METRICS_HEADERS,
    Demo,
    Outage,
    database_with_outage,
    make_settings,
    member_named,
    serve_app,
    serve_fake,
)
from tests.fake_zalo_oa import (
    APP_ID,
    APP_SECRET,
    FIRST_REFRESH_TOKEN,
    SECRET_KEY,
    WAIT_LIMIT,
    Failure,
    FakeZaloOa,
    SentMessage,
    Template,
)
from tests.test_delivery import drain
from tests.test_notices import HANOI, SECRETARY
from webhooks.app import create_app

MENU = [
    "📢 Thông báo",
    "🗳 Biểu quyết đang mở",
    "📅 Cuộc họp",
    "👤 Thông tin của tôi",
    "🏠 Chi bộ của tôi",
    "🛠 Quản lý",
    "🌐 Ngôn ngữ / Language",
    "❓ Hướng dẫn",
]


@pytest.fixture
async def fake_oa() -> AsyncIterator[FakeZaloOa]:
    async with serve_fake(FakeZaloOa()) as fake:
        yield fake


def oa_settings(database_url: str, fake: FakeZaloOa, **overrides: object) -> Settings:
    return make_settings(
        database_url,
        zalo_oa_app_id=APP_ID,
        zalo_oa_secret_key=SECRET_KEY,
        zalo_oa_app_secret=APP_SECRET,
        zalo_oa_refresh_token=FIRST_REFRESH_TOKEN,
        zalo_oa_api_base=fake.url,
        zalo_oa_oauth_base=fake.url,
        zalo_oa_zns_api_base=fake.url,
        **overrides,
    )


@dataclass
class Clock:
    """The time the token store sees, moved by the test instead of waited for."""

    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


# ---- the webhook, with the whole app running
@dataclass
class Webhook:
    client: httpx.AsyncClient
    runtime: Runtime
    fake: FakeZaloOa
    outage: Outage

    async def post(self, event: dict[str, object]) -> httpx.Response:
        body, headers = self.fake.signed(event)
        return await self.client.post(zalo_oa.WEBHOOK_PATH, content=body, headers=headers)

    async def say(self, user: str, text: str, count: int) -> SentMessage:
        """Send ``text`` as the member and return the ``count``-th message they have received."""
        assert (await self.post(self.fake.text_event(user, text))).status_code == 200
        return (await self.fake.wait_for(count, user))[count - 1]

    async def count(self, table: type) -> int:
        async with self.runtime.sessions() as session:
            return (await session.exec(select(func.count()).select_from(table))).one()

    async def identity(self, user: str) -> ChannelIdentity:
        async with self.runtime.sessions() as session:
            return (await session.exec(select(ChannelIdentity).where(ChannelIdentity.platform_user_id == user))).one()


@pytest.fixture
async def webhook(database_url: str, fake_oa: FakeZaloOa) -> AsyncIterator[Webhook]:
    async with database_with_outage(database_url) as (engine_url, engine, outage):
        app = create_app(oa_settings(engine_url, fake_oa), engine=engine, migrate=False)
        async for server in serve_app(app):
            # The token refresh on start is over before a test begins (it would race with an outage).
            await app.state.connections["zalo_oa"].tokens.access_token()
            async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
                yield Webhook(client, app.state.runtime, fake_oa, outage)


async def test_zalo_oa_refuses_deep_nesting_before_the_signature_and_takes_a_nul(webhook: Webhook) -> None:
    deep = await webhook.client.post(
        "/webhooks/zalo-oa", content=b"[" * 100_000, headers={"X-ZEvent-Signature": "mac=0"}
    )
    assert deep.status_code == 400
    event = webhook.fake.text_event("8261054372918999", "xin\x00 chào")
    assert (await webhook.post(event)).status_code == 200
    assert (await webhook.post(event)).status_code == 200  # its re-delivery: handled once, no 500


async def test_join_with_typed_code_then_buttons_for_details_and_language(webhook: Webhook, demo: Demo) -> None:
    fake, user = webhook.fake, "8261054372918843"
    hello = await webhook.say(user, "xin chào", 1)
    assert "mã mời" in hello.text and "số điện thoại" not in hello.text  # no phone sharing on Zalo

    welcome = await webhook.say(user, demo.code("Trần Thị Lan").lower(), 2)
    assert "Chào mừng đồng chí Trần Thị Lan" in welcome.text
    more = (await fake.wait_for(3, user))[2]
    # Eight choices do not fit one message: shared out over two, the second saying so.
    assert welcome.titles() == MENU[:4] and more.text == "Thêm lựa chọn:" and more.titles() == MENU[4:]
    assert all(b["type"] == "oa.query.hide" and b["payload"].startswith("#chibo:") for b in welcome.buttons)

    details = await webhook.say(user, welcome.payload("Thông tin của tôi"), 4)
    assert "Họ và tên: Trần Thị Lan" in details.text and "Chức vụ: Phó Bí thư" in details.text

    chooser = await webhook.say(user, more.payload("Ngôn ngữ"), 7)
    assert chooser.titles() == ["🇻🇳 Tiếng Việt", "🇬🇧 English"]
    switched = await webhook.say(user, chooser.payload("English"), 8)
    assert switched.text.startswith("From now on I will write to you in English.")
    assert "👤 My details" in switched.titles()
    assert (await fake.wait_for(9, user))[8].text == "More choices:"


async def test_a_secretary_reaches_the_roster_through_buttons(webhook: Webhook, demo: Demo) -> None:
    user = "secretary-oa"
    await webhook.say(user, demo.code("Lý Văn Quang"), 1)
    more = (await webhook.fake.wait_for(2, user))[1]
    await webhook.say(user, more.payload("Quản lý"), 3)
    manage = (await webhook.fake.wait_for(5, user))[2:5]  # Quản lý's fourteen buttons: three messages
    listed = next(m for m in manage if any("Danh sách đảng viên" in b["title"] for b in m.buttons))
    roster = await webhook.say(user, listed.payload("Danh sách đảng viên"), 6)
    assert "7. Lý Văn Quang — Bí thư, đảng viên chính thức, Zalo OA" in roster.text  # by given name: 7th


async def test_payloads_are_untrusted_and_labels_typed_as_text_still_work(webhook: Webhook, demo: Demo) -> None:
    user = "forger"
    welcome = await webhook.say(user, demo.code("Đinh Văn Khánh"), 1)
    assert len(welcome.buttons) == 4  # seven choices, shared out over two messages: four and three
    forged = await webhook.say(user, "#chibo:mc:1", 3)  # a secretary's button, typed by a member
    assert forged.text.startswith("Nút này không còn dùng được nữa")  # re-checked, refused as a made-up id
    garbage = await webhook.say(user, "#chibo:%%%", 5)
    assert garbage.text.startswith("Nút này không còn dùng được nữa.")
    typed = await webhook.say(user, "👤 Thông tin của tôi", 7)  # the label as text, not the button
    assert "Họ và tên: Đinh Văn Khánh" in typed.text


def test_signature_vectors() -> None:
    body = (
        b'{"app_id":"1234567890123456789","event_name":"user_send_text","sender":{"id":"2468"},'
        b'"recipient":{"id":"1357"},"message":{"msg_id":"m1","text":"xin ch\xc3\xa0o"},"timestamp":"1764000000000"}'
    )
    app_id, timestamp, key = "1234567890123456789", "1764000000000", "oa-secret-key-for-the-vector"
    # printf '%s' "<app_id><body><timestamp><key>" | sha256sum
    expected = "mac=a8cca06f4768f3c6d8342f56940455449188800898f4437ec9bc37f018e4e566"
    assert signature(app_id, body, timestamp, key) == expected
    assert signature_matches(expected, app_id, body, timestamp, key)
    assert signature_matches(" " + expected.upper().replace("MAC=", "mac=") + "\n", app_id, body, timestamp, key)
    for position in (0, len(body) // 2, len(body) - 1):
        changed = body[:position] + bytes([body[position] ^ 1]) + body[position + 1 :]
        assert not signature_matches(expected, app_id, changed, timestamp, key), position
    assert not signature_matches(expected, app_id, body, "1764000000001", key)
    assert not signature_matches(expected, "1234567890123456780", body, timestamp, key)
    assert not signature_matches(expected, app_id, body, timestamp, key + "x")
    assert not signature_matches(expected.removeprefix("mac="), app_id, body, timestamp, key)


async def test_wrong_or_missing_signature_is_refused_and_nothing_is_processed(webhook: Webhook, demo: Demo) -> None:
    event = webhook.fake.text_event("w1", demo.code("Hồ Thị Ngọc"))
    body, headers = webhook.fake.signed(event)
    post = webhook.client.post
    assert (await post(zalo_oa.WEBHOOK_PATH, content=body)).status_code == 401
    wrong = {**headers, "X-ZEvent-Signature": signature(APP_ID, body, str(event["timestamp"]), "another key")}
    assert (await post(zalo_oa.WEBHOOK_PATH, content=body, headers=wrong)).status_code == 401
    tampered = body.replace(b"w1", b"w2")
    assert (await post(zalo_oa.WEBHOOK_PATH, content=tampered, headers=headers)).status_code == 401
    assert await webhook.count(ProcessedUpdate) == 0
    assert await webhook.count(ChannelIdentity) == 0
    metrics = (await webhook.client.get("/metrics", headers=METRICS_HEADERS)).text
    assert 'chibo_updates_rejected_total{platform="zalo_oa",reason="signature"} 3.0' in metrics


async def test_malformed_bodies_get_4xx(webhook: Webhook) -> None:
    post = webhook.client.post
    sign = {"X-ZEvent-Signature": "mac=00"}
    assert (await post(zalo_oa.WEBHOOK_PATH, content=b"{not json", headers=sign)).status_code == 400
    assert (await post(zalo_oa.WEBHOOK_PATH, content=b'{"event_name": "follow"}', headers=sign)).status_code == 400
    huge = await post(zalo_oa.WEBHOOK_PATH, content=b" " * 1_000_001, headers=sign)
    assert huge.status_code == 413
    good = webhook.fake.text_event("w3", "xin chào")
    no_message = {k: v for k, v in good.items() if k != "message"}
    long_id = {**good, "message": {"msg_id": "m" * 129, "text": "x"}}
    long_sender = {**good, "sender": {"id": "u" * 65}}
    no_follower = webhook.fake.follow_event("w3") | {"follower": None}
    letters = {**good, "timestamp": "yesterday"}
    for event in (no_message, long_id, long_sender, no_follower, letters, {**good, "event_name": ""}):
        assert (await webhook.post(event)).status_code == 422, event  # signed, yet not an event
    assert await webhook.count(ProcessedUpdate) == 0


async def test_an_event_delivered_twice_even_at_once_is_handled_once(webhook: Webhook, demo: Demo) -> None:
    event = webhook.fake.text_event("w5", demo.code("Đinh Văn Khánh"))
    answers = await asyncio.gather(webhook.post(event), webhook.post(event), webhook.post(event))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert (await webhook.post(event)).status_code == 200
    assert await webhook.count(ProcessedUpdate) == 1
    assert await webhook.count(ChannelIdentity) == 1
    assert await webhook.count(OutboxMessage) == 1
    sent = await webhook.fake.wait_for(1, "w5")
    assert "Chào mừng đồng chí Đinh Văn Khánh" in sent[0].text
    assert [m.text for m in webhook.fake.sent].count(sent[0].text) == 1


async def test_database_down_answers_503_then_the_retry_succeeds(webhook: Webhook, demo: Demo) -> None:
    event = webhook.fake.text_event("w6", demo.code("Tạ Văn Bình"))
    await webhook.outage.begin()
    try:
        assert (await webhook.post(event)).status_code == 503
    finally:
        await webhook.outage.end()
    assert (await webhook.post(event)).status_code == 200
    assert "Chào mừng đồng chí Tạ Văn Bình" in (await webhook.fake.wait_for(1, "w6"))[0].text
    assert await webhook.count(ProcessedUpdate) == 1
    metrics = (await webhook.client.get("/metrics", headers=METRICS_HEADERS)).text
    assert 'chibo_updates_rejected_total{platform="zalo_oa",reason="database"} 1.0' in metrics


async def test_unfollow_marks_unreachable_follow_welcomes_back_and_seen_is_ignored(
    webhook: Webhook, demo: Demo
) -> None:
    fake, user = webhook.fake, "w7"
    await webhook.say(user, demo.code("Võ Thị Thanh"), 1)
    assert (await webhook.post(fake.seen_event(user))).status_code == 200
    assert (await webhook.post({**fake.seen_event(user), "message": None})).status_code == 200
    handled = await webhook.count(ProcessedUpdate)

    unfollow = fake.follow_event(user, event_name="unfollow")
    assert (await webhook.post(unfollow)).status_code == 200
    assert (await webhook.identity(user)).unreachable_at is not None
    follow = fake.follow_event(user)
    assert (await webhook.post(follow)).status_code == 200
    assert "Võ Thị Thanh" in (await fake.wait_for(3, user))[2].text  # welcomed back, with the menu
    assert (await webhook.identity(user)).unreachable_at is None
    # A late re-delivery of the old unfollow changes nothing: each event is handled once.
    assert (await webhook.post(unfollow)).status_code == 200
    assert (await webhook.identity(user)).unreachable_at is None
    assert await webhook.count(ProcessedUpdate) == handled + 2

    stranger = fake.follow_event("w8")
    assert (await webhook.post(stranger)).status_code == 200
    assert "mã mời" in (await fake.wait_for(1, "w8"))[0].text
    assert (await webhook.post(fake.follow_event("w9", event_name="unfollow"))).status_code == 200  # unknown: no-op


async def test_the_webhook_is_not_there_when_the_oa_is_off(database_url: str) -> None:
    async for server in serve_app(create_app(make_settings(database_url), migrate=False)):
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.post(zalo_oa.WEBHOOK_PATH, json={}, headers={"X-ZEvent-Signature": "mac=0"})
    assert response.status_code == 404


# ---- sending, through the sender the delivery worker uses
@dataclass
class Sending:
    runtime: Runtime
    fake: FakeZaloOa
    client: ZaloOaClient
    tokens: OaTokens
    sender: ZaloOaSender
    clock: Clock

    def worker(self) -> DeliveryWorker:
        return DeliveryWorker(
            self.runtime.sessions,
            {Platform.ZALO_OA: self.sender},
            self.runtime.metrics,
            limiter=LocalRateLimiter({"zalo_oa": 1000.0}),
            backoff=lambda attempts: 0.0,
        )

    def another_process(self, sessions: async_sessionmaker[AsyncSession] | None = None) -> OaTokens:
        """The token store of a second chibo process on the same database."""
        return OaTokens(
            sessions or self.runtime.sessions,
            self.client,
            APP_ID,
            APP_SECRET,
            FIRST_REFRESH_TOKEN,
            clock=self.clock,
        )

    async def row(self) -> ZaloOaToken:
        async with self.runtime.sessions() as session:
            row = await session.get(ZaloOaToken, APP_ID)
        assert row is not None
        return row


@pytest.fixture
async def sending(runtime: Runtime, fake_oa: FakeZaloOa) -> AsyncIterator[Sending]:
    clock = Clock()
    client = ZaloOaClient(fake_oa.url, fake_oa.url, fake_oa.url)
    tokens = OaTokens(runtime.sessions, client, APP_ID, APP_SECRET, FIRST_REFRESH_TOKEN, clock=clock)
    sender = ZaloOaSender(client, tokens, runtime.catalogs)
    yield Sending(runtime, fake_oa, client, tokens, sender, clock)
    await client.aclose()


async def test_long_text_is_split_at_2000_on_paragraphs_with_the_buttons_last(sending: Sending) -> None:
    paragraphs = [f"Đoạn {i}: " + "chữ " * 150 for i in range(8)]  # about 600 characters each
    read = Button("✅ Đã đọc", "read:7")
    await sending.sender.send("long", Reply("\n\n".join(paragraphs), buttons=((read,),)))
    pieces = sending.fake.sent
    assert len(pieces) == 3 and all(len(p.text) <= zalo_oa.MESSAGE_LIMIT for p in pieces)
    assert all(p.text.startswith("Đoạn") for p in pieces) and sum(p.text.count("Đoạn") for p in pieces) == 8
    assert [p.buttons for p in pieces[:2]] == [[], []]
    assert pieces[2].buttons == [{"title": "✅ Đã đọc", "type": "oa.query.hide", "payload": "#chibo:read:7"}]


async def test_send_errors_map_to_the_delivery_rules(sending: Sending) -> None:
    cases: list[tuple[Failure, type[SendError]]] = [
        (Failure(200, -32, "Exceeded rate limit"), RetryLater),
        (Failure(429, None), RetryLater),
        (Failure(500, -1, "internal error"), Transient),
        (Failure(502, None), Transient),  # a proxy's HTML page
        # The chat window: unreachable by chat, though a ZNS template message may still reach them.
        (Failure(200, -213, "User has not followed OA"), WindowClosed),
        (Failure(200, -230, "User has not interacted with the OA in the past 7 days"), WindowClosed),
        (Failure(200, -201, "Parameters are invalid"), Rejected),
        (Failure(404, None), Rejected),
    ]
    for failure, expected in cases:
        sending.fake.failures["c"] = [failure]
        with pytest.raises(SendError) as raised:
            await sending.sender.send("c", Reply("xin chào"))
        assert type(raised.value) is expected, failure
    sending.fake.failures["c"] = [Failure(200, -230, "User has not interacted")]
    with pytest.raises(Unreachable) as window:
        await sending.sender.send("c", Reply("xin chào"))
    assert "has not interacted with the OA in the last 7 days" in str(window.value)
    assert sending.fake.sent == []

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    offline = ZaloOaClient(f"http://127.0.0.1:{closed_port}", sending.fake.url)
    try:
        with pytest.raises(ZaloOaError) as failed:
            await offline.send_message("access-x", {"recipient": {"user_id": "c"}, "message": {"text": "x"}})
        assert failed.value.code is None and "access-x" not in str(failed.value)
        assert failed.value.__cause__ is None and failed.value.__suppress_context__
        offline_sender = ZaloOaSender(offline, sending.tokens, sending.runtime.catalogs)
        with pytest.raises(Transient):
            await offline_sender.send("c", Reply("xin chào"))
    finally:
        await offline.aclose()


async def test_outside_the_window_the_member_is_unreachable_and_the_secretary_sees_who(
    sending: Sending, demo: Demo
) -> None:
    runtime, user = sending.runtime, "window"
    await runtime.process(Inbound(Platform.ZALO_OA, user, user, text=demo.code("Mai Văn Sơn")), None)
    await drain(runtime, sending.worker())
    member = await member_named(runtime, "Mai Văn Sơn")
    assert member.id is not None
    sending.fake.failures[user] = [Failure(200, -230, "User has not interacted with the OA in the past 7 days")]
    async with runtime.sessions() as session, session.begin():
        notice = await create_draft(session, OPERATOR, "Họp chi bộ lúc 19:00.", Audience(None, members=(member.id,)))
        await send_now(session, OPERATOR, notice, notice_body_maker(Catalogs("vi")))
    await drain(runtime, sending.worker())
    async with runtime.sessions() as session:
        row = (await session.exec(select(OutboxMessage).where(OutboxMessage.notice_id == notice.id))).one()
        identity = (await session.exec(select(ChannelIdentity))).one()
        report = await notice_tracking(session, notice)
    _header, receipts = receipt_table(Catalogs("vi").translator("vi"), report, runtime.settings.tz)
    assert row.status is OutboxStatus.FAILED and row.last_error is not None
    assert "has not interacted with the OA in the last 7 days" in row.last_error and "-230" in row.last_error
    assert identity.unreachable_at is not None
    assert [p.name for p in report.with_state(Delivery.FAILED)] == ["Mai Văn Sơn"]
    assert receipts[0][3:6] == ["không gửi được", "Zalo OA", f"đã chặn hoặc rời chibo ({row.last_error})"]

    # Writing to the OA opens the window again, and chibo can reach them there.
    await runtime.process(Inbound(Platform.ZALO_OA, user, user, text="/me"), None)
    async with runtime.sessions() as session:
        assert (await session.exec(select(ChannelIdentity))).one().unreachable_at is None


# ---- the OAuth tokens
async def test_an_expired_token_is_refreshed_and_the_send_retried(sending: Sending) -> None:
    fake, clock = sending.fake, sending.clock
    await sending.sender.send("u1", Reply("một"))  # nothing stored but the first refresh token
    first = await sending.row()
    assert [r["refresh_token"] for r in fake.refreshes] == [FIRST_REFRESH_TOKEN]
    assert fake.refreshes[0]["secret_key"] == APP_SECRET and fake.refreshes[0]["grant_type"] == "refresh_token"
    assert first.previous_refresh_token == FIRST_REFRESH_TOKEN and first.refresh_token in fake.live_refresh_tokens
    assert first.expires_at == clock.now + timedelta(seconds=90000)
    assert fake.sent[0].access_token == first.access_token

    fake.expire_access_tokens()  # revoked or expired early: Zalo answers -216
    clock.advance(timedelta(minutes=5))
    await sending.sender.send("u1", Reply("hai"))
    second = await sending.row()
    assert [r["refresh_token"] for r in fake.refreshes] == [FIRST_REFRESH_TOKEN, first.refresh_token]
    assert second.previous_refresh_token == first.refresh_token and second.version == first.version + 2
    sends = [params["message"]["text"] for name, params in fake.calls if name == "send"]
    assert sends == ["một", "hai", "hai"]  # refused once, then sent with the new token
    assert [m.text for m in fake.sent] == ["một", "hai"] and fake.sent[1].access_token == second.access_token

    # Refused again moments after the refresh: not another refresh, a retry later.
    fake.expire_access_tokens()
    with pytest.raises(Transient, match="issued moments ago"):
        await sending.sender.send("u1", Reply("ba"))
    assert len(fake.refreshes) == 2


async def test_the_token_is_refreshed_before_it_expires(sending: Sending) -> None:
    fake = sending.fake
    fake.expires_in = 90000  # a number this time
    await sending.sender.send("u2", Reply("một"))
    first = await sending.row()
    assert first.expires_at is not None
    sending.clock.now = first.expires_at - zalo_oa.REFRESH_MARGIN + timedelta(seconds=1)
    await sending.sender.send("u2", Reply("hai"))
    assert len(fake.refreshes) == 2
    assert [m.access_token for m in fake.sent] == [first.access_token, (await sending.row()).access_token]
    assert len([name for name, _ in fake.calls if name == "send"]) == 2  # none refused


async def test_concurrent_sends_refresh_once(sending: Sending) -> None:
    await asyncio.gather(*(sending.sender.send(f"u{i}", Reply(f"tin {i}")) for i in range(20)))
    assert len(sending.fake.refreshes) == 1
    assert len(sending.fake.sent) == 20 and len({m.access_token for m in sending.fake.sent}) == 1


async def test_two_processes_do_not_both_refresh(sending: Sending, database_url: str) -> None:
    fake, clock = sending.fake, sending.clock
    engine = create_engine(database_url)  # the second process has its own connections and lock
    try:
        other = sending.another_process(session_factory(engine))
        old = await sending.tokens.access_token()
        expires_at = (await sending.row()).expires_at
        assert expires_at is not None
        clock.now = expires_at - timedelta(seconds=10)  # due for a refresh, still valid
        fake.hold_refresh = asyncio.Event()
        first = asyncio.create_task(sending.tokens.access_token())
        await fake.wait_until(lambda: len(fake.refreshes) == 2)  # held open at Zalo

        assert await other.access_token() == old  # the claim is taken: the old token serves meanwhile
        clock.advance(timedelta(seconds=15))  # now expired, and the claim's lease still runs
        with pytest.raises(TokenUnavailable, match="another process"):
            await other.access_token()
        with pytest.raises(Transient):
            await ZaloOaSender(sending.client, other, sending.runtime.catalogs).send("u3", Reply("x"))
        assert len(fake.refreshes) == 2

        fake.hold_refresh.set()
        new = await first
        assert new != old and await other.access_token() == new
        assert len(fake.refreshes) == 2
    finally:
        await engine.dispose()


async def test_the_rotated_refresh_token_is_stored_before_the_new_access_token_is_used(sending: Sending) -> None:
    fake = sending.fake
    stored_when_used: list[tuple[str, str | None, str]] = []

    async def look_at_the_database(access_token: str) -> None:
        row = await sending.row()
        stored_when_used.append((access_token, row.access_token, row.refresh_token))

    fake.before_send = look_at_the_database
    await sending.sender.send("u4", Reply("xin chào"))
    rotated = next(iter(fake.live_refresh_tokens - {FIRST_REFRESH_TOKEN}))
    assert stored_when_used == [(fake.sent[0].access_token, fake.sent[0].access_token, rotated)]


async def test_a_crash_after_zalo_rotated_does_not_lock_the_commune_out(sending: Sending) -> None:
    fake, clock = sending.fake, sending.clock
    refreshing = asyncio.create_task(sending.tokens.access_token())

    async def crash() -> None:  # Zalo has rotated; the process dies before it hears back
        refreshing.cancel()

    fake.after_refresh = crash
    with pytest.raises(asyncio.CancelledError):
        await refreshing
    fake.after_refresh = None
    row = await sending.row()
    assert row.refresh_token == FIRST_REFRESH_TOKEN and row.access_token is None  # the rotation never arrived
    assert row.refreshing_until is not None

    restarted = sending.another_process()
    with pytest.raises(TokenUnavailable):  # the dead process's claim holds until its lease ends
        await restarted.access_token()
    clock.advance(zalo_oa.REFRESH_LEASE + timedelta(seconds=1))
    token = await restarted.access_token()  # the old refresh token still works: its successor was never used
    assert [r["refresh_token"] for r in fake.refreshes] == [FIRST_REFRESH_TOKEN, FIRST_REFRESH_TOKEN]
    row = await sending.row()
    assert row.access_token == token and row.refresh_token in fake.live_refresh_tokens
    await ZaloOaSender(sending.client, restarted, sending.runtime.catalogs).send("u5", Reply("vẫn gửi được"))
    assert fake.sent[-1].text == "vẫn gửi được"


async def test_a_database_outage_between_refresh_and_store_loses_nothing(
    database_url: str, fake_oa: FakeZaloOa
) -> None:
    client = ZaloOaClient(fake_oa.url, fake_oa.url, fake_oa.url)
    try:
        async with database_with_outage(database_url) as (_, engine, outage):
            sessions = session_factory(engine)
            tokens = OaTokens(sessions, client, APP_ID, APP_SECRET, FIRST_REFRESH_TOKEN)
            fake_oa.after_refresh = outage.begin  # Zalo has rotated; the database goes away
            try:
                with pytest.raises(Exception) as failed:
                    await tokens.access_token()
                assert is_database_unavailable(failed.value)
            finally:
                await outage.end()
            fake_oa.after_refresh = None
            token = await tokens.access_token()  # stored now, from memory: no second refresh
            assert len(fake_oa.refreshes) == 1
            async with sessions() as session:
                row = await session.get(ZaloOaToken, APP_ID)
            assert row is not None and row.access_token == token and row.refreshing_until is None
            assert row.refresh_token in fake_oa.live_refresh_tokens - {FIRST_REFRESH_TOKEN}
    finally:
        await client.aclose()


async def test_a_refused_refresh_token_falls_back_to_the_one_before_it(sending: Sending) -> None:
    fake = sending.fake
    await sending.tokens.access_token()
    first = await sending.row()
    assert first.expires_at is not None
    fake.refused_refresh_tokens.add(first.refresh_token)
    sending.clock.now = first.expires_at - timedelta(minutes=5)
    await sending.tokens.access_token()
    row = await sending.row()
    assert [r["refresh_token"] for r in fake.refreshes] == [
        FIRST_REFRESH_TOKEN,
        first.refresh_token,
        FIRST_REFRESH_TOKEN,
    ]
    assert row.previous_refresh_token == FIRST_REFRESH_TOKEN and row.refresh_token not in (
        first.refresh_token,
        FIRST_REFRESH_TOKEN,
    )


async def test_a_failed_refresh_is_transient_and_frees_its_claim(sending: Sending) -> None:
    fake = sending.fake
    fake.refresh_failures = [Failure(502, None), Failure(200, -14014, "Invalid refresh token")]
    for _ in range(2):
        with pytest.raises(Transient, match="refreshing the Zalo OA access token failed"):
            await sending.sender.send("u6", Reply("x"))
        row = await sending.row()
        assert row.refreshing_until is None and row.refresh_token == FIRST_REFRESH_TOKEN
    await sending.sender.send("u6", Reply("x"))  # at once: no lease to wait out
    assert [m.text for m in fake.sent] == ["x"]


async def test_the_refresh_token_setting_only_seeds_an_empty_database(sending: Sending) -> None:
    empty = OaTokens(sending.runtime.sessions, sending.client, APP_ID, APP_SECRET, None, clock=sending.clock)
    with pytest.raises(TokenUnavailable, match="CHIBO_ZALO_OA_REFRESH_TOKEN"):
        await empty.access_token()
    token = await sending.tokens.access_token()
    stored = (await sending.row()).refresh_token
    stale = OaTokens(sending.runtime.sessions, sending.client, APP_ID, APP_SECRET, "refresh-stale", clock=sending.clock)
    assert await stale.access_token() == token
    assert (await sending.row()).refresh_token == stored


async def test_the_app_refreshes_the_token_on_start(database_url: str, fake_oa: FakeZaloOa) -> None:
    app = create_app(oa_settings(database_url, fake_oa), migrate=False)
    async with app.router.lifespan_context(app):
        await fake_oa.wait_until(lambda: len(fake_oa.refreshes) == 1)
        assert app.state.runtime.settings.platform_rates()["zalo_oa"] == 10.0


# ---- settings
def test_settings_explain_what_the_zalo_oa_needs() -> None:
    assert load_settings(_env_file=None).zalo_oa_enabled is False
    on = load_settings(
        _env_file=None, zalo_oa_app_id=APP_ID, zalo_oa_secret_key=SECRET_KEY, zalo_oa_app_secret=APP_SECRET
    )
    assert on.zalo_oa_mode == "on" and on.zalo_oa_rate == 10.0 and on.zalo_oa_refresh_token is None
    assert str(on.zalo_oa_api_base) == "https://openapi.zalo.me/"
    assert str(on.zalo_oa_oauth_base) == "https://oauth.zaloapp.com/"
    off = load_settings(_env_file=None, zalo_oa_app_id=APP_ID, zalo_oa_mode="off")
    assert off.zalo_oa_enabled is False
    cases: list[tuple[dict[str, object], str]] = [
        ({"zalo_oa_app_id": "my app"}, "CHIBO_ZALO_OA_APP_ID: is not a Zalo app id"),
        ({"zalo_oa_mode": "on"}, "CHIBO_ZALO_OA_MODE=on needs CHIBO_ZALO_OA_APP_ID"),
        ({"zalo_oa_app_id": APP_ID}, "needs CHIBO_ZALO_OA_SECRET_KEY"),
        ({"zalo_oa_app_id": APP_ID, "zalo_oa_secret_key": SECRET_KEY}, "needs CHIBO_ZALO_OA_APP_SECRET"),
        ({"zalo_oa_mode": "polling"}, "CHIBO_ZALO_OA_MODE"),
        ({"zalo_oa_rate": 0}, "CHIBO_ZALO_OA_RATE"),
        ({"zalo_oa_zns_notice_template": "mẫu 1"}, "CHIBO_ZALO_OA_ZNS_NOTICE_TEMPLATE: is not a ZNS template id"),
    ]
    for overrides, message in cases:
        with pytest.raises(SettingsError, match=message):
            load_settings(_env_file=None, **overrides)


# ---- documents and photos, receipts from Zalo, ZNS past the chat window
async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Return once ``check()`` holds (a deadline, not a delay)."""
    async with asyncio.timeout(WAIT_LIMIT):
        while not await check():  # noqa: ASYNC110 (the database offers nothing to wait on)
            await asyncio.sleep(0.05)


async def send_notice(runtime: Runtime, member_id: int, text: str, file: tuple[str, bytes] | None = None) -> Notice:
    async with runtime.sessions() as session, session.begin():
        notice = await create_draft(session, OPERATOR, text, Audience(None, members=(member_id,)))
        if file is not None:
            await attach(session, OPERATOR, notice, *file)
        await send_now(session, OPERATOR, notice, notice_body_maker(Catalogs("vi")))
    runtime.on_outbox()
    return notice


async def test_a_pdf_and_a_photo_arrive_as_attachments_and_seen_on_zalo_shows_in_tracking(
    webhook: Webhook, demo: Demo
) -> None:
    fake, runtime, user = webhook.fake, webhook.runtime, "files"
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await webhook.say(user, demo.code("Mai Văn Sơn"), 2)  # the welcome, its menu over two messages
    member = await member_named(runtime, "Mai Văn Sơn")
    assert member.id is not None
    pdf, photo = b"%PDF-1.4 ke hoach thang 12", b"\xff\xd8\xff\xe0 anh buoi hop"
    large = b"\x89PNG" + b"0" * (2 * 1024 * 1024)  # over the OA's 1 MB for photos
    plan = await send_notice(runtime, member.id, "Kế hoạch tháng 12.", ("Ke hoach thang 12.pdf", pdf))
    picture = await send_notice(runtime, member.id, "Ảnh buổi họp.", ("buoi-hop.jpg", photo))
    village_map = await send_notice(runtime, member.id, "Bản đồ thôn.", ("ban-do.png", large))
    sent = (await fake.wait_for(7, user))[1:]

    # Each file first, as Zalo's own attachment, then the notice with its button under it.
    assert sent[1].upload is not None and sent[1].upload.kind == "file"
    assert (sent[1].upload.filename, sent[1].upload.content) == ("Ke hoach thang 12.pdf", pdf)
    assert sent[2].text.startswith("📢 Thông báo\n\nKế hoạch tháng 12.") and sent[2].titles() == ["✅ Đã đọc"]
    assert sent[3].upload is not None and sent[3].upload.kind == "image" and sent[3].upload.content == photo
    assert "Ảnh buổi họp." in sent[4].text
    # Beyond Zalo's limits: the web chat's copy, named in the text, and nothing uploaded.
    assert sent[5].upload is None and "Bản đồ thôn." in sent[5].text
    assert "ban-do.png không gửi được qua đây; xin đồng chí mở trong trang chat web: http://" in sent[5].text
    assert len(fake.uploads) == 2

    async def ids_kept() -> bool:
        async with runtime.sessions() as session:
            rows = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.notice_id).is_not(None)))).all()
        return len(rows) == 3 and all(r.platform_message_id for r in rows)

    await eventually(ids_kept)
    # Zalo reports the plan delivered, then both seen: the secretary sees it without anyone tapping.
    assert (await webhook.post(fake.received_event(user, sent[2].message_id))).status_code == 200
    assert (await webhook.post(fake.seen_by(user, [sent[2].message_id, sent[4].message_id]))).status_code == 200
    assert (await webhook.post(fake.seen_by(user, [sent[2].message_id]))).status_code == 200  # again: no change
    # A signed event from a week ago is a replay (its de-duplication row may be gone): answered, not handled.
    week_ago = str(int(time.time() * 1000) - 7 * 86_400_000)
    replayed = {**fake.seen_by(user, [sent[5].message_id]), "timestamp": week_ago}
    assert (await webhook.post(replayed)).status_code == 200
    async with runtime.sessions() as session:
        assert [r.seen_at for r in (await notice_tracking(session, village_map)).recipients] == [None]
    # A tracking id beyond the ids' column is no row of ours: answered, nothing recorded (was: a 500).
    huge = fake.received_event(user, tracking_id="chibo-99999999999999999999")
    assert (await webhook.post(huge)).status_code == 200
    async with runtime.sessions() as session:
        report = await notice_tracking(session, plan)
        recipient = (await session.exec(select(NoticeRecipient).where(NoticeRecipient.notice_id == plan.id))).one()
    assert [r.name for r in report.recipients if r.seen_at is not None] == ["Mai Văn Sơn"]
    assert report.seen_unread() == ["Mai Văn Sơn"] and report.count(Delivery.READ) == 0
    assert recipient.delivered_at is not None and recipient.seen_at is not None and recipient.read_at is None
    # The receipts' CSV says it too: delivered and seen, not read.
    header, [row] = receipt_table(Catalogs("vi").translator("vi"), report, runtime.settings.tz)
    assert header[6:] == [vi("Read at"), vi("Delivered at"), vi("Seen on Zalo at"), vi("To phone")]
    tz = runtime.settings.tz
    assert row[6:] == [
        "",
        f"{recipient.delivered_at.astimezone(tz):%d/%m/%Y %H:%M}",
        f"{recipient.seen_at.astimezone(tz):%d/%m/%Y %H:%M}",
        "",
    ]
    track = (await say(runtime, SECRETARY, payload=TrackNotice(picture.id or 0).pack()))[0]
    assert "Đã xem trên Zalo, chưa bấm Đã đọc: Mai Văn Sơn" in track.text
    assert "ZNS" not in track.text  # no template messages: nothing said of them

    # The member's own tap stays the stronger signal: read, no longer listed as only seen.
    assert (await webhook.post(fake.text_event(user, sent[2].payload("Đã đọc")))).status_code == 200
    await fake.wait_for(8, user)
    async with runtime.sessions() as session:
        report = await notice_tracking(session, plan)
    assert report.count(Delivery.READ) == 1 and report.seen_unread() == []
    assert [r.name for r in report.recipients if r.seen_at is not None] == ["Mai Văn Sơn"]


async def test_a_retry_after_the_text_failed_does_not_send_the_file_again(webhook: Webhook, demo: Demo) -> None:
    """Was: a notice's file went out, its text failed, and the retry sent the file a second time."""
    fake, runtime, user = webhook.fake, webhook.runtime, "retried"
    await webhook.say(user, demo.code("Mai Văn Sơn"), 2)
    member = await member_named(runtime, "Mai Văn Sơn")
    assert member.id is not None
    fake.failures[user] = [None, Failure(500, -1, "internal error")]  # the file goes, its text fails once
    notice = await send_notice(runtime, member.id, "Kế hoạch tháng 12.", ("ke-hoach.pdf", b"%PDF-1.4 ke hoach"))

    async def sent_once() -> bool:
        async with runtime.sessions() as session:
            row = (await session.exec(select(OutboxMessage).where(OutboxMessage.notice_id == notice.id))).one()
        return row.status is OutboxStatus.SENT and row.attempts == 2 and row.parts_sent == 2

    await eventually(sent_once)  # the retry is done: all it sent is in
    sent = (await fake.wait_for(4, user))[2:]
    assert [m.upload.filename for m in sent if m.upload is not None] == ["ke-hoach.pdf"]  # once
    assert [m.upload for m in sent] == [sent[0].upload, None]  # the file, then the text, once each
    assert sent[-1].text.startswith("📢 Thông báo\n\nKế hoạch tháng 12.")


ZNS_NOTICE = "2001"


async def test_past_the_window_a_notice_goes_by_zns_and_its_delivery_is_recorded(sending: Sending, demo: Demo) -> None:
    runtime, fake, user = sending.runtime, sending.fake, "faraway"
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await runtime.process(Inbound(Platform.ZALO_OA, user, user, text=demo.code("Mai Văn Sơn")), None)
    await drain(runtime, sending.worker())
    member = await member_named(runtime, "Mai Văn Sơn")
    assert member.id is not None
    async with runtime.sessions() as session, session.begin():
        await session.exec(update(Member).where(col(Member.id) == member.id).values(phone="+84912345678"))
    fake.templates[ZNS_NOTICE] = Template()
    zns = ZnsFallback(sending.client, sending.tokens, runtime.sessions, {TemplateKind.NOTICE: ZNS_NOTICE}, HANOI)
    worker = DeliveryWorker(
        runtime.sessions,
        {Platform.ZALO_OA: sending.sender},
        runtime.metrics,
        limiter=LocalRateLimiter({"zalo_oa": 1000.0}),
        backoff=lambda attempts: 0.0,
        fallbacks={Platform.ZALO_OA: zns},
    )
    fake.failures[user] = [Failure(200, -230, "User has not interacted with the OA in the past 7 days")]
    notice = await send_notice(runtime, member.id, "Họp chi bộ tháng 12 lúc 19:00 thứ Sáu tại nhà văn hóa thôn.")
    await drain(runtime, worker)

    assert len(fake.template_sends) == 1
    zns_sent = fake.template_sends[0]
    async with runtime.sessions() as session:
        row = (await session.exec(select(OutboxMessage).where(OutboxMessage.notice_id == notice.id))).one()
        identity = (await session.exec(select(ChannelIdentity).where(ChannelIdentity.chat_id == user))).one()
    assert (zns_sent.phone, zns_sent.template_id, zns_sent.tracking_id) == (
        "84912345678",
        ZNS_NOTICE,
        f"chibo-{row.id}",
    )
    assert zns_sent.data["member_name"] == "Mai Văn Sơn"
    assert zns_sent.data["title"] == "Họp chi bộ tháng 12 lúc 19:00 "[:30]  # cut to the template's 30
    assert row.status is OutboxStatus.SENT and row.template_sent_at is not None
    assert row.platform_message_id == zns_sent.msg_id
    assert identity.unreachable_at is None  # reached, by phone number
    assert [name for name, params in fake.calls if name == "template_info"] == ["template_info"]

    # Zalo's delivery event names the tracking id: recorded on the notice's receipts.
    channel = ZaloOaChannel(runtime, sending.tokens, sending.client)
    await channel.handle_event(OaEvent.model_validate(fake.received_event(user, tracking_id=zns_sent.tracking_id)))
    async with runtime.sessions() as session:
        recipient = (await session.exec(select(NoticeRecipient).where(NoticeRecipient.notice_id == notice.id))).one()
        report = await notice_tracking(session, notice)
    assert recipient.delivered_at is not None and recipient.seen_at is None
    assert report.by_template == 1 and report.with_state(Delivery.FAILED) == []
    # What it costs, where the secretary tracks the notice.
    track = (await say(runtime, SECRETARY, payload=TrackNotice(notice.id or 0).pack()))[0]
    assert "Gửi bằng tin mẫu Zalo (ZNS, có phí): 1 tin cho thông báo này, 1 tin trong tháng này." in track.text

    # A template whose parameters are not chibo's is not used: the member stays unreachable there.
    fake.templates[ZNS_NOTICE] = Template(params=("customer_name", "order_code"))
    other = ZnsFallback(sending.client, sending.tokens, runtime.sessions, {TemplateKind.NOTICE: ZNS_NOTICE}, HANOI)
    fake.failures[user] = [Failure(200, -230, "User has not interacted with the OA in the past 7 days")]
    await send_notice(runtime, member.id, "Thông báo thứ hai.")
    worker = DeliveryWorker(
        runtime.sessions,
        {Platform.ZALO_OA: sending.sender},
        runtime.metrics,
        limiter=LocalRateLimiter({"zalo_oa": 1000.0}),
        fallbacks={Platform.ZALO_OA: other},
    )
    await drain(runtime, worker)
    assert len(fake.template_sends) == 1
    async with runtime.sessions() as session:
        last = (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id).desc()))).first()
    assert last is not None and last.status is OutboxStatus.FAILED and "-230" in (last.last_error or "")


async def test_a_meeting_document_goes_as_a_file_and_an_invitation_past_the_window_by_its_template(
    sending: Sending, demo: Demo
) -> None:
    runtime, fake = sending.runtime, sending.fake
    member = await member_named(runtime, "Mai Văn Sơn")
    starts = datetime(2026, 12, 18, 12, 30, tzinfo=UTC)
    async with runtime.sessions() as session, session.begin():
        await session.exec(update(Member).where(col(Member.id) == member.id).values(phone="+84987654321"))
        meeting = Meeting(title="Sinh hoạt chi bộ tháng 12", starts_at=starts, audience={}, branch_id=member.branch_id)
        session.add(meeting)
        await session.flush()
        shared = MeetingFile(meeting_id=meeting.id or 0, filename="Du thao nghi quyet.docx", content=b"PK word")
        session.add(shared)
        await session.flush()
    sender = ZaloOaSender(sending.client, sending.tokens, runtime.catalogs, files=runtime.load_file)
    document = Document(shared.id or 0, shared.filename, source="meeting")
    await sender.send("m1", Reply("📎 Du thao nghi quyet.docx — Sinh hoạt chi bộ tháng 12", document=document))
    assert fake.sent[0].upload is not None and fake.sent[0].upload.content == b"PK word"
    assert fake.sent[1].text.startswith("📎 Du thao")
    # A generated file Zalo cannot take (the receipts as CSV) is not in the web chat: no address for it.
    csv_file = Document(0, "thong-bao-1.csv", inline=base64.b64encode(b"a,b").decode())
    await sender.send("m1", Reply("Biên nhận của thông báo, 1 dòng:", document=csv_file))
    assert fake.sent[2].text == "Biên nhận của thông báo, 1 dòng:" and len(fake.uploads) == 1

    invitation = with_template(Reply("✉️ Giấy mời họp").to_dict(), TemplateKind.MEETING_INVITATION, meeting.id)
    fake.templates["3001"] = Template(max_length=60)
    zns = ZnsFallback(
        sending.client, sending.tokens, runtime.sessions, {TemplateKind.MEETING_INVITATION: "3001"}, HANOI
    )
    await zns.send(Pushed(41, member.id or 0, None, invitation))
    sent = fake.template_sends[0]
    assert (sent.phone, sent.tracking_id) == ("84987654321", "chibo-41")
    assert sent.data == {"member_name": "Mai Văn Sơn", "title": "Sinh hoạt chi bộ tháng 12", "time": "19:30 18/12/2026"}
    # No template for reminders, and nothing for a message of no kind: the window's refusal stands.
    reminder = with_template(Reply("⏰").to_dict(), TemplateKind.MEETING_REMINDER, meeting.id)
    for body in (reminder, Reply("Kết quả biểu quyết").to_dict()):
        with pytest.raises(NoTemplate):
            await zns.send(Pushed(42, member.id or 0, None, body))
    # A template id Zalo does not know is not used either.
    unknown = ZnsFallback(
        sending.client, sending.tokens, runtime.sessions, {TemplateKind.MEETING_REMINDER: "9999"}, HANOI
    )
    with pytest.raises(NoTemplate, match="Zalo does not describe it"):
        await unknown.send(Pushed(43, member.id or 0, None, reminder))
    assert len(fake.template_sends) == 1


async def test_the_app_sends_by_zns_once_a_notice_template_is_set(
    database_url: str, fake_oa: FakeZaloOa, demo: Demo
) -> None:
    fake, user = fake_oa, "by-phone"
    fake.templates[ZNS_NOTICE] = Template()
    app = create_app(oa_settings(database_url, fake, zalo_oa_zns_notice_template=ZNS_NOTICE), migrate=False)
    async for server in serve_app(app):
        runtime: Runtime = app.state.runtime
        await app.state.connections["zalo_oa"].tokens.access_token()
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            body, headers = fake.signed(fake.text_event(user, demo.code("Mai Văn Sơn")))
            assert (await client.post(zalo_oa.WEBHOOK_PATH, content=body, headers=headers)).status_code == 200
            await fake.wait_for(2, user)
        member = await member_named(runtime, "Mai Văn Sơn")
        async with runtime.sessions() as session, session.begin():
            await session.exec(update(Member).where(col(Member.id) == member.id).values(phone="0912345678"))
        fake.failures[user] = [Failure(200, -213, "User has not followed OA")]
        await send_notice(runtime, member.id or 0, "Thu đảng phí tháng 12.")
        await fake.wait_until(lambda: len(fake.template_sends) == 1)
    assert fake.template_sends[0].phone == "84912345678"
    assert fake.template_sends[0].data["title"] == "Thu đảng phí tháng 12."
