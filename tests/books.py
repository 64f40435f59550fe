"""Helpers for the tests of the branch's books and dues: the demo commune's today, a member or a
branch read by name or code."""

from __future__ import annotations

from datetime import date

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.demo import DEMO_TIMEZONE
from models.tables import Branch, Member, utcnow


def commune_today() -> date:
    return utcnow().astimezone(DEMO_TIMEZONE).date()


async def named(session: AsyncSession, name: str) -> Member:
    return (await session.exec(select(Member).where(Member.full_name == name))).one()


async def coded(session: AsyncSession, code: str) -> Branch:
    return (await session.exec(select(Branch).where(Branch.code == code))).one()
