"""What meetings say, shared by the screens and the messages chibo sends by itself."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from handlers.context import moment_words, names_text
from handlers.contract import Button, Translator
from handlers.meetings.actions import AnswerInvitation, MeetingCard, ReasonCode
from models.audience import Audience, AudienceFilter
from models.meetings import MeetingError, MeetingProblem, Summary, reminders_ahead
from models.tables import Attendance, Meeting, MeetingInvitation, MeetingKind, Rsvp

NAMES_SHOWN = 40


def kind_name(t: Translator, kind: MeetingKind) -> str:
    _ = t.gettext
    return {
        MeetingKind.REGULAR: _("Regular branch meeting"),
        MeetingKind.THEMATIC: _("Thematic meeting"),
        MeetingKind.COMMITTEE: _("Committee meeting"),
        MeetingKind.OTHER: _("Other meeting"),
    }[kind]


def reason_name(t: Translator, code: ReasonCode) -> str:
    _ = t.gettext
    return {"sick": _("Ill"), "work": _("Away for work"), "family": _("Family matters")}[code]


def offset_text(t: Translator, minutes: int) -> str:
    # People count whole days in days ("1 ngày", not "24 giờ"), and hours under a day.
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return t.ngettext("{count} day", "{count} days", days).format(count=days)
    if minutes % 60 == 0:
        hours = minutes // 60
        return t.ngettext("{count} hour", "{count} hours", hours).format(count=hours)
    return t.ngettext("{count} minute", "{count} minutes", minutes).format(count=minutes)


def offsets(t: Translator, meeting: Meeting, now: datetime | None = None) -> str:
    """The reminders, those still ahead of ``now`` only when given (one already due is never set)."""
    chosen = meeting.reminder_minutes if now is None or not meeting.time_set else reminders_ahead(meeting, now)
    return ", ".join(offset_text(t, m) for m in sorted(chosen, reverse=True)) or "—"


def details_text(t: Translator, meeting: Meeting, timezone: Any) -> str:
    """Title, kind, time, place, link and agenda: what an invitation and a card both show."""
    _ = t.gettext
    lines = [
        "📅 " + meeting.title,
        kind_name(t, meeting.kind),
        # A draft's placeholder time is never shown as if it were chosen.
        "🕖 " + (moment_words(t, meeting.starts_at, timezone) if meeting.time_set else _("time not set yet")),
    ]
    if meeting.place:
        lines.append("📍 " + meeting.place)
    if meeting.link:
        lines.append("🔗 " + meeting.link)
    if meeting.agenda:
        lines += ["", _("Agenda:")] + [f"{i}. {item}" for i, item in enumerate(meeting.agenda, start=1)]
    return "\n".join(lines)


def rsvp_row(t: Translator, meeting_id: int) -> tuple[Button, ...]:
    _ = t.gettext
    return (
        Button("✅ " + _("I will attend"), AnswerInvitation(meeting_id, "yes").pack()),
        Button("🙏 " + _("Excused absence"), AnswerInvitation(meeting_id, "no").pack()),
    )


def details_row(t: Translator, meeting_id: int) -> tuple[Button, ...]:
    return (Button("📄 " + t.gettext("Details and documents"), MeetingCard(meeting_id).pack()),)


def summary_lines(t: Translator, counts: Summary, *, answers: bool) -> list[str]:
    _ = t.gettext
    if answers:
        return [
            _("Invited: {count}").format(count=counts.invited),
            _("Will attend: {count}").format(count=counts.attending),
            _("Asked to be excused: {count}").format(count=counts.declined),
            _("No answer yet: {count}").format(count=counts.invited - counts.attending - counts.declined),
        ]
    return [
        _("Present: {count}").format(count=counts.present),
        _("Excused: {count}").format(count=counts.excused),
        _("Absent without reason: {count}").format(count=counts.absent),
        _("Not recorded: {count}").format(count=counts.unrecorded),
    ]


def validity_text(t: Translator, counts: Summary) -> str:
    _ = t.gettext
    # DESIGN.md §4: at least 2/3 of those who must attend by default (the one sourced figure;
    # Hướng dẫn 12-HD/BTCTW), a setting of the branch, never a rule of chibo.
    rule = _(
        "Valid with at least {numerator}/{denominator} of the {base} members who must attend present "
        "({needed} people; this is the branch's setting; exempt members count only when present)."
    ).format(numerator=counts.numerator, denominator=counts.denominator, base=counts.must_attend, needed=counts.needed)
    verdict = (
        "✅ " + _("Valid: {present} of {base} present.")
        if counts.valid
        else "❌ " + _("Not valid yet: {present} of {base} present.")
    ).format(present=counts.present, base=counts.must_attend)
    return rule + "\n" + verdict


def problem_text(t: Translator, error: MeetingError) -> str:
    _ = t.gettext
    # The last day a meeting may be set on travels as an ISO date; shown as the secretary types one.
    day = date.fromisoformat(error.detail).strftime("%d/%m/%Y") if error.problem is MeetingProblem.TOO_FAR_AHEAD else ""
    return {
        MeetingProblem.EMPTY_TITLE: _("The title is empty. Please type it."),
        MeetingProblem.IN_THE_PAST: _("That time has already passed. Please type a later one."),
        MeetingProblem.TOO_FAR_AHEAD: _(
            "A meeting can be set at most a year ahead, up to and including {day}. Please type an earlier day."
        ),
        MeetingProblem.NO_TIME: _("The meeting has no time yet. Tap \u201cTime\u201d and type it."),
        MeetingProblem.NOT_A_DRAFT: _("This meeting has already been called or cancelled."),
        MeetingProblem.NOT_CALLED: _("This meeting has been cancelled."),
        MeetingProblem.ALREADY_STARTED: _("This meeting has already begun."),
        MeetingProblem.NO_INVITEES: _("Nobody would be invited. Choose who attends."),
        MeetingProblem.NOT_INVITED: _("You are not invited to this meeting."),
        MeetingProblem.CHECK_IN_CLOSED: _(
            "Checking in is possible from 30 minutes before the start to an hour after it."
        ),
        MeetingProblem.BAD_DAY: _("A day of the month is a number from 1 to 31."),
        MeetingProblem.BAD_FRACTION: _("The rule is a fraction between 0 and 1, such as 2/3 or 1/2."),
        MeetingProblem.TOO_LONG: _("That is too long (at most {detail})."),
        MeetingProblem.SECRET_DOCUMENT: _(
            "This document is marked \u201c{detail}\u201d. Secret documents never go through a chat platform."
        ),
        MeetingProblem.FILE_TOO_LARGE: _("The file is too large (at most {detail} MB)."),
        MeetingProblem.SECRET_TEXT: _(
            "This text carries the classification mark \u201c{detail}\u201d. Classified content never goes through a "
            "chat platform; please keep it on paper. Nothing was saved."
        ),
        MeetingProblem.CHECKED_IN: _(
            "You have checked in as present at this meeting, so your request to be excused was not recorded."
        ),
        MeetingProblem.NOT_STARTED: _("The attendance list can be confirmed once the meeting has begun."),
        MeetingProblem.CONFIRMED: _("The attendance list of this meeting is already confirmed."),
        MeetingProblem.UNRECORDED_LEFT: _(
            "{detail} members are not recorded yet. Mark them, or choose \u201cThe remaining comrades: absent "
            "without reason\u201d."
        ),
        MeetingProblem.EXCUSES_WAITING: _(
            "These comrades asked to be excused and await your decision: {detail}. Accept or refuse each reason first."
        ),
        MeetingProblem.MARKED: _("The secretary has already recorded your attendance at this meeting."),
    }[error.problem].format(detail=error.detail, day=day)


def rsvp_words(t: Translator, invitation: MeetingInvitation) -> str:
    _ = t.gettext
    if invitation.checked_in_at is not None or invitation.attendance is Attendance.PRESENT:
        return "🙋 " + _("you are checked in")
    if invitation.rsvp is Rsvp.ATTENDING:
        return "✅ " + _("you will attend")
    if invitation.attendance is Attendance.EXCUSED:
        return "🙏 " + _("excused") + (f" ({invitation.reason})" if invitation.reason else "")
    if invitation.attendance is Attendance.ABSENT:
        return "❌ " + _("absent without reason")
    if invitation.rsvp is Rsvp.EXCUSED:
        return "🙏 " + _("asked to be excused: {reason} (awaiting the secretary's acceptance)").format(
            reason=invitation.reason or "—"
        )
    return "❔ " + _("not answered yet")


def names_or_dash(t: Translator, names: list[str]) -> str:
    return names_text(t, names, NAMES_SHOWN) or "—"


def attendees_words(t: Translator, meeting: Meeting, names: list[str] | None = None) -> str:
    """Who is invited (Thành phần), as an invitation names it; ``names`` for chosen people."""
    _ = t.gettext
    audience = Audience.from_json(meeting.audience)
    if audience.members is not None:
        if names is None:
            return _("the comrades invited by name")
        return _("chosen people: {names}").format(names=", ".join(names))
    if meeting.branch_id is None and audience.filter is AudienceFilter.COMMITTEE:
        return _("the commune Party committee")
    if audience.filter is AudienceFilter.COMMITTEE:
        return _("the branch committee")
    return _("all branch members")
