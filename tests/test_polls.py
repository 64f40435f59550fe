"""Polls and votes: the rules, one ballot each under any load, secrecy, eligibility, closing once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, inspect, update
from sqlmodel import col, select

from bot.channels.telegram import TelegramSender
from bot.channels.web import render
from bot.runtime import Runtime
from handlers.actions import decode
from handlers.contract import Inbound, Reply
from handlers.menus import NewPoll
from handlers.polls import ballot_maker, result_header, result_rows, results_maker
from handlers.polls.actions import (
    CancelPoll,
    ConfirmClosePoll,
    PaperVote,
    PollSetting,
    PublishPoll,
    SetPoll,
    ToggleChoice,
    TrackPoll,
    Vote,
)
from handlers.questions import Ask, Question
from models.polls import close_due, create_draft, publish
from models.tables import (
    Attendance,
    AuditEvent,
    ChannelIdentity,
    Meeting,
    MeetingInvitation,
    MeetingStatus,
    Member,
    OpenBallot,
    OutboxMessage,
    Platform,
    Poll,
    PollEligible,
    PollKind,
    PollOpinion,
    PollStatus,
    PollTally,
    PollVoter,
    PollVoters,
    ProcessedUpdate,
    SealedBallot,
    utcnow,
)
from models.typed_time import canonical
from scheduler.polls import close_due_polls
from tests.chat import button, say, vi
from tests.conftest import Demo, Webhook, member_named, open_election, worker
from tests.fake_telegram import FakeTelegram
from tests.test_delivery import drain
from tests.test_records import open_card

SECRETARY = 400


# --- in chat ----------------------------------------------------------------------------------------


def _tracked(opened: Reply) -> int:
    """The poll whose "Track" button a reply carries."""
    track = decode(button(opened, "Theo dõi"))
    assert isinstance(track, TrackPoll)
    return track.poll_id


async def _open_poll(runtime: Runtime, demo: Demo, *, secret: bool = False, voters: int = 8) -> int:
    """Lý Văn Quang (Tây) sets up and publishes a resolution vote; the poll id."""
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    manage = (await say(runtime, SECRETARY, "/quanly"))[0]
    await say(runtime, SECRETARY, payload=button(manage, "Biểu quyết mới"))
    preview = (await say(runtime, SECRETARY, "Thông qua kế hoạch quý I?"))[0]
    assert "1. Tán thành\n2. Không tán thành\n3. Ý kiến khác" in preview.text
    assert "Loại: biểu quyết thông qua (Tán thành / Không tán thành / Ý kiến khác)" in preview.text
    assert vi("more than half of the base") in preview.text
    if secret:
        preview = (await say(runtime, SECRETARY, payload=button(preview, "bỏ phiếu kín")))[0]
        assert "Hình thức: bỏ phiếu kín" in preview.text
    opened = (await say(runtime, SECRETARY, payload=button(preview, "Mở biểu quyết")))[0]
    assert f"{voters} đảng viên được bỏ phiếu" in opened.text  # Tây: 10 members, 2 probationary
    return _tracked(opened)


async def test_a_resolution_vote_from_setup_to_result(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    await say(runtime, 402, f"/start {demo.code('Trịnh Thị Yến')}")  # probationary
    poll_id = await _open_poll(runtime, demo)
    async with runtime.sessions() as session:
        ballots = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.body)["text"].is_not(None)))).all()
    assert {b.chat_id for b in ballots if "Thông qua kế hoạch" in b.body["text"]} == {"400", "401"}
    # The member taps "Tán thành" on the ballot: recorded, and the ballot is edited to show it.
    tapped = (await say(runtime, 401, payload=Vote(poll_id, 1).pack(), source_message_id="77"))[0]
    assert "Đã ghi nhận phiếu của đồng chí: Tán thành" in tapped.text and tapped.edit_message_id == "77"
    changed = (await say(runtime, 401, payload=Vote(poll_id, 2).pack()))[0]
    assert "Đã đổi phiếu của đồng chí thành: Không tán thành" in changed.text
    assert "không thuộc danh sách biểu quyết" in (await say(runtime, 402, payload=Vote(poll_id, 1).pack()))[0].text
    open_list = await say(runtime, 401, "🗳 Biểu quyết đang mở")
    assert "Đồng chí đã bỏ phiếu: Không tán thành" in open_list[0].text
    await say(runtime, SECRETARY, payload=Vote(poll_id, 1).pack())
    track = (await say(runtime, SECRETARY, payload=TrackPoll(poll_id).pack()))[0]
    assert "Đã bỏ phiếu: 2 trên 8" in track.text and "Chưa bỏ phiếu (6)" in track.text
    asked = (await say(runtime, SECRETARY, payload=button(track, "Kết thúc ngay")))[0]
    closed = (await say(runtime, SECRETARY, payload=button(asked, "Xác nhận kết thúc")))[0]
    # The base: 8 official members less Tạ Văn Bình, exempt, who did not vote.
    assert "Tán thành: 1/7 (14,3%)" in closed.text and "Không tán thành: 1/7 (14,3%)" in closed.text
    assert "❌ Ý kiến tán thành không đạt quá nửa cơ sở tính: 1/7 đồng chí (14,3%), cần ít nhất 4." in closed.text
    # Turnout (who voted of who could) apart from the base every share is of.
    assert "Đã bỏ phiếu: 2 trên 8 người có quyền biểu quyết." in closed.text
    assert "Cơ sở tính: 7 đồng chí (không tính miễn sinh hoạt, không tham gia: 1)" in closed.text
    assert "đã kết thúc" in (await say(runtime, 401, payload=Vote(poll_id, 1).pack()))[0].text
    assert await _count(runtime, OpenBallot, poll_id) == 2


async def test_a_multi_choice_ballot_is_ticked_then_sent(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, SECRETARY, payload=NewPoll().pack())
    preview = (await say(runtime, SECRETARY, "Chọn ngày tổng vệ sinh"))[0]
    kinds = (await say(runtime, SECRETARY, payload=button(preview, "Loại biểu quyết")))[0]
    preview = (await say(runtime, SECRETARY, payload=button(kinds, "lấy ý kiến")))[0]
    assert "Loại: lấy ý kiến (chỉ tổng hợp, không thông qua)" in preview.text
    await say(runtime, SECRETARY, payload=button(preview, "Phương án"))
    preview = (await say(runtime, SECRETARY, "Chủ nhật 7/12\nChủ nhật 14/12\nThứ bảy 20/12"))[0]
    assert "1. Chủ nhật 7/12\n2. Chủ nhật 14/12\n3. Thứ bảy 20/12" in preview.text
    preview = (await say(runtime, SECRETARY, payload=button(preview, "Số lựa chọn")))[0]
    assert "Số phương án mỗi người được chọn: 2" in preview.text
    preview = (await say(runtime, SECRETARY, payload=button(preview, "Người biểu quyết")))[0]
    assert vi("all members, probationary too") in preview.text
    opened = (await say(runtime, SECRETARY, payload=button(preview, "Mở biểu quyết")))[0]
    assert "10 đảng viên" in opened.text
    poll_id = _tracked(opened)
    ticked = (await say(runtime, SECRETARY, payload=ToggleChoice(poll_id, 1).pack()))[0]
    assert "☑️ Chủ nhật 7/12" in str(ticked.buttons) and "⬜ Chủ nhật 14/12" in str(ticked.buttons)
    ticked = (await say(runtime, SECRETARY, payload=button(ticked, "Thứ bảy 20/12")))[0]
    sent = (await say(runtime, SECRETARY, payload=button(ticked, "Gửi phiếu")))[0]
    assert "Đã ghi nhận phiếu của đồng chí: Chủ nhật 7/12, Thứ bảy 20/12" in sent.text
    # The ballot keeps the choice ticked, to be changed from (it showed every box empty again).
    assert "☑️ Chủ nhật 7/12" in str(sent.buttons) and "⬜ Chủ nhật 14/12" in str(sent.buttons)
    assert "☑️ Thứ bảy 20/12" in str(sent.buttons)
    # Changing it: the ballot being ticked says what stands until it is sent again (found by the
    # outside tester: the ticks alone looked as if the vote had been undone).
    changing = (await say(runtime, SECRETARY, payload=button(sent, "Thứ bảy 20/12")))[0]
    assert "☑️ Chủ nhật 7/12" in str(changing.buttons) and "⬜ Thứ bảy 20/12" in str(changing.buttons)
    assert "Phiếu của đồng chí vẫn giữ như cũ: Chủ nhật 7/12, Thứ bảy 20/12." in changing.text
    assert "vẫn giữ như cũ" not in ticked.text  # nothing stood before the first ballot was sent
    listed = [r for r in await say(runtime, SECRETARY, "🗳 Biểu quyết đang mở") if "Chọn ngày tổng vệ sinh" in r.text]
    assert "☑️ Chủ nhật 7/12" in str(listed[0].buttons) and "☑️ Thứ bảy 20/12" in str(listed[0].buttons)
    assert "Đã đổi phiếu" in (await say(runtime, SECRETARY, payload=Vote(poll_id, 2).pack()))[0].text
    assert "chọn quá 2 phương án" in (await say(runtime, SECRETARY, payload=Vote(poll_id, 7).pack()))[0].text  # 3 > 2
    # Once closed, ticking says so, as sending does (it said the button was no longer valid).
    await say(runtime, SECRETARY, payload=ConfirmClosePoll(poll_id).pack())
    for late in (ToggleChoice(poll_id, 1), Vote(poll_id, 1)):
        assert "Cuộc biểu quyết đã kết thúc" in (await say(runtime, SECRETARY, payload=late.pack()))[0].text


async def test_a_button_of_the_preview_typed_in_words_asks_its_question(runtime: Runtime, demo: Demo) -> None:
    """A typed label reaches the polls router as a tap would: the options are asked for, then saved."""
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, SECRETARY, payload=NewPoll().pack())
    await say(runtime, SECRETARY, "Chọn ngày tổng vệ sinh")
    asked = (await say(runtime, SECRETARY, "phương án"))[0]
    assert "cách nhau bằng dấu chấm phẩy" in asked.text
    preview = (await say(runtime, SECRETARY, "Chủ nhật 7/12; Chủ nhật 14/12"))[0]
    assert "1. Chủ nhật 7/12\n2. Chủ nhật 14/12" in preview.text


async def _count(runtime: Runtime, table: type, poll_id: int) -> int:
    async with runtime.sessions() as session:
        query = select(func.count()).select_from(table).where(table.poll_id == poll_id)  # type: ignore[attr-defined]
        return int((await session.exec(query)).one())


@pytest.mark.parametrize("secret", [False, True], ids=["open", "secret"])
async def test_fifty_taps_at_once_make_one_ballot(runtime: Runtime, demo: Demo, secret: bool) -> None:
    poll_id = await _open_poll(runtime, demo, secret=secret)
    member = await member_named(runtime, "Đinh Văn Khánh")
    async with runtime.sessions() as session, session.begin():
        session.add(ChannelIdentity(platform=Platform.WEB, platform_user_id="k", chat_id="k", member_id=member.id or 0))

    async def tap(n: int) -> str:
        # The same and different options; a secret ballot's taps on its confirmation.
        payload = Vote(poll_id, 1 << (n % 3)).pack()
        inbound = Inbound(platform=Platform.WEB, user_id="k", chat_id="k", payload=payload)
        return (await runtime.process(inbound, f"tap-{n}", answer_inline=True)).replies[0].text

    answers = await asyncio.gather(*(tap(n) for n in range(50)))
    assert sum("Đã ghi nhận" in a for a in answers) == 1
    assert await _count(runtime, PollVoter, poll_id) == 1
    if secret:
        assert sum("đã bỏ phiếu rồi" in a for a in answers) == 49
        assert await _count(runtime, SealedBallot, poll_id) == 1
    else:
        assert await _count(runtime, OpenBallot, poll_id) == 1


async def test_a_secret_ballot_cannot_be_traced_to_a_member(runtime: Runtime, demo: Demo) -> None:
    poll_id = await _open_poll(runtime, demo, secret=True)
    for user, name, mask in ((401, "Mai Văn Sơn", 1), (403, "Chu Thị Thảo", 2), (404, "Phan Thị Loan", 1)):
        await say(runtime, user, f"/start {demo.code(name)}")
        reply = (await say(runtime, user, payload=Vote(poll_id, mask).pack()))[0]
        assert "Đã ghi nhận phiếu kín" in reply.text and reply.buttons == ()
        assert "Tán thành" not in reply.text  # not even the confirmation names the choice
        assert "đã bỏ phiếu rồi" in (await say(runtime, user, payload=Vote(poll_id, 4).pack()))[0].text  # final
    async with runtime.engine.connect() as connection:
        columns = await connection.run_sync(
            lambda sync: {
                t: {c["name"] for c in inspect(sync).get_columns(t)} for t in ("polltally", "pollvoter", "sealedballot")
            }
        )
    # Sealed ballots have no member; the counts only a count per option; the roll no choice, no time.
    assert columns["sealedballot"] == {"poll_id", "sealed"}
    assert columns["polltally"] == {"poll_id", "option", "votes"}
    assert columns["pollvoter"] == {"poll_id", "member_id", "entered_by_member_id"}
    assert await _count(runtime, SealedBallot, poll_id) == 3 and await _count(runtime, PollTally, poll_id) == 0
    await say(runtime, SECRETARY, payload=ConfirmClosePoll(poll_id).pack())
    async with runtime.sessions() as session:
        tally = (
            await session.exec(select(PollTally.option, PollTally.votes).where(PollTally.poll_id == poll_id))
        ).all()
    assert sorted(tally) == [(0, 2), (1, 1), (2, 0)] and await _count(runtime, SealedBallot, poll_id) == 0
    assert await _count(runtime, OpenBallot, poll_id) == 0
    # Nothing stored for delivery or retries pairs a chat with a choice either.
    async with runtime.sessions() as session:
        stored = [str(b) for b in (await session.exec(select(OutboxMessage.body))).all()]
        stored += [str(r) for r in (await session.exec(select(ProcessedUpdate.result))).all()]
    confirmations = [text.split("Đã ghi nhận", 1)[1] for text in stored if "Đã ghi nhận" in text]
    assert len(confirmations) >= 3 and not [c for c in confirmations if "Tán thành" in c]


@pytest.mark.parametrize(
    ("name", "voters", "eligible"),
    [
        ("Mai Văn Sơn", PollVoters.OFFICIALS, True),  # official
        ("Trịnh Thị Yến", PollVoters.OFFICIALS, False),  # probationary
        ("Trịnh Thị Yến", PollVoters.ALL, True),  # a consultation of everyone
        ("Tạ Văn Bình", PollVoters.OFFICIALS, True),  # exempt members may vote
        ("Hồ Thị Ngọc", PollVoters.COMMITTEE, True),  # the deputy is on the committee
        ("Mai Văn Sơn", PollVoters.COMMITTEE, False),
        ("Vũ Thị Mai", PollVoters.OFFICIALS, False),  # another branch
    ],
)
async def test_who_may_vote(runtime: Runtime, demo: Demo, name: str, voters: PollVoters, eligible: bool) -> None:
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        poll = await create_draft(session, secretary, "Câu hỏi?", [secretary.branch_id], utcnow() + timedelta(days=1))
        poll.voters = voters
        await publish(session, secretary, poll, ballot_maker(runtime.catalogs, runtime.settings.tz))
    await say(runtime, 500, f"/start {demo.code(name)}")
    reply = (await say(runtime, 500, payload=Vote(poll.id or 0, 1).pack()))[0].text
    assert ("Đã ghi nhận" in reply) is eligible, reply


async def test_deactivated_and_strangers_cannot_vote(runtime: Runtime, demo: Demo) -> None:
    poll_id = await _open_poll(runtime, demo)
    await say(runtime, 501, f"/start {demo.code('Đinh Văn Khánh')}")
    async with runtime.sessions() as session, session.begin():
        await session.exec(update(Member).where(col(Member.full_name) == "Đinh Văn Khánh").values(active=False))
    assert "chỉ phục vụ đảng viên" in (await say(runtime, 501, payload=Vote(poll_id, 1).pack()))[0].text
    assert "chỉ phục vụ đảng viên" in (await say(runtime, 502, payload=Vote(poll_id, 1).pack()))[0].text
    async with runtime.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(PollVoter))).one() == 0


async def test_the_deadline_closes_a_poll_once_with_two_schedulers(runtime: Runtime, demo: Demo) -> None:
    poll_id = await _open_poll(runtime, demo)
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    await say(runtime, 401, payload=Vote(poll_id, 1).pack())
    async with runtime.sessions() as session, session.begin():
        await session.exec(update(Poll).where(col(Poll.id) == poll_id).values(deadline=utcnow() - timedelta(seconds=1)))
        before = (await session.exec(select(func.count()).select_from(OutboxMessage))).one()
    results_for = results_maker(runtime.catalogs)
    first, second = await asyncio.gather(
        close_due_polls(runtime.sessions, results_for, lambda: None),
        close_due_polls(runtime.sessions, results_for, lambda: None),
    )
    assert sorted(first + second) == [poll_id]
    async with runtime.sessions() as session:
        results = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.id) > before))).all()
        poll = await session.get(Poll, poll_id)
        assert await close_due(session) == []
    assert poll is not None and poll.status is PollStatus.CLOSED
    assert sorted(r.chat_id for r in results) == ["400", "401"]  # each linked member once
    assert "Kết quả: Thông qua kế hoạch quý I?" in results[0].body["text"]


async def test_a_vote_by_webhook_is_counted_once_however_often_telegram_delivers_it(
    webhook: Webhook,
    demo: Demo,
) -> None:
    runtime = webhook.runtime
    poll_id = await _open_poll(runtime, demo)
    await say(runtime, 601, f"/start {demo.code('Mai Văn Sơn')}")
    update_body = webhook.fake.callback_update(601, Vote(poll_id, 1).pack())
    responses = await asyncio.gather(*(webhook.post(update_body) for _ in range(3)))
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert (await webhook.post(update_body)).status_code == 200
    assert await webhook.count(PollVoter) == 1 and await webhook.count(OpenBallot) == 1


async def test_a_paper_vote_in_an_open_poll_is_entered_once_and_audited(runtime: Runtime, demo: Demo) -> None:
    poll_id = await _open_poll(runtime, demo)
    track = (await say(runtime, SECRETARY, payload=TrackPoll(poll_id).pack()))[0]
    assert vi("Enter the paper box counts") not in str(track.buttons)  # a paper box is for secret ballots
    await say(runtime, SECRETARY, payload=button(track, "Nhập phiếu giấy"))
    found = (await say(runtime, SECRETARY, "ta van binh"))[0]  # an elderly member without a phone
    ballot = (await say(runtime, SECRETARY, payload=button(found, "Tạ Văn Bình")))[0]
    recorded = (await say(runtime, SECRETARY, payload=button(ballot, "Không tán thành")))[0]
    assert "Đã ghi nhận phiếu giấy của Tạ Văn Bình" in recorded.text
    again = (await say(runtime, SECRETARY, payload=button(ballot, "Tán thành")))[0]
    assert "đã bỏ phiếu rồi" in again.text
    async with runtime.sessions() as session:
        voter = (await session.exec(select(PollVoter).where(PollVoter.poll_id == poll_id))).one()
        event = (await session.exec(select(AuditEvent).where(AuditEvent.action == "poll.paper_vote"))).one()
    secretary = await member_named(runtime, "Lý Văn Quang")
    assert voter.entered_by_member_id == secretary.id and event.actor_member_id == secretary.id
    assert event.after == {"member_id": voter.member_id, "options": [1]}  # an open vote keeps the name
    # A branch member cannot enter votes for others.
    member_id = voter.member_id
    await say(runtime, 406, f"/start {demo.code('Phan Thị Loan')}")
    forged = PaperVote(poll_id, member_id, 1).pack()  # refused as a made-up id would be
    assert "Nút này không còn dùng được nữa" in (await say(runtime, 406, payload=forged))[0].text


async def test_results_come_with_a_bar_chart_on_telegram_and_in_the_web_chat(
    runtime: Runtime,
    demo: Demo,
    fake_telegram: FakeTelegram,
    telegram_sender: TelegramSender,
) -> None:
    poll_id = await _open_poll(runtime, demo)
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    await say(runtime, 401, payload=Vote(poll_id, 1).pack())
    async with runtime.sessions() as session, session.begin():
        await session.exec(update(Poll).where(col(Poll.id) == poll_id).values(deadline=utcnow() - timedelta(seconds=1)))
    await close_due_polls(runtime.sessions, results_maker(runtime.catalogs), lambda: None)
    await drain(runtime, worker(runtime, telegram_sender))
    photos = {chat: (caption, png) for chat, caption, png in fake_telegram.photos}
    assert set(photos) == {SECRETARY, 401}
    caption, png = photos[401]
    assert (
        png.startswith(b"\x89PNG") and "Kết quả: Thông qua kế hoạch quý I?" in caption and "Tán thành: 1/7" in caption
    )
    # In the web chat the picture comes drawn with the reply.
    web_poll = await _open_poll(runtime, demo)
    async with runtime.sessions() as session, session.begin():
        secretary = await member_named(runtime, "Lý Văn Quang")
        session.add(
            ChannelIdentity(platform=Platform.WEB, platform_user_id="w", chat_id="w", member_id=secretary.id or 0)
        )
    inbound = Inbound(platform=Platform.WEB, user_id="w", chat_id="w", payload=ConfirmClosePoll(web_poll).pack())
    closed = (await runtime.process(inbound, "w1", answer_inline=True)).replies[0]
    assert render(closed)["image"].startswith("data:image/png;base64,")
    # Drawn for a phone: 720 px wide (shown about 330 px wide), the rule's threshold marked and named.
    assert int.from_bytes(png[16:20], "big") == 720
    assert closed.chart is not None and (closed.chart.threshold, closed.chart.threshold_label) == (4, "cần 4/7 phiếu")


async def test_running_totals_only_when_the_poll_shows_them(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    for shown in (False, True):
        await say(runtime, SECRETARY, payload=NewPoll().pack())
        preview = (await say(runtime, SECRETARY, f"Câu hỏi {shown}?"))[0]
        if shown:
            preview = (await say(runtime, SECRETARY, payload=button(preview, "Kết quả tạm")))[0]
            assert "Cho đảng viên xem kết quả tạm: có" in preview.text
        opened = (await say(runtime, SECRETARY, payload=button(preview, "Mở biểu quyết")))[0]
        poll_id = _tracked(opened)
        voted = (await say(runtime, SECRETARY, payload=Vote(poll_id, 1).pack()))[0].text
        assert ("Kết quả tạm: Tán thành: 1, Không tán thành: 0, Ý kiến khác: 0" in voted) is shown


async def test_a_final_vote_and_a_result_for_the_secretary_only(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    await say(runtime, SECRETARY, payload=NewPoll().pack())
    preview = (await say(runtime, SECRETARY, "Bầu tổ trưởng?"))[0]
    preview = (await say(runtime, SECRETARY, payload=button(preview, "Đổi phiếu")))[0]
    preview = (await say(runtime, SECRETARY, payload=button(preview, "Gửi kết quả cho mọi người")))[0]
    assert "Được đổi phiếu đến hạn chót: không" in preview.text
    assert "Gửi kết quả cho mọi người có quyền biểu quyết: không" in preview.text
    opened = (await say(runtime, SECRETARY, payload=button(preview, "Mở biểu quyết")))[0]
    poll_id = _tracked(opened)
    assert "Đã ghi nhận" in (await say(runtime, 401, payload=Vote(poll_id, 1).pack()))[0].text
    assert "đã bỏ phiếu rồi" in (await say(runtime, 401, payload=Vote(poll_id, 2).pack()))[0].text
    async with runtime.sessions() as session, session.begin():
        await session.exec(update(Poll).where(col(Poll.id) == poll_id).values(deadline=utcnow() - timedelta(seconds=1)))
        before = (await session.exec(select(func.count()).select_from(OutboxMessage))).one()
    await close_due_polls(runtime.sessions, results_maker(runtime.catalogs), lambda: None)
    async with runtime.sessions() as session:
        results = (await session.exec(select(OutboxMessage.chat_id).where(col(OutboxMessage.id) > before))).all()
    assert list(results) == [str(SECRETARY)]


async def test_a_secret_election_has_several_seats_and_shows_no_counts_before_the_close(
    runtime: Runtime, demo: Demo
) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, SECRETARY, payload=NewPoll().pack())
    preview = (await say(runtime, SECRETARY, "Bầu chi ủy viên?"))[0]
    preview = (await say(runtime, SECRETARY, payload=button(preview, "Kết quả tạm")))[0]
    kinds = (await say(runtime, SECRETARY, payload=button(preview, "Loại biểu quyết")))[0]
    preview = (await say(runtime, SECRETARY, payload=button(kinds, "bầu cử")))[0]
    assert "Loại: bầu cử" in preview.text and "Hình thức: bỏ phiếu kín" in preview.text  # elections are secret
    await say(runtime, SECRETARY, payload=button(preview, "Phương án"))
    preview = (await say(runtime, SECRETARY, "Nguyễn Văn A\nTrần Thị B\nLê Văn C"))[0]
    assert "Ứng cử viên:\n1. Nguyễn Văn A" in preview.text and "Loại: bầu cử" in preview.text
    preview = (await say(runtime, SECRETARY, payload=button(preview, "Số lựa chọn")))[0]
    # k of n by secret ballot (issue 14), filled in k steps whose choices travel sealed (test_secret_ballot).
    assert "Số đồng chí được bầu (tối đa mỗi phiếu): 2" in preview.text
    assert "Cho đảng viên xem kết quả tạm: không" in preview.text
    opened = (await say(runtime, SECRETARY, payload=button(preview, "Mở biểu quyết")))[0]
    poll_id = _tracked(opened)
    await say(runtime, SECRETARY, payload=Vote(poll_id, 1).pack())
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    ballot = (await say(runtime, 401, "🗳 Biểu quyết đang mở"))[0]
    # Two places, each left blank: a blank ballot, cast after the second step (test_secret_ballot).
    assert "Phiếu điền trong 2 bước" in ballot.text and "Bước 1/2" in ballot.text
    assert "mỗi bước bấm tên một ứng cử viên hoặc “Để trống”" in ballot.text and "phương án" not in ballot.text
    second = (await say(runtime, 401, payload=button(ballot, "Để trống")))[0]
    assert "Bước 2/2" in second.text and "Phiếu được gửi ngay sau bước 2" in second.text
    blank = (await say(runtime, 401, payload=button(second, "Để trống")))[0]
    assert "Đã ghi nhận phiếu kín" in blank.text and "Bước" not in blank.text  # cast: no step is left
    track = (await say(runtime, SECRETARY, payload=TrackPoll(poll_id).pack()))[0].text
    assert "khi kết thúc" in track and "Nguyễn Văn A:" not in track and "Đã bỏ phiếu: 2 trên 8" in track
    # What "4/7" is out of: the base, not the 8 entitled to vote (Tạ Văn Bình, exempt, has not voted).
    assert "Ứng cử viên trúng cử khi đạt ít nhất 4/7 phiếu." in track
    assert "Cơ sở tính: 7 đồng chí (không tính miễn sinh hoạt, không tham gia: 1)." in track
    # A published poll is no longer a draft, whatever a stale preview button says.
    assert (
        "đã được mở hoặc đã hủy"
        in (await say(runtime, SECRETARY, payload=SetPoll(poll_id, PollSetting.SECRET).pack()))[0].text
    )
    assert "đã được mở hoặc đã hủy" in (await say(runtime, SECRETARY, payload=CancelPoll(poll_id).pack()))[0].text
    closed = (await say(runtime, SECRETARY, payload=ConfirmClosePoll(poll_id).pack()))[0].text
    assert "Nguyễn Văn A: 1/7 (14,3%) — không trúng cử" in closed and "Phiếu trắng: 1" in closed
    assert "Không đồng chí nào trúng cử (mỗi ứng cử viên cần ít nhất 4/7)" in closed


async def test_ticking_a_ballot_is_for_those_who_may_vote(runtime: Runtime, demo: Demo) -> None:
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        poll = await create_draft(session, secretary, "Chọn ngày?", [secretary.branch_id], utcnow() + timedelta(days=1))
        poll.max_choices = 2
        session.add(poll)
    await say(runtime, 700, f"/start {demo.code('Vũ Thị Mai')}")  # another branch
    assert (
        "không còn dùng được" in (await say(runtime, 700, payload=ToggleChoice(poll.id or 0, 1).pack()))[0].text
    )  # a draft
    async with runtime.sessions() as session, session.begin():
        draft = await session.get(Poll, poll.id)
        assert draft is not None
        await publish(session, secretary, draft, ballot_maker(runtime.catalogs, runtime.settings.tz))
    # Another branch's poll: answered as one that does not exist (it was "not on the list").
    refused = (await say(runtime, 700, payload=ToggleChoice(poll.id or 0, 1).pack()))[0].text
    assert "không còn dùng được" in refused and "Chọn ngày" not in refused


async def test_an_election_ballot_speaks_of_candidates_not_options(runtime: Runtime, demo: Demo) -> None:
    """Found by the outside tester: an election's ballot said "chọn tối đa 2 đồng chí" and "Chọn tối đa
    2 phương án", and a ballot naming three said "Đồng chí đã chọn quá 2 phương án"."""
    poll_id = await open_election(runtime, "Bầu tổ trưởng", ["Nguyễn An", "Trần Bình", "Lê Cường"], 2, secret=False)
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    ballot = (await say(runtime, 401, "🗳 Biểu quyết đang mở"))[0].text
    assert "Chọn tối đa 2 người, rồi bấm “Gửi phiếu”." in ballot and "phương án" not in ballot
    crowded = (await say(runtime, 401, payload=Vote(poll_id, 7).pack()))[0].text
    assert "Đồng chí đã chọn quá 2 người, nhiều hơn số cần bầu: phiếu chưa được ghi nhận." in crowded
    assert "phương án" not in crowded
    ticked = (await say(runtime, 401, payload=ToggleChoice(poll_id, 7).pack()))[0].text
    assert "⚠️ Tối đa 2 người." in ticked and "phương án" not in ticked


