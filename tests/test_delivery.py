"""The delivery worker against the fake Bot API: what Telegram's refusals make it do."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiogram import Bot
from sqlalchemy import func
from sqlmodel import select

from bot.channels.telegram import TelegramSender, make_bot
from bot.delivery import CONCURRENCY, MAX_ATTEMPTS, OUTBOX_CHANNEL, DeliveryWorker, outbox_announcer
from bot.ratelimit import CONGESTION_CHATS, DECREASE, LocalRateLimiter, RateLimiter, RedisRateLimiter
from bot.runtime import Runtime
from handlers.contract import Button, Reply
from models.db import listen
from models.tables import ChannelIdentity, OutboxMessage, OutboxStatus, Platform, utcnow
from tests.conftest import TELEGRAM_TOKEN, Demo, member_named, redis_client
from tests.fake_telegram import FakeTelegram

pytestmark = pytest.mark.paced  # the platforms' one message a second to a chat, as in production


async def pending_count(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        return (
            await session.exec(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
            )
        ).one()


async def drain(runtime: Runtime, *workers: DeliveryWorker, limit: float = 60.0) -> None:
    """Run the workers until the outbox has nothing pending, then stop them cleanly."""
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        async with asyncio.timeout(limit):
            while await pending_count(runtime):
                for task in tasks:
                    if task.done():
                        task.result()  # a crashed worker: raise its error
                await asyncio.sleep(0.05)
    finally:
        for worker in workers:
            worker.stop()
        await asyncio.gather(*tasks)


@dataclass
class Delivery:
    runtime: Runtime
    worker: DeliveryWorker
    fake: FakeTelegram

    async def queue(self, chat_id: int, reply: Reply) -> int:
        async with self.runtime.sessions() as session, session.begin():
            row = OutboxMessage(platform=Platform.TELEGRAM, chat_id=str(chat_id), body=reply.to_dict())
            session.add(row)
            await session.flush()
            assert row.id is not None
            return row.id

    async def drain(self) -> None:
        """Run the worker as ``chibo serve`` does until nothing is left to send (bounded)."""
        await drain(self.runtime, self.worker)

    async def row(self, row_id: int) -> OutboxMessage:
        async with self.runtime.sessions() as session:
            found = await session.get(OutboxMessage, row_id)
            assert found is not None
            return found


@pytest.fixture
async def delivery(runtime: Runtime, fake_telegram: FakeTelegram) -> AsyncIterator[Delivery]:
    bot = make_bot(TELEGRAM_TOKEN, fake_telegram.url)
    worker = DeliveryWorker(
        runtime.sessions, {Platform.TELEGRAM: TelegramSender(bot)}, runtime.metrics, backoff=lambda attempts: 0.0
    )
    yield Delivery(runtime, worker, fake_telegram)
    await bot.session.close()


async def test_sent_in_order_with_buttons(delivery: Delivery) -> None:
    await delivery.queue(801, Reply("one"))
    await delivery.queue(801, Reply("two", buttons=((Button("Yes", "me"),),)))
    await delivery.drain()
    sent = delivery.fake.sent
    assert [m.text for m in sent] == ["one", "two"]
    assert sent[1].reply_markup == {"inline_keyboard": [[{"text": "Yes", "callback_data": "me"}]]}


async def test_an_edit_that_changes_nothing_is_not_sent_again_as_a_new_message(
    runtime: Runtime, fake_telegram: FakeTelegram
) -> None:
    """Found by the outside attacker: a double tap answered twice with the same ballot; Telegram
    refused the second edit ("message is not modified"), and the ballot was sent again as a new
    message, a second live ballot in the chat."""
    bot = make_bot(TELEGRAM_TOKEN, fake_telegram.url)
    try:
        delivery = Delivery(
            runtime, _worker(runtime, fake_telegram, LocalRateLimiter({"telegram": 30}), bot), fake_telegram
        )
        await delivery.queue(803, Reply("ballot"))
        await delivery.drain()
        (ballot,) = fake_telegram.sent
        for _ in range(2):
            await delivery.queue(803, Reply("ballot, ticked", edit_message_id=str(ballot.message_id)))
        await drain(runtime, _worker(runtime, fake_telegram, LocalRateLimiter({"telegram": 30}), bot))
    finally:
        await bot.session.close()
    assert [m.text for m in fake_telegram.sent] == ["ballot"]
    assert [m.text for m in fake_telegram.shown] == ["ballot", "ballot, ticked"]


async def test_long_text_is_split_on_paragraphs(delivery: Delivery) -> None:
    paragraphs = [f"Đoạn {i}: " + "chữ " * 300 for i in range(5)]  # about 1,500 characters each
    await delivery.queue(802, Reply("\n\n".join(paragraphs)))
    await delivery.drain()
    pieces = [m.text for m in delivery.fake.sent]
    assert len(pieces) > 1 and all(len(p) <= 4096 for p in pieces)
    assert all(p.startswith("Đoạn") for p in pieces)
    assert sum(p.count("Đoạn") for p in pieces) == 5


async def test_429_waits_retry_after_then_sends_once(delivery: Delivery) -> None:
    delivery.fake.failures[803] = [(429, {"description": "Too Many Requests", "parameters": {"retry_after": 1}})]
    row_id = await delivery.queue(803, Reply("after the pause"))
    await delivery.worker.drain_once()
    waiting = await delivery.row(row_id)
    assert waiting.status is OutboxStatus.PENDING and waiting.attempts == 0
    assert waiting.next_attempt_at.timestamp() - waiting.created_at.timestamp() >= 1
    await delivery.drain()
    assert [m.text for m in delivery.fake.sent] == ["after the pause"]
    assert (await delivery.row(row_id)).status is OutboxStatus.SENT


def _429(retry_after: int) -> tuple[int, dict[str, object]]:
    return 429, {"description": "Too Many Requests", "parameters": {"retry_after": retry_after}}


@pytest.fixture(params=["in process", "Redis"])
async def budget(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[float], RateLimiter]]:
    """The delivery budget at a rate, as one process keeps it or as replicas share it through Redis."""
    if request.param == "in process":
        yield lambda rate: LocalRateLimiter({"telegram": rate})
        return
    async with redis_client() as redis:
        prefix = f"chibo:test:{uuid.uuid4().hex}"
        yield lambda rate: RedisRateLimiter(redis, {"telegram": rate}, prefix=prefix)


def _worker(runtime: Runtime, fake: FakeTelegram, limiter: RateLimiter, bot: Bot) -> DeliveryWorker:
    return DeliveryWorker(runtime.sessions, {Platform.TELEGRAM: TelegramSender(bot)}, runtime.metrics, limiter=limiter)


def _texts_by_chat(fake: FakeTelegram) -> dict[int, list[str]]:
    by_chat: dict[int, list[str]] = {}
    for message in fake.sent:
        by_chat.setdefault(message.chat_id, []).append(message.text)
    return by_chat


async def test_a_429_holds_its_chat_only_and_the_others_go_on(
    runtime: Runtime, fake_telegram: FakeTelegram, budget: Callable[[float], RateLimiter]
) -> None:
    limiter = budget(1000.0)
    fake_telegram.failures[830] = [_429(60)]  # far longer than this test waits
    bot = make_bot(TELEGRAM_TOKEN, fake_telegram.url)
    try:
        delivery = Delivery(runtime, _worker(runtime, fake_telegram, limiter, bot), fake_telegram)
        held = [await delivery.queue(830, Reply("first")), await delivery.queue(830, Reply("second"))]
        for chat in range(831, 841):
            await delivery.queue(chat, Reply(f"to {chat}"))
        task = asyncio.create_task(delivery.worker.run())
        try:
            async with asyncio.timeout(30):  # a platform-wide pause would keep the others waiting a minute
                await fake_telegram.wait_until(lambda: len(fake_telegram.sent) == 10)
                # ...and the 429 handled (on a loaded machine the others could all go before it was).
                first = await delivery.row(held[0])
                while first.next_attempt_at - first.created_at < timedelta(seconds=1):  # the worker's write
                    await asyncio.sleep(0.05)
                    first = await delivery.row(held[0])
        finally:
            delivery.worker.stop()
            await task
        assert _texts_by_chat(fake_telegram) == {chat: [f"to {chat}"] for chat in range(831, 841)}
        for row_id in held:  # both of the chat's messages wait out the retry_after, in their order
            row = await delivery.row(row_id)
            assert row.status is OutboxStatus.PENDING and row.attempts == 0
            assert row.next_attempt_at.timestamp() - row.created_at.timestamp() >= 60
        assert runtime.metrics.rate_cuts.labels("telegram")._value.get() == 0
    finally:
        await bot.session.close()


async def test_a_429d_chat_gets_its_messages_after_retry_after_in_order_and_once(
    runtime: Runtime, fake_telegram: FakeTelegram, budget: Callable[[float], RateLimiter]
) -> None:
    limiter = budget(1000.0)
    fake_telegram.failures[850] = [_429(1)]
    bot = make_bot(TELEGRAM_TOKEN, fake_telegram.url)
    try:
        delivery = Delivery(runtime, _worker(runtime, fake_telegram, limiter, bot), fake_telegram)
        for text in ("first", "second", "third"):
            await delivery.queue(850, Reply(text))
        await delivery.queue(851, Reply("other"))
        await delivery.drain()
        assert _texts_by_chat(fake_telegram) == {850: ["first", "second", "third"], 851: ["other"]}
        # Retried when the platform said it may be, not before.
        ((refused_at, retry_after, _chat),) = fake_telegram.rate_limited
        assert min(m.at for m in fake_telegram.sent if m.chat_id == 850) >= refused_at + retry_after
    finally:
        await bot.session.close()


async def test_429s_from_many_chats_at_once_slow_the_platform_and_nothing_is_lost(
    runtime: Runtime, fake_telegram: FakeTelegram, budget: Callable[[float], RateLimiter]
) -> None:
    # At 30/s the span in which 429s are counted (the time of CONGESTION_SAMPLE sends) is seconds long.
    limiter = budget(30.0)
    chats = range(870, 870 + CONGESTION_CHATS + 5)
    for chat in chats:
        fake_telegram.failures[chat] = [_429(1)]
    bot = make_bot(TELEGRAM_TOKEN, fake_telegram.url)
    try:
        delivery = Delivery(runtime, _worker(runtime, fake_telegram, limiter, bot), fake_telegram)
        for chat in chats:
            await delivery.queue(chat, Reply(f"to {chat}"))
        await delivery.worker.drain_once()
        assert runtime.metrics.rate_cuts.labels("telegram")._value.get() >= 1
        if isinstance(limiter, LocalRateLimiter):
            assert limiter._windows["telegram"].base == pytest.approx(30.0 * DECREASE)  # halved, to grow back
        await delivery.drain()
        assert _texts_by_chat(fake_telegram) == {chat: [f"to {chat}"] for chat in chats}
    finally:
        await bot.session.close()


async def test_403_marks_the_member_unreachable_without_retry(delivery: Delivery, runtime: Runtime, demo: Demo) -> None:
    member = await member_named(runtime, "Vũ Đình Khoa")
    assert member.id is not None
    async with runtime.sessions() as session, session.begin():
        session.add(
            ChannelIdentity(platform=Platform.TELEGRAM, platform_user_id="804", chat_id="804", member_id=member.id)
        )
    delivery.fake.failures[804] = [(403, {"description": "Forbidden: bot was blocked by the user"})]
    row_id = await delivery.queue(804, Reply("hello"))
    await delivery.drain()
    row = await delivery.row(row_id)
    assert row.status is OutboxStatus.FAILED and row.attempts == 1 and "blocked" in (row.last_error or "")
    async with runtime.sessions() as session:
        identity = (await session.exec(select(ChannelIdentity).where(ChannelIdentity.chat_id == "804"))).one()
    assert identity.unreachable_at is not None
    assert delivery.fake.sent == []


async def test_5xx_is_retried_and_400_is_not(delivery: Delivery) -> None:
    delivery.fake.failures[805] = [(502, {"description": "Bad Gateway"}), (500, {"description": "Internal"})]
    delivery.fake.failures[806] = [(400, {"description": "Bad Request: chat not found"})]
    retried = await delivery.queue(805, Reply("eventually"))
    refused = await delivery.queue(806, Reply("never"))
    await delivery.drain()
    assert (await delivery.row(retried)).status is OutboxStatus.SENT
    assert (await delivery.row(retried)).attempts == 3
    assert (await delivery.row(refused)).status is OutboxStatus.FAILED
    assert [m.text for m in delivery.fake.sent] == ["eventually"]


async def test_gives_up_after_the_last_attempt(delivery: Delivery) -> None:
    delivery.fake.failures[807] = [(500, {"description": "Internal"})] * MAX_ATTEMPTS
    row_id = await delivery.queue(807, Reply("lost cause"))
    await delivery.drain()
    row = await delivery.row(row_id)
    assert row.status is OutboxStatus.FAILED and row.attempts == MAX_ATTEMPTS


class _Surprising:
    """A sender whose client library fails in a way nobody planned for, once per chat."""

    def __init__(self, inner: TelegramSender) -> None:
        self.inner, self.failed = inner, set[str]()

    async def send(self, chat_id: str, reply: Reply, locale: str | None = None) -> None:
        if chat_id not in self.failed:
            self.failed.add(chat_id)
            raise RuntimeError("decoder exploded")
        await self.inner.send(chat_id, reply, locale)


async def test_an_unexpected_error_is_retried_and_delivery_goes_on(
    runtime: Runtime, fake_telegram: FakeTelegram
) -> None:
    bot = make_bot(TELEGRAM_TOKEN, fake_telegram.url)
    try:
        worker = DeliveryWorker(
            runtime.sessions,
            {Platform.TELEGRAM: _Surprising(TelegramSender(bot))},
            runtime.metrics,
            backoff=lambda attempts: 0.0,
        )
        delivery = Delivery(runtime, worker, fake_telegram)
        first = await delivery.queue(811, Reply("one"))
        await delivery.queue(812, Reply("two"))
        await delivery.drain()
        assert sorted(m.text for m in fake_telegram.sent) == ["one", "two"]
        row = await delivery.row(first)
        assert row.attempts == 2 and row.status is OutboxStatus.SENT
    finally:
        await bot.session.close()


async def test_an_answer_to_a_tap_goes_before_a_broadcast(
    runtime: Runtime, demo: Demo, fake_telegram: FakeTelegram
) -> None:
    member = await member_named(runtime, "Vũ Đình Khoa")
    async with runtime.sessions() as session, session.begin():
        session.add_all(
            OutboxMessage(platform=Platform.TELEGRAM, chat_id=str(900 + i), body=Reply("notice").to_dict(),
                          member_id=member.id)
            for i in range(30)
        )  # fmt: skip
        session.add(OutboxMessage(platform=Platform.TELEGRAM, chat_id="950", body=Reply("your details").to_dict()))
    bot = make_bot(TELEGRAM_TOKEN, fake_telegram.url)
    try:
        worker = DeliveryWorker(runtime.sessions, {Platform.TELEGRAM: TelegramSender(bot)}, runtime.metrics, batch=5)
        await worker.drain_once()
        assert "your details" in [m.text for m in fake_telegram.sent]
    finally:
        await bot.session.close()


async def test_a_row_whose_lease_is_ending_is_let_go_unsent(runtime: Runtime, fake_telegram: FakeTelegram) -> None:
    bot = make_bot(TELEGRAM_TOKEN, fake_telegram.url)
    try:
        limiter = LocalRateLimiter({"telegram": 100.0})
        worker = DeliveryWorker(
            runtime.sessions, {Platform.TELEGRAM: TelegramSender(bot)}, runtime.metrics,
            limiter=limiter, lease=timedelta(seconds=3),
        )  # fmt: skip
        delivery = Delivery(runtime, worker, fake_telegram)
        row_id = await delivery.queue(820, Reply("late"))
        await limiter.pause("telegram", 2.5)  # longer than the lease leaves for a send
        await worker.drain_once()
        waiting = await delivery.row(row_id)
        assert fake_telegram.sent == [] and waiting.status is OutboxStatus.PENDING and waiting.attempts == 0
        await delivery.drain()  # claimed afresh, with a whole lease: sent once
        assert [m.text for m in fake_telegram.sent] == ["late"]
    finally:
        await bot.session.close()


async def test_a_row_let_go_late_stays_with_the_worker_that_claimed_it_since(
    runtime: Runtime, fake_telegram: FakeTelegram
) -> None:
    """Was: two workers sharing a budget (`chibo serve` with CHIBO_WORKERS) sent 44 of 400 notices
    twice. A worker that waited past its lease let its rows go by id, clearing the claim another
    worker had taken on them meanwhile, so a third claim sent them while the second did."""
    bot = make_bot(TELEGRAM_TOKEN, fake_telegram.url)
    try:

        def a_worker(lease: float) -> tuple[DeliveryWorker, LocalRateLimiter]:
            limiter = LocalRateLimiter({"telegram": 100.0})
            worker = DeliveryWorker(
                runtime.sessions, {Platform.TELEGRAM: TelegramSender(bot)}, runtime.metrics,
                limiter=limiter, lease=timedelta(seconds=lease),
            )  # fmt: skip
            return worker, limiter

        (first, first_budget), (second, second_budget), (third, _) = a_worker(1.5), a_worker(60), a_worker(60)
        delivery = Delivery(runtime, first, fake_telegram)
        row_id = await delivery.queue(830, Reply("once"))
        await first_budget.pause("telegram", 1.2)  # past what its lease leaves for a send: it lets the row go
        await second_budget.pause("telegram", 2.0)
        slow = asyncio.create_task(first.drain_once())
        async with asyncio.timeout(10):
            while (await delivery.row(row_id)).claimed_until is None:  # noqa: ASYNC110 (claimed in a task)
                await asyncio.sleep(0.01)
        async with runtime.sessions() as session, session.begin():  # its lease ran out meanwhile
            row = await session.get(OutboxMessage, row_id)
            assert row is not None
            row.claimed_until = utcnow() - timedelta(seconds=1)
        taken = asyncio.create_task(second.drain_once())

        async def claimed_by_the_second() -> bool:  # its lease is a minute long
            until = (await delivery.row(row_id)).claimed_until
            return until is not None and until > utcnow() + timedelta(seconds=30)

        async with asyncio.timeout(10):
            while not await claimed_by_the_second():  # noqa: ASYNC110 (claimed in a task)
                await asyncio.sleep(0.01)
        assert await slow == 1  # the first let it go...
        assert await third.drain_once() == 0  # ...but it is the second's: nobody else takes it
        await taken
        assert [m.text for m in fake_telegram.sent] == ["once"]
        assert (await delivery.row(row_id)).status is OutboxStatus.SENT
    finally:
        await bot.session.close()


async def test_a_worker_that_does_not_deliver_wakes_the_one_that_does(runtime: Runtime, database_url: str) -> None:
    """`chibo serve`'s workers: rows queued by one that does not deliver are announced to the one
    that does, which would otherwise find them only at its next look."""
    if database_url.startswith("sqlite"):
        pytest.skip("one process on SQLite: nothing to announce")
    woken = asyncio.Event()
    heard = asyncio.create_task(listen(runtime.engine, OUTBOX_CHANNEL, lambda _payload: woken.set(), what="test"))
    try:
        announce = outbox_announcer(runtime.engine)
        async with asyncio.timeout(30):
            while not woken.is_set():  # a NOTIFY before the LISTEN is in place is heard by nobody
                announce()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), 0.5)
    finally:
        heard.cancel()
        await asyncio.gather(heard, return_exceptions=True)


class CountingBudget(LocalRateLimiter):
    """The budget of one process, counting the slots asked for once the worker was told to stop."""

    def __init__(self, rate: float) -> None:
        super().__init__({"telegram": rate})
        self.stopped = False
        self.after_stop = 0

    async def acquire(self, platform: str, chat_id: str) -> None:
        self.after_stop += self.stopped
        await super().acquire(platform, chat_id)


async def test_stopped_mid_broadcast_it_waits_for_no_more_budget_than_the_sends_under_way(
    runtime: Runtime, fake_telegram: FakeTelegram
) -> None:
    """Before, each chat of the batch still waiting took its slot of the budget before seeing the
    stop: a batch of 200 at 30 messages/s held `chibo serve`'s shutdown for about 7 s."""
    bot = make_bot(TELEGRAM_TOKEN, fake_telegram.url)
    try:
        budget = CountingBudget(40.0)
        worker = DeliveryWorker(
            runtime.sessions, {Platform.TELEGRAM: TelegramSender(bot)}, runtime.metrics, limiter=budget, batch=200
        )
        delivery = Delivery(runtime, worker, fake_telegram)
        for chat in range(200):
            await delivery.queue(40_000 + chat, Reply("Thông báo"))
        running = asyncio.create_task(worker.run())
        async with asyncio.timeout(60):
            while len(fake_telegram.sent) < 5:  # noqa: ASYNC110 (the worker's sends, on their budget)
                await asyncio.sleep(0.01)
        budget.stopped = True
        worker.stop()
        await running
        assert budget.after_stop <= CONCURRENCY  # only the sends already holding a place
        left = await pending_count(runtime)
        assert len(fake_telegram.sent) + left == 200 and left > 100
    finally:
        await bot.session.close()
