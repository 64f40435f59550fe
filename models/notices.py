"""Notices: sending an announcement (now or at a set time), read receipts, nudges.

Sending writes one recipient row per member and one outbox row per member per channel, in the
caller's transaction, so a notice is either wholly queued or not at all; the delivery worker
does the rest. The text a member receives is made by the caller (``body_for``), in their language.
Who a notice is for is models/audience.py (whose names, once here, are still importable from here).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.audience import PUSH_PLATFORMS as PUSH_PLATFORMS
from models.audience import Audience as Audience
from models.audience import AudienceFilter as AudienceFilter
from models.audience import Reach as Reach
from models.audience import all_branch_ids
from models.audience import check_audience as check_audience
from models.audience import push_identities as push_identities
from models.audience import reach as reach
from models.audience import recipients as recipients
from models.audit import AuditAction
from models.db import claim
from models.documents import secrecy_marking, text_marking
from models.errors import DomainError, NotFound
from models.membership import NotPermitted
from models.outbox import Outbox
from models.permissions import Actor, Permission, Target, may
from models.tables import (
    ChannelIdentity,
    Member,
    Notice,
    NoticeFile,
    NoticeRecipient,
    NoticeStatus,
    Platform,
    utcnow,
)

MAX_TEXT = 10_000

# The message for one member: (member, notice, its file or None, its sender's name or "" when it
# came from the server) -> a reply as a dict.
BodyFor = Callable[[Member, Notice, "NoticeFile | None", str], dict[str, Any]]


class NoticeProblem(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    NO_RECIPIENTS = "no_recipients"
    NOT_A_DRAFT = "not_a_draft"  # already sent or cancelled
    IN_THE_PAST = "in_the_past"
    NUDGED_RECENTLY = "nudged_recently"
    FILE_TOO_LARGE = "file_too_large"
    SECRET_DOCUMENT = "secret_document"  # marked Mật / Tối mật / Tuyệt mật
    SECRET_TEXT = "secret_text"  # the text itself carries such a mark


class NoticeError(DomainError, ValueError):
    def __init__(self, problem: NoticeProblem, detail: str = "") -> None:
        super().__init__(f"{problem.value} {detail}".strip())
        self.problem, self.detail = problem, detail


async def notice_branches(session: AsyncSession, notice: Notice) -> list[int]:
    """The branches a notice belongs to, for permission purposes: its author's branch and every
    branch its audience reaches. A draft whose branches were all unticked (or whose chosen people
    are gone) still belongs to its author's branch; one written on the server, to the commune."""
    audience = Audience.from_json(notice.audience)
    if audience.branches is None and audience.members is None:
        return await all_branch_ids(session)
    branches = set(audience.branches or ())
    if audience.members:
        branches.update(
            (await session.exec(select(Member.branch_id).where(col(Member.id).in_(audience.members)))).all()
        )
    author = None if notice.author_member_id is None else await session.get(Member, notice.author_member_id)
    if author is not None:
        branches.add(author.branch_id)
    elif notice.author_member_id is None and not branches:
        return await all_branch_ids(session)
    return sorted(branches)


async def check_notice(session: AsyncSession, actor: Actor, notice: Notice) -> None:
    """The actor may act on this notice: announce to its author's branch and to every branch it
    reaches. Checked on the notice itself, never on its current audience alone."""
    for branch_id in await notice_branches(session, notice):
        if not may(actor, Permission.ANNOUNCE, Target(branch_id)):
            raise NotPermitted(Permission.ANNOUNCE, Target(branch_id))


def _clean_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise NoticeError(NoticeProblem.EMPTY)
    if len(text) > MAX_TEXT:
        raise NoticeError(NoticeProblem.TOO_LONG, str(MAX_TEXT))
    marking = text_marking(text)
    if marking is not None:  # classified content never goes through a chat platform (DESIGN.md §4)
        raise NoticeError(NoticeProblem.SECRET_TEXT, marking)
    return text


async def create_draft(session: AsyncSession, actor: Actor, text: str, audience: Audience) -> Notice:
    await check_audience(session, actor, audience)
    notice = Notice(author_member_id=actor.id, text=_clean_text(text), audience=audience.to_json())
    session.add(notice)
    await session.flush()
    return notice


