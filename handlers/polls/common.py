"""What the parts of the polls feature share: its router, the words for a poll's settings and its
problems, and the poll a secretary's button or question names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.context import Context, moment_words
from handlers.contract import Button, Reply, Translator
from handlers.members import Cancel
from handlers.router import Router
from models.errors import NotFound
from models.polls import RESOLUTION_OPTIONS, PollError, PollProblem, VoteProblem, check_poll
from models.tables import Member, Poll, PollBase, PollKind, PollRule, PollVoters

router = Router("polls")
NAMES_SHOWN = 30


def rule_name(t: Translator, poll: Poll) -> str:
    """The rule in words. Its fraction is of the base (cơ sở tính: those entitled to vote, less those
    DESIGN.md §4 leaves out), which the result gives as a number of its own; so the rule never says
    "those entitled to vote" (người có quyền biểu quyết), the words of the turnout's other number."""
    _ = t.gettext
    if poll.kind is PollKind.CONSULTATION:
        return _("none: a consultation reports the counts and decides nothing")
    if poll.rule is PollRule.CUSTOM and poll.rule_base is PollBase.VOTED:
        custom = _("more than {numerator}/{denominator} of the votes cast")
    else:
        custom = _("more than {numerator}/{denominator} of the base")
    return {
        PollRule.MAJORITY_OF_ELIGIBLE: _("more than half of the base"),
        PollRule.TWO_THIRDS_OF_ELIGIBLE: _("at least two thirds of the base"),
        PollRule.MOST_VOTES: _("most votes"),
        PollRule.CUSTOM: custom,
    }[poll.rule].format(numerator=poll.rule_numerator, denominator=poll.rule_denominator)


def option_labels(t: Translator, poll: Poll) -> tuple[str, ...]:
    """The options as this reader sees them: a motion's three fixed answers are stored in Vietnamese
    (the record of the vote) and shown in the reader's language; typed options as they were typed."""
    _ = t.gettext
    if poll.kind is PollKind.MOTION and tuple(poll.options) == RESOLUTION_OPTIONS:
        return (_("In favour"), _("Not in favour"), _("Another opinion"))
    return tuple(poll.options)


def kind_name(t: Translator, kind: PollKind) -> str:
    _ = t.gettext
    return {
        PollKind.MOTION: _("a motion (in favour / not in favour / another opinion)"),
        PollKind.CHOICE: _("a choice among options"),
        PollKind.ELECTION: _("an election"),
        PollKind.CONSULTATION: _("a consultation (counts only, nothing is adopted)"),
    }[kind]


def where(t: Translator, poll: Poll) -> str:
    """Where the vote is taken: at a meeting, or in chat between meetings (DESIGN.md §4: formal
    decisions of the branch are taken at its meeting)."""
    _ = t.gettext
    if poll.meeting_id is not None:
        return _("Taken at the branch's meeting.")
    return _(
        "A vote in chat between meetings gathers the members' opinions; the branch's formal decisions "
        "are taken at its meeting."
    )


def voters_name(t: Translator, voters: PollVoters) -> str:
    _ = t.gettext
    return {
        PollVoters.OFFICIALS: _("official members"),
        PollVoters.ALL: _("all members, probationary too"),
        PollVoters.COMMITTEE: _("the branch committee"),
    }[voters]


