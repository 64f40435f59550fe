"""Members ask in their own words: typed questions routed to the screen that answers them, typed
answers read as the buttons just shown (nothing changes without a tap), a second member's code on a
shared phone, and unanswered questions counted for the secretary."""

from __future__ import annotations

import contextlib
import csv
import itertools
import re
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Literal, Union, get_args, get_origin, get_type_hints

import httpx
from sqlalchemy import event
from sqlmodel import SQLModel, col, select

from bot.runtime import Runtime
from handlers.actions import ActionData
from handlers.contract import Reply
from handlers.conversation import DISPATCH
from handlers.intents import MATCHER, classify, matching
from handlers.intents.choices import SHOWS_ONLY, is_choice_word, prefix_of
from handlers.intents.folding import fold_question
from handlers.questions import Ask, Question
from models.invites import find_invite
from models.tables import (
    AuditEvent,
    ChannelIdentity,
    Meeting,
    MeetingInvitation,
    Notice,
    NoticeStatus,
    OutboxMessage,
    Poll,
    PollVoter,
    ProcessedUpdate,
    Rsvp,
    UnansweredWeek,
)
from tests.channels import MEMBER, Driver, joined
from tests.chat import button, say, vi, visitor
from tests.conftest import Demo, LiveServer, member_named
from tests.test_meetings import HANH, LOAN, SECRETARY, SON, _call_meeting
from tests.test_polls import SECRETARY as POLL_SECRETARY
from tests.test_polls import _open_poll, _tracked

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


class _CountedVocabulary(frozenset[str]):
    """The vocabulary, counting how often a piece is looked up in it."""

    lookups = 0

    def __contains__(self, piece: object) -> bool:
        type(self).lookups += 1
        return super().__contains__(piece)


def test_a_long_run_together_message_is_split_with_work_bounded_by_its_length() -> None:
    """A member's 4,000 run-together characters (Telegram allows 4,096) took seconds on the event
    loop, holding every other member's answer (outside tester): every substring was tried. A piece
    is now never longer than the longest known word, so the lookups grow with the length alone."""
    vocabulary = _CountedVocabulary(MATCHER.vocabulary)
    longest = max(len(word) for word in vocabulary)
    assert matching._split("toimuonbietlichhop", vocabulary) == ["toi", "muon", "biet", "lich", "hop"]
    for text in ("9" * 4000, "ab" * 2000, "lichhop" * 570):
        _CountedVocabulary.lookups = 0
        matching._split(text, vocabulary)
        assert _CountedVocabulary.lookups <= len(text) * longest, text[:10]


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
    assert confirm.text == "Có phải đồng chí chọn “✅ Tham dự”? Xin đồng chí bấm nút để xác nhận."
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


async def test_a_typed_answer_to_an_invitation_or_a_ballot_that_just_arrived_is_read_against_its_buttons(
    runtime: Runtime, demo: Demo
) -> None:
    meeting_id = await _call_meeting(runtime, demo)  # the invitation arrives in Loan's chat on its own
    confirm = (await say(runtime, LOAN, "dạ có"))[0]
    assert _labels(confirm) == ["✅ Tham dự", "Chưa"]
    loan = await member_named(runtime, "Phan Thị Loan")
    async with runtime.sessions() as session:
        invitation = await session.get(MeetingInvitation, (meeting_id, loan.id))
        assert invitation is not None and invitation.rsvp is None  # typed words changed nothing
    # "không" beside the invitation is "Vắng có lý do", which only asks why; a bare "ok" is no reason.
    assert "vắng vì lý do gì?" in (await say(runtime, HANH, "không"))[0].text
    again = (await say(runtime, HANH, "ok"))[0]
    assert again.text == "Xin đồng chí gõ câu trả lời cho câu hỏi ở trên, hoặc bấm một trong các nút dưới đây:"
    assert "Ốm đau" in _labels(again)
    hanh = await member_named(runtime, "Lương Thị Hạnh")
    async with runtime.sessions() as session:
        invitation = await session.get(MeetingInvitation, (meeting_id, hanh.id))
        assert invitation is not None and invitation.rsvp is None
    noted = (await say(runtime, HANH, "đi khám bệnh ở huyện"))[0]
    assert "với lý do: đi khám bệnh ở huyện" in noted.text


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
    assert "Xin đồng chí gõ mã mời của đồng chí sẽ dùng cuộc trò chuyện này" in asked.text
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
    for asked in ("tiền điện tháng này bao nhiêu?", "giá lúa tháng này bao nhiêu?"):
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


