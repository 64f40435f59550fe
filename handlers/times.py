"""Typed times in a conversation: read by models.typed_time, echoed in full, and asked back with
one button per reading when the hour could be morning or evening ("mai 5 giờ": 05:00 or 17:00?).

A question that takes a time ("when:<notice>", "deadline:<poll>", "mwhen:<meeting>",
"mmove:<meeting>") stays open while it is asked back, with the readings appended
("deadline:7~202612010500~202612011700"), so a typed "17" or "chiều" picks one. The button carries
the question and the reading; tapping it answers the question exactly as typing that time would,
so every check (the draft still a draft, the actor still allowed, the time still ahead) runs again.
"""

from __future__ import annotations

from datetime import datetime

from handlers.context import Context, moment_words
from handlers.contract import Button, Reply
from handlers.payloads import Action, Payload
from models.typed_time import Ambiguous, TimeProblem, canonical, from_stamp, read_choice, read_time, stamp

_READINGS = "~"


def read_answer(ctx: Context, question: str, text: str) -> datetime | list[Reply]:
    """The time ``text`` names, or the replies that ask again (the question stays open)."""
    _ = ctx.gettext
    now = datetime.now(ctx.timezone)
    result = read_time(text, now)
    if isinstance(result, datetime):
        return result
    shown = text.strip()[:40]
    if isinstance(result, Ambiguous):
        ctx.ask(question + "".join(_READINGS + stamp(moment) for moment in result.candidates))
        if len(result.candidates) == 1:
            words = _("\u201c{text}\u201d: do you mean {when}? Tap it, or type another time.").format(
                text=shown, when=moment_words(ctx.translator, result.candidates[0], ctx.timezone)
            )
        else:
            words = _("\u201c{text}\u201d: in the morning or in the evening? Please choose.").format(text=shown)
        choices = tuple(
            Button(
                "🕖 " + moment_words(ctx.translator, moment, ctx.timezone),
                Payload(Action.PICK_TIME, f"{question}:{stamp(moment)}").encode(),
            )
            for moment in result.candidates
        )
        cancel = (Button("✖️ " + _("Cancel"), Payload(Action.CANCEL).encode()),)
        return [Reply(words, buttons=(choices, cancel))]
    ctx.ask(question)
    return [Reply(_problem_words(ctx, result, shown, now))]


def _problem_words(ctx: Context, problem: TimeProblem, text: str, now: datetime) -> str:
    _ = ctx.gettext
    if problem is TimeProblem.PAST:
        return _("\u201c{text}\u201d has already passed (it is now {now}). Please type a time still ahead.").format(
            text=text, now=moment_words(ctx.translator, now, ctx.timezone)
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


def follow_up(ctx: Context, question: str, text: str) -> tuple[str, str]:
    """The question a typed answer answers, and the answer: when chibo had asked "morning or
    evening?", a typed "17" (or "chiều") stands for that reading in full."""
    if _READINGS not in question:
        return question, text
    question, *stamps = question.split(_READINGS)
    now = datetime.now(ctx.timezone)
    candidates = tuple(moment for moment in (from_stamp(s, now) for s in stamps) if moment is not None)
    chosen = read_choice(text, candidates)
    return question, canonical(chosen) if chosen is not None else text


def picked(ctx: Context, argument: str) -> tuple[str, str]:
    """A tapped reading ("deadline:7:202612011700"): the question it answers and the time as text."""
    question, _sep, digits = argument.rpartition(":")
    moment = from_stamp(digits, datetime.now(ctx.timezone))
    return question, canonical(moment) if moment is not None else digits
