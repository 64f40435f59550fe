"""Notices: composing in chat, the broadcast engine against the fake Bot API, receipts and reminders."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import itertools
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, update
from sqlmodel import col, select

from bot.channels.telegram import TelegramSender
from bot.delivery import DeliveryWorker
from bot.i18n import Catalogs
from bot.ratelimit import LocalRateLimiter
from bot.runtime import Runtime
from handlers.actions import decode
from handlers.contract import Inbound, Reply
from handlers.menus import NewNotice, SentNotices
from handlers.notices import notice_body_maker
from handlers.notices.actions import CancelNotice, NoticeScope, NudgeNotice, ReadNotice, SendNotice, TrackNotice
from handlers.questions import Ask, Question
from handlers.records.words import local_phone
from models.notice_tracking import Delivery, notice_tracking
from models.notices import (
    Audience,
    NoticeError,
    cancel,
    create_draft,
    schedule,
    send_due,
    send_now,
)
from models.outbox import Outbox
from models.permissions import OPERATOR
from models.tables import (
    AuditEvent,
    Branch,
    ChannelIdentity,
    Committee,
    Member,
    Notice,
    NoticeRecipient,
    NoticeStatus,
    OutboxMessage,
    OutboxStatus,
    Platform,
    utcnow,
)
from tests.chat import button, labels, say, vi
from tests.conftest import Demo, member_named, worker
from tests.fake_telegram import FakeTelegram, SentMessage
from tests.test_cli import run_chibo
from tests.test_delivery import drain

SECRETARY, MEMBER, OTHER_SECRETARY = 300, 301, 302
REACH_9 = "9 người nhận (không tính đồng chí): 1 nhận qua Telegram hoặc Zalo, 0 đọc trên trang web, 8 chưa tham gia"
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


async def test_a_secretary_composes_previews_and_sends_to_the_branch(
    runtime: Runtime, demo: Demo, fake_telegram: FakeTelegram, telegram_sender: TelegramSender
) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, MEMBER, f"/start {demo.code('Mai Văn Sơn')}")
    manage = (await say(runtime, SECRETARY, "/quanly"))[0]
    await say(runtime, SECRETARY, payload=button(manage, "Thông báo mới"))
    text = "Họp chi bộ định kỳ lúc 19:00 thứ Sáu tại nhà văn hóa thôn.\n\nĐề nghị các đồng chí đến đúng giờ."
    preview = (await say(runtime, SECRETARY, text))[0]
    assert "Xem trước thông báo" in preview.text and "Gửi đến: Chi bộ thôn Tây" in preview.text
    # The sender is counted out: nine others, one of them on Telegram.
    assert REACH_9 in preview.text
    assert "Toàn xã" not in str(preview.buttons)  # a branch secretary reaches only the branch
    # It sends: "Chi bộ của tôi" in the menu shows the branch.
    assert "🏠 Gửi chi bộ của tôi" in [b.label for row in preview.buttons for b in row]
    officials = (await say(runtime, SECRETARY, payload=button(preview, "Chỉ chính thức")))[0]
    assert "chỉ đảng viên chính thức" in officials.text and "7 người nhận" in officials.text
    everyone = (await say(runtime, SECRETARY, payload=button(officials, "Tất cả")))[0]
    send = button(everyone, "Gửi ngay")
    sent = (await say(runtime, SECRETARY, payload=send))[0]
    assert "Đã gửi tới 1 đảng viên qua Telegram hoặc Zalo; 0 sẽ thấy trên trang web; 8 chưa tham gia chibo" in sent.text
    assert "đã được gửi hoặc đã hủy" in (await say(runtime, SECRETARY, payload=send))[0].text  # a double tap
    await drain(runtime, worker(runtime, telegram_sender))
    received = {m.chat_id: m for m in fake_telegram.sent if "Họp chi bộ" in m.text}
    assert set(received) == {MEMBER}  # not to its sender: he wrote it, and has it as read in his list
    async with runtime.sessions() as session:  # the log says what the screen says: 9, the sender counted out
        [logged] = (await session.exec(select(AuditEvent).where(AuditEvent.action == "notice.sent"))).all()
    assert logged.after is not None and logged.after["recipients"] == 9
    own = (await say(runtime, SECRETARY, "📢 Thông báo"))[0]
    assert own.text.startswith("✅") and "Họp chi bộ" in own.text and own.buttons == ()
    assert received[MEMBER].text.startswith("📢 Thông báo của đồng chí Lý Văn Quang\n\nHọp chi bộ")  # who sent it
    assert received[MEMBER].keyboard_labels() == ["✅ Đã đọc"]
    # The member reads it; a double tap records it once.
    read = received[MEMBER].reply_markup["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index]
    for _ in range(2):
        assert "đã ghi nhận" in (await say(runtime, MEMBER, payload=read))[0].text
    track = (await say(runtime, SECRETARY, payload=button(sent, "Theo dõi")))[0]
    assert "9 người nhận (không tính người gửi):\n✅ đã đọc: 1\n📵 chưa tham gia chibo: 8\n" in track.text
    assert "Lý Văn Quang" not in track.text  # the sender is not listed as not having read it
    ngoc = await member_named(runtime, "Hồ Thị Ngọc")
    assert f"• Hồ Thị Ngọc — {local_phone(ngoc.phone)}" in track.text  # to call her
    export = (await say(runtime, SECRETARY, payload=button(track, "Xuất tệp CSV")))[0]
    assert export.document is not None and export.document.inline is not None
    await telegram_sender.send(str(SECRETARY), export)  # on Telegram it arrives as a file
    _chat, name, _caption, content = fake_telegram.documents[-1]
    csv_text = content.decode("utf-8-sig")
    assert name.endswith(".csv")
    assert csv_text.startswith(
        "Họ và tên,Chi bộ,Số điện thoại,Trạng thái,Kênh,Lý do,Đã đọc lúc,Đã nhận lúc,Xem trên Zalo lúc,Cần gọi điện"
    )
    mai = await member_named(runtime, "Mai Văn Sơn")
    # Read, and where it had reached him (the channel is said for readers too).
    read_row = f"Mai Văn Sơn,Chi bộ thôn Tây,{local_phone(mai.phone)},đã đọc,Telegram,,{datetime.now(HANOI):%d/%m/%Y}"
    assert read_row in csv_text
    # Delivered when Telegram took it; no "seen" from Telegram (it reports none).
    [mai_row] = [row for row in csv.reader(io.StringIO(csv_text)) if row[0] == "Mai Văn Sơn"]
    assert mai_row[7].startswith(f"{datetime.now(HANOI):%d/%m/%Y}") and mai_row[8] == ""
    assert f"Hồ Thị Ngọc,Chi bộ thôn Tây,{local_phone(ngoc.phone)},chưa tham gia chibo,,," in csv_text
    assert "Lý Văn Quang" not in csv_text
    assert csv_text.count("chưa tham gia chibo") == 8 and len(csv_text.strip().splitlines()) == 1 + 9
    # "Notices" in the member's menu: read ones are marked and have no button.
    inbox = await say(runtime, MEMBER, "📢 Thông báo")
    assert inbox[0].text.startswith("✅") and inbox[0].buttons == ()
    assert "\nThông báo của đồng chí Lý Văn Quang\n" in inbox[0].text  # who sent it


async def test_reminders_go_only_to_the_unread_and_not_too_often(
    runtime: Runtime, demo: Demo, fake_telegram: FakeTelegram, telegram_sender: TelegramSender
) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, MEMBER, f"/start {demo.code('Mai Văn Sơn')}")
    await say(runtime, 303, f"/start {demo.code('Chu Thị Thảo')}")
    await say(runtime, SECRETARY, payload=NewNotice().pack())
    preview = (await say(runtime, SECRETARY, "Nộp đảng phí quý IV trước ngày 30."))[0]
    sent = (await say(runtime, SECRETARY, payload=button(preview, "Gửi ngay")))[0]
    notice_id = _notice_id(button(sent, "Theo dõi"))
    await say(runtime, MEMBER, payload=ReadNotice(notice_id).pack())
    await say(runtime, SECRETARY, payload=ReadNotice(notice_id).pack())
    track = (await say(runtime, SECRETARY, payload=TrackNotice(notice_id).pack()))[0]
    assert "✅ " + vi("Read by:") + " Mai Văn Sơn" in track.text  # the readers by name, the sender not among them
    reminded = (await say(runtime, SECRETARY, payload=button(track, "Nhắc người chưa đọc")))[0]
    assert "Đã nhắc lại: 1 tin nhắn" in reminded.text  # only Chu Thị Thảo is linked and unread
    assert "nhắc gần đây" in (await say(runtime, SECRETARY, payload=NudgeNotice(notice_id).pack()))[0].text
    await drain(runtime, worker(runtime, telegram_sender))
    counts = Counter(m.chat_id for m in fake_telegram.sent if "đảng phí" in m.text)
    assert counts == {MEMBER: 1, 303: 2}  # never to its sender, who wrote it
    first, again = [m.text for m in fake_telegram.sent if m.chat_id == 303 and "đảng phí" in m.text]
    assert first.startswith("📢 Thông báo của đồng chí Lý Văn Quang")
    assert again.startswith("🔔 " + vi("Reminder: you have not marked this notice as read yet."))


async def test_scheduling_in_plain_words_and_cancelling(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, SECRETARY, payload=NewNotice().pack())
    preview = (await say(runtime, SECRETARY, "Lịch trực Tết."))[0]
    await say(runtime, SECRETARY, payload=button(preview, "Hẹn giờ"))
    assert "không phải là thời điểm" in (await say(runtime, SECRETARY, "sáng mai"))[0].text
    tomorrow = datetime.now(HANOI) + timedelta(days=1)
    scheduled = (await say(runtime, SECRETARY, f"{tomorrow:%d/%m} 07:30"))[0]
    weekday = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"][tomorrow.weekday()]
    assert f"sẽ được gửi lúc 07:30, {weekday}, {tomorrow:%d/%m/%Y}" in scheduled.text
    async with runtime.sessions() as session:
        notice = (await session.exec(select(Notice))).one()
    assert notice.status is NoticeStatus.SCHEDULED and notice.scheduled_at is not None
    assert notice.scheduled_at.astimezone(HANOI).strftime("%H:%M") == "07:30"
    listed = (await say(runtime, SECRETARY, payload=SentNotices().pack()))[0]
    assert "⏰" in listed.text and "Lịch trực Tết" in listed.text
    cancelled = (await say(runtime, SECRETARY, payload=button(listed, "Hủy")))[0]
    assert "Đã hủy thông báo" in cancelled.text
    async with runtime.sessions() as session, session.begin():
        sent = await send_due(session, notice_body_maker(runtime.catalogs), now=utcnow() + timedelta(days=2))
    assert sent == []


async def test_a_scheduled_notice_goes_out_once_when_due(runtime: Runtime, demo: Demo) -> None:
    secretary = await member_named(runtime, "Lý Văn Quang")
    body_for = notice_body_maker(runtime.catalogs)
    async with runtime.sessions() as session, session.begin():
        notice = await create_draft(session, secretary, "Họp lúc 8 giờ.", Audience((secretary.branch_id,)))
        notice.status, notice.scheduled_at = NoticeStatus.SCHEDULED, utcnow() + timedelta(minutes=5)
        session.add(notice)
    async with runtime.sessions() as session, session.begin():
        assert await send_due(session, body_for) == []  # not yet
    later = utcnow() + timedelta(minutes=6)
    async with runtime.sessions() as session, session.begin():
        assert await send_due(session, body_for, now=later) == [notice.id]
    async with runtime.sessions() as session, session.begin():
        assert await send_due(session, body_for, now=later) == []  # a second scheduler finds nothing
        recipients = (await session.exec(select(func.count()).select_from(NoticeRecipient))).one()
    assert recipients == 10


async def test_who_may_announce(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, MEMBER, f"/start {demo.code('Mai Văn Sơn')}")
    assert "chỉ dành cho bí thư" in (await say(runtime, MEMBER, payload=NewNotice().pack()))[0].text
    assert "chỉ dành cho bí thư" in (await say(runtime, MEMBER, payload=Ask(Question.NOTICE_TEXT).pack()))[0].text
    assert "Quản lý" not in str(labels((await say(runtime, MEMBER, "/menu"))[0]))
    # A branch secretary cannot reach another branch, not even with a forged button.
    await say(runtime, OTHER_SECRETARY, f"/start {demo.code('Võ Thị Thanh')}")
    await say(runtime, OTHER_SECRETARY, payload=NewNotice().pack())
    preview = (await say(runtime, OTHER_SECRETARY, "Thông báo của chi bộ trường."))[0]
    notice_id = _notice_id(button(preview, "Gửi ngay"))
    commune = NoticeScope(notice_id, "commune").pack()
    assert "Nút này không còn dùng được nữa" in (await say(runtime, OTHER_SECRETARY, payload=commune))[0].text
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    for action in (SendNotice(notice_id), TrackNotice(notice_id), CancelNotice(notice_id)):
        payload = action.pack()
        assert "Nút này không còn dùng được nữa" in (await say(runtime, SECRETARY, payload=payload))[0].text
    async with runtime.sessions() as session:
        notice = await session.get(Notice, notice_id)
    assert notice is not None and notice.status is NoticeStatus.DRAFT


def _notice_id(payload: str) -> int:
    """The notice a button of the secretary's is about."""
    action = decode(payload)
    assert isinstance(action, SendNotice | TrackNotice)
    return action.notice_id


