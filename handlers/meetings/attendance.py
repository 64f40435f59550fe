"""The secretary taking attendance: the board, marking each member, confirming the list, rates."""

from __future__ import annotations

from datetime import timedelta

from handlers.context import Context, moment_words
from handlers.contract import Button, Reply, Translator
from handlers.meetings.actions import (
    AttendanceBoard,
    AttendanceRates,
    ConfirmAttendance,
    MarkAttendance,
)
from handlers.meetings.common import may_manage_meetings, router
from handlers.meetings.messages import chat_messages
from handlers.meetings.texts import (
    NAMES_SHOWN,
    details_row,
    names_or_dash,
    problem_text,
    summary_lines,
    validity_text,
)
from models.meeting_queries import invited, meeting_to_manage
from models.meetings import (
    MeetingError,
    MeetingProblem,
    attendance_of,
    attendance_rates,
    confirm_attendance,
    excuse_waiting,
    invitations,
    mark,
    summarize,
)
from models.tables import Attendance, Meeting, MeetingInvitation, Member, utcnow
from models.vietnamese import shorten

# The board shows the answers too while the meeting has not begun (check-in opens then).
ANSWERS_SHOWN_UNTIL = timedelta(minutes=30)


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
        line.format(count=len(by_state[state]), names=names_or_dash(t, by_state[state]))
        for line, state in zip(lines, states, strict=True)
    ]
    if waiting:
        text.insert(3, "⏳ " + _("Awaiting your decision ({count}):").format(count=len(waiting)))
        text[4:4] = ["  • " + line for line in waiting[:NAMES_SHOWN]]
    return text


@router.on(AttendanceBoard)
async def _board(ctx: Context, actor: Member, action: AttendanceBoard) -> list[Reply]:
    return await board(ctx, actor, await meeting_to_manage(ctx.session, actor, action.meeting_id))


async def board(ctx: Context, actor: Member, meeting: Meeting, note: str = "") -> list[Reply]:
    """Where everyone invited stands, whether the meeting is valid, and the tools to record and confirm."""
    _ = ctx.gettext
    t = ctx.translator
    ident = meeting.id or 0
    invited = await invitations(ctx.session, ident)
    counts = summarize(meeting, [invitation for invitation, _member in invited])
    now = utcnow()
    started = now >= meeting.starts_at - ANSWERS_SHOWN_UNTIL
    lines = [note] if note else []
    lines += ["📋 " + _("Attendance") + ": " + meeting.title, moment_words(t, meeting.starts_at, ctx.timezone), ""]
    if not started:
        lines += summary_lines(t, counts, answers=True)
        lines.append("")
    lines += _attendance_lines(t, invited)
    lines += ["", validity_text(t, counts), ""]
    if meeting.attendance_confirmed_at is not None:
        lines.append(
            "🔒 "
            + _("The list was confirmed on {when} and is final.").format(
                when=moment_words(t, meeting.attendance_confirmed_at, ctx.timezone)
            )
        )
        return [Reply("\n".join(lines), buttons=(details_row(t, ident),))]
    lines.append(_("Attendance becomes final when you confirm the list; until then nobody is counted absent."))
    buttons: list[tuple[Button, ...]] = [(Button("✍️ " + _("Mark attendance"), MarkAttendance(ident).pack()),)]
    if now >= meeting.starts_at:
        buttons.append((Button("🔒 " + _("Confirm the list"), ConfirmAttendance(ident).pack()),))
    buttons.append(details_row(t, ident))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


@router.on(MarkAttendance)
async def _mark(ctx: Context, actor: Member, action: MarkAttendance) -> list[Reply]:
    """The invited to choose from; one member's states; one state recorded."""
    meeting = await meeting_to_manage(ctx.session, actor, action.meeting_id)
    if action.member_id is None:
        return await _whom(ctx, meeting)
    if action.state is None:
        return await _states(ctx, meeting, action.member_id)
    await mark(ctx.session, actor, meeting, action.member_id, Attendance(action.state))
    return await board(ctx, actor, meeting, "✅ " + ctx.gettext("Saved."))


