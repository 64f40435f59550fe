"""The one entry point for every inbound event: find who is asking, then route what they did."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import fields, replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import actions, desk, dues, intents, meetings, members, notices, polls, records, register, times
from handlers.actions import ActionData
from handlers.books.screens import router as books_router
from handlers.context import Context
from handlers.contract import Catalogs, Inbound, Reply
from handlers.menus import (
    Books,
    ChooseLanguage,
    Help,
    Home,
    Manage,
    Meetings,
    MyBranch,
    MyDetails,
    OpenDesk,
    action_for_label,
)
from handlers.questions import Ask, Awaiting, PickTime, Question
from handlers.records import FindMember
from handlers.router import Dispatcher
from models.audit import MISSING_OBJECT, Refusal, audit_refusal, audit_stranger
from models.dues import DEFAULT_RATES, DuesRates
from models.errors import DomainError, NotFound, Stale
from models.membership import NotPermitted
from models.permissions import Permission, Target, may
from models.roster import fold
from models.tables import Branch, ChannelIdentity, Member, Platform
from models.uploads import take_upload

# Commands work as well as buttons; the Vietnamese aliases are what a member might type. Each makes
# its action from the words after it (only /find reads them: the name to look up).
COMMANDS: dict[str, Callable[[str], ActionData]] = {
    "menu": lambda _words: Home(),
    "help": lambda _words: Help(),
    "huongdan": lambda _words: Help(),
    "me": lambda _words: MyDetails(),
    "toi": lambda _words: MyDetails(),
    "branch": lambda _words: MyBranch(),
    "chibo": lambda _words: MyBranch(),
    "manage": lambda _words: Manage(),
    "quanly": lambda _words: Manage(),
    "find": lambda words: FindMember(words or None),
    "tim": lambda words: FindMember(words or None),
    "lang": lambda _words: ChooseLanguage(),
    "language": lambda _words: ChooseLanguage(),
    "ngonngu": lambda _words: ChooseLanguage(),
    "meetings": lambda _words: Meetings(),
    "lichhop": lambda _words: Meetings(),
    "desk": lambda _words: OpenDesk(),
    "dues": lambda _words: dues.MyDues(),
    "dangphi": lambda _words: dues.MyDues(),
    "books": lambda _words: Books(),
    "sosach": lambda _words: Books(),
    "reports": lambda _words: dues.BooksUpward(),
    "baocao": lambda _words: dues.BooksUpward(),
}
# Every feature's router: what each button, question and refusal leads to is registered there.
DISPATCH = Dispatcher(
    (
        members.router,
        records.router,
        intents.router,
        polls.router,
        notices.router,
        meetings.router,
        books_router,
        desk.router,
        dues.router,
    )
)
# Longer than any invite code: treat as conversation, not as a mistyped code.
_CODE_LIKE_MAX = 16
# Who is writing, and the member behind it, in one round trip; built once, as every event runs it.
# Who is writing: the chat's identity, its member and the member's branch, which many answers name
# (held on the context, so ``session.get(Branch, …)`` then finds it without a round trip).
_WHO = (
    select(ChannelIdentity, Member, Branch)
    .join(Member, col(Member.id) == ChannelIdentity.member_id)
    .join(Branch, col(Branch.id) == Member.branch_id)
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
    dues_rates: DuesRates = DEFAULT_RATES,
    uploads_per_day: int = 30,
) -> list[Reply]:
    ctx = Context(
        session=session,
        inbound=inbound,
        catalogs=catalogs,
        timezone=timezone,
        nudge_interval=nudge_interval,
        dues_rates=dues_rates,
        uploads_per_day=uploads_per_day,
    )
    try:
        replies = await _route(ctx, inbound)
    except DomainError as error:  # one place turns every refusal into the member's words
        replies = _render(ctx, error)
    if ctx.refusal is not None and ctx.member is not None:
        await audit_refusal(session, ctx.member.id or 0, ctx.refusal)
    intents.remember_choices(ctx, replies)  # so a typed "gửi đi" or "có" can be read as a tap
    if replies and ctx.identity is not None and ctx.identity.awaiting is not None:
        # A question is open after this answer: its last message is the one that asks it.
        replies[-1] = replace(replies[-1], asks=True)
    return replies


async def takes_a_file(session: AsyncSession, platform: Platform, user_id: str) -> bool:
    """Whether a file sent from this chat now would be read: a member asked for one (an open
    question that takes a file), or one who may send the register unasked. Anyone else's file would
    only be refused, so the web chat does not read its body at all."""
    found = (await session.exec(_WHO, params={"platform": platform, "user_id": user_id})).first()
    if found is None or not found[1].active:
        return False
    identity, member, _branch = found
    awaiting = Awaiting.parse(identity.awaiting or "")
    route = DISPATCH.questions.get(awaiting.question) if awaiting is not None else None
    if route is not None and route.file is not None:
        return True
    return may(member, Permission.IMPORT_MEMBERS, Target(member.branch_id))


async def _route(ctx: Context, inbound: Inbound) -> list[Reply]:
    await _identify(ctx)
    if inbound.contact_phone is not None:
        return await members.join_with_phone(ctx)
    if inbound.attachment is not None:
        if ctx.member is None:
            return [members.stranger_welcome(ctx)]
        if not await take_upload(ctx.session, ctx.member.id or 0, ctx.uploads_per_day, ctx.timezone):
            return [members.too_many_files(ctx, ctx.member)]
        pending = ctx.take_question() or ""
        awaiting = Awaiting.parse(pending)
        route = DISPATCH.questions.get(awaiting.question) if awaiting is not None else None
        if awaiting is not None and route is not None and route.file is not None:
            return await route.file(ctx, ctx.member, awaiting, inbound.attachment)
        return await register.import_upload(ctx, ctx.member, inbound.attachment)
    if inbound.stale_button:
        return _stale_button(ctx)
    if inbound.payload is not None:
        return await _tap(ctx, inbound.payload)
    text = (inbound.text or "").strip()
    if text.startswith("/"):
        ctx.take_question()  # a command means they moved on
        command, _, argument = text[1:].partition(" ")
        command = command.split("@", 1)[0].lower()  # Telegram adds @botname in groups
        if command == "start":
            return await _start(ctx, argument.strip())
        if command in COMMANDS:
            return await _act(ctx, COMMANDS[command](argument.strip()))
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
        return await _act(ctx, members.Cancel())
    if question is not None and text:
        awaiting = Awaiting.parse(question)
        if awaiting is None:  # kept in a form chibo no longer writes
            return _stale_button(ctx)
        typed = await intents.at_question(ctx, text)  # "có", "không" beside the question's buttons
        if typed is not None:
            ctx.ask(awaiting)  # still open, unless the tap typed moves on (``keeps_question``)
            return await _tap(ctx, typed.payload) if isinstance(typed, intents.Tap) else typed
        return intents.with_question_choices(ctx, awaiting, await _answer(ctx, ctx.member, awaiting, text))
    # Typed words answering no question: a question in the member's own words, or a tap typed.
    understood = await intents.understand(ctx, ctx.member, text)
    if isinstance(understood, intents.Tap):
        return await _tap(ctx, understood.payload)
    return understood


async def _tap(ctx: Context, payload: str) -> list[Reply]:
    """A button tapped, or typed words that stand for one."""
    try:
        typed = actions.decode(payload)
    except actions.InvalidPayload:
        return _stale_button(ctx)
    if not typed.keeps_question:
        ctx.take_question()
    return await _act(ctx, typed)


async def _answer(ctx: Context, member: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    """A typed message that answers the question chibo asked last."""
    awaiting, text = times.follow_up(ctx, awaiting, text)
    route = DISPATCH.questions.get(awaiting.question)
    if route is not None and route.text is not None:
        return await route.text(ctx, member, awaiting, text)
    return _stale_button(ctx)  # a question that takes only a file


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
    identity, member, ctx.branch = found
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
            asked = route.prompt(ctx, member, Awaiting(action.question, action.subject))
            if action.subject is None or action.question in _MEMBERS_OWN_QUESTIONS:
                return await asked
            return await _manage(ctx, asked)
    elif isinstance(action, PickTime):
        return await _answer(ctx, member, *times.picked(action))
    elif type(action) in DISPATCH.actions:
        if action.member_facing or not _names_an_object(action):
            return await DISPATCH.run(ctx, member, action)
        return await _manage(ctx, DISPATCH.run(ctx, member, action))
    return _stale_button(ctx)  # a question nothing asks by a button (``ask:ovote:1``)


# Questions a member is asked about their own things (a ballot's opinion, a meeting's excuse).
_MEMBERS_OWN_QUESTIONS = frozenset(
    {Question.MY_PHONE, Question.SWITCH_MEMBER, Question.POLL_OPINION, Question.ABSENCE_REASON}
)


def _names_an_object(action: ActionData) -> bool:
    return any(field.name.endswith("_id") for field in fields(action))  # type: ignore[arg-type]


async def _manage(ctx: Context, handling: Awaitable[list[Reply]]) -> list[Reply]:
    """A secretary's button on a notice, poll, meeting or member. Whether its object is another
    branch's or does not exist at all, the actor gets the same stale-button reply and the same
    audited refusal, so guessing ids tells nothing about what exists."""
    try:
        replies = await handling
    except NotPermitted as error:
        ctx.refusal = Refusal(error.permission.value, error.target.branch_id, error.target.member_id)
    except NotFound:
        ctx.refusal = Refusal(MISSING_OBJECT, None)
    else:
        if ctx.refusal is None:
            return replies
    return _stale_button(ctx)


def _render(ctx: Context, error: DomainError) -> list[Reply]:
    if ctx.member is None:
        return [members.stranger_welcome(ctx)]
    renderer = DISPATCH.renderer(error)
    if renderer is None:
        raise error
    replies: list[Reply] = renderer(ctx, ctx.member, error)
    return replies


def _stale_button(ctx: Context) -> list[Reply]:
    return _render(ctx, Stale())


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
