"""The audit log's actions, and its refusals: a member or a stranger pressing a secretary's button.

A flood from one account must not flood the audit log, so each stranger identity, and each member,
is written down at most once per ``REFUSAL_AUDIT_INTERVAL``; a member's row of that minute counts
every refusal in it and names each permission tried, and each refusal also goes to the log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import AuditEvent, Platform, utcnow

log = logging.getLogger(__name__)

REFUSAL_AUDIT_INTERVAL = timedelta(minutes=1)


class AuditAction(StrEnum):
    """Everything the audit log records; the value is what is stored (kept for old rows)."""

    MEMBER_LINKED = "member.linked"
    MEMBER_LANGUAGE = "member.language"
    MEMBER_PHONE = "member.phone"
    MEMBER_ADDED = "member.added"
    MEMBER_IMPORTED = "member.imported"
    MEMBER_UPDATED = "member.updated"
    MEMBER_EDITED = "member.edited"
    MEMBER_MOVED = "member.moved"
    MEMBER_PROMOTED = "member.promoted"
    MEMBER_EXEMPT = "member.exempt"
    MEMBER_DEACTIVATED = "member.deactivated"
    MEMBER_REACTIVATED = "member.reactivated"
    MEMBER_COMMITTEE_ROLE = "member.committee_role"
    MEMBER_STANDING = "member.standing"
    INVITE_ISSUED = "invite.issued"
    INVITE_REVOKED = "invite.revoked"
    INVITE_REFUSED = "invite.refused"
    INVITE_LOCKOUT = "invite.lockout"
    REFUSED = "refused"
    STRANGER_REFUSED = "stranger.refused"
    NOTICE_SENT = "notice.sent"
    NOTICE_SCHEDULED = "notice.scheduled"
    NOTICE_CANCELLED = "notice.cancelled"
    NOTICE_NUDGED = "notice.nudged"
    NOTICE_FILE_CONFIRMED = "notice.file_confirmed"  # a scan or photo said to carry no classification mark
    POLL_OPENED = "poll.opened"
    POLL_PAPER_VOTE = "poll.paper_vote"
    POLL_PAPER_BOX = "poll.paper_box"
    POLL_CLOSED = "poll.closed"
    MEETING_CALLED = "meeting.called"
    MEETING_MOVED = "meeting.moved"
    MEETING_CANCELLED = "meeting.cancelled"
    MEETING_ATTENDANCE = "meeting.attendance"
    MEETING_ATTENDANCE_CONFIRMED = "meeting.attendance_confirmed"
    MEETING_MINUTES = "meeting.minutes"
    MEETING_DOCUMENT = "meeting.document"
    BRANCH_MEETING_QUORUM = "branch.meeting_quorum"
    RESOLUTION_RECORDED = "meeting.resolution"
    HAND_VOTE_RECORDED = "meeting.hand_vote"
    MEMBER_TRANSFERRED_OUT = "member.transferred_out"
    MEMBER_TRANSFERRED_TEMPORARY = "member.transferred_temporary"
    MEMBER_TRANSFER_ENDED = "member.transfer_ended"
    MEMBER_TRANSFERRED_IN = "member.transferred_in"
    MEMBER_RESIDENCE_CONTACT = "member.residence_contact"
    CANDIDATE_ADDED = "candidate.added"
    CANDIDATE_STEP = "candidate.step"
    CANDIDATE_DROPPED = "candidate.dropped"
    REVIEW_SELF = "review.self"
    REVIEW_CLASSIFIED = "review.classified"
    DESK_SIGNED_IN = "desk.signed_in"
    DESK_SIGNED_OUT = "desk.signed_out"
    DESK_SIGNED_OUT_EVERYWHERE = "desk.signed_out_everywhere"
    MEMBER_DUES_CATEGORY = "member.dues_category"
    DUES_PAID = "dues.paid"


STRANGER_REFUSED = AuditAction.STRANGER_REFUSED.value
REFUSED = AuditAction.REFUSED.value


def record(
    session: AsyncSession,
    action: AuditAction,
    *,
    actor_id: int | None,
    subject_type: str,
    subject_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Add one line to the audit log, in the caller's transaction: the only place rows are built."""
    session.add(
        AuditEvent(
            at=at or utcnow(),
            actor_member_id=actor_id,
            action=action.value,
            subject_type=subject_type,
            subject_id=subject_id,
            before=before,
            after=after,
        )
    )


@dataclass(frozen=True)
class AuditLog:
    """The audit log of one transaction (``uow.audit``): ``record`` without passing the session."""

    session: AsyncSession

    def record(
        self,
        action: AuditAction,
        *,
        actor_id: int | None,
        subject_type: str,
        subject_id: int | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        record(
            self.session, action, actor_id=actor_id, subject_type=subject_type, subject_id=subject_id,
            before=before, after=after, at=at,
        )  # fmt: skip


async def audit_stranger(
    session: AsyncSession, platform: Platform, user_id: str, action: str, now: datetime | None = None
) -> bool:
    """Record that someone chibo does not know tried ``action``; False when this identity was
    already recorded within the interval (nothing written)."""
    now = now or utcnow()
    who = f"{platform.value}:{user_id}"
    recent = (
        await session.exec(
            select(AuditEvent.after)
            .where(AuditEvent.action == STRANGER_REFUSED)
            .where(col(AuditEvent.at) > now - REFUSAL_AUDIT_INTERVAL)
        )
    ).all()
    if any(isinstance(after, dict) and after.get("who") == who for after in recent):
        return False
    record(
        session,
        AuditAction.STRANGER_REFUSED,
        actor_id=None,
        subject_type="identity",
        after={"who": who[:200], "action": action[:64]},
        at=now,
    )
    return True


# The permission a refusal names when a secretary's button names an object that does not exist:
# audited like a refusal on another branch's object, so both look alike to whoever guesses ids.
MISSING_OBJECT = "missing_object"


@dataclass(frozen=True)
class Refusal:
    """A member refused a secretary's action: the permission, and the branch and member it was on."""

    permission: str
    branch_id: int | None
    member_id: int | None = None


async def audit_refusal(session: AsyncSession, actor_id: int, refusal: Refusal, now: datetime | None = None) -> bool:
    """Record that member ``actor_id`` was refused; False when their row of the last minute only
    counted it (one more time, and the permission if new), so replayed buttons add no rows."""
    now = now or utcnow()
    log.info("refused member=%s permission=%s branch=%s", actor_id, refusal.permission, refusal.branch_id)
    recent = (
        await session.exec(
            select(AuditEvent)
            .where(AuditEvent.actor_member_id == actor_id, AuditEvent.action == REFUSED)
            .where(col(AuditEvent.at) > now - REFUSAL_AUDIT_INTERVAL)
            .order_by(col(AuditEvent.at).desc())
            .limit(1)
        )
    ).first()
    if recent is not None:
        after = dict(recent.after or {})
        after["times"] = int(after.get("times", 1)) + 1
        after["permissions"] = sorted({*after.get("permissions", [after.get("permission")]), refusal.permission})
        recent.after = after  # a new dict: the JSON column is saved only when replaced
        session.add(recent)
        return False
    record(
        session,
        AuditAction.REFUSED,
        actor_id=actor_id,
        subject_type="branch",
        subject_id=refusal.branch_id,
        after={
            "permission": refusal.permission,
            "member_id": refusal.member_id,
            "times": 1,
            "permissions": [refusal.permission],
        },
        at=now,
    )
    return True
