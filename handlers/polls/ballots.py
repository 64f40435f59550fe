"""Members voting: the ballot (one tap, several ticked and sent, or a secret one filled in step by
step), the confirmation, and the list of votes open to the member."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.actions import ActionData, InvalidPayload, decode
from handlers.context import Context
from handlers.contract import Button, Catalogs, Inbound, Reply, Rows, Translator
from handlers.members import home
from handlers.menus import OpenPolls
from handlers.polls.actions import TickSecret, ToggleChoice, Vote
from handlers.polls.common import cancel_button, moment, option_labels, problem_text, router, where
from handlers.questions import Awaiting, Question
from models.ballots import BallotSecretMissing, open_ticks, seal_ticks, ticks_key
from models.errors import NotFound, Stale
from models.poll_queries import may_vote
from models.polls import (
    BallotFor,
    PollError,
    PollProblem,
    VoteOutcome,
    VoteProblem,
    choices_from_mask,
    concerns,
    counts,
    my_choices,
    open_polls_for,
    other_opinion,
    save_opinion,
    takes_ballots,
    vote,
)
from models.tables import Member, Platform, Poll, PollKind


def ballot_text(t: Translator, poll: Poll, timezone: Any, step: int | None = 1) -> str:
    """The ballot's text (``step``: the place a secret multi-choice ballot is at, None once it is
    cast), the same for every member at that step."""
    _ = t.gettext
    lines = ["🗳 " + _("Vote") + ": " + poll.question, ""]
    if poll.kind is PollKind.ELECTION:
        lines.append(
            _("Election: choose at most {count}; a ballot naming nobody is a blank ballot.").format(
                count=poll.max_choices
            )
        )
    elif poll.kind is PollKind.CONSULTATION:
        lines.append(_("Consultation: your opinion is counted; nothing is adopted by it."))
    stepped = poll.secret and poll.max_choices > 1
    election = poll.kind is PollKind.ELECTION  # candidates are people, not options
    if stepped:
        steps = (
            _(
                "In {count} steps: at each step tap one candidate or \u201cLeave this place blank\u201d; a "
                "candidate already chosen counts as blank."
            )
            if election
            else _(
                "In {count} steps: at each step tap one option or \u201cLeave this place blank\u201d; an option "
                "already chosen counts as blank."
            )
        )
        lines.append(steps.format(count=poll.max_choices))
    elif poll.max_choices > 1:
        several = (
            _("Choose up to {count} candidates, then tap \u201cSend my ballot\u201d.")
            if election
            else _("Choose up to {count}, then tap \u201cSend my ballot\u201d.")
        )
        lines.append(several.format(count=poll.max_choices))
    else:
        lines.append(_("Tap one candidate.") if election else _("Tap one option."))
    kind = (
        _("Secret ballot.")
        if poll.secret
        else _("Open vote: each choice is kept with the voter's name (the result sheet lists them).")
    )
    lines.append(kind + " " + _("Until {when}.").format(when=moment(t, poll.deadline, timezone)))
    if stepped:
        lines.append(
            "⚠️ "
            + _("Your ballot is cast after step {count} and cannot be changed afterwards.").format(
                count=poll.max_choices
            )
        )
    elif poll.secret:
        # Said before the tap, not after it: a "you chose X, send it?" question would be a reply
        # naming the choice, and replies are kept (outbox, retries) beside the member's chat.
        lines.append("⚠️ " + _("Your tap is your ballot: it is sent at once and cannot be changed afterwards."))
    if poll.secret and other_opinion(poll) is not None:
        lines.append(
            _(
                "A secret ballot takes no written opinion: a typed text could tell who wrote it. Please give "
                "your opinion at the meeting or to the secretary in person."
            )
        )
    lines.append("💬 " + where(t, poll))
    if stepped and step is not None:
        lines.append("👉 " + _("Step {step} of {count}: choose one.").format(step=step, count=poll.max_choices))
    return "\n".join(lines)


def ballot_buttons(t: Translator, poll: Poll, mask: int = 0, key: bytes | None = None, step: int = 1) -> Rows:
    """The ballot's buttons. A secret multi-choice ballot at ``step`` (from 2 on, ``key``: the poll's
    ticks key) carries the options chosen so far sealed in each button, its labels unmarked and the
    same at every step: ``show_ticks`` marks the chosen ones as the message is sent, so what is kept
    says nothing. (Its first step, the same for everyone, needs no sealing.)"""
    poll_id = poll.id or 0
    if poll.secret and poll.max_choices > 1:
        blank = "⬜ " + t.gettext("Leave this place blank")
        if key is None:
            rows = [
                (Button(label, ToggleChoice(poll_id, 1 << i).pack(), secret=True),)
                for i, label in enumerate(option_labels(t, poll))
            ]
            return (*rows, (Button(blank, ToggleChoice(poll_id, 0).pack(), secret=True),))

        def sealed(chosen: int) -> str:
            return TickSecret(poll_id, step, seal_ticks(key, poll_id, step, chosen)).pack()

        rows = [(Button(label, sealed(mask | 1 << i), secret=True),) for i, label in enumerate(option_labels(t, poll))]
        return (*rows, (Button(blank, sealed(mask), secret=True),))
    if poll.max_choices == 1:
        rows = [
            (Button(label, Vote(poll_id, 1 << i).pack(), secret=poll.secret),)
            for i, label in enumerate(option_labels(t, poll))
        ]
        if poll.kind is PollKind.ELECTION:
            rows.append((Button("⬜ " + t.gettext("Blank ballot"), Vote(poll_id, 0).pack(), secret=poll.secret),))
        return tuple(rows)
    rows = [
        (Button(("☑️ " if mask >> i & 1 else "⬜ ") + label, ToggleChoice(poll_id, mask ^ (1 << i)).pack()),)
        for i, label in enumerate(option_labels(t, poll))
    ]
    rows.append((Button("📨 " + t.gettext("Send my ballot"), Vote(poll_id, mask).pack()),))
    return tuple(rows)


def ballot_maker(catalogs: Catalogs, timezone: Any) -> BallotFor:
    def ballot_for(member: Member, poll: Poll) -> dict[str, Any]:
        t = catalogs.translator(member.locale)
        return Reply(ballot_text(t, poll, timezone), buttons=ballot_buttons(t, poll)).to_dict()

    return ballot_for


@router.on(ToggleChoice)
async def toggle(ctx: Context, member: Member, action: ToggleChoice) -> list[Reply]:
    poll = await ctx.session.get(Poll, action.poll_id)
    if poll is not None and poll.secret:  # the first step of a secret multi-choice ballot
        return await _stepped(ctx, member, action.poll_id, 1, action.mask)
    return await _ticked(ctx, member, action.poll_id, action.mask)


@router.on(TickSecret)
async def tick_secret(ctx: Context, member: Member, action: TickSecret) -> list[Reply]:
    mask = open_ticks(await ticks_key(ctx.session, action.poll_id), action.poll_id, action.step, action.ticks)
    if mask is None:  # forged, another poll's or step's, or kept from before the close
        raise Stale(action.poll_id)
    return await _stepped(ctx, member, action.poll_id, action.step, mask)


async def _may_tick(ctx: Context, member: Member, poll_id: int, mask: int) -> Poll:
    poll = await ctx.session.get(Poll, poll_id)
    if poll is None or poll.max_choices == 1 or mask >> len(poll.options):
        raise Stale(poll_id)
    if not takes_ballots(poll):
        if not await concerns(ctx.session, poll, member):
            raise NotFound(poll_id)
        raise PollError(VoteProblem.CLOSED)  # as sending the ballot would say
    if not await may_vote(ctx.session, poll_id, member.id or 0):
        if not await concerns(ctx.session, poll, member):
            raise NotFound(poll_id)  # another branch's: answered as an id that does not exist
        raise PollError(VoteProblem.NOT_ELIGIBLE)
    return poll


async def _stepped(ctx: Context, member: Member, poll_id: int, step: int, mask: int) -> list[Reply]:
    """Step ``step`` of a secret ballot filled in (``mask``: the options chosen so far): the next
    step, the same reply for every member but for its sealed payloads, or after the last the ballot
    cast."""
    poll = await _may_tick(ctx, member, poll_id, mask)
    if not poll.secret or step > poll.max_choices or len(choices_from_mask(mask, len(poll.options))) > step:
        raise Stale(poll_id)
    if step == poll.max_choices:
        return await _cast(ctx, member, poll_id, mask)
    key = await ticks_key(ctx.session, poll_id, make=True)
    return [
        Reply(
            ballot_text(ctx.translator, poll, ctx.timezone, step + 1),
            buttons=ballot_buttons(ctx.translator, poll, mask, key, step + 1),
            edit_message_id=ctx.inbound.source_message_id,
        )
    ]


async def _ticked(ctx: Context, member: Member, poll_id: int, mask: int) -> list[Reply]:
    poll = await _may_tick(ctx, member, poll_id, mask)
    notes = []
    if len(choices_from_mask(mask, len(poll.options))) > poll.max_choices:
        most = ctx.gettext("At most {count} candidates.") if poll.kind is PollKind.ELECTION else None
        notes.append("⚠️ " + (most or ctx.gettext("At most {count} options.")).format(count=poll.max_choices))
    # A member changing a vote sees what stands until the ballot is sent again (the ticks alone
    # looked as if the vote had been undone).
    cast = await my_choices(ctx.session, poll, member)
    if cast is not None:
        kept = _chosen(ctx.translator, poll, cast)
        notes.append("✅ " + ctx.gettext("Your vote stays as it was: {choice}.").format(choice=kept))
    note = "\n\n" + "\n".join(notes) if notes else ""
    return [
        Reply(
            ballot_text(ctx.translator, poll, ctx.timezone) + note,
            buttons=ballot_buttons(ctx.translator, poll, mask),
            edit_message_id=ctx.inbound.source_message_id,
        )
    ]


_TICKED = "☑️ "


def show_ticks(reply: Reply, key: bytes) -> Reply:
    """The reply as it is sent: the options a secret ballot has chosen so far marked, read from its
    own sealed buttons (the last, "leave this place blank", keeps the mask as it is). Only the sent
    message shows them; the stored reply stays unmarked."""
    buttons = [b for row in reply.buttons for b in row]
    steps = [a for a in map(_secret_action, buttons) if isinstance(a, TickSecret)]
    masks = [open_ticks(key, a.poll_id, a.step, a.ticks) for a in steps]
    if not steps or len({(a.poll_id, a.step) for a in steps}) != 1 or None in masks:
        return reply
    mask = masks[-1]
    chosen = {a.ticks for a, m in zip(steps[:-1], masks[:-1], strict=True) if m == mask}

    def marked(button: Button) -> Button:
        action = _secret_action(button)
        if isinstance(action, TickSecret) and action.ticks in chosen:
            return replace(button, label=_TICKED + button.label)
        return button

    return replace(reply, buttons=tuple(tuple(marked(b) for b in row) for row in reply.buttons))


def has_secret_ticks(reply: Reply) -> bool:
    """Whether ``reply`` is a secret ballot's tick-and-send buttons (which ``ticks_shown`` reads)."""
    return any(isinstance(_secret_action(button), TickSecret) for row in reply.buttons for button in row)


