"""A poll's result in words: the counts, the verdict the secretary reads aloud, turnout apart, the
base and the rule (DESIGN.md §4); as a message with its chart, and as the sheet the secretary files."""

from __future__ import annotations

from typing import Any

from babel.numbers import format_percent
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.contract import Catalogs, Chart, Reply, Translator
from handlers.polls.common import kind_name, option_labels, rule_name, where
from models.polls import Decision, ResultsFor, open_ballots, opinions, result
from models.tables import Member, Poll, PollKind, PollStatus
from models.vietnamese import shorten


def _percent(t: Translator, count: int, base: int) -> str:
    """A share of the base in the reader's way of writing it: "63,6%" in Vietnamese."""
    return format_percent(count / base, "#,##0.0%", locale=t.locale) if base > 0 else "—"


def _share(t: Translator, count: int, decision: Decision) -> str:
    return f"{count}/{decision.base} ({_percent(t, count, decision.base)})"


def verdict(t: Translator, poll: Poll, decision: Decision) -> str:
    """What the secretary reads aloud: adopted or not, chosen or not, who is elected. A motion or a
    choice voted in chat between meetings gathers the members' opinion: it says whether the opinion
    reached the rule, never that the branch adopted or chose (DESIGN.md §4: formal decisions of the
    branch are taken at its meeting)."""
    _ = t.gettext
    d = decision
    at_meeting = poll.meeting_id is not None
    if d.kind is PollKind.CONSULTATION:
        return _("A consultation: the counts above are the members' opinions; nothing is adopted by it.")
    if d.kind is PollKind.MOTION:
        votes, percent = d.counts[0], _percent(t, d.counts[0], d.base)
        if at_meeting and d.passed:
            return _("The resolution is adopted: {votes}/{base} comrades in favour ({percent}).").format(
                votes=votes, base=d.base, percent=percent
            )
        if at_meeting:
            return _("Not adopted: {votes}/{base} in favour ({percent}); it needed {needed}.").format(
                votes=votes, base=d.base, percent=percent, needed=d.needed
            )
        if d.passed:
            return _("The members in favour reach {rule}: {votes}/{base} comrades ({percent}).").format(
                rule=rule_name(t, poll), votes=votes, base=d.base, percent=percent
            )
        return _(
            "The members in favour do not reach {rule}: {votes}/{base} comrades ({percent}); it needed {needed}."
        ).format(rule=rule_name(t, poll), votes=votes, base=d.base, percent=percent, needed=d.needed)
    if d.kind is PollKind.CHOICE:
        if d.passed:
            chosen = d.chosen[0]
            words = (
                _("Option \u201c{option}\u201d is chosen: {share}.")
                if at_meeting
                else _("The members choosing \u201c{option}\u201d reach {rule}: {share}.")
            )
            return words.format(
                option=option_labels(t, poll)[chosen], rule=rule_name(t, poll), share=_share(t, d.counts[chosen], d)
            )
        return _("No option reached {rule} (it needed {needed}/{base}).").format(
            rule=rule_name(t, poll), needed=d.needed, base=d.base
        )
    return _election_verdict(t, poll, d)


def _election_verdict(t: Translator, poll: Poll, decision: Decision) -> str:
    """Who is elected; and, when more candidates reached the rule tied for the last seats than there
    are seats left, that none of them is elected and the branch votes again among them (bầu lại:
    the code breaks no tie)."""
    _ = t.gettext
    d = decision
    labels = option_labels(t, poll)
    said = []
    if d.chosen:
        said.append(_("Elected: {names}.").format(names=", ".join(labels[i] for i in d.chosen)))
    if d.tied:
        left = max(poll.max_choices - len(d.chosen), 1)
        seats = (
            t.ngettext("{seats} seat left to fill", "{seats} seats left to fill", left)
            if d.chosen
            else t.ngettext("{seats} seat to fill", "{seats} seats to fill", left)
        ).format(seats=left)
        said.append(
            _(
                "{seats}: {count} candidates tied with {votes}/{base} votes each ({names}); the branch votes "
                "again among them."
            ).format(
                seats=seats,
                count=len(d.tied),
                votes=d.counts[d.tied[0]],
                base=d.base,
                names=", ".join(labels[i] for i in d.tied),
            )
        )
    if said:
        return " ".join(said)
    return _("Nobody is elected (each candidate needed {needed}/{base}).").format(needed=d.needed, base=d.base)


