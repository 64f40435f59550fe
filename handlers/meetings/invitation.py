"""Members and their invitations: the schedule, answering, checking in, documents, their history."""

from __future__ import annotations

from babel.dates import format_datetime

from handlers.context import Context, moment_words
from handlers.contract import Button, Document, Reply
from handlers.meetings.actions import (
    REASONS,
    AnswerInvitation,
    AttendanceRates,
    Excuse,
    MeetingCard,
    MeetingCheckIn,
    MeetingDocument,
    MeetingList,
    MyAttendance,
    NewMeeting,
    PastMeetings,
)
from handlers.meetings.cards import card
from handlers.meetings.common import question, router
from handlers.meetings.texts import details_row, reason_name, rsvp_words
from handlers.menus import Meetings
from handlers.questions import Ask, Awaiting, Question
from models.errors import NotFound
from models.meeting_queries import document_for, meeting_to_read
from models.meetings import CheckIn, answer, attendance_of, check_in, past_for, upcoming_for
from models.permissions import Permission, Target, may
from models.tables import Attendance, Meeting, MeetingInvitation, Member, Rsvp
from models.vietnamese import shorten

LISTED = 10


@router.on(Meetings)
async def meetings_home(ctx: Context, member: Member, action: Meetings) -> list[Reply]:
    """ "Cuộc họp": upcoming meetings with my answer, my attendance, past meetings and their minutes."""
    _ = ctx.gettext
    t = ctx.translator
    listed = await upcoming_for(ctx.session, member)
    lines = ["📅 " + _("Meeting schedule"), ""]
    buttons: list[tuple[Button, ...]] = []
    if not listed:
        lines.append(_("No meetings are planned for you."))
    for meeting, invitation in listed:
        lines.append(
            f"• {moment_words(t, meeting.starts_at, ctx.timezone)}: {meeting.title} — {rsvp_words(t, invitation)}"
        )
        buttons.append((Button("📅 " + shorten(meeting.title, 40), MeetingCard(meeting.id or 0).pack()),))
    buttons.append(
        (
            Button("🧾 " + _("My attendance"), MyAttendance().pack()),
            Button("📚 " + _("Past meetings"), PastMeetings().pack()),
        )
    )
    if may(member, Permission.MANAGE_MEETINGS, Target(member.branch_id)):
        buttons.append(
            (
                Button("➕ " + _("New meeting"), NewMeeting().pack()),
                Button("📋 " + _("Branch meetings"), MeetingList().pack()),
            )
        )
        buttons.append((Button("📈 " + _("Attendance rates"), AttendanceRates().pack()),))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


@router.on(MeetingCard)
async def _meeting_card(ctx: Context, member: Member, action: MeetingCard) -> list[Reply]:
    return await card(ctx, member, action.meeting_id)


@router.on(AnswerInvitation)
async def _answer_invitation(ctx: Context, member: Member, action: AnswerInvitation) -> list[Reply]:
    if action.choice == "yes":
        return await _reply(ctx, member, action.meeting_id, Rsvp.ATTENDING, None)
    _ = ctx.gettext
    ctx.ask(Awaiting(Question.ABSENCE_REASON, action.meeting_id))  # a reason typed instead of tapped counts
    reasons = tuple(
        Button(reason_name(ctx.translator, code), Excuse(action.meeting_id, code).pack()) for code in REASONS
    )
    other = (Button("✏️ " + _("Another reason"), Ask(Question.ABSENCE_REASON, action.meeting_id).pack()),)
    return [Reply(_("What is the reason for your absence?"), buttons=(reasons, other))]


@router.on(Excuse)
async def _excuse(ctx: Context, member: Member, action: Excuse) -> list[Reply]:
    return await _reply(ctx, member, action.meeting_id, Rsvp.EXCUSED, reason_name(ctx.translator, action.reason))


@router.prompts(Question.ABSENCE_REASON)
async def _ask_reason(ctx: Context, member: Member, awaiting: Awaiting) -> list[Reply]:
    await meeting_to_read(ctx.session, member, awaiting.subject)
    ctx.ask(awaiting)
    return [question(ctx, ctx.gettext("Type the reason for your absence."))]


