"""What the desk's overview reads (Tổng quan): the branches a leader keeps, at a glance.

Every function takes the branches to show (``branch_ids``, those the permission table lets the
reader act on, or one of them) and reads nothing of any other branch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum

from sqlalchemy import false, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import AuditAction
from models.meetings.attendance import summary, unexcused_months
from models.meetings.rules import ABSENCE_WARNING_MONTHS, ABSENCE_WINDOW_MONTHS, Summary
from models.membership import Due, NotPermitted, probation_due
from models.notice_queries import read_counts
from models.permissions import Actor
from models.polls import check_poll
from models.tables import (
    Attendance,
    AuditEvent,
    Branch,
    ChannelIdentity,
    Meeting,
    MeetingInvitation,
    MeetingKind,
    MeetingStatus,
    Member,
    MemberStanding,
    MemberStatus,
    Notice,
    NoticeStatus,
    OutboxMessage,
    OutboxStatus,
    Platform,
    Poll,
    PollEligible,
    PollStatus,
    PollVoter,
    utcnow,
)
from models.vietnamese import name_key, text_key

# Chats a member can be reached in, in the order the overview lists them (Web Push is not a chat).
CHANNELS = (Platform.ZALO_BOT, Platform.ZALO_OA, Platform.TELEGRAM, Platform.WEB)
FAILED_SINCE = timedelta(days=14)


@dataclass
class Roster:
    """The active members of the branches by status, exemption, standing and channel."""

    total: int = 0
    by_status: Counter[MemberStatus] = field(default_factory=Counter)
    exempt: int = 0
    by_standing: Counter[MemberStanding] = field(default_factory=Counter)
    by_channel: Counter[Platform] = field(default_factory=Counter)
    joined: int = 0
    # Not on chibo at all: to be phoned (name, phone, branch), by name.
    not_joined: list[tuple[Member, str]] = field(default_factory=list)


async def roster_glance(session: AsyncSession, branch_ids: Sequence[int]) -> Roster:
    members = (
        await session.exec(select(Member).where(col(Member.active).is_(True), col(Member.branch_id).in_(branch_ids)))
    ).all()
    names = dict((await session.exec(select(Branch.id, Branch.name).where(col(Branch.id).in_(branch_ids)))).all())
    identities = (
        await session.exec(
            select(ChannelIdentity.member_id, ChannelIdentity.platform).where(
                col(ChannelIdentity.member_id).in_([m.id for m in members])
            )
        )
    ).all()
    channels: dict[int, set[Platform]] = {}
    for member_id, platform in identities:
        if platform in CHANNELS:
            channels.setdefault(member_id, set()).add(Platform(platform))
    roster = Roster(total=len(members))
    for member in members:
        roster.by_status[member.status] += 1
        roster.exempt += member.exempt
        roster.by_standing[member.standing] += 1
        mine = channels.get(member.id or 0, set())
        roster.by_channel.update(mine)
        if mine:
            roster.joined += 1
        else:
            roster.not_joined.append((member, names.get(member.branch_id, "")))
    roster.not_joined.sort(key=lambda pair: (text_key(pair[1]), name_key(pair[0].full_name)))
    return roster


@dataclass(frozen=True)
class PollTurnout:
    poll: Poll
    eligible: int
    voted: int


async def open_polls(session: AsyncSession, actor: Actor, branch_ids: Sequence[int]) -> list[PollTurnout]:
    """The open votes of these branches the actor manages, soonest deadline first, with turnout."""
    polls = (
        await session.exec(
            select(Poll).where(Poll.status == PollStatus.OPEN).order_by(col(Poll.deadline), col(Poll.id))
        )
    ).all()
    wanted = set(branch_ids)
    shown = []
    for poll in polls:
        try:
            await check_poll(session, actor, poll)
        except NotPermitted:
            continue
        if poll.branches and not wanted & set(poll.branches):
            continue
        shown.append(poll)
    ids = [p.id for p in shown]
    eligible = dict(
        (
            await session.exec(
                select(PollEligible.poll_id, func.count())
                .where(col(PollEligible.poll_id).in_(ids))
                .group_by(col(PollEligible.poll_id))
            )
        ).all()
    )
    voted = dict(
        (
            await session.exec(
                select(PollVoter.poll_id, func.count())
                .where(col(PollVoter.poll_id).in_(ids))
                .group_by(col(PollVoter.poll_id))
            )
        ).all()
    )
    return [PollTurnout(p, eligible.get(p.id or 0, 0), voted.get(p.id or 0, 0)) for p in shown]


async def next_meetings(
    session: AsyncSession, branch_ids: Sequence[int], *, commune: bool, now: datetime | None = None, limit: int = 5
) -> list[tuple[Meeting, Summary]]:
    """The meetings called for these branches (and the commune's, for a commune leader) that are
    still ahead, soonest first, with the answers so far."""
    now = now or utcnow()
    whose = or_(col(Meeting.branch_id).in_(branch_ids), col(Meeting.branch_id).is_(None) if commune else false())
    meetings = (
        await session.exec(
            select(Meeting)
            .where(Meeting.status == MeetingStatus.CALLED, col(Meeting.starts_at) >= now, whose)
            .order_by(col(Meeting.starts_at))
            .limit(limit)
        )
    ).all()
    return [(meeting, await summary(session, meeting)) for meeting in meetings]


async def recent_notices(
    session: AsyncSession, branch_ids: Sequence[int], limit: int = 5
) -> list[tuple[Notice, int, int]]:
    """The latest notices sent by members of these branches, newest first: (notice, read, recipients),
    the sender counted out."""
    notices = list(
        (
            await session.exec(
                select(Notice)
                .where(Notice.status == NoticeStatus.SENT)
                .where(col(Notice.author_member_id).in_(select(Member.id).where(col(Member.branch_id).in_(branch_ids))))
                .order_by(col(Notice.id).desc())
                .limit(limit)
            )
        ).all()
    )
    counts = await read_counts(session, notices)
    return [(n, *counts.get(n.id or 0, (0, 0))) for n in notices]


async def due_reviews(session: AsyncSession, actor: Actor, branch_ids: Sequence[int], today: date) -> list[Due]:
    """Probationary members of these branches due to be made official (``probation_due``)."""
    return [due for due in await probation_due(session, actor, today) if due.member.branch_id in branch_ids]


@dataclass(frozen=True)
class AbsenceWarning:
    member: Member
    months: list[date]


async def absence_warnings(
    session: AsyncSession, branch_ids: Sequence[int], now: datetime, tz: tzinfo
) -> list[AbsenceWarning]:
    """Members of these branches who missed regular meetings without reason in at least
    ``ABSENCE_WARNING_MONTHS`` months of the last twelve, by confirmed lists (Quy định 29: three
    is a ground for removal). For the branch secretary only, as the chat's warning is."""
    candidates = (
        await session.exec(
            select(Member)
            .join(MeetingInvitation, col(MeetingInvitation.member_id) == Member.id)
            .join(Meeting, col(Meeting.id) == MeetingInvitation.meeting_id)
            .where(col(Member.active).is_(True), col(Member.branch_id).in_(branch_ids))
            .where(MeetingInvitation.attendance == Attendance.ABSENT, Meeting.kind == MeetingKind.REGULAR)
            .where(col(Meeting.starts_at) >= now - timedelta(days=31 * ABSENCE_WINDOW_MONTHS))
            .distinct()
        )
    ).all()
    warnings = []
    for member in candidates:
        months = await unexcused_months(session, member.id or 0, now, tz)
        if len(months) >= ABSENCE_WARNING_MONTHS:
            warnings.append(AbsenceWarning(member, months))
    return sorted(warnings, key=lambda w: (-len(w.months), name_key(w.member.full_name)))


@dataclass(frozen=True)
class Undelivered:
    member: Member
    platform: Platform
    messages: int
    last_error: str
    at: datetime


async def undelivered(
    session: AsyncSession, branch_ids: Sequence[int], now: datetime | None = None
) -> list[Undelivered]:
    """Messages to members of these branches that chibo gave up sending in the last
    ``FAILED_SINCE``, per member and channel, the latest first."""
    now = now or utcnow()
    rows = (
        await session.exec(
            select(OutboxMessage, Member)
            .join(Member, col(Member.id) == OutboxMessage.member_id)
            .where(OutboxMessage.status == OutboxStatus.FAILED, col(Member.branch_id).in_(branch_ids))
            .where(col(OutboxMessage.created_at) >= now - FAILED_SINCE)
            .order_by(col(OutboxMessage.id).desc())
        )
    ).all()
    found: dict[tuple[int, Platform], Undelivered] = {}
    for row, member in rows:
        key = (member.id or 0, row.platform)
        if key in found:
            earlier = found[key]
            found[key] = Undelivered(member, row.platform, earlier.messages + 1, earlier.last_error, earlier.at)
        else:
            found[key] = Undelivered(member, row.platform, 1, row.last_error or "", row.sent_at or row.created_at)
    return list(found.values())


class AuditKind(StrEnum):
    """The kinds of the audit log a reader filters by: each a group of ``AuditAction``s."""

    RECORDS = "records"
    INVITES = "invites"
    NOTICES = "notices"
    POLLS = "polls"
    MEETINGS = "meetings"
    DESK = "desk"
    REFUSALS = "refusals"


_KIND_PREFIXES = {
    AuditKind.RECORDS: ("member.",),
    AuditKind.INVITES: ("invite.",),
    AuditKind.NOTICES: ("notice.",),
    AuditKind.POLLS: ("poll.",),
    AuditKind.MEETINGS: ("meeting.", "branch."),
    AuditKind.DESK: ("desk.",),
    AuditKind.REFUSALS: ("refused", "stranger."),
}


def actions_of(kind: AuditKind) -> list[str]:
    return [a.value for a in AuditAction if a.value.startswith(_KIND_PREFIXES[kind])]


async def members_of(session: AsyncSession, branch_ids: Sequence[int]) -> list[Member]:
    """The members of these branches, also those who left the roster (the log still names them), by name."""
    members = (await session.exec(select(Member).where(col(Member.branch_id).in_(branch_ids)))).all()
    return sorted(members, key=lambda m: name_key(m.full_name))


async def audit_page(
    session: AsyncSession,
    branch_ids: Sequence[int] | None,
    *,
    member_id: int | None = None,
    kind: AuditKind | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[AuditEvent], bool]:
    """One page of the audit log, newest first, and whether older events follow. ``branch_ids``
    None is the whole commune; else what concerns these branches (as ``recent_events`` reads it: an
    event about one of their members or the branch, or done by one of their members)."""
    query = select(AuditEvent)
    if branch_ids is not None:
        in_branch = select(Member.id).where(col(Member.branch_id).in_(branch_ids))
        query = query.where(
            or_(
                (col(AuditEvent.subject_type) == "member") & col(AuditEvent.subject_id).in_(in_branch),
                (col(AuditEvent.subject_type) == "branch") & col(AuditEvent.subject_id).in_(branch_ids),
                col(AuditEvent.actor_member_id).in_(in_branch),
            )
        )
    if member_id is not None:
        about = (col(AuditEvent.subject_type) == "member") & (col(AuditEvent.subject_id) == member_id)
        query = query.where(or_(about, col(AuditEvent.actor_member_id) == member_id))
    if kind is not None:
        query = query.where(col(AuditEvent.action).in_(actions_of(kind)))
    if since is not None:
        query = query.where(col(AuditEvent.at) >= since)
    if until is not None:
        query = query.where(col(AuditEvent.at) < until)
    query = query.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).offset(offset).limit(limit + 1)
    events = list((await session.exec(query)).all())
    return events[:limit], len(events) > limit
