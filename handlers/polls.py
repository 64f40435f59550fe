"""Polls in chat: a secretary sets one up step by step and publishes it; members vote with one tap
(or tick several and send); results go out when it closes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from babel.numbers import format_percent
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.context import Context, moment_words
from handlers.contract import Button, Catalogs, Chart, Reply, Rows, Translator
from handlers.members import home, refused
from handlers.notices import in_words
from handlers.payloads import Action, Payload
from handlers.times import read_answer
from models.ballots import key_fits
from models.membership import NotPermitted
from models.permissions import Permission, Target, may
from models.polls import (
    BallotFor,
    Decision,
    PollError,
    PollProblem,
    ResultsFor,
    VoteOutcome,
    VoteProblem,
    cancel_draft,
    change_draft,
    check_poll,
    choices_from_mask,
    close,
    count_paper_box,
    counts,
    create_draft,
    meeting_now,
    my_choices,
    non_voters,
    nudge,
    open_ballots,
    open_polls_for,
    publish,
    queue_results,
    record_paper_voter,
    result,
    vote,
)
from models.roster import fold
from models.tables import Meeting, Member, Platform, Poll, PollEligible, PollKind, PollRule, PollStatus, PollVoters

DEFAULT_DAYS = 3
NAMES_SHOWN = 30


def _button(label: str, action: Action, argument: str = "") -> Button:
    return Button(label, Payload(action, argument).encode())


def _rule_name(t: Translator, poll: Poll) -> str:
    _ = t.gettext
    if poll.kind is PollKind.CONSULTATION:
        return _("none: a consultation reports the counts and decides nothing")
    return {
        PollRule.MAJORITY_OF_ELIGIBLE: _("more than half of all eligible voters"),
        PollRule.TWO_THIRDS_OF_ELIGIBLE: _("at least two thirds of all eligible voters"),
        PollRule.MOST_VOTES: _("most votes"),
        PollRule.CUSTOM: _("more than {numerator}/{denominator} of the {base}"),
    }[poll.rule].format(
        numerator=poll.rule_numerator,
        denominator=poll.rule_denominator,
        base=_("eligible voters") if poll.rule_base.value == "eligible" else _("votes cast"),
    )


def kind_name(t: Translator, kind: PollKind) -> str:
    _ = t.gettext
    return {
        PollKind.MOTION: _("a motion (in favour / not in favour / another opinion)"),
        PollKind.CHOICE: _("a choice among options"),
        PollKind.ELECTION: _("an election"),
        PollKind.CONSULTATION: _("a consultation (counts only, nothing is adopted)"),
    }[kind]


def _where(t: Translator, poll: Poll) -> str:
    """Where the vote is taken: at a meeting, or in chat between meetings (DESIGN.md §4: formal
    decisions of the branch are taken at its meeting)."""
    _ = t.gettext
    if poll.meeting_id is not None:
        return _("Taken at the branch's meeting.")
    return _(
        "A vote in chat between meetings gathers the members' opinions; the branch's formal decisions "
        "are taken at its meeting."
    )


def _voters_name(t: Translator, voters: PollVoters) -> str:
    _ = t.gettext
    return {
        PollVoters.OFFICIALS: _("official members"),
        PollVoters.ALL: _("all members, probationary too"),
        PollVoters.COMMITTEE: _("the branch committee"),
    }[voters]


def problem_text(t: Translator, error: PollError) -> str:
    _ = t.gettext
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
        VoteProblem.CLOSED: _("This poll has ended; your tap was not counted."),
        VoteProblem.NOT_ELIGIBLE: _(
            "You are not among those who vote in this poll (for example, probationary members do not vote "
            "on resolutions). Nothing was recorded."
        ),
        VoteProblem.ALREADY_VOTED: _("You have already voted in this poll; your ballot stays as it was."),
        VoteProblem.BAD_CHOICE: _("This button is no longer valid. Please use the menu below."),
    }[error.problem].format(detail=error.detail)


# --- the ballot ---------------------------------------------------------------------------------


def ballot_text(t: Translator, poll: Poll, timezone: Any) -> str:
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
    if poll.max_choices > 1:
        lines.append(_("Choose up to {count}, then tap \u201cSend my ballot\u201d.").format(count=poll.max_choices))
    else:
        lines.append(_("Tap one option."))
    lines.append(
        (_("Secret ballot.") if poll.secret else _("Open vote: the secretary sees names."))
        + " "
        + _("Until {when}.").format(when=_moment(t, poll.deadline, timezone))
    )
    lines.append("💬 " + _where(t, poll))
    return "\n".join(lines)


def _moment(t: Translator, moment: datetime | None, timezone: Any) -> str:
    return "—" if moment is None else moment_words(t, moment, timezone)


def ballot_buttons(t: Translator, poll: Poll, mask: int = 0) -> Rows:
    ident = str(poll.id)
    if poll.max_choices == 1:
        rows = [(_button(label, Action.VOTE, f"{ident}:{1 << i}"),) for i, label in enumerate(poll.options)]
        if poll.kind is PollKind.ELECTION:
            rows.append((_button("⬜ " + t.gettext("Blank ballot"), Action.VOTE, f"{ident}:0"),))
        return tuple(rows)
    rows = [
        (_button(("☑️ " if mask >> i & 1 else "⬜ ") + label, Action.TOGGLE_CHOICE, f"{ident}:{mask ^ (1 << i)}"),)
        for i, label in enumerate(poll.options)
    ]
    rows.append((_button("📨 " + t.gettext("Send my ballot"), Action.VOTE, f"{ident}:{mask}"),))
    return tuple(rows)


def ballot_maker(catalogs: Catalogs, timezone: Any) -> BallotFor:
    def ballot_for(member: Member, poll: Poll) -> dict[str, Any]:
        t = catalogs.translator(member.locale)
        return Reply(ballot_text(t, poll, timezone), buttons=ballot_buttons(t, poll)).to_dict()

    return ballot_for


def _parse_ids(argument: str) -> tuple[int, int]:
    poll_id, _, mask = argument.partition(":")
    return int(poll_id), int(mask or 0)


async def toggle(ctx: Context, member: Member, argument: str) -> list[Reply]:
    poll_id, mask = _parse_ids(argument)
    poll = await ctx.session.get(Poll, poll_id)
    eligible = await ctx.session.get(PollEligible, (poll_id, member.id))
    if poll is None or poll.status is not PollStatus.OPEN or poll.max_choices == 1 or mask >> len(poll.options):
        return [home(ctx, member, ctx.gettext("This button is no longer valid. Please use the menu below."))]
    if eligible is None:
        return [Reply(problem_text(ctx.translator, PollError(VoteProblem.NOT_ELIGIBLE)))]
    chosen = len(choices_from_mask(mask, len(poll.options)))
    note = ""
    if chosen > poll.max_choices:
        note = "\n\n⚠️ " + ctx.gettext("At most {count} options.").format(count=poll.max_choices)
    return [
        Reply(
            ballot_text(ctx.translator, poll, ctx.timezone) + note,
            buttons=ballot_buttons(ctx.translator, poll, mask),
            edit_message_id=ctx.inbound.source_message_id,
        )
    ]


async def cast(ctx: Context, member: Member, argument: str) -> list[Reply]:
    _ = ctx.gettext
    poll_id, mask = _parse_ids(argument)
    try:
        outcome, poll = await vote(ctx.session, poll_id, member, mask)
    except PollError as error:
        return [Reply(problem_text(ctx.translator, error))]
    chosen = ", ".join(poll.options[i] for i in choices_from_mask(mask, len(poll.options))) or _("a blank ballot")
    if poll.secret:
        # Not even the confirmation names the choice: replies are stored (outbox, retries), and a
        # stored "you chose X" next to a chat id would undo the secrecy of the ballot box.
        text = _(
            "Your secret ballot was recorded and cannot be changed. chibo keeps it sealed, without your "
            "name, and counts it only when the poll closes."
        )
        if ctx.inbound.platform is Platform.ZALO_BOT:
            # Zalo Bot has no buttons: the member typed the option's number, a message Zalo keeps.
            text += " " + _(
                "The number you typed stays in this Zalo chat, like every message you send, and Zalo keeps "
                "it: anyone who sees this chat can see it."
            )
    else:
        text = (
            _("Your vote was recorded: {choice}.")
            if outcome is VoteOutcome.RECORDED
            else _("Your vote was changed to: {choice}.")
        ).format(choice=chosen)
        if poll.allow_change:
            text += " " + _("You can change it until the deadline.")
    body = ballot_text(ctx.translator, poll, ctx.timezone) + "\n\n✅ " + text + await _running(ctx, poll)
    # The ballot itself now shows the member's choice (edited in place where the platform can).
    buttons = () if poll.secret or not poll.allow_change else ballot_buttons(ctx.translator, poll)
    return [Reply(body, buttons=buttons, edit_message_id=ctx.inbound.source_message_id)]


async def _running(ctx: Context, poll: Poll) -> str:
    """The counts so far, for members who have voted, when the poll shows them before the close."""
    if not poll.show_running:
        return ""
    tally = await counts(ctx.session, poll)
    shown = ", ".join(f"{label}: {count}" for label, count in zip(poll.options, tally, strict=True))
    return "\n📊 " + ctx.gettext("So far: {counts}").format(counts=shown)


async def open_polls(ctx: Context, member: Member) -> list[Reply]:
    _ = ctx.gettext
    listed = await open_polls_for(ctx.session, member)
    if not listed:
        return [home(ctx, member, _("There are no open polls for you now."))]
    replies = []
    for poll, voted in listed:
        if voted:
            mine = await my_choices(ctx.session, poll, member)
            if mine:
                status = _("You have voted") + ": " + ", ".join(poll.options[i] for i in mine)
            elif poll.secret:
                status = _("You have voted") + " " + _("(secret ballot)")
            else:
                status = _("You have voted") + ": " + _("a blank ballot")
            buttons = ballot_buttons(ctx.translator, poll) if poll.allow_change and not poll.secret else ()
            text = ballot_text(ctx.translator, poll, ctx.timezone) + "\n\n✅ " + status + await _running(ctx, poll)
            replies.append(Reply(text, buttons=buttons))
        else:
            replies.append(
                Reply(ballot_text(ctx.translator, poll, ctx.timezone), buttons=ballot_buttons(ctx.translator, poll))
            )
    return replies


# --- setting one up -----------------------------------------------------------------------------


async def start(ctx: Context, actor: Member) -> list[Reply]:
    _ = ctx.gettext
    own_branch = Target(actor.branch_id)
    if not may(actor, Permission.MANAGE_POLLS, own_branch):
        return refused(ctx, actor, Permission.MANAGE_POLLS, own_branch)
    ctx.ask("poll")
    text = _("Type the question to vote on, e.g. \u201cApprove the branch's plan for the first quarter?\u201d")
    return [Reply(text, buttons=((_button("✖️ " + _("Cancel"), Action.CANCEL),),))]


async def draft_from_text(ctx: Context, actor: Member, text: str) -> list[Reply]:
    local = datetime.now(ctx.timezone) + timedelta(days=DEFAULT_DAYS)
    deadline = local.replace(hour=20, minute=0, second=0, microsecond=0)
    try:
        poll = await create_draft(ctx.session, actor, text, [actor.branch_id], deadline)
    except PollError as error:
        ctx.ask("poll")
        return [Reply(problem_text(ctx.translator, error))]
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    return [preview(ctx, poll)]


def preview(ctx: Context, poll: Poll, note: str = "", meeting: Meeting | None = None) -> Reply:
    _ = ctx.gettext
    t = ctx.translator
    lines = [note, _("Preview of the poll:"), "", "🗳 " + poll.question, ""]
    lines.append(_("Kind: {kind}").format(kind=kind_name(t, poll.kind)))
    lines.append(_("Candidates:") if poll.kind is PollKind.ELECTION else _("Options:"))
    lines += [f"{i}. {label}" for i, label in enumerate(poll.options, start=1)]
    if poll.kind is PollKind.ELECTION:
        count_line = _("Seats (most names on one ballot): {count}; blank ballots allowed")
    else:
        count_line = _("Choices per member: {count}")
    if meeting is not None:
        where = _("at the meeting \u201c{title}\u201d, {when}").format(
            title=meeting.title, when=_moment(t, meeting.starts_at, ctx.timezone)
        )
    elif poll.meeting_id is not None:
        where = _("at the branch's meeting")
    else:
        where = _("in chat between meetings (gathers opinions)")
    lines += [
        "",
        count_line.format(count=poll.max_choices),
        _("Ballot: {kind}").format(kind=_("secret") if poll.secret else _("open (the secretary sees names)")),
        _("Who votes: {voters}").format(voters=_voters_name(t, poll.voters)),
        _("Passes with: {rule}").format(rule=_rule_name(t, poll)),
        _("Where: {where}").format(where=where),
        _("Deadline: {when}").format(when=_moment(t, poll.deadline, ctx.timezone)),
        _("Running totals shown to members: {value}").format(value=_("yes") if poll.show_running else _("no")),
        _("Votes can be changed until the deadline: {value}").format(
            value=_("yes") if poll.allow_change and not poll.secret else _("no")
        ),
        _("Result sent to everyone who could vote: {value}").format(
            value=_("yes") if poll.announce_results else _("no")
        ),
    ]
    ident = str(poll.id)
    kind_row = [_button("🏷 " + _("Kind of vote"), Action.POLL_SET, f"{ident}:kind")]
    if poll.kind is not PollKind.CONSULTATION:
        kind_row.append(_button("⚖️ " + _("Rule"), Action.POLL_SET, f"{ident}:rule"))
    ballot_row = [
        _button("🔒 " + (_("Make it open") if poll.secret else _("Make it secret")), Action.POLL_SET, f"{ident}:secret")
    ]
    if poll.kind in (PollKind.ELECTION, PollKind.CONSULTATION):
        ballot_row.append(_button("🔢 " + _("Choices per member"), Action.POLL_SET, f"{ident}:choices"))
    buttons: Rows = (
        tuple(kind_row),
        (
            _button("✏️ " + _("Options"), Action.ASK, f"options:{ident}"),
            _button("⏰ " + _("Deadline"), Action.ASK, f"deadline:{ident}"),
        ),
        tuple(ballot_row),
        (
            _button("👥 " + _("Who votes"), Action.POLL_SET, f"{ident}:voters"),
            _button("🏛 " + _("At a meeting"), Action.POLL_SET, f"{ident}:meeting"),
        ),
        (
            _button("📊 " + _("Running totals"), Action.POLL_SET, f"{ident}:running"),
            _button("🔁 " + _("Changing votes"), Action.POLL_SET, f"{ident}:change"),
        ),
        (_button("📣 " + _("Result to everyone"), Action.POLL_SET, f"{ident}:announce"),),
        (
            _button("📤 " + _("Publish"), Action.POLL_PUBLISH, ident),
            _button("✖️ " + _("Cancel"), Action.POLL_CANCEL, ident),
        ),
    )
    return Reply("\n".join(lines).strip(), buttons=buttons)


async def _poll(ctx: Context, actor: Member, argument: str) -> Poll | list[Reply]:
    poll = await ctx.session.get(Poll, int(argument.split(":", 1)[0]))
    if poll is None:
        return [home(ctx, actor, ctx.gettext("This button is no longer valid. Please use the menu below."))]
    try:
        await check_poll(ctx.session, actor, poll)
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    return poll


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


async def set_option(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    poll = await _poll(ctx, actor, argument)
    if isinstance(poll, list):
        return poll
    field = argument.partition(":")[2]
    changes: dict[str, Any]
    meeting: Meeting | None = None
    if field == "secret":
        changes = {"secret": not poll.secret, "allow_change": poll.secret}
    elif field == "running":
        changes = {"show_running": not poll.show_running}
    elif field == "change":
        changes = {"allow_change": not poll.allow_change}  # a secret ballot stays final either way
    elif field == "announce":
        changes = {"announce_results": not poll.announce_results}
    elif field == "choices":
        changes = {"max_choices": poll.max_choices % len(poll.options) + 1}
    elif field == "kind":
        kinds = tuple(
            (
                _button(
                    ("• " if k is poll.kind else "") + kind_name(ctx.translator, k),
                    Action.POLL_SET,
                    f"{poll.id}:kind_{k.value}",
                ),
            )
            for k in PollKind
        )
        return [Reply(ctx.gettext("What kind of vote is it?"), buttons=kinds)]
    elif field.startswith("kind_") and field[5:] in PollKind.__members__.values():
        changes = {"kind": PollKind(field[5:])}
    elif field == "rule":
        changes = {"rule": _next(_RULES, poll.rule)}
    elif field == "voters":
        changes = {"voters": _next(_VOTERS[poll.kind], poll.voters)}
    elif field == "meeting":
        if poll.meeting_id is None:
            meeting = await meeting_now(ctx.session, poll)
            if meeting is None:
                note = "⚠️ " + ctx.gettext("The branch has no meeting within 12 hours of now.")
                return [preview(ctx, poll, note)]
        changes = {"meeting_id": meeting.id if meeting is not None else None}
    else:
        return [home(ctx, actor, ctx.gettext("This button is no longer valid. Please use the menu below."))]
    try:
        await change_draft(ctx.session, actor, poll, **changes)
    except PollError as error:
        return [Reply(problem_text(ctx.translator, error))]
    return [preview(ctx, poll, meeting=meeting)]


async def ask(ctx: Context, actor: Member, field: str, poll_id: str) -> list[Reply]:
    _ = ctx.gettext
    poll = await _poll(ctx, actor, poll_id)
    if isinstance(poll, list):
        return poll
    ctx.ask(f"{field}:{poll_id}")
    text = {
        "options": _("Type the options, one per line or separated by semicolons (2 to 10)."),
        "deadline": _("Until when? Type a time, e.g. 20:00, or a day and time, e.g. 28/11 20:00."),
        "paper": _("A vote cast on paper or by show of hands: type part of the member's name."),
        "paperbox": _(
            "The counts from the paper box, once it is opened: type the number of ballots for each option, "
            "in this order, separated by commas:"
        )
        + "\n"
        + "\n".join(f"{i}. {label}" for i, label in enumerate(poll.options, start=1)),
    }[field]
    return [Reply(text, buttons=((_button("✖️ " + _("Cancel"), Action.CANCEL),),))]


async def answer(ctx: Context, actor: Member, question: str, text: str) -> list[Reply]:
    field, _sep, poll_id = question.partition(":")
    poll = await _poll(ctx, actor, poll_id)
    if isinstance(poll, list):
        return poll
    try:
        if field == "options":
            await change_draft(ctx.session, actor, poll, options=text.splitlines())
        else:
            when = read_answer(ctx, question, text)
            if isinstance(when, list):
                return when
            await change_draft(ctx.session, actor, poll, deadline=when)
    except PollError as error:
        ctx.ask(question)
        return [Reply(problem_text(ctx.translator, error))]
    return [preview(ctx, poll, "✅ " + ctx.gettext("Saved."))]


async def publish_poll(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    _ = ctx.gettext
    poll = await _poll(ctx, actor, argument)
    if isinstance(poll, list):
        return poll
    try:
        count = await publish(ctx.session, actor, poll, ballot_maker(ctx.catalogs, ctx.timezone))
    except PollError as error:
        return [Reply(problem_text(ctx.translator, error))]
    text = _("The poll is open: {count} member(s) may vote until {when}.").format(
        count=count, when=in_words(ctx, poll.deadline) if poll.deadline else "—"
    )
    return [Reply(text, buttons=((_button("📊 " + _("Track"), Action.POLL_TRACK, str(poll.id)),),))]


async def cancel_poll(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    poll = await _poll(ctx, actor, argument)
    if isinstance(poll, list):
        return poll
    try:
        await cancel_draft(ctx.session, actor, poll)
    except PollError as error:
        return [Reply(problem_text(ctx.translator, error))]
    return [home(ctx, actor, ctx.gettext("Cancelled."))]


# --- following and closing ----------------------------------------------------------------------


def _percent(t: Translator, count: int, base: int) -> str:
    """A share of the base in the reader's way of writing it: "63,6%" in Vietnamese."""
    return format_percent(count / base, "#,##0.0%", locale=t.locale) if base > 0 else "—"


