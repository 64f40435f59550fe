"""Members ask in their own words: typed questions routed to the screen that answers them, typed
answers read as the buttons just shown (nothing changes without a tap), a second member's code on a
shared phone, and unanswered questions counted for the secretary."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx
from sqlmodel import select

from bot.runtime import Runtime
from handlers.contract import Reply
from handlers.intents import MATCHER, classify
from handlers.intents.choices import SHOWS_ONLY, prefix_of
from models.invites import find_invite
from models.tables import (
    AuditEvent,
    ChannelIdentity,
    MeetingInvitation,
    Notice,
    NoticeStatus,
    OutboxMessage,
    PollVoter,
    ProcessedUpdate,
    Rsvp,
    UnansweredWeek,
)
from tests.chat import button, say, vi, visitor
from tests.conftest import Demo, LiveServer, member_named
from tests.test_meetings import LOAN, SECRETARY, SON, _call_meeting
from tests.test_polls import SECRETARY as POLL_SECRETARY
from tests.test_polls import _open_poll

PHRASINGS = Path(__file__).parent / "data" / "intent_phrasings.csv"
TITLE = "Sinh hoạt chi bộ định kỳ tháng 12"


def _labels(reply: Reply) -> list[str]:
    return [b.label for row in reply.buttons for b in row]


def test_members_phrasings_reach_the_right_screen() -> None:
    with PHRASINGS.open(encoding="utf-8") as file:
        table = [(row["text"], row["screen"]) for row in csv.DictReader(file)]
    assert len(table) >= 150
    misses = []
    for text, expected in table:
        found = classify(text)
        got = found.intent.name if found else ""
        if got != expected:
            misses.append(f"{text!r}: expected {expected or 'nothing'}, got {got or 'nothing'}")
        if found is not None:
            # A typed question only ever opens a screen or asks: never sends, votes or answers.
            assert prefix_of(found.intent.tap) in SHOWS_ONLY, text
    print(f"{len(table) - len(misses)}/{len(table)} right", *misses, sep="\n")
    assert len(misses) <= len(table) // 10, misses
    assert {prefix_of(intent.tap) for intent in MATCHER.intents} <= SHOWS_ONLY


async def test_khi_nao_hop_answers_the_next_meeting_in_one_message(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SON, f"/start {demo.code('Mai Văn Sơn')}")
    none = (await say(runtime, SON, "khi nao hop chi bo"))[0]
    assert vi("No meetings are planned for you.") in none.text and "📅 Lịch họp" in _labels(none)

    await _call_meeting(runtime, demo)
    for typed in ("khi nao hop chi bo", "Cho tôi hỏi tháng này họp ở đâu ạ?", "bao h hopj"):
        answer = (await say(runtime, SON, typed))[0]
        assert answer.text.startswith(f"Cuộc họp tới: {TITLE}\n🕖 19:30"), typed
        assert "📍 Nhà văn hóa thôn Tây" in answer.text
        assert _labels(answer) == ["✅ Tham dự", "🙏 Vắng có lý do", "📄 Chi tiết và tài liệu", "📅 Lịch họp"]
    schedule = (await say(runtime, SON, payload=button(answer, "Lịch họp")))[0]
    assert TITLE in schedule.text


async def test_a_typed_yes_is_shown_back_as_the_button_and_only_the_tap_answers(runtime: Runtime, demo: Demo) -> None:
    meeting_id = await _call_meeting(runtime, demo)
    son = await member_named(runtime, "Mai Văn Sơn")
    await say(runtime, SON, "khi nào họp")
    confirm = (await say(runtime, SON, "có"))[0]
    assert confirm.text == "Có phải đồng chí chọn “✅ Tham dự”? Xin bấm nút để xác nhận."
    assert _labels(confirm) == ["✅ Tham dự", "Chưa"]
    async with runtime.sessions() as session:
        invitation = await session.get(MeetingInvitation, (meeting_id, son.id))
        assert invitation is not None and invitation.rsvp is None  # typed words changed nothing
    done = (await say(runtime, SON, payload=button(confirm, "Tham dự")))[0]
    assert done.text.startswith("Cảm ơn đồng chí. Đã ghi nhận đồng chí tham dự")
    # "không" beside the same buttons is "Vắng có lý do", which only asks for the reason.
    await say(runtime, SON, "khi nào họp")
    reasons = (await say(runtime, SON, "không"))[0]
    assert "vắng vì lý do gì?" in reasons.text


async def test_a_typed_yes_beside_a_secret_ballot_gets_the_ballot_back_without_naming_an_option(
    runtime: Runtime, demo: Demo
) -> None:
    await _open_poll(runtime, demo, secret=True)
    ballot = (await say(runtime, POLL_SECRETARY, "🗳 Biểu quyết đang mở"))[0]
    again = (await say(runtime, POLL_SECRETARY, "đồng ý"))[0]
    assert again.text == vi("To vote, please tap your choice on the ballot:")
    assert _labels(again) == _labels(ballot)  # every option, none singled out
    async with runtime.sessions() as session:
        assert (await session.exec(select(PollVoter))).all() == []


async def test_a_typed_absence_reason_is_taken_as_the_reason(runtime: Runtime, demo: Demo) -> None:
    meeting_id = await _call_meeting(runtime, demo)
    async with runtime.sessions() as session:
        rows = (await session.exec(select(OutboxMessage).where(OutboxMessage.chat_id == str(LOAN)))).all()
    invitation = next(Reply.from_dict(r.body) for r in rows if TITLE in r.body["text"])
    reasons = (await say(runtime, LOAN, payload=button(invitation, "Vắng có lý do")))[0]
    assert "Ốm đau" in _labels(reasons)
    noted = (await say(runtime, LOAN, "con tôi ốm phải đưa đi viện"))[0]
    assert "với lý do: con tôi ốm phải đưa đi viện" in noted.text
    loan = await member_named(runtime, "Phan Thị Loan")
    async with runtime.sessions() as session:
        answered = await session.get(MeetingInvitation, (meeting_id, loan.id))
    assert answered is not None and (answered.rsvp, answered.reason) == (Rsvp.EXCUSED, "con tôi ốm phải đưa đi viện")


async def test_ok_gui_di_on_a_notice_preview_asks_for_the_tap_before_sending(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    manage = (await say(runtime, SECRETARY, "🛠 Quản lý"))[0]
    await say(runtime, SECRETARY, payload=button(manage, "Thông báo mới"))
    preview = (await say(runtime, SECRETARY, "Họp chi bộ lúc 19:00 thứ Sáu."))[0]
    assert "Gửi ngay" in str(_labels(preview))
    for typed in ("ok gửi đi", "gui ngay"):
        confirm = (await say(runtime, SECRETARY, typed))[0]
        assert confirm.text == vi("Do you want to send this notice now?")
        assert _labels(confirm) == ["📤 Gửi ngay", "Chưa"]
        async with runtime.sessions() as session:
            notice = (await session.exec(select(Notice))).one()
            assert notice.status is NoticeStatus.DRAFT
    again = (await say(runtime, SECRETARY, payload=button(confirm, "Chưa")))[0]
    assert "Xem trước thông báo" in again.text
    confirm = (await say(runtime, SECRETARY, "gửi đi"))[0]
    sent = (await say(runtime, SECRETARY, payload=button(confirm, "Gửi ngay")))[0]
    assert sent.text.startswith("Đã gửi tới")
    async with runtime.sessions() as session:
        assert (await session.exec(select(Notice))).one().status is NoticeStatus.SENT


async def test_a_second_members_code_on_a_shared_phone_switches_only_after_the_tap_and_the_code_again(
    runtime: Runtime, demo: Demo
) -> None:
    await say(runtime, SON, f"/start {demo.code('Mai Văn Sơn')}")
    code = demo.code("Phan Thị Loan")
    offer = (await say(runtime, SON, code.lower()))[0]
    assert "đang dùng cho đồng chí Mai Văn Sơn" in offer.text
    assert _labels(offer) == ["🔁 Đổi sang đồng chí khác", "✖️ Giữ nguyên"]
    async with runtime.sessions() as session:
        invite = await find_invite(session, code)
        assert invite is not None and invite.used_at is None  # only looked at

    asked = (await say(runtime, SON, payload=button(offer, "Đổi sang")))[0]
    assert "Xin gõ mã mời của đồng chí sẽ dùng cuộc trò chuyện này" in asked.text
    wrong = (await say(runtime, SON, "ABCD-EFGH"))[0]
    assert "Mã mời này không đúng hoặc không còn hiệu lực" in wrong.text  # one answer for every refused code
    still = (await say(runtime, SON, "thông tin của tôi"))[0]
    assert "Họ và tên: Mai Văn Sơn" in still.text  # a wrong code changed nothing

    await say(runtime, SON, code)  # not asked for: offered again, nothing changes
    await say(runtime, SON, payload=button(offer, "Đổi sang"))
    switched = (await say(runtime, SON, code))[0]
    assert "Chào mừng đồng chí Phan Thị Loan" in switched.text
    loan = await member_named(runtime, "Phan Thị Loan")
    async with runtime.sessions() as session:
        identity = (await session.exec(select(ChannelIdentity))).one()
        assert identity.member_id == loan.id
        audit = (await session.exec(select(AuditEvent).where(AuditEvent.subject_id == loan.id))).all()
        assert any(a.action == "member.linked" and a.before is not None for a in audit)
        # The code exists only on paper and in what the member typed: no reply or state keeps it.
        kept = [str(r) for r in (await session.exec(select(ProcessedUpdate.result))).all()]
        kept += [str(b) for b in (await session.exec(select(OutboxMessage.body))).all()]
        kept += [str(identity.choices), str(identity.awaiting)]
    assert not any(code in text or code.lower() in text for text in kept)


async def test_unknown_questions_get_the_closest_things_and_are_counted_without_their_words(
    runtime: Runtime, demo: Demo
) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, SON, f"/start {demo.code('Mai Văn Sơn')}")
    for asked in ("tiền điện tháng này bao nhiêu?", "đảng phí tháng này đóng bao nhiêu?"):
        answer = (await say(runtime, SON, asked))[0]
        assert answer.text.startswith("Tôi chưa trả lời được câu này.")
        assert "Xin lỗi" not in answer.text
        assert len(_labels(answer)) == 3 and answer.menu is not None
    manage = (await say(runtime, SECRETARY, "🛠 Quản lý"))[0]
    assert "Tuần này: 2 câu hỏi chibo chưa trả lời được." in manage.text
    async with runtime.sessions() as session:
        rows = (await session.exec(select(UnansweredWeek))).all()
    assert [(r.branch_id, r.count) for r in rows] == [((await member_named(runtime, "Mai Văn Sơn")).branch_id, 2)]


async def test_questions_about_the_secretary_votes_notices_and_oneself(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SON, f"/start {demo.code('Mai Văn Sơn')}")
    quang = await member_named(runtime, "Lý Văn Quang")
    assert quang.phone is not None
    contact = (await say(runtime, SON, "đồng chí ơi cho xin sdt bí thư"))[0]
    assert f"Bí thư: đồng chí Lý Văn Quang, điện thoại 0{quang.phone.removeprefix('+84')}" in contact.text
    assert "Hiện không có cuộc biểu quyết nào" in (await say(runtime, SON, "tôi bỏ phiếu chưa"))[0].text
    assert "Chưa có thông báo" in (await say(runtime, SON, "tb mới"))[0].text
    assert "Họ và tên: Mai Văn Sơn" in (await say(runtime, SON, "thong tin cua toi"))[0].text
    # Beside buttons, words that fit none of them get the buttons back, with what is expected.
    details = (await say(runtime, SON, "thông tin của tôi"))[0]
    again = (await say(runtime, SON, "vâng"))[0]
    assert again.text == vi("Please choose one of these by tapping it:")
    assert _labels(again) == _labels(details)


async def test_the_web_chat_answers_typed_questions_too(web_chat: LiveServer, demo: Demo) -> None:
    async with httpx.AsyncClient(base_url=web_chat.url) as client:
        me = await visitor(client)
        await me.replies(text=demo.code("Mai Văn Sơn"))
        answer = (await me.replies(text="khi nao hop chi bo"))[0]
        assert vi("No meetings are planned for you.") in answer["text"]
        assert [b["label"] for row in answer["buttons"] for b in row] == ["📅 Lịch họp"]
        secretary = (await me.replies(text="ai là bí thư"))[0]
        assert "Bí thư: đồng chí Lý Văn Quang" in secretary["text"]
