"""Permissions are checked on the object a button is about, never on what it looks like today.

Every button a branch secretary is shown while working on a notice, a vote, a meeting and a member
record is replayed by an ordinary member of another branch, a deputy secretary of another branch
and a stranger: the database must not change, and each refusal must be in the audit log (a
stranger's at most once a minute, so a flood does not flood the log).
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel, col
from sqlmodel import select as sqlmodel_select

from bot.runtime import Runtime
from handlers.actions import InvalidPayload, decode
from handlers.contract import Attachment, Inbound, Reply
from handlers.meetings.actions import (
    AnswerInvitation,
    AttendanceBoard,
    CancelMeeting,
    Excuse,
    MarkAttendance,
    MeetingCard,
    MeetingCheckIn,
    MeetingDocument,
    MeetingList,
    MyAttendance,
    PastMeetings,
    SetMeetingOption,
)
from handlers.members import Cancel, EditMyPhone, SetLanguage
from handlers.menus import (
    ChooseLanguage,
    Help,
    Home,
    Meetings,
    MyBranch,
    MyDetails,
    Notices,
    OpenPolls,
    PollList,
    SentNotices,
)
from handlers.notices.actions import CancelNotice, NoticeBranch, NoticeScope, ReadNotice, SendNotice, TrackNotice
from handlers.polls.actions import (
    CancelPoll,
    ClosePoll,
    PaperVoter,
    PublishPoll,
    SetPoll,
    ToggleChoice,
    TrackPoll,
    Vote,
)
from handlers.records.actions import ChooseBranch, DeactivationReasons, MemberCard, NewInvite, Roles, SetExempt
from models.audit import REFUSED, STRANGER_REFUSED, Refusal, audit_refusal, audit_stranger
from models.membership import NotPermitted
from models.polls import check_poll
from models.polls import create_draft as create_poll
from models.tables import AuditEvent, ChannelIdentity, Notice, NoticeStatus, Platform, utcnow
from tests.chat import say
from tests.conftest import Demo, member_named

SECRETARY, SON, ELSEWHERE_MEMBER, ELSEWHERE_DEPUTY, STRANGER = 700, 701, 702, 703, 704
STALE = "Nút này không còn dùng được nữa"
# Actions on the actor themselves: replaying them changes the replayer's own record, not the object.
_OWN = {
    Home.prefix, Help.prefix, MyDetails.prefix, MyBranch.prefix, ChooseLanguage.prefix, SetLanguage.prefix,
    Cancel.prefix, EditMyPhone.prefix,
}  # fmt: skip
# What any member may press (on what concerns them); refused or empty for others, not audited.
_MEMBER_FACING = {
    Notices.prefix, ReadNotice.prefix, OpenPolls.prefix, Vote.prefix, ToggleChoice.prefix, Meetings.prefix,
    MeetingCard.prefix, AnswerInvitation.prefix, Excuse.prefix, MeetingCheckIn.prefix, MeetingDocument.prefix,
    MyAttendance.prefix, PastMeetings.prefix,
}  # fmt: skip
# Buttons that only open a list of further buttons: the secretary taps them to see those too.
_OPENS_A_LIST = {
    Roles.prefix, DeactivationReasons.prefix, ChooseBranch.prefix, CancelMeeting.prefix, MarkAttendance.prefix,
    NoticeBranch.prefix, AttendanceBoard.prefix, TrackPoll.prefix, TrackNotice.prefix, MeetingCard.prefix,
    MemberCard.prefix,
    PaperVoter.prefix, MeetingList.prefix, PollList.prefix, SentNotices.prefix,
}  # fmt: skip
# Tables whose rows are the conversation itself, not the objects: who is waiting to answer what,
# de-duplicated updates, the audit log (checked on its own), numbered menus.
_NOT_OBJECTS = {"auditevent", "processedupdate", "channelidentity", "zalobotmenu", "alembic_version"}


def _payloads(replies: list[Reply]) -> list[str]:
    return [b.payload for reply in replies for row in reply.buttons for b in row]


def _first(replies: list[Reply], prefix: str) -> str:
    for payload in _payloads(replies):
        if payload.startswith(prefix):
            return payload
    raise AssertionError(f"no {prefix!r} button in {_payloads(replies)}")


def _action(payload: str) -> str:
    """What a button does: the name its payload starts with (``pv`` for a ballot)."""
    return payload.partition(":")[0]


def _opens_a_list(payload: str) -> bool:
    """``mr:<id>`` lists roles; ``mr:<id>:<role>`` sets one. ``mtm:<id>:<member>`` lists states."""
    action, _sep, argument = payload.partition(":")
    parts = argument.count(":") + 1 if argument else 0
    return action in _OPENS_A_LIST and parts <= (2 if action == MarkAttendance.prefix else 1)


def _in_three_days() -> str:
    return (datetime.now() + timedelta(days=3)).strftime("%d/%m") + " 19:30"


async def _secretary_session(runtime: Runtime, demo: Demo) -> tuple[list[str], int]:
    """Lý Văn Quang (Tây) works on notices, votes, a meeting and a member record; every button he
    was shown, and the id of the notice he left with no branch ticked."""
    shown: list[str] = []

    async def tap(user: int, message: str | None = None, **extra: Any) -> list[Reply]:
        replies = await say(runtime, user, message, **extra)
        if user == SECRETARY:
            shown.extend(_payloads(replies))
        return replies

    await tap(SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await tap(SON, f"/start {demo.code('Mai Văn Sơn')}")
    tay = (await member_named(runtime, "Lý Văn Quang")).branch_id
    # A notice whose own branch he unticked, with a file attached.
    await tap(SECRETARY, payload="nnew")
    draft = await tap(SECRETARY, "Họp chi bộ tối thứ Sáu, đồng chí nào vắng báo trước")
    notice_id = int(_first(draft, "ns:").split(":")[1])
    await tap(SECRETARY, payload=f"ask:attach:{notice_id}")
    await tap(SECRETARY, attachment=Attachment("ke-hoach.txt", b"Ke hoach thang 12"))
    await tap(SECRETARY, payload=f"nb:{notice_id}:{tay}")
    await tap(SECRETARY, payload=f"na:{notice_id}:show")
    # A notice sent, and one scheduled.
    await tap(SECRETARY, payload="nnew")
    sent = await tap(SECRETARY, "Thông báo thu đảng phí tháng 12")
    await tap(SECRETARY, payload=_first(sent, "ns:"))
    await tap(SECRETARY, payload="nnew")
    later = await tap(SECRETARY, "Thông báo lịch trực Tết")
    await tap(SECRETARY, payload=_first(later, "ask:when:"))
    await tap(SECRETARY, "25/12 08:00")
    # A vote published, and one left as a draft.
    await tap(SECRETARY, payload="pnew")
    poll = await tap(SECRETARY, "Thông qua kế hoạch quý I?")
    await tap(SECRETARY, payload=_first(poll, "pp:"))
    await tap(SECRETARY, payload="pnew")
    await tap(SECRETARY, "Chọn ngày tổng vệ sinh")
    # A meeting called.
    await tap(SECRETARY, payload="mtn")
    await tap(SECRETARY, "Sinh hoạt chi bộ định kỳ tháng 12")
    preview = await tap(SECRETARY, _in_three_days())
    await tap(SECRETARY, payload=_first(preview, "mtg:"))
    # A member record.
    son = await member_named(runtime, "Mai Văn Sơn")
    await tap(SECRETARY, payload=f"mc:{son.id}")
    # Every button that only opens more buttons, once each.
    opened: set[str] = set()
    while True:
        more = [p for p in dict.fromkeys(shown) if p not in opened and _opens_a_list(p)]
        if not more:
            break
        for payload in more:
            opened.add(payload)
            await tap(SECRETARY, payload=payload)
    return list(dict.fromkeys(shown)), notice_id


async def _snapshot(runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    tables = [t for t in SQLModel.metadata.sorted_tables if t.name not in _NOT_OBJECTS]
    snapshot = {}
    async with runtime.sessions() as session:
        for table in tables:
            rows = (await session.exec(select(table).order_by(*table.primary_key.columns))).all()  # type: ignore[call-overload]
            snapshot[table.name] = [tuple(row) for row in rows]
    return snapshot


async def _refusals(runtime: Runtime, member_id: int | None) -> int:
    """A stranger's refusals written down; a member's refusals counted (their rows' ``times``)."""
    async with runtime.sessions() as session:
        if member_id is None:
            query = sqlmodel_select(func.count()).select_from(AuditEvent).where(AuditEvent.action == STRANGER_REFUSED)
            return (await session.exec(query)).one()
        rows = await _refusal_rows(runtime, member_id)
        return sum(int((row.after or {})["times"]) for row in rows)


async def _refusal_rows(runtime: Runtime, member_id: int | None) -> list[AuditEvent]:
    async with runtime.sessions() as session:
        query = sqlmodel_select(AuditEvent).where(AuditEvent.actor_member_id == member_id, AuditEvent.action == REFUSED)
        return list((await session.exec(query.order_by(AuditEvent.id))).all())  # type: ignore[arg-type]


async def test_every_secretary_button_replayed_by_others_changes_nothing(runtime: Runtime, demo: Demo) -> None:
    payloads, notice_id = await _secretary_session(runtime, demo)
    actions = {_action(p) for p in payloads}
    # The session reached every kind of object.
    assert {SendNotice.prefix, NoticeScope.prefix, CancelNotice.prefix, TrackNotice.prefix} <= actions
    assert {PublishPoll.prefix, SetPoll.prefix, ClosePoll.prefix, CancelPoll.prefix} <= actions
    assert {SetMeetingOption.prefix, MarkAttendance.prefix, AttendanceBoard.prefix, CancelMeeting.prefix} <= actions
    assert {Roles.prefix, DeactivationReasons.prefix, NewInvite.prefix, SetExempt.prefix} <= actions
    async with runtime.sessions() as session:
        unticked = await session.get(Notice, notice_id)
    assert unticked is not None and unticked.status is NoticeStatus.DRAFT
    assert unticked.audience["branches"] == []  # the draft that belongs to no branch by its audience

    await say(runtime, ELSEWHERE_MEMBER, f"/start {demo.code('Hoàng Văn Nam')}")  # Đông, a member
    await say(runtime, ELSEWHERE_DEPUTY, f"/start {demo.code('Trần Thị Lan')}")  # Đông, deputy secretary
    replayed = [p for p in payloads if _action(p) not in _OWN]
    before = await _snapshot(runtime)
    not_audited: list[str] = []
    for user, name in ((ELSEWHERE_MEMBER, "Hoàng Văn Nam"), (ELSEWHERE_DEPUTY, "Trần Thị Lan")):
        who = await member_named(runtime, name)
        for payload in replayed:
            counted = await _refusals(runtime, who.id)
            await say(runtime, user, payload=payload)
            if _action(payload) not in _MEMBER_FACING and await _refusals(runtime, who.id) == counted:
                not_audited.append(f"{name}: {payload}")
    for payload in replayed:
        await say(runtime, STRANGER, payload=payload)
    after = await _snapshot(runtime)

    changed = {name: (before[name], after[name]) for name in before if before[name] != after[name]}
    assert not changed, changed
    assert not not_audited
    assert await _refusals(runtime, None) == 1  # the stranger: once, however many taps in a minute


async def test_a_notice_with_no_branch_ticked_belongs_to_its_authors_branch(runtime: Runtime, demo: Demo) -> None:
    """The reported attack: the secretary unticks the own branch; a member of another branch then
    tries to replace its file, change its audience, schedule and cancel it."""
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, ELSEWHERE_DEPUTY, f"/start {demo.code('Trần Thị Lan')}")
    tay = (await member_named(runtime, "Lý Văn Quang")).branch_id
    await say(runtime, SECRETARY, payload="nnew")
    notice_id = int(_first(await say(runtime, SECRETARY, "Họp chi bộ tối thứ Sáu"), "ns:").split(":")[1])
    await say(runtime, SECRETARY, payload=f"nb:{notice_id}:{tay}")

    asked = await say(runtime, ELSEWHERE_DEPUTY, payload=f"ask:attach:{notice_id}")
    assert STALE in asked[0].text
    await say(runtime, ELSEWHERE_DEPUTY, attachment=Attachment("thay-the.txt", b"noi dung khac"))
    for payload in (f"na:{notice_id}:branch", f"ask:when:{notice_id}", f"nc:{notice_id}", f"ns:{notice_id}"):
        await say(runtime, ELSEWHERE_DEPUTY, payload=payload)
    await say(runtime, ELSEWHERE_DEPUTY, "25/12 08:00")
    async with runtime.sessions() as session:
        notice = await session.get(Notice, notice_id)
        in_order = sqlmodel_select(AuditEvent.actor_member_id, AuditEvent.action).order_by(col(AuditEvent.id))
        actors = (await session.exec(in_order)).all()
    assert notice is not None and notice.status is NoticeStatus.DRAFT and notice.audience["branches"] == []
    deputy = await member_named(runtime, "Trần Thị Lan")
    assert [a for m, a in actors if m == deputy.id] == ["member.linked", "refused"]  # one row a minute...
    assert await _refusals(runtime, deputy.id) == 5  # ...counting each refusal
    # The author still can: it is his branch's draft.
    assert "Đã hủy thông báo" in (await say(runtime, SECRETARY, payload=f"nc:{notice_id}"))[0].text