async def test_a_member_reading_english_asks_in_english(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SON, f"/start {demo.code('Mai Văn Sơn')}")
    await say(runtime, SON, "đổi ngôn ngữ")
    # Typed beside the language buttons, "English" is shown back as the button: only the tap sets it.
    confirm = (await say(runtime, SON, "english"))[0]
    assert _labels(confirm) == ["🇬🇧 English", "Chưa"]
    assert (await member_named(runtime, "Mai Văn Sơn")).locale != "en"
    await say(runtime, SON, payload=button(confirm, "English"))
    assert (await member_named(runtime, "Mai Văn Sơn")).locale == "en"
    assert "No meetings are planned for you." in (await say(runtime, SON, "When is the next meeting?"))[0].text
    assert "There are no open polls for you now." in (await say(runtime, SON, "did I vote?"))[0].text
    assert "Secretary: comrade Lý Văn Quang" in (await say(runtime, SON, "who is the secretary"))[0].text
    assert "Full name: Mai Văn Sơn" in (await say(runtime, SON, "my details"))[0].text
    unknown = (await say(runtime, SON, "what is the weather today?"))[0]
    assert unknown.text.startswith("I cannot answer that yet.") and "“did I vote”" in unknown.text
    assert len(_labels(unknown)) == 3


# ---- typed words at every screen with buttons ---------------------------------------------------
# Words members type where a tap is expected: a yes, a no, a send, and words that fit nothing.
TYPED_AT_BUTTONS = ("đồng ý", "không", "ok gửi đi", "ừ được", "để tôi xem đã")
# The conversation's own state (what was asked and shown), which typed words may change.
_CONVERSATION_TABLES = frozenset({"channelidentity", "processedupdate", "unansweredweek"})
# The subject each question is about, by the id the walk holds for it.
_QUESTION_SUBJECTS = {
    Question.MY_PHONE: None,
    Question.SWITCH_MEMBER: None,
    Question.FIND_MEMBER: None,
    Question.ADD_MEMBER: None,
    Question.MEMBER_PHONE: "member_id",
    Question.MEMBER_NAME: "member_id",
    Question.MEMBER_BIRTH: "member_id",
    Question.MEMBER_ADMITTED: "member_id",
    Question.MEMBER_CARD_NUMBER: "member_id",
    Question.OFFICIAL_DAY: "member_id",
    Question.OFFICIAL_VOTE: "member_id",
    Question.NOTICE_TEXT: None,
    Question.NOTICE_WHEN: "notice_id",
    Question.NOTICE_PEOPLE: "notice_id",
    Question.NOTICE_FILE: "notice_id",
    Question.POLL_TEXT: None,
    Question.POLL_OPTIONS: "draft_poll_id",
    Question.POLL_DEADLINE: "draft_poll_id",
    Question.PAPER_VOTERS: "poll_id",
    Question.PAPER_BOX: "poll_id",
    Question.POLL_OPINION: "poll_id",
    Question.MEETING_TEXT: None,
    Question.MEETING_WHEN: "draft_meeting_id",
    Question.MEETING_PEOPLE: "draft_meeting_id",
    Question.MEETING_MOVE: "meeting_id",
    Question.MEETING_PLACE: "draft_meeting_id",
    Question.MEETING_AGENDA: "draft_meeting_id",
    Question.MEETING_LINK: "draft_meeting_id",
    Question.MEETING_MINUTES_TEXT: "meeting_id",
    Question.MEETING_CONCLUSIONS: "meeting_id",
    Question.MEETING_FILE: "meeting_id",
    Question.MEETING_MINUTES_FILE: "meeting_id",
    Question.ABSENCE_REASON: "meeting_id",
    Question.RESOLUTION: "meeting_id",
    Question.HAND_VOTE: "meeting_id",
    Question.TRANSFER_OUT: "member_id",
    Question.TRANSFER_TEMPORARY: "member_id",
    Question.RESIDENCE: "member_id",
    Question.TRANSFER_IN: None,
    Question.CANDIDATE: None,
    Question.CANDIDATE_STEP: "candidate_id",
    Question.SELF_ASSESSMENT: None,
}


# A statement writing a table, as SQLAlchemy writes it on SQLite and PostgreSQL.
_WRITES = re.compile(r'(?<!FOR )\b(?:INSERT INTO|UPDATE|DELETE FROM)\s+"?(\w+)', re.IGNORECASE)


