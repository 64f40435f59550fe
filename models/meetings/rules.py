"""The pure rules of meetings: validity, attendance, reminder times, the monthly series; and
what the members are told (``MeetingMessages``), which the handlers write.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Protocol

from models.errors import DomainError
from models.tables import (
    Attendance,
    Meeting,
    MeetingInvitation,
    Member,
    Rsvp,
)

# Members check in from half an hour before the start to an hour after it; then their own check-in
# closes. Nobody becomes absent by not tapping: the list is final only when the secretary confirms it.
CHECK_IN_BEFORE = timedelta(minutes=30)


CHECK_IN_AFTER = timedelta(minutes=60)


DEFAULT_REMINDER_MINUTES = (24 * 60, 2 * 60)


# The secretary's summary at the start is still useful while attendance is being taken.
SUMMARY_USEFUL_FOR = CHECK_IN_AFTER


# Quy định 29 (and Charter art. 8 on removal): a member who leaves Party activity for three months
# in a year without a valid reason may be removed (xóa tên). The secretary is warned when a member
# has missed the branch's regular meeting without reason in two months of the last twelve, before
# a third.
ABSENCE_WARNING_MONTHS = 2


ABSENCE_WINDOW_MONTHS = 12


YEAR = timedelta(days=365)


# How far ahead a meeting may be set, on the desk as in chat: a branch plans its year, and a date
# beyond (2099, a mistyped year) is a typing slip that would sit unseen in the calendar.


def last_meeting_day(today: date) -> date:
    """The last day a meeting may be set on, from the commune's today: the same calendar day next
    year, inclusive (28 February after a 29 February)."""
    try:
        return today.replace(year=today.year + 1)
    except ValueError:
        return today.replace(year=today.year + 1, day=28)


MAX_TITLE = 300


MAX_PLACE = 300


MAX_AGENDA_ITEMS = 20


MAX_REASON = 300


MAX_MINUTES_TEXT = 20_000


class MeetingProblem(StrEnum):
    EMPTY_TITLE = "empty_title"
    IN_THE_PAST = "in_the_past"
    TOO_FAR_AHEAD = "too_far_ahead"  # after last_meeting_day
    NO_TIME = "no_time"  # calling a draft whose time was never typed
    NOT_A_DRAFT = "not_a_draft"
    NOT_CALLED = "not_called"  # cancelled, or still a draft
    ALREADY_STARTED = "already_started"
    NO_INVITEES = "no_invitees"
    NOT_INVITED = "not_invited"
    CHECK_IN_CLOSED = "check_in_closed"  # outside the window around the start
    CHECKED_IN = "checked_in"  # an excuse after the member checked in at the meeting
    NOT_STARTED = "not_started"  # attendance is confirmed only once the meeting has begun
    CONFIRMED = "confirmed"  # the attendance list is final
    UNRECORDED_LEFT = "unrecorded_left"  # confirming with members nobody recorded (detail: how many)
    EXCUSES_WAITING = "excuses_waiting"  # confirming while members' reasons await the secretary
    MARKED = "marked"  # a check-in against what the secretary recorded (detail: the attendance)
    BAD_DAY = "bad_day"
    BAD_FRACTION = "bad_fraction"  # a validity rule that is not a fraction between 0 and 1
    TOO_LONG = "too_long"
    SECRET_DOCUMENT = "secret_document"
    SECRET_TEXT = "secret_text"  # minutes or conclusions carrying a classification mark
    FILE_TOO_LARGE = "file_too_large"


class MeetingError(DomainError, ValueError):
    def __init__(self, problem: MeetingProblem, detail: str = "") -> None:
        super().__init__(f"{problem.value} {detail}".strip())
        self.problem, self.detail = problem, detail


def check_start(starts_at: datetime, now: datetime) -> None:
    """A meeting's start is ahead of ``now`` and on or before ``last_meeting_day``, both counted in
    the start's own timezone (the commune's, as typed); the refusal's detail is that last day."""
    if starts_at <= now:
        raise MeetingError(MeetingProblem.IN_THE_PAST)
    last = last_meeting_day(now.astimezone(starts_at.tzinfo).date())
    if starts_at.date() > last:
        raise MeetingError(MeetingProblem.TOO_FAR_AHEAD, last.isoformat())


