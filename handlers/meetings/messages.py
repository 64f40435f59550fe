"""The meeting messages chibo sends by itself (invitations, reminders, moves, cancellations, the
secretary's summary and absence warnings), in each member's language, for the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from handlers.context import Context, moment_words
from handlers.contract import Button, Catalogs, Reply, Rows, Translator
from handlers.meetings.actions import AttendanceBoard, MeetingCheckIn
from handlers.meetings.texts import attendees_words, details_row, details_text, offset_text, rsvp_row, summary_lines
from models.meetings import AbsenceWarning, MeetingMessages, Summary, check_in_open
from models.tables import Meeting, Member, utcnow

# A reminder this close to the start offers the check-in instead of the answer.
CHECK_IN_REMINDER = timedelta(minutes=30)


class ChatMeetingMessages(MeetingMessages):
    """The meeting messages chibo sends by itself, in each member's language."""

    def __init__(self, catalogs: Catalogs, timezone: Any) -> None:
        self.catalogs, self.timezone = catalogs, timezone

    def _t(self, member: Member) -> Translator:
        return self.catalogs.translator(member.locale)

    def invitation(self, member: Member, meeting: Meeting) -> dict[str, Any]:
        t = self._t(member)
        _ = t.gettext
        # The forms of an invitation (DESIGN.md §4 "Words"): "Trân trọng kính mời đồng chí…", "Thành phần".
        text = "✉️ " + _("Meeting invitation") + "\n\n"
        text += _("We respectfully invite comrade {name} to attend:").format(name=member.full_name) + "\n\n"
        text += details_text(t, meeting, self.timezone) + "\n"
        text += _("Attendees: {who}").format(who=attendees_words(t, meeting))
        text += "\n\n" + _("Will you attend?")
        buttons = (*self._check_in(t, meeting), rsvp_row(t, meeting.id or 0), details_row(t, meeting.id or 0))
        return Reply(text, buttons=buttons).to_dict()

    @staticmethod
    def _check_in(t: Translator, meeting: Meeting) -> Rows:
        """ "I am here" on a message made while members can check in (from 30 minutes before)."""
        if not check_in_open(meeting, utcnow()):
            return ()
        return ((Button("🙋 " + t.gettext("I am here"), MeetingCheckIn(meeting.id or 0).pack()),),)

    def reminder(self, member: Member, meeting: Meeting, minutes_before: int) -> dict[str, Any]:
        t = self._t(member)
        _ = t.gettext
        if minutes_before == 24 * 60:  # a day before, at the same time: the meeting is tomorrow
            text = "⏰ " + _("Reminder: the meeting is tomorrow.")
        else:
            text = "⏰ " + _("Reminder: the meeting starts in {offset}.").format(offset=offset_text(t, minutes_before))
        text += "\n\n" + details_text(t, meeting, self.timezone)
        if timedelta(minutes=minutes_before) <= CHECK_IN_REMINDER or check_in_open(meeting, utcnow()):
            buttons: Rows = ((Button("🙋 " + _("I am here"), MeetingCheckIn(meeting.id or 0).pack()),),)
        else:
            buttons = (rsvp_row(t, meeting.id or 0), details_row(t, meeting.id or 0))
        return Reply(text, buttons=buttons).to_dict()

    def moved(self, member: Member, meeting: Meeting, previous_start: datetime) -> dict[str, Any]:
        t = self._t(member)
        _ = t.gettext
        text = "🔁 " + _("The meeting has been moved from {before} to {after}.").format(
            before=moment_words(t, previous_start, self.timezone),
            after=moment_words(t, meeting.starts_at, self.timezone),
        )
        text += "\n\n" + details_text(t, meeting, self.timezone) + "\n\n" + _("Will you attend at the new time?")
        buttons = (*self._check_in(t, meeting), rsvp_row(t, meeting.id or 0), details_row(t, meeting.id or 0))
        return Reply(text, buttons=buttons).to_dict()

    def cancelled(self, member: Member, meeting: Meeting) -> dict[str, Any]:
        t = self._t(member)
        text = "❌ " + t.gettext("Cancelled: {title}, {when}.").format(
            title=meeting.title, when=moment_words(t, meeting.starts_at, self.timezone)
        )
        return Reply(text).to_dict()

    def start_summary(self, member: Member, meeting: Meeting, summary: Summary) -> dict[str, Any]:
        t = self._t(member)
        _ = t.gettext
        lines = ["🔔 " + _("The meeting starts now: {title}.").format(title=meeting.title), ""]
        lines += summary_lines(t, summary, answers=True)
        lines += [
            "",
            _(
                "Members can tap \u201cI am here\u201d until an hour after the start; mark the others yourself, "
                "then confirm the list: nobody is counted absent before you do."
            ),
        ]
        buttons = ((Button("📋 " + _("Attendance"), AttendanceBoard(meeting.id or 0).pack()),),)
        return Reply("\n".join(lines), buttons=buttons).to_dict()

    def absence_warning(self, member: Member, meeting: Meeting, absent: list[AbsenceWarning]) -> dict[str, Any]:
        t = self._t(member)
        _ = t.gettext
        lines = [
            "⚠️ "
            + _("Only for you, comrade secretary. After confirming the attendance of {title}:").format(
                title=meeting.title
            ),
            _("Months of the last 12 with a regular branch meeting missed without a reason:"),
        ]
        for warning in absent:
            line = f"• {warning.name}: {len(warning.months)}"
            if warning.months:
                line += " (" + ", ".join(f"{month.month:02d}/{month.year}" for month in warning.months) + ")"
            if warning.unpaid:
                line += "; " + _("party dues unpaid: {count} ({months})").format(
                    count=len(warning.unpaid),
                    months=", ".join(f"{month.month:02d}/{month.year}" for month in warning.unpaid),
                )
            lines.append(line)
        lines.append(
            _(
                "Under Quy định 29 (and Charter art. 8), leaving Party activity for three months in a year "
                "without a valid reason is a ground for removal from the Party (xóa tên). Please talk to them "
                "before a third month."
            )
        )
        if any(warning.unpaid for warning in absent):
            lines.append(
                _(
                    "Not paying party dues for three months in a year without a valid reason is a ground for "
                    "removal as well (Quy định 29); months missed and months unpaid are counted together here."
                )
            )
        return Reply("\n".join(lines)).to_dict()


def messages_maker(catalogs: Catalogs, timezone: Any) -> ChatMeetingMessages:
    return ChatMeetingMessages(catalogs, timezone)


def chat_messages(ctx: Context) -> ChatMeetingMessages:
    """The messages a secretary's action sends, made in the same way as the scheduler's."""
    return ChatMeetingMessages(ctx.catalogs, ctx.timezone)
