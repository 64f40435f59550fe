"""What every notice screen shares: the router, the notice a button is about, the problems told."""

from __future__ import annotations

from datetime import datetime

from handlers.context import Context, moment_words
from handlers.contract import Button, Reply, Translator
from handlers.members import Cancel
from handlers.router import Router
from models.errors import NotFound
from models.notices import NoticeError, NoticeProblem, check_notice
from models.tables import Member, Notice

router = Router("notices")

LISTED = 10


async def notice_for(ctx: Context, actor: Member, notice_id: int) -> Notice:
    """The notice a secretary's button is about, if they may act on it (its author's branch and
    every branch it reaches); else ``NotFound`` or ``NotPermitted``."""
    notice = await ctx.session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"notice {notice_id}")
    await check_notice(ctx.session, actor, notice)
    return notice


def in_words(ctx: Context, moment: datetime) -> str:
    return moment_words(ctx.translator, moment, ctx.timezone)


def cancel_row(ctx: Context) -> tuple[tuple[Button, ...], ...]:
    """The button that drops the question being asked."""
    return ((Button("✖️ " + ctx.gettext("Cancel"), Cancel().pack()),),)


def problem_text(ctx: Context, error: NoticeError) -> str:
    return notice_problem_text(ctx.translator, error)


def notice_problem_text(t: Translator, error: NoticeError) -> str:
    """A refused notice in the secretary's words (the chat and the desk say it alike)."""
    _ = t.gettext
    return {
        NoticeProblem.EMPTY: _("The notice is empty. Please type its text."),
        NoticeProblem.TOO_LONG: _("The notice is too long: at most {detail} characters."),
        NoticeProblem.NO_RECIPIENTS: _("Nobody is in this audience. Choose another."),
        NoticeProblem.NOT_A_DRAFT: _("This notice has already been sent or cancelled."),
        NoticeProblem.IN_THE_PAST: _("That time has already passed. Please type a later time."),
        NoticeProblem.NUDGED_RECENTLY: _("Those who have not read it were reminded recently. Please try again later."),
        NoticeProblem.FILE_TOO_LARGE: _("The file is too large: at most {detail} MB."),
        NoticeProblem.SECRET_DOCUMENT: _(
            "This document is marked \u201c{detail}\u201d. Classified documents never go through a chat "
            "platform; please hand it over in person. Nothing was attached."
        ),
        NoticeProblem.SECRET_TEXT: _(
            "This text carries the classification mark \u201c{detail}\u201d. Classified content never goes through a "
            "chat platform; please keep it on paper. Nothing was saved."
        ),
    }[error.problem].format(detail=error.detail)


@router.renders(NoticeError)
def _problem(ctx: Context, member: Member, error: NoticeError) -> list[Reply]:
    return [Reply(problem_text(ctx, error))]
