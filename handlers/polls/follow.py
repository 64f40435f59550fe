"""The secretary following a published poll: turnout and who has not voted, a reminder to them,
closing it now, and the list of recent polls."""

from __future__ import annotations

from handlers.context import Context
from handlers.contract import Button, Reply
from handlers.menus import PollList
from handlers.polls.actions import ClosePoll, ConfirmClosePoll, NudgePoll, TrackPoll
from handlers.polls.ballots import ballot_maker
from handlers.polls.common import NAMES_SHOWN, managed_poll, moment, router
from handlers.polls.results import base_text, interim_text, results_chart, results_maker, results_text, turnout_text
from handlers.questions import Ask, Question
from models.ballots import key_fits
from models.poll_queries import recent_polls_for
from models.polls import PollError, PollProblem, check, close, non_voters, nudge, opinions, queue_results, result
from models.tables import Member, Poll, PollKind, PollStatus
from models.vietnamese import shorten


@router.on(TrackPoll)
async def track(ctx: Context, actor: Member, action: TrackPoll) -> list[Reply]:
    _ = ctx.gettext
    poll = await managed_poll(ctx, actor, action.poll_id)
    decision = await result(ctx.session, poll)
    lines = [results_text(ctx.translator, poll, decision, final=poll.status is not PollStatus.OPEN)]
    if poll.status is PollStatus.OPEN:
        lines.append(interim_text(ctx.translator, poll, decision))
        lines.append("\n" + turnout_text(ctx.translator, decision))
    if poll.secret and poll.status is PollStatus.OPEN:
        # No counts before the close: refreshed between two votes, they would show who chose what.
        lines = [
            "🗳 " + poll.question,
            "",
            _("Secret ballot: the counts are shown when it closes."),
            interim_text(ctx.translator, poll, decision),
            turnout_text(ctx.translator, decision),
        ]
        if poll.kind is not PollKind.CONSULTATION:  # what "at least 4 of 7" is out of, as the open count says
            lines.insert(-1, base_text(ctx.translator, decision))
    lines += await _opinion_lines(ctx, poll)
    buttons: list[tuple[Button, ...]] = []
    poll_id = poll.id or 0
    if poll.status is PollStatus.OPEN:
        lines.insert(
            0, _("Open until {when}. Counts so far:").format(when=moment(ctx.translator, poll.deadline, ctx.timezone))
        )
        waiting = await non_voters(ctx.session, poll)
        if waiting:
            names = ", ".join(m.full_name for m in waiting[:NAMES_SHOWN])
            lines.append("\n" + _("Not voted yet ({count}): {names}").format(count=len(waiting), names=names))
            buttons.append((Button("🔔 " + _("Remind those who have not voted"), NudgePoll(poll_id).pack()),))
            buttons.append((Button("✍️ " + _("Enter a paper vote"), Ask(Question.PAPER_VOTERS, poll_id).pack()),))
        if poll.secret:
            buttons.append((Button("🗳 " + _("Enter the paper box counts"), Ask(Question.PAPER_BOX, poll_id).pack()),))
        buttons.append(
            (
                Button("🔄 " + _("Refresh"), TrackPoll(poll_id).pack()),
                Button("⏹ " + _("Close now"), ClosePoll(poll_id).pack()),
            )
        )
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


OPINIONS_SHOWN, OPINION_SHOWN_CHARS = 8, 250  # a message stays within a phone's screenful and Telegram's limit


async def _opinion_lines(ctx: Context, poll: Poll) -> list[str]:
    """An open consultation's "Ý kiến khác" as typed, by name (the whole of each is in the sheet)."""
    found = await opinions(ctx.session, poll)
    if not found:
        return []
    lines = ["", "✏️ " + ctx.gettext("Other opinions ({count}):").format(count=len(found))]
    for name, text in found[:OPINIONS_SHOWN]:
        lines.append(f"• {name}: " + (text if len(text) <= OPINION_SHOWN_CHARS else shorten(text, OPINION_SHOWN_CHARS)))
    if len(found) > OPINIONS_SHOWN:
        lines.append(ctx.gettext("…and {count} more in the result sheet.").format(count=len(found) - OPINIONS_SHOWN))
    return lines


