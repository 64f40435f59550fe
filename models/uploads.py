"""A cap on the files one member sends chibo to read in a day (notice and meeting attachments,
register imports, files in the web chat): each is parsed or stored, so a member cannot make the
server do so without end."""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import UploadCount, utcnow


async def take_upload(
    session: AsyncSession, member_id: int, limit: int, tz: tzinfo, now: datetime | None = None
) -> bool:
    """Count one more file for ``member_id`` today (the commune's day); False, counting nothing,
    when ``limit`` files were already taken today."""
    day = (now or utcnow()).astimezone(tz).date()
    counted = await session.exec(
        update(UploadCount)
        .where(col(UploadCount.member_id) == member_id, col(UploadCount.day) == day, col(UploadCount.count) < limit)
        .values(count=col(UploadCount.count) + 1)
    )
    if counted.rowcount:
        return True
    if (
        await session.exec(select(UploadCount.id).where(UploadCount.member_id == member_id, UploadCount.day == day))
    ).first():
        return False
    if limit < 1:
        return False
    session.add(UploadCount(member_id=member_id, day=day, count=1))
    await session.flush()
    return True
