"""What the operator lists on the server: a member's audit history, the latest notices, polls and
meetings, and how far a notice's delivery has got."""

from __future__ import annotations

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.meetings import Summary, summary
from models.tables import AuditEvent, Meeting, Notice, OutboxMessage, OutboxStatus, Poll


async def member_history(session: AsyncSession, member_id: int, limit: int) -> list[AuditEvent]:
    """What the member did and what was done to their record, newest first."""
    about = (col(AuditEvent.subject_type) == "member") & (col(AuditEvent.subject_id) == member_id)
    events = await session.exec(
        select(AuditEvent)
        .where(or_(col(AuditEvent.actor_member_id) == member_id, about))
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(limit)
    )
    return list(events.all())


async def latest_notices(session: AsyncSession, limit: int) -> list[Notice]:
    return list((await session.exec(select(Notice).order_by(col(Notice.id).desc()).limit(limit))).all())


async def delivery_progress(session: AsyncSession, notice_id: int) -> tuple[int, int]:
    """The notice's messages in the outbox, and how many of them are no longer waiting to be sent."""
    statuses = (await session.exec(select(OutboxMessage.status).where(OutboxMessage.notice_id == notice_id))).all()
    return len(statuses), sum(1 for status in statuses if status is not OutboxStatus.PENDING)


async def latest_polls(session: AsyncSession, limit: int) -> list[Poll]:
    return list((await session.exec(select(Poll).order_by(col(Poll.id).desc()).limit(limit))).all())


async def latest_meetings(session: AsyncSession, limit: int) -> list[tuple[Meeting, Summary]]:
    """The meetings starting latest first, each with who answered and, once held, who was present."""
    listed = (await session.exec(select(Meeting).order_by(col(Meeting.starts_at).desc()).limit(limit))).all()
    return [(meeting, await summary(session, meeting)) for meeting in listed]
