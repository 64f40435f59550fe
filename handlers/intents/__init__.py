"""Members ask in their own words: typed questions routed to the screen that answers them.

Each feature keeps its phrases beside it (``INTENTS`` in ``meetings``, ``polls``, ``notices``,
``members``); ``choices`` reads a typed "gửi đi", "có" or "không" as the button just shown. What
would change something is never done from typed words: the member is shown the button to tap.
A question nothing matches gets the three closest things chibo can do, and is counted (only
counted) for the secretary.
"""

from __future__ import annotations

from dataclasses import replace

from handlers import members as member_screens
from handlers.context import Context
from handlers.contract import Button, Reply
from handlers.intents import books, choices, dues, meetings, members, notices, polls, unanswered
from handlers.intents.choices import Tap
from handlers.intents.folding import fold_question
from handlers.intents.matching import Intent, Match, Matcher
from handlers.intents.unanswered import with_unanswered
from handlers.members import Cancel
from handlers.questions import Awaiting
from models.permissions import leads_any_branch
from models.tables import Member

MATCHER = Matcher(
    (*meetings.INTENTS, *polls.INTENTS, *notices.INTENTS, *members.INTENTS, *books.INTENTS, *dues.INTENTS)
)
CLOSEST = 3

__all__ = [
    "MATCHER",
    "Tap",
    "at_question",
    "classify",
    "remember_choices",
    "router",
    "understand",
    "with_question_choices",
    "with_unanswered",
]

remember_choices = choices.remember
router = members.router


def classify(text: str) -> Match | None:
    """The screen a typed question asks for, or None (a pure function: the phrasing table tests it)."""
    return MATCHER.best(fold_question(text))


async def understand(ctx: Context, member: Member, text: str) -> Tap | list[Reply]:
    """What a member's typed message, answering no question, stands for: the tap of a button that
    only shows something, or the replies themselves."""
    code = await members.typed_code(ctx, member, text)
    if code is not None:
        return code
    folded = fold_question(text)
    shown = await choices.on_screen(ctx)
    if shown and folded:
        button = choices.pick(folded, shown)
        if button is not None:
            return choices.as_tap(ctx, button, shown)
    match = MATCHER.best(folded)
    if match is not None:
        return await _open(ctx, member, match.intent)
    if not folded:  # "xin chào", "chào đồng chí", a sticker
        return [member_screens.welcome_back(ctx, member)]
    if shown and (choices.is_choice_word(folded) or not _is_question(text, folded)):
        return choices.ask_again(ctx, shown)  # an answer that fits none of the buttons just shown
    if choices.is_choice_word(folded):  # "ok", "vâng" with nothing to answer: the menu
        return [member_screens.welcome_back(ctx, member)]
    await unanswered.count(ctx, member)
    return [_closest(ctx, member, folded)]


async def at_question(ctx: Context, text: str) -> Tap | list[Reply] | None:
    """Typed words at an open question that answer its buttons, not the question: a bare "có",
    "không" or "gửi đi" is the button it stands for (confirmed first when it changes something),
    or the buttons again with what is expected. None when the words are the question's answer
    (a reason, a time, a name), which the question's own route takes."""
    folded = fold_question(text)
    if not choices.is_choice_word(folded):
        return None
    shown = await choices.on_screen(ctx)
    if not shown:
        return None
    button = choices.pick(folded, shown)
    if button is not None:
        return choices.as_tap(ctx, button, shown)
    return choices.answer_or_tap(ctx, shown)


def with_question_choices(ctx: Context, asked: Awaiting, replies: list[Reply]) -> list[Reply]:
    """An answer the question could not take leaves it open and says why; it also gets the
    question's buttons back (at least "Hủy"), so the member is never left with words alone."""
    identity = ctx.identity
    if identity is None or identity.awaiting is None or not replies or any(r.buttons or r.menu for r in replies):
        return replies
    again = Awaiting.parse(identity.awaiting)
    shown = choices.shown(ctx) if again is not None and again.question is asked.question else []
    rows = tuple((b,) for b in shown[: choices.MAX_REMEMBERED]) or (
        (Button("✖️ " + ctx.gettext("Cancel"), Cancel().pack()),),
    )
    return [*replies[:-1], replace(replies[-1], buttons=rows)]


# Words that make a message a question rather than an answer: "gì", "nào", "bao giờ", "không"…
_QUESTION_WORDS = frozenset({"gi", "nao", "bao", "khong", "chua", "dau", "sao", "ai", "may", "hoi"})


def _is_question(text: str, folded: str) -> bool:
    return "?" in text or not _QUESTION_WORDS.isdisjoint(folded.split())


async def _open(ctx: Context, member: Member, intent: Intent) -> Tap | list[Reply]:
    if intent.answer is not None:
        return await intent.answer(ctx, member)
    return Tap(intent.tap)


def _closest(ctx: Context, member: Member, folded: str) -> Reply:
    """The three things chibo can do closest to an unanswered question, as buttons, with examples."""
    _ = ctx.gettext
    offered: list[Button] = []
    seen = set()
    for match in MATCHER.ranked(folded) or [Match(MATCHER.by_name[n], 0, "") for n in _DEFAULTS]:
        intent = match.intent
        if intent.tap in seen or (intent.name in _SECRETARY_ONLY and not leads_any_branch(member)):
            continue
        seen.add(intent.tap)
        offered.append(Button(_(intent.label), intent.tap))
        if len(offered) == CLOSEST:
            break
    text = "\n".join(
        [
            _("I cannot answer that yet. Is it one of these?"),
            _("You can also ask, for example: \u201ckhi nào họp\u201d, \u201ctôi bỏ phiếu chưa\u201d, "
              "\u201csố điện thoại bí thư\u201d, \u201ccó thông báo gì mới không\u201d."),
        ]
    )  # fmt: skip
    reply = member_screens.home(ctx, member, text)
    return replace(reply, buttons=tuple((b,) for b in offered))


_DEFAULTS = ("next_meeting", "notices", "open_polls")
_SECRETARY_ONLY = frozenset(
    {"new_meeting", "new_poll", "new_notice", "sent_notices", "roster", "find_member", "manage"}
    | {"books", "dues_reports"}
)
