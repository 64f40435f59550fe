"""Web Push: a member's browser subscribes, and every message for their web chat reaches a push
service (a local fake over real HTTP that checks the VAPID signature and decrypts the payload)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image
from sqlmodel import col, select

from bot.channels import web
from bot.channels.specs.web_push import DEFAULT_SERVICES
from bot.channels.web_push import b64url_encode
from handlers.contract import Reply
from models.membership import deactivate
from models.permissions import OPERATOR
from models.tables import (
    DeactivationReason,
    Member,
    OutboxMessage,
    OutboxStatus,
    Platform,
    WebChatMessage,
    WebPushSubscription,
)
from tests.chat import Visitor, visitor
from tests.conftest import Demo, LiveServer, make_settings, member_named, serve_app, serve_fake
from tests.fake_push_service import Answer, FakePushService, FakeSubscription
from webhooks.app import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NOTICE = "📢 Thông báo: họp chi bộ định kỳ tối thứ Sáu, 19 giờ, tại nhà văn hóa thôn."


@pytest.fixture
async def push_service() -> AsyncIterator[FakePushService]:
    async with serve_fake(FakePushService()) as fake:
        yield fake


@pytest.fixture
async def server(database_url: str, push_service: FakePushService) -> AsyncIterator[LiveServer]:
    services = f"{DEFAULT_SERVICES},{push_service.url}"  # the real services, and the fake
    settings = make_settings(database_url, web_push_services=services, vapid_subject="mailto:bithu@example.vn")
    async for live in serve_app(create_app(settings, migrate=False)):
        yield live


def bearer(member: Visitor | str) -> dict[str, str]:
    return {"Authorization": f"Bearer {member if isinstance(member, str) else member.token}"}


async def joined(client: httpx.AsyncClient, demo: Demo, name: str) -> Visitor:
    member = await visitor(client)
    await member.replies(text=demo.code(name))
    return member


async def subscribed(client: httpx.AsyncClient, member: Visitor, push_service: FakePushService) -> FakeSubscription:
    state = (await client.get("/api/webchat/push", headers=bearer(member))).json()
    assert state["linked"] is True and state["subscribed"] is False
    subscription = push_service.subscribe(state["public_key"])
    answer = await client.post("/api/webchat/push", json=subscription.to_json(), headers=bearer(member))
    assert answer.status_code == 200, answer.text
    assert (await client.get("/api/webchat/push", headers=bearer(member))).json()["subscribed"] is True
    return subscription


async def queue_for_web_chat(server: LiveServer, member: Visitor, name: str, text: str) -> int:
    """A message for the member's web chat, as the domain writes it (a notice to a member)."""
    runtime = server.app.state.runtime
    member_id = (await member_named(runtime, name)).id
    async with runtime.sessions() as session, session.begin():
        row = OutboxMessage(
            platform=Platform.WEB,
            chat_id=web.user_id_for(member.token),
            body=Reply(text).to_dict(),
            member_id=member_id,
        )
        session.add(row)
        await session.flush()
        assert row.id is not None
        row_id = row.id
    runtime.on_outbox()
    return row_id


async def outbox(server: LiveServer, platform: Platform) -> list[OutboxMessage]:
    async with server.app.state.runtime.sessions() as session:
        return list((await session.exec(select(OutboxMessage).where(OutboxMessage.platform == platform))).all())


async def statuses(server: LiveServer, platform: Platform) -> list[OutboxStatus]:
    return [row.status for row in sorted(await outbox(server, platform), key=lambda r: r.id or 0)]


async def eventually(read: Callable[[], Awaitable[object]], expected: object) -> None:
    """Wait (up to a deadline, not a delay) until ``read`` gives ``expected``: the worker records
    an outcome just after the push service answers."""
    async with asyncio.timeout(60):
        while (await read()) != expected:  # noqa: ASYNC110 (the delivery worker is in the app)
            await asyncio.sleep(0.05)


