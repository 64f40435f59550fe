"""Values the secretary types: a new member, a corrected field of a record, and making a
probationary member official (the day the branch decided, then its vote)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from babel.dates import format_date

from handlers.context import Context
from handlers.contract import Reply
from handlers.questions import Awaiting, Question
from handlers.records.actions import PromoteToday
from handlers.records.card import button, cancel_row, card, refused_on_card, router, target
from handlers.records.words import problem_text
from models.errors import Stale
from models.membership import (
    InvalidChange,
    add_member,
    check,
    check_decision_day,
    check_promotion,
    edit_member,
    parse_day,
    parse_vote,
    promote,
)
from models.permissions import Permission, Target
from models.tables import Member
from models.typed_time import DateProblem, read_date

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
async def _ask_official_day(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    _ = ctx.gettext
    member = await target(ctx, actor, _subject(awaiting), Permission.EDIT_MEMBER)
    try:
        ends = check_promotion(actor, member, ctx.today())
    except InvalidChange as error:
        return await refused_on_card(ctx, actor, member, error)
    ctx.ask(awaiting)
    assert member.id is not None
    text = _(
        "Probation of {name} ended on {end}. On what day did the branch vote to make them official "
        "(dd/mm/yyyy)? Tap Today if it was today."
    ).format(name=member.full_name, end=ctx.format_day(ends))
    today = _("Today ({day})").format(day=ctx.format_day(ctx.today()))
    buttons = ((button("📅 " + today, PromoteToday(member.id)), *cancel_row(ctx)[0]),)
    return [Reply(text, buttons=buttons)]


def _ask_vote(ctx: Context, member: Member, on: date) -> list[Reply]:
    """The second question of "make official": the branch's vote (Quy định 29: at least 2/3 of the
    official members in favour)."""
    ctx.ask(Awaiting(Question.OFFICIAL_VOTE, member.id, on.isoformat()))
    text = ctx.gettext(
        "The branch's vote of {day} on making {name} official: type the votes in favour and the number of "
        "official members of the branch, e.g. 8/10. At least two thirds must be in favour."
    ).format(day=ctx.format_day(on), name=member.full_name)
    return [Reply(text, buttons=cancel_row(ctx))]


@router.answers(Question.OFFICIAL_DAY)
async def _official_day_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    member = await target(ctx, actor, _subject(awaiting), Permission.EDIT_MEMBER)
    try:
        on = parse_day(text, today=ctx.today())
        check_decision_day(actor, member, on, ctx.today())
    except InvalidChange as error:
        return _ask_again(ctx, awaiting, error)
    return _ask_vote(ctx, member, on)


@router.answers(Question.OFFICIAL_VOTE)
async def _official_vote_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    member = await target(ctx, actor, _subject(awaiting), Permission.EDIT_MEMBER)
    try:
        on = date.fromisoformat(awaiting.detail)
    except ValueError:
        raise Stale(f"vote without its day: {awaiting.detail!r}") from None
    try:
        vote = parse_vote(text)
    except InvalidChange as error:
        return _ask_again(ctx, awaiting, error)
    try:
        await promote(ctx.session, actor, member, on, vote=vote, today=ctx.today())
    except InvalidChange as error:  # the vote fell short, or the member changed meanwhile
        return await refused_on_card(ctx, actor, member, error)
    return [await card(ctx, actor, member, "✅ " + ctx.gettext("Saved."))]


@router.on(PromoteToday)
async def _promote_today(ctx: Context, actor: Member, action: PromoteToday) -> list[Reply]:
    """ "Today" as the day of the branch's decision; then the vote is asked."""
    ctx.take_question()  # the question this button answers
    member = await target(ctx, actor, action.member_id, Permission.EDIT_MEMBER)
    today = ctx.today()
    try:
        check_decision_day(actor, member, today, today)
    except InvalidChange as error:
        return await refused_on_card(ctx, actor, member, error)
    return _ask_vote(ctx, member, today)
