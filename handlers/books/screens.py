"""The branch's books in chat, for the secretary (Quản lý → Sổ sách chi bộ) and a member's own review.

Short screens of big buttons; anything typed is one line ("where; when"). The rules are in
models/books.py; here only what is shown and asked."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import col, select

from handlers.actions import ActionData
from handlers.books.actions import (
    CandidateCard,
    Candidates,
    ChooseTransfer,
    Classify,
    DropCandidate,
    EndTemporary,
    MeetingRecord,
    MeetingRecords,
    MinutesForm,
    ReviewMember,
    Reviews,
    SelfLevel,
    StandardAgenda,
    StepToday,
    TransferKinds,
    Transfers,
)
from handlers.books.words import level_name, problem_text, standard_agenda, step_name, transfer_name
from handlers.context import Context
from handlers.contract import Button, Reply, Rows
from handlers.members import Cancel, home
from handlers.menus import Books, MyReview
from handlers.questions import Ask, Awaiting, Question
from handlers.records.card import card as member_card
from handlers.records.card import card_button, target
from handlers.records.words import problem_text as record_problem
from handlers.router import Router
from models import books
from models.books import BookError, BookProblem
from models.meeting_queries import meeting_to_manage
from models.meetings import change_draft
from models.meetings.rules import MeetingError
from models.membership import InvalidChange, check, parse_day, probation_due, probation_end
from models.permissions import Permission, Target
from models.tables import (
    AdmissionCandidate,
    Branch,
    HandVote,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Member,
    MemberStanding,
    ReviewLevel,
    TransferKind,
    utcnow,
)
from models.typed_time import read_date
from models.vietnamese import shorten

router = Router("books")

RECENT_MEETINGS = 6
RECENT_TRANSFERS = 15
# A year's review is held at its end: until this month of the next year, the review is of the year before.
REVIEW_UNTIL_MONTH = 6


def _button(label: str, action: ActionData) -> Button:
    return Button(label, action.pack())


def _cancel(ctx: Context) -> tuple[Button, ...]:
    return (_button("✖️ " + ctx.gettext("Cancel"), Cancel()),)


def _question(ctx: Context, awaiting: Awaiting, text: str) -> list[Reply]:
    ctx.ask(awaiting)
    return [Reply(text, buttons=(_cancel(ctx),))]


def _again(ctx: Context, awaiting: Awaiting, error: BookError | InvalidChange) -> list[Reply]:
    """A typed answer that cannot be taken: why, and the question stays open."""
    return _question(ctx, awaiting, "⚠️ " + _why(ctx, error))


def _why(ctx: Context, error: BookError | InvalidChange) -> str:
    if isinstance(error, BookError):
        return problem_text(ctx.translator, error)
    return record_problem(ctx.translator, error)


def _parts(text: str) -> list[str]:
    return [part.strip() for part in text.split(";")]


def _today(ctx: Context) -> date:
    return datetime.now(ctx.timezone).date()


def _day_of(ctx: Context, meeting: Meeting) -> str:
    return ctx.format_day(meeting.starts_at.astimezone(ctx.timezone).date())


def _vote_lines(ctx: Context, votes: list[HandVote]) -> list[str]:
    return [f"• {v.question}: " + vote_words(ctx, v.votes_for, v.base, books.adopted(v)) for v in votes]


def review_year(ctx: Context) -> int:
    today = _today(ctx)
    return today.year if today.month > REVIEW_UNTIL_MONTH else today.year - 1


def _keeps_books(actor: Member) -> Target:
    own = Target(actor.branch_id)
    check(actor, Permission.EDIT_MEMBER, own)
    return own


@router.on(Books)
async def _books(ctx: Context, actor: Member, action: Books) -> list[Reply]:
    """Quản lý → the branch's books: what needs doing, and the four books."""
    _ = ctx.gettext
    _keeps_books(actor)
    today = _today(ctx)
    branch = await ctx.session.get(Branch, actor.branch_id)
    lines = ["📚 " + _("Books of {branch}").format(branch=branch.name if branch else "—"), ""]
    missing = await books.thematic_missing(ctx.session, actor.branch_id, today, ctx.timezone)
    for year, quarter in missing:
        lines.append("⚠️ " + _("No thematic meeting in quarter {quarter}/{year}.").format(quarter=quarter, year=year))
    for transfer, member in await books.overdue_temporary(ctx.session, actor.branch_id, today):
        lines.append(
            "⚠️ "
            + _("{name}: the temporary transfer to {organisation} ended on {day}.").format(
                name=member.full_name, organisation=transfer.organisation, day=ctx.format_day(transfer.until)
            )
        )
    due = await probation_due(ctx.session, actor, today)
    lines.append(_("Probation ended or ending within 30 days: {count}").format(count=len(due)))
    followed = await books.candidates(ctx.session, actor, actor.branch_id)
    lines.append(_("Admission candidates followed: {count}").format(count=len(followed)))
    year = review_year(ctx)
    board = await books.review_board(ctx.session, actor, actor.branch_id, year)
    done = sum(1 for _m, review in board.rows if review is not None and review.level is not None)
    progress = _("Year-end review {year}: {done} of {count} classified")
    lines.append(progress.format(year=year, done=done, count=len(board.rows)))
    buttons: Rows = (
        (_button("📝 " + _("Meeting records"), MeetingRecords()), _button("🔀 " + _("Transfers"), Transfers())),
        (_button("🌱 " + _("Admission candidates"), Candidates()), _button("🏅 " + _("Year-end review"), Reviews())),
    )
    return [Reply("\n".join(lines), buttons=buttons)]