async def test_a_subscribed_member_gets_the_notice_as_a_notification(
    server: LiveServer, demo: Demo, push_service: FakePushService
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        member = await joined(client, demo, "Ngô Văn Phúc")
        subscription = await subscribed(client, member, push_service)
        await queue_for_web_chat(server, member, "Ngô Văn Phúc", NOTICE)
        [delivered] = await push_service.wait_for(1)
    assert push_service.refused == []
    assert delivered.subscription == subscription.number
    # The notification opens the chat at the message as the page numbers it (its stored id).
    async with server.app.state.runtime.sessions() as session:
        [shown] = (await session.exec(select(WebChatMessage).where(col(WebChatMessage.pushed).is_(True)))).all()
    assert Reply.from_dict(shown.body).text == NOTICE
    assert delivered.notification == {
        "title": "chibo",
        "body": NOTICE,
        "url": f"/#message-{shown.id}",
        "tag": f"/#message-{shown.id}",
    }
    assert delivered.headers["TTL"] == "86400" and delivered.headers["Urgency"] == "normal"
    assert delivered.headers["Topic"] == f"message-{shown.id}"  # a retry replaces it at the push service
    await eventually(lambda: statuses(server, Platform.WEB_PUSH), [OutboxStatus.SENT])
    [web_row] = await outbox(server, Platform.WEB)
    [push_row] = await outbox(server, Platform.WEB_PUSH)
    assert web_row.status == OutboxStatus.SENT and push_row.member_id == web_row.member_id


async def test_a_long_message_is_cut_to_fit_a_notification(
    server: LiveServer, demo: Demo, push_service: FakePushService
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        member = await joined(client, demo, "Ngô Văn Phúc")
        await subscribed(client, member, push_service)
        await queue_for_web_chat(server, member, "Ngô Văn Phúc", "Nghị quyết " * 400)
        [delivered] = await push_service.wait_for(1)
    body = delivered.notification["body"]
    assert body.startswith("Nghị quyết Nghị quyết") and body.endswith("…") and len(body) == 500


async def test_a_member_without_a_subscription_gets_no_notification(
    server: LiveServer, demo: Demo, push_service: FakePushService
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        unsubscribed = await joined(client, demo, "Lê Thị Phương")
        member = await joined(client, demo, "Ngô Văn Phúc")
        await subscribed(client, member, push_service)
        await queue_for_web_chat(server, unsubscribed, "Lê Thị Phương", "Cho Phương")
        await queue_for_web_chat(server, member, "Ngô Văn Phúc", "Cho Phúc")
        [delivered] = await push_service.wait_for(1)
    assert delivered.notification["body"] == "Cho Phúc"
    assert len(await outbox(server, Platform.WEB_PUSH)) == 1


async def test_a_member_taken_off_the_roster_gets_no_more_notifications(
    server: LiveServer, demo: Demo, push_service: FakePushService
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        member = await joined(client, demo, "Ngô Văn Phúc")
        await subscribed(client, member, push_service)
        runtime = server.app.state.runtime
        async with runtime.sessions() as session, session.begin():
            leaving = await session.get(Member, (await member_named(runtime, "Ngô Văn Phúc")).id)
            assert leaving is not None
            await deactivate(session, OPERATOR, leaving, DeactivationReason.TRANSFERRED, date.today())
        await queue_for_web_chat(server, member, "Ngô Văn Phúc", NOTICE)
        await eventually(lambda: statuses(server, Platform.WEB), [OutboxStatus.SENT])
    assert await outbox(server, Platform.WEB_PUSH) == [] and push_service.posts == 0


async def test_a_gone_subscription_is_removed(server: LiveServer, demo: Demo, push_service: FakePushService) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        member = await joined(client, demo, "Ngô Văn Phúc")
        subscription = await subscribed(client, member, push_service)
        push_service.failures[subscription.number] = [Answer(410)]
        await queue_for_web_chat(server, member, "Ngô Văn Phúc", NOTICE)
        await eventually(lambda: statuses(server, Platform.WEB_PUSH), [OutboxStatus.FAILED])
        assert (await client.get("/api/webchat/push", headers=bearer(member))).json()["subscribed"] is False
        async with server.app.state.runtime.sessions() as session:
            assert (await session.exec(select(WebPushSubscription))).all() == []
        # A later message for the chat is not pushed: the browser is no longer subscribed.
        await queue_for_web_chat(server, member, "Ngô Văn Phúc", "Sau đó")
        await eventually(lambda: statuses(server, Platform.WEB), [OutboxStatus.SENT, OutboxStatus.SENT])
    assert push_service.posts == 1 and push_service.delivered == []
    assert await statuses(server, Platform.WEB_PUSH) == [OutboxStatus.FAILED]


async def test_a_busy_or_failing_push_service_is_tried_again(
    server: LiveServer, demo: Demo, push_service: FakePushService
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        member = await joined(client, demo, "Ngô Văn Phúc")
        subscription = await subscribed(client, member, push_service)
        push_service.failures[subscription.number] = [Answer(429, {"Retry-After": "1"}), Answer(503)]
        await queue_for_web_chat(server, member, "Ngô Văn Phúc", NOTICE)
        [delivered] = await push_service.wait_for(1, posts=3)
    assert delivered.notification["body"] == NOTICE and push_service.posts == 3
    await eventually(lambda: statuses(server, Platform.WEB_PUSH), [OutboxStatus.SENT])


async def test_bad_subscriptions_are_refused(server: LiveServer, demo: Demo, push_service: FakePushService) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        stranger = await visitor(client)
        good = push_service.subscribe("unused").to_json()
        no_session = await client.post("/api/webchat/push", json=good)
        assert no_session.status_code == 401
        not_joined = await client.post("/api/webchat/push", json=good, headers=bearer(stranger))
        assert not_joined.status_code == 403 and "invite code" in not_joined.json()["detail"]
        assert (await client.get("/api/webchat/push", headers=bearer(stranger))).json()["linked"] is False
        member = await joined(client, demo, "Ngô Văn Phúc")

        def variant(**changes: Any) -> dict[str, Any]:
            body: dict[str, Any] = json.loads(json.dumps(good))
            for key, value in changes.items():
                if key in ("p256dh", "auth"):
                    body["keys"][key] = value
                else:
                    body[key] = value
            return body

        not_a_point = b64url_encode(b"\x04" + b"\x01" * 64)
        bad_bodies = [
            variant(endpoint="https://attacker.example/push/1"),  # not a push service
            variant(endpoint="http://fcm.googleapis.com/fcm/send/x"),  # not https
            variant(endpoint="https://user:pw@fcm.googleapis.com/fcm/send/x"),
            variant(endpoint="https://fcm.googleapis.com:8443/fcm/send/x"),
            variant(endpoint="https://fcm.googleapis.com.attacker.example/x"),
            variant(endpoint="https://[::1"),
            variant(endpoint="https://\uff45vil.fcm.googleapis.com/x"),  # a full-width letter: no send could go
            variant(endpoint="https://fcm.googleapis.com\t/fcm/send/x"),
            variant(endpoint="x" * 3000),
            variant(p256dh="short"),
            variant(p256dh=not_a_point),
            variant(p256dh="not base64!"),
            variant(auth=b64url_encode(b"\x00" * 8)),
            variant(auth=""),
            {"endpoint": good["endpoint"]},
            {"endpoint": 5, "keys": {"p256dh": 1, "auth": 2}},
            [],
        ]
        for body in bad_bodies:
            answer = await client.post("/api/webchat/push", json=body, headers=bearer(member))
            assert answer.status_code == 422, (body, answer.status_code, answer.text)
        not_json = await client.post(
            "/api/webchat/push", content=b"\xff{", headers={**bearer(member), "Content-Type": "application/json"}
        )
        assert not_json.status_code == 400
        huge = await client.post("/api/webchat/push", json={**good, "pad": "x" * 10_000}, headers=bearer(member))
        assert huge.status_code == 413
        # Google's endpoints are accepted (the keys are checked, the service is not called).
        fcm = variant(endpoint="https://fcm.googleapis.com/fcm/send/abc:APA91b")
        assert (await client.post("/api/webchat/push", json=fcm, headers=bearer(member))).status_code == 200
        off = await client.delete("/api/webchat/push", headers=bearer(member))
        assert off.status_code == 200 and off.json() == {"subscribed": False}
        assert (await client.get("/api/webchat/push", headers=bearer(member))).json()["subscribed"] is False


async def test_the_app_files_are_served_as_browsers_need_them(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        worker = await client.get("/sw.js")
        assert worker.status_code == 200 and worker.headers["content-type"].startswith("text/javascript")
        assert worker.headers["cache-control"] == "no-cache" and "showNotification" in worker.text
        policy = worker.headers["content-security-policy"]
        assert "worker-src 'self'" in policy and "manifest-src 'self'" in policy and "script-src 'self';" in policy
        offline = await client.get("/offline.html")
        assert offline.headers["content-type"].startswith("text/html") and "Không có kết nối mạng" in offline.text
        page = (await client.get("/")).text
        assert '<link rel="manifest" href="/manifest.webmanifest">' in page and "/static/push.js" in page


async def test_the_vapid_key_is_made_once_and_kept(database_url: str, push_service: FakePushService) -> None:
    settings = make_settings(database_url, web_push_services=push_service.url)
    keys = []
    for _ in range(2):
        async for live in serve_app(create_app(settings, migrate=False)):
            async with httpx.AsyncClient(base_url=live.url) as client:
                token = (await client.post("/api/webchat/session")).json()["token"]
                keys.append((await client.get("/api/webchat/push", headers=bearer(token))).json())
    assert keys[0]["public_key"] == keys[1]["public_key"] and len(keys[0]["public_key"]) == 87
    private = ec.generate_private_key(ec.SECP256R1())
    configured = make_settings(
        database_url,
        web_push_services=push_service.url,
        # As `vapid --gen` or web-push print it: base64url of the raw private scalar.
        vapid_private_key=b64url_encode(private.private_numbers().private_value.to_bytes(32, "big")),
    )
    async for live in serve_app(create_app(configured, migrate=False)):
        async with httpx.AsyncClient(base_url=live.url) as client:
            token = (await client.post("/api/webchat/session")).json()["token"]
            state = (await client.get("/api/webchat/push", headers=bearer(token))).json()
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert state["public_key"] == b64url_encode(public)


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
async def test_the_web_app_on_a_phone(
    database_url: str, demo: Demo, push_service: FakePushService, tmp_path: Path
) -> None:
    """On a 390×844 phone: the service worker is registered, the manifest makes an installable app,
    a member who joined is offered notifications with a word on where they work, and with the
    server down the chat still opens with its last messages, and any other page is the offline page.
    (Headless Chromium has no push service to subscribe with: the subscription itself is tested above.)"""
    from playwright.async_api import async_playwright

    shots = Path(os.environ.get("CHIBO_SCREENSHOTS", tmp_path))
    settings = make_settings(database_url, web_push_services=f"{DEFAULT_SERVICES},{push_service.url}")
    # A generator, so the test can stop the server halfway (serve_app is typed as an iterator).
    serving = cast(AsyncGenerator[LiveServer, None], serve_app(create_app(settings, migrate=False)))
    server = await anext(serving)
    stub_push_manager = """subscription => {
        let current = null;
        const made = {
            toJSON: () => subscription,
            unsubscribe: () => { current = null; return Promise.resolve(true); },
        };
        PushManager.prototype.subscribe = () => { current = made; return Promise.resolve(made); };
        PushManager.prototype.getSubscription = () => Promise.resolve(current);
    }"""
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
            )
            try:
                context = await browser.new_context(viewport={"width": 390, "height": 844})
                await context.grant_permissions(["notifications"], origin=server.url)
                page = await context.new_page()
                violations: list[str] = []
                page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else None)
                await page.goto(server.url)
                worker = await page.evaluate("navigator.serviceWorker.ready.then(r => r.active.scriptURL)")
                assert worker == f"{server.url}/sw.js"
                await page.wait_for_function("navigator.serviceWorker.controller !== null")
                manifest_url = await page.evaluate("document.querySelector('link[rel=manifest]').href")
                async with httpx.AsyncClient() as client:
                    answer = await client.get(manifest_url)
                    assert answer.headers["content-type"] == "application/manifest+json"
                    manifest = answer.json()
                    assert manifest["name"] == "chibo — Trợ lý chi bộ" and manifest["short_name"] == "chibo"
                    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
                    sizes = set()
                    for icon in manifest["icons"]:
                        png = Image.open(io.BytesIO((await client.get(server.url + icon["src"])).content))
                        assert png.format == "PNG" and f"{png.width}x{png.height}" == icon["sizes"]
                        sizes.add((png.width, icon["purpose"]))
                    assert {(192, "any"), (512, "any"), (512, "maskable")} <= sizes
                # Nothing to turn on before the member has joined.
                assert await page.get_by_test_id("push-bar").count() == 0
                await page.get_by_test_id("input").fill(demo.code("Hoàng Thị Diệu"))
                await page.get_by_test_id("send").click()
                await page.get_by_test_id("bot-message").filter(has_text="Hoàng Thị Diệu").wait_for()
                button = page.get_by_test_id("push-on-button")
                await button.wait_for()
                assert await button.inner_text() == "🔔 Bật thông báo" and await button.is_visible()
                note = await page.get_by_test_id("push-bar").inner_text()
                assert "Android" in note and "iPhone" in note and "màn hình chính" in note
                await page.screenshot(path=shots / "web-push-button-390x844.png")
                # The bar follows the member's language at once, both ways (was: only after a reload).
                for language, words in (("English", "Turn on notifications"), ("Tiếng Việt", "Bật thông báo")):
                    await page.get_by_test_id("input").fill("/lang")
                    await page.get_by_test_id("send").click()
                    await page.get_by_test_id("inline-button").filter(has_text=language).last.click()
                    await page.get_by_test_id("push-on-button").filter(has_text=words).wait_for()
                # Turned on: push.js sends the browser's subscription (here a subscription of the fake
                # push service, as headless Chromium has no push service of its own).
                token = await page.evaluate("localStorage.getItem('chibo.token')")
                async with httpx.AsyncClient(base_url=server.url) as client:
                    state = (await client.get("/api/webchat/push", headers=bearer(token))).json()
                    await page.evaluate(stub_push_manager, push_service.subscribe(state["public_key"]).to_json())
                    await button.click()
                    await page.get_by_test_id("push-off").wait_for()
                    assert "Đã bật thông báo" in await page.get_by_test_id("push-bar").inner_text()
                    await page.screenshot(path=shots / "web-push-on-390x844.png")
                    member = Visitor(client, token)
                    await queue_for_web_chat(server, member, "Hoàng Thị Diệu", NOTICE)
                    [delivered] = await push_service.wait_for(1)
                    assert delivered.notification["body"] == NOTICE and push_service.refused == []
                    await page.get_by_test_id("push-off").click()
                    await button.wait_for()
                    assert (await client.get("/api/webchat/push", headers=bearer(token))).json()["subscribed"] is False
                # The server goes down: the chat still opens, with its last messages.
                await serving.aclose()
                await page.reload()
                await page.get_by_test_id("bot-message").filter(has_text="Hoàng Thị Diệu").wait_for()
                # and says at once that it cannot reach chibo (was: only once the member sent something)
                await page.get_by_test_id("offline").wait_for(state="visible")
                # Any other page of the chat: the offline page.
                await page.goto(f"{server.url}/notices")
                offline = page.get_by_test_id("offline-page")
                await offline.wait_for()
                assert "Không có kết nối mạng" in await offline.inner_text()
                await page.screenshot(path=shots / "web-push-offline-390x844.png")
                assert violations == []
            finally:
                await browser.close()
    finally:
        await serving.aclose()
