"""A meeting's minutes and documents."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.audit import AuditAction
from models.documents import secrecy_marking, text_marking
from models.meetings.people import check_meeting
from models.meetings.rules import MAX_MINUTES_TEXT, MeetingError, MeetingProblem
from models.membership import NotPermitted
from models.permissions import Actor
from models.tables import (
    Meeting,
    MeetingFile,
    MeetingInvitation,
    MeetingStatus,
    Member,
)

MAX_FILE_BYTES = 20 * 1024 * 1024


PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


async def set_minutes(
    session: AsyncSession, actor: Actor, meeting: Meeting, *, text: str | None = None, conclusions: str | None = None
) -> None:
    await check_meeting(session, actor, meeting)
    if meeting.status is not MeetingStatus.CALLED:
        raise MeetingError(MeetingProblem.NOT_CALLED)
    changes: dict[str, Any] = {}
    for field, value in (("minutes_text", text), ("conclusions", conclusions)):
        if value is not None:
            value = value.strip()
            if len(value) > MAX_MINUTES_TEXT:
                raise MeetingError(MeetingProblem.TOO_LONG, str(MAX_MINUTES_TEXT))
            marking = text_marking(value)
            if marking is not None:  # classified minutes stay on paper (DESIGN.md §4)
                raise MeetingError(MeetingProblem.SECRET_TEXT, marking)
            changes[field] = value or None
    for field, value in changes.items():
        setattr(meeting, field, value)
    session.add(meeting)
    audit.record(
        session,
        AuditAction.MEETING_MINUTES,
        actor_id=actor.id,
        subject_type="meeting",
        subject_id=meeting.id,
        after={field: len(value or "") for field, value in changes.items()},
    )
    await session.flush()


async def attach(
    session: AsyncSession,
    actor: Actor,
    meeting: Meeting,
    filename: str,
    content: bytes | None = None,
    url: str | None = None,
    *,
    is_minutes: bool = False,
) -> MeetingFile:
    """Share a document (a file or a link) with the meeting's members, or attach its minutes.
    Documents marked Mật / Tối mật / Tuyệt mật are refused (DESIGN.md §4)."""
    await check_meeting(session, actor, meeting)
    if meeting.status is MeetingStatus.CANCELLED:
        raise MeetingError(MeetingProblem.NOT_CALLED)
    if content is not None and len(content) > MAX_FILE_BYTES:
        raise MeetingError(MeetingProblem.FILE_TOO_LARGE, str(MAX_FILE_BYTES // (1024 * 1024)))
    marking = secrecy_marking(filename, content or b"")
    if marking is not None:
        raise MeetingError(MeetingProblem.SECRET_DOCUMENT, marking)
    name = filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or "tep"
    file = MeetingFile(
        meeting_id=meeting.id or 0,
        filename=name,
        is_photo=content is not None and name.lower().endswith(PHOTO_SUFFIXES),
        is_minutes=is_minutes,
        content=content,
        url=url,
    )
    session.add(file)
    audit.record(
        session,
        AuditAction.MEETING_DOCUMENT,
        actor_id=actor.id,
        subject_type="meeting",
        subject_id=meeting.id,
        after={"name": name, "minutes": is_minutes, "link": url is not None},
    )
    await session.flush()
    return file


async def files_of(session: AsyncSession, meeting_id: int) -> list[MeetingFile]:
    return list(
        (
            await session.exec(
                select(MeetingFile).where(MeetingFile.meeting_id == meeting_id).order_by(col(MeetingFile.id))
            )
        ).all()
    )


async def may_see(session: AsyncSession, member: Member, meeting: Meeting) -> bool:
    """Invited to it, or managing it: who may read its agenda, documents and minutes."""
    if await session.get(MeetingInvitation, (meeting.id, member.id)) is not None:
        return True
    try:
        await check_meeting(session, member, meeting)
    except NotPermitted:
        return False
    return True