def problem_text(t: Translator, error: PollError, poll: Poll | None = None) -> str:
    """The problem in words; ``poll``, where known, lets an election's say "candidates" where a
    choice's say "options"."""
    _ = t.gettext
    if error.problem is VoteProblem.TOO_MANY and poll is not None and poll.kind is PollKind.ELECTION:
        return _(
            "You ticked more than {detail} candidate(s), more than there are seats to fill: nothing was "
            "recorded. Untick some, then send the ballot again."
        ).format(detail=error.detail)
    return {
        PollProblem.EMPTY_QUESTION: _("The question is empty. Please type it."),
        PollProblem.TOO_FEW_OPTIONS: _("A poll needs at least 2 options, one per line."),
        PollProblem.NO_CANDIDATES: _(
            "Type the candidates (or the options) first: an election or a choice is not between "
            "Tán thành and Không tán thành."
        ),
        PollProblem.TOO_MANY_OPTIONS: _("A poll can have at most {detail} options."),
        PollProblem.OPTION_TOO_LONG: _("The option \u201c{detail}…\u201d is too long."),
        PollProblem.NO_DEADLINE: _("Please set a deadline."),
        PollProblem.DEADLINE_PASSED: _("That deadline has already passed. Please type a later time."),
        PollProblem.NO_VOTERS: _("Nobody may vote in this poll. Choose other voters."),
        PollProblem.NOT_A_DRAFT: _("This poll has already been published or cancelled."),
        PollProblem.NOT_OPEN: _("This poll is not open."),
        PollProblem.NUDGED_RECENTLY: _("Those who have not voted were reminded recently. Please try again later."),
        PollProblem.NOT_SECRET: _("This is an open vote: enter each paper vote with the member's name."),
        PollProblem.PAPER_COUNTS: _(
            "Please type one number per option, in order, e.g. 3, 1, 0. Together with the counts entered "
            "before, they may not be more than the members recorded as having voted on paper."
        ),
        PollProblem.EMPTY_OPINION: _("Please type your opinion in one message."),
        PollProblem.EVERYONE_VOTED: _("Everyone who may vote has voted: there is nobody to remind. Nothing was sent."),
        PollProblem.NOBODY_REACHABLE: _(
            "Nothing was sent: none of the {detail} comrade(s) who have not voted can be reached by chibo (they "
            "have not joined it yet, or chibo cannot message them). Please call them, or enter their votes on "
            "paper."
        ),
        VoteProblem.CLOSED: _("This poll has ended; your tap was not counted."),
        VoteProblem.NOT_ELIGIBLE: _(
            "You are not among those who vote in this poll (for example, probationary members do not vote "
            "on resolutions). Nothing was recorded."
        ),
        VoteProblem.ALREADY_VOTED: _("You have already voted in this poll; your ballot stays as it was."),
        VoteProblem.BAD_CHOICE: _("This button is no longer valid. Please use the menu below."),
        VoteProblem.TOO_MANY: _(
            "You ticked more than {detail} option(s), more than this poll allows: nothing was recorded. Untick "
            "some, then send the ballot again."
        ),
        VoteProblem.MEETING_NOT_STARTED: _(
            "This vote is taken at the branch's meeting: it can be cast once the meeting has begun. Nothing "
            "was recorded."
        ),
        VoteProblem.MEETING_OVER: _("The meeting this vote was taken at is over; your tap was not counted."),
        VoteProblem.NOT_PRESENT: _(
            "Only comrades recorded as present at the meeting may vote: please check in at the meeting (or ask "
            "the secretary to mark you present), then vote. Nothing was recorded."
        ),
    }[error.problem].format(detail=error.detail)


def moment(t: Translator, when: datetime | None, timezone: Any) -> str:
    return "—" if when is None else moment_words(t, when, timezone)


def cancel_button(ctx: Context) -> tuple[Button, ...]:
    return (Button("✖️ " + ctx.gettext("Cancel"), Cancel().pack()),)


async def managed_poll(ctx: Context, actor: Member, poll_id: int | None) -> Poll:
    """The poll a secretary's button or question names, which ``actor`` may manage; raises
    ``NotFound`` (gone) or ``NotPermitted`` (not theirs)."""
    poll = None if poll_id is None else await ctx.session.get(Poll, poll_id)
    if poll is None:
        raise NotFound(poll_id)
    await check_poll(ctx.session, actor, poll)
    return poll


@router.renders(PollError)
def _poll_error(ctx: Context, member: Member, error: PollError) -> list[Reply]:
    return [Reply(problem_text(ctx.translator, error))]
