"""A notice's receipts as the platform reports them: delivered and seen (the Zalo OA's events),
beside the member's own "I have read it" tap (``NoticeRecipient.read_at``), which stays the
stronger signal: seen on a phone is not read and understood."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import NoticeRecipient, OutboxMessage, Platform


async def record_platform_receipts(
    session: AsyncSession,
    platform: Platform,
    at: datetime,
    *,
    delivered: Collection[str] = (),
    seen: Collection[str] = (),
    delivered_rows: Collection[int] = (),
) -> int:
    """Record on the notices' recipients that the messages the platform names by ``delivered`` and
    ``seen`` (its message ids), or the outbox rows ``delivered_rows`` (a template message's tracking
    id), reached the member; the first report of each stands. Messages that are not a notice's are
    ignored. How many recipients changed."""
    wanted = {*delivered, *seen}
    if not wanted and not delivered_rows:
        return 0
    rows = (
        await session.exec(
            select(OutboxMessage.notice_id, OutboxMessage.member_id, OutboxMessage.platform_message_id)
            .where(col(OutboxMessage.notice_id).is_not(None), col(OutboxMessage.member_id).is_not(None))
            .where(
                or_(
                    (col(OutboxMessage.platform) == platform) & col(OutboxMessage.platform_message_id).in_(wanted),
                    col(OutboxMessage.id).in_(list(delivered_rows)),
                )
            )
        )
    ).all()
    changed = 0
    for notice_id, member_id, message_id in rows:
        mine = (col(NoticeRecipient.notice_id) == notice_id) & (col(NoticeRecipient.member_id) == member_id)
        if message_id in seen:
            result = await session.exec(
                update(NoticeRecipient).where(mine, col(NoticeRecipient.seen_at).is_(None)).values(seen_at=at)
            )
            changed += result.rowcount
        # Seen is delivered too, whichever event came first.
        result = await session.exec(
            update(NoticeRecipient).where(mine, col(NoticeRecipient.delivered_at).is_(None)).values(delivered_at=at)
        )
        changed += result.rowcount
    return changed