async def big_branch(runtime: Runtime, size: int, first_chat: int) -> int:
    """A branch of ``size`` members, each linked on Telegram at chat first_chat + i."""
    async with runtime.sessions() as session, session.begin():
        committee = Committee(name="Đảng ủy xã thử tải")
        session.add(committee)
        await session.flush()
        branch = Branch(committee_id=committee.id or 0, code="LON", name="Chi bộ thử tải")
        session.add(branch)
        await session.flush()
        people = [Member(branch_id=branch.id or 0, full_name=f"Đảng viên {i}") for i in range(size)]
        session.add_all(people)
        await session.flush()
        session.add_all(
            ChannelIdentity(
                platform=Platform.TELEGRAM, platform_user_id=str(first_chat + i), chat_id=str(first_chat + i),
                member_id=p.id or 0,
            )
            for i, p in enumerate(people)
        )  # fmt: skip
        return branch.id or 0


async def _broadcast(runtime: Runtime, branch_id: int, text: str) -> Notice:
    async with runtime.sessions() as session, session.begin():
        notice = await create_draft(session, OPERATOR, text, Audience((branch_id,)))
        await send_now(session, OPERATOR, notice, notice_body_maker(Catalogs("vi")))
        return notice


async def test_a_thousand_recipients_each_once_through_429s_and_403s(
    runtime: Runtime, fake_telegram: FakeTelegram, telegram_sender: TelegramSender
) -> None:
    first = 10_000
    branch_id = await big_branch(runtime, 1000, first)
    blocked = {first + i for i in range(0, 1000, 50)}  # 20 blocked the bot
    limited = {first + i for i in range(7, 1000, 100)}  # 10 get "slow down" once
    for chat in blocked:
        fake_telegram.failures[chat] = [(403, {"description": "Forbidden: bot was blocked by the user"})]
    for chat in limited:
        fake_telegram.failures[chat] = [(429, {"description": "Too Many Requests", "parameters": {"retry_after": 1}})]
    notice = await _broadcast(runtime, branch_id, "Thông báo cho 1000 người")
    await drain(runtime, worker(runtime, telegram_sender, rate=1000.0), limit=120)
    counts = Counter(m.chat_id for m in fake_telegram.sent)
    assert set(counts) == {first + i for i in range(1000)} - blocked
    assert set(counts.values()) == {1}
    # Each 429 held its own chat until retry_after had passed; the others went on meanwhile.
    assert {chat for _at, _after, chat in fake_telegram.rate_limited} == limited
    sent_at = {m.chat_id: m.at for m in fake_telegram.sent}
    for refused_at, retry_after, chat in fake_telegram.rate_limited:
        assert sent_at[chat] >= refused_at + retry_after
    refused_at, retry_after, _chat = fake_telegram.rate_limited[0]
    assert [m for m in fake_telegram.sent if refused_at < m.at < refused_at + retry_after and m.chat_id not in limited]
    assert runtime.metrics.rate_cuts.labels("telegram")._value.get() == 0  # a few chats' 429s: no pause for all
    async with runtime.sessions() as session:
        unreachable = (
            await session.exec(select(ChannelIdentity.chat_id).where(col(ChannelIdentity.unreachable_at).is_not(None)))
        ).all()
        report = await notice_tracking(session, notice)
    assert {int(c) for c in unreachable} == blocked
    assert len(report.recipients) == 1000
    assert (report.count(Delivery.DELIVERED), report.count(Delivery.FAILED)) == (980, 20)
    assert report.channels(Delivery.DELIVERED) == {Platform.TELEGRAM: 980}
    assert {p.reason for p in report.with_state(Delivery.FAILED)} == {"Forbidden: bot was blocked by the user"}