@contextlib.contextmanager
def _writes(runtime: Runtime) -> Iterator[list[str]]:
    """The statements run meanwhile that write any table but the conversation's own."""
    tables = set(SQLModel.metadata.tables) - _CONVERSATION_TABLES
    seen: list[str] = []

    def record(_connection: object, _cursor: object, statement: str, *_rest: object) -> None:
        if any(name.lower() in tables for name in _WRITES.findall(statement)):
            seen.append(statement)

    engine = runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _example(hint: object, ids: dict[str, list[int]], name: str) -> list[object]:
    """Values a button's field could carry in the walk's world: the ids it holds, else one value."""
    if name in ids:
        return list(ids[name])
    if get_origin(hint) is Literal:
        return [get_args(hint)[0]]
    if get_origin(hint) in (Union, UnionType):
        return _example(next(a for a in get_args(hint) if a is not type(None)), ids, name)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return [next(iter(hint))]
    if hint is bool:
        return [True]
    if hint is int:
        return [1]
    if hint is datetime:  # a time as a button carries it: local, to the minute, still ahead
        return [(datetime.now() + timedelta(days=5)).replace(hour=19, minute=30, second=0, microsecond=0)]
    return [{"locale": "vi", "file": "0" * 12}.get(name, "Son")]


def _instances(action: type[ActionData], ids: dict[str, list[int]]) -> list[ActionData]:
    assert is_dataclass(action)
    hints = get_type_hints(action)
    names = [f.name for f in fields(action)]
    values = [_example(hints[n], ids, n) for n in names]
    return [action(**dict(zip(names, chosen, strict=True))) for chosen in itertools.product(*values)]


async def _world(runtime: Runtime, demo: Demo) -> dict[str, list[int]]:
    """The secretary's branch with a called meeting and a draft one, an open vote and a draft one,
    and a draft notice: what the buttons of every screen are about."""
    meeting_id = await _call_meeting(runtime, demo)
    manage = (await say(runtime, SECRETARY, "/quanly"))[0]
    await say(runtime, SECRETARY, payload=button(manage, "Biểu quyết mới"))
    preview = (await say(runtime, SECRETARY, "Thông qua kế hoạch quý I?"))[0]
    opened = (await say(runtime, SECRETARY, payload=button(preview, "Mở biểu quyết")))[0]
    await say(runtime, SECRETARY, payload=button(manage, "Biểu quyết mới"))
    await say(runtime, SECRETARY, "Thông qua kế hoạch quý II?")
    await say(runtime, SECRETARY, payload=button(manage, "Thông báo mới"))
    await say(runtime, SECRETARY, "Họp chi bộ lúc 19:00 thứ Sáu.")
    home = (await say(runtime, SECRETARY, "📅 Cuộc họp"))[0]
    await say(runtime, SECRETARY, payload=button(home, "Cuộc họp mới"))
    await say(runtime, SECRETARY, "Sinh hoạt chuyên đề quý I")
    await say(runtime, SECRETARY, "/menu")
    son = await member_named(runtime, "Mai Văn Sơn")
    async with runtime.sessions() as session:
        polls = (await session.exec(select(Poll.id).order_by(col(Poll.id)))).all()
        meetings = (await session.exec(select(Meeting.id).order_by(col(Meeting.id)))).all()
        notice = (await session.exec(select(Notice.id))).one()
    open_poll = _tracked(opened)
    draft_poll = next(p for p in polls if p != open_poll)
    draft_meeting = next(m for m in meetings if m != meeting_id)
    return {
        "member_id": [son.id or 0],
        "branch_id": [son.branch_id],
        "poll_id": [open_poll, draft_poll or 0],
        "draft_poll_id": [draft_poll or 0],
        "notice_id": [notice or 0],
        "meeting_id": [meeting_id, draft_meeting or 0],
        "draft_meeting_id": [draft_meeting or 0],
        "file_id": [1],
        "candidate_id": [1],
    }


async def _typed_at(runtime: Runtime, shown: str, tap: str) -> None:
    """Each of TYPED_AT_BUTTONS right after the tap ``tap``: answered with buttons, and not one
    statement writing a table but the conversation's own (what was asked and shown)."""
    for typed in TYPED_AT_BUTTONS:
        await say(runtime, SECRETARY, payload=tap)
        async with runtime.sessions() as session:
            mine = select(ChannelIdentity).where(ChannelIdentity.platform_user_id == str(SECRETARY))
            identity = (await session.exec(mine)).one()
        if identity.awaiting is not None and not is_choice_word(fold_question(typed)):
            continue  # a question that takes typed words: these are its answer
        with _writes(runtime) as written:
            replies = await say(runtime, SECRETARY, typed)
        where = f"{typed!r} after {shown}: {[r.text[:60] for r in replies]}"
        assert any(r.buttons or r.menu for r in replies), where
        assert not any("chưa hiểu" in r.text for r in replies), where
        assert written == [], where