def _mark(t: Translator, decision: Decision, index: int) -> str:
    """An election candidate's outcome: elected, tied for a seat (voted on again), or not elected."""
    _ = t.gettext
    if index in decision.chosen:
        return _("elected")
    return _("tied: to be voted on again") if index in decision.tied else _("not elected")


def interim_text(t: Translator, poll: Poll, decision: Decision) -> str:
    """While a vote is open: that nothing is decided yet, and what passing needs (no verdict)."""
    _ = t.gettext
    d = decision
    if d.kind is PollKind.CONSULTATION:
        return "⏳ " + _("Still open: a consultation decides nothing; the counts are final when it closes.")
    needs = {
        PollKind.MOTION: _("To be adopted, \u201c{option}\u201d needs at least {needed} of {base} votes."),
        PollKind.CHOICE: _("An option is chosen when it has at least {needed} of {base} votes."),
        PollKind.ELECTION: _("A candidate is elected with at least {needed} of {base} votes."),
    }[d.kind].format(option=option_labels(t, poll)[0], needed=d.needed, base=d.base)
    return "⏳ " + _("Still open: nothing is decided until it closes.") + " " + needs


def _option_line(t: Translator, poll: Poll, decision: Decision, index: int, final: bool = True) -> str:
    _ = t.gettext
    label, count = option_labels(t, poll)[index], decision.counts[index]
    if decision.kind is PollKind.CONSULTATION:
        return f"{label}: {count}"
    line = f"{label}: {_share(t, count, decision)}"
    if not final:  # an interim count names no winner
        return line
    if decision.kind is PollKind.ELECTION:
        line += " — " + _mark(t, decision, index)
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


def turnout_text(t: Translator, decision: Decision) -> str:
    """Who voted of who could: apart from the result, which is measured against the base."""
    return t.gettext("Turnout: {voters} of {eligible} eligible voted.").format(
        voters=decision.voters, eligible=decision.eligible
    )


def base_text(t: Translator, decision: Decision) -> str:
    """What every "x/y" of the result is out of, and who was left out of it."""
    left_out = _deductions(t, decision)
    if left_out:
        return t.gettext("Base: {base} (left out: {parts}).").format(base=decision.base, parts=left_out)
    return t.gettext("Base: {base}.").format(base=decision.base)


def results_text(t: Translator, poll: Poll, decision: Decision, *, final: bool = True) -> str:
    """The counts, and once the poll is closed the verdict in words, the turnout apart, the base
    and the rule; every share is of the base the rule uses (DESIGN.md §4)."""
    _ = t.gettext
    lines = ["📊 " + _("Result") + ": " + poll.question, ""]
    lines += [_option_line(t, poll, decision, i, final) for i in range(len(poll.options))]
    if decision.kind is PollKind.ELECTION:
        lines.append(_("Blank ballots: {count}").format(count=decision.blank))
    if decision.kind is not PollKind.CONSULTATION:
        lines.append(base_text(t, decision))
    if not final:
        return "\n".join(lines)
    mark = "✅ " if decision.passed else "⚖️ " if decision.tied else "❌ "
    lines += ["", ("ℹ️ " if decision.kind is PollKind.CONSULTATION else mark) + verdict(t, poll, decision)]
    lines.append(turnout_text(t, decision))
    lines.append(_("Rule: {rule}.").format(rule=rule_name(t, poll)))
    lines.append("💬 " + where(t, poll))
    return "\n".join(lines)