async def test_two_workers_share_one_outbox_without_sending_twice(
    runtime: Runtime, fake_telegram: FakeTelegram, telegram_sender: TelegramSender, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several delivery processes share one outbox on PostgreSQL (SKIP LOCKED)")
    branch_id = await big_branch(runtime, 600, 20_000)
    await _broadcast(runtime, branch_id, "Hai tiến trình")
    limiter = LocalRateLimiter({"telegram": 2000.0})
    workers = [
        DeliveryWorker(
            runtime.sessions, {Platform.TELEGRAM: telegram_sender}, runtime.metrics, limiter=limiter, batch=50
        )
        for _ in range(2)
    ]
    await drain(runtime, *workers, limit=120)
    counts = Counter(m.chat_id for m in fake_telegram.sent)
    assert len(counts) == 600 and set(counts.values()) == {1}
    async with runtime.sessions() as session:
        statuses = Counter((await session.exec(select(OutboxMessage.status))).all())
    assert statuses == {OutboxStatus.SENT: 600}


async def test_a_deactivated_member_gets_no_notice(runtime: Runtime, demo: Demo) -> None:
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        await session.exec(update(Member).where(col(Member.full_name) == "Tạ Văn Bình").values(active=False))
        notice = await create_draft(session, secretary, "Chỉ người đang sinh hoạt.", Audience((secretary.branch_id,)))
        count = await send_now(session, secretary, notice, notice_body_maker(runtime.catalogs))
    assert count == 8  # ten in the branch: not the deactivated member, nor the sender


async def test_several_branches_or_chosen_people(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, 310, f"/start {demo.code('Nguyễn Văn Hùng')}")  # committee secretary
    await say(runtime, 310, payload=NewNotice().pack())
    preview = (await say(runtime, 310, "Họp liên chi bộ."))[0]
    picker = (await say(runtime, 310, payload=button(preview, "Chọn chi bộ")))[0]
    picker = (await say(runtime, 310, payload=button(picker, "Chi bộ thôn Tây")))[0]
    assert "☑️ Chi bộ thôn Tây" in str(picker.buttons) and "☑️ Chi bộ thôn Đông" in str(picker.buttons)
    picker = (await say(runtime, 310, payload=button(picker, "Chi bộ thôn Đông")))[0]  # off again
    picker = (await say(runtime, 310, payload=button(picker, "Trường")))[0]
    shown = (await say(runtime, 310, payload=button(picker, "Xong")))[0]
    # In the dictionary's order: "thôn" before "Trường" (h before r), whatever the capitals.
    assert "Gửi đến: Chi bộ thôn Tây, Chi bộ Trường Tiểu học Tân Hòa" in shown.text and "19 người nhận" in shown.text
    # A branch secretary picks people by name, without accents; only people of the branch count.
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, SECRETARY, payload=NewNotice().pack())
    preview = (await say(runtime, SECRETARY, "Mời họp chi ủy."))[0]
    await say(runtime, SECRETARY, payload=button(preview, "Chọn người nhận"))
    unclear = (await say(runtime, SECRETARY, "ho thi ngoc, van, vu thi mai"))[0].text
    assert "“van” có thể là nhiều người" in unclear and "Không có ai có tên chứa “vu thi mai”" in unclear
    chosen = (await say(runtime, SECRETARY, "ho thi ngoc, mai van son"))[0]
    assert "Gửi đến: Hồ Thị Ngọc, Mai Văn Sơn" in chosen.text  # by given name: Ngọc before Sơn
    assert "2 người nhận" in chosen.text
    sent = (await say(runtime, SECRETARY, payload=button(chosen, "Gửi ngay")))[0]
    # Neither has joined chibo: nothing reached them, and the confirmation says so.
    assert "Đã gửi tới 0 đảng viên qua Telegram hoặc Zalo; 0 sẽ thấy trên trang web; 2 chưa tham gia chibo" in sent.text