# --- what the result says ---------------------------------------------------------------------------


async def test_a_motion_most_voters_reject_is_not_adopted(runtime: Runtime, demo: Demo) -> None:
    # Tây: 8 official members; Tạ Văn Bình, exempt, does not vote, so the base is 7 and 4 adopt.
    poll_id = await _open_poll(runtime, demo)
    against = ("Mai Văn Sơn", "Hồ Thị Ngọc", "Đinh Văn Khánh", "Lương Thị Hạnh", "Phan Thị Loan")
    for user, name in enumerate(against, start=401):
        await say(runtime, user, f"/start {demo.code(name)}")
        assert "Không tán thành" in (await say(runtime, user, payload=Vote(poll_id, 2).pack()))[0].text
    await say(runtime, 406, f"/start {demo.code('Chu Thị Thảo')}")
    await say(runtime, 406, payload=Vote(poll_id, 1).pack())
    await say(runtime, SECRETARY, payload=Vote(poll_id, 1).pack())
    closed = (await say(runtime, SECRETARY, payload=ConfirmClosePoll(poll_id).pack()))[0].text
    assert "❌ Ý kiến tán thành không đạt quá nửa cơ sở tính: 2/7 đồng chí (28,6%), cần ít nhất 4." in closed
    assert "Không tán thành: 5/7 (71,4%)" in closed and "được thông qua: Không" not in closed
    assert "Nghị quyết được thông qua" not in closed and "🏆" not in closed
    assert "Đã bỏ phiếu: 7 trên 8 người có quyền biểu quyết." in closed
    assert "Cơ sở tính: 7 đồng chí (không tính miễn sinh hoạt, không tham gia: 1)" in closed
    assert "Cách tính: quá nửa cơ sở tính." in closed and "tổng số người có quyền" not in closed
    # A vote in chat between meetings says what it is, on the ballot and in the result.
    assert "Biểu quyết qua tin nhắn giữa các kỳ sinh hoạt là lấy ý kiến đảng viên" in closed
    async with runtime.sessions() as session:
        sent = [m.body["text"] for m in (await session.exec(select(OutboxMessage))).all() if m.body.get("text")]
    assert [t for t in sent if "không đạt quá nửa cơ sở tính: 2/7" in t and t.startswith("📊")]
    assert [t for t in sent if t.startswith("🗳") and "quyết định chính thức của chi bộ" in t]


