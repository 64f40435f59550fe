"""The buttons of notices. Their wire shapes are those of the buttons already on members' phones
and in the outbox ("read:12", "na:12:officials", "nb:12:3" …)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from handlers.actions import ActionData, Pattern
from models.notices import AudienceFilter

# --- a member's ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadNotice(ActionData, prefix="read", member_facing=True):
    """ "I have read it"."""

    notice_id: int


# --- the secretary composing a draft ---------------------------------------------------------------
# "na" has three shapes: the reach (own branch or the whole commune), the filter, or the preview.


@dataclass(frozen=True)
class NoticeScope(ActionData, prefix="na"):
    notice_id: int
    scope: Literal["branch", "commune"]


@dataclass(frozen=True)
class NoticeFilter(ActionData, prefix="na"):
    notice_id: int
    filter: AudienceFilter


@dataclass(frozen=True)
class ShowNotice(ActionData, prefix="na"):
    """The draft's preview again (after picking branches, or "not yet" to sending)."""

    notice_id: int
    show: Literal["show"] = "show"


@dataclass(frozen=True)
class NoticeBranch(ActionData, prefix="nb"):
    """Several branches: without a branch the list to tick; with one, that branch ticked or unticked."""

    notice_id: int
    branch_id: int | None = None


@dataclass(frozen=True)
class SendNotice(ActionData, prefix="ns"):
    notice_id: int


@dataclass(frozen=True)
class CancelNotice(ActionData, prefix="nc"):
    notice_id: int


@dataclass(frozen=True)
class ConfirmScan(ActionData, prefix="nk"):
    """The secretary looked at the draft's scan or photo (named by the start of its SHA-256): it
    carries no classification mark. Then the notice is sent, or its time is asked for."""

    notice_id: int
    then: Literal["send", "when"]
    file: Annotated[str, Pattern("[0-9a-f]{12}")]


# --- the secretary following a sent notice ---------------------------------------------------------


@dataclass(frozen=True)
class TrackNotice(ActionData, prefix="nt"):
    notice_id: int


@dataclass(frozen=True)
class NudgeNotice(ActionData, prefix="nn"):
    notice_id: int


@dataclass(frozen=True)
class ExportReceipts(ActionData, prefix="nx"):
    notice_id: int
