"""The meetings router, and the look-ups every meeting screen starts with: the meeting a button
names, as its reader or as its manager (raising what the member is then told)."""

from __future__ import annotations

from handlers.context import Context
from handlers.contract import Button, Reply, Rows, Translator
from handlers.meetings.texts import problem_text
from handlers.members import Cancel
from handlers.router import Router
from models.errors import NotFound
from models.meetings import MeetingError, MeetingProblem, check_meeting, may_see
from models.membership import NotPermitted, check
from models.permissions import Permission, Target
from models.tables import Meeting, MeetingStatus, Member

router = Router("meetings")


@router.renders(MeetingError)
def _meeting_error(ctx: Context, member: Member, error: MeetingError) -> list[Reply]:
    return [Reply(problem_text(ctx.translator, error))]


def cancel_row(t: Translator) -> tuple[Button, ...]:
    return (Button("✖️ " + t.gettext("Cancel"), Cancel().pack()),)


def question(ctx: Context, text: str, upload: str | None = None) -> Reply:
    """A question put to the member, with the button that drops it."""
    buttons: Rows = (cancel_row(ctx.translator),)
    return Reply(text, buttons=buttons, upload_label=upload)


def may_manage_meetings(actor: Member) -> None:
    """Raise NotPermitted unless the actor manages the meetings of their own branch."""
    check(actor, Permission.MANAGE_MEETINGS, Target(actor.branch_id))


async def visible(ctx: Context, member: Member, meeting_id: int | None) -> Meeting:
    """The meeting as its reader sees it: invited to it, or managing it; a draft only its author."""
    meeting = None if meeting_id is None else await ctx.session.get(Meeting, meeting_id)
    if meeting is None or (meeting.status is MeetingStatus.DRAFT and meeting.author_member_id != member.id):
        raise NotFound(f"meeting {meeting_id}")
    if not await may_see(ctx.session, member, meeting):
        raise MeetingError(MeetingProblem.NOT_INVITED)
    return meeting


async def managed(ctx: Context, actor: Member, meeting_id: int | None) -> Meeting:
    """The meeting as its manager sees it (NotPermitted for anyone else)."""
    meeting = None if meeting_id is None else await ctx.session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound(f"meeting {meeting_id}")
    await check_meeting(ctx.session, actor, meeting)
    return meeting


async def manages(ctx: Context, member: Member, meeting: Meeting) -> bool:
    try:
        await check_meeting(ctx.session, member, meeting)
    except NotPermitted:
        return False
    return True
