"""The permission table as a matrix: every permission for every kind of actor."""

from __future__ import annotations

import pytest

from models.permissions import OPERATOR, Actor, Permission, Target, leads_any_branch, may
from models.tables import Member, Role

OWN_BRANCH, OTHER_BRANCH = 1, 2
ACTOR_ID, SOMEONE_ELSE = 10, 20


def actor(kind: str) -> Actor | None:
    if kind == "stranger":
        return None
    if kind == "server operator":
        return OPERATOR
    member = Member(id=ACTOR_ID, branch_id=OWN_BRANCH, full_name="A")
    match kind:
        case "committee secretary":
            member.role, member.committee_role = Role.SECRETARY, Role.SECRETARY
        case "branch secretary":
            member.role = Role.SECRETARY
        case "deputy":
            member.role = Role.DEPUTY_SECRETARY
        case "committee member of the branch":
            member.role = Role.COMMITTEE_MEMBER
        case "deactivated secretary":
            member.role, member.active = Role.SECRETARY, False
    return member


TARGETS = {
    "self": Target(OWN_BRANCH, ACTOR_ID),
    "same branch member": Target(OWN_BRANCH, SOMEONE_ELSE),
    "other branch member": Target(OTHER_BRANCH, SOMEONE_ELSE),
    "other branch": Target(OTHER_BRANCH),
}
SELF_SERVICE = {Permission.VIEW_OWN_RECORD, Permission.EDIT_OWN_CONTACT}
# actor kind -> the targets on which it may use a management permission
MANAGES = {
    "server operator": {"self", "same branch member", "other branch member", "other branch"},
    "committee secretary": {"self", "same branch member", "other branch member", "other branch"},
    "branch secretary": {"self", "same branch member"},
    "deputy": {"self", "same branch member"},
    "committee member of the branch": set(),
    "member": set(),
    "deactivated secretary": set(),
    "stranger": set(),
}


@pytest.mark.parametrize("kind", list(MANAGES))
@pytest.mark.parametrize("permission", list(Permission))
@pytest.mark.parametrize("target_name", list(TARGETS))
def test_matrix(kind: str, permission: Permission, target_name: str) -> None:
    who = actor(kind)
    if permission in SELF_SERVICE:
        # The operator is nobody's "self": they change records through the management permissions.
        expected = target_name == "self" and kind not in ("stranger", "deactivated secretary", "server operator")
    else:
        expected = target_name in MANAGES[kind]
    assert may(who, permission, TARGETS[target_name]) is expected


def test_only_leaders_get_the_manage_button() -> None:
    assert [kind for kind in MANAGES if leads_any_branch(actor(kind))] == [
        "server operator", "committee secretary", "branch secretary", "deputy",
    ]  # fmt: skip
