"""What became of a sent notice, per recipient: read, delivered (and where), still being sent,
failed (and why), or not joined chibo (and their phone, to call them). The screen, its CSV and the
reminder all read this one account, so they cannot disagree.

The sender is counted out: they wrote it, and a copy in their own chat is not news to anyone.
Counting is generic over channels: an outbox row is one delivery on its platform (a web chat
delivery too, once the web chat sends through the outbox); a member joined on the web chat with no
row there will see the notice in the web chat's notice list.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audience import PUSH_PLATFORMS
from models.tables import (
    Branch,
    ChannelIdentity,
    Member,
    Notice,
    NoticeRecipient,
    OutboxMessage,
    OutboxStatus,
    Platform,
)
from models.vietnamese import name_key, text_key

_CHUNK = 500  # members per IN (...) list, as models/audience.py


class Delivery(StrEnum):
    """One recipient's state, the first that holds in this order."""

    READ = "read"  # they tapped "I have read it", whatever the channel
    DELIVERED = "delivered"  # a platform took it for their chat, or it waits in their web chat
    SENDING = "sending"  # queued or being retried
    FAILED = "failed"  # every channel refused it, or they blocked / left chibo there
    NOT_JOINED = "not_joined"  # on no channel: phone them


@dataclass(frozen=True)
class RecipientState:
    member_id: int
    name: str
    branch: str
    phone: str
    state: Delivery
    channels: tuple[Platform, ...]  # where it was delivered (DELIVERED) or refused (FAILED)
    reason: str  # FAILED: the platform's last word ("" when nothing was tried)
    read_at: datetime | None
    blocked: bool = False  # FAILED: they blocked or left chibo on those chats (marked unreachable)
    seen_at: datetime | None = None  # the platform reported it seen (the Zalo OA), read or not
    # The platform reported it delivered (the Zalo OA's event), else when a platform first took it.
    delivered_at: datetime | None = None

    @property
    def must_phone(self) -> bool:
        """chibo cannot bring it to them: not joined, or every chat refused it. Someone calls them."""
        return self.state in (Delivery.FAILED, Delivery.NOT_JOINED)


@dataclass
class NoticeTracking:
    """Every recipient but the sender, by branch then by name as registers list them."""

    recipients: list[RecipientState] = field(default_factory=list)
    by_template: int = 0  # messages that went as paid template messages (ZNS), the chat window closed

    def count(self, state: Delivery) -> int:
        return sum(1 for r in self.recipients if r.state is state)

    def channels(self, state: Delivery) -> Counter[Platform]:
        """How many of the recipients in ``state`` are on each channel."""
        return Counter(channel for r in self.recipients if r.state is state for channel in r.channels)

    def with_state(self, *states: Delivery) -> list[RecipientState]:
        return [r for r in self.recipients if r.state in states]

    def seen_unread(self) -> list[str]:
        """Those the platform reports have seen it, who have not tapped "I have read it"."""
        return [r.name for r in self.recipients if r.state is not Delivery.READ and r.seen_at is not None]

    def branches(self) -> dict[str, Counter[Delivery]]:
        found: dict[str, Counter[Delivery]] = {}
        for r in self.recipients:
            found.setdefault(r.branch, Counter())[r.state] += 1
        return found


def _state(
    read_at: datetime | None, rows: list[OutboxMessage], identities: list[ChannelIdentity]
) -> tuple[Delivery, tuple[Platform, ...], str, bool]:
    latest: dict[Platform, OutboxMessage] = {}
    for row in rows:  # a reminder adds rows: the latest per channel tells the state
        latest[row.platform] = row
    delivered = [p for p, row in latest.items() if row.status is OutboxStatus.SENT]
    if not any(p is Platform.WEB for p in latest) and any(i.platform is Platform.WEB for i in identities):
        delivered.append(Platform.WEB)  # in their web chat's notice list
    if read_at is not None:  # read, and where it had reached them
        return Delivery.READ, tuple(delivered), "", False
    if delivered:
        return Delivery.DELIVERED, tuple(delivered), "", False
    if any(row.status is OutboxStatus.PENDING for row in latest.values()):
        return Delivery.SENDING, tuple(latest), "", False
    blocked = all(i.unreachable_at is not None for i in identities if i.platform in PUSH_PLATFORMS)
    if latest:
        failed = [row for row in latest.values() if row.status is OutboxStatus.FAILED]
        reason = "; ".join(r.last_error or "" for r in failed)
        return Delivery.FAILED, tuple(r.platform for r in failed), reason, blocked
    if identities:  # joined, but every chat was marked unreachable before it was sent
        return Delivery.FAILED, tuple(i.platform for i in identities if i.platform in PUSH_PLATFORMS), "", True
    return Delivery.NOT_JOINED, (), "", False


def _first_sent(rows: list[OutboxMessage]) -> datetime | None:
    return min((r.sent_at for r in rows if r.status is OutboxStatus.SENT and r.sent_at is not None), default=None)


async def notice_tracking(session: AsyncSession, notice: Notice) -> NoticeTracking:
    rows = (
        await session.exec(
            select(NoticeRecipient, Member, Branch)
            .join(Member, col(Member.id) == NoticeRecipient.member_id)
            .join(Branch, col(Branch.id) == Member.branch_id)
            .where(NoticeRecipient.notice_id == notice.id)
        )
    ).all()
    deliveries: dict[int, list[OutboxMessage]] = defaultdict(list)
    for row in (
        await session.exec(
            select(OutboxMessage).where(OutboxMessage.notice_id == notice.id).order_by(col(OutboxMessage.id))
        )
    ).all():
        deliveries[row.member_id or 0].append(row)
    member_ids = [member.id for _r, member, _b in rows]
    identities: dict[int, list[ChannelIdentity]] = defaultdict(list)
    for start in range(0, len(member_ids), _CHUNK):  # a commune-wide notice: IN lists kept short
        chunk = member_ids[start : start + _CHUNK]
        for identity in (
            await session.exec(select(ChannelIdentity).where(col(ChannelIdentity.member_id).in_(chunk)))
        ).all():
            identities[identity.member_id].append(identity)
    report = NoticeTracking(by_template=sum(r.template_sent_at is not None for rs in deliveries.values() for r in rs))
    for recipient, member, branch in rows:
        if member.id == notice.author_member_id:
            continue
        state, channels, reason, blocked = _state(
            recipient.read_at, deliveries[member.id or 0], identities[member.id or 0]
        )
        report.recipients.append(
            RecipientState(
                member.id or 0, member.full_name, branch.name, member.phone or "", state, channels, reason,
                recipient.read_at, blocked, recipient.seen_at,
                recipient.delivered_at or _first_sent(deliveries[member.id or 0]),
            )
        )  # fmt: skip
    report.recipients.sort(key=lambda r: (text_key(r.branch), name_key(r.name)))
    return report
