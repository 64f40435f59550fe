"""The meetings router, the renderer of MeetingError, and what every meeting question carries."""

from __future__ import annotations

import re

from handlers.context import Context
from handlers.contract import Button, Reply, Rows, Translator
from handlers.meetings.texts import problem_text
from handlers.members import Cancel
from handlers.questions import Awaiting
from handlers.router import Router
from models.meetings import MeetingError
from models.membership import check
from models.permissions import Permission, Target
from models.tables import Member

router = Router("meetings")
# A meeting's map or video link, or a document's.
URL = re.compile(r"^https?://\S{3,490}$")


@router.renders(MeetingError)
def _meeting_error(ctx: Context, member: Member, error: MeetingError) -> list[Reply]:
    return [Reply(problem_text(ctx.translator, error))]


def cancel_row(t: Translator) -> tuple[Button, ...]:
    return (Button("✖️ " + t.gettext("Cancel"), Cancel().pack()),)


def question(ctx: Context, text: str, upload: str | None = None) -> Reply:
    """A question put to the member, with the button that drops it."""
    buttons: Rows = (cancel_row(ctx.translator),)
    return Reply(text, buttons=buttons, upload_label=upload)


def ask_again(ctx: Context, awaiting: Awaiting, text: str) -> list[Reply]:
    """A typed answer that cannot be taken: why, and the question stays open."""
    ctx.ask(awaiting)
    return [Reply(text)]


def may_manage_meetings(actor: Member) -> None:
    """Raise NotPermitted unless the actor manages the meetings of their own branch."""
    check(actor, Permission.MANAGE_MEETINGS, Target(actor.branch_id))