async def test_a_strangers_refusals_are_audited_once_a_minute(runtime: Runtime, demo: Demo) -> None:
    for _ in range(20):
        assert "mã mời" in (await say(runtime, STRANGER, payload="mtl"))[0].text
    assert await _refusals(runtime, None) == 1
    later = utcnow() + timedelta(minutes=1, seconds=1)
    async with runtime.sessions() as session, session.begin():
        assert await audit_stranger(session, Platform.TELEGRAM, str(STRANGER), "mtl", now=later)
        assert not await audit_stranger(session, Platform.TELEGRAM, str(STRANGER), "mtl", now=later)
        assert await audit_stranger(session, Platform.TELEGRAM, "another", "mtl", now=later)
    async with runtime.sessions() as session:
        rows = (await session.exec(sqlmodel_select(AuditEvent).where(AuditEvent.action == STRANGER_REFUSED))).all()
    assert [r.after["who"] for r in rows if r.after] == [f"telegram:{STRANGER}"] * 2 + ["telegram:another"]
    assert all(r.actor_member_id is None for r in rows)


async def test_a_members_forged_buttons_are_counted_in_one_audit_row_a_minute(runtime: Runtime, demo: Demo) -> None:
    """The reported flood: an ordinary member replaying forged secretary buttons wrote one audit row
    per tap. Now one row a minute per member, counting the taps and naming each permission tried."""
    await say(runtime, ELSEWHERE_MEMBER, f"/start {demo.code('Hoàng Văn Nam')}")
    nam = await member_named(runtime, "Hoàng Văn Nam")
    son = await member_named(runtime, "Mai Văn Sơn")
    for _ in range(15):
        # A button on another branch's member answers as a made-up id would (stale), but is counted.
        for payload, answer in (
            ("roster", "chỉ dành cho bí thư"),
            (f"mx:{son.id}:1", STALE),
            ("mtn", "chỉ dành cho bí thư"),
        ):
            assert answer in (await say(runtime, ELSEWHERE_MEMBER, payload=payload))[0].text
    [row] = await _refusal_rows(runtime, nam.id)
    assert row.after is not None and row.after["times"] == 45
    assert len(row.after["permissions"]) == 3  # the roster, a member's record, the meetings
    # A minute later the next refusal starts a new row; another member has rows of their own.
    later = utcnow() + timedelta(minutes=1, seconds=1)
    async with runtime.sessions() as session, session.begin():
        assert await audit_refusal(session, nam.id or 0, Refusal("view_roster", nam.branch_id), now=later)
        assert not await audit_refusal(session, nam.id or 0, Refusal("view_roster", nam.branch_id), now=later)
        assert await audit_refusal(session, son.id or 0, Refusal("view_roster", son.branch_id), now=later)
    assert [r.after["times"] for r in await _refusal_rows(runtime, nam.id) if r.after] == [45, 2]
    assert len(await _refusal_rows(runtime, son.id)) == 1


