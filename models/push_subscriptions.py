"""The browsers that turned Web Push on: one subscription per web chat identity (one browser of a
member), found again by the web chat's chat id when a message is to be copied to it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import ChannelIdentity, Member, Platform, WebPushSubscription, utcnow


@dataclass(frozen=True)
class Subscription:
    id: int
    member_id: int
    endpoint: str
    p256dh: str
    auth: str


def _web_identity(chat_id: str) -> ColumnElement[bool]:
    return and_(col(ChannelIdentity.platform) == Platform.WEB, col(ChannelIdentity.chat_id) == chat_id)


async def subscribe(session: AsyncSession, chat_id: str, *, endpoint: str, p256dh: str, auth: str) -> bool:
    """Keep the subscription of the web chat ``chat_id`` (replacing its earlier one); False when
    the chat is not linked to an active member."""
    identity = (
        await session.exec(
            select(ChannelIdentity)
            .join(Member, col(Member.id) == ChannelIdentity.member_id)
            .where(_web_identity(chat_id), col(Member.active).is_(True))
        )
    ).first()
    if identity is None or identity.id is None:
        return False
    await session.exec(delete(WebPushSubscription).where(col(WebPushSubscription.identity_id) == identity.id))
    session.add(
        WebPushSubscription(identity_id=identity.id, endpoint=endpoint, p256dh=p256dh, auth=auth, created_at=utcnow())
    )
    return True


async def unsubscribe(session: AsyncSession, chat_id: str) -> bool:
    """Forget the web chat's subscription; False when it had none."""
    identities = select(ChannelIdentity.id).where(_web_identity(chat_id))
    result = await session.exec(
        delete(WebPushSubscription).where(col(WebPushSubscription.identity_id).in_(identities.scalar_subquery()))
    )
    return bool(result.rowcount)


async def forget(session: AsyncSession, subscription_id: int) -> None:
    """Forget a subscription its push service says is gone (404/410)."""
    await session.exec(delete(WebPushSubscription).where(col(WebPushSubscription.id) == subscription_id))


async def subscription_of(session: AsyncSession, chat_id: str) -> Subscription | None:
    """The web chat's subscription, while its member is active."""
    row = (
        await session.exec(
            select(WebPushSubscription, ChannelIdentity.member_id)
            .join(ChannelIdentity, col(ChannelIdentity.id) == WebPushSubscription.identity_id)
            .join(Member, col(Member.id) == ChannelIdentity.member_id)
            .where(_web_identity(chat_id), col(Member.active).is_(True))
        )
    ).first()
    if row is None:
        return None
    found, member_id = row
    assert found.id is not None
    return Subscription(found.id, member_id, found.endpoint, found.p256dh, found.auth)
