"""The secretary composing a meeting, calling it, moving and cancelling it, and the branch's list."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_datetime

from handlers.context import Context, moment_words
from handlers.contract import Button, Reply
from handlers.meetings.actions import (
    AttendanceBoard,
    CallMeeting,
    CancelMeeting,
    MeetingCard,
    MeetingList,
    MoveMeeting,
    NewMeeting,
    SetMeetingOption,
)
from handlers.meetings.cards import card, preview
from handlers.meetings.common import URL, ask_again, may_manage_meetings, question, router
from handlers.meetings.messages import chat_messages
from handlers.meetings.texts import offsets, problem_text
from handlers.members import home
from handlers.notices import match_people
from handlers.questions import Awaiting, Question
from handlers.times import read_answer
from models.meeting_queries import meeting_to_manage
from models.meetings import (
    MeetingError,
    call,
    cancel,
    change_draft,
    check_start,
    create_draft,
    meetings_managed,
    reminders_ahead,
    reschedule,
)
from models.notices import Audience, AudienceFilter
from models.permissions import Permission, Scope, scope_of
from models.tables import Meeting, MeetingKind, MeetingStatus, Member, utcnow
from models.vietnamese import shorten

DEFAULT_DAYS_AHEAD = 7
DEFAULT_HOUR, DEFAULT_MINUTE = 19, 30
# What the "Reminders" button steps through, in minutes before the start (the first is the default).
REMINDER_PRESETS = ((24 * 60, 2 * 60), (24 * 60,), (2 * 60,), (3 * 24 * 60, 24 * 60, 2 * 60), (24 * 60, 2 * 60, 30))
_KINDS = list(MeetingKind)


@router.on(NewMeeting)
async def _new_meeting(ctx: Context, actor: Member, action: NewMeeting) -> list[Reply]:
    return await _ask_title(ctx, actor, Awaiting(Question.MEETING_TEXT))


@router.prompts(Question.MEETING_TEXT)
async def _ask_title(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    may_manage_meetings(actor)
    ctx.ask(Awaiting(Question.MEETING_TEXT))
    return [question(ctx, ctx.gettext("Type the meeting's title, e.g. \u201cRegular meeting, December\u201d."))]


@router.answers(Question.MEETING_TEXT)
async def _title_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    """The title starts a draft; its time (a placeholder a week ahead, never shown) is asked next."""
    _ = ctx.gettext
    local = datetime.now(ctx.timezone) + timedelta(days=DEFAULT_DAYS_AHEAD)
    starts_at = local.replace(hour=DEFAULT_HOUR, minute=DEFAULT_MINUTE, second=0, microsecond=0)
    try:
        meeting = await create_draft(
            ctx.session, actor, title=text, starts_at=starts_at, branch_id=actor.branch_id, time_set=False
        )
    except MeetingError as error:
        return ask_again(ctx, awaiting, problem_text(ctx.translator, error))
    ctx.ask(Awaiting(Question.MEETING_WHEN, meeting.id))
    return [
        await preview(ctx, meeting),
        question(ctx, _("When does it start? Type a day and time, e.g. 05/12 19:30.")),
    ]


# --- the draft's fields, typed ------------------------------------------------------------------


def _prompt_text(ctx: Context, asked: Question) -> str:
    _ = ctx.gettext
    return {
        Question.MEETING_WHEN: _("When does it start? Type a day and time, e.g. 05/12 19:30."),
        Question.MEETING_MOVE: _("Move the meeting to when? Type a day and time, e.g. 05/12 19:30."),
        Question.MEETING_PLACE: _("Where? Type the place, e.g. the village cultural house."),
        Question.MEETING_AGENDA: _("Type the agenda, one item per line."),
        Question.MEETING_LINK: _("Type the link (a map or a video call), starting with https://"),
        Question.MEETING_PEOPLE: _(
            "Type the names of the people to invite, separated by commas, with or without accents."
        ),
    }[asked]


async def _ask_field(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    await meeting_to_manage(ctx.session, actor, awaiting.subject)
    ctx.ask(awaiting)
    return [question(ctx, _prompt_text(ctx, awaiting.question))]


for _asked in (
    Question.MEETING_WHEN,
    Question.MEETING_MOVE,
    Question.MEETING_PLACE,
    Question.MEETING_AGENDA,
    Question.MEETING_LINK,
    Question.MEETING_PEOPLE,
):
    router.prompts(_asked)(_ask_field)


async def _change(ctx: Context, actor: Member, awaiting: Awaiting, **changes: Any) -> list[Reply]:
    meeting = await meeting_to_manage(ctx.session, actor, awaiting.subject)
    try:
        await change_draft(ctx.session, actor, meeting, **changes)
    except MeetingError as error:
        return ask_again(ctx, awaiting, problem_text(ctx.translator, error))
    return await card(ctx, actor, meeting.id, "✅ " + ctx.gettext("Saved."))


@router.answers(Question.MEETING_WHEN)
async def _when_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    await meeting_to_manage(ctx.session, actor, awaiting.subject)
    when = read_answer(ctx, awaiting, text)
    if not isinstance(when, datetime):
        return when  # asked back: morning or evening, or a time still ahead
    return await _change(ctx, actor, awaiting, starts_at=when)


@router.answers(Question.MEETING_MOVE)
async def _move_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    """The new time, echoed back with what moving does, to confirm: everyone invited is told at once."""
    _ = ctx.gettext
    meeting = await meeting_to_manage(ctx.session, actor, awaiting.subject)
    when = read_answer(ctx, awaiting, text)
    if not isinstance(when, datetime):
        return when
    if when == meeting.starts_at:
        return ask_again(ctx, awaiting, _("The meeting is already at that time. Please type the new time."))
    try:
        check_start(when, utcnow())  # refused now, not after the secretary confirmed the move
    except MeetingError as error:
        return ask_again(ctx, awaiting, problem_text(ctx.translator, error))
    new = moment_words(ctx.translator, when, ctx.timezone)
    text = _(
        "Move \u201c{title}\u201d from {old} to {new}? Everyone invited is told at once and the reminders move "
        "with it."
    ).format(
        title=shorten(meeting.title, 80), old=moment_words(ctx.translator, meeting.starts_at, ctx.timezone), new=new
    )
    at = when.astimezone(ctx.timezone).replace(tzinfo=None)
    buttons = (
        (Button("✅ " + _("Move to {when}").format(when=new), MoveMeeting(meeting.id or 0, at).pack()),),
        (Button("✖️ " + _("Do not move"), MeetingCard(meeting.id or 0).pack()),),
    )
    return [Reply(text, buttons=buttons)]


@router.on(MoveMeeting)
async def _move(ctx: Context, actor: Member, action: MoveMeeting) -> list[Reply]:
    _ = ctx.gettext
    meeting = await meeting_to_manage(ctx.session, actor, action.meeting_id)
    when = action.at.replace(tzinfo=ctx.timezone)
    if when == meeting.starts_at:  # a second tap: already moved, nobody is told twice
        return await card(ctx, actor, meeting.id, "✅ " + _("Moved."))
    try:
        queued = await reschedule(ctx.session, actor, meeting, when, chat_messages(ctx))
    except MeetingError as error:
        return await card(ctx, actor, meeting.id, "⚠️ " + problem_text(ctx.translator, error))
    note = "✅ " + _("Moved; everyone invited is told ({count} messages).").format(count=queued)
    return await card(ctx, actor, meeting.id, note)


@router.answers(Question.MEETING_PEOPLE)
async def _people_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    await meeting_to_manage(ctx.session, actor, awaiting.subject)
    chosen, problems = await match_people(ctx, actor, text, Permission.MANAGE_MEETINGS)
    if problems or not chosen:
        return ask_again(ctx, awaiting, "\n".join([*problems, "", ctx.gettext("Please type the names again.")]))
    return await _change(ctx, actor, awaiting, audience=Audience((), AudienceFilter.ALL, tuple(chosen)))


@router.answers(Question.MEETING_PLACE)
async def _place_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    return await _change(ctx, actor, awaiting, place=text)


@router.answers(Question.MEETING_AGENDA)
async def _agenda_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    return await _change(ctx, actor, awaiting, agenda=text.splitlines())


@router.answers(Question.MEETING_LINK)
async def _link_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    await meeting_to_manage(ctx.session, actor, awaiting.subject)
    if not URL.match(text.strip()):
        return ask_again(ctx, awaiting, ctx.gettext("That is not a link. It starts with https://"))
    return await _change(ctx, actor, awaiting, link=text.strip())


# --- the draft's options, tapped ----------------------------------------------------------------


@router.on(SetMeetingOption)
async def _set_option(ctx: Context, actor: Member, action: SetMeetingOption) -> list[Reply]:
    meeting = await meeting_to_manage(ctx.session, actor, action.meeting_id)
    await change_draft(ctx.session, actor, meeting, **_next_value(ctx, actor, meeting, action))
    return [await preview(ctx, meeting)]


def _next_value(ctx: Context, actor: Member, meeting: Meeting, action: SetMeetingOption) -> dict[str, Any]:
    if action.option == "kind":
        return {"kind": _KINDS[(_KINDS.index(meeting.kind) + 1) % len(_KINDS)]}
    if action.option == "repeat":
        day = meeting.starts_at.astimezone(ctx.timezone).day
        return {"repeat_day": None if meeting.repeat_day else day}
    if action.option == "remind":
        current = sorted(meeting.reminder_minutes, reverse=True)
        presets = [sorted(p, reverse=True) for p in REMINDER_PRESETS]
        start = presets.index(current) + 1 if current in presets else 0
        ordered = presets[start:] + presets[:start]
        # Only reminders still ahead are offered: a step that adds none, or none new, is skipped.
        now = utcnow()

        def ahead(minutes: list[int]) -> list[int]:
            return [m for m in minutes if not meeting.time_set or meeting.starts_at - timedelta(minutes=m) > now]

        following = next((p for p in ordered if ahead(p) and ahead(p) != ahead(current)), current)
        return {"reminder_minutes": following}
    audience = Audience.from_json(meeting.audience)
    branches = audience.branches if audience.branches is not None else (actor.branch_id,)
    # Branch, then its committee (chi ủy), then for commune leaders the commune committee (đảng
    # ủy: a meeting of the commune, not of a branch), then back; chosen people are typed.
    if meeting.branch_id is None:
        return {"branch_id": actor.branch_id, "audience": Audience((actor.branch_id,))}
    if audience.filter is AudienceFilter.ALL and audience.members is None:
        return {"audience": Audience(branches or (actor.branch_id,), AudienceFilter.COMMITTEE)}
    if scope_of(actor) is Scope.COMMUNE and audience.members is None:
        return {"branch_id": None, "audience": Audience(None, AudienceFilter.COMMITTEE)}
    return {"audience": Audience(branches or (actor.branch_id,))}


# --- calling, cancelling, the list --------------------------------------------------------------


@router.on(CallMeeting)
async def _call(ctx: Context, actor: Member, action: CallMeeting) -> list[Reply]:
    _ = ctx.gettext
    meeting = await meeting_to_manage(ctx.session, actor, action.meeting_id)
    count = await call(ctx.session, actor, meeting, chat_messages(ctx))
    sent = (
        _("Invitations sent to {count} member(s) for {when}. Reminders go {offsets} before.")
        if reminders_ahead(meeting, utcnow())
        else _("Invitations sent to {count} member(s) for {when}.")
    )
    text = sent.format(
        count=count,
        when=moment_words(ctx.translator, meeting.starts_at, ctx.timezone),
        offsets=offsets(ctx.translator, meeting, utcnow()),
    )
    board = Button("📋 " + _("Attendance"), AttendanceBoard(meeting.id or 0).pack())
    return [Reply("✅ " + text, buttons=((board,),))]


@router.on(CancelMeeting)
async def _cancel(ctx: Context, actor: Member, action: CancelMeeting) -> list[Reply]:
    _ = ctx.gettext
    meeting = await meeting_to_manage(ctx.session, actor, action.meeting_id)
    if meeting.status is MeetingStatus.CALLED and action.scope is None:
        ident = meeting.id or 0
        rows: list[tuple[Button, ...]] = [
            (Button("❌ " + _("Cancel this meeting"), CancelMeeting(ident, "one").pack()),)
        ]
        if meeting.repeat_day is not None:
            rows.append((Button("❌ " + _("Cancel it and stop repeating"), CancelMeeting(ident, "series").pack()),))
        rows.append((Button("↩️ " + _("Keep it"), MeetingCard(ident).pack()),))
        asked = _("Cancel {title} ({when})? Everyone invited will be told.").format(
            title=meeting.title, when=moment_words(ctx.translator, meeting.starts_at, ctx.timezone)
        )
        return [Reply(asked, buttons=tuple(rows))]
    await cancel(ctx.session, actor, meeting, chat_messages(ctx), whole_series=action.scope == "series")
    return [home(ctx, actor, "✅ " + _("Cancelled."))]


@router.on(MeetingList)
async def _managed_list(ctx: Context, actor: Member, action: MeetingList) -> list[Reply]:
    _ = ctx.gettext
    may_manage_meetings(actor)
    listed = await meetings_managed(ctx.session, actor)
    if not listed:
        return [Reply(_("No meetings yet."), buttons=((Button("➕ " + _("New meeting"), NewMeeting().pack()),),))]
    buttons = []
    for meeting in listed:
        mark = "✏️ " if meeting.status is MeetingStatus.DRAFT else "📅 "
        day = format_datetime(meeting.starts_at, "dd/MM HH:mm", tzinfo=ctx.timezone, locale=ctx.translator.locale)
        buttons.append((Button(f"{mark}{day} {shorten(meeting.title, 36)}", MeetingCard(meeting.id or 0).pack()),))
    return [Reply(_("The branch's meetings (✏️: not called yet):"), buttons=tuple(buttons))]
