"""Typed times in a conversation: read by models.typed_time, echoed in full, and asked back with
one button per reading when the hour could be morning or evening ("mai 5 giờ": 05:00 or 17:00?).

A question that takes a time (a notice's, a poll's deadline, a meeting's) stays open while it is
asked back, with the readings as its detail ("deadline:7:~202612010500~202612011700"), so a typed
"17" or "chiều" picks one. The button (``PickTime``) carries the question and the reading; tapping
it answers the question exactly as typing that time would, so every check (the draft still a draft,
the actor still allowed, the time still ahead) runs again.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from handlers.context import Context, moment_words
from handlers.contract import Button, Reply, Translator
from handlers.members import Cancel
from handlers.questions import Awaiting, PickTime, time_question
from models.errors import Stale
from models.typed_time import Ambiguous, TimeProblem, canonical, from_stamp, read_choice, read_time, stamp

_READINGS = "~"


def read_answer(ctx: Context, question: Awaiting, text: str) -> datetime | list[Reply]:
    """The time ``text`` names, or the replies that ask again (the question stays open)."""
    _ = ctx.gettext
    if question.subject is None:
        raise Stale(f"{question.question} without its subject")
    subject = question.subject
    now = datetime.now(ctx.timezone)
    result = read_time(text, now)
    if isinstance(result, datetime):
        return result
    shown = text.strip()[:40]
    if isinstance(result, Ambiguous):
        ctx.ask(question.with_detail("".join(_READINGS + stamp(moment) for moment in result.candidates)))
        if len(result.candidates) == 1:
            words = _("\u201c{text}\u201d: do you mean {when}? Tap it, or type another time.").format(
                text=shown, when=moment_words(ctx.translator, result.candidates[0], ctx.timezone)
            )
        else:
            words = _("\u201c{text}\u201d: in the morning or in the evening? Please choose.").format(text=shown)
        choices = tuple(
            Button(
                "🕖 " + moment_words(ctx.translator, moment, ctx.timezone),
                PickTime(time_question(question.question), subject, moment.replace(tzinfo=None)).pack(),
            )
            for moment in result.candidates
        )
        cancel = (Button("✖️ " + _("Cancel"), Cancel().pack()),)
        return [Reply(words, buttons=(choices, cancel))]
    ctx.ask(question)
    return [Reply(_problem_words(ctx, result, shown, now))]


def _problem_words(ctx: Context, problem: TimeProblem, text: str, now: datetime) -> str:
    return time_problem_words(ctx.translator, ctx.timezone, problem, text, now)


def time_problem_words(t: Translator, timezone: tzinfo, problem: TimeProblem, text: str, now: datetime) -> str:
    """Why a typed time was not taken, and how to type it (the chat and the desk say it alike)."""
    _ = t.gettext
    if problem is TimeProblem.PAST:
        return _("\u201c{text}\u201d has already passed (it is now {now}). Please type a time still ahead.").format(
            text=text, now=moment_words(t, now, timezone)
        )
    if problem is TimeProblem.NO_HOUR:
        return _("\u201c{text}\u201d is not a time: at what hour? Type it like \u201c8 giờ sáng mai\u201d.").format(
            text=text
        )
    if problem is TimeProblem.NO_SUCH_DAY:
        return _("\u201c{text}\u201d: there is no such day. Please check the date.").format(text=text)
    return _(
        "\u201c{text}\u201d is not a time. Type it like 19:30, \u201c5 giờ chiều mai\u201d or \u201c05/12 19:30\u201d."
    ).format(text=text)


def follow_up(ctx: Context, question: Awaiting, text: str) -> tuple[Awaiting, str]:
    """The question a typed answer answers, and the answer: when chibo had asked "morning or
    evening?", a typed "17" (or "chiều") stands for that reading in full."""
    if not question.detail.startswith(_READINGS):
        return question, text
    now = datetime.now(ctx.timezone)
    stamps = question.detail.split(_READINGS)[1:]
    candidates = tuple(moment for moment in (from_stamp(s, now) for s in stamps) if moment is not None)
    chosen = read_choice(text, candidates)
    return question.with_detail(""), canonical(chosen) if chosen is not None else text


def picked(action: PickTime) -> tuple[Awaiting, str]:
    """A tapped reading: the question it answers and the time as text."""
    return Awaiting(action.question, action.subject), canonical(action.at)
