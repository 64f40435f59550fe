"""Values the secretary types: a new member, a corrected field of a record, and making a
probationary member official (the day the branch decided, then its vote)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from babel.dates import format_date

from handlers.context import Context
from handlers.contract import Reply
from handlers.questions import Awaiting, Question
from handlers.records.actions import PromoteAt
from handlers.records.card import button, cancel_row, card, refused_on_card, router, target
from handlers.records.words import problem_text
from models import roster_history
from models.errors import Stale
from models.membership import (
    ChangeProblem,
    InvalidChange,
    add_member,
    check,
    check_decision_day,
    check_promotion,
    check_promotion_meeting,
    edit_member,
    parse_day,
    parse_vote,
    promote,
    promotion_meetings,
)
from models.permissions import Permission, Target
from models.tables import Meeting, Member
from models.typed_time import DateProblem, read_date
from models.vietnamese import shorten

# The member field each typed answer sets.
_FIELD_OF_QUESTION = {
    Question.MEMBER_PHONE: "phone",
    Question.MEMBER_NAME: "full_name",
    Question.MEMBER_BIRTH: "birth_date",
    Question.MEMBER_ADMITTED: "date_admitted",
    Question.MEMBER_CARD_NUMBER: "card_number",
}
_DATE_FIELDS = ("birth_date", "date_admitted")
_SEPARATORS = re.compile(r"[,;\n]")


def _subject(awaiting: Awaiting) -> int:
    """The member a question is about; one stored without is from no button chibo made."""
    if awaiting.subject is None:
        raise Stale(f"{awaiting.question} without a member")
    return awaiting.subject


def _ask_again(ctx: Context, awaiting: Awaiting, error: InvalidChange) -> list[Reply]:
    ctx.ask(awaiting)
    text = problem_text(ctx.translator, error) + "\n" + ctx.gettext("Please type it again.")
    return [Reply(text, buttons=cancel_row(ctx))]


@router.prompts(Question.ADD_MEMBER)
async def _ask_new_member(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    check(actor, Permission.EDIT_MEMBER, Target(actor.branch_id))
    ctx.ask(awaiting)
    text = ctx.gettext(
        "Type the new member's full name, birth date and phone number, separated by commas, e.g.\n"
        "Nguyễn Văn An, 12/03/1985, 0912 345 678\n"
        "Birth date and phone may be left out. The member is added to your branch as probationary; "
        "you can change that on their record."
    )
    return [Reply(text, buttons=cancel_row(ctx))]


@router.answers(Question.ADD_MEMBER)
async def _add_from_text(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    _ = ctx.gettext
    parts = [part.strip() for part in _SEPARATORS.split(text)]
    values: dict[str, Any] = {"full_name": parts[0]}
    try:
        for part in filter(None, parts[1:]):
            if read_date(part) is not DateProblem.UNREADABLE:  # a date, or one that is wrong: said so
                values["birth_date"] = parse_day(part, today=ctx.today())
            else:
                values["phone"] = part
        member = await add_member(ctx.session, actor, actor.branch_id, values)
    except InvalidChange as error:
        return _ask_again(ctx, awaiting, error)
    note = "✅ " + _("{name} was added. Tap \u201cNew invite code\u201d to let them join.").format(
        name=member.full_name
    )
    return [await card(ctx, actor, member, note)]


async def _ask_field(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    _ = ctx.gettext
    member = await target(ctx, actor, _subject(awaiting), Permission.EDIT_MEMBER)
    prompt = {
        Question.MEMBER_PHONE: _("Type the new phone number of {name}:"),
        Question.MEMBER_NAME: _("Type the corrected full name of {name}:"),
        Question.MEMBER_BIRTH: _("Type the birth date of {name} (dd/mm/yyyy):"),
        Question.MEMBER_ADMITTED: _("Type the day {name} joined the Party (dd/mm/yyyy):"),
        Question.MEMBER_CARD_NUMBER: _("Type the party card number of {name}:"),
    }[awaiting.question]
    ctx.ask(awaiting)
    return [Reply(prompt.format(name=member.full_name), buttons=cancel_row(ctx))]


async def _save_field(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    member = await target(ctx, actor, _subject(awaiting), Permission.EDIT_MEMBER)
    field = _FIELD_OF_QUESTION[awaiting.question]
    try:
        value: Any = parse_day(text, today=ctx.today()) if field in _DATE_FIELDS else text
        await edit_member(ctx.session, actor, member, {field: value})
    except InvalidChange as error:
        return _ask_again(ctx, awaiting, error)
    note = "✅ " + ctx.gettext("Saved.")
    if isinstance(value, date):  # read back in full, so a misread day is seen at once
        note = "✅ " + ctx.gettext("Saved: {day}.").format(day=day_words(ctx, value))
    return [await card(ctx, actor, member, note)]


def day_words(ctx: Context, day: date) -> str:
    """ "Thứ Bảy, 05/03/1960": the day as read, with its weekday."""
    pattern = "EEEE, dd/MM/yyyy" if ctx.translator.locale == "vi" else "EEEE d MMMM yyyy"
    return format_date(day, pattern, locale=ctx.translator.locale)


for _question in _FIELD_OF_QUESTION:
    router.prompts(_question)(_ask_field)
    router.answers(_question)(_save_field)


@router.prompts(Question.OFFICIAL_DAY)
async def _ask_official_meeting(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    return await _official_meetings(ctx, actor, awaiting)


async def _official_meetings(ctx: Context, actor: Member, awaiting: Awaiting, note: str = "") -> list[Reply]:
    """ "Make official": the branch votes at its meeting (Quy định 29), so the secretary picks the
    meeting, among the branch's held since probation ended, newest first; its day is the decision's."""
    _ = ctx.gettext
    member = await target(ctx, actor, _subject(awaiting), Permission.EDIT_MEMBER)
    try:
        ends = check_promotion(actor, member, ctx.today())
        since = datetime.combine(ends or ctx.today(), time(0), ctx.timezone)
        meetings = await promotion_meetings(ctx.session, member, since)
        if not meetings:
            raise InvalidChange(ChangeProblem.NO_MEETING, (ends or ctx.today()).isoformat())
    except InvalidChange as error:
        return await refused_on_card(ctx, actor, member, error)
    assert member.id is not None
    ctx.ask(awaiting)  # a typed day picks the meeting too, and an earlier question no longer takes the text
    text = _("Probation of {name} ended on {end}. At which meeting did the branch vote to make them official?").format(
        name=member.full_name, end=ctx.format_day(ends) if ends else "—"
    )
    if note:
        text = note + "\n" + text
    buttons = tuple(
        (button("📅 " + _meeting_label(ctx, meeting), PromoteAt(member.id, meeting.id or 0)),) for meeting in meetings
    )
    return [Reply(text, buttons=(*buttons, *cancel_row(ctx)))]


@router.answers(Question.OFFICIAL_DAY)
async def _official_meeting_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    """The meeting named by its day ("05/12/2026"), for a secretary who types rather than taps."""
    member = await target(ctx, actor, _subject(awaiting), Permission.EDIT_MEMBER)
    try:
        day = parse_day(text, today=ctx.today())
    except InvalidChange as error:
        recent = _latest_such_day(text, ctx.today())
        if recent is None:
            return await _official_meetings(ctx, actor, awaiting, note=problem_text(ctx.translator, error))
        day = recent
    start = datetime.combine(day, time(0), ctx.timezone)
    held = await promotion_meetings(ctx.session, member, start, until=start + timedelta(days=1))
    if len(held) != 1:  # none that day, or two: the list says which
        note = ctx.gettext("No meeting of the branch on {day} can be picked: tap one below.").format(
            day=ctx.format_day(day)
        )
        return await _official_meetings(ctx, actor, awaiting, note=note)
    return await _promote_at(ctx, actor, PromoteAt(member.id or 0, held[0].id or 0))


def _latest_such_day(text: str, today: date) -> date | None:
    """ "15/11" for a meeting held lately: the last 15/11 not after today (a birth date needs its
    year; a recent meeting's day does not)."""
    for year in (today.year, today.year - 1):
        day = read_date(f"{text.strip()}/{year}")
        if isinstance(day, date) and day <= today:
            return day
    return None


def _meeting_label(ctx: Context, meeting: Meeting) -> str:
    return f"{ctx.format_day(meeting.starts_at.astimezone(ctx.timezone).date())} · {shorten(meeting.title, 40)}"


async def _ask_vote(ctx: Context, member: Member, meeting: Meeting) -> list[Reply]:
    """The second question of "make official": the branch's vote (Quy định 29: at least 2/3 of the
    official members in favour), at the meeting picked; with the number of official members the
    records show on the roster that day, to check the count against."""
    ctx.ask(Awaiting(Question.OFFICIAL_VOTE, member.id, str(meeting.id)))
    officials = await _officials_on(ctx, member, meeting.starts_at.astimezone(ctx.timezone).date())
    text = ctx.gettext(
        "The branch's vote of {day} on making {name} official: type the votes in favour and the number of "
        "official members of the branch, e.g. 8/10. At least two thirds must be in favour."
    ).format(day=_meeting_label(ctx, meeting), name=member.full_name)
    text += "\n" + ctx.gettext("The records show {count} official members on the branch's roster that day.").format(
        count=officials
    )
    return [Reply(text, buttons=cancel_row(ctx))]


async def _officials_on(ctx: Context, member: Member, day: date) -> int:
    """The official members the records show on the member's branch's roster on ``day``."""
    found = await roster_history.histories(ctx.session, branch_id=member.branch_id, tz=ctx.timezone)
    return sum(1 for h in found.values() if h.stay(member.branch_id, day) is not None and h.official_on(day))


async def _meeting_day(ctx: Context, actor: Member, member: Member, meeting_id: int) -> tuple[Meeting, date]:
    """The meeting picked, when the branch's vote can have been taken there, and its day."""
    meeting = await ctx.session.get(Meeting, meeting_id)
    if meeting is None:
        raise Stale(f"meeting {meeting_id}")
    check_promotion_meeting(member, meeting)
    day = meeting.starts_at.astimezone(ctx.timezone).date()
    check_decision_day(actor, member, day, ctx.today())
    return meeting, day


@router.answers(Question.OFFICIAL_VOTE)
async def _official_vote_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    member = await target(ctx, actor, _subject(awaiting), Permission.EDIT_MEMBER)
    if not awaiting.detail.isdigit():
        raise Stale(f"vote without its meeting: {awaiting.detail!r}")
    try:
        vote = parse_vote(text)
    except InvalidChange as error:
        return _ask_again(ctx, awaiting, error)
    try:
        meeting, day = await _meeting_day(ctx, actor, member, int(awaiting.detail))
        counted = await _officials_on(ctx, member, day)  # before the promotion adds them
        await promote(ctx.session, actor, member, day, vote=vote, meeting=meeting, today=ctx.today())
    except InvalidChange as error:  # the vote fell short, or the member changed meanwhile
        return await refused_on_card(ctx, actor, member, error)
    said = "✅ " + ctx.gettext("Saved: {name} is an official member from {day}.").format(
        name=member.full_name, day=ctx.format_day(member.date_official or day)
    )
    if vote[1] != counted:  # kept as typed (the minutes decide), but the difference is said
        said += "\n" + ctx.gettext(
            "Note: the records show {count} official members that day; you typed {typed}."
        ).format(count=counted, typed=vote[1])
    return [await card(ctx, actor, member, said)]


@router.on(PromoteAt)
async def _promote_at(ctx: Context, actor: Member, action: PromoteAt) -> list[Reply]:
    """The meeting that held the branch's vote, tapped; then the vote is asked."""
    member = await target(ctx, actor, action.member_id, Permission.EDIT_MEMBER)
    try:
        meeting, _day = await _meeting_day(ctx, actor, member, action.meeting_id)
    except InvalidChange as error:
        return await refused_on_card(ctx, actor, member, error)
    return await _ask_vote(ctx, member, meeting)
