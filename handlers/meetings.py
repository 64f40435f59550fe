"""Meetings in chat: the secretary calls one and takes attendance; members answer the invitation,
check in, and read the agenda, the documents and the minutes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_datetime

from handlers.context import Context, moment_words, names_text
from handlers.contract import Attachment, Button, Catalogs, Document, Reply, Rows, Translator
from handlers.members import home, refused
from handlers.notices import match_people
from handlers.payloads import Action, Payload
from handlers.times import read_answer
from models.meetings import (
    AbsenceWarning,
    CheckIn,
    MeetingError,
    MeetingMessages,
    MeetingProblem,
    Summary,
    answer,
    attach,
    attendance_of,
    attendance_rates,
    call,
    cancel,
    change_draft,
    check_in,
    check_in_window,
    check_meeting,
    confirm_attendance,
    create_draft,
    excuse_waiting,
    files_of,
    invitations,
    invitees,
    mark,
    may_see,
    meetings_managed,
    past_for,
    reschedule,
    set_minutes,
    summarize,
    upcoming_for,
)
from models.membership import NotPermitted
from models.notices import Audience, AudienceFilter
from models.permissions import Permission, Scope, Target, may, scope_of
from models.tables import (
    Attendance,
    Meeting,
    MeetingFile,
    MeetingInvitation,
    MeetingKind,
    MeetingStatus,
    Member,
    MemberStatus,
    Rsvp,
    utcnow,
)

DEFAULT_DAYS_AHEAD = 7
DEFAULT_HOUR, DEFAULT_MINUTE = 19, 30
NAMES_SHOWN = 40
LISTED = 10
_URL = re.compile(r"^https?://\S{3,490}$")
REASONS = ("sick", "work", "family")
# What the "Reminders" button steps through, in minutes before the start (the first is the default).
REMINDER_PRESETS = ((24 * 60, 2 * 60), (24 * 60,), (2 * 60,), (3 * 24 * 60, 24 * 60, 2 * 60), (24 * 60, 2 * 60, 30))


def _button(label: str, action: Action, argument: str = "") -> Button:
    return Button(label, Payload(action, argument).encode())


def _cancel_row(t: Translator) -> tuple[Button, ...]:
    return (_button("✖️ " + t.gettext("Cancel"), Action.CANCEL),)


def kind_name(t: Translator, kind: MeetingKind) -> str:
    _ = t.gettext
    return {
        MeetingKind.REGULAR: _("Regular branch meeting"),
        MeetingKind.THEMATIC: _("Thematic meeting"),
        MeetingKind.COMMITTEE: _("Committee meeting"),
        MeetingKind.OTHER: _("Other meeting"),
    }[kind]


def _reason_name(t: Translator, code: str) -> str:
    _ = t.gettext
    return {"sick": _("Ill"), "work": _("Away for work"), "family": _("Family matters")}.get(code, code)


def _offset_text(t: Translator, minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return t.ngettext("{count} hour", "{count} hours", hours).format(count=hours)
    return t.ngettext("{count} minute", "{count} minutes", minutes).format(count=minutes)


def _offsets(t: Translator, meeting: Meeting) -> str:
    return ", ".join(_offset_text(t, m) for m in sorted(meeting.reminder_minutes, reverse=True)) or "—"


def details_text(t: Translator, meeting: Meeting, timezone: Any) -> str:
    """Title, kind, time, place, link and agenda: what an invitation and a card both show."""
    _ = t.gettext
    lines = [
        "📅 " + meeting.title,
        kind_name(t, meeting.kind),
        "🕖 " + moment_words(t, meeting.starts_at, timezone),
    ]
    if meeting.place:
        lines.append("📍 " + meeting.place)
    if meeting.link:
        lines.append("🔗 " + meeting.link)
    if meeting.agenda:
        lines += ["", _("Agenda:")] + [f"{i}. {item}" for i, item in enumerate(meeting.agenda, start=1)]
    return "\n".join(lines)


def _rsvp_row(t: Translator, meeting_id: int) -> tuple[Button, ...]:
    _ = t.gettext
    ident = str(meeting_id)
    return (
        _button("✅ " + _("I will attend"), Action.RSVP, f"{ident}:yes"),
        _button("🙏 " + _("Excused absence"), Action.RSVP, f"{ident}:no"),
    )


def _details_row(t: Translator, meeting_id: int) -> tuple[Button, ...]:
    return (_button("📄 " + t.gettext("Details and documents"), Action.MEETING, str(meeting_id)),)


def _summary_lines(t: Translator, counts: Summary, *, answers: bool) -> list[str]:
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


class ChatMeetingMessages(MeetingMessages):
    """The meeting messages chibo sends by itself, in each member's language."""

    def __init__(self, catalogs: Catalogs, timezone: Any) -> None:
        self.catalogs, self.timezone = catalogs, timezone

    def _t(self, member: Member) -> Translator:
        return self.catalogs.translator(member.locale)

    def invitation(self, member: Member, meeting: Meeting) -> dict[str, Any]:
        t = self._t(member)
        _ = t.gettext
        text = "✉️ " + _("Meeting invitation") + "\n\n" + details_text(t, meeting, self.timezone)
        text += "\n\n" + _("Will you attend?")
        buttons = (_rsvp_row(t, meeting.id or 0), _details_row(t, meeting.id or 0))
        return Reply(text, buttons=buttons).to_dict()

    def reminder(self, member: Member, meeting: Meeting, minutes_before: int) -> dict[str, Any]:
        t = self._t(member)
        _ = t.gettext
        text = "⏰ " + _("Reminder: the meeting starts in {offset}.").format(offset=_offset_text(t, minutes_before))
        text += "\n\n" + details_text(t, meeting, self.timezone)
        if minutes_before * 60 <= int(timedelta(minutes=30).total_seconds()):
            buttons: Rows = ((_button("🙋 " + _("I am here"), Action.CHECK_IN, str(meeting.id)),),)
        else:
            buttons = (_rsvp_row(t, meeting.id or 0), _details_row(t, meeting.id or 0))
        return Reply(text, buttons=buttons).to_dict()

    def moved(self, member: Member, meeting: Meeting, previous_start: datetime) -> dict[str, Any]:
        t = self._t(member)
        _ = t.gettext
        text = "🔁 " + _("The meeting has been moved from {before} to {after}.").format(
            before=moment_words(t, previous_start, self.timezone),
            after=moment_words(t, meeting.starts_at, self.timezone),
        )
        text += "\n\n" + details_text(t, meeting, self.timezone) + "\n\n" + _("Will you attend at the new time?")
        return Reply(text, buttons=(_rsvp_row(t, meeting.id or 0), _details_row(t, meeting.id or 0))).to_dict()

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
        lines += _summary_lines(t, summary, answers=True)
        lines += [
            "",
            _(
                "Members can tap \u201cI am here\u201d until an hour after the start; mark the others yourself, "
                "then confirm the list: nobody is counted absent before you do."
            ),
        ]
        buttons = ((_button("📋 " + _("Attendance"), Action.ATTENDANCE, str(meeting.id)),),)
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
        lines += [
            f"• {warning.name}: {len(warning.months)} ("
            + ", ".join(f"{month.month:02d}/{month.year}" for month in warning.months)
            + ")"
            for warning in absent
        ]
        lines.append(
            _(
                "Under Quy định 29 (and Charter art. 8), leaving Party activity for three months in a year "
                "without a valid reason is a ground for removal from the Party (xóa tên). Please talk to them "
                "before a third month."
            )
        )
        return Reply("\n".join(lines)).to_dict()


