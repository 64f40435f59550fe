"""Keeping the roster right: add, edit, move, promote, exempt, deactivate, revoke invites.

Every change is checked against the permission table and written to the audit log with the values
before and after, in the caller's transaction. Chat handlers and the CLI both come through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.permissions import Actor, Permission, Target, may
from models.phones import normalize_phone
from models.roster import parse_date
from models.tables import (
    AuditEvent,
    DeactivationReason,
    Gender,
    Invite,
    Member,
    MemberStanding,
    MemberStatus,
    Role,
    utcnow,
)


class NotPermitted(Exception):
    def __init__(self, permission: Permission, target: Target) -> None:
        super().__init__(f"{permission.value} refused on {target}")
        self.permission = permission
        self.target = target


class ChangeProblem(StrEnum):
    EMPTY_NAME = "empty_name"
    NOT_A_NAME = "not_a_name"
    TOO_LONG = "too_long"
    BAD_PHONE = "bad_phone"
    BAD_DATE = "bad_date"
    DATE_IN_FUTURE = "date_in_future"
    OFFICIAL_BEFORE_ADMITTED = "official_before_admitted"
    ALREADY_OFFICIAL = "already_official"
    DUPLICATE_CARD = "duplicate_card"
    SAME_BRANCH = "same_branch"
    INACTIVE = "inactive"
    ALREADY_ACTIVE = "already_active"
    FORMULA = "formula"


class InvalidChange(ValueError):
    def __init__(self, problem: ChangeProblem, value: str = "") -> None:
        super().__init__(f"{problem.value}: {value!r}")
        self.problem = problem
        self.value = value


# What a secretary may set directly; status, branch, exemption and activity have their own verbs.
EDITABLE = ("full_name", "birth_date", "gender", "phone", "card_number", "role", "notes", "date_admitted")
_TEXT_LIMITS = {"full_name": 200, "card_number": 20, "notes": 2000}


def check(actor: Actor, permission: Permission, target: Target) -> None:
    if not may(actor, permission, target):
        raise NotPermitted(permission, target)


def target_of(member: Member) -> Target:
    return Target(member.branch_id, member.id)


def parse_phone(text: str) -> str:
    phone = normalize_phone(text)
    if phone is None:
        raise InvalidChange(ChangeProblem.BAD_PHONE, text[:40])
    return phone


def parse_day(text: str, *, today: date | None = None) -> date:
    """A date as members type it (dd/mm/yyyy or ISO), not in the future."""
    try:
        day = parse_date(text.strip())
    except ValueError:
        raise InvalidChange(ChangeProblem.BAD_DATE, text[:40]) from None
    if day is None:
        raise InvalidChange(ChangeProblem.BAD_DATE, text[:40])
    if day > (today or date.today()):
        raise InvalidChange(ChangeProblem.DATE_IN_FUTURE, text[:40])
    return day


def _clean(key: str, value: Any) -> Any:
    if isinstance(value, str):
        value = " ".join(value.split()) if key == "full_name" else value.strip()
        if value[:1] in ("=", "@", "+", "-") and key in ("full_name", "notes", "card_number"):
            # Would run as a formula when the roster is exported and opened in a spreadsheet.
            raise InvalidChange(ChangeProblem.FORMULA, value[:40])
        if len(value) > _TEXT_LIMITS.get(key, 200):
            raise InvalidChange(ChangeProblem.TOO_LONG, value[:40])
        if key == "full_name" and not value:
            raise InvalidChange(ChangeProblem.EMPTY_NAME)
        if key == "full_name" and not any(ch.isalpha() for ch in value):
            raise InvalidChange(ChangeProblem.NOT_A_NAME, value[:40])
        if key in ("card_number", "notes"):
            value = value or None
    if key == "phone" and value is not None:
        value = parse_phone(value)
    if key == "role":
        value = Role(value)
    if key == "gender" and value is not None:
        value = Gender(value)
    return value


def _plain(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    return value.value if isinstance(value, StrEnum) else value


def _audit(session: AsyncSession, actor: Actor, action: str, member: Member, before: dict[str, Any]) -> dict[str, Any]:
    after = {key: _plain(getattr(member, key)) for key in before}
    changed = {key for key in before if before[key] != after[key]}
    if changed:
        session.add(
            AuditEvent(
                actor_member_id=actor.id,
                action=action,
                subject_type="member",
                subject_id=member.id,
                before={key: before[key] for key in changed},
                after={key: after[key] for key in changed},
            )
        )
    return {key: after[key] for key in changed}


def _snapshot(member: Member, keys: Any) -> dict[str, Any]:
    return {key: _plain(getattr(member, key)) for key in keys}


async def _check_card(session: AsyncSession, member: Member | None, card: str | None) -> None:
    if not card:
        return
    query = select(Member.id).where(Member.card_number == card, col(Member.active).is_(True))
    if member is not None and member.id is not None:
        query = query.where(Member.id != member.id)
    if (await session.exec(query)).first() is not None:
        raise InvalidChange(ChangeProblem.DUPLICATE_CARD, card)


async def add_member(session: AsyncSession, actor: Actor, branch_id: int, values: Mapping[str, Any]) -> Member:
    """A new active member; probationary unless a date made official is given."""
    check(actor, Permission.EDIT_MEMBER, Target(branch_id))
    fields = {key: _clean(key, value) for key, value in values.items() if key in EDITABLE}
    if "full_name" not in fields:
        raise InvalidChange(ChangeProblem.EMPTY_NAME)
    await _check_card(session, None, fields.get("card_number"))
    member = Member(branch_id=branch_id, status=MemberStatus.PROBATIONARY, **fields)
    official = values.get("date_official")
    if isinstance(official, date):
        member.status, member.date_official = MemberStatus.OFFICIAL, official
    session.add(member)
    await session.flush()
    session.add(
        AuditEvent(
            actor_member_id=actor.id,
            action="member.added",
            subject_type="member",
            subject_id=member.id,
            after=_snapshot(member, ("full_name", "branch_id", "status", *fields)),
        )
    )
    return member


async def edit_member(
    session: AsyncSession, actor: Actor, member: Member, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Set the given fields; the fields that really changed, with their new values."""
    _editable(actor, member, Permission.EDIT_MEMBER)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    cleaned = {key: _clean(key, value) for key, value in changes.items()}
    if "card_number" in cleaned:
        await _check_card(session, member, cleaned["card_number"])
    before = _snapshot(member, cleaned)
    for key, value in cleaned.items():
        setattr(member, key, value)
    session.add(member)
    return _audit(session, actor, "member.edited", member, before)


