"""The buttons of meetings, with the wire shapes members' phones and the outbox already hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from handlers.actions import ActionData

# The reasons a member can tap to be excused; another reason is typed.
ReasonCode = Literal["sick", "work", "family"]
REASONS: tuple[ReasonCode, ...] = ("sick", "work", "family")
# What the secretary can record for a member; "not recorded" is what nobody recorded.
MarkState = Literal["present", "excused", "absent"]
MeetingOption = Literal["kind", "who", "repeat", "remind"]

# --- members ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingCard(ActionData, prefix="mt", member_facing=True):
    """A meeting's details, documents, minutes and the member's answer."""

    meeting_id: int


@dataclass(frozen=True)
class AnswerInvitation(ActionData, prefix="mty", member_facing=True):
    meeting_id: int
    choice: Literal["yes", "no"]  # "no" asks for the reason


@dataclass(frozen=True)
class Excuse(ActionData, prefix="mte", member_facing=True):
    meeting_id: int
    reason: ReasonCode


@dataclass(frozen=True)
class MeetingCheckIn(ActionData, prefix="mti", member_facing=True):
    """ "I am here"."""

    meeting_id: int


@dataclass(frozen=True)
class MeetingDocument(ActionData, prefix="mtf", member_facing=True):
    file_id: int


@dataclass(frozen=True)
class MyAttendance(ActionData, prefix="mth"):
    pass


@dataclass(frozen=True)
class PastMeetings(ActionData, prefix="mtp"):
    pass


# --- secretaries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewMeeting(ActionData, prefix="mtn"):
    pass


@dataclass(frozen=True)
class MeetingList(ActionData, prefix="mtl"):
    pass


@dataclass(frozen=True)
class SetMeetingOption(ActionData, prefix="mts"):
    """One tap steps a draft's option to its next value."""

    meeting_id: int
    option: MeetingOption


@dataclass(frozen=True)
class CallMeeting(ActionData, prefix="mtg"):
    """Send the invitations."""

    meeting_id: int


@dataclass(frozen=True)
class MoveMeeting(ActionData, prefix="mtv"):
    """Move a called meeting to ``at`` (local time, as typed and confirmed): everyone is told."""

    meeting_id: int
    at: datetime


@dataclass(frozen=True)
class CancelMeeting(ActionData, prefix="mtx"):
    """A draft is dropped at once; a called meeting asks first (this one, or the whole series)."""

    meeting_id: int
    scope: Literal["one", "series"] | None = None


@dataclass(frozen=True)
class AttendanceBoard(ActionData, prefix="mtk"):
    meeting_id: int


@dataclass(frozen=True)
class MarkAttendance(ActionData, prefix="mtm"):
    """The invited to choose from; one member's states to choose from; one state recorded."""

    meeting_id: int
    member_id: int | None = None
    state: MarkState | None = None


@dataclass(frozen=True)
class ConfirmAttendance(ActionData, prefix="mtm"):
    """``mtm:<meeting>:confirm[:rest]``: confirm the list, the remaining comrades absent without reason."""

    meeting_id: int
    step: Literal["confirm"] = "confirm"
    rest: Literal["rest"] | None = None


@dataclass(frozen=True)
class AttendanceRates(ActionData, prefix="mtq"):
    pass