def messages_maker(catalogs: Catalogs, timezone: Any) -> ChatMeetingMessages:
    return ChatMeetingMessages(catalogs, timezone)


def _messages(ctx: Context) -> ChatMeetingMessages:
    return ChatMeetingMessages(ctx.catalogs, ctx.timezone)


def problem_text(t: Translator, error: MeetingError) -> str:
    _ = t.gettext
    return {
        MeetingProblem.EMPTY_TITLE: _("The title is empty. Please type it."),
        MeetingProblem.IN_THE_PAST: _("That time has already passed. Please type a later one."),
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
    }[error.problem].format(detail=error.detail)


def _stale(ctx: Context, member: Member) -> list[Reply]:
    return [home(ctx, member, ctx.gettext("This button is no longer valid. Please use the menu below."))]


def _rsvp_words(t: Translator, invitation: MeetingInvitation) -> str:
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


# --- members ------------------------------------------------------------------------------------


async def meetings_home(ctx: Context, member: Member) -> list[Reply]:
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
            f"• {moment_words(t, meeting.starts_at, ctx.timezone)}: {meeting.title} — {_rsvp_words(t, invitation)}"
        )
        buttons.append((_button("📅 " + meeting.title[:40], Action.MEETING, str(meeting.id)),))
    buttons.append(
        (
            _button("🧾 " + _("My attendance"), Action.MY_ATTENDANCE),
            _button("📚 " + _("Past meetings"), Action.PAST_MEETINGS),
        )
    )
    if may(member, Permission.MANAGE_MEETINGS, Target(member.branch_id)):
        buttons.append(
            (
                _button("➕ " + _("New meeting"), Action.NEW_MEETING),
                _button("📋 " + _("Branch meetings"), Action.MEETING_LIST),
            )
        )
        buttons.append((_button("📈 " + _("Attendance rates"), Action.ATTENDANCE_RATES),))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


async def _visible(ctx: Context, member: Member, argument: str) -> Meeting | list[Reply]:
    meeting = await ctx.session.get(Meeting, int(argument.split(":", 1)[0]))
    if meeting is None or (meeting.status is MeetingStatus.DRAFT and meeting.author_member_id != member.id):
        return _stale(ctx, member)
    if not await may_see(ctx.session, member, meeting):
        return [Reply(problem_text(ctx.translator, MeetingError(MeetingProblem.NOT_INVITED)))]
    return meeting


async def _manages(ctx: Context, member: Member, meeting: Meeting) -> bool:
    try:
        await check_meeting(ctx.session, member, meeting)
    except NotPermitted:
        return False
    return True