def _share(t: Translator, count: int, decision: Decision) -> str:
    return f"{count}/{decision.base} ({_percent(t, count, decision.base)})"


def verdict(t: Translator, poll: Poll, decision: Decision) -> str:
    """What the secretary reads aloud: adopted or not, chosen or not, who is elected."""
    _ = t.gettext
    d = decision
    if d.kind is PollKind.CONSULTATION:
        return _("A consultation: the counts above are the members' opinions; nothing is adopted by it.")
    if d.kind is PollKind.MOTION:
        if d.passed:
            return _("The resolution is adopted: {votes}/{base} comrades in favour ({percent}).").format(
                votes=d.counts[0], base=d.base, percent=_percent(t, d.counts[0], d.base)
            )
        return _("Not adopted: {votes}/{base} in favour ({percent}); it needed {needed}.").format(
            votes=d.counts[0], base=d.base, percent=_percent(t, d.counts[0], d.base), needed=d.needed
        )
    if d.kind is PollKind.CHOICE:
        if d.passed:
            chosen = d.chosen[0]
            return _("Option \u201c{option}\u201d is chosen: {share}.").format(
                option=poll.options[chosen], share=_share(t, d.counts[chosen], d)
            )
        return _("No option reached {rule} (it needed {needed}/{base}).").format(
            rule=_rule_name(t, poll), needed=d.needed, base=d.base
        )
    if d.passed:
        return _("Elected: {names}.").format(names=", ".join(poll.options[i] for i in d.chosen))
    return _("Nobody is elected (each candidate needed {needed}/{base}).").format(needed=d.needed, base=d.base)


