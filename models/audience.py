"""Audiences: who a notice or a meeting is for (some branches, narrowed by a filter, or chosen
people), who may address them, and where each of them can be reached."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.membership import NotPermitted
from models.permissions import Actor, Permission, Target, may
from models.tables import Branch, ChannelIdentity, Member, MemberStatus, Platform, Role, WebChatSession

# The platforms that reach a member's phone while chibo's page is closed. The web chat gets every
# message too (push_identities), but a member sees it only in an open page or their "Notices" list
# (or as a Web Push notification, which follows the web chat: no member chats on it).
PUSH_PLATFORMS = frozenset(p for p in Platform if p not in (Platform.WEB, Platform.WEB_PUSH))
_CHUNK = 500  # members per IN (...) list


class AudienceFilter(StrEnum):
    ALL = "all"
    OFFICIALS = "officials"
    COMMITTEE = "committee"  # the branch committee: secretary, deputy, committee members


@dataclass(frozen=True)
class Audience:
    """Who a notice goes to: some branches (None: the whole commune), narrowed by a filter, or
    chosen people."""

    branches: tuple[int, ...] | None
    filter: AudienceFilter = AudienceFilter.ALL
    members: tuple[int, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "branches": None if self.branches is None else list(self.branches),
            "filter": self.filter.value,
            "members": None if self.members is None else list(self.members),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        branches, members = data.get("branches"), data.get("members")
        return cls(
            branches=None if branches is None else tuple(int(b) for b in branches),
            filter=AudienceFilter(data.get("filter", "all")),
            members=None if members is None else tuple(int(m) for m in members),
        )


async def all_branch_ids(session: AsyncSession) -> list[int]:
    return [b for b in (await session.exec(select(Branch.id))).all() if b is not None]


async def check_audience(session: AsyncSession, actor: Actor, audience: Audience) -> None:
    """The actor may announce to every branch the audience reaches."""
    branches = audience.branches if audience.branches is not None else await all_branch_ids(session)
    if audience.members is not None:
        member_branches = (
            await session.exec(select(Member.branch_id).where(col(Member.id).in_(audience.members)).distinct())
        ).all()
        branches = tuple(set(branches) | set(member_branches)) if audience.branches is not None else branches
    for branch_id in branches:
        if not may(actor, Permission.ANNOUNCE, Target(branch_id)):
            raise NotPermitted(Permission.ANNOUNCE, Target(branch_id))


async def recipients(session: AsyncSession, audience: Audience) -> list[Member]:
    """The active members the audience means, today."""
    query = select(Member).where(col(Member.active).is_(True)).order_by(col(Member.branch_id), col(Member.id))
    if audience.members is not None:
        query = query.where(col(Member.id).in_(audience.members))
    elif audience.branches is not None:
        query = query.where(col(Member.branch_id).in_(audience.branches))
    if audience.filter is AudienceFilter.OFFICIALS:
        query = query.where(Member.status == MemberStatus.OFFICIAL)
    elif audience.filter is AudienceFilter.COMMITTEE:
        query = query.where(col(Member.role).in_([Role.SECRETARY, Role.DEPUTY_SECRETARY, Role.COMMITTEE_MEMBER]))
    return list((await session.exec(query)).all())


async def _identities(session: AsyncSession, member_ids: list[int]) -> dict[int, list[ChannelIdentity]]:
    found: dict[int, list[ChannelIdentity]] = defaultdict(list)
    for start in range(0, len(member_ids), _CHUNK):
        chunk = member_ids[start : start + _CHUNK]
        for identity in (
            await session.exec(select(ChannelIdentity).where(col(ChannelIdentity.member_id).in_(chunk)))
        ).all():
            found[identity.member_id].append(identity)
    return found


async def push_identities(session: AsyncSession, member_ids: list[int]) -> dict[int, list[ChannelIdentity]]:
    """Where each member can be sent a message by chibo: Telegram and Zalo chats not marked
    unreachable, and each browser of theirs whose web chat session is still alive."""
    found = await _identities(session, member_ids)
    web = {i.platform_user_id for identities in found.values() for i in identities if i.platform is Platform.WEB}
    alive: set[str] = set()
    hashes = sorted(web)
    for start in range(0, len(hashes), _CHUNK):
        chunk = hashes[start : start + _CHUNK]
        living = select(WebChatSession.token_hash).where(col(WebChatSession.token_hash).in_(chunk))
        alive.update((await session.exec(living)).all())
    return {
        member_id: pushable
        for member_id, identities in found.items()
        if (
            pushable := [
                i
                for i in identities
                if i.unreachable_at is None and (i.platform in PUSH_PLATFORMS or i.platform_user_id in alive)
            ]
        )
    }


@dataclass
class Reach:
    """How many of the recipients chibo can push the notice to."""

    total: int = 0
    pushable: int = 0  # linked on a platform with push (Telegram, Zalo) and reachable there
    web_only: int = 0  # will see it in the web chat's notice list
    unreachable: int = 0  # joined, but blocked or left chibo on every chat it could push to
    unlinked: list[str] = field(default_factory=list)  # to be phoned


async def reach(session: AsyncSession, members: list[Member]) -> Reach:
    identities = await _identities(session, [m.id for m in members if m.id is not None])
    result = Reach(total=len(members))
    for member in members:
        mine = identities.get(member.id or 0, [])
        if any(i.platform in PUSH_PLATFORMS and i.unreachable_at is None for i in mine):
            result.pushable += 1
        elif any(i.platform is Platform.WEB for i in mine):
            result.web_only += 1
        elif mine:
            result.unreachable += 1
        else:
            result.unlinked.append(member.full_name)
    return result