async def meeting_card(ctx: Context, member: Member, argument: str, note: str = "") -> list[Reply]:
    meeting = await _visible(ctx, member, argument)
    if isinstance(meeting, list):
        return meeting
    if meeting.status is MeetingStatus.DRAFT:
        return [await preview(ctx, meeting, note)]
    _ = ctx.gettext
    t = ctx.translator
    now = utcnow()
    lines = [note] if note else []
    lines.append(details_text(t, meeting, ctx.timezone))
    if meeting.status is MeetingStatus.CANCELLED:
        lines.append("\n❌ " + _("This meeting has been cancelled."))
    invitation = await ctx.session.get(MeetingInvitation, (meeting.id, member.id))
    buttons: list[tuple[Button, ...]] = []
    live = meeting.status is MeetingStatus.CALLED
    if invitation is not None and live:
        lines.append("\n" + _("Your answer: {answer}").format(answer=_rsvp_words(t, invitation)))
        opens, closes = check_in_window(meeting)
        if now < meeting.starts_at:
            buttons.append(_rsvp_row(t, meeting.id or 0))
        if opens <= now <= closes and invitation.checked_in_at is None:
            buttons.append((_button("🙋 " + _("I am here"), Action.CHECK_IN, str(meeting.id)),))
    if meeting.conclusions:
        lines += ["", "📌 " + _("Conclusions:"), meeting.conclusions]
    if meeting.minutes_text:
        lines += ["", "📝 " + _("Minutes:"), meeting.minutes_text]
    for file in await files_of(ctx.session, meeting.id or 0):
        label = ("📝 " if file.is_minutes else "📎 ") + file.filename[:50]
        if file.url is not None:
            lines.append(f"{label}: {file.url}")
        else:
            buttons.append((_button(label, Action.MEETING_FILE, str(file.id)),))
    if live and await _manages(ctx, member, meeting):
        ident = str(meeting.id)
        buttons.append((_button("📋 " + _("Attendance"), Action.ATTENDANCE, ident),))
        if now < meeting.starts_at:
            buttons.append(
                (
                    _button("🔁 " + _("Move"), Action.ASK, f"mmove:{ident}"),
                    _button("❌ " + _("Cancel the meeting"), Action.MEETING_CANCEL, ident),
                )
            )
        buttons.append(
            (
                _button("📝 " + _("Minutes"), Action.ASK, f"minutes:{ident}"),
                _button("📌 " + _("Conclusions"), Action.ASK, f"mconcl:{ident}"),
            )
        )
        buttons.append(
            (
                _button("📎 " + _("Add a document"), Action.ASK, f"mfile:{ident}"),
                _button("📝 " + _("Minutes file"), Action.ASK, f"mminutes:{ident}"),
            )
        )
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


async def rsvp(ctx: Context, member: Member, argument: str) -> list[Reply]:
    _ = ctx.gettext
    meeting_id, _sep, choice = argument.partition(":")
    if choice == "no":
        ctx.ask(f"mreason:{meeting_id}")  # a reason typed instead of tapped is taken as the reason
        return [
            Reply(
                _("What is the reason for your absence?"),
                buttons=(
                    tuple(
                        _button(_reason_name(ctx.translator, code), Action.EXCUSE, f"{meeting_id}:{code}")
                        for code in REASONS
                    ),
                    (_button("✏️ " + _("Another reason"), Action.ASK, f"mreason:{meeting_id}"),),
                ),
            )
        ]
    if choice != "yes":
        return _stale(ctx, member)
    return await _answer(ctx, member, int(meeting_id), Rsvp.ATTENDING, None)


async def excuse(ctx: Context, member: Member, argument: str) -> list[Reply]:
    meeting_id, _sep, code = argument.partition(":")
    if code not in REASONS:
        return _stale(ctx, member)
    return await _answer(ctx, member, int(meeting_id), Rsvp.EXCUSED, _reason_name(ctx.translator, code))


async def _answer(ctx: Context, member: Member, meeting_id: int, choice: Rsvp, reason: str | None) -> list[Reply]:
    _ = ctx.gettext
    try:
        meeting = await answer(ctx.session, meeting_id, member, choice, reason)
    except MeetingError as error:
        return [Reply(problem_text(ctx.translator, error))]
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
    return [Reply(text, buttons=(_details_row(ctx.translator, meeting_id),))]


async def check_in_now(ctx: Context, member: Member, argument: str) -> list[Reply]:
    _ = ctx.gettext
    try:
        done = await check_in(ctx.session, int(argument), member)
    except MeetingError as error:
        return [Reply(problem_text(ctx.translator, error))]
    text = {
        CheckIn.FIRST: _("You are checked in. Welcome!"),
        CheckIn.AGAIN: _("You were already checked in."),
        # The later action counts: being at the meeting replaces the excuse sent before it.
        CheckIn.REPLACED_EXCUSE: _(
            "You are checked in as present. Welcome! Your earlier request to be excused no longer counts."
        ),
    }[done]
    return [Reply("🙋 " + text)]


async def send_file(ctx: Context, member: Member, argument: str) -> list[Reply]:
    file = await ctx.session.get(MeetingFile, int(argument))
    meeting = None if file is None else await ctx.session.get(Meeting, file.meeting_id)
    if file is None or meeting is None or not await may_see(ctx.session, member, meeting):
        return _stale(ctx, member)
    document = Document(file.id or 0, file.filename, file.is_photo, source="meeting")
    return [Reply("📎 " + file.filename + " — " + meeting.title, document=document)]


async def my_attendance(ctx: Context, member: Member) -> list[Reply]:
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


