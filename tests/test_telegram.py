"""The Telegram channel end to end: aiogram talking over HTTP to a local fake Bot API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from handlers.conversation import COMMANDS
from tests.conftest import Demo, LiveServer, serve_app, telegram_settings
from tests.fake_telegram import FakeTelegram
from webhooks.app import create_app

SECRET = "s3cret-token_for-tests"
MENU = [
    "📢 Thông báo", "🗳 Biểu quyết đang mở", "📅 Cuộc họp", "👤 Thông tin của tôi", "🏠 Chi bộ của tôi",
    "🌐 Ngôn ngữ / Language", "❓ Hướng dẫn",
]  # fmt: skip


@pytest.fixture
async def webhook_bot(database_url: str, fake_telegram: FakeTelegram) -> AsyncIterator[LiveServer]:
    settings = telegram_settings(
        database_url,
        fake_telegram,
        telegram_mode="webhook",
        public_url="https://chibo.example.org/",
        webhook_secret=SECRET,
    )
    async for server in serve_app(create_app(settings, migrate=False)):
        yield server


async def test_polling_join_by_deep_link_menu_details_and_language(polling_bot: FakeTelegram, demo: Demo) -> None:
    fake, user = polling_bot, 501
    await fake.push(fake.message_update(user, f"/start {demo.code('Trần Thị Lan')}"))
    welcome = (await fake.wait_for(1, user))[0]
    assert "Chào mừng đồng chí Trần Thị Lan" in welcome.text
    assert welcome.reply_markup is not None and welcome.reply_markup["is_persistent"] is True
    assert welcome.keyboard_labels() == [*MENU[:5], "🛠 Quản lý", *MENU[5:]]

    await fake.push(fake.message_update(user, "👤 Thông tin của tôi"))
    details = (await fake.wait_for(2, user))[1]
    assert "Họ và tên: Trần Thị Lan" in details.text and "Chức vụ: Phó Bí thư" in details.text

    await fake.push(fake.message_update(user, "🌐 Ngôn ngữ / Language"))
    chooser = (await fake.wait_for(3, user))[2]
    assert chooser.keyboard_labels() == ["🇻🇳 Tiếng Việt", "🇬🇧 English"]
    english = chooser.reply_markup["inline_keyboard"][0][1]["callback_data"]  # type: ignore[index]
    await fake.push(fake.callback_update(user, english))
    switched = (await fake.wait_for(4, user))[3]
    assert switched.text == "From now on I will write to you in English."
    assert "👤 My details" in switched.keyboard_labels()
    answered = await fake.wait_for_call("answerCallbackQuery")
    assert answered["callback_query_id"].startswith("cb")


async def test_polling_shares_phone_only_for_own_contact(polling_bot: FakeTelegram, demo: Demo) -> None:
    fake = polling_bot
    await fake.push(fake.message_update(502, "/start"))
    hello = (await fake.wait_for(1, 502))[0]
    assert hello.reply_markup is not None
    assert hello.reply_markup["keyboard"][0][0] == {"text": "📱 Chia sẻ số điện thoại", "request_contact": True}
    await fake.push(fake.contact_update(502, "84912000003", contact_user_id=999))
    assert "của chính mình" in (await fake.wait_for(2, 502))[1].text
    await fake.push(fake.contact_update(502, "84912000003", contact_user_id=502))
    assert "Chào mừng đồng chí Lê Văn Minh" in (await fake.wait_for(3, 502))[2].text


async def test_webhook_mode_registers_with_secret_and_answers(
    webhook_bot: LiveServer, fake_telegram: FakeTelegram, demo: Demo
) -> None:
    commands = [params for name, params in fake_telegram.calls if name == "setMyCommands"]
    assert [c.get("language_code") for c in commands] == [None, "en"]
    # The Vietnamese list gives the Vietnamese commands (issue 14), which all work.
    assert {"command": "toi", "description": "Thông tin của tôi"} in commands[0]["commands"]
    assert {"command": "huongdan", "description": "Hướng dẫn"} in commands[0]["commands"]
    assert {c["command"] for c in commands[0]["commands"]} <= set(COMMANDS)
    assert {"command": "me", "description": "My details"} in commands[1]["commands"]
    registered = await fake_telegram.wait_for_call("setWebhook")
    assert registered["url"] == "https://chibo.example.org/webhooks/telegram"
    assert registered["secret_token"] == SECRET
    update = fake_telegram.message_update(601, f"/start {demo.code('Võ Thị Thanh')}")
    async with httpx.AsyncClient(base_url=webhook_bot.url) as client:
        response = await client.post(
            "/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
    assert response.status_code == 200
    assert "Chào mừng đồng chí Võ Thị Thanh" in (await fake_telegram.wait_for(1, 601))[0].text


async def test_a_button_pressed_through_the_webhook_is_answered_in_the_webhook_reply(
    webhook_bot: LiveServer, fake_telegram: FakeTelegram, demo: Demo
) -> None:
    """The member's spinner stops with the webhook's own reply (a call Telegram makes itself), given
    only once the press is handled; no request of chibo's to the Bot API for it."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with httpx.AsyncClient(base_url=webhook_bot.url) as client:
        joined = fake_telegram.message_update(602, f"/start {demo.code('Võ Thị Thanh')}")
        assert (await client.post("/webhooks/telegram", json=joined, headers=headers)).json() == {"ok": True}
        chooser = fake_telegram.message_update(602, "🌐 Ngôn ngữ / Language")
        await client.post("/webhooks/telegram", json=chooser, headers=headers)
        english = (await fake_telegram.wait_for(2, 602))[1].reply_markup["inline_keyboard"][0][1]["callback_data"]  # type: ignore[index]
        press = fake_telegram.callback_update(602, english)
        response = await client.post("/webhooks/telegram", json=press, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"method": "answerCallbackQuery", "callback_query_id": press["callback_query"]["id"]}
    assert (await fake_telegram.wait_for(3, 602))[2].text == "From now on I will write to you in English."
    assert not [name for name, _ in fake_telegram.calls if name == "answerCallbackQuery"]