# --- The monthly meeting's record -------------------------------------------------------------


@router.on(MeetingRecords)
async def _meeting_records(ctx: Context, actor: Member, action: MeetingRecords) -> list[Reply]:
    _ = ctx.gettext
    _keeps_books(actor)
    meetings = (
        await ctx.session.exec(
            select(Meeting)
            .where(Meeting.branch_id == actor.branch_id, Meeting.status == MeetingStatus.CALLED)
            .where(col(Meeting.starts_at) <= utcnow())
            .order_by(col(Meeting.starts_at).desc())
            .limit(RECENT_MEETINGS)
        )
    ).all()
    if not meetings:
        return [Reply(_("No meeting of the branch has taken place yet."))]
    buttons = tuple((_button(f"{_day_of(ctx, m)} {shorten(m.title, 30)}", MeetingRecord(m.id or 0)),) for m in meetings)
    return [Reply(_("The branch's latest meetings: choose one to record its resolution and votes."), buttons=buttons)]


async def _record_screen(ctx: Context, actor: Member, meeting_id: int, note: str = "") -> list[Reply]:
    _ = ctx.gettext
    meeting = await meeting_to_manage(ctx.session, actor, meeting_id)
    day = ctx.format_day(meeting.starts_at.astimezone(ctx.timezone).date())
    lines = [note, f"📝 {meeting.title} ({day})"] if note else [f"📝 {meeting.title} ({day})"]
    resolution = await books.resolution_of(ctx.session, meeting.id or 0)
    if resolution is not None:
        label = books.resolution_label(resolution, meeting, ctx.timezone)
        lines += ["", _("Resolution no. {label}:").format(label=label)]
        lines += [f"{n}. {decision}" for n, decision in enumerate(resolution.decisions, 1)]
    elif meeting.kind is MeetingKind.REGULAR:
        lines += ["", _("No resolution recorded yet.")]
    votes = await books.hand_votes(ctx.session, meeting.id or 0)
    if votes:
        lines += ["", _("Votes by show of hands:")]
        lines += _vote_lines(ctx, votes)
    ident = meeting.id or 0
    first: list[Button] = []
    if meeting.kind is MeetingKind.REGULAR:
        first.append(_button("✍️ " + _("Resolution"), Ask(Question.RESOLUTION, ident)))
    first.append(_button("✋ " + _("Show of hands"), Ask(Question.HAND_VOTE, ident)))
    buttons: Rows = (tuple(first), (_button("📄 " + _("Minutes in the usual form"), MinutesForm(ident)),))
    return [Reply("\n".join(lines), buttons=buttons)]


def vote_words(ctx: Context, votes_for: int, base: int, adopted: bool) -> str:
    _ = ctx.gettext
    words = _("adopted: {votes}/{base} in favour") if adopted else _("not adopted: {votes}/{base} in favour")
    return words.format(votes=votes_for, base=base)


@router.on(MeetingRecord)
async def _meeting_record(ctx: Context, actor: Member, action: MeetingRecord) -> list[Reply]:
    return await _record_screen(ctx, actor, action.meeting_id)