async def past_meetings(ctx: Context, member: Member) -> list[Reply]:
    _ = ctx.gettext
    listed = await past_for(ctx.session, member)
    if not listed:
        return [Reply(_("You have no meetings in the last 12 months."))]
    buttons = tuple(
        (
            _button(
                ("📝 " if meeting.minutes_text or meeting.conclusions else "📅 ")
                + format_datetime(meeting.starts_at, "dd/MM", tzinfo=ctx.timezone, locale=ctx.translator.locale)
                + " "
                + meeting.title[:40],
                Action.MEETING,
                str(meeting.id),
            ),
        )
        for meeting, _invitation in listed[:LISTED]
    )
    return [Reply(_("Past meetings (📝: minutes available):"), buttons=buttons)]


# --- secretaries: calling a meeting -------------------------------------------------------------


async def start(ctx: Context, actor: Member) -> list[Reply]:
    own_branch = Target(actor.branch_id)
    if not may(actor, Permission.MANAGE_MEETINGS, own_branch):
        return refused(ctx, actor, Permission.MANAGE_MEETINGS, own_branch)
    ctx.ask("meeting")
    text = ctx.gettext("Type the meeting's title, e.g. \u201cRegular meeting, December\u201d.")
    return [Reply(text, buttons=(_cancel_row(ctx.translator),))]


async def draft_from_text(ctx: Context, actor: Member, text: str) -> list[Reply]:
    _ = ctx.gettext
    local = datetime.now(ctx.timezone) + timedelta(days=DEFAULT_DAYS_AHEAD)
    starts_at = local.replace(hour=DEFAULT_HOUR, minute=DEFAULT_MINUTE, second=0, microsecond=0)
    try:
        meeting = await create_draft(ctx.session, actor, title=text, starts_at=starts_at, branch_id=actor.branch_id)
    except MeetingError as error:
        ctx.ask("meeting")
        return [Reply(problem_text(ctx.translator, error))]
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    ctx.ask(f"mwhen:{meeting.id}")
    ask = _("When does it start? Type a day and time, e.g. 05/12 19:30.")
    return [await preview(ctx, meeting), Reply(ask, buttons=(_cancel_row(ctx.translator),))]


async def preview(ctx: Context, meeting: Meeting, note: str = "") -> Reply:
    _ = ctx.gettext
    t = ctx.translator
    audience = Audience.from_json(meeting.audience)
    invited = await invitees(ctx.session, meeting)
    lines = [note, _("Preview of the invitation:"), "", details_text(t, meeting, ctx.timezone), ""]
    if audience.members is not None:
        who = _("chosen people: {names}").format(names=", ".join(m.full_name for m in invited))
    elif meeting.branch_id is None and audience.filter is AudienceFilter.COMMITTEE:
        who = _("the commune Party committee")
    elif audience.filter is AudienceFilter.COMMITTEE:
        who = _("the branch committee")
    else:
        who = _("all branch members")
    lines.append(_("Invited: {who} ({count})").format(who=who, count=len(invited)))
    lines.append(
        _("Reminders: {offsets} before, to everyone who has not declined.").format(offsets=_offsets(t, meeting))
    )
    if meeting.repeat_day is not None:
        lines.append(_("Repeats: on day {day} of every month, same time.").format(day=meeting.repeat_day))
    files = await files_of(ctx.session, meeting.id or 0)
    if files:
        lines.append(_("Documents: {names}").format(names=", ".join(f.filename for f in files)))
    ident = str(meeting.id)
    buttons: Rows = (
        (
            _button("⏰ " + _("Time"), Action.ASK, f"mwhen:{ident}"),
            _button("📍 " + _("Place"), Action.ASK, f"mplace:{ident}"),
        ),
        (
            _button("📝 " + _("Agenda"), Action.ASK, f"magenda:{ident}"),
            _button("🔗 " + _("Map or video link"), Action.ASK, f"mlink:{ident}"),
        ),
        (
            _button("🏷 " + _("Kind"), Action.MEETING_SET, f"{ident}:kind"),
            _button("👥 " + _("Who attends"), Action.MEETING_SET, f"{ident}:who"),
        ),
        (
            _button("🔁 " + (_("Do not repeat") if meeting.repeat_day else _("Repeat monthly")), Action.MEETING_SET,
                    f"{ident}:repeat"),
            _button("🔔 " + _("Reminders"), Action.MEETING_SET, f"{ident}:remind"),
        ),
        (
            _button("📎 " + _("Add a document"), Action.ASK, f"mfile:{ident}"),
            _button("👤 " + _("Choose people"), Action.ASK, f"mpeople:{ident}"),
        ),
        (
            _button("📤 " + _("Send the invitations"), Action.MEETING_CALL, ident),
            _button("✖️ " + _("Cancel"), Action.MEETING_CANCEL, ident),
        ),
    )  # fmt: skip
    return Reply("\n".join(lines).strip(), buttons=buttons)


async def _managed(ctx: Context, actor: Member, argument: str) -> Meeting | list[Reply]:
    meeting = await ctx.session.get(Meeting, int(argument.split(":", 1)[0]))
    if meeting is None:
        return _stale(ctx, actor)
    try:
        await check_meeting(ctx.session, actor, meeting)
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    return meeting


_KINDS = list(MeetingKind)