async def test_a_notice_with_a_document_on_telegram_end_to_end(
    polling_bot: FakeTelegram,
    demo: Demo,
) -> None:
    fake = polling_bot
    await fake.push(fake.message_update(SECRETARY, f"/start {demo.code('Lý Văn Quang')}"))
    await fake.push(fake.message_update(MEMBER, f"/start {demo.code('Mai Văn Sơn')}"))
    await fake.wait_for(1, MEMBER)
    await fake.push(fake.callback_update(SECRETARY, NewNotice().pack()))
    await fake.push(fake.message_update(SECRETARY, "Lịch họp tháng 12, xem tệp kèm theo."))
    preview = (await fake.wait_for(3, SECRETARY))[2]
    assert "Xem trước thông báo" in preview.text
    send_now_payload = _payload(preview, "Gửi ngay")
    await fake.push(fake.callback_update(SECRETARY, _payload(preview, "Đính kèm")))
    assert "Xin đồng chí gửi tệp hoặc ảnh" in (await fake.wait_for(4, SECRETARY))[3].text
    await fake.push(fake.document_update(SECRETARY, "Báo cáo MẬT.docx", b"PK not really"))
    refused = (await fake.wait_for(5, SECRETARY))[4]
    assert "được đánh dấu “MẬT”" in refused.text and "Không đính kèm" in refused.text
    await fake.push(fake.callback_update(SECRETARY, _payload(preview, "Đính kèm")))
    await fake.wait_for(6, SECRETARY)
    await fake.push(fake.document_update(SECRETARY, "Lịch họp Mặt trận.pdf", b"%PDF-1.4 lich hop"))
    attached = (await fake.wait_for(7, SECRETARY))[6]
    assert "📎 Đính kèm: Lịch họp Mặt trận.pdf" in attached.text
    await fake.push(fake.callback_update(SECRETARY, send_now_payload))
    # A PDF with no text layer cannot be checked for a mark: the secretary confirms it carries none.
    asked = (await fake.wait_for(8, SECRETARY))[7]
    assert "là bản chụp hoặc ảnh" in asked.text
    await fake.push(fake.callback_update(SECRETARY, _payload(asked, "không mang dấu độ mật")))

    async def delivered() -> bool:
        return any(chat == MEMBER for chat, *_rest in fake.documents)

    async with asyncio.timeout(15):
        while not await delivered():  # noqa: ASYNC110 (the delivery worker is in the app)
            await asyncio.sleep(0.05)
    _chat, name, caption, content = next(d for d in fake.documents if d[0] == MEMBER)
    assert name == "Lịch họp Mặt trận.pdf" and content == b"%PDF-1.4 lich hop"
    assert "Lịch họp tháng 12" in caption and "📎 Đính kèm: Lịch họp Mặt trận.pdf" in caption


