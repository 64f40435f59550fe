"""Typed answers where a tap is expected: the buttons chibo last showed the member are remembered,
and "gửi đi", "đồng ý", "có", "không" or the words of a label are read as that button. A button
that changes nothing (a list, a card, a question) runs at once; one that changes something (send,
vote, answer an invitation) is never run from typed words: the member gets it back as a button
with "Chưa" beside it, and only their tap does it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, func, select

from handlers.actions import decode
from handlers.context import Context
from handlers.contract import Button, Reply
from handlers.intents.folding import fold_question
from handlers.intents.matching import N_, Intent, Matcher
from handlers.members import Cancel
from handlers.menus import Home
from handlers.notices.actions import SendNotice, ShowNotice
from models.tables import OutboxMessage, utcnow

# Buttons shown longer ago than this are forgotten: a later "có" is not taken as their answer.
CHOICES_LIFETIME = timedelta(hours=2)
MAX_REMEMBERED = 30
# A message chibo sent on its own (an invitation, a ballot) is looked for among this many of the
# newest outbox rows only: one worth answering is recent, and the outbox is never scanned whole.
RECENT_OUTBOX = 20_000
PUSHES_LOOKED_AT = 5
# What a button does is read from its action's prefix, the name every feature gives its buttons on
# the wire; so typed words are weighed the same whichever feature showed the buttons.
# Buttons that only show or ask something: typed words may run them without a confirmation.
SHOWS_ONLY = frozenset(
    {
        "home",
        "help",
        "dme",  # my party dues
        "dbk",  # a branch's dues collection list
        "dmc",  # a member's dues card
        "dct",  # the dues categories to choose from
        "bks",  # the books
        "brp",  # a report upward
        "bdg",  # Party badges
        "me",  # my details
        "branch",
        "manage",
        "roster",
        "find",
        "lang",
        "cancel",
        "myphone",
        "mc",  # a member's card
        "ask",
        "mh",  # a member's history
        "audit",  # recent changes
        "desk",  # a one-time sign-in link to the desk: nothing changes until it is opened
        "import",
        "notices",
        "nnew",
        "nlist",
        "nt",  # a notice's tracking
        "polls",
        "pnew",
        "plist",
        "pk",  # a poll's tracking
        "pe",  # a paper voter's ballot
        "meet",
        "mt",  # a meeting's card
        "mtf",  # a meeting's file
        "mth",  # my attendance
        "mtp",  # past meetings
        "bk",  # the branch's books, and their screens and questions
        "bkm",
        "bkr",
        "bkp",
        "bkt",
        "bkk",
        "bkj",
        "bkc",
        "bkd",
        "bkv",
        "bkw",
        "bky",
        "mtn",  # a new meeting
        "mtl",  # the secretary's meetings
        "mtk",  # the attendance board
        "mtq",  # attendance rates
        "switch",  # asks for the code again; nothing changes until it is typed
    }
)
_SENDS = frozenset({"ns", "pp", "mtg"})  # send a notice, publish a poll, call a meeting
_INVITATION = "mty"  # a meeting invitation's answer: "<meeting>:yes", or "<meeting>:no" (asks why)
# Ballot buttons: a typed "đồng ý" gets the ballot back without naming the option, since replies are
# stored (outbox, retries) and a secret ballot must never be linked to a member (README, Polls).
_BALLOT = frozenset({"pv", "pt", "pw"})
# Taps on a ballot or a read receipt come from a whole branch at once: they write nothing more.
_BUSY = frozenset({"pv", "pt", "read"})


@dataclass(frozen=True)
class Tap:
    """Typed words that stand for tapping a button: its payload, run exactly as the tap would be."""

    payload: str

    @property
    def prefix(self) -> str:
        return prefix_of(self.payload)


def prefix_of(payload: str) -> str:
    """The name of a button's action: what its payload starts with."""
    return payload.partition(":")[0]


def _answers_invitation(payload: str, answer: str) -> bool:
    return prefix_of(payload) == _INVITATION and payload.endswith(":" + answer)


SEND, YES, NO = "send", "yes", "no"
INTENTS = (
    Intent(
        SEND,
        ("gửi đi", "gửi ngay", "ok gửi đi", "gửi", "gửi luôn", "ok gửi", "gửi được rồi", "phát hành", "gửi giấy mời"),
        Home().pack(),
        N_("Send now"),
        whole=True,
    ),
    Intent(
        YES,
        (
            "có",
            "đồng ý",
            "ok",
            "ừ",
            "vâng",
            "dạ",
            "dạ có",
            "vâng ạ",
            "được",
            "tán thành",
            "tham dự",
            "tôi tham dự",
            "tôi sẽ tham dự",
            "có tôi đi",
            "tôi đi",
            "tôi sẽ đến",
            "đúng",
            "đúng rồi",
            "chắc chắn",
        ),
        Home().pack(),
        N_("Yes"),
        whole=True,
    ),
    Intent(
        NO,
        (
            "không",
            "chưa",
            "không đồng ý",
            "không tán thành",
            "thôi",
            "hủy",
            "không đi",
            "tôi không đi được",
            "vắng",
            "xin vắng",
            "không tham dự",
            "để sau",
        ),
        Home().pack(),
        N_("No"),
        whole=True,
    ),
)
_WORDS = Matcher(INTENTS)
_YES_LABELS = frozenset(fold_question(w) for w in ("đồng ý", "tán thành", "có", "tham dự", "tôi sẽ tham dự"))
_NO_LABELS = frozenset(fold_question(w) for w in ("không đồng ý", "không tán thành", "không", "chưa", "hủy"))