async def set_option(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    meeting = await _managed(ctx, actor, argument)
    if isinstance(meeting, list):
        return meeting
    field = argument.partition(":")[2]
    changes: dict[str, Any]
    if field == "kind":
        changes = {"kind": _KINDS[(_KINDS.index(meeting.kind) + 1) % len(_KINDS)]}
    elif field == "repeat":
        day = meeting.starts_at.astimezone(ctx.timezone).day
        changes = {"repeat_day": None if meeting.repeat_day else day}
    elif field == "remind":
        current = sorted(meeting.reminder_minutes, reverse=True)
        presets = [sorted(p, reverse=True) for p in REMINDER_PRESETS]
        following = presets[(presets.index(current) + 1) % len(presets)] if current in presets else presets[0]
        changes = {"reminder_minutes": following}
    elif field == "who":
        audience = Audience.from_json(meeting.audience)
        branches = audience.branches if audience.branches is not None else (actor.branch_id,)
        # Branch, then its committee (chi ủy), then for commune leaders the commune committee (đảng
        # ủy: a meeting of the commune, not of a branch), then back; chosen people are typed.
        if meeting.branch_id is None:
            changes = {"branch_id": actor.branch_id, "audience": Audience((actor.branch_id,))}
        elif audience.filter is AudienceFilter.ALL and audience.members is None:
            changes = {"audience": Audience(branches or (actor.branch_id,), AudienceFilter.COMMITTEE)}
        elif scope_of(actor) is Scope.COMMUNE and audience.members is None:
            changes = {"branch_id": None, "audience": Audience(None, AudienceFilter.COMMITTEE)}
        else:
            changes = {"audience": Audience(branches or (actor.branch_id,))}
    else:
        return _stale(ctx, actor)
    try:
        await change_draft(ctx.session, actor, meeting, **changes)
    except MeetingError as error:
        return [Reply(problem_text(ctx.translator, error))]
    return [await preview(ctx, meeting)]


QUESTIONS = (
    "mpeople",
    "mwhen",
    "mplace",
    "magenda",
    "mlink",
    "mmove",
    "minutes",
    "mconcl",
    "mfile",
    "mminutes",
    "mreason",
)


async def ask(ctx: Context, member: Member, field: str, meeting_id: str) -> list[Reply]:
    _ = ctx.gettext
    # A member's own typed reason needs only the invitation; everything else is the secretary's.
    managed = await (_visible if field == "mreason" else _managed)(ctx, member, meeting_id)
    if isinstance(managed, list):
        return managed
    ctx.ask(f"{field}:{meeting_id}")
    text = {
        "mwhen": _("When does it start? Type a day and time, e.g. 05/12 19:30."),
        "mmove": _("Move the meeting to when? Type a day and time, e.g. 05/12 19:30."),
        "mplace": _("Where? Type the place, e.g. the village cultural house."),
        "magenda": _("Type the agenda, one item per line."),
        "mlink": _("Type the link (a map or a video call), starting with https://"),
        "minutes": _("Type the minutes (time, place, chair, who attended, what was said)."),
        "mconcl": _("Type the conclusions of the meeting."),
        "mfile": _(
            "Send the document (a file or photo), or type its link. It will be shared with everyone invited; "
            "documents marked secret are refused."
        ),
        "mminutes": _("Send the minutes as a file or photo."),
        "mreason": _("Type the reason for your absence."),
        "mpeople": _("Type the names of the people to invite, separated by commas, with or without accents."),
    }[field]
    upload = _("Choose a file") if field in ("mfile", "mminutes") else None
    replies = [Reply(text, buttons=(_cancel_row(ctx.translator),), upload_label=upload)]
    if field == "minutes":
        replies.insert(0, Reply(await minutes_draft(ctx, managed)))
    return replies


async def minutes_draft(ctx: Context, meeting: Meeting) -> str:
    """A starting point for the minutes (DESIGN.md §4): time, place, members by status, who was
    present and who was absent with or without a reason, by name, and the agenda; to copy and complete."""
    _ = ctx.gettext
    t = ctx.translator
    if meeting.minutes_text:
        return meeting.minutes_text
    invited = await invitations(ctx.session, meeting.id or 0)
    statuses = {
        _("official"): sum(m.status is MemberStatus.OFFICIAL and not i.exempt for i, m in invited),
        _("probationary"): sum(m.status is MemberStatus.PROBATIONARY and not i.exempt for i, m in invited),
        _("exempt"): sum(i.exempt for i, _m in invited),
    }
    by_state: dict[Attendance, list[str]] = {state: [] for state in Attendance}
    for invitation, member in invited:
        state = attendance_of(invitation)
        reason = f" ({invitation.reason})" if state is Attendance.EXCUSED and invitation.reason else ""
        by_state[state].append(member.full_name + reason)
    lines = [
        _("MINUTES: {title}").format(title=meeting.title),
        _("Time: {when}").format(when=moment_words(t, meeting.starts_at, ctx.timezone)),
        _("Place: {place}").format(place=meeting.place or "…"),
        _("Chair: …    Minute-taker: …"),
        _("Members summoned: {count} ({statuses})").format(
            count=len(invited), statuses=", ".join(f"{name} {count}" for name, count in statuses.items())
        ),
        _("Present ({count}): {names}").format(count=len(by_state[Attendance.PRESENT]),
                                                 names=", ".join(by_state[Attendance.PRESENT]) or "—"),
        _("Excused ({count}): {names}").format(count=len(by_state[Attendance.EXCUSED]),
                                                names=", ".join(by_state[Attendance.EXCUSED]) or "—"),
        _("Absent without reason ({count}): {names}").format(count=len(by_state[Attendance.ABSENT]),
                                                              names=", ".join(by_state[Attendance.ABSENT]) or "—"),
        *([_("Not recorded ({count}): {names}").format(count=len(by_state[Attendance.UNRECORDED]),
                                                       names=", ".join(by_state[Attendance.UNRECORDED]))]
          if by_state[Attendance.UNRECORDED] else []),
        _("Agenda:"),
        *[f"{i}. {item}" for i, item in enumerate(meeting.agenda, start=1)],
        _("Speakers and opinions: …"),
        _("Conclusions: …"),
    ]  # fmt: skip
    return "\n".join(lines)


async def answer_question(ctx: Context, member: Member, question: str, text: str) -> list[Reply]:
    """A typed answer to one of the questions above."""
    _ = ctx.gettext
    field, _sep, meeting_id = question.partition(":")
    if field == "mreason":
        return await _answer(ctx, member, int(meeting_id), Rsvp.EXCUSED, text)
    meeting = await _managed(ctx, member, meeting_id)
    if isinstance(meeting, list):
        return meeting
    try:
        if field in ("mwhen", "mmove"):
            when = read_answer(ctx, question, text)
            if isinstance(when, list):
                return when
            if field == "mmove":
                queued = await reschedule(ctx.session, member, meeting, when, _messages(ctx))
                note = "✅ " + _("Moved; everyone invited is told ({count} messages).").format(count=queued)
                return await meeting_card(ctx, member, meeting_id, note)
            await change_draft(ctx.session, member, meeting, starts_at=when)
        elif field == "mpeople":
            chosen, problems = await match_people(ctx, member, text, Permission.MANAGE_MEETINGS)
            if problems or not chosen:
                ctx.ask(question)
                return [Reply("\n".join([*problems, "", _("Please type the names again.")]))]
            await change_draft(ctx.session, member, meeting, audience=Audience((), AudienceFilter.ALL, tuple(chosen)))
        elif field == "mplace":
            await change_draft(ctx.session, member, meeting, place=text)
        elif field == "magenda":
            await change_draft(ctx.session, member, meeting, agenda=text.splitlines())
        elif field == "mlink":
            if not _URL.match(text.strip()):
                ctx.ask(question)
                return [Reply(_("That is not a link. It starts with https://"))]
            await change_draft(ctx.session, member, meeting, link=text.strip())
        elif field in ("minutes", "mconcl"):
            await set_minutes(ctx.session, member, meeting, **{"text" if field == "minutes" else "conclusions": text})
            return await meeting_card(ctx, member, meeting_id, "✅ " + _("Saved."))
        elif field == "mfile":
            if not _URL.match(text.strip()):
                ctx.ask(question)
                return [Reply(_("Please send a file, or type a link starting with https://"))]
            await attach(ctx.session, member, meeting, text.strip()[:200], url=text.strip())
        else:  # a file was asked for, text came
            return await ask(ctx, member, field, meeting_id)
    except MeetingError as error:
        ctx.ask(question)
        return [Reply(problem_text(ctx.translator, error))]
    return await meeting_card(ctx, member, meeting_id, "✅ " + _("Saved."))


async def attach_file(ctx: Context, member: Member, question: str, attachment: Attachment) -> list[Reply]:
    _ = ctx.gettext
    field, _sep, meeting_id = question.partition(":")
    meeting = await _managed(ctx, member, meeting_id)
    if isinstance(meeting, list):
        return meeting
    if not attachment.content:
        ctx.ask(question)
        return [Reply(problem_text(ctx.translator, MeetingError(MeetingProblem.FILE_TOO_LARGE, "20")))]
    try:
        await attach(
            ctx.session, member, meeting, attachment.filename, attachment.content, is_minutes=field == "mminutes"
        )
    except MeetingError as error:
        return [Reply(problem_text(ctx.translator, error))]
    return await meeting_card(ctx, member, meeting_id, "✅ " + _("Saved."))


async def call_meeting(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    _ = ctx.gettext
    meeting = await _managed(ctx, actor, argument)
    if isinstance(meeting, list):
        return meeting
    try:
        count = await call(ctx.session, actor, meeting, _messages(ctx))
    except MeetingError as error:
        return [Reply(problem_text(ctx.translator, error))]
    text = _("Invitations sent to {count} member(s) for {when}. Reminders go {offsets} before.").format(
        count=count,
        when=moment_words(ctx.translator, meeting.starts_at, ctx.timezone),
        offsets=_offsets(ctx.translator, meeting),
    )
    return [Reply("✅ " + text, buttons=((_button("📋 " + _("Attendance"), Action.ATTENDANCE, str(meeting.id)),),))]


async def cancel_meeting(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    _ = ctx.gettext
    meeting = await _managed(ctx, actor, argument)
    if isinstance(meeting, list):
        return meeting
    choice = argument.partition(":")[2]
    if meeting.status is MeetingStatus.CALLED and choice not in ("one", "series"):
        ident = str(meeting.id)
        rows: list[tuple[Button, ...]] = [
            (_button("❌ " + _("Cancel this meeting"), Action.MEETING_CANCEL, f"{ident}:one"),)
        ]
        if meeting.repeat_day is not None:
            rows.append((_button("❌ " + _("Cancel it and stop repeating"), Action.MEETING_CANCEL, f"{ident}:series"),))
        rows.append((_button("↩️ " + _("Keep it"), Action.MEETING, ident),))
        question = _("Cancel {title} ({when})? Everyone invited will be told.").format(
            title=meeting.title, when=moment_words(ctx.translator, meeting.starts_at, ctx.timezone)
        )
        return [Reply(question, buttons=tuple(rows))]
    try:
        await cancel(ctx.session, actor, meeting, _messages(ctx), whole_series=choice == "series")
    except MeetingError as error:
        return [Reply(problem_text(ctx.translator, error))]
    return [home(ctx, actor, "✅ " + _("Cancelled."))]


async def managed_list(ctx: Context, actor: Member) -> list[Reply]:
    _ = ctx.gettext
    own_branch = Target(actor.branch_id)
    if not may(actor, Permission.MANAGE_MEETINGS, own_branch):
        return refused(ctx, actor, Permission.MANAGE_MEETINGS, own_branch)
    listed = await meetings_managed(ctx.session, actor)
    if not listed:
        return [Reply(_("No meetings yet."), buttons=((_button("➕ " + _("New meeting"), Action.NEW_MEETING),),))]
    buttons = []
    for meeting in listed:
        mark_ = "✏️ " if meeting.status is MeetingStatus.DRAFT else "📅 "
        day = format_datetime(meeting.starts_at, "dd/MM HH:mm", tzinfo=ctx.timezone, locale=ctx.translator.locale)
        buttons.append((_button(f"{mark_}{day} {meeting.title[:36]}", Action.MEETING, str(meeting.id)),))
    return [Reply(_("The branch's meetings (✏️: not called yet):"), buttons=tuple(buttons))]


# --- secretaries: attendance --------------------------------------------------------------------


def _attendance_lines(t: Translator, invited: list[tuple[MeetingInvitation, Member]]) -> list[str]:
    """Who is present, excused, absent without reason, asked to be excused, and not recorded, by name."""
    _ = t.gettext
    by_state: dict[Attendance, list[str]] = {state: [] for state in Attendance}
    waiting: list[str] = []
    for invitation, member in invited:
        state = attendance_of(invitation)
        name = member.full_name + (" (" + _("exempt") + ")" if invitation.exempt else "")
        if excuse_waiting(invitation):
            waiting.append(
                name
                + ": "
                + _("asked to be excused: {reason} (awaiting the secretary's acceptance)").format(
                    reason=invitation.reason or "—"
                )
            )
            continue
        if state is Attendance.EXCUSED and invitation.reason:
            name += f": {invitation.reason}"
        by_state[state].append(name)
    lines = [
        "✅ " + _("Present ({count}): {names}"),
        "🙏 " + _("Excused ({count}): {names}"),
        "❌ " + _("Absent without reason ({count}): {names}"),
        "❔ " + _("Not recorded ({count}): {names}"),
    ]
    states = (Attendance.PRESENT, Attendance.EXCUSED, Attendance.ABSENT, Attendance.UNRECORDED)
    text = [
        line.format(count=len(by_state[state]), names=_names_or_dash(t, by_state[state]))
        for line, state in zip(lines, states, strict=True)
    ]
    if waiting:
        text.insert(3, "⏳ " + _("Awaiting your decision ({count}):").format(count=len(waiting)))
        text[4:4] = ["  • " + line for line in waiting[:NAMES_SHOWN]]
    return text


async def attendance(ctx: Context, actor: Member, argument: str, note: str = "") -> list[Reply]:
    _ = ctx.gettext
    t = ctx.translator
    meeting = await _managed(ctx, actor, argument)
    if isinstance(meeting, list):
        return meeting
    invited = await invitations(ctx.session, meeting.id or 0)
    counts = summarize(meeting, [invitation for invitation, _member in invited])
    now = utcnow()
    started = now >= meeting.starts_at - timedelta(minutes=30)
    lines = [note] if note else []
    lines += ["📋 " + _("Attendance") + ": " + meeting.title, moment_words(t, meeting.starts_at, ctx.timezone), ""]
    if not started:
        lines += _summary_lines(t, counts, answers=True)
        lines.append("")
    lines += _attendance_lines(t, invited)
    lines += ["", validity_text(t, counts), ""]
    ident = str(meeting.id)
    if meeting.attendance_confirmed_at is not None:
        lines.append(
            "🔒 "
            + _("The list was confirmed on {when} and is final.").format(
                when=moment_words(t, meeting.attendance_confirmed_at, ctx.timezone)
            )
        )
        return [Reply("\n".join(lines), buttons=(_details_row(t, meeting.id or 0),))]
    lines.append(_("Attendance becomes final when you confirm the list; until then nobody is counted absent."))
    buttons: list[tuple[Button, ...]] = [(_button("✍️ " + _("Mark attendance"), Action.MARK, ident),)]
    if now >= meeting.starts_at:
        buttons.append((_button("🔒 " + _("Confirm the list"), Action.MARK, f"{ident}:confirm"),))
    buttons.append(_details_row(t, meeting.id or 0))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


async def _confirm(ctx: Context, actor: Member, meeting: Meeting, rest_absent: bool) -> list[Reply]:
    """The confirm screen: it names who is not recorded and asks the secretary to mark them; the
    list is confirmed only when nobody is left, or by the explicit "remaining: absent without
    reason" (DESIGN.md §4: nobody is absent because they did not tap)."""
    _ = ctx.gettext
    t = ctx.translator
    ident = str(meeting.id)
    invited = await invitations(ctx.session, meeting.id or 0)
    left = [(i, m) for i, m in invited if attendance_of(i) is Attendance.UNRECORDED]
    if left and not rest_absent and not any(excuse_waiting(i) for i, _m in left):
        lines = [
            "🔒 " + _("Confirm the attendance of {title}").format(title=meeting.title),
            "",
            _("Not recorded ({count}): {names}").format(
                count=len(left), names=_names_or_dash(t, [m.full_name for _i, m in left])
            ),
            "",
            _("Please mark them (tap a name), or record all of them as absent without reason."),
        ]
        rows: list[tuple[Button, ...]] = [
            (_button("❔ " + member.full_name[:40], Action.MARK, f"{ident}:{member.id}"),)
            for _i, member in left[:NAMES_SHOWN]
        ]
        rows.append(
            (_button("❌ " + _("The remaining comrades: absent without reason"), Action.MARK, f"{ident}:confirm:rest"),)
        )
        rows.append((_button("↩️ " + _("Back"), Action.ATTENDANCE, ident),))
        return [Reply("\n".join(lines), buttons=tuple(rows))]
    try:
        await confirm_attendance(ctx.session, actor, meeting, _messages(ctx), ctx.timezone, rest_absent=rest_absent)
    except MeetingError as error:
        if error.problem is MeetingProblem.EXCUSES_WAITING:
            return await mark_attendance(ctx, actor, ident, problem_text(t, error))
        return [Reply(problem_text(t, error), buttons=((_button("📋 " + _("Attendance"), Action.ATTENDANCE, ident),),))]
    return await attendance(ctx, actor, ident, "✅ " + _("The attendance list is confirmed."))


async def mark_attendance(ctx: Context, actor: Member, argument: str, note: str = "") -> list[Reply]:
    """<meeting> lists the invited; <meeting>:<member> offers the states; <meeting>:<member>:<state> marks;
    <meeting>:confirm[:rest] confirms the list."""
    _ = ctx.gettext
    meeting = await _managed(ctx, actor, argument)
    if isinstance(meeting, list):
        return meeting
    parts = argument.split(":")
    ident = str(meeting.id)
    if len(parts) > 1 and parts[1] == "confirm":
        return await _confirm(ctx, actor, meeting, rest_absent=parts[2:] == ["rest"])
    if len(parts) == 1:
        invited = await invitations(ctx.session, meeting.id or 0)
        rows = tuple(
            (_button(_state_icon(invitation) + " " + member.full_name[:40], Action.MARK, f"{ident}:{member.id}"),)
            for invitation, member in invited[:NAMES_SHOWN]
        )
        text = _("Whose attendance do you want to record? (⏳: asked to be excused, awaiting your decision)")
        return [Reply((note + "\n\n" if note else "") + text, buttons=rows)]
    member_id = int(parts[1])
    if len(parts) == 2:
        person = await ctx.session.get(Member, member_id)
        invitation = await ctx.session.get(MeetingInvitation, (meeting.id, member_id))
        if person is None or invitation is None:
            return _stale(ctx, actor)
        text = person.full_name
        excused_label = "🙏 " + _("Excused absence")
        if excuse_waiting(invitation):
            text += "\n" + _("asked to be excused: {reason} (awaiting the secretary's acceptance)").format(
                reason=invitation.reason or "—"
            )
            excused_label = "🙏 " + _("Accept the reason: excused")
        options = (
            (_button("✅ " + _("Present"), Action.MARK, f"{ident}:{member_id}:present"),),
            (_button(excused_label, Action.MARK, f"{ident}:{member_id}:excused"),),
            (_button("❌ " + _("Absent without reason"), Action.MARK, f"{ident}:{member_id}:absent"),),
        )
        return [Reply(text, buttons=options)]
    try:
        await mark(ctx.session, actor, meeting, member_id, Attendance(parts[2]))
    except (MeetingError, ValueError) as error:
        if isinstance(error, MeetingError):
            return [Reply(problem_text(ctx.translator, error))]
        return _stale(ctx, actor)
    return await attendance(ctx, actor, ident, "✅ " + _("Saved."))


def _names_or_dash(t: Translator, names: list[str]) -> str:
    return names_text(t, names, NAMES_SHOWN) or "—"


def _state_icon(invitation: MeetingInvitation) -> str:
    if excuse_waiting(invitation):
        return "⏳"
    return {Attendance.PRESENT: "✅", Attendance.EXCUSED: "🙏", Attendance.ABSENT: "❌", Attendance.UNRECORDED: "❔"}[
        attendance_of(invitation)
    ]


async def rates(ctx: Context, actor: Member) -> list[Reply]:
    _ = ctx.gettext
    own_branch = Target(actor.branch_id)
    if not may(actor, Permission.MANAGE_MEETINGS, own_branch):
        return refused(ctx, actor, Permission.MANAGE_MEETINGS, own_branch)
    listed = await attendance_rates(ctx.session, actor.branch_id)
    if not listed:
        return [Reply(_("No meetings in the last 12 months yet."))]
    lines = ["📈 " + _("Attendance in the last 12 months (lowest first):"), ""]
    for rate in listed:
        lines.append(
            _("{name}: {present}/{total} ({percent}%), excused {excused}, without reason {absent}").format(
                name=rate.name,
                present=rate.present,
                total=rate.meetings,
                percent=round(rate.rate * 100),
                excused=rate.excused,
                absent=rate.absent,
            )
        )
    return [Reply("\n".join(lines))]