async def test_the_result_sheet_is_in_the_secretarys_words(runtime: Runtime, demo: Demo) -> None:
    poll_id = await _open_poll(runtime, demo)
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    await say(runtime, 401, payload=Vote(poll_id, 2).pack())
    for user, name in ((402, "Hồ Thị Ngọc"), (403, "Đinh Văn Khánh"), (404, "Lương Thị Hạnh")):
        await say(runtime, user, f"/start {demo.code(name)}")
        await say(runtime, user, payload=Vote(poll_id, 1).pack())
    await say(runtime, SECRETARY, payload=Vote(poll_id, 1).pack())
    await say(runtime, SECRETARY, payload=ConfirmClosePoll(poll_id).pack())
    vietnamese = runtime.catalogs.translator("vi")
    async with runtime.sessions() as session:
        poll = await session.get(Poll, poll_id)
        assert poll is not None
        rows = await result_rows(session, vietnamese, poll)
    assert result_header(vietnamese) == ["Phương án", "Số phiếu", "Tỷ lệ trên cơ sở tính", "Kết quả"]
    assert ["Tán thành", 4, "57,1%", "đạt yêu cầu"] in rows  # counts are numbers in the files
    assert ["Không tán thành", 1, "14,3%", ""] in rows
    assert ["Kết quả", "Ý kiến tán thành đạt quá nửa cơ sở tính: 4/7 đồng chí (57,1%)."] in rows
    assert ["Tham gia biểu quyết", "Đã bỏ phiếu: 5 trên 8 người có quyền biểu quyết."] in rows
    assert ["Cơ sở tính (số đồng chí)", 7, "miễn sinh hoạt, không tham gia: 1"] in rows
    assert ["Cách tính", vi("more than half of the base")] in rows
    assert ["Mai Văn Sơn", "Không tán thành", ""] in rows
    sheet = "\n".join(",".join(map(str, row)) for row in rows)
    for internal in ("majority_of_eligible", "motion", "officials", "eligible", "zalo_bot", "True", "None"):
        assert internal not in sheet


