"""The buttons of the branch's books. Each carries ids only; the handler reloads what they name and
asks the permission table again, so a forged or stale button can do nothing its sender may not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from handlers.actions import ActionData
from models.tables import ReviewLevel, TransferKind


@dataclass(frozen=True)
class MeetingRecords(ActionData, prefix="bkm"):
    """The branch's meetings held lately, to open one's record."""


@dataclass(frozen=True)
class MeetingRecord(ActionData, prefix="bkr"):
    """A held meeting's record: its resolution and its votes by show of hands."""

    meeting_id: int


@dataclass(frozen=True)
class MinutesForm(ActionData, prefix="bkp"):
    """The minutes in the usual form, from the records."""

    meeting_id: int


@dataclass(frozen=True)
class StandardAgenda(ActionData, prefix="bka"):
    """A regular meeting's draft takes the standard agenda."""

    meeting_id: int


@dataclass(frozen=True)
class Transfers(ActionData, prefix="bkt"):
    """The branch's transfers, and a member arriving by transfer."""


@dataclass(frozen=True)
class TransferKinds(ActionData, prefix="bkk"):
    """On a member's card: which kind of transfer."""

    member_id: int


@dataclass(frozen=True)
class EndTemporary(ActionData, prefix="bke"):
    """The member is back from a temporary transfer (today)."""

    member_id: int


@dataclass(frozen=True)
class ChooseTransfer(ActionData, prefix="bkj"):
    """A kind chosen: asks where (and when)."""

    member_id: int
    kind: TransferKind


@dataclass(frozen=True)
class Candidates(ActionData, prefix="bkc"):
    """The admission candidates the branch follows."""


@dataclass(frozen=True)
class CandidateCard(ActionData, prefix="bkd"):
    candidate_id: int


@dataclass(frozen=True)
class StepToday(ActionData, prefix="bks"):
    """The candidate's next step was done today."""

    candidate_id: int


@dataclass(frozen=True)
class DropCandidate(ActionData, prefix="bkq"):
    """No longer follow the candidate: asks first; ``sure`` does it."""

    candidate_id: int
    sure: Literal["yes"] | None = None


@dataclass(frozen=True)
class Reviews(ActionData, prefix="bkv"):
    """The branch's year-end review board (the current year)."""


@dataclass(frozen=True)
class ReviewMember(ActionData, prefix="bkw"):
    """The levels to classify one member in."""

    member_id: int


@dataclass(frozen=True)
class Classify(ActionData, prefix="bkx"):
    member_id: int
    level: ReviewLevel


@dataclass(frozen=True)
class SelfLevel(ActionData, prefix="bkz"):
    """The level a member proposes for themselves, after writing their self-assessment."""

    level: ReviewLevel
