"""The buttons of polls. Their wire shapes are those of the buttons already on members' phones and
in the outbox (``pv:<poll>:<mask>``, ``ps:<poll>:secret``…), so those keep working."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from handlers.actions import ActionData, Bounded, Mask, Pattern
from models.ballots import SLOTS, TICKS_TOKEN
from models.tables import PollKind

# The options chosen on a secret ballot, sealed with the poll's ticks key (models.ballots.seal_ticks).
Ticks = Annotated[str, Pattern(TICKS_TOKEN)]

# --- members voting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Vote(ActionData, prefix="pv", member_facing=True):
    """A ballot: the options chosen, one bit each (0, naming nobody, is an election's blank ballot)."""

    poll_id: int
    mask: Mask


@dataclass(frozen=True)
class ToggleChoice(ActionData, prefix="pt", member_facing=True):
    """An option ticked or unticked on a multi-choice ballot before it is sent: the options now ticked."""

    poll_id: int
    mask: Mask


@dataclass(frozen=True)
class TickSecret(ActionData, prefix="pq", member_facing=True):
    """One place of a secret multi-choice ballot filled in (an option, or left blank): the options
    chosen up to ``step``, sealed, so that no kept reply or outbox row holds them in plain. The last
    step casts the ballot."""

    poll_id: int
    step: Annotated[int, Bounded(1, SLOTS)]
    ticks: Ticks


# --- the secretary setting one up ---------------------------------------------------------------


class PollSetting(StrEnum):
    SECRET = "secret"
    RUNNING = "running"
    CHANGE = "change"
    ANNOUNCE = "announce"
    CHOICES = "choices"
    KIND = "kind"  # lists the kinds, one ``SetPollKind`` button each
    RULE = "rule"
    VOTERS = "voters"
    MEETING = "meeting"


class KindChoice(StrEnum):
    """A kind of vote as its button names it (``ps:<poll>:kind_<kind>``)."""

    MOTION = "kind_motion"
    CHOICE = "kind_choice"
    ELECTION = "kind_election"
    CONSULTATION = "kind_consultation"

    @classmethod
    def of(cls, kind: PollKind) -> KindChoice:
        return cls(f"kind_{kind.value}")

    @property
    def kind(self) -> PollKind:
        return PollKind(self.value.removeprefix("kind_"))


@dataclass(frozen=True)
class SetPoll(ActionData, prefix="ps"):
    """One setting of a draft changed (a toggle, the next in a cycle), or the list of kinds shown."""

    poll_id: int
    setting: PollSetting


@dataclass(frozen=True)
class SetPollKind(ActionData, prefix="ps"):
    poll_id: int
    kind: KindChoice


@dataclass(frozen=True)
class PublishPoll(ActionData, prefix="pp"):
    poll_id: int


@dataclass(frozen=True)
class CancelPoll(ActionData, prefix="pc"):
    poll_id: int


# --- following and closing ----------------------------------------------------------------------


@dataclass(frozen=True)
class TrackPoll(ActionData, prefix="pk"):
    poll_id: int


@dataclass(frozen=True)
class NudgePoll(ActionData, prefix="pn"):
    poll_id: int


@dataclass(frozen=True)
class ClosePoll(ActionData, prefix="px"):
    """ "Close now" tapped: asks first (the button sits next to "Refresh")."""

    poll_id: int


@dataclass(frozen=True)
class ConfirmClosePoll(ActionData, prefix="py"):
    poll_id: int


# --- paper votes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperVoter(ActionData, prefix="pe"):
    """The member whose paper vote is entered: an open vote shows that member's ballot; a secret one
    records only that the member voted on paper (their ballot is counted with the paper box)."""

    poll_id: int
    member_id: int


@dataclass(frozen=True)
class PaperVote(ActionData, prefix="pw"):
    """A member's paper ballot in an open vote, entered by the secretary."""

    poll_id: int
    member_id: int
    mask: Mask
