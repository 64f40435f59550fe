"""Refusals worth knowing about that no member made: a stranger pressing a secretary's button.

A flood from one account must not flood the audit log, so each stranger identity is written down
at most once per ``STRANGER_AUDIT_INTERVAL``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import AuditEvent, Platform, utcnow

STRANGER_AUDIT_INTERVAL = timedelta(minutes=1)
STRANGER_REFUSED = "stranger.refused"


async def audit_stranger(
    session: AsyncSession, platform: Platform, user_id: str, action: str, now: datetime | None = None
) -> bool:
    """Record that someone chibo does not know tried ``action``; False when this identity was
    already recorded within the interval (nothing written)."""
    now = now or utcnow()
    who = f"{platform.value}:{user_id}"
    recent = (
        await session.exec(
            select(AuditEvent.after)
            .where(AuditEvent.action == STRANGER_REFUSED)
            .where(col(AuditEvent.at) > now - STRANGER_AUDIT_INTERVAL)
        )
    ).all()
    if any(isinstance(after, dict) and after.get("who") == who for after in recent):
        return False
    session.add(
        AuditEvent(
            at=now,
            actor_member_id=None,
            action=STRANGER_REFUSED,
            subject_type="identity",
            after={"who": who[:200], "action": action[:64]},
        )
    )
    return True