class MeetingMessages(Protocol):
    """What each message says, in the member's language: made by the handlers, stored in the outbox."""

    def invitation(self, member: Member, meeting: Meeting) -> dict[str, Any]: ...

    def reminder(self, member: Member, meeting: Meeting, minutes_before: int) -> dict[str, Any]: ...

    def moved(self, member: Member, meeting: Meeting, previous_start: datetime) -> dict[str, Any]: ...

    def cancelled(self, member: Member, meeting: Meeting) -> dict[str, Any]: ...

    def start_summary(self, member: Member, meeting: Meeting, summary: Summary) -> dict[str, Any]: ...

    def absence_warning(self, member: Member, meeting: Meeting, absent: list[AbsenceWarning]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Summary:
    """Who is invited and where they stand: answers before the meeting, attendance during and after."""

    invited: int
    must_attend: int  # the base of the validity rule: everyone invited except exempt members absent
    attending: int  # answered "I will attend"
    declined: int  # answered "excused absence" (with a reason the secretary has yet to accept)
    excused: int  # absent with a reason the secretary accepted
    present: int
    absent: int  # absent without reason, as the secretary recorded
    unrecorded: int  # nobody recorded them yet (chưa ghi nhận)
    numerator: int
    denominator: int

    @property
    def valid(self) -> bool:
        """AT LEAST numerator/denominator of those who must attend are present: the branch's
        setting, 2/3 by default (DESIGN.md §4; the one sourced figure, Hướng dẫn 12-HD/BTCTW)."""
        return self.must_attend > 0 and self.present * self.denominator >= self.must_attend * self.numerator

    @property
    def needed(self) -> int:
        """How many must be present for the meeting to be valid."""
        return -(-self.must_attend * self.numerator // self.denominator)


@dataclass(frozen=True)
class AbsenceWarning:
    """A member who missed the branch's regular meeting without reason in ``months`` (first days of
    the months, oldest first) of the last twelve, and left the party dues of ``unpaid`` months
    unpaid (models/dues.py): both count towards the three months of Quy định 29."""

    name: str
    months: list[date]
    unpaid: list[date] = field(default_factory=list)


def attendance_of(invitation: MeetingInvitation) -> Attendance:
    """What counts: the secretary's mark, else the member's check-in, else nothing yet. A member's
    own "excused" answer is only a request until the secretary accepts it (DESIGN.md §4:
    excused means a reason the secretary accepts; nobody is absent because they did not tap)."""
    if invitation.attendance is not None:
        return invitation.attendance
    if invitation.checked_in_at is not None:
        return Attendance.PRESENT
    return Attendance.UNRECORDED


def excuse_waiting(invitation: MeetingInvitation) -> bool:
    """The member gave a reason for their absence and the secretary has not decided on it."""
    return invitation.rsvp is Rsvp.EXCUSED and attendance_of(invitation) is Attendance.UNRECORDED


def summarize(meeting: Meeting, invitations: Iterable[MeetingInvitation]) -> Summary:
    """Exempt members (miễn sinh hoạt) count towards validity only when present; excused members
    still count among those who must attend."""
    invited = attending = declined = excused = present = absent = unrecorded = must_attend = 0
    for invitation in invitations:
        invited += 1
        state = attendance_of(invitation)
        attending += invitation.rsvp is Rsvp.ATTENDING
        declined += invitation.rsvp is Rsvp.EXCUSED
        present += state is Attendance.PRESENT
        excused += state is Attendance.EXCUSED
        absent += state is Attendance.ABSENT
        unrecorded += state is Attendance.UNRECORDED
        must_attend += not invitation.exempt or state is Attendance.PRESENT
    return Summary(
        invited, must_attend, attending, declined, excused, present, absent, unrecorded,
        meeting.quorum_numerator, meeting.quorum_denominator,
    )  # fmt: skip


def reminders_ahead(meeting: Meeting, now: datetime) -> list[int]:
    """The meeting's reminders (minutes before) still in the future: only these are offered or set."""
    return [minutes for minutes, due in reminder_times(meeting.starts_at, meeting.reminder_minutes) if due > now]


def check_in_open(meeting: Meeting, now: datetime) -> bool:
    opens, closes = check_in_window(meeting)
    return opens <= now <= closes


def reminder_times(starts_at: datetime, minutes_before: Iterable[int]) -> list[tuple[int, datetime]]:
    """(offset, due time) for each reminder, latest offset first, duplicates dropped."""
    return [(minutes, starts_at - timedelta(minutes=minutes)) for minutes in sorted(set(minutes_before), reverse=True)]


def next_occurrence(previous_start: datetime, repeat_day: int, tz: tzinfo) -> datetime:
    """The same local time on ``repeat_day`` of the next month (the last day of a shorter month)."""
    local = previous_start.astimezone(tz)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    day = min(repeat_day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(previous_start.tzinfo)


def check_in_window(meeting: Meeting) -> tuple[datetime, datetime]:
    return meeting.starts_at - CHECK_IN_BEFORE, meeting.starts_at + CHECK_IN_AFTER
