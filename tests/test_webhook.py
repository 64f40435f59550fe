"""POST /webhooks/telegram: only Telegram gets in, each update is handled once, nothing is lost."""

from __future__ import annotations

import asyncio

import pytest

from bot.runtime import Runtime
from handlers.contract import Inbound
from models.tables import ChannelIdentity, OutboxMessage, Platform, ProcessedUpdate
from tests.conftest import METRICS_HEADERS, WEBHOOK_HEADERS, Demo, Webhook, database_with_outage, make_settings


async def test_wrong_or_missing_secret_is_refused_and_nothing_is_processed(webhook: Webhook, demo: Demo) -> None:
    update = webhook.fake.message_update(700, f"/start {demo.code('Hồ Thị Ngọc')}")
    assert (await webhook.post(update, headers={})).status_code == 401
    assert (await webhook.post(update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})).status_code == 401
    assert await webhook.count(ProcessedUpdate) == 0
    assert await webhook.count(ChannelIdentity) == 0


async def test_malformed_bodies_get_4xx(webhook: Webhook) -> None:
    client = webhook.client
    raw = await client.post("/webhooks/telegram", content=b"{not json", headers=WEBHOOK_HEADERS)
    assert raw.status_code == 400
    bodies: list[object] = [[1, 2], {"message": {}}, {"update_id": "7"}, {"update_id": 7, "message": {"text": 5}}]
    for body in bodies:  # not an update, no update_id, a string id, a message that is not one
        assert (await webhook.post(body)).status_code == 422, body
    huge = await client.post("/webhooks/telegram", content=b" " * 1_000_001, headers=WEBHOOK_HEADERS)
    assert huge.status_code == 413
    assert await webhook.count(ProcessedUpdate) == 0


async def test_an_update_delivered_twice_even_at_once_is_handled_once(webhook: Webhook, demo: Demo) -> None:
    update = webhook.fake.message_update(701, f"/start {demo.code('Đinh Văn Khánh')}")
    first, second, third = await asyncio.gather(webhook.post(update), webhook.post(update), webhook.post(update))
    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 200]
    assert (await webhook.post(update)).status_code == 200
    assert await webhook.count(ProcessedUpdate) == 1
    assert await webhook.count(ChannelIdentity) == 1
    assert await webhook.count(OutboxMessage) == 1
    sent = await webhook.fake.wait_for(1, 701)
    assert len(sent) == 1 and "Chào mừng đồng chí Đinh Văn Khánh" in sent[0].text


async def test_database_down_answers_503_then_the_retry_succeeds(webhook: Webhook, demo: Demo) -> None:
    update = webhook.fake.message_update(702, f"/start {demo.code('Tạ Văn Bình')}")
    await webhook.outage.begin()
    try:
        down = await webhook.post(update)
        assert down.status_code == 503
        if webhook.outage.proxy is not None:  # (a locked SQLite file can still be read)
            assert (await webhook.client.get("/healthz")).status_code == 503
    finally:
        await webhook.outage.end()
    assert (await webhook.post(update)).status_code == 200
    assert "Chào mừng đồng chí Tạ Văn Bình" in (await webhook.fake.wait_for(1, 702))[0].text
    assert await webhook.count(ProcessedUpdate) == 1
    assert (await webhook.client.get("/healthz")).json()["database"] == "ok"


async def test_an_outage_while_idle_costs_no_update(database_url: str, demo: Demo) -> None:
    """Connections an outage cut are replaced before use: the first update after it is handled,
    not answered "try again". (No app here, so no delivery worker meets the cut connections first.)"""
    async with database_with_outage(database_url) as (engine_url, engine, outage):
        runtime = Runtime.create(make_settings(engine_url), engine)
        await runtime.process(Inbound(Platform.TELEGRAM, "706", "706", text="/start"), "1")
        await outage.begin()
        await outage.end()
        joining = Inbound(Platform.TELEGRAM, "707", "707", text=f"/start {demo.code('Tạ Văn Bình')}")
        processed = await runtime.process(joining, "2")
    assert "Chào mừng đồng chí Tạ Văn Bình" in processed.replies[0].text


async def test_metrics_count_received_handled_and_rejected(webhook: Webhook, demo: Demo) -> None:
    update = webhook.fake.message_update(703, "/start")
    await webhook.post(update)
    await webhook.post(update)
    await webhook.post(update, headers={})
    text = (await webhook.client.get("/metrics", headers=METRICS_HEADERS)).text
    assert 'chibo_updates_received_total{platform="telegram"} 2.0' in text
    assert 'chibo_updates_handled_total{platform="telegram"} 1.0' in text
    assert 'chibo_updates_rejected_total{platform="telegram",reason="duplicate"} 1.0' in text
    assert 'chibo_updates_rejected_total{platform="telegram",reason="secret"} 1.0' in text
    assert 'chibo_handler_seconds_count{platform="telegram"} 1.0' in text


async def test_a_frozen_database_answers_503_quickly_and_loses_nothing(webhook: Webhook, demo: Demo) -> None:
    """The connection hangs (no answer, not refused): every endpoint says 503 within 5 s (the
    client gives up after that) and /healthz within 2 s; the retries succeed once it is back."""
    proxy = webhook.outage.proxy
    if proxy is None:
        pytest.skip("SQLite is a file: it cannot hang like a network connection (a lock is tested above)")
    client = webhook.client
    token = (await client.post("/api/webchat/session")).json()["token"]
    web = {"Authorization": f"Bearer {token}"}
    update = webhook.fake.message_update(708, f"/start {demo.code('Tạ Văn Bình')}")
    proxy.freeze()
    try:
        answers = await asyncio.gather(
            webhook.post(update),
            client.post("/api/webchat/messages", json={"id": "f1", "text": "xin chào"}, headers=web, timeout=5),
            client.get("/api/webchat/files/1", headers=web, timeout=5),
            client.post("/api/webchat/session", timeout=5),
        )
        assert [answer.status_code for answer in answers] == [503, 503, 503, 503]
        health = await client.get("/healthz", timeout=2)
        assert health.status_code == 503 and health.json()["database"].startswith("unavailable")
    finally:
        proxy.thaw()
    assert (await webhook.post(update)).status_code == 200
    assert "Chào mừng đồng chí Tạ Văn Bình" in (await webhook.fake.wait_for(1, 708))[0].text
    assert await webhook.count(ProcessedUpdate) == 1
    assert (await client.get("/healthz")).json()["database"] == "ok"
