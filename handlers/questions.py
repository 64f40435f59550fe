"""Typed questions: what chibo asked and is waiting for the member to type (or send).

``Awaiting(question, subject)`` is kept on the member's channel identity while the question is
open, stored as ``"<question>[:<subject>[:<detail>]]"`` (e.g. ``"mwhen:12"``). Each question is
answered by exactly one route, registered by its feature's router (``handlers/router.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Literal, cast, get_args

from handlers.actions import ActionData
from models.tables import MAX_ID


class Question(StrEnum):
    # The member's own
    MY_PHONE = "myphone"
    SWITCH_MEMBER = "switch"  # the invite code of the member a shared phone moves to
    # Records (the secretary's)
    FIND_MEMBER = "find"
    ADD_MEMBER = "add"
    MEMBER_PHONE = "phone"
    MEMBER_NAME = "name"
    MEMBER_BIRTH = "birth"
    MEMBER_ADMITTED = "admitted"  # the day the member joined the Party
    MEMBER_CARD_NUMBER = "card"
    OFFICIAL_DAY = "official"
    OFFICIAL_VOTE = "ovote"  # detail: the id of the meeting that held the vote
    # Notices
    NOTICE_TEXT = "notice"
    NOTICE_WHEN = "when"
    NOTICE_PEOPLE = "people"
    NOTICE_FILE = "attach"
    # Polls
    POLL_TEXT = "poll"
    POLL_OPTIONS = "options"
    POLL_DEADLINE = "deadline"
    PAPER_VOTERS = "paper"
    PAPER_BOX = "paperbox"
    POLL_OPINION = "opinion"  # what a consultation's voter means by "Ý kiến khác"
    # Meetings
    MEETING_TEXT = "meeting"
    MEETING_WHEN = "mwhen"
    MEETING_PEOPLE = "mpeople"
    MEETING_MOVE = "mmove"
    MEETING_PLACE = "mplace"
    MEETING_AGENDA = "magenda"
    MEETING_LINK = "mlink"
    MEETING_MINUTES_TEXT = "minutes"
    MEETING_CONCLUSIONS = "mconcl"
    MEETING_FILE = "mfile"
    MEETING_MINUTES_FILE = "mminutes"
    ABSENCE_REASON = "mreason"
    # The branch's books
    RESOLUTION = "bres"  # the decisions of a meeting's resolution, one per line
    HAND_VOTE = "bhand"  # "question; in favour[/against]"
    TRANSFER_OUT = "btout"  # "organisation; day"
    TRANSFER_TEMPORARY = "bttemp"  # "organisation; until"
    RESIDENCE = "bhome"  # the organisation where the member lives
    TRANSFER_IN = "btin"  # "name; date admitted; from where"
    CANDIDATE = "bcand"  # "name; introducer"
    CANDIDATE_STEP = "bstep"  # the day of the candidate's next step
    SELF_ASSESSMENT = "bself"
    # Dues: the salary or pension a member's dues are a share of (detail: the category)
    DUES_BASE = "dbase"


@dataclass(frozen=True)
class Awaiting:
    """An open question: which one, about what (a member, notice, poll or meeting id), and any
    detail its answer needs (the day of a promotion; the readings of an ambiguous time)."""

    question: Question
    subject: int | None = None
    detail: str = ""

    def encode(self) -> str:
        text = self.question.value
        if self.subject is not None:
            text += f":{self.subject}"
        if self.detail:
            text += f":{self.detail}"
        return text

    def with_detail(self, detail: str) -> Awaiting:
        return replace(self, detail=detail)

    @classmethod
    def parse(cls, text: str) -> Awaiting | None:
        """The question a stored string names; None for anything else (an older format)."""
        name, _sep, rest = text.partition(":")
        subject_text, _sep, detail = rest.partition(":")
        try:
            question = Question(name)
        except ValueError:
            return None
        if not subject_text:
            return cls(question, None, detail)
        if not subject_text.isdigit() or int(subject_text) > MAX_ID:
            return None
        return cls(question, int(subject_text), detail)


# The questions that ask for a time, the only ones a tapped reading (``PickTime``) may answer.
TimeQuestion = Literal[Question.NOTICE_WHEN, Question.POLL_DEADLINE, Question.MEETING_WHEN, Question.MEETING_MOVE]


def time_question(question: Question) -> TimeQuestion:
    if question not in get_args(TimeQuestion):
        raise ValueError(f"{question} does not ask for a time")
    return cast(TimeQuestion, question)


@dataclass(frozen=True)
class Ask(ActionData, prefix="ask"):
    """A button that asks the member to type something: the question's prompt is put."""

    question: Question
    subject: int | None = None


@dataclass(frozen=True)
class PickTime(ActionData, prefix="tm"):
    """One reading of an hour that could be morning or evening, tapped: it answers the question.
    Only the questions that ask for a time: a forged pick cannot answer any other."""

    question: TimeQuestion
    subject: int
    at: datetime