async def set_own_phone(session: AsyncSession, member: Member, text: str) -> str:
    """A member correcting their own phone number: the one field of their record they may change."""
    check(member, Permission.EDIT_OWN_CONTACT, target_of(member))
    before = _snapshot(member, ("phone",))
    member.phone = parse_phone(text)
    session.add(member)
    _audit(session, member, "member.phone", member, before)
    return member.phone


async def move_member(session: AsyncSession, actor: Actor, member: Member, branch_id: int) -> None:
    """To another branch: the actor needs the right on both the branch left and the one joined."""
    _editable(actor, member, Permission.EDIT_MEMBER)
    check(actor, Permission.EDIT_MEMBER, Target(branch_id))
    if branch_id == member.branch_id:
        raise InvalidChange(ChangeProblem.SAME_BRANCH)
    before = _snapshot(member, ("branch_id", "role"))
    member.branch_id = branch_id
    member.role = Role.MEMBER  # a branch office is held in one branch; the new one elects its own
    session.add(member)
    _audit(session, actor, "member.moved", member, before)


async def promote(session: AsyncSession, actor: Actor, member: Member, on: date) -> None:
    """Probationary -> official from ``on`` (the date of the decision)."""
    _editable(actor, member, Permission.EDIT_MEMBER)
    if member.status is MemberStatus.OFFICIAL:
        raise InvalidChange(ChangeProblem.ALREADY_OFFICIAL)
    if on > date.today():
        raise InvalidChange(ChangeProblem.DATE_IN_FUTURE, on.isoformat())
    if member.date_admitted is not None and on < member.date_admitted:
        raise InvalidChange(ChangeProblem.OFFICIAL_BEFORE_ADMITTED, on.isoformat())
    before = _snapshot(member, ("status", "date_official"))
    member.status, member.date_official = MemberStatus.OFFICIAL, on
    session.add(member)
    _audit(session, actor, "member.promoted", member, before)