async def test_typed_words_at_every_screen_with_buttons_get_buttons_and_change_nothing(
    runtime: Runtime, demo: Demo
) -> None:
    ids = await _world(runtime, demo)
    walked: set[type[ActionData]] = set()
    screens: list[tuple[str, str]] = []
    # What only shows something first, so the votes, notices and meetings are still as set up when
    # their screens are walked; then what changes something (a vote cast, a notice sent).
    ordered = sorted(DISPATCH.actions, key=lambda action: action.prefix not in SHOWS_ONLY)
    for action in ordered:
        for instance in _instances(action, ids):
            walked.add(action)
            replies = await say(runtime, SECRETARY, payload=instance.pack())
            if any(r.buttons for r in replies):
                screens.append((repr(instance), instance.pack()))
                await _typed_at(runtime, repr(instance), instance.pack())
    assert walked == set(DISPATCH.actions)
    for question, route in DISPATCH.questions.items():
        if route.prompt is None:
            continue
        subject = _QUESTION_SUBJECTS[question]
        ask = Ask(question, ids[subject][0] if subject else None).pack()
        await _typed_at(runtime, str(question), ask)
    print(len(screens), "screens with buttons walked")


# ---- the same on every platform ----------------------------------------------------------------
# Phrasings as members type them, and what the screen they reach says (the member's language is
# Vietnamese, whatever language they type in).
ON_EVERY_PLATFORM = (
    ("khi nao hop chi bo", "Chưa có cuộc họp nào sắp tới."),
    ("cho chau xin sdt bi thu a", "Bí thư: đồng chí Lý Văn Quang"),
    ("thong tin cua mk", "Họ và tên: Mai Văn Sơn"),
    ("hom qua hop co ket luan gi", "Đồng chí không có cuộc họp nào trong 12 tháng qua."),
    ("toi bo phieu chua", "Hiện không có cuộc biểu quyết nào dành cho đồng chí."),
    ("who is the secretary", "Bí thư: đồng chí Lý Văn Quang"),
)


async def test_members_phrasings_reach_their_screen_on_telegram_and_zalo(channel: Driver, demo: Demo) -> None:
    member, _welcome = await joined(channel, demo, MEMBER, "Mai Văn Sơn")
    for typed, screen in ON_EVERY_PLATFORM:
        await member.say(typed)
        await member.receive(screen)


async def test_members_phrasings_reach_their_screen_on_the_web_chat(web_chat: LiveServer, demo: Demo) -> None:
    async with httpx.AsyncClient(base_url=web_chat.url) as client:
        me = await visitor(client)
        await me.replies(text=demo.code("Mai Văn Sơn"))
        for typed, screen in ON_EVERY_PLATFORM:
            assert any(screen in reply["text"] for reply in await me.replies(text=typed)), typed


async def test_typed_words_beside_an_invitation_and_a_ballot_that_both_arrived_are_read_where_they_fit(
    runtime: Runtime, demo: Demo
) -> None:
    """An invitation and a ballot arrived together: "tham dự" can only mean the invitation's button,
    so it comes back to tap (was: the menu's greeting); a bare "có" could mean either and names none."""
    meeting_id = await _call_meeting(runtime, demo)
    manage = (await say(runtime, SECRETARY, "/quanly"))[0]
    await say(runtime, SECRETARY, payload=button(manage, "Biểu quyết mới"))
    preview = (await say(runtime, SECRETARY, "Thông qua kế hoạch quý I?"))[0]
    await say(runtime, SECRETARY, payload=button(preview, "Mở biểu quyết"))  # Loan's ballot arrives too
    either = (await say(runtime, LOAN, "có"))[0]
    assert _labels(either) != ["✅ Tham dự", "Chưa"]  # a yes to the invitation or to the motion: not guessed
    confirm = (await say(runtime, LOAN, "tham du"))[0]
    assert _labels(confirm) == ["✅ Tham dự", "Chưa"]
    loan = await member_named(runtime, "Phan Thị Loan")
    async with runtime.sessions() as session:
        invitation = await session.get(MeetingInvitation, (meeting_id, loan.id))
        assert invitation is not None and invitation.rsvp is None  # typed words changed nothing
        assert (await session.exec(select(PollVoter))).all() == []