async def _tap_on(runtime: Runtime, platform: Platform, user: str, payload: str) -> list[dict[str, Any]]:
    inbound = Inbound(platform=platform, user_id=user, chat_id=user, payload=payload)
    replies = (await runtime.process(inbound, f"{platform}:{payload}", answer_inline=True)).replies
    return [reply.to_dict() for reply in replies]


def _id(payload: str) -> int:
    return int(payload.split(":")[1])


async def test_another_branchs_notice_poll_and_meeting_answer_as_ids_that_do_not_exist(
    runtime: Runtime, demo: Demo
) -> None:
    """Was: "Đã đọc" on another branch's notice answered "noted" (nothing was recorded), and its
    meeting's card and its poll's ballot answered "not on the list", which told that they exist. Now
    each answers exactly as an id that does not exist, on every platform, and records nothing."""
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, SECRETARY, payload="nnew")
    notice_id = _id(_first(await say(runtime, SECRETARY, "Thông báo thu đảng phí tháng 12"), "ns:"))
    await say(runtime, SECRETARY, payload=f"ns:{notice_id}")
    await say(runtime, SECRETARY, payload="pnew")
    poll_id = _id(_first(await say(runtime, SECRETARY, "Thông qua kế hoạch quý I?"), "pp:"))
    await say(runtime, SECRETARY, payload=f"pp:{poll_id}")
    await say(runtime, SECRETARY, payload="mtn")
    await say(runtime, SECRETARY, "Sinh hoạt chi bộ định kỳ tháng 12")
    meeting_id = _id(_first(await say(runtime, SECRETARY, _in_three_days()), "mtg:"))
    await say(runtime, SECRETARY, payload=f"mtg:{meeting_id}")
    await say(runtime, ELSEWHERE_MEMBER, f"/start {demo.code('Hoàng Văn Nam')}")  # Đông
    nam = await member_named(runtime, "Hoàng Văn Nam")
    async with runtime.sessions() as session, session.begin():
        for platform in (Platform.ZALO_OA, Platform.ZALO_BOT, Platform.WEB):
            session.add(
                ChannelIdentity(platform=platform, platform_user_id="nam", chat_id="nam", member_id=nam.id or 0)
            )
    before = await _snapshot(runtime)
    missing = 2_000_000_000
    for platform in (p for p in Platform if p is not Platform.WEB_PUSH):  # Web Push takes no taps
        user = str(ELSEWHERE_MEMBER) if platform is Platform.TELEGRAM else "nam"
        for real, made_up in (
            (f"read:{notice_id}", f"read:{missing}"),
            (f"mt:{meeting_id}", f"mt:{missing}"),
            (f"mty:{meeting_id}:yes", f"mty:{missing}:yes"),
            (f"pv:{poll_id}:1", f"pv:{missing}:1"),
        ):
            answer = await _tap_on(runtime, platform, user, real)
            assert answer == await _tap_on(runtime, platform, user, made_up), (platform, real, answer)
            assert STALE in answer[0]["text"], (platform, real, answer)
    assert await _snapshot(runtime) == before


