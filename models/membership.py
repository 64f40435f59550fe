"""Keeping the roster right: add, edit, move, promote, exempt, deactivate, revoke invites.

Every change is checked against the permission table and written to the audit log with the values
before and after, in the caller's transaction. Chat handlers and the CLI both come through here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.audit import AuditAction
from models.errors import DomainError
from models.invites import DEFAULT_VALIDITY, issue_invite
from models.permissions import (
    Actor,
    Permission,
    RoleRefusal,
    ServerOperator,
    Target,
    may,
    record_refusal,
    role_refusal,
)
from models.phones import normalize_phone
from models.tables import (
    DeactivationReason,
    Gender,
    Invite,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Member,
    MemberStanding,
    MemberStatus,
    PromotionVote,
    Role,
    utcnow,
)
from models.typed_time import DateProblem, read_date
from models.vietnamese import plain_name


class NotPermitted(DomainError):
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
    NO_SUCH_DAY = "no_such_day"  # "31/02/1960": no such day in the calendar
    DATE_NO_YEAR = "date_no_year"  # "5/3": the year is needed, in four digits
    DATE_IN_FUTURE = "date_in_future"
    OFFICIAL_BEFORE_ADMITTED = "official_before_admitted"
    ALREADY_OFFICIAL = "already_official"
    DUPLICATE_CARD = "duplicate_card"
    SAME_BRANCH = "same_branch"
    INACTIVE = "inactive"
    ALREADY_ACTIVE = "already_active"
    FORMULA = "formula"
    PROBATION_NOT_OVER = "probation_not_over"  # value: the day it ends (ISO)
    NO_ADMISSION_DATE = "no_admission_date"
    BAD_VOTE = "bad_vote"  # not "in favour/official members" with 0 <= in favour <= official members
    VOTE_SHORT = "vote_short"  # value: "in favour/official members"
    ROLE_SELF = "role_self"
    ROLE_ABOVE_OWN = "role_above_own"
    ROLE_PROBATIONARY = "role_probationary"
    ROLE_COMMUNE_ONLY = "role_commune_only"
    RECORD_SELF = "record_self"  # nobody acts on their own record (other than their own phone)
    RECORD_ABOVE_OWN = "record_above_own"  # nor on a comrade's whose office stands above their own
    PHONE_TAKEN = "phone_taken"  # a member may not claim, by themselves, a number another member has
    NO_MEETING = "no_meeting"  # no meeting of the branch held since probation ended; value: that day
    WRONG_MEETING = "wrong_meeting"  # not a meeting of the member's branch that was held (value: the name)


class InvalidChange(DomainError, ValueError):
    def __init__(self, problem: ChangeProblem, value: str = "") -> None:
        super().__init__(f"{problem.value}: {value!r}")
        self.problem = problem
        self.value = value


# Quy định 29 on admission and probation (DESIGN.md §4): probation lasts 12 months from the
# admission; the branch then votes, and it needs at least two thirds of its official members; the
# member is official from the end of the 12 months. Secretaries see who is due this many days ahead.
PROBATION_MONTHS = 12
PROMOTION_VOTE = (2, 3)
DUE_AHEAD = timedelta(days=30)

_ROLE_PROBLEMS = {
    RoleRefusal.SELF: ChangeProblem.ROLE_SELF,
    RoleRefusal.ABOVE_OWN: ChangeProblem.ROLE_ABOVE_OWN,
    RoleRefusal.PROBATIONARY: ChangeProblem.ROLE_PROBATIONARY,
    RoleRefusal.COMMUNE_ONLY: ChangeProblem.ROLE_COMMUNE_ONLY,
}

# What a secretary may set directly; status, branch, exemption and activity have their own verbs.
EDITABLE = ("full_name", "birth_date", "gender", "phone", "card_number", "role", "notes", "date_admitted")
_TEXT_LIMITS = {"full_name": 200, "card_number": 20, "notes": 2000}


def probation_end(admitted: date) -> date:
    """The day probation ends: 12 months from the admission (28 February for one admitted on a 29th)."""
    year, month = divmod(admitted.month - 1 + PROBATION_MONTHS, 12)
    year += admitted.year
    month += 1
    try:
        return admitted.replace(year=year, month=month)
    except ValueError:
        return date(year, month, 28)


def _check_role(actor: Actor, member: Member, role: Role | None, *, committee: bool = False) -> None:
    refusal = role_refusal(actor, member, role, committee=committee)
    if refusal is not None:
        raise InvalidChange(_ROLE_PROBLEMS[refusal], member.full_name)


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


def parse_day(text: str, *, today: date) -> date:
    """A date as members type it ("5/3/1960", "5 tháng 3 năm 1960", ISO: ``typed_time.read_date``),
    not in the future."""
    day = read_date(text)
    if day is DateProblem.NO_SUCH_DAY:
        raise InvalidChange(ChangeProblem.NO_SUCH_DAY, text.strip()[:40])
    if day is DateProblem.NO_YEAR:
        raise InvalidChange(ChangeProblem.DATE_NO_YEAR, text.strip()[:40])
    if not isinstance(day, date):
        raise InvalidChange(ChangeProblem.BAD_DATE, text.strip()[:40])
    if day > today:
        raise InvalidChange(ChangeProblem.DATE_IN_FUTURE, text.strip()[:40])
    return day


def _clean(key: str, value: Any) -> Any:
    if isinstance(value, str):
        value = plain_name(value) if key == "full_name" else value.strip()
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


def clean_name(text: str) -> str:
    """A person's full name by the register's rule (a member's, an admission candidate's, their
    introducer's): refused when empty, too long, without a letter, or starting as a formula."""
    name: str = _clean("full_name", text)
    return name


def _plain(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    return value.value if isinstance(value, StrEnum) else value


def _audit(
    session: AsyncSession, actor: Actor, action: AuditAction, member: Member, before: dict[str, Any]
) -> dict[str, Any]:
    after = {key: _plain(getattr(member, key)) for key in before}
    changed = {key for key in before if before[key] != after[key]}
    if changed:
        audit.record(
            session, action, actor_id=actor.id, subject_type="member", subject_id=member.id,
            before={key: before[key] for key in changed}, after={key: after[key] for key in changed},
        )  # fmt: skip
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
        admitted = fields.get("date_admitted")
        if isinstance(admitted, date) and official < probation_end(admitted):  # Quy định 29: 12 months
            raise InvalidChange(ChangeProblem.PROBATION_NOT_OVER, probation_end(admitted).isoformat())
        member.status, member.date_official = MemberStatus.OFFICIAL, official
    if member.role is not Role.MEMBER:
        _check_role(actor, member.model_copy(update={"role": Role.MEMBER}), member.role)
    session.add(member)
    await session.flush()
    audit.record(
        session,
        AuditAction.MEMBER_ADDED,
        actor_id=actor.id,
        subject_type="member",
        subject_id=member.id,
        after=_snapshot(member, ("full_name", "branch_id", "status", *fields)),
    )
    return member


async def edit_member(
    session: AsyncSession, actor: Actor, member: Member, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Set the given fields; the fields that really changed, with their new values."""
    check(actor, Permission.EDIT_MEMBER, target_of(member))
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    cleaned = {key: _clean(key, value) for key, value in changes.items()}
    if "role" in cleaned:
        _check_role(actor, member, cleaned["role"])  # first: its refusals name the office
    _editable(actor, member, Permission.EDIT_MEMBER)
    if "card_number" in cleaned:
        await _check_card(session, member, cleaned["card_number"])
    admitted = cleaned.get("date_admitted")
    if isinstance(admitted, date) and member.date_official is not None and admitted > member.date_official:
        # Official from the end of 12 months after admission (Quy định 29): never before it.
        raise InvalidChange(ChangeProblem.OFFICIAL_BEFORE_ADMITTED, member.date_official.isoformat())
    before = _snapshot(member, cleaned)
    for key, value in cleaned.items():
        setattr(member, key, value)
    session.add(member)
    return _audit(session, actor, AuditAction.MEMBER_EDITED, member, before)


async def set_own_phone(session: AsyncSession, member: Member, text: str) -> str:
    """A member correcting their own phone number: the one field of their record they may change."""
    check(member, Permission.EDIT_OWN_CONTACT, target_of(member))
    before = _snapshot(member, ("phone",))
    phone = parse_phone(text)
    # A number on another active member's record would make joining by that phone ambiguous (or,
    # were theirs not recorded, link their chat to this member): only the secretary, who knows the
    # family that shares one phone, may record a number twice.
    taken = (
        await session.exec(
            select(Member.id).where(Member.phone == phone, Member.id != member.id, col(Member.active).is_(True))
        )
    ).first()
    if taken is not None:
        raise InvalidChange(ChangeProblem.PHONE_TAKEN, text[:40])
    member.phone = phone
    session.add(member)
    _audit(session, member, AuditAction.MEMBER_PHONE, member, before)
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
    _audit(session, actor, AuditAction.MEMBER_MOVED, member, before)


def check_promotion(actor: Actor, member: Member, today: date) -> date | None:
    """The day probation ends, when the member may be made official now (Quy định 29: not before
    the end of the 12 months); raises the reason otherwise. None for a date joined that is unknown,
    which only the server operator, copying the register, may leave so."""
    _editable(actor, member, Permission.EDIT_MEMBER)
    if member.status is MemberStatus.OFFICIAL:
        raise InvalidChange(ChangeProblem.ALREADY_OFFICIAL)
    if member.date_admitted is None:
        if isinstance(actor, ServerOperator):
            return None
        raise InvalidChange(ChangeProblem.NO_ADMISSION_DATE, member.full_name)
    end = probation_end(member.date_admitted)
    if today < end:
        raise InvalidChange(ChangeProblem.PROBATION_NOT_OVER, end.isoformat())
    return end


def check_decision_day(actor: Actor, member: Member, on: date, today: date) -> date | None:
    """``check_promotion``, and a day of the branch's decision that is neither in the future nor
    before probation ended."""
    end = check_promotion(actor, member, today)
    if on > today:
        raise InvalidChange(ChangeProblem.DATE_IN_FUTURE, on.isoformat())
    if member.date_admitted is not None and on < member.date_admitted:
        raise InvalidChange(ChangeProblem.OFFICIAL_BEFORE_ADMITTED, on.isoformat())
    if end is not None and on < end:
        raise InvalidChange(ChangeProblem.PROBATION_NOT_OVER, end.isoformat())
    return end


def parse_vote(text: str) -> tuple[int, int]:
    """ "8/10" or "8 10": the count in favour and the number of official members."""
    parts = [p for p in text.replace("/", " ").replace(",", " ").split() if p]
    if len(parts) != 2 or not all(p.isdigit() and len(p) <= 5 for p in parts):
        raise InvalidChange(ChangeProblem.BAD_VOTE, text[:40])
    votes_for, officials = int(parts[0]), int(parts[1])
    if officials < 1 or votes_for > officials:
        raise InvalidChange(ChangeProblem.BAD_VOTE, text[:40])
    return votes_for, officials


async def promote(
    session: AsyncSession,
    actor: Actor,
    member: Member,
    on: date,
    *,
    vote: tuple[int, int] | None = None,
    today: date,
    meeting: Meeting | None = None,
) -> None:
    """Probationary -> official, by the branch's decision taken on ``on`` with ``vote`` = (in favour,
    official members of the branch), at ``meeting``. Quy định 29: not before probation ends; at least
    two thirds of the official members in favour; official from the end of the 12 months, not from
    the decision. The server operator copying the register may omit the vote (the decision exists
    on paper). The vote is kept with its meeting (``PromotionVote``)."""
    end = check_decision_day(actor, member, on, today)
    if meeting is not None:
        check_promotion_meeting(member, meeting)
    if vote is None and not isinstance(actor, ServerOperator):
        raise InvalidChange(ChangeProblem.BAD_VOTE)
    if vote is not None:
        votes_for, officials = vote
        if officials < 1 or not 0 <= votes_for <= officials:
            raise InvalidChange(ChangeProblem.BAD_VOTE, f"{votes_for}/{officials}")
        numerator, denominator = PROMOTION_VOTE
        if votes_for * denominator < officials * numerator:  # at least two thirds (Quy định 29)
            raise InvalidChange(ChangeProblem.VOTE_SHORT, f"{votes_for}/{officials}")
    before = _snapshot(member, ("status", "date_official"))
    member.status, member.date_official = MemberStatus.OFFICIAL, end or on
    session.add(member)
    if vote is not None:
        session.add(
            PromotionVote(
                member_id=member.id or 0, meeting_id=meeting.id if meeting else None, decided_on=on,
                votes_for=vote[0], officials=vote[1], author_member_id=actor.id,
            )
        )  # fmt: skip
    audit.record(
        session,
        AuditAction.MEMBER_PROMOTED,
        actor_id=actor.id,
        subject_type="member",
        subject_id=member.id,
        before=before,
        after={
            **_snapshot(member, ("status", "date_official")),
            "decided_on": on.isoformat(),
            **({"votes_for": vote[0], "officials": vote[1]} if vote is not None else {}),
            **({"meeting": meeting.id} if meeting is not None else {}),
        },
    )


# The meetings of the whole branch (not of its committee): where it votes on making a member
# official and decides the year-end classification.
BRANCH_MEETING_KINDS = (MeetingKind.REGULAR, MeetingKind.THEMATIC, MeetingKind.OTHER)


def check_promotion_meeting(member: Member, meeting: Meeting) -> None:
    """A meeting of the member's branch (not of its committee) that was held."""
    if (
        meeting.branch_id != member.branch_id
        or meeting.status is not MeetingStatus.CALLED
        or meeting.kind not in BRANCH_MEETING_KINDS
        or meeting.starts_at > utcnow()
    ):
        raise InvalidChange(ChangeProblem.WRONG_MEETING, member.full_name)


async def promotion_meetings(
    session: AsyncSession, member: Member, since: datetime, limit: int = 6, until: datetime | None = None
) -> list[Meeting]:
    """The meetings of the member's branch held from ``since`` (the end of probation) until now (or
    before ``until``), newest first: those the branch's vote can have been taken at."""
    before = utcnow() if until is None else min(utcnow(), until)
    rows = await session.exec(
        select(Meeting)
        .where(Meeting.branch_id == member.branch_id, Meeting.status == MeetingStatus.CALLED)
        .where(col(Meeting.kind).in_(BRANCH_MEETING_KINDS))
        .where(col(Meeting.starts_at) >= since, col(Meeting.starts_at) <= before)
        .order_by(col(Meeting.starts_at).desc(), col(Meeting.id).desc())
        .limit(limit)
    )
    return list(rows.all())


@dataclass(frozen=True)
class Due:
    """A probationary member whose probation has ended, or ends within ``DUE_AHEAD``."""

    member: Member
    ends: date


async def probation_due(session: AsyncSession, actor: Actor, today: date) -> list[Due]:
    """Probationary members of the branches the actor keeps whose 12 months end within 30 days or
    have ended (the branch should vote within 30 working days of the end: Quy định 29), earliest
    first."""
    rows = await session.exec(
        select(Member)
        .where(col(Member.active).is_(True), Member.status == MemberStatus.PROBATIONARY)
        .where(col(Member.date_admitted).is_not(None))
        .order_by(col(Member.date_admitted), col(Member.id))
    )
    due = []
    for member in rows.all():
        if member.date_admitted is None or not may(actor, Permission.EDIT_MEMBER, target_of(member)):
            continue
        ends = probation_end(member.date_admitted)
        if ends <= today + DUE_AHEAD:
            due.append(Due(member, ends))
    return due


async def set_committee_role(session: AsyncSession, actor: Actor, member: Member, role: Role | None) -> None:
    """An office in the commune committee (đảng ủy), or none: set only by the committee's secretary
    (DESIGN.md §4), never on oneself, never for a probationary member."""
    check(actor, Permission.EDIT_MEMBER, target_of(member))
    role = None if role is Role.MEMBER else role
    _check_role(actor, member, role, committee=True)  # first: its refusals name the office
    _editable(actor, member, Permission.EDIT_MEMBER)
    before = _snapshot(member, ("committee_role",))
    member.committee_role = role
    session.add(member)
    _audit(session, actor, AuditAction.MEMBER_COMMITTEE_ROLE, member, before)


async def set_exempt(session: AsyncSession, actor: Actor, member: Member, exempt: bool) -> None:
    _editable(actor, member, Permission.EDIT_MEMBER)
    before = _snapshot(member, ("exempt",))
    member.exempt = exempt
    session.add(member)
    _audit(session, actor, AuditAction.MEMBER_EXEMPT, member, before)


async def set_standing(session: AsyncSession, actor: Actor, member: Member, standing: MemberStanding) -> None:
    """Active, suspended from activity (đình chỉ sinh hoạt) or temporarily active elsewhere (sinh hoạt
    tạm thời nơi khác): the last two do not vote in the branch and leave the base of its votes."""
    _editable(actor, member, Permission.EDIT_MEMBER)
    before = _snapshot(member, ("standing",))
    member.standing = standing
    session.add(member)
    _audit(session, actor, AuditAction.MEMBER_STANDING, member, before)


def check_deactivate(actor: Actor, member: Member) -> None:
    """Whether ``deactivate`` would go through: asked before the secretary is asked to confirm."""
    _editable(actor, member, Permission.EDIT_MEMBER)


async def deactivate(session: AsyncSession, actor: Actor, member: Member, reason: DeactivationReason, on: date) -> None:
    """Off the roster for one of the register's reasons (transferred, name removed, expelled,
    resigned, died): nothing is deleted; kept for history, gone from every audience, vote and menu.
    Their unused invite codes stop working; their linked accounts are treated as strangers'. ``on``
    is the commune's date (``local_today``), not the server's."""
    check_deactivate(actor, member)
    before = _snapshot(member, ("active", "deactivated_on", "deactivation_reason"))
    member.active = False
    member.deactivated_on = on
    member.deactivation_reason = reason
    session.add(member)
    await _revoke(session, member)
    _audit(session, actor, AuditAction.MEMBER_DEACTIVATED, member, before)


async def reactivate(session: AsyncSession, actor: Actor, member: Member) -> None:
    """Undo a deactivation made by mistake, or a member who came back."""
    check_record(actor, member, Permission.EDIT_MEMBER)
    if member.active:
        raise InvalidChange(ChangeProblem.ALREADY_ACTIVE)
    before = _snapshot(member, ("active", "deactivated_on", "deactivation_reason"))
    member.active, member.deactivated_on, member.deactivation_reason = True, None, None
    session.add(member)
    _audit(session, actor, AuditAction.MEMBER_REACTIVATED, member, before)


async def revoke_invites(session: AsyncSession, actor: Actor, member: Member) -> int:
    """Stop every unused invite code of the member (a lost paper); how many were stopped."""
    check_record(actor, member, Permission.ISSUE_INVITE)
    count = await _revoke(session, member)
    if count:
        audit.record(
            session,
            AuditAction.INVITE_REVOKED,
            actor_id=actor.id,
            subject_type="member",
            subject_id=member.id,
            after={"invites": count},
        )
    return count


async def issue_invites(
    session: AsyncSession, actor: Actor, members: Sequence[Member], *, validity: timedelta = DEFAULT_VALIDITY
) -> list[tuple[Member, str]]:
    """A fresh invite code for each member, as "New invite code" on their card gives one: their
    earlier codes stop working, each issue is audited (never the code: it exists only in what is
    returned here, to be handed over at once). All or nothing: every member must be one the actor
    may issue codes for, and active."""
    for member in members:
        check_record(actor, member, Permission.ISSUE_INVITE)
        if not member.active:
            raise InvalidChange(ChangeProblem.INACTIVE, member.full_name)
    issued = []
    for member in members:
        assert member.id is not None
        audit.record(session, AuditAction.INVITE_ISSUED, actor_id=actor.id, subject_type="member", subject_id=member.id)
        issued.append((member, await issue_invite(session, member.id, validity=validity)))
    return issued


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


def check_record(actor: Actor, member: Member, permission: Permission) -> None:
    """The actor may act on this member's record: the table, then the rule on offices."""
    check(actor, permission, target_of(member))
    refusal = record_refusal(actor, member)
    if refusal is RoleRefusal.SELF:
        raise InvalidChange(ChangeProblem.RECORD_SELF, member.full_name)
    if refusal is not None:
        raise InvalidChange(ChangeProblem.RECORD_ABOVE_OWN, member.full_name)


def _editable(actor: Actor, member: Member, permission: Permission) -> None:
    check_record(actor, member, permission)
    if not member.active:
        raise InvalidChange(ChangeProblem.INACTIVE, member.full_name)
