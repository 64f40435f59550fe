"""The buttons of the secretary's record tools. Each carries a member id (and the choice made); the
handler reloads the member and asks the permission table again, so a forged or stale button can do
nothing the sender may not do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from handlers.actions import ActionData, Pattern
from models.tables import DeactivationReason, MemberStanding, Role


@dataclass(frozen=True)
class FindMember(ActionData, prefix="find"):
    """``/find`` (asks for a name) or ``/find <name>``; the name only ever comes typed."""

    name: Annotated[str, Pattern(r"[^:]{1,14}")] | None = None


@dataclass(frozen=True)
class MemberCard(ActionData, prefix="mc"):
    member_id: int


@dataclass(frozen=True)
class Roles(ActionData, prefix="mr"):
    """The branch offices to choose from."""

    member_id: int


@dataclass(frozen=True)
class SetRole(ActionData, prefix="mr"):
    member_id: int
    role: Role


@dataclass(frozen=True)
class CommitteeOffices(ActionData, prefix="mr"):
    """The offices of the commune's Party committee to choose from (its secretary sets them)."""

    member_id: int
    committee: Literal["c"] = "c"


class CommitteeOffice(StrEnum):
    """An office in the Party committee, or none, as its button names it."""

    SECRETARY = "c_secretary"
    DEPUTY_SECRETARY = "c_deputy_secretary"
    COMMITTEE_MEMBER = "c_committee_member"
    MEMBER = "c_member"
    NONE = "c_none"

    @classmethod
    def of(cls, role: Role | None) -> CommitteeOffice:
        return cls.NONE if role is None else cls("c_" + role.value)

    @property
    def role(self) -> Role | None:
        return None if self is CommitteeOffice.NONE else Role(self.value.removeprefix("c_"))


@dataclass(frozen=True)
class SetCommitteeOffice(ActionData, prefix="mr"):
    member_id: int
    office: CommitteeOffice


@dataclass(frozen=True)
class PromoteAt(ActionData, prefix="mp"):
    """The meeting that held the branch's vote on making a member official, picked."""

    member_id: int
    meeting_id: int


@dataclass(frozen=True)
class SetExempt(ActionData, prefix="mx"):
    member_id: int
    exempt: bool


@dataclass(frozen=True)
class Standings(ActionData, prefix="mx"):
    """The standings to choose from (beside exemption, as both say who takes part)."""

    member_id: int
    standing: Literal["standing"] = "standing"


@dataclass(frozen=True)
class SetStanding(ActionData, prefix="mx"):
    member_id: int
    standing: MemberStanding


@dataclass(frozen=True)
class ChooseBranch(ActionData, prefix="mm"):
    """The branches a member can be moved to."""

    member_id: int


@dataclass(frozen=True)
class Move(ActionData, prefix="mm"):
    member_id: int
    branch_id: int


@dataclass(frozen=True)
class DeactivationReasons(ActionData, prefix="md"):
    member_id: int


@dataclass(frozen=True)
class Deactivate(ActionData, prefix="md"):
    """With a reason, asks first (naming the member and the reason); ``sure`` takes them off."""

    member_id: int
    reason: DeactivationReason
    sure: Literal["yes"] | None = None


@dataclass(frozen=True)
class Reactivate(ActionData, prefix="mu"):
    member_id: int


@dataclass(frozen=True)
class NewInvite(ActionData, prefix="mi"):
    member_id: int


@dataclass(frozen=True)
class RevokeInvites(ActionData, prefix="mv"):
    member_id: int


@dataclass(frozen=True)
class History(ActionData, prefix="mh"):
    member_id: int