async def ticks_shown(session: AsyncSession, reply: Reply) -> Reply:
    """``reply`` as it is sent (by the runtime inline, or by delivery): a secret ballot being filled
    in shows the options chosen so far, opened with its poll's ticks key; anything else is sent as
    it is, and so is a ballot whose box is closed."""
    steps = [a for row in reply.buttons for a in map(_secret_action, row) if isinstance(a, TickSecret)]
    if not steps:
        return reply
    try:
        key = await ticks_key(session, steps[0].poll_id)
    except BallotSecretMissing:
        return reply
    return reply if key is None else show_ticks(reply, key)


def unmarked(button: Button) -> Button:
    """``button`` without the mark ``show_ticks`` gave it, to be remembered (Zalo's numbered menus)."""
    if isinstance(_secret_action(button), TickSecret):
        return replace(button, label=button.label.removeprefix(_TICKED))
    return button


def _secret_action(button: Button) -> ActionData | None:
    if not button.payload.startswith("pq:"):
        return None
    try:
        return decode(button.payload)
    except InvalidPayload:
        return None


@router.on(Vote)
async def cast(ctx: Context, member: Member, action: Vote) -> list[Reply]:
    return await _cast(ctx, member, action.poll_id, action.mask)


async def _cast(ctx: Context, member: Member, poll_id: int, mask: int) -> list[Reply]:
    try:
        outcome, poll = await vote(ctx.session, poll_id, member, mask)
    except PollError as error:
        if error.problem is not VoteProblem.TOO_MANY:
            raise
        return await _too_many(ctx, member, poll_id, mask, error)
    if not poll.secret and other_opinion(poll) in choices_from_mask(mask, len(poll.options)):
        ctx.ask(Awaiting(Question.POLL_OPINION, poll.id))  # the confirmation asks for it
    return [confirmation(ctx.translator, ctx.timezone, ctx.inbound, poll, outcome, mask, await _running(ctx, poll))]


