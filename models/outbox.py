"""The outbox: what to send, written in the transaction that decided it and sent by the delivery
worker once it commits (DESIGN.md §2), so a crash between the two loses nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import ChannelIdentity, OutboxMessage


@dataclass(frozen=True)
class Outbox:
    """The outbox of one transaction: the only place the domain builds its rows."""

    session: AsyncSession

    def add(
        self,
        identities: Iterable[ChannelIdentity],
        body: dict[str, Any],
        *,
        member_id: int | None,
        notice_id: int | None = None,
    ) -> int:
        """One message ``body`` to each of these chats (a member's Telegram and Zalo); how many."""
        rows = [
            OutboxMessage(
                platform=identity.platform,
                chat_id=identity.chat_id,
                body=body,
                member_id=member_id,
                notice_id=notice_id,
            )
            for identity in identities
        ]
        self.session.add_all(rows)
        return len(rows)
