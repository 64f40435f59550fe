"""The one entry point for every inbound event: find who is asking, then route what they did."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import actions, directory, intents, meetings, members, notices, polls, records, register, times
from handlers.actions import ActionData
from handlers.context import Context
from handlers.contract import Catalogs, Inbound, Reply
from handlers.menus import action_for_label
from handlers.payloads import Action, InvalidPayload, Payload, decode
from handlers.questions import Ask, Awaiting, PickTime
from handlers.router import Dispatcher
from models.audit import audit_stranger
from models.errors import DomainError
from models.roster import fold
from models.tables import ChannelIdentity, Member

# Commands work as well as buttons; the Vietnamese aliases are what a member might type.
COMMANDS: dict[str, Action] = {
    "menu": Action.HOME,
    "help": Action.HELP,
    "huongdan": Action.HELP,
    "me": Action.MY_DETAILS,
    "toi": Action.MY_DETAILS,
    "branch": Action.MY_BRANCH,
    "chibo": Action.MY_BRANCH,
    "manage": Action.MANAGE,
    "quanly": Action.MANAGE,
    "find": Action.FIND_MEMBER,
    "tim": Action.FIND_MEMBER,
    "lang": Action.CHOOSE_LANGUAGE,
    "meetings": Action.MEETINGS,
    "lichhop": Action.MEETINGS,
    "language": Action.CHOOSE_LANGUAGE,
}
# Every feature's router. A feature not yet moved onto a router is still reached through ``_run``.
DISPATCH = Dispatcher((members.router, meetings.router))
# Longer than any invite code: treat as conversation, not as a mistyped code.
_CODE_LIKE_MAX = 16
# Who is writing, and the member behind it, in one round trip; built once, as every event runs it.
_WHO = (
    select(ChannelIdentity, Member)
    .join(Member, col(Member.id) == ChannelIdentity.member_id)
    .where(col(ChannelIdentity.platform) == bindparam("platform"))
    .where(col(ChannelIdentity.platform_user_id) == bindparam("user_id"))
)


async def handle(
    session: AsyncSession,
    catalogs: Catalogs,
    timezone: ZoneInfo,
    inbound: Inbound,
    *,
    nudge_interval: timedelta = timedelta(hours=24),
) -> list[Reply]:
    ctx = Context(session=session, inbound=inbound, catalogs=catalogs, timezone=timezone, nudge_interval=nudge_interval)
    try:
        replies = await _route(ctx, inbound)
    except DomainError as error:  # one place turns every refusal into the member's words
        replies = _render(ctx, error)
    intents.remember_choices(ctx, replies)  # so a typed "gửi đi" or "có" can be read as a tap
    return replies


async def _route(ctx: Context, inbound: Inbound) -> list[Reply]:
    await _identify(ctx)
    if inbound.contact_phone is not None:
        return await members.join_with_phone(ctx)
    if inbound.attachment is not None:
        if ctx.member is None:
            return [members.stranger_welcome(ctx)]
        pending = ctx.take_question() or ""
        awaiting = Awaiting.parse(pending)
        route = DISPATCH.questions.get(awaiting.question) if awaiting is not None else None
        if awaiting is not None and route is not None and route.file is not None:
            return await route.file(ctx, ctx.member, awaiting, inbound.attachment)
        if pending.startswith("attach:"):  # the file a notice being composed asked for
            return await notices.attach_file(ctx, ctx.member, pending.partition(":")[2], inbound.attachment)
        return await register.import_upload(ctx, ctx.member, inbound.attachment)
    if inbound.payload is not None and actions.is_known(inbound.payload):
        try:
            typed = actions.decode(inbound.payload)
        except actions.InvalidPayload:
            return _stale_button(ctx)
        if not typed.keeps_question:
            ctx.take_question()
        return await _act(ctx, typed)
    if inbound.payload is not None:
        try:
            payload = decode(inbound.payload)
        except InvalidPayload:
            return _stale_button(ctx)
        if payload.action is not Action.PROMOTE_TODAY:  # that button answers the open question
            ctx.take_question()
        return await _run(ctx, payload.action, payload.argument)
    text = (inbound.text or "").strip()
    if text.startswith("/"):
        ctx.take_question()  # a command means they moved on
        command, _, argument = text[1:].partition(" ")
        command = command.split("@", 1)[0].lower()  # Telegram adds @botname in groups
        if command == "start":
            return await _start(ctx, argument.strip())
        if command in COMMANDS:
            return await _run(ctx, COMMANDS[command], argument.strip())
        return await _unknown(ctx)
    door = action_for_label(ctx.catalogs, text)
    if door is not None:
        ctx.take_question()
        return await _act(ctx, door)
    if ctx.member is None:
        if _looks_like_a_code(text):
            return await members.join_with_code(ctx, text)
        return [members.stranger_welcome(ctx)]
    question = ctx.take_question()
    if question is not None and _is_cancel(text):  # "thôi": they do not want to answer after all
        return await _run(ctx, Action.CANCEL, "")
    if question is not None and text:
        return await _answer(ctx, ctx.member, question, text)
    # Typed words answering no question: a question in the member's own words, or a tap typed.
    understood = await intents.understand(ctx, ctx.member, text)
    if isinstance(understood, Payload):
        return await _run(ctx, understood.action, understood.argument)
    return understood


async def _answer(ctx: Context, member: Member, question: str, text: str) -> list[Reply]:
    """A typed message that answers the question chibo asked last."""
    question, text = times.follow_up(ctx, question, text)
    awaiting = Awaiting.parse(question)
    route = DISPATCH.questions.get(awaiting.question) if awaiting is not None else None
    if awaiting is not None and route is not None and route.text is not None:
        return await route.text(ctx, member, awaiting, text)
    if question == "myphone":
        return await members.save_my_phone(ctx, member, text)
    if question == intents.SWITCH_QUESTION:
        return await intents.switch_with_code(ctx, member, text)
    if question == "find":
        return await directory.find_members(ctx, member, text)
    if question == "notice":
        return await notices.draft_from_text(ctx, member, text)
    if question.startswith("when:"):
        return await notices.schedule_from_text(ctx, member, question.partition(":")[2], text)
    if question.startswith("people:"):
        return await notices.people_from_text(ctx, member, question.partition(":")[2], text)
    if question == "poll":
        return await polls.draft_from_text(ctx, member, text)
    if question.startswith(("options:", "deadline:")):
        return await polls.answer(ctx, member, question, text)
    if question.startswith("paper:"):
        return await polls.paper_voters(ctx, member, question.partition(":")[2], text)
    if question.startswith("paperbox:"):
        return await polls.paper_box(ctx, member, question.partition(":")[2], text)
    if question.startswith("attach:"):  # a file was asked for, text came: ask again
        return await notices.ask_file(ctx, member, question.partition(":")[2])
    return await records.answer(ctx, member, question, text)


# What members type to drop the question chibo asked (folded: no accents, lower case).
_CANCEL_WORDS = frozenset({"thoi", "huy", "huy bo", "bo qua", "thoat", "thoi khong can", "cancel"})


def _is_cancel(text: str) -> bool:
    words = re.sub(r"[^a-z ]+", " ", fold(text)).split()
    while words and words[-1] in ("a", "nhe", "nua"):  # "thôi ạ", "hủy nhé"
        words.pop()
    return " ".join(words) in _CANCEL_WORDS


def _looks_like_a_code(text: str) -> bool:
    compact = "".join(ch for ch in text if ch not in " -_.\t")
    return 0 < len(compact) <= _CODE_LIKE_MAX and compact.isascii() and compact.isalnum()


async def _identify(ctx: Context) -> None:
    inbound = ctx.inbound
    found = (await ctx.session.exec(_WHO, params={"platform": inbound.platform, "user_id": inbound.user_id})).first()
    if found is None:
        return
    identity, member = found
    ctx.identity = identity
    if not member.active:
        return  # a deactivated member's account is treated as a stranger's
    if identity.unreachable_at is not None or identity.chat_id != inbound.chat_id:
        # They wrote to us, so they can be reached again, at the chat they wrote from.
        identity.unreachable_at = None
        identity.chat_id = inbound.chat_id
        ctx.session.add(identity)
    ctx.member = member


async def _start(ctx: Context, argument: str) -> list[Reply]:
    if argument:
        return await members.join_with_code(ctx, argument)
    if ctx.member is None:
        return [members.stranger_welcome(ctx)]
    return [members.welcome_back(ctx, ctx.member)]


# What a stranger may ask without it being a refused action worth auditing.
_HARMLESS = frozenset({Action.HOME, Action.HELP, Action.CHOOSE_LANGUAGE, Action.SET_LANGUAGE, Action.CANCEL})


async def _act(ctx: Context, action: ActionData) -> list[Reply]:
    """Run a typed action through the router that owns it."""
    member = ctx.member
    if member is None:
        if not action.open_to_strangers:
            await audit_stranger(ctx.session, ctx.inbound.platform, ctx.inbound.user_id, action.prefix)
        return [members.stranger_welcome(ctx)]
    if isinstance(action, Ask):
        route = DISPATCH.questions.get(action.question)
        if route is not None and route.prompt is not None:
            return await route.prompt(ctx, member, Awaiting(action.question, action.subject))
    elif isinstance(action, PickTime):
        return await _answer(ctx, member, *times.picked(ctx, action.pack().partition(":")[2]))
    elif type(action) in DISPATCH.actions:
        return await DISPATCH.run(ctx, member, action)
    legacy = decode(action.pack())  # a feature still routed by ``_run``
    return await _run(ctx, legacy.action, legacy.argument)


def _on_a_router(packed: str) -> ActionData | None:
    """The typed action a legacy payload stands for, when a router handles it (a command's
    argument may be any typed text: what no action fits is left to ``_run``)."""
    if not actions.is_known(packed):
        return None
    try:
        typed = actions.decode(packed)
    except actions.InvalidPayload:
        return None
    if isinstance(typed, Ask):
        route = DISPATCH.questions.get(typed.question)
        return typed if route is not None and route.prompt is not None else None
    return typed if type(typed) in DISPATCH.actions else None


def _render(ctx: Context, error: DomainError) -> list[Reply]:
    if ctx.member is None:
        return [members.stranger_welcome(ctx)]
    renderer = DISPATCH.renderer(error)
    if renderer is None:
        raise error
    replies: list[Reply] = renderer(ctx, ctx.member, error)
    return replies


async def _run(ctx: Context, action: Action, argument: str) -> list[Reply]:
    member = ctx.member
    if member is None:
        if action not in _HARMLESS:
            await audit_stranger(ctx.session, ctx.inbound.platform, ctx.inbound.user_id, action.value)
        return [members.stranger_welcome(ctx)]
    moved = _on_a_router(f"{action.value}:{argument}" if argument else action.value)
    if moved is not None:  # a command or typed words naming a feature that has moved to its router
        return await _act(ctx, moved)
    match action:
        case Action.HOME:
            return [members.welcome_back(ctx, member)]
        case Action.HELP:
            return members.help_text(ctx, member)
        case Action.MY_DETAILS:
            return await members.my_details(ctx, member)
        case Action.MY_BRANCH:
            return await members.my_branch(ctx, member)
        case Action.MANAGE:
            return await intents.with_unanswered(ctx, member, members.manage_menu(ctx, member))
        case Action.BRANCH_ROSTER:
            return await directory.branch_roster(ctx, member)
        case Action.FIND_MEMBER:
            if not argument:
                return await records.ask(ctx, member, "find")
            return await directory.find_members(ctx, member, argument)
        case Action.CHOOSE_LANGUAGE:
            return members.choose_language(ctx)
        case Action.SET_LANGUAGE:
            return await members.set_language(ctx, member, argument)
        case Action.CANCEL:
            return [members.home(ctx, member, ctx.gettext("Cancelled."))]
        case Action.EDIT_MY_PHONE:
            return members.ask_my_phone(ctx, member)
        case Action.MEMBER_CARD:
            return await records.member_card(ctx, member, argument)
        case Action.ASK:
            if argument.startswith("when:"):
                return await notices.ask_when(ctx, member, argument.partition(":")[2])
            if argument.startswith("people:"):
                return await notices.ask_people(ctx, member, argument.partition(":")[2])
            if argument.startswith("attach:"):
                return await notices.ask_file(ctx, member, argument.partition(":")[2])
            if argument.startswith(("options:", "deadline:", "paper:", "paperbox:")):
                field, _sep, poll_id = argument.partition(":")
                return await polls.ask(ctx, member, field, poll_id)
            return await records.ask(ctx, member, argument)
        case Action.SET_ROLE:
            return await records.set_role(ctx, member, argument)
        case Action.PROMOTE_TODAY:
            return await records.promote_today(ctx, member, argument)
        case Action.PROBATION_DUE:
            return await records.probation_due_list(ctx, member)
        case Action.SET_EXEMPT:
            return await records.set_exemption(ctx, member, argument)
        case Action.MOVE:
            return await records.move(ctx, member, argument)
        case Action.DEACTIVATE:
            return await records.deactivate_member(ctx, member, argument)
        case Action.REACTIVATE:
            return await records.reactivate_member(ctx, member, argument)
        case Action.NEW_INVITE:
            return await records.new_invite(ctx, member, argument)
        case Action.REVOKE_INVITES:
            return await records.revoke_member_invites(ctx, member, argument)
        case Action.HISTORY:
            return await records.history(ctx, member, argument)
        case Action.RECENT_CHANGES:
            return await records.recent_changes(ctx, member)
        case Action.IMPORT_REGISTER:
            return members.import_help(ctx, member)
        case Action.NOTICES:
            return await notices.inbox(ctx, member)
        case Action.READ_NOTICE:
            return await notices.mark_read(ctx, member, argument)
        case Action.NEW_NOTICE:
            return await notices.start(ctx, member)
        case Action.SENT_NOTICES:
            return await notices.sent_list(ctx, member)
        case Action.NOTICE_AUDIENCE:
            return await notices.change_audience(ctx, member, argument)
        case Action.NOTICE_BRANCH:
            return await notices.toggle_branch(ctx, member, argument)
        case Action.SEND_NOTICE:
            return await notices.send(ctx, member, argument)
        case Action.CANCEL_NOTICE:
            return await notices.cancel_notice(ctx, member, argument)
        case Action.TRACK_NOTICE:
            return await notices.track(ctx, member, argument)
        case Action.NUDGE_NOTICE:
            return await notices.remind(ctx, member, argument)
        case Action.EXPORT_RECEIPTS:
            return await notices.export_receipts(ctx, member, argument)
        case Action.OPEN_POLLS:
            return await polls.open_polls(ctx, member)
        case Action.VOTE:
            return await polls.cast(ctx, member, argument)
        case Action.TOGGLE_CHOICE:
            return await polls.toggle(ctx, member, argument)
        case Action.NEW_POLL:
            return await polls.start(ctx, member)
        case Action.POLL_LIST:
            return await polls.poll_list(ctx, member)
        case Action.POLL_SET:
            return await polls.set_option(ctx, member, argument)
        case Action.POLL_PUBLISH:
            return await polls.publish_poll(ctx, member, argument)
        case Action.POLL_CANCEL:
            return await polls.cancel_poll(ctx, member, argument)
        case Action.POLL_TRACK:
            return await polls.track(ctx, member, argument)
        case Action.POLL_NUDGE:
            return await polls.remind(ctx, member, argument)
        case Action.POLL_CLOSE:
            return await polls.close_now(ctx, member, argument)
        case Action.PAPER_VOTER:
            return await polls.paper_ballot(ctx, member, argument)
        case Action.PAPER_VOTE:
            return await polls.paper_vote(ctx, member, argument)
        case Action.PICK_TIME:
            return await _answer(ctx, member, *times.picked(ctx, argument))
        case Action.SWITCH_MEMBER:
            return intents.ask_switch(ctx, member)
    # A moved feature's payload that its typed action refuses (a shape chibo never made).
    return _stale_button(ctx)


def _stale_button(ctx: Context) -> list[Reply]:
    _ = ctx.gettext
    text = _("This button is no longer valid. Please use the menu below.")
    if ctx.member is None:
        return [members.stranger_welcome(ctx)]
    return [members.home(ctx, ctx.member, text)]


async def _unknown(ctx: Context) -> list[Reply]:
    if ctx.member is None:
        return [members.stranger_welcome(ctx)]
    _ = ctx.gettext
    return [
        members.home(
            ctx,
            ctx.member,
            _("Sorry, I did not understand that. Please tap a button in the menu below, or type /help."),
        )
    ]