def remember(ctx: Context, replies: list[Reply]) -> None:
    """Keep the buttons of this answer as what the member's next typed message may mean. An answer
    without buttons forgets the earlier ones, and so does one of several messages with buttons
    (several ballots): "đồng ý" could then mean any of them."""
    identity = ctx.identity
    if identity is None or ctx.member is None:
        return
    if ctx.inbound.payload is not None and prefix_of(ctx.inbound.payload) in _BUSY:
        return
    with_buttons = [reply for reply in replies if reply.buttons]
    shown = (
        [button.to_dict() for row in with_buttons[0].buttons for button in row][:MAX_REMEMBERED]
        if len(with_buttons) == 1
        else []
    )
    if not shown and identity.choices is None:
        return
    identity.choices = shown or None
    identity.choices_at = utcnow() if shown else None
    ctx.session.add(identity)


def shown(ctx: Context) -> list[Button]:
    """The buttons last shown to the member, while fresh."""
    identity = ctx.identity
    if identity is None or not identity.choices or identity.choices_at is None:
        return []
    if utcnow() - identity.choices_at > CHOICES_LIFETIME:
        return []
    return [Button(c["label"], c["payload"], bool(c.get("secret"))) for c in identity.choices]


async def on_screen(ctx: Context) -> list[Button]:
    """The buttons the member sees last: those of the messages chibo sent on its own since they last
    wrote (an invitation, a ballot, a notice), or else those of its last answer."""
    identity = ctx.identity
    answered = shown(ctx)
    if identity is None:
        return answered
    now = utcnow()
    since = max(identity.choices_at or now - CHOICES_LIFETIME, now - CHOICES_LIFETIME)
    # The newest rows only (one statement: the outbox's newest id is found by its index).
    newest = select(func.coalesce(func.max(OutboxMessage.id), 0)).scalar_subquery()
    sent = (
        await ctx.session.exec(
            select(OutboxMessage.body)
            .where(col(OutboxMessage.id) > newest - RECENT_OUTBOX)
            .where(OutboxMessage.platform == identity.platform, OutboxMessage.chat_id == identity.chat_id)
            .where(col(OutboxMessage.created_at) > since)
            .order_by(col(OutboxMessage.id).desc())
            .limit(PUSHES_LOOKED_AT)
        )
    ).all()
    if not sent:
        return answered
    with_buttons = [Reply.from_dict(dict(body)) for body in sent if body.get("buttons")]
    # Several messages with buttons (a ballot and an invitation): all their buttons, newest first;
    # ``pick`` takes only a button the words can mean alone ("tham dự"), never an ambiguous "có".
    found: dict[str, Button] = {}
    for reply in with_buttons:
        for row in reply.buttons:
            for button in row:
                found.setdefault(button.payload, button)
    return list(found.values())[:MAX_REMEMBERED]


def _means(word: str, button: Button) -> bool:
    label = fold_question(button.label)
    if word == SEND:
        return prefix_of(button.payload) in _SENDS
    if word == YES:
        return _answers_invitation(button.payload, "yes") or label in _YES_LABELS
    return _answers_invitation(button.payload, "no") or label in _NO_LABELS


def pick(folded: str, buttons: list[Button]) -> Button | None:
    """The one button the typed words stand for: its label's words, or a yes, no or send that only
    one of the buttons can mean."""
    by_label = [b for b in buttons if fold_question(b.label) == folded]
    if len({b.payload for b in by_label}) == 1:
        return by_label[0]
    word = _WORDS.best(folded)
    if word is None:
        return None
    meant = {b.payload: b for b in buttons if _means(word.intent.name, b)}
    return next(iter(meant.values())) if len(meant) == 1 else None


def is_choice_word(folded: str) -> bool:
    """Whether the message is a bare yes, no or send, which only means something beside buttons."""
    return _WORDS.best(folded) is not None


def as_tap(ctx: Context, button: Button, buttons: list[Button]) -> Tap | list[Reply]:
    """The button a typed message stands for (one of ``buttons``, just shown): tap it when it only
    shows something, else ask for the tap that does it."""
    tap = Tap(button.payload)
    if tap.prefix in SHOWS_ONLY or _answers_invitation(tap.payload, "no"):
        return tap  # "Vắng có lý do" only asks for the reason
    _ = ctx.gettext
    if tap.prefix in _BALLOT:
        rows = tuple((b,) for b in buttons)
        return [Reply(_("To vote, please tap your choice on the ballot:"), buttons=rows)]
    if tap.prefix == SendNotice.prefix:
        send = decode(tap.payload)
        assert isinstance(send, SendNotice)  # the prefix names the one shape
        return [
            Reply(
                _("Do you want to send this notice now?"),
                buttons=(
                    (
                        Button("📤 " + _("Send now"), button.payload),
                        Button(_("Not yet"), ShowNotice(send.notice_id).pack()),
                    ),
                ),
            )
        ]
    text = _("Do you mean \u201c{choice}\u201d? Please tap it to confirm.").format(choice=button.label)
    return [Reply(text, buttons=((button, Button(_("Not yet"), Cancel().pack())),))]


def ask_again(ctx: Context, buttons: list[Button]) -> list[Reply]:
    """Typed words that fit none of the buttons just shown: the same buttons, and what is expected."""
    _ = ctx.gettext
    rows = tuple((b,) for b in buttons[:MAX_REMEMBERED])
    return [Reply(_("Please choose one of these by tapping it:"), buttons=rows)]


def answer_or_tap(ctx: Context, buttons: list[Button]) -> list[Reply]:
    """A bare "có" or "không" at an open question that none of its buttons means: its buttons, and
    what is expected (the question stays open)."""
    _ = ctx.gettext
    rows = tuple((b,) for b in buttons[:MAX_REMEMBERED])
    return [Reply(_("Please type your answer to the question above, or tap one of these:"), buttons=rows)]
