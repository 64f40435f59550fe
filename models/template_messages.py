"""What a template message (the Zalo OA's ZNS) says in place of a pushed chat message, and how many
were sent: each one is paid for, so the secretary sees the count per month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.outbox import TemplateKind
from models.tables import Meeting, Member, Notice, OutboxMessage, Poll, utcnow


@dataclass(frozen=True)
class TemplateFacts:
    """The member a template message goes to (by phone number) and what it is about."""

    member_name: str
    phone: str | None  # +84…, as the register keeps it
    title: str  # the notice's first line, the meeting's title, the vote's question
    at: datetime | None  # when the notice was sent, the meeting starts, the vote closes


async def template_facts(
    session: AsyncSession, kind: TemplateKind, subject_id: int, member_id: int
) -> TemplateFacts | None:
    """The facts for a template message, or None when the member or the subject is gone."""
    member = await session.get(Member, member_id)
    if member is None or not member.active:
        return None
    title: str
    at: datetime | None
    if kind is TemplateKind.NOTICE:
        notice = await session.get(Notice, subject_id)
        if notice is None:
            return None
        title, at = notice.text.strip().splitlines()[0], notice.sent_at
    elif kind is TemplateKind.VOTE_OPENED:
        poll = await session.get(Poll, subject_id)
        if poll is None:
            return None
        title, at = poll.question, poll.deadline
    else:
        meeting = await session.get(Meeting, subject_id)
        if meeting is None:
            return None
        title, at = meeting.title, meeting.starts_at
    return TemplateFacts(member.full_name, member.phone, title, at)


async def templates_this_month(session: AsyncSession, timezone: tzinfo, now: datetime | None = None) -> int:
    """Template messages sent since the first of this month, in the commune's time zone: each is paid for."""
    local = (now or utcnow()).astimezone(timezone)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (
        await session.exec(
            select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.template_sent_at) >= start)
        )
    ).one()
