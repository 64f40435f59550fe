"""What the desk's Đảng viên page reads: the roster of the branches a leader keeps, searched without
diacritics and filtered by branch, status, channel and whether the member joined chibo."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.desk_queries import CHANNELS
from models.roster import fold
from models.tables import Branch, ChannelIdentity, Member, MemberStanding, MemberStatus, Platform
from models.vietnamese import name_key, text_key


class StatusFilter(StrEnum):
    """The page's "status" filter: the register's status, exemption, standing, or off the roster."""

    OFFICIAL = "official"
    PROBATIONARY = "probationary"
    EXEMPT = "exempt"
    SUSPENDED = "suspended"
    ELSEWHERE = "elsewhere"
    LEFT = "left"  # taken off the roster (kept for history)


@dataclass(frozen=True)
class RosterFilter:
    text: str = ""  # part of the name, with or without accents, or of the phone or card number
    branch_id: int | None = None
    status: StatusFilter | None = None
    channel: Platform | None = None
    joined: bool | None = None


@dataclass(frozen=True)
class RosterRow:
    member: Member
    branch: Branch
    channels: tuple[Platform, ...]  # the chats they joined on, in the overview's order
    unreachable: tuple[Platform, ...]  # of those, where the platform says they cannot be reached


def _status_matches(member: Member, wanted: StatusFilter | None) -> bool:
    if wanted is StatusFilter.LEFT:
        return not member.active
    if not member.active:
        return False
    return {
        None: True,
        StatusFilter.OFFICIAL: member.status is MemberStatus.OFFICIAL,
        StatusFilter.PROBATIONARY: member.status is MemberStatus.PROBATIONARY,
        StatusFilter.EXEMPT: member.exempt,
        StatusFilter.SUSPENDED: member.standing is MemberStanding.SUSPENDED,
        StatusFilter.ELSEWHERE: member.standing is MemberStanding.ELSEWHERE,
    }[wanted]


def _text_matches(member: Member, needle: str) -> bool:
    if not needle:
        return True
    digits = "".join(ch for ch in needle if ch.isdigit())
    phone = member.phone or ""
    local = "0" + phone[3:] if phone.startswith("+84") else phone
    return (
        needle in fold(member.full_name)
        or (member.card_number is not None and needle in fold(member.card_number))
        or (len(digits) >= 3 and digits == needle.replace(" ", "") and digits in local)
    )


async def roster(session: AsyncSession, branch_ids: Sequence[int], wanted: RosterFilter) -> list[RosterRow]:
    """The members of ``branch_ids`` (those the reader may see) matching ``wanted``, by branch and
    then as registers list people."""
    shown = [b for b in branch_ids if wanted.branch_id in (None, b)]
    members = (await session.exec(select(Member).where(col(Member.branch_id).in_(shown)))).all()
    branches = {b.id: b for b in (await session.exec(select(Branch).where(col(Branch.id).in_(shown)))).all()}
    needle = fold(wanted.text)
    members = [m for m in members if _status_matches(m, wanted.status) and _text_matches(m, needle)]
    identities = (
        await session.exec(select(ChannelIdentity).where(col(ChannelIdentity.member_id).in_([m.id for m in members])))
    ).all()
    joined: dict[int, set[Platform]] = {}
    unreachable: dict[int, set[Platform]] = {}
    for identity in identities:
        if identity.platform in CHANNELS:
            joined.setdefault(identity.member_id, set()).add(Platform(identity.platform))
            if identity.unreachable_at is not None:
                unreachable.setdefault(identity.member_id, set()).add(Platform(identity.platform))
    rows = []
    for member in members:
        mine = joined.get(member.id or 0, set())
        if wanted.joined is not None and bool(mine) != wanted.joined:
            continue
        if wanted.channel is not None and wanted.channel not in mine:
            continue
        off = unreachable.get(member.id or 0, set())
        rows.append(
            RosterRow(
                member,
                branches[member.branch_id],
                tuple(p for p in CHANNELS if p in mine),
                tuple(p for p in CHANNELS if p in off),
            )
        )
    rows.sort(key=lambda row: (text_key(row.branch.name), not row.member.active, name_key(row.member.full_name)))
    return rows
