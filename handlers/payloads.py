"""Button payloads: compact typed values that fit Telegram's 64-byte callback_data.

A payload comes back from the member's device, so it is untrusted: ``decode`` accepts only the
actions below with a well-formed argument, and the handler re-checks everything it implies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from models.tables import MAX_ID

MAX_BYTES = 64


class Action(StrEnum):
    HOME = "home"
    HELP = "help"
    MY_DETAILS = "me"
    MY_BRANCH = "branch"
    MANAGE = "manage"
    BRANCH_ROSTER = "roster"
    FIND_MEMBER = "find"  # only as a command: the name comes typed
    CHOOSE_LANGUAGE = "lang"
    SET_LANGUAGE = "setlang"
    CANCEL = "cancel"  # drop the question chibo is waiting to have answered
    EDIT_MY_PHONE = "myphone"
    # The secretary's record tools; the argument starts with the member id.
    MEMBER_CARD = "mc"
    ASK = "ask"  # <field>:<member id>: ask for a typed value
    SET_ROLE = "mr"  # <id> lists the roles, <id>:<role> sets one
    PROMOTE_TODAY = "mp"
    PROBATION_DUE = "mpd"  # who is due to be made official
    SET_EXEMPT = "mx"  # <id>:1|0
    MOVE = "mm"  # <id> lists the branches, <id>:<branch id> moves
    DEACTIVATE = "md"  # <id> lists the reasons, <id>:<reason> deactivates
    REACTIVATE = "mu"
    NEW_INVITE = "mi"
    REVOKE_INVITES = "mv"
    HISTORY = "mh"
    RECENT_CHANGES = "audit"
    IMPORT_REGISTER = "import"
    # Notices: a member's list and read receipts; the secretary's composing and tracking.
    NOTICES = "notices"
    READ_NOTICE = "read"
    NEW_NOTICE = "nnew"
    SENT_NOTICES = "nlist"
    NOTICE_AUDIENCE = "na"  # <notice id>:branch|commune|all|officials|committee|show
    NOTICE_BRANCH = "nb"  # <notice id>[:<branch id>]: several branches, one tap each
    SEND_NOTICE = "ns"
    CANCEL_NOTICE = "nc"
    TRACK_NOTICE = "nt"
    NUDGE_NOTICE = "nn"
    EXPORT_RECEIPTS = "nx"
    # Polls: members vote (options as a bitmask); the secretary sets up, publishes, follows.
    OPEN_POLLS = "polls"
    VOTE = "pv"  # <poll id>:<mask>
    TOGGLE_CHOICE = "pt"  # <poll id>:<mask>, multi-choice ballots before "send"
    NEW_POLL = "pnew"
    POLL_LIST = "plist"
    POLL_SET = "ps"  # <poll id>:secret|choices|voters|rule|running
    POLL_PUBLISH = "pp"
    POLL_CANCEL = "pc"
    POLL_TRACK = "pk"
    POLL_NUDGE = "pn"
    POLL_CLOSE = "px"
    # <poll id>:<member id>: an open vote shows the options of that member's paper ballot; a secret
    # one records only that the member voted on paper (the ballot is counted with the paper box).
    PAPER_VOTER = "pe"
    PAPER_VOTE = "pw"  # <poll id>:<member id>:<mask>, open votes only
    # Meetings: members answer, check in and read; the secretary calls, takes attendance, minutes.
    MEETINGS = "meet"
    MEETING = "mt"  # <meeting id>: its card
    RSVP = "mty"  # <meeting id>:yes|no
    EXCUSE = "mte"  # <meeting id>:<reason code>
    CHECK_IN = "mti"
    MEETING_FILE = "mtf"  # <file id>
    MY_ATTENDANCE = "mth"
    PAST_MEETINGS = "mtp"
    NEW_MEETING = "mtn"
    MEETING_LIST = "mtl"
    MEETING_SET = "mts"  # <meeting id>:kind|who|repeat
    MEETING_CALL = "mtg"
    MEETING_CANCEL = "mtx"  # <meeting id>[:one|series]
    ATTENDANCE = "mtk"
    MARK = "mtm"  # <meeting id>[:<member id>[:present|excused|absent]], or <meeting id>:confirm[:rest]
    ATTENDANCE_RATES = "mtq"
    # Typed times: one reading of an hour that could be morning or evening.
    PICK_TIME = "tm"  # <when|deadline|mwhen|mmove>:<id>:<YYYYMMDDHHMM>
    # A phone shared in the family: move this chat to the member whose invite code is typed next.
    SWITCH_MEMBER = "switch"


class InvalidPayload(ValueError):
    """A payload that chibo never made (stale, truncated or forged)."""


_LOCALE = re.compile(r"^[a-z]{2}$")
_NUMBER = re.compile(r"[0-9]+")
_ID = re.compile(r"^[0-9]{1,12}$")
_ID_AND_MASK = re.compile(r"^[0-9]{1,12}:[0-9]{1,4}$")
_ID_AND_WORD = re.compile(r"^[0-9]{1,12}(:[a-z0-9_]{1,24})?$")
ASKABLE = (
    "find",
    "add",
    "phone",
    "name",
    "birth",
    "card",
    "official",
    "when",
    "options",
    "deadline",
    "paper",
    "paperbox",
    "people",
    "attach",
    "mwhen",
    "mpeople",
    "mmove",
    "mplace",
    "magenda",
    "mlink",
    "minutes",
    "mconcl",
    "mfile",
    "mminutes",
    "mreason",
)
_ASK = re.compile(r"^(" + "|".join(ASKABLE) + r")(:[0-9]{1,12})?$")


def _matches(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda arg: bool(pattern.match(arg))


_NO_ARGUMENT: Callable[[str], bool] = lambda arg: arg == ""  # noqa: E731
_ARGUMENT_RULES: dict[Action, Callable[[str], bool]] = {
    Action.SET_LANGUAGE: _matches(_LOCALE),
    Action.ASK: _matches(_ASK),
    **dict.fromkeys(
        (Action.MEMBER_CARD, Action.PROMOTE_TODAY, Action.REACTIVATE, Action.NEW_INVITE, Action.REVOKE_INVITES),
        _matches(_ID),
    ),
    Action.HISTORY: _matches(_ID),
    **dict.fromkeys(
        (
            Action.READ_NOTICE,
            Action.SEND_NOTICE,
            Action.CANCEL_NOTICE,
            Action.TRACK_NOTICE,
            Action.NUDGE_NOTICE,
            Action.EXPORT_RECEIPTS,
        ),
        _matches(_ID),
    ),
    Action.NOTICE_AUDIENCE: _matches(_ID_AND_WORD),
    Action.NOTICE_BRANCH: _matches(re.compile(r"^[0-9]{1,12}(:[0-9]{1,12})?$")),
    **dict.fromkeys((Action.VOTE, Action.TOGGLE_CHOICE), _matches(_ID_AND_MASK)),
    Action.POLL_SET: _matches(_ID_AND_WORD),
    Action.PAPER_VOTER: _matches(re.compile(r"^[0-9]{1,12}:[0-9]{1,12}$")),
    Action.PAPER_VOTE: _matches(re.compile(r"^[0-9]{1,12}:[0-9]{1,12}:[0-9]{1,4}$")),
    **dict.fromkeys(
        (Action.POLL_PUBLISH, Action.POLL_CANCEL, Action.POLL_TRACK, Action.POLL_NUDGE, Action.POLL_CLOSE),
        _matches(_ID),
    ),
    **dict.fromkeys((Action.SET_ROLE, Action.SET_EXEMPT, Action.MOVE, Action.DEACTIVATE), _matches(_ID_AND_WORD)),
    **dict.fromkeys(
        (Action.MEETING, Action.CHECK_IN, Action.MEETING_FILE, Action.MEETING_CALL, Action.ATTENDANCE), _matches(_ID)
    ),
    **dict.fromkeys((Action.RSVP, Action.EXCUSE, Action.MEETING_SET, Action.MEETING_CANCEL), _matches(_ID_AND_WORD)),
    Action.MARK: _matches(re.compile(r"^[0-9]{1,12}(:[0-9]{1,12}(:(present|excused|absent))?|:confirm(:rest)?)?$")),
    Action.PICK_TIME: _matches(re.compile(r"^(when|deadline|mwhen|mmove):[0-9]{1,12}:[0-9]{12}$")),
}


@dataclass(frozen=True)
class Payload:
    action: Action
    argument: str = ""

    def encode(self) -> str:
        text = f"{self.action.value}:{self.argument}" if self.argument else self.action.value
        if len(text.encode()) > MAX_BYTES:
            raise ValueError(f"payload over {MAX_BYTES} bytes: {text!r}")
        return text


def decode(text: str) -> Payload:
    if not text or len(text.encode()) > MAX_BYTES:
        raise InvalidPayload(text)
    name, _, argument = text.partition(":")
    try:
        action = Action(name)
    except ValueError:
        raise InvalidPayload(text) from None
    if not _ARGUMENT_RULES.get(action, _NO_ARGUMENT)(argument):
        raise InvalidPayload(text)
    # Every number in an argument is an id (or a small option mask), but for the moment a time
    # button carries: one beyond the id columns' range was never made by chibo, and would make
    # PostgreSQL fail the query instead of finding nothing.
    ids = argument.rpartition(":")[0] if action is Action.PICK_TIME else argument
    if any(int(number) > MAX_ID for number in _NUMBER.findall(ids)):
        raise InvalidPayload(text)
    return Payload(action, argument)