def _option_line(t: Translator, poll: Poll, decision: Decision, index: int) -> str:
    _ = t.gettext
    label, count = poll.options[index], decision.counts[index]
    if decision.kind is PollKind.CONSULTATION:
        return f"{label}: {count}"
    line = f"{label}: {_share(t, count, decision)}"
    if decision.kind is PollKind.ELECTION:
        line += " — " + (_("elected") if index in decision.chosen else _("not elected"))
    elif index in decision.chosen:
        line = "🏆 " + line
    return line


def _deductions(t: Translator, decision: Decision) -> str:
    _ = t.gettext
    d = decision.deducted
    parts = [
        text.format(count=count)
        for text, count in (
            (_("exempt and did not vote: {count}"), d.exempt_absent),
            (_("suspended from activity: {count}"), d.suspended),
            (_("temporarily active elsewhere: {count}"), d.elsewhere),
            (_("absent from the meeting with a reason: {count}"), d.excused_absent),
        )
        if count
    ]
    return "; ".join(parts)


def results_text(t: Translator, poll: Poll, decision: Decision, *, final: bool = True) -> str:
    """The counts, and once the poll is closed the verdict in words, the turnout apart, the base
    and the rule; every share is of the base the rule uses (DESIGN.md §4)."""
    _ = t.gettext
    lines = ["📊 " + _("Result") + ": " + poll.question, ""]
    lines += [_option_line(t, poll, decision, i) for i in range(len(poll.options))]
    if decision.kind is PollKind.ELECTION:
        lines.append(_("Blank ballots: {count}").format(count=decision.blank))
    if not final:
        return "\n".join(lines)
    lines += ["", ("✅ " if decision.passed else "ℹ️ " if decision.kind is PollKind.CONSULTATION else "❌ ")]
    lines[-1] += verdict(t, poll, decision)
    lines.append(
        _("Comrades taking part in the vote: {voters}/{base}").format(voters=decision.voters, base=decision.base)
    )
    left_out = _deductions(t, decision)
    if left_out:
        lines.append(_("Base: {base} (left out: {parts}).").format(base=decision.base, parts=left_out))
    lines.append(_("Rule: {rule}.").format(rule=_rule_name(t, poll)))
    lines.append("💬 " + _where(t, poll))
    return "\n".join(lines)