async def set_exempt(session: AsyncSession, actor: Actor, member: Member, exempt: bool) -> None:
    _editable(actor, member, Permission.EDIT_MEMBER)
    before = _snapshot(member, ("exempt",))
    member.exempt = exempt
    session.add(member)
    _audit(session, actor, "member.exempt", member, before)


async def set_standing(session: AsyncSession, actor: Actor, member: Member, standing: MemberStanding) -> None:
    """Active, suspended from activity (đình chỉ sinh hoạt) or temporarily active elsewhere (sinh hoạt
    tạm thời nơi khác): the last two do not vote in the branch and leave the base of its votes."""
    _editable(actor, member, Permission.EDIT_MEMBER)
    before = _snapshot(member, ("standing",))
    member.standing = standing
    session.add(member)
    _audit(session, actor, "member.standing", member, before)


async def deactivate(
    session: AsyncSession, actor: Actor, member: Member, reason: DeactivationReason, on: date | None = None
) -> None:
    """Moved away, died, expelled: kept for history, gone from every audience, vote and menu.
    Their unused invite codes stop working; their linked accounts are treated as strangers'."""
    _editable(actor, member, Permission.EDIT_MEMBER)
    before = _snapshot(member, ("active", "deactivated_on", "deactivation_reason"))
    member.active = False
    member.deactivated_on = on or date.today()
    member.deactivation_reason = reason
    session.add(member)
    await _revoke(session, member)
    _audit(session, actor, "member.deactivated", member, before)


async def reactivate(session: AsyncSession, actor: Actor, member: Member) -> None:
    """Undo a deactivation made by mistake, or a member who came back."""
    check(actor, Permission.EDIT_MEMBER, target_of(member))
    if member.active:
        raise InvalidChange(ChangeProblem.ALREADY_ACTIVE)
    before = _snapshot(member, ("active", "deactivated_on", "deactivation_reason"))
    member.active, member.deactivated_on, member.deactivation_reason = True, None, None
    session.add(member)
    _audit(session, actor, "member.reactivated", member, before)


async def revoke_invites(session: AsyncSession, actor: Actor, member: Member) -> int:
    """Stop every unused invite code of the member (a lost paper); how many were stopped."""
    check(actor, Permission.ISSUE_INVITE, target_of(member))
    count = await _revoke(session, member)
    if count:
        session.add(
            AuditEvent(
                actor_member_id=actor.id,
                action="invite.revoked",
                subject_type="member",
                subject_id=member.id,
                after={"invites": count},
            )
        )
    return count


async def _revoke(session: AsyncSession, member: Member) -> int:
    result = await session.exec(
        update(Invite)
        .where(col(Invite.member_id) == member.id)
        .where(col(Invite.used_at).is_(None))
        .where(col(Invite.revoked_at).is_(None))
        .where(col(Invite.expires_at) > utcnow())
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)


def _editable(actor: Actor, member: Member, permission: Permission) -> None:
    check(actor, permission, target_of(member))
    if not member.active:
        raise InvalidChange(ChangeProblem.INACTIVE, member.full_name)
