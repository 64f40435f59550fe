"""The meetings a member's button or answer names, read as its reader or as its manager: each
returns what was asked for or raises what the member is told (NotFound, NotPermitted, MeetingError)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from models.errors import NotFound
from models.meetings import check_meeting, may_see
from models.membership import NotPermitted
from models.permissions import Actor
from models.tables import Meeting, MeetingFile, MeetingInvitation, MeetingStatus, Member


async def meeting_to_read(session: AsyncSession, member: Member, meeting_id: int | None) -> Meeting:
    """A meeting the member is invited to or manages; a draft only for its author. Anyone else is
    answered as for an id that does not exist: the answer must not tell that the meeting exists."""
    meeting = None if meeting_id is None else await session.get(Meeting, meeting_id)
    if meeting is None or (meeting.status is MeetingStatus.DRAFT and meeting.author_member_id != member.id):
        raise NotFound(f"meeting {meeting_id}")
    if not await may_see(session, member, meeting):
        raise NotFound(f"meeting {meeting_id}")
    return meeting


async def meeting_to_manage(session: AsyncSession, actor: Actor, meeting_id: int | None) -> Meeting:
    """A meeting the actor manages (NotPermitted for anyone else)."""
    meeting = None if meeting_id is None else await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound(f"meeting {meeting_id}")
    await check_meeting(session, actor, meeting)
    return meeting


async def manages(session: AsyncSession, actor: Actor, meeting: Meeting) -> bool:
    """Whether the actor may manage the meeting (its card then shows the secretary's tools)."""
    try:
        await check_meeting(session, actor, meeting)
    except NotPermitted:
        return False
    return True


async def invitation_of(session: AsyncSession, meeting: Meeting, member_id: int | None) -> MeetingInvitation | None:
    return await session.get(MeetingInvitation, (meeting.id, member_id))


async def invited(session: AsyncSession, meeting: Meeting, member_id: int) -> tuple[MeetingInvitation, Member]:
    """One invitation of the meeting and its member (NotFound if that member was not invited)."""
    member = await session.get(Member, member_id)
    invitation = await invitation_of(session, meeting, member_id)
    if member is None or invitation is None:
        raise NotFound(f"invitation {meeting.id}/{member_id}")
    return invitation, member


async def document_for(session: AsyncSession, member: Member, file_id: int) -> tuple[MeetingFile, Meeting]:
    """A meeting's document and its meeting, for a member who may read the meeting."""
    file = await session.get(MeetingFile, file_id)
    meeting = None if file is None else await session.get(Meeting, file.meeting_id)
    if file is None or meeting is None or not await may_see(session, member, meeting):
        raise NotFound(f"meeting file {file_id}")
    return file, meeting