def _payload(message: SentMessage, label_part: str) -> str:
    markup = message.reply_markup or {}
    for row in markup.get("inline_keyboard", []):
        for candidate in row:
            if label_part in candidate["text"]:
                return str(candidate["callback_data"])
    raise AssertionError(f"no button {label_part!r} in {message.keyboard_labels()}")


async def test_a_notice_that_went_out_cannot_be_cancelled_or_rescheduled(runtime: Runtime, demo: Demo) -> None:
    secretary = await member_named(runtime, "Lý Văn Quang")
    body_for = notice_body_maker(runtime.catalogs)
    async with runtime.sessions() as session, session.begin():
        notice = await create_draft(session, secretary, "Họp.", Audience((secretary.branch_id,)))
        await schedule(session, secretary, notice, utcnow() + timedelta(minutes=1))
    async with runtime.sessions() as session, session.begin():
        stale = await session.get(Notice, notice.id)  # what a secretary's screen still shows
    async with runtime.sessions() as session, session.begin():
        assert await send_due(session, body_for, now=utcnow() + timedelta(minutes=2)) == [notice.id]
    async with runtime.sessions() as session, session.begin():
        assert stale is not None
        session.add(stale)
        with pytest.raises(NoticeError):
            await cancel(session, secretary, stale)
    async with runtime.sessions() as session:
        assert (await session.get(Notice, notice.id)).status is NoticeStatus.SENT  # type: ignore[union-attr]