async def set_audience(session: AsyncSession, actor: Actor, notice: Notice, audience: Audience) -> None:
    await check_notice(session, actor, notice)
    if notice.status is not NoticeStatus.DRAFT:
        raise NoticeError(NoticeProblem.NOT_A_DRAFT)
    await check_audience(session, actor, audience)
    notice.audience = audience.to_json()
    session.add(notice)


def _editable(notice: Notice) -> None:
    if notice.status not in (NoticeStatus.DRAFT, NoticeStatus.SCHEDULED):
        raise NoticeError(NoticeProblem.NOT_A_DRAFT)


async def send_now(session: AsyncSession, actor: Actor, notice: Notice, body_for: BodyFor) -> int:
    """Queue the notice for every recipient at once; the number of recipients (not its sender)."""
    await check_notice(session, actor, notice)
    _editable(notice)
    # Nobody to send to is said before the notice is marked sent: the draft stays a draft.
    if not await recipients(session, Audience.from_json(notice.audience)):
        raise NoticeError(NoticeProblem.NO_RECIPIENTS)
    # The claim: of a double tap, the first one sends it.
    if not await claim(
        session,
        Notice,
        col(Notice.id) == notice.id,
        col(Notice.status).in_([NoticeStatus.DRAFT, NoticeStatus.SCHEDULED]),
        status=NoticeStatus.SENT,
        sent_at=utcnow(),
    ):
        raise NoticeError(NoticeProblem.NOT_A_DRAFT)
    await session.refresh(notice)
    count = await _dispatch(session, notice, body_for)
    audit.record(
        session,
        AuditAction.NOTICE_SENT,
        actor_id=actor.id,
        subject_type="notice",
        subject_id=notice.id,
        after={"recipients": count, "audience": notice.audience},
    )
    return count


async def _dispatch(session: AsyncSession, notice: Notice, body_for: BodyFor) -> int:
    members = await recipients(session, Audience.from_json(notice.audience))
    if not members:
        raise NoticeError(NoticeProblem.NO_RECIPIENTS)
    # Its sender has it as read and is not sent it: they wrote it, and a copy of their own notice
    # marked new on their phone is noise (they keep it in their list of notices).
    now = utcnow()
    session.add_all(
        NoticeRecipient(
            notice_id=notice.id or 0, member_id=m.id or 0, read_at=now if m.id == notice.author_member_id else None
        )
        for m in members
    )
    others = [m for m in members if m.id != notice.author_member_id]
    await _queue(session, notice, others, body_for)
    return len(others)  # its recipients, the sender counted out as everywhere else


async def _queue(session: AsyncSession, notice: Notice, members: Iterable[Member], body_for: BodyFor) -> int:
    people = list(members)
    identities = await push_identities(session, [m.id for m in people if m.id is not None])
    file = await notice_file(session, notice.id or 0)
    author = None if notice.author_member_id is None else await session.get(Member, notice.author_member_id)
    sender = "" if author is None else author.full_name
    outbox = Outbox(session)
    queued = 0
    for member in people:
        if reachable := identities.get(member.id or 0):
            body = body_for(member, notice, file, sender)
            queued += outbox.add(reachable, body, member_id=member.id, notice_id=notice.id)
    await session.flush()
    return queued


async def schedule(
    session: AsyncSession, actor: Actor, notice: Notice, at: datetime, now: datetime | None = None
) -> None:
    await check_notice(session, actor, notice)
    _editable(notice)
    if at <= (now or utcnow()):
        raise NoticeError(NoticeProblem.IN_THE_PAST)
    await _still_unsent(session, notice, status=NoticeStatus.SCHEDULED, scheduled_at=at)
    audit.record(
        session,
        AuditAction.NOTICE_SCHEDULED,
        actor_id=actor.id,
        subject_type="notice",
        subject_id=notice.id,
        after={"at": at.isoformat()},
    )


async def cancel(session: AsyncSession, actor: Actor, notice: Notice) -> None:
    await check_notice(session, actor, notice)
    _editable(notice)
    before = notice.status.value
    await _still_unsent(session, notice, status=NoticeStatus.CANCELLED)
    audit.record(
        session,
        AuditAction.NOTICE_CANCELLED,
        actor_id=actor.id,
        subject_type="notice",
        subject_id=notice.id,
        before={"status": before},
    )