def _tap_as_telegram_sends_it(
    chat: dict[str, object] | None, last_name: str | None, *, inaccessible: bool = False
) -> dict[str, object]:
    """A button press in full, as the Bot API delivers it: the message it was under, with its text,
    entities and keyboard of buttons, and the sender's every field; or (``inaccessible``) a message
    too old for the bot to see, which the Bot API gives as its chat, its id and a date of 0."""
    sender: dict[str, object] = {"id": 7001, "is_bot": False, "first_name": "Thanh", "language_code": "vi"}
    if last_name is not None:
        sender["last_name"] = last_name
    query: dict[str, object] = {"id": "4382bfdwdsb323b2d9", "from": sender, "chat_instance": "-8820", "data": "pv:12:2"}
    if chat is None:
        query["inline_message_id"] = "AAAA"
    elif inaccessible:
        query["message"] = {"message_id": 88, "date": 0, "chat": chat}
    else:
        query["message"] = {
            "message_id": 88,
            "date": 1764000000,
            "edit_date": 1764000100,
            "chat": chat,
            "from": {"id": 42, "is_bot": True, "first_name": "chibo", "username": "chibo_bot"},
            "text": "🗳 Biểu quyết: Kết nạp đồng chí A?",
            "entities": [{"type": "bold", "offset": 0, "length": 12}],
            "reply_markup": {
                "inline_keyboard": [
                    [{"text": f"⬜ Phương án {i}", "callback_data": f"pv:12:{1 << i}"}] for i in range(12)
                ]
            },
        }
    return {"update_id": 901, "callback_query": query}