async def _too_many(ctx: Context, member: Member, poll_id: int, mask: int, error: PollError) -> list[Reply]:
    """A ballot sent with more names than seats: the ballot stays as ticked, with its buttons, to
    untick some and send again (a new message saying so left the ballot above, out of sight), and
    says what stands if the member had voted. Where nothing can be unticked or sent again (one
    choice, a secret ballot, a ballot cast that cannot change) it is refused as such."""
    poll = await ctx.session.get(Poll, poll_id)  # read by vote() already
    if poll is None or poll.secret or poll.max_choices == 1:
        # No button of theirs sends several names (a secret ballot's steps take one each): a
        # forged or garbled tap, refused as one, whether or not the member has voted.
        raise PollError(VoteProblem.BAD_CHOICE)
    cast = await my_choices(ctx.session, poll, member)
    if cast is not None and not poll.allow_change:
        raise PollError(VoteProblem.ALREADY_VOTED)
    note = "\n\n⚠️ " + problem_text(ctx.translator, error, poll)
    if cast is not None:
        kept = _chosen(ctx.translator, poll, cast)
        note += "\n✅ " + ctx.gettext("Your vote stays as it was: {choice}.").format(choice=kept)
    reply = Reply(
        ballot_text(ctx.translator, poll, ctx.timezone) + note,
        buttons=ballot_buttons(ctx.translator, poll, mask),
        edit_message_id=ctx.inbound.source_message_id,
    )
    return [reply]


