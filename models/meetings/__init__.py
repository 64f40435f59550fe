"""Meetings: called, reminded, attended, minuted.

Every reminder and timed job is a ``MeetingJob`` row (what, for whom, due when, what became of
it). Whoever runs the scheduler claims due rows with one conditional UPDATE (``SKIP LOCKED`` on
PostgreSQL) and writes the outbox rows in the same transaction, so any number of processes may run
it: each job runs once, and a crash between the claim and the send loses nothing.

One module per subject: ``rules`` (pure), ``people`` (who a meeting concerns), ``lifecycle``
(draft, call, move, cancel), ``attendance``, ``files`` (minutes and documents), ``queries`` and
``jobs`` (the engine the scheduler runs). Import from here: every public name is re-exported.
"""

from __future__ import annotations

from models.meetings.attendance import (
    CheckIn,
    answer,
    check_in,
    confirm_attendance,
    mark,
    mark_all,
    summary,
    unexcused_months,
)
from models.meetings.files import (
    MAX_FILE_BYTES,
    PHOTO_SUFFIXES,
    attach,
    files_of,
    may_see,
    set_minutes,
)
from models.meetings.jobs import (
    DueRun,
    invite_latecomers,
    next_due_at,
    run_due,
)
from models.meetings.lifecycle import (
    call,
    cancel,
    change_draft,
    clean_agenda,
    create_draft,
    reschedule,
    set_quorum,
)
from models.meetings.people import (
    check_meeting,
    invitations,
    invitees,
    secretaries,
)
from models.meetings.queries import (
    MeetingRate,
    MemberRate,
    attendance_rates,
    drafts_of,
    meeting_rates,
    meetings_between,
    meetings_managed,
    past_for,
    upcoming_for,
)
from models.meetings.rules import (
    ABSENCE_WARNING_MONTHS,
    ABSENCE_WINDOW_MONTHS,
    CHECK_IN_AFTER,
    CHECK_IN_BEFORE,
    DEFAULT_REMINDER_MINUTES,
    MAX_AGENDA_ITEMS,
    MAX_MINUTES_TEXT,
    MAX_PLACE,
    MAX_REASON,
    MAX_TITLE,
    SUMMARY_USEFUL_FOR,
    YEAR,
    AbsenceWarning,
    MeetingError,
    MeetingMessages,
    MeetingProblem,
    Summary,
    attendance_of,
    check_in_open,
    check_in_window,
    check_start,
    excuse_waiting,
    next_occurrence,
    reminder_times,
    reminders_ahead,
    summarize,
)

__all__ = [
    "ABSENCE_WARNING_MONTHS",
    "ABSENCE_WINDOW_MONTHS",
    "CHECK_IN_AFTER",
    "CHECK_IN_BEFORE",
    "DEFAULT_REMINDER_MINUTES",
    "MAX_AGENDA_ITEMS",
    "MAX_FILE_BYTES",
    "MAX_MINUTES_TEXT",
    "MAX_PLACE",
    "MAX_REASON",
    "MAX_TITLE",
    "PHOTO_SUFFIXES",
    "SUMMARY_USEFUL_FOR",
    "YEAR",
    "AbsenceWarning",
    "CheckIn",
    "DueRun",
    "MeetingError",
    "MeetingMessages",
    "MeetingProblem",
    "MeetingRate",
    "MemberRate",
    "Summary",
    "answer",
    "attach",
    "attendance_of",
    "attendance_rates",
    "call",
    "cancel",
    "change_draft",
    "check_in",
    "check_in_open",
    "check_in_window",
    "check_meeting",
    "check_start",
    "clean_agenda",
    "confirm_attendance",
    "create_draft",
    "drafts_of",
    "excuse_waiting",
    "files_of",
    "invitations",
    "invite_latecomers",
    "invitees",
    "mark",
    "mark_all",
    "may_see",
    "meeting_rates",
    "meetings_between",
    "meetings_managed",
    "next_due_at",
    "next_occurrence",
    "past_for",
    "reminder_times",
    "reminders_ahead",
    "reschedule",
    "run_due",
    "secretaries",
    "set_minutes",
    "set_quorum",
    "summarize",
    "summary",
    "unexcused_months",
    "upcoming_for",
]
