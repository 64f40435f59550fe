"""Finding what an operator names on the server's command line: a member by id, party card number
or full name, a branch by its code, a notice or a poll by its number."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import Branch, Member, Notice, Poll


async def members_matching(session: AsyncSession, wanted: str) -> list[tuple[Member, Branch]]:
    """Every member, active or not, whose party card number or full name (any case) is ``wanted``,
    or whose id it is; with their branch."""
    conditions: list[ColumnElement[bool]] = [
        col(Member.card_number) == wanted,
        func.lower(Member.full_name) == wanted.lower(),
    ]
    if wanted.isdigit():
        conditions.append(col(Member.id) == int(wanted))
    query = select(Member, Branch).join(Branch, col(Branch.id) == Member.branch_id).where(or_(*conditions))
    return [(member, branch) for member, branch in (await session.exec(query)).all()]


async def branch_by_code(session: AsyncSession, code: str) -> Branch | None:
    return (await session.exec(select(Branch).where(Branch.code == code))).first()


async def notice_by_id(session: AsyncSession, notice_id: int) -> Notice | None:
    return await session.get(Notice, notice_id)


async def poll_by_id(session: AsyncSession, poll_id: int) -> Poll | None:
    return await session.get(Poll, poll_id)
