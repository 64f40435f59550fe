"""Who may do what: the one table every action is checked against.

Committee secretaries and deputies act on the whole commune, branch secretaries and deputies on
their own branch, every member on themselves, strangers and deactivated members on nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.tables import Member, MemberStatus, Role


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
    MANAGE_DUES = "manage_dues"  # record payments, set a member's dues category (models/dues.py)
    VIEW_DUES = "view_dues"  # the branch's collection list and reports upward


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


# Offices in order (DESIGN.md §4: nobody grants a role above their own).
_RANK = {Role.MEMBER: 0, Role.COMMITTEE_MEMBER: 1, Role.DEPUTY_SECRETARY: 2, Role.SECRETARY: 3}


class RoleRefusal(StrEnum):
    SELF = "self"  # nobody sets their own office
    ABOVE_OWN = "above_own"  # nor gives, or takes away, an office above their own
    PROBATIONARY = "probationary"  # a probationary member holds no office
    COMMUNE_ONLY = "commune_only"  # the commune committee's offices: only its secretary sets them


def role_refusal(actor: Actor, member: Member, role: Role | None, *, committee: bool = False) -> RoleRefusal | None:
    """Why the actor may not give ``member`` this office (in the branch, or in the commune committee
    with ``committee``), or None when they may. The table ``may`` is asked first, separately.

    Sources (DESIGN.md §4; their exact texts could not be checked from here): probationary members
    have every right except voting, standing and electing (Charter art. 5; Quy định 294-QĐ/TW), so
    hold no office; the commune committee (đảng ủy) is elected at commune level and its offices are
    set there."""
    current = member.committee_role if committee else member.role
    if role not in (None, Role.MEMBER) and member.status is MemberStatus.PROBATIONARY:
        return RoleRefusal.PROBATIONARY
    if isinstance(actor, ServerOperator) or role == current:
        return None
    if actor.id is not None and actor.id == member.id:
        return RoleRefusal.SELF
    if committee:
        return None if actor.committee_role is Role.SECRETARY else RoleRefusal.COMMUNE_ONLY
    if actor.committee_role in _LEADERS:
        return None  # a commune leader stands above every branch office
    own = _RANK[actor.role]
    if _RANK[role or Role.MEMBER] > own or _RANK[current or Role.MEMBER] > own:
        return RoleRefusal.ABOVE_OWN
    return None


def _standing(person: Member) -> int:
    """How high a person's office stands: any commune committee (đảng ủy) office above every
    branch office."""
    if person.committee_role is None:
        return _RANK[person.role or Role.MEMBER]
    return len(_RANK) + _RANK[person.committee_role]


def record_refusal(actor: Actor, member: Member) -> RoleRefusal | None:
    """Why the actor may not act on this member's record (correct it, exempt, move, take off the
    roster, issue or revoke invite codes), or None when they may. The table ``may`` is asked first.

    The rule on offices (nobody grants or takes away an office above their own, nor their own)
    would mean little if a deputy could take the secretary off the roster, or issue an invite code
    in the secretary's name and join as them: so nobody acts on their own record this way, nor on
    that of a comrade whose office stands above their own. The server operator (the CLI) may."""
    if isinstance(actor, ServerOperator):
        return None
    if actor.id is not None and actor.id == member.id:
        return RoleRefusal.SELF
    if _standing(member) > _standing(actor):
        return RoleRefusal.ABOVE_OWN
    return None