async def _still_unsent(session: AsyncSession, notice: Notice, **values: Any) -> None:
    """Change a notice only while it has not gone out: if the scheduler or a "send now" got
    there first, the secretary is told instead of the notice going out twice or silently."""
    if not await claim(
        session,
        Notice,
        col(Notice.id) == notice.id,
        col(Notice.status).in_([NoticeStatus.DRAFT, NoticeStatus.SCHEDULED]),
        **values,
    ):
        raise NoticeError(NoticeProblem.NOT_A_DRAFT)
    await session.refresh(notice)


async def send_due(session: AsyncSession, body_for: BodyFor, now: datetime | None = None) -> list[int]:
    """Send every scheduled notice whose time has come. The status change is the claim, so two
    schedulers (or replicas) never send one notice twice. The ids sent."""
    now = now or utcnow()
    due = (
        await session.exec(
            select(Notice.id).where(Notice.status == NoticeStatus.SCHEDULED, col(Notice.scheduled_at) <= now)
        )
    ).all()
    sent = []
    for notice_id in due:
        if not await claim(
            session,
            Notice,
            col(Notice.id) == notice_id,
            col(Notice.status) == NoticeStatus.SCHEDULED,
            status=NoticeStatus.SENT,
            sent_at=now,
        ):
            continue
        notice = await session.get(Notice, notice_id)
        assert notice is not None
        await session.refresh(notice)
        try:
            await _dispatch(session, notice, body_for)
        except NoticeError:
            continue  # everyone in the audience left meanwhile: nothing to send
        sent.append(notice_id or 0)
    return sent


async def record_read(session: AsyncSession, notice_id: int, member_id: int) -> bool:
    """True the first time; a double tap or a retried update changes nothing. ``NotFound`` when the
    notice was not sent to the member: answered like an id that does not exist, since nothing is
    recorded and nothing is learnt about another branch's notices."""
    if await claim(
        session,
        NoticeRecipient,
        col(NoticeRecipient.notice_id) == notice_id,
        col(NoticeRecipient.member_id) == member_id,
        col(NoticeRecipient.read_at).is_(None),
        read_at=utcnow(),
    ):
        return True
    mine = select(NoticeRecipient.id).where(
        col(NoticeRecipient.notice_id) == notice_id, col(NoticeRecipient.member_id) == member_id
    )
    if (await session.exec(mine)).first() is None:
        raise NotFound(f"notice {notice_id}")
    return False


@dataclass(frozen=True)
class Nudge:
    """What a reminder did: how many messages went, and, when none could, why (those who have not
    read it have not joined chibo, read only in the web chat, or cannot be reached)."""

    queued: int
    unread: int
    not_joined: int = 0
    web_only: int = 0
    unreachable: int = 0


async def nudge(
    session: AsyncSession,
    actor: Actor,
    notice: Notice,
    body_for: BodyFor,
    interval: timedelta,
    now: datetime | None = None,
) -> Nudge:
    """Send the notice again to those who have not read it (never its sender), at most once per
    ``interval``. A reminder that would reach nobody sends nothing and does not start the wait."""
    now = now or utcnow()
    await check_notice(session, actor, notice)
    if notice.status is not NoticeStatus.SENT:
        raise NoticeError(NoticeProblem.NOT_A_DRAFT)
    unread = [
        member
        for member in (
            await session.exec(
                select(Member)
                .join(NoticeRecipient, col(NoticeRecipient.member_id) == Member.id)
                .where(NoticeRecipient.notice_id == notice.id, col(NoticeRecipient.read_at).is_(None))
                .where(col(Member.active).is_(True))
                .order_by(col(Member.id))
            )
        ).all()
        if member.id != notice.author_member_id
    ]
    reachable = await push_identities(session, [m.id for m in unread if m.id is not None])
    if not reachable:
        platforms: dict[int, set[Platform]] = defaultdict(set)
        for member_id, platform in (
            await session.exec(
                select(ChannelIdentity.member_id, ChannelIdentity.platform).where(
                    col(ChannelIdentity.member_id).in_([m.id for m in unread])
                )
            )
        ).all():
            platforms[member_id].add(Platform(platform))
        mine = [platforms.get(m.id or 0, set()) for m in unread]
        return Nudge(
            0,
            len(unread),
            not_joined=sum(1 for p in mine if not p),
            web_only=sum(1 for p in mine if Platform.WEB in p),
            unreachable=sum(1 for p in mine if p and Platform.WEB not in p),
        )
    if not await claim(
        session,
        Notice,
        col(Notice.id) == notice.id,
        (col(Notice.last_nudged_at).is_(None)) | (col(Notice.last_nudged_at) <= now - interval),
        last_nudged_at=now,
    ):
        raise NoticeError(NoticeProblem.NUDGED_RECENTLY)
    queued = await _queue(session, notice, unread, body_for)
    audit.record(
        session,
        AuditAction.NOTICE_NUDGED,
        actor_id=actor.id,
        subject_type="notice",
        subject_id=notice.id,
        after={"messages": queued},
    )
    return Nudge(queued, len(unread))


