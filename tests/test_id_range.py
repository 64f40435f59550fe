"""Ids beyond the 32-bit id columns are stale buttons, never a server error that the platform
would retry forever: checked once, in the payload decoder, for every channel."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.runtime import Runtime
from handlers.actions import InvalidPayload, decode
from handlers.contract import Inbound
from handlers.meetings.actions import MarkAttendance
from handlers.polls.actions import Vote
from handlers.questions import PickTime, Question
from models.tables import MAX_ID, Platform, valid_id
from tests.chat import say
from tests.conftest import Demo, Webhook

STALE = "Nút này không còn dùng được nữa"
BEYOND = str(MAX_ID + 1)
HUGE = "99999999999"
FORGED = [
    f"pv:{HUGE}:1", f"pv:{BEYOND}:1", f"mc:{HUGE}", f"nt:{HUGE}", f"na:{HUGE}:branch", f"nb:1:{HUGE}",
    f"mm:1:{HUGE}", f"mtm:1:{HUGE}:present", f"pw:1:{HUGE}:1", f"ask:phone:{HUGE}", f"mtf:{HUGE}",
    f"mt:{HUGE}", "mtm:999999999999", f"tm:deadline:{HUGE}:202612011700",
]  # fmt: skip


def test_the_decoder_refuses_ids_beyond_the_columns() -> None:
    assert valid_id(MAX_ID) and not valid_id(MAX_ID + 1) and not valid_id(0)
    for payload in FORGED:
        with pytest.raises(InvalidPayload):
            decode(payload)
    assert decode(f"pv:{MAX_ID}:1") == Vote(MAX_ID, 1)
    assert decode(f"mtm:1:{MAX_ID}:present") == MarkAttendance(1, MAX_ID, "present")
    # A time button carries the moment, not an id, in its last field (was: every such button stale).
    assert decode("tm:deadline:2:202612011700") == PickTime(Question.POLL_DEADLINE, 2, datetime(2026, 12, 1, 17))


async def test_a_forged_big_id_is_a_stale_button_on_every_channel(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, 800, f"/start {demo.code('Lý Văn Quang')}")  # a secretary: every action is his
    for payload in FORGED:
        assert STALE in (await say(runtime, 800, payload=payload))[0].text, payload
    # The Zalo Official Account: a button's payload comes back typed as "#chibo:…".
    await say(runtime, 801, f"/start {demo.code('Mai Văn Sơn')}")
    zalo = Inbound(platform=Platform.ZALO_OA, user_id="z801", chat_id="z801", text=demo.code("Hồ Thị Ngọc"))
    await runtime.process(zalo, "z-join")
    tapped = Inbound(platform=Platform.ZALO_OA, user_id="z801", chat_id="z801", payload=f"pv:{HUGE}:1")
    assert STALE in (await runtime.process(tapped, "z-tap", answer_inline=True)).replies[0].text


async def test_the_telegram_webhook_answers_a_big_id_instead_of_failing(webhook: Webhook, demo: Demo) -> None:
    user = 802
    joined = await webhook.post(webhook.fake.message_update(user, f"/start {demo.code('Mai Văn Sơn')}"))
    assert joined.status_code == 200
    await webhook.fake.wait_for(1, user)
    response = await webhook.post(webhook.fake.callback_update(user, f"pv:{HUGE}:1"))
    assert response.status_code == 200
    assert STALE in (await webhook.fake.wait_for(2, user))[1].text
