"""A member's conversations with chibo, written once and run on Telegram, Zalo Bot and Zalo OA.

Each scenario runs against the whole app. The member's messages go in through the platform's
webhook route, over HTTP. chibo's answers go out through the delivery worker to a local fake of
that platform's API. A small driver per platform says how a member writes or picks a choice there
(a button, or a number on Zalo Bot). It also reads what the fake received back as messages with
their text and the choices offered: buttons on Telegram and the OA, the numbered list on Zalo Bot.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select

from bot.runtime import Runtime
from handlers.context import Context
from handlers.contract import Inbound
from handlers.menus import main_menu
from models.notice_tracking import Delivery, notice_tracking
from models.polls import RESOLUTION_OPTIONS, counts
from models.tables import ChannelIdentity, Meeting, MeetingInvitation, Notice, Platform, Poll, Rsvp, utcnow
from tests.channel_drivers import (
    BRANCH,
    MEMBER,
    SECRETARY,
    Chat,
    Driver,
    Shown,
    _,
    joined,
)
from tests.conftest import Demo, member_named


# ---- the scenarios
async def main_menu_labels(runtime: Runtime, name: str) -> list[str]:
    """The main menu chibo offers ``name``, as the handlers make it: a new entry is expected too."""
    member = await member_named(runtime, name)
    async with runtime.sessions() as session:
        ctx = Context(session, Inbound(Platform.WEB, "", ""), runtime.catalogs, runtime.settings.tz)
        return [button.label for row in main_menu(ctx, member) for button in row]


async def test_a_stranger_joins_with_a_typed_code_and_sees_the_menu_and_their_details(
    channel: Driver, demo: Demo
) -> None:
    menu = await main_menu_labels(channel.runtime, "Mai Văn Sơn")
    member = Chat(channel, MEMBER)
    await member.say(demo.code("Mai Văn Sơn"))
    welcome = await member.receive("Chào mừng đồng chí Mai Văn Sơn", offering=menu)
    assert BRANCH in welcome.text
    assert welcome.labels == menu  # every entry, in order, and nothing else
    async with channel.runtime.sessions() as session:
        identity = (await session.exec(select(ChannelIdentity))).one()
    assert identity.platform is channel.platform and identity.platform_user_id == MEMBER
    assert identity.member_id == (await member_named(channel.runtime, "Mai Văn Sơn")).id

    await member.tap(welcome, _("My details"))
    details = await member.receive(_("Full name: {value}").format(value="Mai Văn Sơn"))
    assert _("Branch: {value}").format(value=BRANCH) in details.text


async def test_a_notice_reaches_the_member_who_marks_it_read_and_the_secretary_sees_it(
    channel: Driver, demo: Demo
) -> None:
    text = "Họp chi bộ định kỳ lúc 19:00 thứ Sáu tại nhà văn hóa thôn."
    secretary, home = await joined(channel, demo, SECRETARY, "Lý Văn Quang")
    member, _welcome = await joined(channel, demo, MEMBER, "Mai Văn Sơn")

    await secretary.tap(home, _("Manage"))
    await secretary.tap(await secretary.receive(offering=[_("New notice")]), _("New notice"))
    await secretary.receive(offering=[_("Cancel")])  # asked for the text
    await secretary.say(text)
    await secretary.tap(await secretary.receive(text, offering=[_("Send now")]), _("Send now"))
    sent = await secretary.receive(offering=[_("Track")])  # their own copy of the notice may come first

    notice = await member.receive(text, offering=[_("I have read it")])
    assert notice.text.startswith("📢 " + _("Notice"))
    assert notice.labels == ["✅ " + _("I have read it")]
    await member.tap(notice, _("I have read it"))
    await member.receive(_("Thank you, noted that you have read it."))

    await secretary.tap(sent, _("Track"))
    report = await secretary.receive(_("{total} recipient(s), not counting the sender:").format(total=9))
    assert "✅ " + _("read") + ": 1" in report.text  # Mai Văn Sơn, the only one who read it
    assert "Lý Văn Quang" not in report.text  # the sender is counted out, not "not read yet"
    async with channel.runtime.sessions() as session:
        stored = (await session.exec(select(Notice))).one()
        assert stored.text == text
        read = await notice_tracking(session, stored)
    assert [p.name for p in read.with_state(Delivery.READ)] == ["Mai Văn Sơn"]


async def test_a_member_votes_and_changes_their_vote_and_it_is_counted(channel: Driver, demo: Demo) -> None:
    question = "Thông qua kế hoạch quý I?"
    agree, disagree, _other = RESOLUTION_OPTIONS
    secretary, home = await joined(channel, demo, SECRETARY, "Lý Văn Quang")
    member, _welcome = await joined(channel, demo, MEMBER, "Mai Văn Sơn")

    await secretary.tap(home, _("Manage"))
    await secretary.tap(await secretary.receive(offering=[_("New poll")]), _("New poll"))
    await secretary.receive(offering=[_("Cancel")])  # asked for the question
    await secretary.say(question)
    await secretary.tap(await secretary.receive(question, offering=[_("Publish")]), _("Publish"))
    await secretary.receive(offering=[_("Track")])  # open; their own ballot may come first

    ballot = await member.receive(question, offering=RESOLUTION_OPTIONS)
    assert ballot.labels == list(RESOLUTION_OPTIONS)
    await member.tap(ballot, disagree)  # a button; on Zalo Bot its number
    recorded = await member.receive(_("Your vote was recorded: {choice}.").format(choice=disagree))
    assert question in recorded.text  # the ballot again, with the vote on it
    # Changed by the option's name: Zalo Bot members type "đồng ý"; elsewhere they tap it.
    await member.choose(recorded, agree)
    await member.receive(_("Your vote was changed to: {choice}.").format(choice=agree))

    async with channel.runtime.sessions() as session:
        poll = (await session.exec(select(Poll).where(Poll.question == question))).one()
        assert await counts(session, poll) == (1, 0, 0)


async def _call_meeting(secretary: Chat, home: Shown, title: str) -> None:
    """The secretary calls a meeting three days ahead at 19:30 and sends the invitations."""
    await secretary.tap(home, _("Meetings"))
    await secretary.tap(await secretary.receive(offering=[_("New meeting")]), _("New meeting"))
    await secretary.say(title)
    await secretary.receive(offering=[_("Cancel")])  # asked when it starts
    await secretary.say((datetime.now() + timedelta(days=3)).strftime("%d/%m") + " 19:30")
    await secretary.tap(await secretary.receive(title, offering=[_("Send the invitations")]), _("Send the invitations"))


async def test_a_member_answers_a_meeting_invitation_and_checks_in(channel: Driver, demo: Demo) -> None:
    title = "Sinh hoạt chi bộ định kỳ tháng 12"
    secretary, home = await joined(channel, demo, SECRETARY, "Lý Văn Quang")
    member, _welcome = await joined(channel, demo, MEMBER, "Mai Văn Sơn")

    await _call_meeting(secretary, home, title)
    await secretary.receive(offering=[_("Attendance")])

    invitation = await member.receive(title, offering=[_("I will attend"), _("Excused absence")])
    await member.tap(invitation, _("I will attend"))  # on Zalo Bot: its number
    thanks = await member.receive(
        _("Thank you. You will attend: {title}, {when}. I will remind you before it starts.").split("{")[0]
    )
    await member.tap(thanks, _("Details and documents"))
    card = await member.receive(title, offering=[_("Excused absence")])
    await member.tap(card, _("Excused absence"))
    reasons = await member.receive(_("What is the reason for your absence?"), offering=[_("Ill")])
    await member.choose(reasons, _("Ill"))  # Zalo Bot members type "ốm đau"
    await member.receive(_("Ill"))
    son = await member_named(channel.runtime, "Mai Văn Sơn")
    async with channel.runtime.sessions() as session:
        meeting = (await session.exec(select(Meeting).where(Meeting.title == title))).one()
        invited = await session.get(MeetingInvitation, (meeting.id, son.id))
        assert invited is not None and (invited.rsvp, invited.reason) == (Rsvp.EXCUSED, _("Ill"))
        # The meeting is about to begin; he came after all.
        await session.exec(
            update(Meeting).where(col(Meeting.id) == meeting.id).values(starts_at=utcnow() + timedelta(minutes=10))
        )
        await session.commit()
    await member.say("📅 " + _("Meetings"))
    schedule = await member.receive(_("Meeting schedule"), offering=["📅 " + title])
    await member.tap(schedule, "📅 " + title)
    await member.tap(await member.receive(title, offering=[_("I am here")]), _("I am here"))
    recorded = _(
        "Checked in: you are recorded present at \u201c{title}\u201d, at {when}. Your earlier request to be excused "
        "no longer counts."
    )
    await member.receive(recorded.partition("{when}")[0].format(title=title))  # what was recorded, not a greeting
    async with channel.runtime.sessions() as session:
        invited = await session.get(MeetingInvitation, (meeting.id, son.id))
        assert invited is not None and invited.checked_in_at is not None


async def test_a_member_types_when_is_the_meeting_and_gets_the_next_one(channel: Driver, demo: Demo) -> None:
    title = "Sinh hoạt chi bộ định kỳ tháng 12"
    secretary, home = await joined(channel, demo, SECRETARY, "Lý Văn Quang")
    member, _welcome = await joined(channel, demo, MEMBER, "Mai Văn Sơn")
    await _call_meeting(secretary, home, title)
    await member.receive(title, offering=[_("I will attend")])  # the invitation

    await member.say("khi nao hop chi bo")  # typed as members type: no accents, no question mark
    answer = await member.receive(
        _("The next meeting: {title}").format(title=title), offering=[_("I will attend"), _("Meeting schedule")]
    )
    assert "19:30" in answer.text
    await member.tap(answer, _("Meeting schedule"))
    await member.receive(_("Meeting schedule"), offering=["📅 " + title])
