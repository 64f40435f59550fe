"""The wording the books share: the four levels, the steps to admission, the kinds of transfer,
the standard agenda, and why a change was refused."""

from __future__ import annotations

from handlers.contract import Translator
from models.books import BookError, BookProblem, Step
from models.tables import ReviewLevel, TransferKind


def level_name(t: Translator, level: ReviewLevel) -> str:
    """The four levels as Quy định 366-QĐ/TW (2025, after 124-QĐ/TW of 2023) names them."""
    _ = t.gettext
    return {
        ReviewLevel.EXCELLENT: _("Excellently fulfilled duties"),
        ReviewLevel.GOOD: _("Well fulfilled duties"),
        ReviewLevel.DONE: _("Fulfilled duties"),
        ReviewLevel.NOT_DONE: _("Did not fulfil duties"),
    }[level]


def step_name(t: Translator, step: Step) -> str:
    _ = t.gettext
    return {
        Step.CLASS: _("Course on the Party"),
        Step.DOSSIER: _("Personal record verified"),
        Step.BRANCH: _("Branch considered"),
        Step.COMMITTEE: _("Party committee approved"),
        Step.DECISION: _("Admission decision"),
        Step.CEREMONY: _("Admission ceremony"),
    }[step]


def transfer_name(t: Translator, kind: TransferKind) -> str:
    _ = t.gettext
    return {
        TransferKind.OUT: _("Official transfer (leaves the roster)"),
        TransferKind.TEMPORARY: _("Temporary transfer (stays on the roster)"),
        TransferKind.IN: _("Arrived by transfer"),
        TransferKind.RESIDENCE: _("Keeps in touch with the branch where they live"),
    }[kind]


def standard_agenda(t: Translator) -> list[str]:
    """The content of a regular branch meeting (Hướng dẫn 12-HD/BTCTW, 2018): the month's situation,
    its results, the next month's tasks, matters of the members."""
    _ = t.gettext
    return [
        _("The situation of the month"),
        _("Results of the month's tasks"),
        _("Tasks and measures for next month"),
        _("Party member matters"),
    ]


def problem_text(t: Translator, error: BookError) -> str:
    _ = t.gettext
    words = {
        BookProblem.NOT_REGULAR: _("The month's resolution belongs to a regular branch meeting."),
        BookProblem.NOT_HELD: _("This meeting has not taken place (it has not begun, or it was cancelled)."),
        BookProblem.NO_DECISIONS: _("Please type at least one decision, one per line."),
        BookProblem.TOO_LONG: _("That is too long (at most {limit})."),
        BookProblem.BAD_COUNT: _(
            "Please type the question, then the hands in favour (and against), e.g. “Thông qua nghị quyết; 9/1”."
        ),
        BookProblem.NOT_PRESENT: _("More hands than the {limit} official members present: please count again."),
        BookProblem.BAD_DAY: _("That day does not fit ({limit})."),
        BookProblem.EMPTY: _("Please type something."),
        BookProblem.NOT_ELSEWHERE: _("{limit} is not on a temporary transfer."),
        BookProblem.STEP_ORDER: _("The steps go in order: first “{limit}”."),
        BookProblem.STEP_DONE: _("That step is already recorded."),
        BookProblem.DROPPED: _("This candidate is no longer followed."),
        BookProblem.NO_MEETING: _("The classification is decided at a branch meeting; none has taken place yet."),
        BookProblem.WRONG_BRANCH: _("That meeting is not a meeting of {limit}'s branch."),
    }
    detail = step_name(t, Step(error.detail)) if error.detail in Step.__members__.values() else error.detail
    return words[error.problem].format(limit=detail)