def results_chart(t: Translator, poll: Poll, decision: Decision) -> Chart:
    """The counts as bars, with the votes the rule needs marked (none for a consultation), the bars
    of what the result picks (adopted, chosen, elected) filled dark; candidates tied for a seat are
    named so under their bars, not drawn as elected though they reached the mark."""
    needed = 0 if decision.kind is PollKind.CONSULTATION else decision.needed
    label = t.gettext("needed: {needed} of {base}").format(needed=needed, base=decision.base) if needed else ""
    labels = tuple(
        t.gettext("{candidate} (tied)").format(candidate=name) if i in decision.tied else name
        for i, name in enumerate(option_labels(t, poll))
    )
    return Chart(shorten(poll.question, 80), labels, decision.counts, needed, label, decision.chosen)


def results_maker(catalogs: Catalogs) -> ResultsFor:
    def results_for(member: Member, poll: Poll, decision: Decision) -> dict[str, Any]:
        t = catalogs.translator(member.locale)
        return Reply(results_text(t, poll, decision), chart=results_chart(t, poll, decision)).to_dict()

    return results_for


def result_header(t: Translator) -> list[str]:
    _ = t.gettext
    return [_("Option"), _("Votes"), _("Share of the base"), _("Outcome")]


async def result_rows(session: AsyncSession, t: Translator, poll: Poll) -> list[list[str | int]]:
    """The result as the secretary files it (CSV rows in their words, no internal names): each
    option, the verdict, turnout, base and rule; for an open vote, then each voter's choice. Counts
    are numbers, so a spreadsheet can add them up."""
    _ = t.gettext
    decision = await result(session, poll)
    running = poll.status is PollStatus.OPEN
    rows = option_rows(t, poll, decision)
    rows += [
        [],
        [_("Question"), poll.question],
        [_("Kind"), kind_name(t, poll.kind)],
        [_("Result"), interim_text(t, poll, decision).removeprefix("⏳ ") if running else verdict(t, poll, decision)],
        [_("Turnout"), turnout_text(t, decision)],
        [_("Voted"), decision.voters],
        [_("Eligible to vote"), decision.eligible],
        [_("Base"), decision.base, _deductions(t, decision)],
        [_("Rule"), rule_name(t, poll)],
        [_("Ballot"), _("secret") if poll.secret else _("open (the secretary sees names)")],
        [_("Where"), where(t, poll)],
    ]
    ballots = await open_ballots(session, poll)
    if ballots:
        rows += [[], [_("Full name"), _("Choice"), _("Entered from paper by the secretary")]]
        labels = option_labels(t, poll)
        rows += [[name, labels[option], _("yes") if entered else ""] for name, option, entered in ballots]
    typed = await opinions(session, poll)
    if typed:
        rows += [[], [_("Full name"), _("Other opinion")]]
        rows += [[name, text] for name, text in typed]
    return rows


def option_rows(t: Translator, poll: Poll, decision: Decision) -> list[list[str | int]]:
    """Each option's row under ``result_header``: its votes, share of the base and outcome (none
    while the vote is open: its counts decide nothing yet, as the chat says); an election's blank
    ballots last."""
    _ = t.gettext
    rows: list[list[str | int]] = []
    for i, (label, count) in enumerate(zip(option_labels(t, poll), decision.counts, strict=True)):
        share = "" if decision.kind is PollKind.CONSULTATION else _percent(t, count, decision.base)
        outcome = ""
        if poll.status is PollStatus.OPEN:
            pass
        elif decision.kind is PollKind.ELECTION:
            outcome = _mark(t, decision, i)
        elif i in decision.chosen and poll.meeting_id is None:
            outcome = _("reached the rule")  # the members' opinion in chat, not a decision (DESIGN.md §4)
        elif i in decision.chosen:
            outcome = _("adopted") if decision.kind is PollKind.MOTION else _("chosen")
        rows.append([label, count, share, outcome])
    if decision.kind is PollKind.ELECTION:
        rows.append([_("Blank ballots"), decision.blank, "", ""])
    return rows