@pytest.mark.parametrize(
    ("chat", "last_name", "inaccessible"),
    [
        ({"id": 7001, "type": "private", "first_name": "Thanh"}, None, False),
        ({"id": 7001, "type": "private", "first_name": "Thanh"}, "Võ Thị", False),
        ({"id": 7001, "type": "private", "first_name": "Thanh"}, None, True),
        ({"id": -100123, "type": "supergroup", "title": "Chi bộ"}, None, False),
        (None, "Võ", False),
    ],
)
def test_the_webhook_reads_a_button_press_as_the_whole_update_reads_it(
    chat: dict[str, object] | None, last_name: str | None, inaccessible: bool
) -> None:
    """The webhook reads a press through a narrow model (not the whole message it was under); what
    it reads is what aiogram's Update gives polling: the member, the chat, the name, the button."""
    from aiogram.types import Update

    from bot.channels.telegram import TapUpdate, inbound_from_tap, inbound_from_update

    update = _tap_as_telegram_sends_it(chat, last_name, inaccessible=inaccessible)
    narrow = inbound_from_tap(TapUpdate.model_validate(update))
    assert narrow == inbound_from_update(Update.model_validate(update))
    if chat is not None and chat["type"] != "private":
        assert narrow is None  # chibo serves private chats only
    else:
        assert narrow is not None and narrow.payload == "pv:12:2" and narrow.user_id == "7001"
        assert narrow.display_name == ("Thanh" if last_name is None else f"Thanh {last_name}")


async def test_a_button_press_without_its_sender_is_refused_as_malformed(webhook_bot: LiveServer) -> None:
    update = _tap_as_telegram_sends_it({"id": 7001, "type": "private"}, None)
    del update["callback_query"]["from"]  # type: ignore[attr-defined]
    async with httpx.AsyncClient(base_url=webhook_bot.url) as client:
        response = await client.post(
            "/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
    assert response.status_code == 422


@pytest.mark.parametrize(
    "forge",
    [
        lambda u: u.update({"update_id": 10**130}),
        lambda u: u["callback_query"]["from"].update({"id": 10**130}),
        lambda u: u["callback_query"]["message"]["chat"].update({"id": -(10**200)}),
        lambda u: u["callback_query"].update({"id": "\ud800cb1"}),  # a lone surrogate: valid JSON, not UTF-8
        lambda u: u["callback_query"].update({"id": "c" * 500}),
    ],
)
async def test_a_button_press_with_ids_telegram_never_gives_is_refused_as_malformed(
    webhook_bot: LiveServer, forge: Any
) -> None:
    """Refused (422) at the door, not failed on (500) after it was handled, at every re-delivery:
    ids beyond 64 bits do not fit where chibo keeps them, and the press's id goes back in the reply."""
    update = _tap_as_telegram_sends_it({"id": 7001, "type": "private"}, None)
    forge(update)
    async with httpx.AsyncClient(base_url=webhook_bot.url) as client:
        response = await client.post(
            "/webhooks/telegram",
            content=json.dumps(update),  # ensure_ascii: the lone surrogate goes as \\ud800
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"},
        )
    assert response.status_code == 422, response.text


async def test_a_message_from_an_id_beyond_64_bits_is_refused_and_a_null_button_press_is_no_press(
    webhook_bot: LiveServer, fake_telegram: FakeTelegram, demo: Demo
) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    forged = fake_telegram.message_update(603, "/help")
    forged["message"]["from"]["id"] = 10**130
    joined = fake_telegram.message_update(604, f"/start {demo.code('Võ Thị Thanh')}") | {"callback_query": None}
    async with httpx.AsyncClient(base_url=webhook_bot.url) as client:
        assert (await client.post("/webhooks/telegram", json=forged, headers=headers)).status_code == 422
        assert (await client.post("/webhooks/telegram", json=joined, headers=headers)).json() == {"ok": True}
    assert "Chào mừng đồng chí Võ Thị Thanh" in (await fake_telegram.wait_for(1, 604))[0].text
