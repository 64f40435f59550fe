"""A meeting's card (what it is, the member's answer, its documents and minutes, and for its
manager the tools) and a draft's preview."""

from __future__ import annotations

from handlers.books.actions import MeetingRecord, StandardAgenda
from handlers.context import Context
from handlers.contract import Button, Reply, Rows
from handlers.meetings.actions import (
    AttendanceBoard,
    CallMeeting,
    CancelMeeting,
    MeetingCheckIn,
    MeetingDocument,
    MeetingOption,
    SetMeetingOption,
)
from handlers.meetings.texts import attendees_words, details_text, offsets, rsvp_row, rsvp_words
from handlers.questions import Ask, Question
from models.meeting_queries import invitation_of, manages, meeting_to_read
from models.meetings import check_in_window, files_of, invitees, reminders_ahead
from models.tables import Meeting, MeetingKind, MeetingStatus, Member, utcnow


async def card(ctx: Context, member: Member, meeting_id: int | None, note: str = "") -> list[Reply]:
    """The card of a meeting the member may see; a draft shows its preview."""
    meeting = await meeting_to_read(ctx.session, member, meeting_id)
    if meeting.status is MeetingStatus.DRAFT:
        return [await preview(ctx, meeting, note)]
    _ = ctx.gettext
    t = ctx.translator
    ident = meeting.id or 0
    now = utcnow()
    lines = [note] if note else []
    lines.append(details_text(t, meeting, ctx.timezone))
    if meeting.status is MeetingStatus.CANCELLED:
        lines.append("\n❌ " + _("This meeting has been cancelled."))
    invitation = await invitation_of(ctx.session, meeting, member.id)
    buttons: list[tuple[Button, ...]] = []
    live = meeting.status is MeetingStatus.CALLED
    if invitation is not None and live:
        lines.append("\n" + _("Your answer: {answer}").format(answer=rsvp_words(t, invitation)))
        opens, closes = check_in_window(meeting)
        if now < meeting.starts_at:
            buttons.append(rsvp_row(t, ident))
        if opens <= now <= closes and invitation.checked_in_at is None:
            buttons.append((Button("🙋 " + _("I am here"), MeetingCheckIn(ident).pack()),))
    if meeting.conclusions:
        lines += ["", "📌 " + _("Conclusions:"), meeting.conclusions]
    if meeting.minutes_text:
        lines += ["", "📝 " + _("Minutes:"), meeting.minutes_text]
    for file in await files_of(ctx.session, ident):
        label = ("📝 " if file.is_minutes else "📎 ") + file.filename[:50]
        if file.url is not None:
            lines.append(f"{label}: {file.url}")
        else:
            buttons.append((Button(label, MeetingDocument(file.id or 0).pack()),))
    if live and await manages(ctx.session, member, meeting):
        buttons.append((Button("📋 " + _("Attendance"), AttendanceBoard(ident).pack()),))
        if now < meeting.starts_at:
            buttons.append(
                (
                    Button("🔁 " + _("Move"), Ask(Question.MEETING_MOVE, ident).pack()),
                    Button("❌ " + _("Cancel the meeting"), CancelMeeting(ident).pack()),
                )
            )
        buttons.append(
            (
                Button("📝 " + _("Minutes"), Ask(Question.MEETING_MINUTES_TEXT, ident).pack()),
                Button("📌 " + _("Conclusions"), Ask(Question.MEETING_CONCLUSIONS, ident).pack()),
            )
        )
        buttons.append(
            (
                Button("📎 " + _("Add a document"), Ask(Question.MEETING_FILE, ident).pack()),
                Button("📝 " + _("Minutes file"), Ask(Question.MEETING_MINUTES_FILE, ident).pack()),
            )
        )
        if meeting.starts_at <= now and meeting.branch_id is not None:  # its record in the branch's books
            buttons.append((Button("📚 " + _("Resolution and votes"), MeetingRecord(ident).pack()),))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


async def preview(ctx: Context, meeting: Meeting, note: str = "") -> Reply:
    _ = ctx.gettext
    t = ctx.translator
    invited = await invitees(ctx.session, meeting)
    lines = [note, _("Preview of the invitation:"), "", details_text(t, meeting, ctx.timezone), ""]
    who = attendees_words(t, meeting, [m.full_name for m in invited])
    lines.append(_("Invited: {who} ({count})").format(who=who, count=len(invited)))
    if meeting.time_set and not reminders_ahead(meeting, utcnow()):
        lines.append(_("Reminders: none, the meeting starts too soon for them."))
    else:
        lines.append(
            _("Reminders: {offsets} before, to everyone who has not declined.").format(
                offsets=offsets(t, meeting, utcnow())
            )
        )
    if meeting.repeat_day is not None:
        lines.append(_("Repeats: on day {day} of every month, same time.").format(day=meeting.repeat_day))
    files = await files_of(ctx.session, meeting.id or 0)
    if files:
        lines.append(_("Documents: {names}").format(names=", ".join(f.filename for f in files)))
    ident = meeting.id or 0

    def ask(label: str, question: Question) -> Button:
        return Button(label, Ask(question, ident).pack())

    def option(label: str, value: MeetingOption) -> Button:
        return Button(label, SetMeetingOption(ident, value).pack())

    buttons: Rows = (
        (ask("⏰ " + _("Time"), Question.MEETING_WHEN), ask("📍 " + _("Place"), Question.MEETING_PLACE)),
        (
            ask("📝 " + _("Agenda"), Question.MEETING_AGENDA),
            ask("🔗 " + _("Map or video link"), Question.MEETING_LINK),
        ),
        (
            option("🏷 " + _("Kind"), "kind"),
            option("👥 " + _("Who attends"), "who"),
        ),
        (
            option("🔁 " + (_("Do not repeat") if meeting.repeat_day else _("Repeat monthly")), "repeat"),
            option("🔔 " + _("Reminders"), "remind"),
        ),
        (
            ask("📎 " + _("Add a document"), Question.MEETING_FILE),
            ask("👤 " + _("Choose people"), Question.MEETING_PEOPLE),
        ),
        # A regular meeting's usual agenda in one tap (Hướng dẫn 12-HD/BTCTW).
        *(
            ((Button("📋 " + _("Standard agenda"), StandardAgenda(ident).pack()),),)
            if meeting.kind is MeetingKind.REGULAR and meeting.branch_id is not None
            else ()
        ),
        (
            Button("📤 " + _("Send the invitations"), CallMeeting(ident).pack()),
            Button("✖️ " + _("Cancel"), CancelMeeting(ident).pack()),
        ),
    )  # fmt: skip
    return Reply("\n".join(lines).strip(), buttons=buttons)
