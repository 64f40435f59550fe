"""Who a meeting concerns: who is invited, who manages it, who hears its summary; and queueing
a message to one of them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audience import Audience, AudienceFilter, recipients
from models.membership import NotPermitted
from models.outbox import Outbox
from models.permissions import Actor, Permission, Target, may
from models.tables import (
    Attendance,
    Branch,
    ChannelIdentity,
    Meeting,
    MeetingInvitation,
    Member,
    MemberStanding,
    Role,
)
from models.vietnamese import name_key

_NO_BRANCH = -1


async def _branch_ids(session: AsyncSession, meeting: Meeting) -> list[int]:
    audience = Audience.from_json(meeting.audience)
    if meeting.branch_id is not None and audience.branches is not None and audience.members is None:
        return sorted({meeting.branch_id, *audience.branches})
    if audience.branches is not None and audience.members is None:
        return list(audience.branches)
    if audience.members is not None:
        members = (await session.exec(select(Member.branch_id).where(col(Member.id).in_(audience.members)))).all()
        return sorted({*members, *([meeting.branch_id] if meeting.branch_id is not None else [])})
    return [b for b in (await session.exec(select(Branch.id))).all() if b is not None]


def takes_part(member: Member) -> bool:
    """Whether the member takes part in the branch's activity now. DESIGN.md §4 ("the base ...
    minus members temporarily active elsewhere, suspended or detained members"): a member suspended
    from activity (đình chỉ sinh hoạt, Điều lệ Đảng art. 35-36; Quy định 294-QĐ/TW) attends no
    meeting, and one temporarily active in another organisation (sinh hoạt tạm thời) attends that
    organisation's (Hướng dẫn 01-HD/TW point 13.2: counted only if they come). Neither is invited,
    reminded, nor counted among those who must attend."""
    return member.standing is MemberStanding.ACTIVE


async def invitees(session: AsyncSession, meeting: Meeting) -> list[Member]:
    """The active members the meeting's audience means, today, who take part in activity
    (``takes_part``). A commune meeting of "the committee" is the commune committee's (đảng ủy,
    ``committee_role``), not every branch's chi ủy."""
    audience = Audience.from_json(meeting.audience)
    if meeting.branch_id is None and audience.members is None and audience.filter is AudienceFilter.COMMITTEE:
        query = select(Member).where(col(Member.active).is_(True), col(Member.committee_role).is_not(None))
        found = list((await session.exec(query.order_by(col(Member.branch_id), col(Member.id)))).all())
    else:
        found = await recipients(session, audience)
    return [member for member in found if takes_part(member)]


async def check_meeting(session: AsyncSession, actor: Actor, meeting: Meeting) -> None:
    """The actor manages meetings in every branch this one reaches (the commune: committee leaders)."""
    branches = await _branch_ids(session, meeting)
    # A commune meeting belongs to no branch: only those who act on the whole commune may manage
    # it, which a target no branch leader leads expresses.
    if meeting.branch_id is None and not may(actor, Permission.MANAGE_MEETINGS, Target(_NO_BRANCH)):
        raise NotPermitted(Permission.MANAGE_MEETINGS, Target(_NO_BRANCH))
    for branch_id in branches:
        if not may(actor, Permission.MANAGE_MEETINGS, Target(branch_id)):
            raise NotPermitted(Permission.MANAGE_MEETINGS, Target(branch_id))


def _queue(session: AsyncSession, member: Member, identities: list[ChannelIdentity], body: dict[str, Any]) -> int:
    return Outbox(session).add(identities, body, member_id=member.id)


async def secretaries(session: AsyncSession, meeting: Meeting) -> list[Member]:
    """Who hears the summary at the start: the branch's secretary (the committee's for a commune
    meeting), else whoever called the meeting. (The absence warning goes to the secretary only.)"""
    query = select(Member).where(col(Member.active).is_(True))
    if meeting.branch_id is not None:
        query = query.where(Member.branch_id == meeting.branch_id, Member.role == Role.SECRETARY)
    else:
        query = query.where(Member.committee_role == Role.SECRETARY)
    found = list((await session.exec(query.order_by(col(Member.id)))).all())
    if not found and meeting.author_member_id is not None:
        author = await session.get(Member, meeting.author_member_id)
        found = [author] if author is not None and author.active else []
    return found


async def invitations(session: AsyncSession, meeting_id: int) -> list[tuple[MeetingInvitation, Member]]:
    """Who is on the meeting's list: members taken off the roster since the invitation are not
    (they neither attend nor count among those who must), nor are members suspended or temporarily
    active elsewhere since (``takes_part``; DESIGN.md §4 deducts them) unless they came after all
    (Hướng dẫn 01-HD/TW point 13.2: a member active elsewhere who comes is counted)."""
    came = or_(
        col(MeetingInvitation.checked_in_at).is_not(None), col(MeetingInvitation.attendance) == Attendance.PRESENT
    )
    rows = await session.exec(
        select(MeetingInvitation, Member)
        .join(Member, col(Member.id) == MeetingInvitation.member_id)
        .where(MeetingInvitation.meeting_id == meeting_id, col(Member.active).is_(True))
        .where(or_(col(Member.standing) == MemberStanding.ACTIVE, came))
    )
    return sorted(rows.all(), key=lambda row: name_key(row[1].full_name))