async def test_suspended_and_elsewhere_members_do_not_vote_and_leave_the_base(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    for name, standing in (("Phan Thị Loan", "đình chỉ sinh hoạt"), ("Chu Thị Thảo", "sinh hoạt tạm thời nơi khác")):
        card = await open_card(runtime, SECRETARY, name)
        assert "Tình trạng sinh hoạt: đang sinh hoạt tại chi bộ" in card.text
        asked = (await say(runtime, SECRETARY, payload=button(card, "Tình trạng sinh hoạt")))[0]
        saved = (await say(runtime, SECRETARY, payload=button(asked, standing)))[0]
        assert f"Tình trạng sinh hoạt: {standing}" in saved.text
    poll_id = await _open_poll(runtime, demo, voters=6)
    await say(runtime, 404, f"/start {demo.code('Phan Thị Loan')}")
    assert "không thuộc danh sách biểu quyết" in (await say(runtime, 404, payload=Vote(poll_id, 1).pack()))[0].text
    for user, name in ((401, "Mai Văn Sơn"), (402, "Hồ Thị Ngọc")):
        await say(runtime, user, f"/start {demo.code(name)}")
        await say(runtime, user, payload=Vote(poll_id, 1).pack())
    await say(runtime, SECRETARY, payload=Vote(poll_id, 1).pack())
    closed = (await say(runtime, SECRETARY, payload=ConfirmClosePoll(poll_id).pack()))[0].text
    # 8 official members less the suspended, the one elsewhere and the exempt who did not vote: 5.
    assert "✅ Ý kiến tán thành đạt quá nửa cơ sở tính: 3/5 đồng chí (60,0%)." in closed
    assert (
        "Cơ sở tính: 5 đồng chí (không tính miễn sinh hoạt, không tham gia: 1; đình chỉ sinh hoạt: 1; "
        "sinh hoạt tạm thời nơi khác: 1)" in closed
    )


async def test_a_vote_at_a_meeting_leaves_out_those_excused_from_it(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    home = (await say(runtime, SECRETARY, "📅 Cuộc họp"))[0]
    await say(runtime, SECRETARY, payload=button(home, "Cuộc họp mới"))
    preview = (await say(runtime, SECRETARY, "Sinh hoạt chi bộ tháng 12"))[0]
    soon = datetime.now(runtime.settings.tz) + timedelta(hours=2)
    preview = (await say(runtime, SECRETARY, canonical(soon)))[0]
    await say(runtime, SECRETARY, payload=button(preview, "Gửi giấy mời"))
    hanh = await member_named(runtime, "Lương Thị Hạnh")
    async with runtime.sessions() as session, session.begin():
        await session.exec(
            update(MeetingInvitation)
            .where(col(MeetingInvitation.member_id) == hanh.id)
            .values(attendance=Attendance.EXCUSED)
        )
    await say(runtime, SECRETARY, payload=NewPoll().pack())
    preview = (await say(runtime, SECRETARY, "Thông qua nghị quyết tháng 12?"))[0]
    preview = (await say(runtime, SECRETARY, payload=button(preview, "Tại cuộc họp")))[0]
    assert "Nơi biểu quyết: tại cuộc họp “Sinh hoạt chi bộ tháng 12”" in preview.text
    opened = (await say(runtime, SECRETARY, payload=button(preview, "Mở biểu quyết")))[0]
    poll_id = _tracked(opened)
    # Was: anyone on the roll voted at any time. Now only while the meeting sits, and only those present.
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    early = (await say(runtime, 401, payload=Vote(poll_id, 1).pack()))[0].text
    assert "chỉ bỏ phiếu được khi cuộc họp đã bắt đầu" in early
    await _meeting_in_session(runtime, present=("Mai Văn Sơn", "Hồ Thị Ngọc", "Đinh Văn Khánh"))
    await say(runtime, 406, f"/start {demo.code('Chu Thị Thảo')}")
    absent = (await say(runtime, 406, payload=Vote(poll_id, 1).pack()))[0].text
    assert "Chỉ các đồng chí được ghi nhận có mặt tại cuộc họp mới được biểu quyết" in absent
    for user, name in ((401, "Mai Văn Sơn"), (402, "Hồ Thị Ngọc"), (403, "Đinh Văn Khánh")):
        await say(runtime, user, f"/start {demo.code(name)}")
        ballot = (await say(runtime, user, "🗳 Biểu quyết đang mở"))[0]
        assert "qua tin nhắn" not in ballot.text and "tại hội nghị chi bộ" in ballot.text
        assert "Đã ghi nhận" in (await say(runtime, user, payload=Vote(poll_id, 1).pack()))[0].text
    async with runtime.sessions() as session, session.begin():
        await session.exec(update(Meeting).values(attendance_confirmed_at=utcnow()))  # the meeting is over
    assert (
        "Cuộc họp tiến hành biểu quyết này đã kết thúc"
        in (await say(runtime, 406, payload=Vote(poll_id, 1).pack()))[0].text
    )
    closed = (await say(runtime, SECRETARY, payload=ConfirmClosePoll(poll_id).pack()))[0].text
    # 8 official members less Tạ Văn Bình (exempt) and Lương Thị Hạnh (excused): 6, so 4 adopt.
    assert "❌ Không được thông qua: 3/6 tán thành (50,0%), cần ít nhất 4." in closed
    assert "vắng họp có lý do: 1" in closed and vi("Taken at the branch's meeting.") in closed


async def test_an_election_cannot_open_with_a_motions_answers_as_candidates(runtime: Runtime, demo: Demo) -> None:
    """Was: switching a new vote to an election kept Tán thành / Không tán thành / Ý kiến khác as the
    candidates, and it opened so."""
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        poll = await create_draft(session, secretary, "Bầu chi ủy?", [secretary.branch_id], utcnow() + timedelta(1))
        poll.kind = PollKind.ELECTION
    refused = (await say(runtime, SECRETARY, payload=PublishPoll(poll.id or 0).pack()))[0]
    assert "Xin đồng chí gõ danh sách ứng cử viên" in refused.text
    async with runtime.sessions() as session:
        assert (await session.get(Poll, poll.id)).status is PollStatus.DRAFT  # type: ignore[union-attr]
    typed = (await say(runtime, SECRETARY, payload=Ask(Question.POLL_OPTIONS, poll.id or 0).pack()))[0]
    assert "cách nhau bằng dấu chấm phẩy" in typed.text
    preview = (await say(runtime, SECRETARY, "Phạm Thị Hoa; Hoàng Văn Nam; Vũ Thị Mai"))[0]
    assert "Phạm Thị Hoa\n2. Hoàng Văn Nam\n3. Vũ Thị Mai" in preview.text
    assert "Đã mở biểu quyết" in (await say(runtime, SECRETARY, payload=PublishPoll(poll.id or 0).pack()))[0].text


async def test_a_new_election_shows_no_candidates_until_they_are_typed(runtime: Runtime, demo: Demo) -> None:
    """Was: the preview of a vote just made an election listed Tán thành / Không tán thành / Ý kiến
    khác under "Ứng cử viên", as if they were the candidates."""
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    manage = (await say(runtime, SECRETARY, "/quanly"))[0]
    await say(runtime, SECRETARY, payload=button(manage, "Biểu quyết mới"))
    preview = (await say(runtime, SECRETARY, "Bầu bí thư chi bộ?"))[0]
    kinds = (await say(runtime, SECRETARY, payload=button(preview, "Loại biểu quyết")))[0]
    preview = (await say(runtime, SECRETARY, payload=button(kinds, "bầu cử")))[0]
    assert "Loại: bầu cử" in preview.text
    assert "Tán thành" not in preview.text and "Ý kiến khác" not in preview.text
    assert "Ứng cử viên: chưa có." in preview.text
    assert "Xin đồng chí gõ họ tên các ứng cử viên, mỗi dòng một người" in preview.text
    # Opening it now is refused, and says what is missing; it stays a draft.
    refused = (await say(runtime, SECRETARY, payload=button(preview, "Mở biểu quyết")))[0]
    assert "Xin đồng chí gõ danh sách ứng cử viên" in refused.text and "Đã mở biểu quyết" not in refused.text
    assert "1. Tán thành" not in refused.text and "Ứng cử viên: chưa có." in refused.text
    async with runtime.sessions() as session:
        drafts = (await session.exec(select(Poll).where(Poll.question == "Bầu bí thư chi bộ?"))).all()
    assert [p.status for p in drafts] == [PollStatus.DRAFT]
    # The names typed next are the candidates, with no button to tap first.
    preview = (await say(runtime, SECRETARY, "Phạm Thị Hoa\nHoàng Văn Nam"))[0]
    assert "Ứng cử viên:\n1. Phạm Thị Hoa\n2. Hoàng Văn Nam" in preview.text and "chưa có" not in preview.text
    opened = (await say(runtime, SECRETARY, payload=button(preview, "Mở biểu quyết")))[0]
    assert "Đã mở biểu quyết" in opened.text
    ballot = (await say(runtime, SECRETARY, "🗳 Biểu quyết đang mở"))[0]
    offered = [b.label for row in ballot.buttons for b in row]
    assert "Phạm Thị Hoa" in offered and "Hoàng Văn Nam" in offered and "Tán thành" not in offered


async def test_a_new_choice_shows_no_options_until_they_are_typed(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, SECRETARY, payload=NewPoll().pack())
    preview = (await say(runtime, SECRETARY, "Chọn ngày sinh hoạt chuyên đề?"))[0]
    kinds = (await say(runtime, SECRETARY, payload=button(preview, "Loại biểu quyết")))[0]
    preview = (await say(runtime, SECRETARY, payload=button(kinds, "chọn một phương án")))[0]
    assert "Phương án: chưa có." in preview.text and "1. Tán thành" not in preview.text
    assert vi("Type the options, one per line or separated by semicolons (2 to 10).") in preview.text
    preview = (await say(runtime, SECRETARY, "Thứ Bảy; Chủ nhật"))[0]
    assert "Phương án:\n1. Thứ Bảy\n2. Chủ nhật" in preview.text


async def _meeting_in_session(runtime: Runtime, *, present: tuple[str, ...]) -> None:
    """The branch's called meeting began ten minutes ago, and ``present`` checked in at it."""
    async with runtime.sessions() as session, session.begin():
        meeting = (await session.exec(select(Meeting).where(Meeting.status == MeetingStatus.CALLED))).one()
        meeting.starts_at = utcnow() - timedelta(minutes=10)
        session.add(meeting)
        for name in present:
            member = (await session.exec(select(Member).where(Member.full_name == name))).one()
            await session.exec(
                update(MeetingInvitation)
                .where(col(MeetingInvitation.meeting_id) == meeting.id, col(MeetingInvitation.member_id) == member.id)
                .values(checked_in_at=utcnow())
            )


# --- confirming, closing, reminding, other opinions -------------------------------------------------


async def test_a_secret_ballot_warns_before_the_tap_that_it_is_final(runtime: Runtime, demo: Demo) -> None:
    """Was: one tap cast a secret ballot, which cannot be changed, with no warning. The warning is on
    the ballot itself: a "you chose X, send it?" question would be a kept reply naming the choice."""
    poll_id = await _open_poll(runtime, demo, secret=True)
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    ballot = (await say(runtime, 401, "🗳 Biểu quyết đang mở"))[0]
    assert "Bỏ phiếu kín" in ballot.text and "phiếu được gửi ngay và không thể thay đổi" in ballot.text
    choice = button(ballot, "Không tán thành")
    first = (await say(runtime, 401, payload=choice))[0].text
    second = (await say(runtime, 401, payload=choice))[0].text  # a double tap
    assert "Đã ghi nhận phiếu kín" in first and "Không tán thành" not in first
    assert "đã bỏ phiếu rồi" in second
    assert await _count(runtime, PollVoter, poll_id) == 1 and await _count(runtime, SealedBallot, poll_id) == 1
    assert "đã bỏ phiếu rồi" in (await say(runtime, 401, payload=Vote(poll_id, 2).pack()))[0].text


async def test_close_now_asks_first(runtime: Runtime, demo: Demo) -> None:
    """Was: "Kết thúc ngay", next to "Cập nhật", closed the vote at once."""
    poll_id = await _open_poll(runtime, demo)
    track = (await say(runtime, SECRETARY, payload=TrackPoll(poll_id).pack()))[0]
    assert "Cập nhật" in str(track.buttons)
    asked = (await say(runtime, SECRETARY, payload=button(track, "Kết thúc ngay")))[0]
    assert "Kết thúc ngay biểu quyết “Thông qua kế hoạch quý I?” trước hạn" in asked.text
    kept = (await say(runtime, SECRETARY, payload=button(asked, "tiếp tục biểu quyết")))[0]
    assert kept.text.startswith("Đang mở đến")
    async with runtime.sessions() as session:
        assert (await session.get(Poll, poll_id)).status is PollStatus.OPEN  # type: ignore[union-attr]
    closed = (await say(runtime, SECRETARY, payload=button(asked, "Xác nhận kết thúc")))[0]
    assert closed.text.startswith("📊 Kết quả: Thông qua kế hoạch quý I?")
    assert "không mở" in (await say(runtime, SECRETARY, payload=button(asked, "Xác nhận kết thúc")))[0].text
    assert "không mở" in (await say(runtime, SECRETARY, payload=button(track, "Kết thúc ngay")))[0].text


async def test_the_interim_tally_says_the_vote_is_open_and_what_passing_needs(runtime: Runtime, demo: Demo) -> None:
    """Was: while open, the tally printed "❌ Không phương án nào đạt yêu cầu"."""
    poll_id = await _open_poll(runtime, demo)
    await say(runtime, SECRETARY, payload=Vote(poll_id, 1).pack())
    track = (await say(runtime, SECRETARY, payload=TrackPoll(poll_id).pack()))[0].text
    assert vi("Still open: nothing is decided until it closes.") in track
    assert "Để được thông qua, “Tán thành” cần ít nhất 4/7 phiếu." in track
    assert "Tán thành: 1/7 (14,3%)" in track
    for verdict in ("❌", "✅", "🏆", "Không được thông qua", "đạt yêu cầu"):
        assert verdict not in track
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        choice = await create_draft(session, secretary, "Chọn ngày?", [secretary.branch_id], utcnow() + timedelta(1))
        choice.kind, choice.options = PollKind.CHOICE, ["Thứ bảy", "Chủ nhật"]
        await publish(session, secretary, choice, ballot_maker(runtime.catalogs, runtime.settings.tz))
    track = (await say(runtime, SECRETARY, payload=TrackPoll(choice.id or 0).pack()))[0].text
    assert "Một phương án được chọn khi đạt ít nhất 4/7 phiếu." in track and "❌" not in track


async def test_a_reminder_that_would_reach_nobody_says_why_and_waits_for_nothing(runtime: Runtime, demo: Demo) -> None:
    """Was: "Đã nhắc lại: 0 tin nhắn", and the next tap was refused as "vừa được nhắc"."""
    poll_id = await _open_poll(runtime, demo)
    await say(runtime, SECRETARY, payload=Vote(poll_id, 1).pack())
    track = (await say(runtime, SECRETARY, payload=TrackPoll(poll_id).pack()))[0]
    nobody = (await say(runtime, SECRETARY, payload=button(track, "Nhắc người chưa bỏ phiếu")))[0].text
    assert "Không có tin nhắn nào được gửi: cả 7 đồng chí chưa bỏ phiếu" in nobody
    assert "chưa tham gia chibo" in nobody and "0 tin nhắn" not in nobody
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    sent = (await say(runtime, SECRETARY, payload=button(track, "Nhắc người chưa bỏ phiếu")))[0].text
    assert "Đã nhắc lại: 1 tin nhắn." in sent  # the refused reminder started no waiting period
    assert "6 đồng chí chưa bỏ phiếu không nhận được tin nhắn của chibo" in sent
    assert "vừa được nhắc" in (await say(runtime, SECRETARY, payload=button(track, "Nhắc người")))[0].text
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():  # everyone else votes (on the roll)
        await session.exec(update(Poll).where(col(Poll.id) == poll_id).values(last_nudged_at=None))
        eligible = (await session.exec(select(PollEligible.member_id).where(PollEligible.poll_id == poll_id))).all()
        session.add_all(PollVoter(poll_id=poll_id, member_id=m) for m in eligible if m != secretary.id)
    everyone = (await say(runtime, SECRETARY, payload=button(track, "Nhắc người")))[0].text
    assert "Tất cả các đồng chí có quyền biểu quyết đã bỏ phiếu" in everyone


async def test_the_other_opinion_of_a_consultation_is_asked_for_and_kept(runtime: Runtime, demo: Demo) -> None:
    """Was: the text typed after choosing "Ý kiến khác" was lost."""
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, SECRETARY, payload=NewPoll().pack())
    preview = (await say(runtime, SECRETARY, "Lấy ý kiến về giờ sinh hoạt chi bộ"))[0]
    kinds = (await say(runtime, SECRETARY, payload=button(preview, "Loại biểu quyết")))[0]
    preview = (await say(runtime, SECRETARY, payload=button(kinds, "lấy ý kiến")))[0]
    assert "3. Ý kiến khác" in preview.text
    poll_id = _tracked((await say(runtime, SECRETARY, payload=button(preview, "Mở biểu quyết")))[0])
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    ballot = (await say(runtime, 401, "🗳 Biểu quyết đang mở"))[0]
    voted = (await say(runtime, 401, payload=button(ballot, "Ý kiến khác")))[0]
    assert "Đã ghi nhận phiếu của đồng chí: Ý kiến khác" in voted.text
    assert "Xin đồng chí gõ ý kiến của mình trong một tin nhắn" in voted.text
    kept = (await say(runtime, 401, "Đề nghị họp vào buổi chiều thứ bảy"))[0]
    assert vi("Your opinion was recorded with your vote.") in kept.text
    track = (await say(runtime, SECRETARY, payload=TrackPoll(poll_id).pack()))[0].text
    assert "Ý kiến khác (1):\n• Mai Văn Sơn: Đề nghị họp vào buổi chiều thứ bảy" in track
    closed = (await say(runtime, SECRETARY, payload=ConfirmClosePoll(poll_id).pack()))[0].text
    assert "• Mai Văn Sơn: Đề nghị họp vào buổi chiều thứ bảy" in closed
    vietnamese = runtime.catalogs.translator("vi")
    async with runtime.sessions() as session:
        poll = await session.get(Poll, poll_id)
        assert poll is not None
        rows = await result_rows(session, vietnamese, poll)
        sent = [m.body.get("text") or "" for m in (await session.exec(select(OutboxMessage))).all()]
    assert ["Mai Văn Sơn", "Đề nghị họp vào buổi chiều thứ bảy"] in rows
    # The result that may go to everyone names no opinion: those are for the secretary.
    assert not [t for t in sent if "Đề nghị họp" in t]


async def test_a_secret_consultation_takes_no_written_opinion(runtime: Runtime, demo: Demo) -> None:
    """A typed text can name its writer, and asking only those who chose "Ý kiến khác" would store
    their choice with their chat (README "Polls"): the ballot says so, and nothing typed is kept."""
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        poll = await create_draft(session, secretary, "Ý kiến?", [secretary.branch_id], utcnow() + timedelta(1))
        poll.kind, poll.secret = PollKind.CONSULTATION, True
        await publish(session, secretary, poll, ballot_maker(runtime.catalogs, runtime.settings.tz))
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    ballot = (await say(runtime, 401, "🗳 Biểu quyết đang mở"))[0]
    assert "Bỏ phiếu kín không nhận ý kiến viết" in ballot.text
    cast = (await say(runtime, 401, payload=button(ballot, "Ý kiến khác")))[0]
    assert "Đã ghi nhận phiếu kín" in cast.text and "gõ ý kiến" not in cast.text
    typed = (await say(runtime, 401, "Đề nghị họp vào buổi chiều"))[0]
    assert "Đã ghi nhận ý kiến" not in typed.text
    assert await _count(runtime, PollOpinion, poll.id or 0) == 0


async def test_a_motion_speaks_to_an_english_reader_in_english(runtime: Runtime, demo: Demo) -> None:
    """A motion's three answers are kept in Vietnamese (the record) and shown in the reader's language."""
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    async with runtime.sessions() as session:
        await session.exec(update(Member).where(col(Member.full_name) == "Mai Văn Sơn").values(locale="en"))
        await session.commit()
    poll_id = await _open_poll(runtime, demo)
    async with runtime.sessions() as session:
        ballots = (await session.exec(select(OutboxMessage).where(OutboxMessage.chat_id == "401"))).all()
    ballot = next(b.body for b in ballots if "Thông qua kế hoạch" in (b.body.get("text") or ""))
    labels = [button["label"] for row in ballot["buttons"] for button in row]
    assert labels == ["In favour", "Not in favour", "Another opinion"]
    tapped = (await say(runtime, 401, payload=Vote(poll_id, 1).pack()))[0]
    assert "Your vote was recorded: In favour." in tapped.text
    await say(runtime, SECRETARY, payload=Vote(poll_id, 1).pack())
    track = (await say(runtime, SECRETARY, payload=TrackPoll(poll_id).pack()))[0]
    asked = (await say(runtime, SECRETARY, payload=button(track, "Kết thúc ngay")))[0]
    closed = (await say(runtime, SECRETARY, payload=button(asked, "Xác nhận kết thúc")))[0]
    assert "Tán thành: 2/7" in closed.text  # the secretary reads Vietnamese
    async with runtime.sessions() as session:
        sent = (await session.exec(select(OutboxMessage).where(OutboxMessage.chat_id == "401"))).all()
    result = next(b.body["text"] for b in sent if "Result" in (b.body.get("text") or ""))
    assert "In favour: 2/7" in result and "Tán thành" not in result