def _with_a_missing_id(payload: str) -> str | None:
    """The same secretary's button naming an object that does not exist (None: not such a button)."""
    try:
        action = decode(payload)
    except InvalidPayload:
        return None
    ids = [f.name for f in fields(action) if f.name.endswith("_id")]  # type: ignore[arg-type]
    if action.prefix in _MEMBER_FACING or not ids:
        return None
    return replace(action, **{ids[0]: 2_000_000_000}).pack()  # type: ignore[type-var]


async def test_a_secretarys_buttons_answer_alike_for_another_branchs_ids_and_missing_ones(
    runtime: Runtime, demo: Demo
) -> None:
    """Was: another branch's notice, poll, meeting or member answered "only for the secretary" (and
    was audited), a made-up id "this button is no longer valid" (not audited): guessing ids told
    which exist. Now both get the same reply and the same audited refusal."""
    payloads, _notice_id = await _secretary_session(runtime, demo)
    await say(runtime, ELSEWHERE_MEMBER, f"/start {demo.code('Hoàng Văn Nam')}")  # Đông, a member
    await say(runtime, ELSEWHERE_DEPUTY, f"/start {demo.code('Trần Thị Lan')}")  # Đông, deputy secretary
    pairs = [(p, made_up) for p in payloads if (made_up := _with_a_missing_id(p)) is not None]
    assert {_action(p) for p, _made_up in pairs} >= {"ps", "nb", "mtm", "md", "mr", "ns", "pp", "mts", "mx"}
    taps = iter(range(1_000_000))

    async def tap(user: int, payload: str) -> list[dict[str, Any]]:  # each its own update, never a retry
        inbound = Inbound(platform=Platform.TELEGRAM, user_id=str(user), chat_id=str(user), payload=payload)
        return [r.to_dict() for r in (await runtime.process(inbound, f"tap{next(taps)}", answer_inline=True)).replies]

    for user, name in ((ELSEWHERE_MEMBER, "Hoàng Văn Nam"), (ELSEWHERE_DEPUTY, "Trần Thị Lan")):
        who = await member_named(runtime, name)
        for real, made_up in pairs:
            counted = await _refusals(runtime, who.id)
            answer = await tap(user, real)
            audited = await _refusals(runtime, who.id) - counted
            assert answer == await tap(user, made_up), (name, real)
            assert STALE in answer[0]["text"], (name, real, answer)
            assert audited == 1 and await _refusals(runtime, who.id) - counted == 2, (name, real)


