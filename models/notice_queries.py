"""What the notice screens read: names for an audience, the branches to pick from, the members a
typed name may mean, a secretary's recent notices."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import Branch, Member, Notice, NoticeStatus


async def member_names(session: AsyncSession, member_ids: Iterable[int]) -> list[str]:
    return list((await session.exec(select(Member.full_name).where(col(Member.id).in_(list(member_ids))))).all())


async def branch_names(session: AsyncSession, branch_ids: Iterable[int]) -> list[str]:
    """The branches' names, sorted here rather than by the database's collation, so the order is the
    same on every database."""
    return sorted((await session.exec(select(Branch.name).where(col(Branch.id).in_(list(branch_ids))))).all())


async def all_branches(session: AsyncSession) -> list[Branch]:
    """Every branch of the commune, by name."""
    return list((await session.exec(select(Branch).order_by(col(Branch.name)))).all())


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
