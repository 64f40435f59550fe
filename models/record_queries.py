"""What the secretary's record tools read: a member's channels and open invite, the branch roster,
a search by name, the audit log about a member or a branch, and who leads a branch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.permissions import Scope, scope_of
from models.roster import fold
from models.tables import (
    AuditEvent,
    Branch,
    ChannelIdentity,
    Invite,
    Meeting,
    Member,
    MemberStatus,
    Notice,
    Poll,
    Role,
    utcnow,
)
from models.vietnamese import name_key, text_key


async def identities_of(session: AsyncSession, member_ids: Sequence[int | None]) -> Sequence[ChannelIdentity]:
    """The channel accounts the members joined with."""
    return (
        await session.exec(select(ChannelIdentity).where(col(ChannelIdentity.member_id).in_(list(member_ids))))
    ).all()


async def open_invite(session: AsyncSession, member: Member) -> Invite | None:
    """The member's invite code not yet used, revoked or expired, if any."""
    return (
        await session.exec(
            select(Invite).where(
                Invite.member_id == member.id,
                col(Invite.used_at).is_(None),
                col(Invite.revoked_at).is_(None),
                col(Invite.expires_at) > utcnow(),
            )
        )
    ).first()


async def branches(session: AsyncSession) -> Sequence[Branch]:
    """Every branch, in the dictionary order of its name (as the desk's branch picker lists them)."""
    return sorted((await session.exec(select(Branch))).all(), key=lambda branch: text_key(branch.name))


async def branch_names(session: AsyncSession) -> dict[int | None, str]:
    return dict((await session.exec(select(Branch.id, Branch.name))).all())


async def member_names(session: AsyncSession, ids: set[int | None]) -> dict[int | None, str]:
    return dict((await session.exec(select(Member.id, Member.full_name).where(col(Member.id).in_(ids)))).all())


async def active_in_branch(session: AsyncSession, branch_id: int) -> list[Member]:
    """The branch's roster: active members as registers list them."""
    query = select(Member).where(Member.branch_id == branch_id, col(Member.active).is_(True))
    return sorted((await session.exec(query)).all(), key=lambda member: name_key(member.full_name))


async def members_named(session: AsyncSession, actor: Member, wanted: str) -> list[Member]:
    """Active members within the actor's scope whose name contains ``wanted``, accents or not."""
    needle = fold(wanted)
    query = select(Member).where(col(Member.active).is_(True))
    if scope_of(actor) is not Scope.COMMUNE:
        query = query.where(Member.branch_id == actor.branch_id)
    found = [person for person in (await session.exec(query)).all() if needle in fold(person.full_name)]
    return sorted(found, key=lambda member: name_key(member.full_name))


async def branch_leaders(session: AsyncSession, branch_id: int) -> Sequence[Member]:
    """The branch's active secretary and deputy secretaries, the secretary first."""
    return (
        await session.exec(
            select(Member)
            .where(Member.branch_id == branch_id, col(Member.active).is_(True))
            .where(col(Member.role).in_((Role.SECRETARY, Role.DEPUTY_SECRETARY)))
            .order_by(col(Member.role).desc(), col(Member.id))  # "secretary" sorts after "deputy_…"
        )
    ).all()


async def member_history(session: AsyncSession, member: Member, limit: int) -> list[AuditEvent]:
    """The latest audit events about the member or done by them, newest first."""
    about = (col(AuditEvent.subject_type) == "member") & (col(AuditEvent.subject_id) == member.id)
    query = (
        select(AuditEvent)
        .where(or_(about, col(AuditEvent.actor_member_id) == member.id))
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def recent_events(session: AsyncSession, actor: Member, limit: int) -> list[AuditEvent]:
    """The latest changes and refusals in the actor's branch (or the whole commune), newest first."""
    query = select(AuditEvent).order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).limit(limit)
    if scope_of(actor) is not Scope.COMMUNE:
        in_branch = select(Member.id).where(Member.branch_id == actor.branch_id)
        query = query.where(
            or_(
                (col(AuditEvent.subject_type) == "member") & col(AuditEvent.subject_id).in_(in_branch),
                (col(AuditEvent.subject_type) == "branch") & (col(AuditEvent.subject_id) == actor.branch_id),
                col(AuditEvent.actor_member_id).in_(in_branch),
            )
        )
    return list((await session.exec(query)).all())


async def member_with_branch(session: AsyncSession, member_id: int) -> tuple[Member, Branch] | None:
    """The member and their branch, in one round trip."""
    found = (
        await session.exec(
            select(Member, Branch).join(Branch, col(Branch.id) == Member.branch_id).where(Member.id == member_id)
        )
    ).first()
    return None if found is None else (found[0], found[1])


async def active_with_phone(session: AsyncSession, phone: str) -> Sequence[Member]:
    """The active members whose record holds this (normalised) phone number: two for a shared phone."""
    return (await session.exec(select(Member).where(Member.phone == phone).where(col(Member.active).is_(True)))).all()


async def branch_summary(session: AsyncSession, branch_id: int) -> tuple[list[str], dict[MemberStatus, int]]:
    """A branch's secretaries' names and how many active members it has of each status."""
    secretaries = (
        await session.exec(
            select(Member.full_name)
            .where(Member.branch_id == branch_id, Member.role == Role.SECRETARY, col(Member.active).is_(True))
            .order_by(col(Member.id))
        )
    ).all()
    counts = (
        await session.exec(
            select(Member.status, func.count())
            .where(Member.branch_id == branch_id, col(Member.active).is_(True))
            .group_by(Member.status)
        )
    ).all()
    return list(secretaries), {MemberStatus(status): count for status, count in counts}


async def subject_titles(session: AsyncSession, wanted: dict[str, set[int]]) -> dict[tuple[str, int], str]:
    """How a reader knows the meetings, notices and polls of the audit log: a title, a notice's
    first line, a question; keyed by (subject_type, id)."""
    titles: dict[tuple[str, int], str] = {}
    if ids := wanted.get("meeting"):
        for id_, title in (await session.exec(select(Meeting.id, Meeting.title).where(col(Meeting.id).in_(ids)))).all():
            titles["meeting", id_ or 0] = title
    if ids := wanted.get("notice"):
        for id_, text in (await session.exec(select(Notice.id, Notice.text).where(col(Notice.id).in_(ids)))).all():
            titles["notice", id_ or 0] = text
    if ids := wanted.get("poll"):
        for id_, question in (await session.exec(select(Poll.id, Poll.question).where(col(Poll.id).in_(ids)))).all():
            titles["poll", id_ or 0] = question
    return titles


async def meeting_starts(session: AsyncSession, ids: set[int]) -> dict[int, datetime]:
    rows = (await session.exec(select(Meeting.id, Meeting.starts_at).where(col(Meeting.id).in_(ids)))).all()
    return {id_ or 0: starts_at for id_, starts_at in rows}