async def test_sending_a_notice_to_nobody_leaves_it_a_draft(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    tay = (await member_named(runtime, "Lý Văn Quang")).branch_id
    await say(runtime, SECRETARY, payload="nnew")
    notice_id = int(_first(await say(runtime, SECRETARY, "Họp chi bộ tối thứ Sáu"), "ns:").split(":")[1])
    await say(runtime, SECRETARY, payload=f"nb:{notice_id}:{tay}")
    assert "Không có ai trong nhóm người nhận này" in (await say(runtime, SECRETARY, payload=f"ns:{notice_id}"))[0].text
    async with runtime.sessions() as session:
        notice = await session.get(Notice, notice_id)
    assert notice is not None and notice.status is NoticeStatus.DRAFT and notice.sent_at is None


async def test_a_poll_with_no_branch_listed_belongs_to_its_authors_branch(runtime: Runtime, demo: Demo) -> None:
    quang = await member_named(runtime, "Lý Văn Quang")
    lan = await member_named(runtime, "Trần Thị Lan")  # deputy secretary of Đông
    async with runtime.sessions() as session, session.begin():
        poll = await create_poll(session, quang, "Thông qua kế hoạch?", [], utcnow() + timedelta(days=2))
        await check_poll(session, quang, poll)
        with pytest.raises(NotPermitted):
            await check_poll(session, lan, poll)
