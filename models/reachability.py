"""Who is at the other end of a chat, and whether chibo can still reach them there."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import ChannelIdentity, Member, Platform, utcnow
from models.updates import first_delivery


async def left(session: AsyncSession, platform: Platform, platform_user_id: str, update_key: str) -> bool:
    """The person left chibo's chat on ``platform`` (unfollowed the OA): the platform delivers
    nothing to them until they come back. False when this event was recorded before."""
    if not await first_delivery(session, platform, update_key):
        return False
    await session.exec(
        update(ChannelIdentity)
        .where(col(ChannelIdentity.platform) == platform)
        .where(col(ChannelIdentity.platform_user_id) == platform_user_id)
        .values(unreachable_at=utcnow())
    )
    return True


async def locales(session: AsyncSession, chats: Collection[tuple[Platform, str]]) -> dict[tuple[Platform, str], str]:
    """The language of the member in each of ``chats`` (platform, chat id) that has one set."""
    if not chats:
        return {}
    rows = await session.exec(
        select(ChannelIdentity.platform, ChannelIdentity.chat_id, Member.locale)
        .join(Member, col(ChannelIdentity.member_id) == col(Member.id))
        .where(col(ChannelIdentity.platform).in_({platform for platform, _ in chats}))
        .where(col(ChannelIdentity.chat_id).in_({chat_id for _, chat_id in chats}))
        .where(col(Member.locale).is_not(None))
    )
    found = {(Platform(platform), chat_id): locale for platform, chat_id, locale in rows if locale}
    return {chat: found[chat] for chat in chats if chat in found}