def results_chart(poll: Poll, decision: Decision) -> Chart:
    return Chart(poll.question[:80], tuple(poll.options), decision.counts)


def results_maker(catalogs: Catalogs) -> ResultsFor:
    def results_for(member: Member, poll: Poll, decision: Decision) -> dict[str, Any]:
        text = results_text(catalogs.translator(member.locale), poll, decision)
        return Reply(text, chart=results_chart(poll, decision)).to_dict()

    return results_for


async def track(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    _ = ctx.gettext
    poll = await _poll(ctx, actor, argument)
    if isinstance(poll, list):
        return poll
    decision = await result(ctx.session, poll)
    lines = [results_text(ctx.translator, poll, decision, final=poll.status is not PollStatus.OPEN)]
    if poll.status is PollStatus.OPEN:
        lines.append(
            "\n"
            + _("Turnout: {voters} of {eligible} eligible voted.").format(
                voters=decision.voters, eligible=decision.eligible
            )
        )
    if poll.secret and poll.status is PollStatus.OPEN:
        # No counts before the close: refreshed between two votes, they would show who chose what.
        lines = [
            "🗳 " + poll.question,
            "",
            _("Secret ballot: the counts are shown when it closes."),
            _("Turnout: {voters} of {eligible} eligible voted.").format(
                voters=decision.voters, eligible=decision.eligible
            ),
        ]
    buttons: list[tuple[Button, ...]] = []
    if poll.status is PollStatus.OPEN:
        lines.insert(
            0, _("Open until {when}. Counts so far:").format(when=_moment(ctx.translator, poll.deadline, ctx.timezone))
        )
        waiting = await non_voters(ctx.session, poll)
        if waiting:
            names = ", ".join(m.full_name for m in waiting[:NAMES_SHOWN])
            lines.append("\n" + _("Not voted yet ({count}): {names}").format(count=len(waiting), names=names))
            buttons.append((_button("🔔 " + _("Remind those who have not voted"), Action.POLL_NUDGE, str(poll.id)),))
            buttons.append((_button("✍️ " + _("Enter a paper vote"), Action.ASK, f"paper:{poll.id}"),))
        if poll.secret:
            buttons.append((_button("🗳 " + _("Enter the paper box counts"), Action.ASK, f"paperbox:{poll.id}"),))
        buttons.append(
            (
                _button("🔄 " + _("Refresh"), Action.POLL_TRACK, str(poll.id)),
                _button("⏹ " + _("Close now"), Action.POLL_CLOSE, str(poll.id)),
            )
        )
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


async def remind(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    poll = await _poll(ctx, actor, argument)
    if isinstance(poll, list):
        return poll
    try:
        queued = await nudge(ctx.session, actor, poll, ballot_maker(ctx.catalogs, ctx.timezone), ctx.nudge_interval)
    except PollError as error:
        return [Reply(problem_text(ctx.translator, error))]
    return [Reply(ctx.gettext("Reminder sent again: {count} message(s).").format(count=queued))]


async def close_now(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    poll = await _poll(ctx, actor, argument)
    if isinstance(poll, list):
        return poll
    if poll.secret and not await key_fits(ctx.session, poll.id or 0):
        text = ctx.gettext(
            "The sealed ballots of this poll cannot be opened with this server's key, so the poll stays open. "
            "Please tell whoever runs chibo: the secret ballot key (CHIBO_BALLOT_KEY) has changed or is missing."
        )
        return [Reply(text)]
    if not await close(ctx.session, poll, actor=actor):
        return [Reply(problem_text(ctx.translator, PollError(PollProblem.NOT_OPEN)))]
    await queue_results(ctx.session, poll, results_maker(ctx.catalogs), skip_member_id=actor.id)
    decision = await result(ctx.session, poll)
    return [Reply(results_text(ctx.translator, poll, decision), chart=results_chart(poll, decision))]


async def poll_list(ctx: Context, actor: Member) -> list[Reply]:
    """The secretary's recent polls in their scope, each with its tracking button."""
    _ = ctx.gettext
    own_branch = Target(actor.branch_id)
    if not may(actor, Permission.MANAGE_POLLS, own_branch):
        return refused(ctx, actor, Permission.MANAGE_POLLS, own_branch)
    polls = (
        await ctx.session.exec(
            select(Poll)
            .where(col(Poll.status).in_([PollStatus.OPEN, PollStatus.CLOSED]))
            .order_by(col(Poll.id).desc())
            .limit(10)
        )
    ).all()
    mine = []
    for poll in polls:
        try:
            await check_poll(ctx.session, actor, poll)
        except NotPermitted:
            continue
        mine.append(poll)
    if not mine:
        return [Reply(_("No polls yet. Tap \u201cNew poll\u201d to set one up."))]
    lines = [_("Recent polls:"), ""]
    buttons = []
    for number, poll in enumerate(mine, start=1):
        state = "🟢" if poll.status is PollStatus.OPEN else "⏹"
        lines.append(f"{number}. {state} {poll.question[:60]}")
        buttons.append((_button(f"📊 {number}. " + _("Track"), Action.POLL_TRACK, str(poll.id)),))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


# --- paper votes --------------------------------------------------------------------------------


async def paper_voters(ctx: Context, actor: Member, poll_id: str, typed: str) -> list[Reply]:
    """Eligible members who have not voted and whose name contains what the secretary typed."""
    _ = ctx.gettext
    poll = await _poll(ctx, actor, poll_id)
    if isinstance(poll, list):
        return poll
    needle = fold(typed)
    found = [m for m in await non_voters(ctx.session, poll) if needle and needle in fold(m.full_name)][:NAMES_SHOWN]
    if not found:
        ctx.ask(f"paper:{poll_id}")
        return [
            Reply(_("Nobody who has not voted yet has a name containing \u201c{text}\u201d.").format(text=typed[:40]))
        ]
    buttons = tuple((_button(m.full_name, Action.PAPER_VOTER, f"{poll.id}:{m.id}"),) for m in found)
    return [Reply(_("Whose vote is it?"), buttons=buttons)]


async def paper_ballot(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    _ = ctx.gettext
    poll = await _poll(ctx, actor, argument)
    if isinstance(poll, list):
        return poll
    member = await ctx.session.get(Member, int(argument.split(":")[1]))
    if member is None:
        return [home(ctx, actor, _("This button is no longer valid. Please use the menu below."))]
    if poll.secret:
        # A secret paper ballot goes into the paper box; only the roll learns that the member voted.
        try:
            await record_paper_voter(ctx.session, poll.id or 0, member, actor)
        except PollError as error:
            if error.problem is VoteProblem.ALREADY_VOTED:
                return [Reply(_("{name} has already voted; nothing was changed.").format(name=member.full_name))]
            return [Reply(problem_text(ctx.translator, error))]
        text = _(
            "Recorded: {name} voted on paper. Their ballot stays in the paper box; enter the box's counts "
            "once it is opened."
        ).format(name=member.full_name)
        return [
            Reply(
                text,
                buttons=(
                    (_button("🗳 " + _("Enter the paper box counts"), Action.ASK, f"paperbox:{poll.id}"),),
                    (_button("📊 " + _("Track"), Action.POLL_TRACK, str(poll.id)),),
                ),
            )
        ]
    buttons = tuple(
        (_button(label, Action.PAPER_VOTE, f"{poll.id}:{member.id}:{1 << i}"),) for i, label in enumerate(poll.options)
    )
    if poll.kind is PollKind.ELECTION:
        buttons += ((_button("⬜ " + _("Blank ballot"), Action.PAPER_VOTE, f"{poll.id}:{member.id}:0"),),)
    return [Reply(_("The paper vote of {name}:").format(name=member.full_name), buttons=buttons)]


async def paper_vote(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    """Record a vote the member cast on paper; audited as entered by the secretary, counted once."""
    _ = ctx.gettext
    poll = await _poll(ctx, actor, argument)
    if isinstance(poll, list):
        return poll
    _poll_id, member_id, mask = (int(part) for part in argument.split(":"))
    member = await ctx.session.get(Member, member_id)
    if member is None:
        return [home(ctx, actor, _("This button is no longer valid. Please use the menu below."))]
    try:
        await vote(ctx.session, poll.id or 0, member, mask, entered_by=actor)
    except PollError as error:
        if error.problem is VoteProblem.ALREADY_VOTED:
            return [Reply(_("{name} has already voted; nothing was changed.").format(name=member.full_name))]
        return [Reply(problem_text(ctx.translator, error))]
    return [
        Reply(
            _("The paper vote of {name} was recorded.").format(name=member.full_name),
            buttons=((_button("📊 " + _("Track"), Action.POLL_TRACK, str(poll.id)),),),
        )
    ]


# --- the result as a sheet ----------------------------------------------------------------------


def result_header(t: Translator) -> list[str]:
    _ = t.gettext
    return [_("Option"), _("Votes"), _("Share of the base"), _("Outcome")]


async def result_rows(session: AsyncSession, t: Translator, poll: Poll) -> list[list[str]]:
    """The result as the secretary files it (CSV rows in their words, no internal names): each
    option, the verdict, turnout, base and rule; for an open vote, then each voter's choice."""
    _ = t.gettext
    decision = await result(session, poll)
    rows = []
    for i, (label, count) in enumerate(zip(poll.options, decision.counts, strict=True)):
        share = "" if decision.kind is PollKind.CONSULTATION else _percent(t, count, decision.base)
        outcome = ""
        if decision.kind is PollKind.ELECTION:
            outcome = _("elected") if i in decision.chosen else _("not elected")
        elif i in decision.chosen:
            outcome = _("adopted") if decision.kind is PollKind.MOTION else _("chosen")
        rows.append([label, str(count), share, outcome])
    if decision.kind is PollKind.ELECTION:
        rows.append([_("Blank ballots"), str(decision.blank), "", ""])
    rows += [
        [],
        [_("Question"), poll.question],
        [_("Kind"), kind_name(t, poll.kind)],
        [_("Result"), verdict(t, poll, decision)],
        [_("Comrades taking part in the vote"), f"{decision.voters}/{decision.base}"],
        [_("Base"), str(decision.base), _deductions(t, decision)],
        [_("Rule"), _rule_name(t, poll)],
        [_("Ballot"), _("secret") if poll.secret else _("open (the secretary sees names)")],
        [_("Where"), _where(t, poll)],
    ]
    ballots = await open_ballots(session, poll)
    if ballots:
        rows += [[], [_("Full name"), _("Choice"), _("Entered from paper by the secretary")]]
        rows += [[name, poll.options[option], _("yes") if entered else ""] for name, option, entered in ballots]
    return rows


async def paper_box(ctx: Context, actor: Member, poll_id: str, typed: str) -> list[Reply]:
    """A secret poll: the counts the secretary typed from the opened paper box, e.g. "3, 1, 0"."""
    _ = ctx.gettext
    poll = await _poll(ctx, actor, poll_id)
    if isinstance(poll, list):
        return poll
    words = typed.replace(",", " ").replace(";", " ").split()
    try:
        if not all(word.isascii() and word.isdigit() for word in words):
            raise PollError(PollProblem.PAPER_COUNTS)
        counted = await count_paper_box(ctx.session, poll.id or 0, [int(word) for word in words], actor)
    except PollError as error:
        if error.problem is PollProblem.PAPER_COUNTS:
            ctx.ask(f"paperbox:{poll_id}")
        return [Reply(problem_text(ctx.translator, error))]
    # The reply is stored (outbox): it gives the number of ballots, not the counts per option.
    return [
        Reply(
            _("{count} paper ballot(s) from the box were recorded, sealed; they are counted at the close.").format(
                count=counted
            ),
            buttons=((_button("📊 " + _("Track"), Action.POLL_TRACK, str(poll.id)),),),
        )
    ]