async def test_a_member_already_unreachable_is_listed_for_the_secretary(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, MEMBER, f"/start {demo.code('Mai Văn Sơn')}")
    async with runtime.sessions() as session, session.begin():
        await session.exec(update(ChannelIdentity).values(unreachable_at=utcnow()))  # blocked the bot earlier
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        notice = await create_draft(session, secretary, "Họp.", Audience((secretary.branch_id,)))
        await send_now(session, secretary, notice, notice_body_maker(runtime.catalogs))
    async with runtime.sessions() as session:
        report = await notice_tracking(session, notice)
    assert [p.name for p in report.with_state(Delivery.FAILED)] == ["Mai Văn Sơn"]
    assert "Mai Văn Sơn" not in [p.name for p in report.with_state(Delivery.NOT_JOINED)]


async def test_text_where_a_file_was_asked_for_asks_again(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, SECRETARY, payload=NewNotice().pack())
    preview = (await say(runtime, SECRETARY, "Thông báo có tệp."))[0]
    await say(runtime, SECRETARY, payload=button(preview, "Đính kèm"))
    again = (await say(runtime, SECRETARY, "đây là tệp"))[0]
    assert "Xin đồng chí gửi tệp hoặc ảnh" in again.text


async def on_web(runtime: Runtime, user: str, text: str | None = None, payload: str | None = None) -> list[Reply]:
    """A member writing in the web chat (the page's session is the chat)."""
    inbound = Inbound(Platform.WEB, user, user, text=text, payload=payload)
    return (await runtime.process(inbound, f"{user}:{next(_web_keys)}", answer_inline=True)).replies


_web_keys = itertools.count(1)


