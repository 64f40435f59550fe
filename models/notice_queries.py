"""What the notice screens read: names for an audience, the branches to pick from, the members a
typed name may mean, a secretary's recent notices."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import Branch, Member, Notice, NoticeRecipient, NoticeStatus
from models.vietnamese import name_key, text_key


async def member_names(session: AsyncSession, member_ids: Iterable[int]) -> list[str]:
    """The members' names as registers list them."""
    found = (await session.exec(select(Member.full_name).where(col(Member.id).in_(list(member_ids))))).all()
    return sorted(found, key=name_key)


async def member_names_by_id(session: AsyncSession, member_ids: Iterable[int]) -> dict[int, str]:
    rows = await session.exec(select(Member.id, Member.full_name).where(col(Member.id).in_(list(member_ids))))
    return {member_id: name for member_id, name in rows if member_id is not None}


async def branch_names(session: AsyncSession, branch_ids: Iterable[int]) -> list[str]:
    """The branches' names, sorted here rather than by the database's collation, so the order is the
    same on every database."""
    return sorted(
        (await session.exec(select(Branch.name).where(col(Branch.id).in_(list(branch_ids))))).all(), key=text_key
    )


async def all_branches(session: AsyncSession) -> list[Branch]:
    """Every branch of the commune, by name in the dictionary's order."""
    return sorted((await session.exec(select(Branch))).all(), key=lambda branch: text_key(branch.name))


async def active_members(session: AsyncSession) -> list[Member]:
    return list((await session.exec(select(Member).where(col(Member.active).is_(True)))).all())


async def recent_notices(session: AsyncSession, limit: int, branch_id: int | None = None) -> list[Notice]:
    """The latest notices sent or scheduled, newest first: all of them, or those written by members
    of ``branch_id``."""
    query = (
        select(Notice)
        .where(col(Notice.status).in_([NoticeStatus.SCHEDULED, NoticeStatus.SENT]))
        .order_by(col(Notice.id).desc())
        .limit(limit)
    )
    if branch_id is not None:
        query = query.where(col(Notice.author_member_id).in_(select(Member.id).where(Member.branch_id == branch_id)))
    return list((await session.exec(query)).all())


async def read_counts(session: AsyncSession, notices: list[Notice]) -> dict[int, tuple[int, int]]:
    """For each notice, (read, recipients), its sender counted out as the tracking screen does."""
    authors = {notice.id: notice.author_member_id for notice in notices}
    counts: dict[int, tuple[int, int]] = {notice.id or 0: (0, 0) for notice in notices}
    rows = await session.exec(
        select(NoticeRecipient.notice_id, NoticeRecipient.member_id, NoticeRecipient.read_at).where(
            col(NoticeRecipient.notice_id).in_(list(authors))
        )
    )
    for notice_id, member_id, read_at in rows:
        if member_id != authors[notice_id]:
            read, total = counts[notice_id]
            counts[notice_id] = (read + (read_at is not None), total + 1)
    return counts