@router.answers(Question.ABSENCE_REASON)
async def _reason_typed(ctx: Context, member: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    if awaiting.subject is None:
        raise NotFound("meeting")
    return await _reply(ctx, member, awaiting.subject, Rsvp.EXCUSED, text)


async def _reply(ctx: Context, member: Member, meeting_id: int, choice: Rsvp, reason: str | None) -> list[Reply]:
    """The member's answer recorded, and what it means."""
    _ = ctx.gettext
    meeting = await answer(ctx.session, meeting_id, member, choice, reason)
    if choice is Rsvp.ATTENDING:
        text = _("Thank you. You will attend: {title}, {when}. I will remind you before it starts.")
    else:
        text = _(
            "Thank you. Your request to be excused from {title} ({when}) is noted with the reason: {reason}. "
            "It counts once the secretary accepts it."
        )
    text = text.format(
        title=meeting.title, when=moment_words(ctx.translator, meeting.starts_at, ctx.timezone), reason=reason
    )
    return [Reply(text, buttons=(details_row(ctx.translator, meeting_id),))]


@router.on(MeetingCheckIn)
async def _check_in(ctx: Context, member: Member, action: MeetingCheckIn) -> list[Reply]:
    _ = ctx.gettext
    done = await check_in(ctx.session, action.meeting_id, member)
    # What was recorded, in the member's words: the meeting and the time of the check-in.
    meeting = await ctx.session.get(Meeting, action.meeting_id)
    invitation = await ctx.session.get(MeetingInvitation, (action.meeting_id, member.id))
    assert meeting is not None and invitation is not None and invitation.checked_in_at is not None
    when = moment_words(ctx.translator, invitation.checked_in_at, ctx.timezone)
    facts = {"title": shorten(meeting.title, 60), "when": when}
    text = {
        CheckIn.FIRST: _("Checked in: you are recorded present at \u201c{title}\u201d, at {when}."),
        CheckIn.AGAIN: _("You were already checked in: present at \u201c{title}\u201d since {when}."),
        # The later action counts: being at the meeting replaces the excuse sent before it.
        CheckIn.REPLACED_EXCUSE: _(
            "Checked in: you are recorded present at \u201c{title}\u201d, at {when}. Your earlier request to be "
            "excused no longer counts."
        ),
    }[done].format(**facts)
    return [Reply("🙋 " + text)]


@router.on(MeetingDocument)
async def _send_file(ctx: Context, member: Member, action: MeetingDocument) -> list[Reply]:
    file, meeting = await document_for(ctx.session, member, action.file_id)
    document = Document(file.id or 0, file.filename, file.is_photo, source="meeting")
    return [Reply("📎 " + file.filename + " — " + meeting.title, document=document)]


@router.on(MyAttendance)
async def _my_attendance(ctx: Context, member: Member, action: MyAttendance) -> list[Reply]:
    _ = ctx.gettext
    t = ctx.translator
    listed = await past_for(ctx.session, member)
    if not listed:
        return [Reply(_("You have no meetings in the last 12 months."))]
    words = {
        Attendance.PRESENT: "✅ " + _("present"),
        Attendance.EXCUSED: "🙏 " + _("excused"),
        Attendance.ABSENT: "❌ " + _("absent without reason"),
        Attendance.UNRECORDED: "❔ " + _("not recorded yet"),
    }
    states = [attendance_of(invitation) for _meeting, invitation in listed]
    lines = [
        "🧾 " + _("Your attendance in the last 12 months"),
        _("Present at {present} of {total} meetings.").format(
            present=states.count(Attendance.PRESENT),
            total=sum(
                not (i.exempt and st is not Attendance.PRESENT) for (_m, i), st in zip(listed, states, strict=True)
            ),
        ),
        "",
    ]
    for (meeting, invitation), state in zip(listed, states, strict=True):
        day = format_datetime(meeting.starts_at, "dd/MM/yyyy", tzinfo=ctx.timezone, locale=t.locale)
        word = _("exempt") if invitation.exempt and state is not Attendance.PRESENT else words[state]
        lines.append(f"• {day} {meeting.title}: {word}")
    return [Reply("\n".join(lines))]


@router.on(PastMeetings)
async def _past_meetings(ctx: Context, member: Member, action: PastMeetings) -> list[Reply]:
    _ = ctx.gettext
    listed = await past_for(ctx.session, member)
    if not listed:
        return [Reply(_("You have no meetings in the last 12 months."))]
    buttons = tuple(
        (
            Button(
                ("📝 " if meeting.minutes_text or meeting.conclusions else "📅 ")
                + format_datetime(meeting.starts_at, "dd/MM", tzinfo=ctx.timezone, locale=ctx.translator.locale)
                + " "
                + shorten(meeting.title, 40),
                MeetingCard(meeting.id or 0).pack(),
            ),
        )
        for meeting, _invitation in listed[:LISTED]
    )
    return [Reply(_("Past meetings (📝: minutes available):"), buttons=buttons)]
