"""The secretary composing a poll: the question typed, a preview with a button per setting, the
options and the deadline typed, then published (the ballots go out) or cancelled."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from handlers.context import Context
from handlers.contract import Button, Reply, Rows
from handlers.members import home
from handlers.menus import NewPoll
from handlers.polls.actions import CancelPoll, KindChoice, PollSetting, PublishPoll, SetPoll, SetPollKind, TrackPoll
from handlers.polls.ballots import ballot_maker
from handlers.polls.common import (
    cancel_button,
    kind_name,
    managed_poll,
    moment,
    option_labels,
    problem_text,
    router,
    rule_name,
    voters_name,
)
from handlers.questions import Ask, Awaiting, Question
from handlers.times import read_answer
from models.polls import (
    PollError,
    PollProblem,
    cancel_draft,
    change_draft,
    check,
    create_draft,
    lacks_options,
    meeting_now,
    publish,
)
from models.tables import Meeting, Member, Poll, PollKind, PollRule, PollVoters

DEFAULT_DAYS = 3


@router.on(NewPoll)
async def start(ctx: Context, actor: Member, action: NewPoll) -> list[Reply]:
    check(actor, [actor.branch_id])
    ctx.ask(Awaiting(Question.POLL_TEXT))
    _ = ctx.gettext
    text = _("Type the question to vote on, e.g. \u201cApprove the branch's plan for the first quarter?\u201d")
    return [Reply(text, buttons=(cancel_button(ctx),))]


@router.prompts(Question.POLL_TEXT)
async def _ask_question(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    return await start(ctx, actor, NewPoll())


@router.answers(Question.POLL_TEXT)
async def draft_from_text(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    local = datetime.now(ctx.timezone) + timedelta(days=DEFAULT_DAYS)
    deadline = local.replace(hour=20, minute=0, second=0, microsecond=0)
    try:
        poll = await create_draft(ctx.session, actor, text, [actor.branch_id], deadline)
    except PollError as error:  # asked again: the next message is the question typed anew
        ctx.ask(awaiting)
        return [Reply(problem_text(ctx.translator, error))]
    return [preview(ctx, poll)]


def _options_prompt(ctx: Context, poll: Poll) -> str:
    if poll.kind is PollKind.ELECTION:
        return ctx.gettext("Type the candidates' full names, one per line or separated by semicolons (2 to 10).")
    return ctx.gettext("Type the options, one per line or separated by semicolons (2 to 10).")


def preview(ctx: Context, poll: Poll, note: str = "", meeting: Meeting | None = None) -> Reply:
    """The draft with a button per setting. An election or a choice with no candidates (options)
    yet says so, not listing the motion's three answers as if they were, and asks for them: the
    next typed message is taken as them."""
    _ = ctx.gettext
    t = ctx.translator
    lines = [note, _("Preview of the poll:"), "", "🗳 " + poll.question, ""]
    lines.append(_("Kind: {kind}").format(kind=kind_name(t, poll.kind)))
    heading = _("Candidates:") if poll.kind is PollKind.ELECTION else _("Options:")
    missing = lacks_options(poll)
    if missing:
        lines.append(heading + " " + _("none yet."))
    else:
        lines.append(heading)
        lines += [f"{i}. {label}" for i, label in enumerate(option_labels(ctx.translator, poll), start=1)]
    if poll.kind is PollKind.ELECTION:
        count_line = _("Seats (most names on one ballot): {count}; blank ballots allowed")
    else:
        count_line = _("Choices per member: {count}")
    if meeting is not None:
        where = _("at the meeting \u201c{title}\u201d, {when}").format(
            title=meeting.title, when=moment(t, meeting.starts_at, ctx.timezone)
        )
    elif poll.meeting_id is not None:
        where = _("at the branch's meeting")
    else:
        where = _("in chat between meetings (gathers opinions)")
    lines += [
        "",
        count_line.format(count=poll.max_choices),
        _("Ballot: {kind}").format(kind=_("secret") if poll.secret else _("open (the secretary sees names)")),
        _("Who votes: {voters}").format(voters=voters_name(t, poll.voters)),
        _("Passes with: {rule}").format(rule=rule_name(t, poll)),
        _("Where: {where}").format(where=where),
        _("Deadline: {when}").format(when=moment(t, poll.deadline, ctx.timezone)),
        _("Running totals shown to members: {value}").format(value=_("yes") if poll.show_running else _("no")),
        _("Votes can be changed until the deadline: {value}").format(
            value=_("yes") if poll.allow_change and not poll.secret else _("no")
        ),
        _("Result sent to everyone who could vote: {value}").format(
            value=_("yes") if poll.announce_results else _("no")
        ),
    ]
    poll_id = poll.id or 0

    def setting(label: str, which: PollSetting) -> Button:
        return Button(label, SetPoll(poll_id, which).pack())

    kind_row = [setting("🏷 " + _("Kind of vote"), PollSetting.KIND)]
    if poll.kind is not PollKind.CONSULTATION:
        kind_row.append(setting("⚖️ " + _("Rule"), PollSetting.RULE))
    ballot_row = [setting("🔒 " + (_("Make it open") if poll.secret else _("Make it secret")), PollSetting.SECRET)]
    if poll.kind in (PollKind.ELECTION, PollKind.CONSULTATION):
        ballot_row.append(setting("🔢 " + _("Choices per member"), PollSetting.CHOICES))
    buttons: Rows = (
        tuple(kind_row),
        (
            Button("✏️ " + _("Options"), Ask(Question.POLL_OPTIONS, poll_id).pack()),
            Button("⏰ " + _("Deadline"), Ask(Question.POLL_DEADLINE, poll_id).pack()),
        ),
        tuple(ballot_row),
        (
            setting("👥 " + _("Who votes"), PollSetting.VOTERS),
            setting("🏛 " + _("At a meeting"), PollSetting.MEETING),
        ),
        (
            setting("📊 " + _("Running totals"), PollSetting.RUNNING),
            setting("🔁 " + _("Changing votes"), PollSetting.CHANGE),
        ),
        (setting("📣 " + _("Result to everyone"), PollSetting.ANNOUNCE),),
        (
            Button("📤 " + _("Publish"), PublishPoll(poll_id).pack()),
            Button("✖️ " + _("Cancel"), CancelPoll(poll_id).pack()),
        ),
    )
    if missing:
        ctx.ask(Awaiting(Question.POLL_OPTIONS, poll_id))
        lines += ["", "👉 " + _options_prompt(ctx, poll)]
    return Reply("\n".join(lines).strip(), buttons=buttons)


# Plurality and probationary voters belong to consultations only (DESIGN.md §4).
_RULES = [PollRule.MAJORITY_OF_ELIGIBLE, PollRule.TWO_THIRDS_OF_ELIGIBLE]
_VOTERS = {
    PollKind.CONSULTATION: [PollVoters.OFFICIALS, PollVoters.ALL, PollVoters.COMMITTEE],
    PollKind.MOTION: [PollVoters.OFFICIALS, PollVoters.COMMITTEE],
    PollKind.CHOICE: [PollVoters.OFFICIALS, PollVoters.COMMITTEE],
    PollKind.ELECTION: [PollVoters.OFFICIALS, PollVoters.COMMITTEE],
}


def _next(cycle: list[Any], current: Any) -> Any:
    return cycle[(cycle.index(current) + 1) % len(cycle)] if current in cycle else cycle[0]


@router.on(SetPoll)
async def set_option(ctx: Context, actor: Member, action: SetPoll) -> list[Reply]:
    poll = await managed_poll(ctx, actor, action.poll_id)
    changes: dict[str, Any]
    meeting: Meeting | None = None
    match action.setting:
        case PollSetting.SECRET:
            changes = {"secret": not poll.secret, "allow_change": poll.secret}
        case PollSetting.RUNNING:
            changes = {"show_running": not poll.show_running}
        case PollSetting.CHANGE:
            changes = {"allow_change": not poll.allow_change}  # a secret ballot stays final either way
        case PollSetting.ANNOUNCE:
            changes = {"announce_results": not poll.announce_results}
        case PollSetting.CHOICES:
            changes = {"max_choices": poll.max_choices % len(poll.options) + 1}
        case PollSetting.KIND:
            kinds = tuple(
                (
                    Button(
                        ("• " if kind is poll.kind else "") + kind_name(ctx.translator, kind),
                        SetPollKind(action.poll_id, KindChoice.of(kind)).pack(),
                    ),
                )
                for kind in PollKind
            )
            return [Reply(ctx.gettext("What kind of vote is it?"), buttons=kinds)]
        case PollSetting.RULE:
            changes = {"rule": _next(_RULES, poll.rule)}
        case PollSetting.VOTERS:
            changes = {"voters": _next(_VOTERS[poll.kind], poll.voters)}
        case PollSetting.MEETING:
            if poll.meeting_id is None:
                meeting = await meeting_now(ctx.session, poll)
                if meeting is None:
                    note = "⚠️ " + ctx.gettext("The branch has no meeting within 12 hours of now.")
                    return [preview(ctx, poll, note)]
            changes = {"meeting_id": meeting.id if meeting is not None else None}
    await change_draft(ctx.session, actor, poll, **changes)
    return [preview(ctx, poll, meeting=meeting)]


@router.on(SetPollKind)
async def set_kind(ctx: Context, actor: Member, action: SetPollKind) -> list[Reply]:
    poll = await managed_poll(ctx, actor, action.poll_id)
    await change_draft(ctx.session, actor, poll, kind=action.kind.kind)
    return [preview(ctx, poll)]


@router.prompts(Question.POLL_OPTIONS)
async def _ask_options(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    poll = await managed_poll(ctx, actor, awaiting.subject)
    ctx.ask(awaiting)
    return [Reply(_options_prompt(ctx, poll), buttons=(cancel_button(ctx),))]


@router.prompts(Question.POLL_DEADLINE)
async def _ask_deadline(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    await managed_poll(ctx, actor, awaiting.subject)
    ctx.ask(awaiting)
    text = ctx.gettext(
        "Until when? Type a time, e.g. 20:00, or a day and time, e.g. \u201cthứ Sáu 20:00\u201d or "
        "\u201c5 giờ chiều mai\u201d."
    )
    return [Reply(text, buttons=(cancel_button(ctx),))]


@router.answers(Question.POLL_OPTIONS)
async def options_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    poll = await managed_poll(ctx, actor, awaiting.subject)
    try:
        await change_draft(ctx.session, actor, poll, options=text.splitlines())
    except PollError as error:  # asked again: the next message is the options typed anew
        ctx.ask(awaiting)
        return [Reply(problem_text(ctx.translator, error))]
    return [preview(ctx, poll, "✅ " + ctx.gettext("Saved."))]


@router.answers(Question.POLL_DEADLINE)
async def deadline_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    poll = await managed_poll(ctx, actor, awaiting.subject)
    when = read_answer(ctx, awaiting, text)
    if isinstance(when, list):  # not a time, or morning or evening? asked back, the question open
        return when
    try:
        await change_draft(ctx.session, actor, poll, deadline=when)
    except PollError as error:
        ctx.ask(awaiting)
        return [Reply(problem_text(ctx.translator, error))]
    return [preview(ctx, poll, "✅ " + ctx.gettext("Saved."))]


@router.on(PublishPoll)
async def publish_poll(ctx: Context, actor: Member, action: PublishPoll) -> list[Reply]:
    _ = ctx.gettext
    poll = await managed_poll(ctx, actor, action.poll_id)
    try:
        count = await publish(ctx.session, actor, poll, ballot_maker(ctx.catalogs, ctx.timezone))
    except PollError as error:
        if error.problem is not PollProblem.NO_CANDIDATES:
            raise
        # The draft again, saying what is missing and asking for it.
        return [preview(ctx, poll, "⚠️ " + problem_text(ctx.translator, error))]
    text = _("The poll is open: {count} member(s) may vote until {when}.").format(
        count=count, when=moment(ctx.translator, poll.deadline, ctx.timezone)
    )
    return [Reply(text, buttons=((Button("📊 " + _("Track"), TrackPoll(poll.id or 0).pack()),),))]


@router.on(CancelPoll)
async def cancel_poll(ctx: Context, actor: Member, action: CancelPoll) -> list[Reply]:
    poll = await managed_poll(ctx, actor, action.poll_id)
    await cancel_draft(ctx.session, actor, poll)
    return [home(ctx, actor, ctx.gettext("Cancelled."))]