def _chosen(t: Translator, poll: Poll, choices: Sequence[int]) -> str:
    """The options a ballot names, in words; a blank ballot says so."""
    labels = option_labels(t, poll)
    return ", ".join(labels[i] for i in choices) or t.gettext("a blank ballot")


def confirmation(
    t: Translator, timezone: Any, inbound: Inbound, poll: Poll, outcome: VoteOutcome, mask: int, running: str = ""
) -> Reply:
    """What a member who cast ``mask`` is answered: the ballot again, edited in place where the
    platform can, with what was recorded (and ``running``, the counts so far, if the poll shows them)."""
    _ = t.gettext
    chosen = _chosen(t, poll, choices_from_mask(mask, len(poll.options)))
    if poll.secret:
        # Not even the confirmation names the choice: replies are stored (outbox, retries), and a
        # stored "you chose X" next to a chat id would undo the secrecy of the ballot box.
        text = _(
            "Your secret ballot was recorded and cannot be changed. chibo keeps it sealed, without your "
            "name, and counts it only when the poll closes."
        )
        if inbound.platform is Platform.ZALO_BOT:
            # Zalo Bot has no buttons: the member typed the option's number, a message Zalo keeps.
            text += " " + _(
                "The number you typed stays in this Zalo chat, like every message you send, and Zalo keeps "
                "it: anyone who sees this chat can see it."
            )
    else:
        text = {
            VoteOutcome.RECORDED: _("Your vote was recorded: {choice}."),
            VoteOutcome.CHANGED: _("Your vote was changed to: {choice}."),
            VoteOutcome.UNCHANGED: _("Your vote stays as it was: {choice}."),
        }[outcome].format(choice=chosen)
        if poll.allow_change:
            text += " " + _("You can change it until the deadline.")
        if other_opinion(poll) in choices_from_mask(mask, len(poll.options)):
            text += "\n\n✏️ " + _("Please type your opinion in one message; the secretary reads it with your name.")
    body = ballot_text(t, poll, timezone, None) + "\n\n✅ " + text + running
    # The ballot itself now shows the member's choice (edited in place where the platform can); a
    # multi-choice one keeps it ticked, to change from rather than tick again from nothing.
    buttons = () if poll.secret or not poll.allow_change else ballot_buttons(t, poll, mask)
    return Reply(body, buttons=buttons, edit_message_id=inbound.source_message_id)