@router.prompts(Question.RESOLUTION)
async def _ask_resolution(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    await meeting_to_manage(ctx.session, actor, awaiting.subject)
    return _question(ctx, awaiting, ctx.gettext("Type the decisions of the month's resolution, one per line."))


@router.answers(Question.RESOLUTION)
async def _resolution_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    meeting = await meeting_to_manage(ctx.session, actor, awaiting.subject)
    try:
        resolution = await books.record_resolution(ctx.session, actor, meeting, text.splitlines(), ctx.timezone)
    except BookError as error:
        return _again(ctx, awaiting, error)
    label = books.resolution_label(resolution, meeting, ctx.timezone)
    note = "✅ " + ctx.gettext("Saved: resolution no. {label}.").format(label=label)
    return await _record_screen(ctx, actor, meeting.id or 0, note)


@router.prompts(Question.HAND_VOTE)
async def _ask_hand_vote(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    _ = ctx.gettext
    meeting = await meeting_to_manage(ctx.session, actor, awaiting.subject)
    counted = await books.vote_base(ctx.session, meeting)
    text = _(
        "The base of a vote at this meeting: {base} official members (those summoned, less the exempt who "
        "are absent and those excused); {present} are present. Adopted with more than half of the base: "
        "{needed}.\nType the question, then the hands in favour (and against), e.g. “Thông qua nghị quyết; 9/1”."
    ).format(base=counted.base, present=counted.present, needed=counted.base // 2 + 1)
    return _question(ctx, awaiting, text)


@router.answers(Question.HAND_VOTE)
async def _hand_vote_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    meeting = await meeting_to_manage(ctx.session, actor, awaiting.subject)
    question, _sep, counts = text.rpartition(";")
    try:
        if not question.strip():
            raise BookError(BookProblem.BAD_COUNT)
        votes_for, against = books.parse_hands(counts)
        vote = await books.record_hand_vote(ctx.session, actor, meeting, question, votes_for, against)
    except BookError as error:
        return _again(ctx, awaiting, error)
    note = "✅ " + f"{vote.question}: " + vote_words(ctx, vote.votes_for, vote.base, books.adopted(vote))
    return await _record_screen(ctx, actor, meeting.id or 0, note)


@router.on(MinutesForm)
async def _minutes_form(ctx: Context, actor: Member, action: MinutesForm) -> list[Reply]:
    """The minutes in the usual form (DESIGN.md §4 "Minutes"), from what was recorded."""
    _ = ctx.gettext
    meeting = await meeting_to_manage(ctx.session, actor, action.meeting_id)
    facts = await books.minutes_facts(ctx.session, actor, meeting)
    start = meeting.starts_at.astimezone(ctx.timezone)
    lines = [
        _("MINUTES OF THE BRANCH MEETING"),
        facts.branch.name if facts.branch else "",
        meeting.title,
        "",
        _("Time: {time}, {day}").format(time=start.strftime("%H:%M"), day=ctx.format_day(start.date())),
        _("Place: {place}").format(place=meeting.place or "—"),
        _("Members summoned: {official} official, {probationary} probationary ({exempt} exempt)").format(
            official=facts.official, probationary=facts.probationary, exempt=facts.exempt
        ),
        _("Present: {count}").format(count=len(facts.present))
        + (": " + ", ".join(facts.present) if facts.present else ""),
        _("Absent with reason: {names}").format(
            names=", ".join(f"{name} ({reason})" if reason else name for name, reason in facts.excused) or "—"
        ),
        _("Absent without reason: {names}").format(names=", ".join(facts.absent) or "—"),
    ]
    if facts.unrecorded:
        lines.append(_("Not recorded yet: {names}").format(names=", ".join(facts.unrecorded)))
    lines.append(
        (
            _("The meeting is valid: at least {needed} present.")
            if facts.valid
            else _("The meeting is not valid: {needed} needed present.")
        ).format(needed=facts.needed)
    )
    if meeting.agenda:
        lines += ["", _("Agenda:")] + [f"{n}. {item}" for n, item in enumerate(meeting.agenda, 1)]
    if meeting.minutes_text:
        lines += ["", _("Proceedings:"), meeting.minutes_text]
    if meeting.conclusions:
        lines += ["", _("Conclusions:"), meeting.conclusions]
    if facts.resolution is not None:
        label = books.resolution_label(facts.resolution, meeting, ctx.timezone)
        lines += ["", _("Resolution no. {label}:").format(label=label)]
        lines += [f"{n}. {d}" for n, d in enumerate(facts.resolution.decisions, 1)]
    if facts.votes:
        lines += ["", _("Votes by show of hands:")]
        lines += _vote_lines(ctx, facts.votes)
    return [Reply("\n".join(lines), buttons=((_button("↩️ " + _("Back"), MeetingRecord(meeting.id or 0)),),))]


@router.on(StandardAgenda)
async def _standard_agenda(ctx: Context, actor: Member, action: StandardAgenda) -> list[Reply]:
    from handlers.meetings.cards import preview

    meeting = await meeting_to_manage(ctx.session, actor, action.meeting_id)
    try:
        await change_draft(ctx.session, actor, meeting, agenda=standard_agenda(ctx.translator))
    except MeetingError:
        return [home(ctx, actor, ctx.gettext("This meeting has already been called: its agenda is as sent."))]
    return [await preview(ctx, meeting, "✅ " + ctx.gettext("Saved."))]


# --- Transfers --------------------------------------------------------------------------------


@router.on(Transfers)
async def _transfers(ctx: Context, actor: Member, action: Transfers) -> list[Reply]:
    _ = ctx.gettext
    _keeps_books(actor)
    rows = await books.branch_transfers(ctx.session, actor, actor.branch_id)
    lines = [_("Transfers of the branch, newest first:"), ""]
    for transfer, member in rows[:RECENT_TRANSFERS]:
        kind = transfer_name(ctx.translator, transfer.kind)
        line = f"• {ctx.format_day(transfer.day)} {member.full_name}: {kind}, {transfer.organisation}"
        if transfer.until is not None:
            line += " " + _("until {day}").format(day=ctx.format_day(transfer.until))
        if transfer.ended_on is not None:
            line += " " + _("(ended {day})").format(day=ctx.format_day(transfer.ended_on))
        lines.append(line)
    if not rows:
        lines.append(_("None recorded yet."))
    lines += ["", _("To transfer a member, open their record and tap “Transfer”.")]
    buttons: Rows = ((_button("➕ " + _("A member arriving by transfer"), Ask(Question.TRANSFER_IN)),),)
    return [Reply("\n".join(lines), buttons=buttons)]


@router.on(TransferKinds)
async def _transfer_kinds(ctx: Context, actor: Member, action: TransferKinds) -> list[Reply]:
    _ = ctx.gettext
    member = await target(ctx, actor, action.member_id, Permission.EDIT_MEMBER)
    lines = [_("Transfer of {name}: which kind?").format(name=member.full_name)]
    for transfer in await books.transfers_of(ctx.session, member.id or 0):
        kind = transfer_name(ctx.translator, transfer.kind)
        lines.append(f"• {ctx.format_day(transfer.day)}: {kind}, {transfer.organisation}")
    ident = member.id or 0
    buttons: list[tuple[Button, ...]] = [
        (_button(transfer_name(ctx.translator, kind), ChooseTransfer(ident, kind)),)
        for kind in (TransferKind.OUT, TransferKind.TEMPORARY, TransferKind.RESIDENCE)
    ]
    if member.standing is MemberStanding.ELSEWHERE:
        buttons.insert(0, (_button("↩️ " + _("Back from the temporary transfer today"), EndTemporary(ident)),))
    buttons.append((card_button(member),))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


_TRANSFER_QUESTIONS = {
    TransferKind.OUT: Question.TRANSFER_OUT,
    TransferKind.TEMPORARY: Question.TRANSFER_TEMPORARY,
    TransferKind.RESIDENCE: Question.RESIDENCE,
}


def _transfer_prompt(ctx: Context, question: Question) -> str:
    _ = ctx.gettext
    return {
        Question.TRANSFER_OUT: _(
            "Type the party organisation they transfer to, and the day, e.g. “Đảng bộ phường Hòa Bình; 15/11/2026” "
            "(without a day: today). They leave the roster; their record is kept."
        ),
        Question.TRANSFER_TEMPORARY: _(
            "Type where they are temporarily active, and until when, e.g. “Chi bộ Công ty X; 31/03/2027”. They "
            "stay on the roster, out of the base of the branch's votes."
        ),
        Question.RESIDENCE: _(
            "Type the party organisation where they live and keep in touch, e.g. “Chi bộ tổ dân phố 5”."
        ),
    }[question]


@router.on(ChooseTransfer)
async def _choose_transfer(ctx: Context, actor: Member, action: ChooseTransfer) -> list[Reply]:
    question = _TRANSFER_QUESTIONS.get(action.kind)
    if question is None:
        return await _transfer_kinds(ctx, actor, TransferKinds(action.member_id))
    member = await target(ctx, actor, action.member_id, Permission.EDIT_MEMBER)
    if question is Question.TRANSFER_OUT:
        # Taking a member off the roster is asked first, naming them, as "Đưa ra khỏi danh sách" is
        # (was: the typed organisation saved it at once).
        _ = ctx.gettext
        text = _(
            "Official transfer of comrade {name}: they leave the branch's roster and its votes; their record "
            "and history are kept. Continue?"
        ).format(name=member.full_name)
        buttons: Rows = (
            (
                _button("➡️ " + _("Continue"), Ask(Question.TRANSFER_OUT, action.member_id)),
                _button("✖️ " + _("Cancel"), Cancel()),
            ),
        )
        return [Reply(text, buttons=buttons)]
    return _question(ctx, Awaiting(question, action.member_id), _transfer_prompt(ctx, question))


async def _ask_transfer(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    await target(ctx, actor, awaiting.subject or 0, Permission.EDIT_MEMBER)
    return _question(ctx, awaiting, _transfer_prompt(ctx, awaiting.question))


for _asked in _TRANSFER_QUESTIONS.values():
    router.prompts(_asked)(_ask_transfer)


@router.answers(Question.TRANSFER_OUT)
async def _transfer_out_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    member = await target(ctx, actor, awaiting.subject or 0, Permission.EDIT_MEMBER)
    parts = _parts(text)
    try:
        on = parse_day(parts[1], today=_today(ctx)) if len(parts) > 1 and parts[1] else _today(ctx)
        await books.transfer_out(ctx.session, actor, member, parts[0], on, today=_today(ctx))
    except (BookError, InvalidChange) as error:
        return _again(ctx, awaiting, error)
    return [await member_card(ctx, actor, member, "✅ " + ctx.gettext("Saved."))]


@router.answers(Question.TRANSFER_TEMPORARY)
async def _transfer_temporary_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    member = await target(ctx, actor, awaiting.subject or 0, Permission.EDIT_MEMBER)
    parts = _parts(text)
    until = read_date(parts[1]) if len(parts) > 1 else None
    try:
        if not isinstance(until, date):
            raise BookError(BookProblem.BAD_DAY, "31/03/2027")
        await books.transfer_temporary(ctx.session, actor, member, parts[0], _today(ctx), until)
    except (BookError, InvalidChange) as error:
        return _again(ctx, awaiting, error)
    return [await member_card(ctx, actor, member, "✅ " + ctx.gettext("Saved."))]


@router.answers(Question.RESIDENCE)
async def _residence_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    member = await target(ctx, actor, awaiting.subject or 0, Permission.EDIT_MEMBER)
    try:
        await books.note_residence(ctx.session, actor, member, text, _today(ctx))
    except (BookError, InvalidChange) as error:
        return _again(ctx, awaiting, error)
    return [await member_card(ctx, actor, member, "✅ " + ctx.gettext("Saved."))]


@router.on(EndTemporary)
async def _end_temporary(ctx: Context, actor: Member, action: EndTemporary) -> list[Reply]:
    member = await target(ctx, actor, action.member_id, Permission.EDIT_MEMBER)
    try:
        await books.end_temporary(ctx.session, actor, member, _today(ctx))
    except (BookError, InvalidChange) as error:
        return [await member_card(ctx, actor, member, "⚠️ " + _why(ctx, error))]
    return [await member_card(ctx, actor, member, "✅ " + ctx.gettext("Saved."))]


@router.prompts(Question.TRANSFER_IN)
async def _ask_transfer_in(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    _keeps_books(actor)
    text = ctx.gettext(
        "Type the name, the date they joined the Party and where they come from, e.g. “Hà Văn Tới; 02/03/2010; "
        "Đảng bộ xã Tân Lập”. They join the roster today: official when 12 months from joining have passed."
    )
    return _question(ctx, Awaiting(Question.TRANSFER_IN), text)


@router.answers(Question.TRANSFER_IN)
async def _transfer_in_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    _keeps_books(actor)
    parts = _parts(text)
    today = _today(ctx)
    try:
        if len(parts) != 3:
            raise BookError(BookProblem.EMPTY)
        admitted = parse_day(parts[1], today=today)
        values: dict[str, object] = {"full_name": parts[0], "date_admitted": admitted}
        if probation_end(admitted) <= today:  # official from the end of the 12 months (Quy định 29)
            values["date_official"] = probation_end(admitted)
        member = await books.transfer_in(ctx.session, actor, actor.branch_id, values, parts[2], today, today=today)
    except (BookError, InvalidChange) as error:
        return _again(ctx, awaiting, error)
    return [await member_card(ctx, actor, member, "✅ " + ctx.gettext("Saved."))]


# --- Admission candidates ---------------------------------------------------------------------


@router.on(Candidates)
async def _candidates(ctx: Context, actor: Member, action: Candidates) -> list[Reply]:
    _ = ctx.gettext
    _keeps_books(actor)
    followed = await books.candidates(ctx.session, actor, actor.branch_id)
    lines = [_("Admission candidates followed by the branch:"), ""]
    for candidate in followed:
        step = books.next_step(candidate)
        waiting = step_name(ctx.translator, step) if step else "—"
        lines.append(
            _("• {name} (introduced by {introducer}, {day}): next, {step}").format(
                name=candidate.full_name,
                introducer=candidate.introducer,
                day=ctx.format_day(candidate.introduced_on),
                step=waiting,
            )
        )
    if not followed:
        lines.append(_("None followed yet."))
    buttons = tuple((_button("🌱 " + shorten(c.full_name, 40), CandidateCard(c.id or 0)),) for c in followed)
    buttons += ((_button("➕ " + _("Add a candidate"), Ask(Question.CANDIDATE)),),)
    return [Reply("\n".join(lines), buttons=buttons)]


async def _candidate_screen(ctx: Context, candidate: AdmissionCandidate, note: str = "") -> list[Reply]:
    _ = ctx.gettext
    lines = [note, ""] if note else []
    lines.append("🌱 " + candidate.full_name)
    lines.append(
        _("Introduced by {introducer} on {day}").format(
            introducer=candidate.introducer, day=ctx.format_day(candidate.introduced_on)
        )
    )
    for step in books.STEPS:
        day = getattr(candidate, step.value)
        lines.append(f"{'✅' if day else '▫️'} {step_name(ctx.translator, step)}: {ctx.format_day(day) if day else '—'}")
    buttons: list[tuple[Button, ...]] = []
    due = books.next_step(candidate)
    ident = candidate.id or 0
    if due is not None and candidate.dropped_on is None:
        today = _("{step}: today").format(step=step_name(ctx.translator, due))
        buttons.append((_button("✅ " + today, StepToday(ident)),))
        buttons.append((_button("📅 " + _("On another day"), Ask(Question.CANDIDATE_STEP, ident)),))
        buttons.append((_button("✖️ " + _("No longer follow"), DropCandidate(ident)),))
    buttons.append((_button("↩️ " + _("Admission candidates"), Candidates()),))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


@router.on(DropCandidate)
async def _drop_candidate(ctx: Context, actor: Member, action: DropCandidate) -> list[Reply]:
    _ = ctx.gettext
    candidate = await books.candidate_to_manage(ctx.session, actor, action.candidate_id)
    if action.sure is None:
        text = _("No longer follow {name} for admission? The record is kept.").format(name=candidate.full_name)
        buttons: Rows = (
            (_button("✅ " + _("Yes, no longer follow"), DropCandidate(action.candidate_id, "yes")),),
            (_button("↩️ " + _("No, keep following"), CandidateCard(action.candidate_id)),),
        )
        return [Reply(text, buttons=buttons)]
    await books.drop_candidate(ctx.session, actor, candidate, _today(ctx))
    return await _candidates(ctx, actor, Candidates())


@router.on(CandidateCard)
async def _candidate_card(ctx: Context, actor: Member, action: CandidateCard) -> list[Reply]:
    return await _candidate_screen(ctx, await books.candidate_to_manage(ctx.session, actor, action.candidate_id))


async def _step(ctx: Context, actor: Member, candidate: AdmissionCandidate, on: date) -> list[Reply]:
    step = books.next_step(candidate)
    if step is None:
        raise BookError(BookProblem.STEP_DONE)
    member = await books.record_step(ctx.session, actor, candidate, step, on, today=_today(ctx))
    note = "✅ " + ctx.gettext("Saved.")
    replies = await _candidate_screen(ctx, candidate, note)
    if member is not None:  # the ceremony: on the roster, probation starts
        text = ctx.gettext("{name} is on the roster as a probationary member from {day}.").format(
            name=member.full_name, day=ctx.format_day(on)
        )
        replies.append(Reply(text, buttons=((card_button(member),),)))
    return replies


@router.on(StepToday)
async def _step_today(ctx: Context, actor: Member, action: StepToday) -> list[Reply]:
    candidate = await books.candidate_to_manage(ctx.session, actor, action.candidate_id)
    try:
        return await _step(ctx, actor, candidate, _today(ctx))
    except BookError as error:
        return await _candidate_screen(ctx, candidate, "⚠️ " + problem_text(ctx.translator, error))


@router.prompts(Question.CANDIDATE_STEP)
async def _ask_step_day(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    candidate = await books.candidate_to_manage(ctx.session, actor, awaiting.subject or 0)
    step = books.next_step(candidate)
    text = ctx.gettext("On which day was “{step}” done? e.g. 15/11/2026").format(
        step=step_name(ctx.translator, step) if step else "—"
    )
    return _question(ctx, awaiting, text)


@router.answers(Question.CANDIDATE_STEP)
async def _step_day_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    candidate = await books.candidate_to_manage(ctx.session, actor, awaiting.subject or 0)
    try:
        return await _step(ctx, actor, candidate, parse_day(text, today=_today(ctx)))
    except (BookError, InvalidChange) as error:
        return _again(ctx, awaiting, error)


@router.prompts(Question.CANDIDATE)
async def _ask_candidate(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    _keeps_books(actor)
    text = ctx.gettext(
        "Type the candidate's name and who introduces them, e.g. “Lương Văn Hải; Võ Thị Thanh” (introduced "
        "today; add “; 01/09/2026” for another day)."
    )
    return _question(ctx, Awaiting(Question.CANDIDATE), text)


@router.answers(Question.CANDIDATE)
async def _candidate_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    _keeps_books(actor)
    parts = _parts(text)
    today = _today(ctx)
    try:
        if len(parts) not in (2, 3):
            raise BookError(BookProblem.EMPTY)
        on = parse_day(parts[2], today=today) if len(parts) == 3 else today
        candidate = await books.add_candidate(ctx.session, actor, actor.branch_id, parts[0], parts[1], on, today=today)
    except (BookError, InvalidChange) as error:
        return _again(ctx, awaiting, error)
    return await _candidate_screen(ctx, candidate, "✅ " + ctx.gettext("Saved."))


# --- The year-end review ----------------------------------------------------------------------


@router.on(Reviews)
async def _reviews(ctx: Context, actor: Member, action: Reviews) -> list[Reply]:
    return await _reviews_screen(ctx, actor)


async def _reviews_screen(ctx: Context, actor: Member, note: str = "") -> list[Reply]:
    _ = ctx.gettext
    _keeps_books(actor)
    year = review_year(ctx)
    board = await books.review_board(ctx.session, actor, actor.branch_id, year)
    lines = [note, ""] if note else []
    lines.append(_("Year-end review {year} (Quy định 366-QĐ/TW): tap a member to classify them.").format(year=year))
    for level in ReviewLevel:
        lines.append(f"• {level_name(ctx.translator, level)}: {board.count(level)}")
    if board.excellent_over:
        lines.append(
            "⚠️ "
            + _("More members rated “excellently fulfilled” than a fifth (20 percent) of those rated “well fulfilled”.")
        )
    meeting = await books.deciding_meeting(ctx.session, actor.branch_id, utcnow())
    if meeting is not None:
        day = ctx.format_day(meeting.starts_at.astimezone(ctx.timezone).date())
        lines.append(_("Recorded with the meeting of {day}: {title}").format(day=day, title=meeting.title))
    buttons = []
    for member, review in board.rows:
        mark = level_name(ctx.translator, review.level) if review and review.level else "—"
        label = f"{shorten(member.full_name, 24)}: {shorten(mark, 30)}"
        buttons.append((_button(label, ReviewMember(member.id or 0)),))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


@router.on(ReviewMember)
async def _review_member(ctx: Context, actor: Member, action: ReviewMember) -> list[Reply]:
    _ = ctx.gettext
    member = await target(ctx, actor, action.member_id, Permission.EDIT_MEMBER)
    year = review_year(ctx)
    review = await books.review_of(ctx.session, member.id or 0, year)
    lines = [_("Classify {name} for {year}:").format(name=member.full_name, year=year)]
    if review is not None and review.self_assessment:
        lines += ["", _("Self-assessment: {text}").format(text=review.self_assessment)]
        if review.self_level is not None:
            lines.append(_("Proposed: {level}").format(level=level_name(ctx.translator, review.self_level)))
    ident = member.id or 0
    buttons = tuple((_button(level_name(ctx.translator, level), Classify(ident, level)),) for level in ReviewLevel)
    return [Reply("\n".join(lines), buttons=(*buttons, (_button("↩️ " + _("Year-end review"), Reviews()),)))]


@router.on(Classify)
async def _classify(ctx: Context, actor: Member, action: Classify) -> list[Reply]:
    member = await target(ctx, actor, action.member_id, Permission.EDIT_MEMBER)
    meeting = await books.deciding_meeting(ctx.session, member.branch_id, utcnow())
    if meeting is None:
        raise BookError(BookProblem.NO_MEETING)
    await books.classify(ctx.session, actor, member, review_year(ctx), action.level, meeting)
    note = "✅ " + f"{member.full_name}: {level_name(ctx.translator, action.level)}"
    return await _reviews_screen(ctx, actor, note)


async def _my_review_screen(ctx: Context, member: Member, note: str = "") -> list[Reply]:
    _ = ctx.gettext
    year = review_year(ctx)
    lines = [note, ""] if note else []
    lines.append(_("Your year-end review, {year}:").format(year=year))
    review = await books.review_of(ctx.session, member.id or 0, year)
    if review is None or not review.self_assessment:
        lines.append(_("Self-assessment: not written yet."))
    else:
        lines.append(_("Self-assessment: {text}").format(text=review.self_assessment))
        if review.self_level is not None:
            lines.append(_("Proposed: {level}").format(level=level_name(ctx.translator, review.self_level)))
    if review is not None and review.level is not None:
        meeting = await ctx.session.get(Meeting, review.meeting_id) if review.meeting_id else None
        day = ctx.format_day(meeting.starts_at.astimezone(ctx.timezone).date()) if meeting else "—"
        lines.append(
            _("The branch classified you: {level} (meeting of {day}).").format(
                level=level_name(ctx.translator, review.level), day=day
            )
        )
    else:
        lines.append(_("The branch has not classified you yet."))
    buttons: Rows = ((_button("✍️ " + _("Write my self-assessment"), Ask(Question.SELF_ASSESSMENT)),),)
    return [Reply("\n".join(lines), buttons=buttons)]


@router.on(MyReview)
async def _my_review(ctx: Context, member: Member, action: MyReview) -> list[Reply]:
    return await _my_review_screen(ctx, member)


@router.prompts(Question.SELF_ASSESSMENT)
async def _ask_self(ctx: Context, member: Member, awaiting: Awaiting) -> list[Reply]:
    text = ctx.gettext(
        "Type your self-assessment of the year in a few sentences: what you did, what you could do better."
    )
    return _question(ctx, Awaiting(Question.SELF_ASSESSMENT), text)


@router.answers(Question.SELF_ASSESSMENT)
async def _self_typed(ctx: Context, member: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    try:
        await books.self_assess(ctx.session, member, review_year(ctx), text)
    except BookError as error:
        return _again(ctx, awaiting, error)
    _ = ctx.gettext
    buttons = tuple((_button(level_name(ctx.translator, level), SelfLevel(level)),) for level in ReviewLevel)
    return [Reply("✅ " + _("Saved. Which level do you propose for yourself?"), buttons=buttons)]


@router.on(SelfLevel)
async def _self_level(ctx: Context, member: Member, action: SelfLevel) -> list[Reply]:
    year = review_year(ctx)
    review = await books.review_of(ctx.session, member.id or 0, year)
    if review is None or not review.self_assessment:
        return await _my_review_screen(ctx, member)
    await books.self_assess(ctx.session, member, year, review.self_assessment, action.level)
    return await _my_review_screen(ctx, member, "✅ " + ctx.gettext("Saved."))


@router.renders(BookError)
def _book_error(ctx: Context, member: Member, error: BookError) -> list[Reply]:
    return [home(ctx, member, "⚠️ " + problem_text(ctx.translator, error))]
