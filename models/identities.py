"""Channel accounts linked to members: the one place a link is made and audited."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.audit import AuditAction
from models.tables import ChannelIdentity, Member, Platform, utcnow


async def link_identity(
    session: AsyncSession,
    member: Member,
    identity: ChannelIdentity | None,
    *,
    platform: Platform,
    user_id: str,
    chat_id: str,
    display_name: str,
    via: str,
) -> ChannelIdentity:
    """Link the account writing from ``platform``/``user_id`` to ``member`` (by invite code or phone,
    ``via``), and audit it. An account once linked to another member (no longer active, or a phone
    shared in the family) is re-linked, not duplicated; the audit keeps whom it was linked to."""
    identity = identity or ChannelIdentity(platform=platform, platform_user_id=user_id, chat_id=chat_id, member_id=0)
    before = None if identity.id is None else {"member_id": identity.member_id}
    identity.member_id = member.id  # type: ignore[assignment]
    identity.chat_id = chat_id
    identity.display_name = display_name[:200] or None
    identity.linked_at = utcnow()
    identity.unreachable_at = None
    session.add(identity)
    await session.flush()
    audit.record(
        session,
        AuditAction.MEMBER_LINKED,
        actor_id=member.id,
        subject_type="member",
        subject_id=member.id,
        before=before,
        after={"platform": platform.value, "via": via, "identity_id": identity.id},
    )
    return identity
