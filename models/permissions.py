"""Who may do what: the one table every action is checked against.

Committee secretaries and deputies act on the whole commune, branch secretaries and deputies on
their own branch, every member on themselves, strangers and deactivated members on nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.tables import Member, Role


class Permission(StrEnum):
    VIEW_OWN_RECORD = "view_own_record"
    EDIT_OWN_CONTACT = "edit_own_contact"  # their own phone number and language
    VIEW_ROSTER = "view_roster"
    EDIT_MEMBER = "edit_member"
    IMPORT_MEMBERS = "import_members"
    ISSUE_INVITE = "issue_invite"
    VIEW_AUDIT = "view_audit"
    ANNOUNCE = "announce"
    MANAGE_POLLS = "manage_polls"
    MANAGE_MEETINGS = "manage_meetings"  # call, move, cancel; attendance and minutes


class Scope(StrEnum):
    SELF = "self"  # only on their own record
    BRANCH = "branch"  # on members of the branch they lead
    COMMUNE = "commune"  # on every branch


_SELF_SERVICE = {Permission.VIEW_OWN_RECORD, Permission.EDIT_OWN_CONTACT}
_LEADERS = (Role.SECRETARY, Role.DEPUTY_SECRETARY)


@dataclass(frozen=True)
class Target:
    """What an action is on: a branch, and within it possibly one member."""

    branch_id: int
    member_id: int | None = None


@dataclass(frozen=True)
class ServerOperator:
    """Whoever runs ``chibo`` commands on the server. They hold the database itself, so they act
    on the whole commune; their changes are audited with no member as the actor."""

    id: None = None


OPERATOR = ServerOperator()
Actor = Member | ServerOperator


def scope_of(actor: Actor | None) -> Scope | None:
    if isinstance(actor, ServerOperator):
        return Scope.COMMUNE
    if actor is None or not actor.active:
        return None
    if actor.committee_role in _LEADERS:
        return Scope.COMMUNE
    if actor.role in _LEADERS:
        return Scope.BRANCH
    return Scope.SELF


def may(actor: Actor | None, permission: Permission, target: Target) -> bool:
    scope = scope_of(actor)
    if scope is None or actor is None:
        return False
    if permission in _SELF_SERVICE:
        return actor.id is not None and target.member_id == actor.id
    if scope is Scope.COMMUNE:
        return True
    if scope is Scope.BRANCH and isinstance(actor, Member):
        return target.branch_id == actor.branch_id
    return False


def leads_any_branch(actor: Actor | None) -> bool:
    """Whether the actor has management tools at all (the "Manage" button)."""
    return scope_of(actor) in (Scope.BRANCH, Scope.COMMUNE)