@router.on(NudgePoll)
async def remind(ctx: Context, actor: Member, action: NudgePoll) -> list[Reply]:
    poll = await managed_poll(ctx, actor, action.poll_id)
    nudged = await nudge(ctx.session, actor, poll, ballot_maker(ctx.catalogs, ctx.timezone), ctx.nudge_interval)
    text = ctx.gettext("Reminder sent again: {count} message(s).").format(count=nudged.queued)
    if nudged.unreachable:
        text += " " + ctx.gettext(
            "{count} comrade(s) who have not voted cannot be reached by chibo (not joined yet, or chibo cannot "
            "message them): please call them, or enter their votes on paper."
        ).format(count=nudged.unreachable)
    return [Reply(text)]


@router.on(ClosePoll)
async def ask_close(ctx: Context, actor: Member, action: ClosePoll) -> list[Reply]:
    """Asked first, as cancelling a meeting is: it sits next to "Refresh" and cannot be undone."""
    _ = ctx.gettext
    poll = await managed_poll(ctx, actor, action.poll_id)
    if poll.status is not PollStatus.OPEN:
        raise PollError(PollProblem.NOT_OPEN)
    question = _(
        "Close \u201c{question}\u201d now, before its deadline ({when})? Nobody can vote after that, and the "
        "result is sent at once."
    ).format(question=shorten(poll.question, 100), when=moment(ctx.translator, poll.deadline, ctx.timezone))
    buttons = (
        (Button("⏹ " + _("Yes, close it now"), ConfirmClosePoll(action.poll_id).pack()),),
        (Button("↩️ " + _("Keep it open"), TrackPoll(action.poll_id).pack()),),
    )
    return [Reply(question, buttons=buttons)]


@router.on(ConfirmClosePoll)
async def close_now(ctx: Context, actor: Member, action: ConfirmClosePoll) -> list[Reply]:
    poll = await managed_poll(ctx, actor, action.poll_id)
    if poll.secret and not await key_fits(ctx.session, poll.id or 0):
        text = ctx.gettext(
            "The sealed ballots of this poll cannot be opened with this server's key, so the poll stays open. "
            "Please tell whoever runs chibo: the secret ballot key (CHIBO_BALLOT_KEY) has changed or is missing."
        )
        return [Reply(text)]
    if not await close(ctx.session, poll, actor=actor):
        raise PollError(PollProblem.NOT_OPEN)
    await queue_results(ctx.session, poll, results_maker(ctx.catalogs), skip_member_id=actor.id)
    decision = await result(ctx.session, poll)
    text = "\n".join([results_text(ctx.translator, poll, decision), *await _opinion_lines(ctx, poll)])
    return [Reply(text, chart=results_chart(ctx.translator, poll, decision))]


@router.on(PollList)
async def poll_list(ctx: Context, actor: Member, action: PollList) -> list[Reply]:
    """The secretary's recent polls in their scope, each with its tracking button."""
    _ = ctx.gettext
    check(actor, [actor.branch_id])
    mine = await recent_polls_for(ctx.session, actor)
    if not mine:
        return [Reply(_("No polls yet. Tap \u201cNew poll\u201d to set one up."))]
    lines = [_("Recent polls:"), ""]
    buttons = []
    for number, poll in enumerate(mine, start=1):
        state = "🟢" if poll.status is PollStatus.OPEN else "⏹"
        lines.append(f"{number}. {state} {shorten(poll.question, 60)}")
        buttons.append((Button(f"📊 {number}. " + _("Track"), TrackPoll(poll.id or 0).pack()),))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]
