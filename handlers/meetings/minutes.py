"""What a meeting leaves behind: its minutes and conclusions, typed, and its documents and minutes
file, sent (or a document's link, typed)."""

from __future__ import annotations

from handlers.context import Context, moment_words
from handlers.contract import Attachment, Reply, Translator
from handlers.meetings.cards import card
from handlers.meetings.common import URL, ask_again, question, router
from handlers.meetings.texts import problem_text
from handlers.questions import Awaiting, Question
from models.meeting_queries import meeting_to_manage
from models.meetings import MeetingError, MeetingProblem, attach, attendance_of, invitations, set_minutes
from models.tables import Attendance, Meeting, MeetingInvitation, Member, MemberStatus

# The largest file a chat platform hands over, in MB: a larger one arrives empty.
FILE_LIMIT_MB = "20"


def _prompt_text(ctx: Context, asked: Question) -> str:
    _ = ctx.gettext
    return {
        Question.MEETING_MINUTES_TEXT: _("Type the minutes (time, place, chair, who attended, what was said)."),
        Question.MEETING_CONCLUSIONS: _("Type the conclusions of the meeting."),
        Question.MEETING_FILE: _(
            "Send the document (a file or photo), or type its link. It will be shared with everyone invited; "
            "documents marked secret are refused."
        ),
        Question.MEETING_MINUTES_FILE: _("Send the minutes as a file or photo."),
    }[asked]


@router.prompts(Question.MEETING_MINUTES_TEXT)
@router.prompts(Question.MEETING_CONCLUSIONS)
@router.prompts(Question.MEETING_FILE)
@router.prompts(Question.MEETING_MINUTES_FILE)
async def _ask(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    meeting = await meeting_to_manage(ctx.session, actor, awaiting.subject)
    ctx.ask(awaiting)
    takes_file = awaiting.question in (Question.MEETING_FILE, Question.MEETING_MINUTES_FILE)
    asked = question(
        ctx, _prompt_text(ctx, awaiting.question), upload=ctx.gettext("Choose a file") if takes_file else None
    )
    if awaiting.question is Question.MEETING_MINUTES_TEXT:
        return [Reply(await minutes_draft(ctx, meeting)), asked]
    return [asked]


def status_counts(t: Translator, invited: list[tuple[MeetingInvitation, Member]]) -> dict[str, int]:
    """The members summoned by status, as the minutes give them: official, probationary, exempt."""
    _ = t.gettext
    return {
        _("official"): sum(m.status is MemberStatus.OFFICIAL and not i.exempt for i, m in invited),
        _("probationary"): sum(m.status is MemberStatus.PROBATIONARY and not i.exempt for i, m in invited),
        _("exempt"): sum(i.exempt for i, _m in invited),
    }


def attendance_names(invited: list[tuple[MeetingInvitation, Member]]) -> dict[Attendance, list[str]]:
    """Who is in each state, by name, an accepted reason beside the excused."""
    by_state: dict[Attendance, list[str]] = {state: [] for state in Attendance}
    for invitation, member in invited:
        state = attendance_of(invitation)
        reason = f" ({invitation.reason})" if state is Attendance.EXCUSED and invitation.reason else ""
        by_state[state].append(member.full_name + reason)
    return by_state


async def minutes_draft(ctx: Context, meeting: Meeting) -> str:
    """A starting point for the minutes (DESIGN.md §4): time, place, members by status, who was
    present and who was absent with or without a reason, by name, and the agenda; to copy and complete."""
    _ = ctx.gettext
    t = ctx.translator
    if meeting.minutes_text:
        return meeting.minutes_text
    invited = await invitations(ctx.session, meeting.id or 0)
    statuses = status_counts(t, invited)
    by_state = attendance_names(invited)
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


async def _saved(ctx: Context, actor: Member, meeting: Meeting) -> list[Reply]:
    return await card(ctx, actor, meeting.id, "✅ " + ctx.gettext("Saved."))


@router.answers(Question.MEETING_MINUTES_TEXT)
@router.answers(Question.MEETING_CONCLUSIONS)
async def _minutes_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    meeting = await meeting_to_manage(ctx.session, actor, awaiting.subject)
    try:
        if awaiting.question is Question.MEETING_MINUTES_TEXT:
            await set_minutes(ctx.session, actor, meeting, text=text)
        else:
            await set_minutes(ctx.session, actor, meeting, conclusions=text)
    except MeetingError as error:
        return ask_again(ctx, awaiting, problem_text(ctx.translator, error))
    return await _saved(ctx, actor, meeting)


@router.answers(Question.MEETING_FILE)
async def _link_typed(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    """A document's link instead of the file."""
    meeting = await meeting_to_manage(ctx.session, actor, awaiting.subject)
    link = text.strip()
    if not URL.match(link):
        return ask_again(ctx, awaiting, ctx.gettext("Please send a file, or type a link starting with https://"))
    try:
        await attach(ctx.session, actor, meeting, link[:200], url=link)
    except MeetingError as error:
        return ask_again(ctx, awaiting, problem_text(ctx.translator, error))
    return await _saved(ctx, actor, meeting)


@router.answers(Question.MEETING_MINUTES_FILE)
async def _text_for_a_file(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    """A file was asked for and text came: ask again."""
    return await _ask(ctx, actor, awaiting)


@router.answers_file(Question.MEETING_FILE)
@router.answers_file(Question.MEETING_MINUTES_FILE)
async def _file_sent(ctx: Context, actor: Member, awaiting: Awaiting, attachment: Attachment) -> list[Reply]:
    meeting = await meeting_to_manage(ctx.session, actor, awaiting.subject)
    if not attachment.content:  # over the platform's limit: it never arrived
        too_large = MeetingError(MeetingProblem.FILE_TOO_LARGE, FILE_LIMIT_MB)
        return ask_again(ctx, awaiting, problem_text(ctx.translator, too_large))
    is_minutes = awaiting.question is Question.MEETING_MINUTES_FILE
    await attach(ctx.session, actor, meeting, attachment.filename, attachment.content, is_minutes=is_minutes)
    return await _saved(ctx, actor, meeting)