async def test_tracking_tells_per_channel_what_each_member_saw_and_the_csv_says_the_same(
    runtime: Runtime, demo: Demo, fake_telegram: FakeTelegram, telegram_sender: TelegramSender
) -> None:
    """Was: "0 đã gửi, 0 đang chờ, 0 lỗi, 1 đã đọc" for 11; web chat members "không gửi được qua
    chat" even when they had read it; the sender listed as not having read his own notice."""
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")  # the sender
    await say(runtime, MEMBER, f"/start {demo.code('Mai Văn Sơn')}")  # Telegram: reads it
    await say(runtime, 303, f"/start {demo.code('Chu Thị Thảo')}")  # Telegram: has blocked chibo
    await on_web(runtime, "loan", demo.code("Phan Thị Loan"))  # web chat: reads it
    await on_web(runtime, "yen", demo.code("Trịnh Thị Yến"))  # web chat: does not
    fake_telegram.failures[303] = [(403, {"description": "Forbidden: bot was blocked by the user"})]
    await say(runtime, SECRETARY, payload=NewNotice().pack())
    salutation = "Kính gửi các đồng chí đảng viên chi bộ thôn Tây,\n\n"
    text = salutation + "Chi bộ họp định kỳ tháng 12 lúc 19h30 họp tại nhà văn hóa."
    preview = (await say(runtime, SECRETARY, text))[0]
    assert "9 người nhận (không tính đồng chí): 2 nhận qua Telegram hoặc Zalo, 2 đọc trên trang web, 5 chưa" in (
        preview.text
    )  # Chu Thị Thảo has not been refused yet
    sent = (await say(runtime, SECRETARY, payload=button(preview, "Gửi ngay")))[0]
    notice_id = _notice_id(button(sent, "Theo dõi"))
    await drain(runtime, worker(runtime, telegram_sender))
    await say(runtime, MEMBER, payload=ReadNotice(notice_id).pack())
    await on_web(runtime, "loan", payload=ReadNotice(notice_id).pack())

    track = (await say(runtime, SECRETARY, payload=TrackNotice(notice_id).pack()))[0]
    lines = track.text.splitlines()
    assert lines[0] == "📊 Chi bộ họp định kỳ tháng 12 lúc 19h30 họp tại nhà văn hóa."
    assert lines[3:8] == [
        "9 người nhận (không tính người gửi):",
        "✅ đã đọc: 2",
        "📨 đã nhận, chưa đọc: 1 (trò chuyện web 1)",
        "❌ không gửi được: 1 (Telegram 1)",
        "📵 chưa tham gia chibo: 5",
    ]
    assert "• Chu Thị Thảo — Telegram: đã chặn hoặc rời chibo (Forbidden: bot was blocked by the user)" in lines
    # To call, by given name as registers list them: Bình, Dũng, Hạnh, Khánh, Ngọc.
    phoned = lines[lines.index("📵 Chưa tham gia chibo, xin gọi điện:") + 1 :][:5]
    assert [line.split(" — ")[0] for line in phoned] == [
        "• Tạ Văn Bình", "• Cao Văn Dũng", "• Lương Thị Hạnh", "• Đinh Văn Khánh", "• Hồ Thị Ngọc"
    ]  # fmt: skip
    assert all(line.split(" — ")[1].startswith("09") for line in phoned)
    assert lines[-3:] == ["Đã nhận, chưa đọc: Trịnh Thị Yến", "", "✅ Đã đọc: Phan Thị Loan, Mai Văn Sơn"]
    assert "Lý Văn Quang" not in track.text

    # The CSV says what the screen says: one row per recipient, the same states.
    export = (await say(runtime, SECRETARY, payload=button(track, "Xuất tệp CSV")))[0]
    assert export.document is not None and export.document.inline is not None
    table = list(csv.reader(io.StringIO(base64.b64decode(export.document.inline).decode("utf-8-sig"))))
    states = Counter(row[3] for row in table[1:])
    assert states == {"đã đọc": 2, "đã nhận, chưa đọc": 1, "không gửi được": 1, "chưa tham gia chibo": 5}
    yen = next(row for row in table if row[0] == "Trịnh Thị Yến")
    assert yen[3:6] == ["đã nhận, chưa đọc", "trò chuyện web", ""]
    loan = next(row for row in table if row[0] == "Phan Thị Loan")
    assert loan[3] == "đã đọc" and loan[6]  # read in the web chat, with the time
    thao = next(row for row in table if row[0] == "Chu Thị Thảo")
    blocked = "đã chặn hoặc rời chibo (Forbidden: bot was blocked by the user)"
    assert thao[3:6] == ["không gửi được", "Telegram", blocked]

    # "Sent notices": when, by whom, to whom, what it says past the salutation, how many read it.
    listed = (await say(runtime, SECRETARY, payload=SentNotices().pack()))[0].text
    assert "Người gửi: Lý Văn Quang — Gửi đến: Chi bộ thôn Tây" in listed
    assert "“Chi bộ họp định kỳ tháng 12 lúc 19h30 họp tại nhà văn hóa.”" in listed
    assert "Đã đọc: 2/9" in listed and "Kính gửi" not in listed

    # A reminder that would reach nobody says why and starts no waiting period.
    nobody = (await say(runtime, SECRETARY, payload=NudgeNotice(notice_id).pack()))[0].text
    assert nobody.startswith("Không nhắc được ai qua tin nhắn: trong 7 đồng chí chưa đọc, 5 đồng chí chưa tham gia")
    assert "1 đồng chí chỉ dùng trang web" in nobody and "1 đồng chí đã chặn hoặc rời chibo" in nobody
    await say(runtime, 303, "/me")  # Chu Thị Thảo writes again: chibo can reach her
    again = (await say(runtime, SECRETARY, payload=NudgeNotice(notice_id).pack()))[0].text
    assert again == "Đã nhắc lại: 1 tin nhắn."