async def notices_for(session: AsyncSession, member: Member, limit: int = 10) -> list[tuple[Notice, bool]]:
    """The latest notices sent to the member, unread first: (notice, read)."""
    rows = (
        await session.exec(
            select(Notice, NoticeRecipient.read_at)
            .join(NoticeRecipient, col(NoticeRecipient.notice_id) == Notice.id)
            .where(NoticeRecipient.member_id == member.id)
            .order_by(col(Notice.sent_at).desc(), col(Notice.id).desc())
            .limit(limit)
        )
    ).all()
    listed = [(notice, read_at is not None) for notice, read_at in rows]
    return sorted(listed, key=lambda pair: pair[1])  # stable: unread first, newest first within each


# --- a notice's document or photo ---------------------------------------------------------------

MAX_FILE_BYTES = 20 * 1024 * 1024  # what the Telegram Bot API lets a bot download and send
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


async def attach(session: AsyncSession, actor: Actor, notice: Notice, filename: str, content: bytes) -> NoticeFile:
    """Attach (or replace) the notice's one document or photo."""
    await check_notice(session, actor, notice)
    _editable(notice)
    if len(content) > MAX_FILE_BYTES:
        raise NoticeError(NoticeProblem.FILE_TOO_LARGE, str(MAX_FILE_BYTES // (1024 * 1024)))
    if not content:
        raise NoticeError(NoticeProblem.EMPTY)
    marking = secrecy_marking(filename, content)
    if marking is not None:
        raise NoticeError(NoticeProblem.SECRET_DOCUMENT, marking)
    existing = (await session.exec(select(NoticeFile).where(NoticeFile.notice_id == notice.id))).first()
    file = existing or NoticeFile(notice_id=notice.id or 0, filename="", content=b"")
    file.filename = Path(filename).name[:200] or "tep"
    file.is_photo = file.filename.lower().endswith(PHOTO_SUFFIXES)
    file.content = content
    session.add(file)
    await session.flush()
    return file


async def notice_file(session: AsyncSession, notice_id: int) -> NoticeFile | None:
    return (await session.exec(select(NoticeFile).where(NoticeFile.notice_id == notice_id))).first()


async def web_member(session: AsyncSession, user_id: str) -> Member | None:
    """The active member behind a web chat session, if it has joined."""
    identity = (
        await session.exec(
            select(ChannelIdentity).where(
                ChannelIdentity.platform == Platform.WEB, ChannelIdentity.platform_user_id == user_id
            )
        )
    ).first()
    member = None if identity is None else await session.get(Member, identity.member_id)
    return member if member is not None and member.active else None


async def may_read_notice_file(session: AsyncSession, member: Member, file: NoticeFile) -> bool:
    """A recipient of the notice, or someone who may announce to its audience."""
    received = (
        await session.exec(
            select(NoticeRecipient.id).where(
                NoticeRecipient.notice_id == file.notice_id, NoticeRecipient.member_id == member.id
            )
        )
    ).first()
    if received is not None:
        return True
    notice = await session.get(Notice, file.notice_id)
    if notice is None:
        return False
    try:
        await check_notice(session, member, notice)
    except NotPermitted:
        return False
    return True