async def _whom(ctx: Context, meeting: Meeting, note: str = "") -> list[Reply]:
    _ = ctx.gettext
    ident = meeting.id or 0
    invited = await invitations(ctx.session, ident)
    rows = tuple(
        (Button(f"{_state_icon(invitation)} {shorten(member.full_name, 40)}", MarkAttendance(ident, member.id).pack()),)
        for invitation, member in invited[:NAMES_SHOWN]
    )
    text = _("Whose attendance do you want to record? (⏳: asked to be excused, awaiting your decision)")
    return [Reply((note + "\n\n" if note else "") + text, buttons=rows)]


async def _states(ctx: Context, meeting: Meeting, member_id: int) -> list[Reply]:
    _ = ctx.gettext
    ident = meeting.id or 0
    invitation, person = await invited(ctx.session, meeting, member_id)
    text = person.full_name
    excused_label = "🙏 " + _("Excused absence")
    if excuse_waiting(invitation):
        text += "\n" + _("asked to be excused: {reason} (awaiting the secretary's acceptance)").format(
            reason=invitation.reason or "—"
        )
        excused_label = "🙏 " + _("Accept the reason: excused")
    options = (
        (Button("✅ " + _("Present"), MarkAttendance(ident, member_id, "present").pack()),),
        (Button(excused_label, MarkAttendance(ident, member_id, "excused").pack()),),
        (Button("❌ " + _("Absent without reason"), MarkAttendance(ident, member_id, "absent").pack()),),
    )
    return [Reply(text, buttons=options)]


@router.on(ConfirmAttendance)
async def _confirm(ctx: Context, actor: Member, action: ConfirmAttendance) -> list[Reply]:
    """The confirm screen names who is not recorded and asks the secretary to mark them; the list
    is confirmed only when nobody is left, or by the explicit "remaining: absent without reason"
    (DESIGN.md §4: nobody is absent because they did not tap)."""
    _ = ctx.gettext
    t = ctx.translator
    meeting = await meeting_to_manage(ctx.session, actor, action.meeting_id)
    rest_absent = action.rest is not None
    ident = meeting.id or 0
    invited = await invitations(ctx.session, ident)
    left = [(i, m) for i, m in invited if attendance_of(i) is Attendance.UNRECORDED]
    if left and not rest_absent and not any(excuse_waiting(i) for i, _m in left):
        lines = [
            "🔒 " + _("Confirm the attendance of {title}").format(title=meeting.title),
            "",
            _("Not recorded ({count}): {names}").format(
                count=len(left), names=names_or_dash(t, [m.full_name for _i, m in left])
            ),
            "",
            _("Please mark them (tap a name), or record all of them as absent without reason."),
        ]
        rows: list[tuple[Button, ...]] = [
            (Button("❔ " + shorten(member.full_name, 40), MarkAttendance(ident, member.id).pack()),)
            for _i, member in left[:NAMES_SHOWN]
        ]
        rest = ConfirmAttendance(ident, rest="rest").pack()
        rows.append((Button("❌ " + _("The remaining comrades: absent without reason"), rest),))
        rows.append((Button("↩️ " + _("Back"), AttendanceBoard(ident).pack()),))
        return [Reply("\n".join(lines), buttons=tuple(rows))]
    try:
        await confirm_attendance(ctx.session, actor, meeting, chat_messages(ctx), ctx.timezone, rest_absent=rest_absent)
    except MeetingError as error:
        # Reasons awaiting a decision: straight to the list to decide them; anything else, back to the board.
        if error.problem is MeetingProblem.EXCUSES_WAITING:
            return await _whom(ctx, meeting, problem_text(t, error))
        back = Button("📋 " + _("Attendance"), AttendanceBoard(ident).pack())
        return [Reply(problem_text(t, error), buttons=((back,),))]
    return await board(ctx, actor, meeting, "✅ " + _("The attendance list is confirmed."))


def _state_icon(invitation: MeetingInvitation) -> str:
    if excuse_waiting(invitation):
        return "⏳"
    return {Attendance.PRESENT: "✅", Attendance.EXCUSED: "🙏", Attendance.ABSENT: "❌", Attendance.UNRECORDED: "❔"}[
        attendance_of(invitation)
    ]


@router.on(AttendanceRates)
async def _rates(ctx: Context, actor: Member, action: AttendanceRates) -> list[Reply]:
    _ = ctx.gettext
    may_manage_meetings(actor)
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