async def test_everyone_read_it_nobody_to_remind(runtime: Runtime, demo: Demo, tmp_path: Path) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, MEMBER, f"/start {demo.code('Mai Văn Sơn')}")
    mai = await member_named(runtime, "Mai Văn Sơn")
    async with runtime.sessions() as session, session.begin():
        secretary = await session.get(Member, (await member_named(runtime, "Lý Văn Quang")).id)
        assert secretary is not None
        audience = Audience((secretary.branch_id,), members=(mai.id or 0, secretary.id or 0))
        notice = await create_draft(session, secretary, "Họp.", audience)
        await send_now(session, secretary, notice, notice_body_maker(runtime.catalogs))
    await say(runtime, MEMBER, payload=ReadNotice(notice.id or 0).pack())
    track = (await say(runtime, SECRETARY, payload=TrackNotice(notice.id or 0).pack()))[0]
    assert "1 người nhận (không tính người gửi):\n✅ đã đọc: 1" in track.text  # the sender's own copy is not counted
    assert "Nhắc người chưa đọc" not in str(track.buttons)
    done = (await say(runtime, SECRETARY, payload=NudgeNotice(notice.id or 0).pack()))[0].text
    assert done == "Mọi người đã đọc: không cần nhắc ai."
    # `chibo notices receipts` on the server writes the table the chat exports.
    export = (await say(runtime, SECRETARY, payload=button(track, "Xuất tệp CSV")))[0]
    assert export.document is not None and export.document.inline is not None
    in_chat = list(csv.reader(io.StringIO(base64.b64decode(export.document.inline).decode("utf-8-sig"))))
    env = {"CHIBO_DATABASE_URL": runtime.settings.database_url}
    done_cli = await asyncio.to_thread(run_chibo, "notices", "receipts", str(notice.id), "r.csv", env=env, cwd=tmp_path)
    assert done_cli.returncode == 0, done_cli.stderr
    from_server = list(csv.reader(io.StringIO((tmp_path / "r.csv").read_text(encoding="utf-8-sig"))))
    assert from_server == in_chat and [row[0] for row in in_chat] == ["Họ và tên", "Mai Văn Sơn"]


async def test_a_notice_sent_from_a_chat_answered_in_the_request_wakes_delivery_on_commit(
    runtime: Runtime, demo: Demo
) -> None:
    """The web chat and the desk answer in the request: before, the notice's messages waited for
    the delivery worker's next look (up to 2 s; an outside tester timed it)."""
    woken = 0

    def wake() -> None:
        nonlocal woken
        woken += 1

    runtime.on_outbox = wake
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, MEMBER, f"/start {demo.code('Mai Văn Sơn')}")
    await say(runtime, SECRETARY, payload=NewNotice().pack())
    preview = (await say(runtime, SECRETARY, "Họp chi bộ lúc 19:00 thứ Sáu."))[0]
    before = woken
    await say(runtime, SECRETARY, payload=button(preview, "Gửi ngay"))  # say: answered in the request
    assert woken == before + 1


async def test_delivery_is_woken_by_the_commit_not_by_a_savepoint_released_before_it(
    runtime: Runtime, demo: Demo
) -> None:
    """Group commit releases a savepoint per update before the one commit: the worker woken then
    would look before the rows are there, and not be woken again (review)."""
    woken = 0

    def wake() -> None:
        nonlocal woken
        woken += 1

    runtime.on_outbox = wake
    son = await member_named(runtime, "Mai Văn Sơn")
    chat = ChannelIdentity(platform=Platform.TELEGRAM, platform_user_id="9301", chat_id="9301", member_id=son.id or 0)
    async with runtime.sessions() as session, session.begin():
        async with session.begin_nested():
            Outbox(session).add([chat], Reply("Nhắc lịch họp").to_dict(), member_id=son.id)
        assert woken == 0  # the savepoint is released, nothing is committed yet
    assert woken == 1
