"""Votes cast on paper or by show of hands, entered by the secretary: in an open vote each member's
ballot by name; in a secret one only that the member voted, and later the paper box's counts."""

from __future__ import annotations

from handlers.context import Context
from handlers.contract import Button, Reply
from handlers.polls.actions import PaperVote, PaperVoter, TrackPoll
from handlers.polls.common import NAMES_SHOWN, cancel_button, managed_poll, option_labels, router
from handlers.questions import Ask, Awaiting, Question
from models.errors import NotFound
from models.polls import (
    PollError,
    PollProblem,
    VoteProblem,
    count_paper_box,
    non_voters,
    record_paper_voter,
    vote,
)
from models.roster import fold
from models.tables import Member, PollKind


def _track_button(ctx: Context, poll_id: int) -> tuple[Button, ...]:
    return (Button("📊 " + ctx.gettext("Track"), TrackPoll(poll_id).pack()),)


def _already_voted(ctx: Context, member: Member) -> list[Reply]:
    return [Reply(ctx.gettext("{name} has already voted; nothing was changed.").format(name=member.full_name))]


@router.prompts(Question.PAPER_VOTERS)
async def _ask_voter(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    await managed_poll(ctx, actor, awaiting.subject)
    ctx.ask(awaiting)
    text = ctx.gettext("A vote cast on paper or by show of hands: type part of the member's name.")
    return [Reply(text, buttons=(cancel_button(ctx),))]


@router.answers(Question.PAPER_VOTERS)
async def paper_voters(ctx: Context, actor: Member, awaiting: Awaiting, typed: str) -> list[Reply]:
    """Eligible members who have not voted and whose name contains what the secretary typed."""
    _ = ctx.gettext
    poll = await managed_poll(ctx, actor, awaiting.subject)
    needle = fold(typed)
    found = [m for m in await non_voters(ctx.session, poll) if needle and needle in fold(m.full_name)][:NAMES_SHOWN]
    if not found:
        ctx.ask(awaiting)
        return [
            Reply(_("Nobody who has not voted yet has a name containing \u201c{text}\u201d.").format(text=typed[:40]))
        ]
    buttons = tuple((Button(m.full_name, PaperVoter(poll.id or 0, m.id or 0).pack()),) for m in found)
    return [Reply(_("Whose vote is it?"), buttons=buttons)]


@router.on(PaperVoter)
async def paper_ballot(ctx: Context, actor: Member, action: PaperVoter) -> list[Reply]:
    _ = ctx.gettext
    poll = await managed_poll(ctx, actor, action.poll_id)
    member = await ctx.session.get(Member, action.member_id)
    if member is None:
        raise NotFound(action.member_id)
    if poll.secret:
        # A secret paper ballot goes into the paper box; only the roll learns that the member voted.
        try:
            await record_paper_voter(ctx.session, action.poll_id, member, actor)
        except PollError as error:
            if error.problem is VoteProblem.ALREADY_VOTED:
                return _already_voted(ctx, member)
            raise
        text = _(
            "Recorded: {name} voted on paper. Their ballot stays in the paper box; enter the box's counts "
            "once it is opened."
        ).format(name=member.full_name)
        paper_box = Ask(Question.PAPER_BOX, action.poll_id).pack()
        return [
            Reply(
                text,
                buttons=(
                    (Button("🗳 " + _("Enter the paper box counts"), paper_box),),
                    _track_button(ctx, action.poll_id),
                ),
            )
        ]
    buttons = tuple(
        (Button(label, PaperVote(action.poll_id, action.member_id, 1 << i).pack()),)
        for i, label in enumerate(option_labels(ctx.translator, poll))
    )
    if poll.kind is PollKind.ELECTION:
        buttons += ((Button("⬜ " + _("Blank ballot"), PaperVote(action.poll_id, action.member_id, 0).pack()),),)
    return [Reply(_("The paper vote of {name}:").format(name=member.full_name), buttons=buttons)]


@router.on(PaperVote)
async def paper_vote(ctx: Context, actor: Member, action: PaperVote) -> list[Reply]:
    """Record a vote the member cast on paper; audited as entered by the secretary, counted once."""
    await managed_poll(ctx, actor, action.poll_id)
    member = await ctx.session.get(Member, action.member_id)
    if member is None:
        raise NotFound(action.member_id)
    try:
        await vote(ctx.session, action.poll_id, member, action.mask, entered_by=actor)
    except PollError as error:
        if error.problem is VoteProblem.ALREADY_VOTED:
            return _already_voted(ctx, member)
        raise
    text = ctx.gettext("The paper vote of {name} was recorded.").format(name=member.full_name)
    return [Reply(text, buttons=(_track_button(ctx, action.poll_id),))]


@router.prompts(Question.PAPER_BOX)
async def _ask_box(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    poll = await managed_poll(ctx, actor, awaiting.subject)
    ctx.ask(awaiting)
    text = (
        ctx.gettext(
            "The counts from the paper box, once it is opened: type the number of ballots for each option, "
            "in this order, separated by commas:"
        )
        + "\n"
        + "\n".join(f"{i}. {label}" for i, label in enumerate(option_labels(ctx.translator, poll), start=1))
    )
    return [Reply(text, buttons=(cancel_button(ctx),))]


@router.answers(Question.PAPER_BOX)
async def paper_box(ctx: Context, actor: Member, awaiting: Awaiting, typed: str) -> list[Reply]:
    """A secret poll: the counts the secretary typed from the opened paper box, e.g. "3, 1, 0"."""
    poll = await managed_poll(ctx, actor, awaiting.subject)
    words = typed.replace(",", " ").replace(";", " ").split()
    try:
        if not all(word.isascii() and word.isdigit() for word in words):
            raise PollError(PollProblem.PAPER_COUNTS)
        counted = await count_paper_box(ctx.session, poll.id or 0, [int(word) for word in words], actor)
    except PollError as error:
        if error.problem is PollProblem.PAPER_COUNTS:  # asked again: the counts typed anew
            ctx.ask(awaiting)
        raise
    # The reply is stored (outbox): it gives the number of ballots, not the counts per option.
    text = ctx.gettext(
        "{count} paper ballot(s) from the box were recorded, sealed; they are counted at the close."
    ).format(count=counted)
    return [Reply(text, buttons=(_track_button(ctx, poll.id or 0),))]