async def _running(ctx: Context, poll: Poll) -> str:
    """The counts so far, for members who have voted, when the poll shows them before the close."""
    if not poll.show_running:
        return ""
    tally = await counts(ctx.session, poll)
    labels = option_labels(ctx.translator, poll)
    shown = ", ".join(f"{label}: {count}" for label, count in zip(labels, tally, strict=True))
    return "\n📊 " + ctx.gettext("So far: {counts}").format(counts=shown)


@router.on(OpenPolls)
async def open_polls(ctx: Context, member: Member, action: OpenPolls) -> list[Reply]:
    _ = ctx.gettext
    listed = await open_polls_for(ctx.session, member)
    if not listed:
        return [home(ctx, member, _("There are no open polls for you now."))]
    replies = []
    for poll, voted in listed:
        if voted:
            mine = await my_choices(ctx.session, poll, member)
            if mine:
                status = _("You have voted") + ": " + ", ".join(option_labels(ctx.translator, poll)[i] for i in mine)
            elif poll.secret:
                status = _("You have voted") + " " + _("(secret ballot)")
            else:
                status = _("You have voted") + ": " + _("a blank ballot")
            ticked = sum(1 << i for i in mine or ())  # a multi-choice ballot shows the choice ticked
            buttons = ballot_buttons(ctx.translator, poll, ticked) if poll.allow_change and not poll.secret else ()
            text = ballot_text(ctx.translator, poll, ctx.timezone) + "\n\n✅ " + status + await _running(ctx, poll)
            replies.append(Reply(text, buttons=buttons))
        else:
            replies.append(
                Reply(ballot_text(ctx.translator, poll, ctx.timezone), buttons=ballot_buttons(ctx.translator, poll))
            )
    return replies


@router.prompts(Question.POLL_OPINION)
async def _ask_opinion(ctx: Context, member: Member, awaiting: Awaiting) -> list[Reply]:
    ctx.ask(awaiting)
    text = ctx.gettext("Please type your opinion in one message; the secretary reads it with your name.")
    return [Reply(text, buttons=(cancel_button(ctx),))]


@router.answers(Question.POLL_OPINION)
async def opinion_typed(ctx: Context, member: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    try:
        await save_opinion(ctx.session, awaiting.subject or 0, member, text)
    except PollError as error:
        if error.problem is PollProblem.EMPTY_OPINION:  # asked again: the opinion typed anew
            ctx.ask(awaiting)
            return [Reply(problem_text(ctx.translator, error))]
        raise
    return [home(ctx, member, "✅ " + ctx.gettext("Your opinion was recorded with your vote."))]
