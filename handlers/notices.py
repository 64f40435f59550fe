"""Announcements in chat: a secretary composes, previews, sends or schedules, and tracks; a member
reads and taps "I have read it"."""

from __future__ import annotations

import base64
import csv
import io
import re
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from handlers.context import Context, moment_words, names_text
from handlers.contract import Attachment, Button, Catalogs, Document, Reply, Rows
from handlers.members import home, refused
from handlers.payloads import Action, Payload
from handlers.times import read_answer
from models.membership import NotPermitted
from models.notices import (
    MAX_FILE_BYTES,
    RECEIPT_HEADER,
    Audience,
    AudienceFilter,
    BodyFor,
    NoticeError,
    NoticeProblem,
    attach,
    cancel,
    check_notice,
    create_draft,
    notice_file,
    notices_for,
    nudge,
    reach,
    receipt_rows,
    recipients,
    record_read,
    schedule,
    send_now,
    set_audience,
    tracking,
)
from models.permissions import Permission, Scope, Target, may, scope_of
from models.roster import fold
from models.tables import Branch, Member, Notice, NoticeFile, NoticeStatus

LISTED = 10
PREVIEW_CHARS = 600
NAMES_SHOWN = 30


def _button(label: str, action: Action, argument: str = "") -> Button:
    return Button(label, Payload(action, argument).encode())


def notice_body_maker(catalogs: Catalogs) -> BodyFor:
    """The message each recipient gets, in their own language, with the "I have read it" button."""

    def body_for(member: Member, notice: Notice, file: NoticeFile | None) -> dict[str, Any]:
        _ = catalogs.translator(member.locale).gettext
        text = "📢 " + _("Notice") + "\n\n" + notice.text
        document = None
        if file is not None:
            text += "\n\n📎 " + _("Attached: {name}").format(name=file.filename)
            document = Document(file.id or 0, file.filename, file.is_photo)
        read = Button("✅ " + _("I have read it"), Payload(Action.READ_NOTICE, str(notice.id)).encode())
        return Reply(text, buttons=((read,),), document=document).to_dict()

    return body_for


def problem_text(ctx: Context, error: NoticeError) -> str:
    _ = ctx.gettext
    return {
        NoticeProblem.EMPTY: _("The notice is empty. Please type its text."),
        NoticeProblem.TOO_LONG: _("The notice is too long: at most {detail} characters."),
        NoticeProblem.NO_RECIPIENTS: _("Nobody is in this audience. Choose another."),
        NoticeProblem.NOT_A_DRAFT: _("This notice has already been sent or cancelled."),
        NoticeProblem.IN_THE_PAST: _("That time has already passed. Please type a later time."),
        NoticeProblem.NUDGED_RECENTLY: _("Those who have not read it were reminded recently. Please try again later."),
        NoticeProblem.FILE_TOO_LARGE: _("The file is too large: at most {detail} MB."),
        NoticeProblem.SECRET_DOCUMENT: _(
            "This document is marked \u201c{detail}\u201d. Classified documents never go through a chat "
            "platform; please hand it over in person. Nothing was attached."
        ),
        NoticeProblem.SECRET_TEXT: _(
            "This text carries the classification mark \u201c{detail}\u201d. Classified content never goes through a "
            "chat platform; please keep it on paper. Nothing was saved."
        ),
    }[error.problem].format(detail=error.detail)


async def _notice(ctx: Context, actor: Member, argument: str) -> Notice | list[Reply]:
    """The notice a secretary's button is about, if they may act on it (its author's branch and
    every branch it reaches)."""
    notice = await ctx.session.get(Notice, int(argument.split(":", 1)[0]))
    if notice is None:
        return [home(ctx, actor, ctx.gettext("This button is no longer valid. Please use the menu below."))]
    try:
        await check_notice(ctx.session, actor, notice)
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    return notice


def _own_audience(actor: Member) -> Audience:
    return Audience(branches=(actor.branch_id,))


async def start(ctx: Context, actor: Member) -> list[Reply]:
    _ = ctx.gettext
    own_branch = Target(actor.branch_id)
    if not may(actor, Permission.ANNOUNCE, own_branch):
        return refused(ctx, actor, Permission.ANNOUNCE, own_branch)
    ctx.ask("notice")
    text = _(
        "Type the text of the notice and send it. You will see a preview and choose who gets it "
        "before anything is sent."
    )
    return [Reply(text, buttons=((_button("✖️ " + _("Cancel"), Action.CANCEL),),))]


async def draft_from_text(ctx: Context, actor: Member, text: str) -> list[Reply]:
    try:
        notice = await create_draft(ctx.session, actor, text, _own_audience(actor))
    except NoticeError as error:
        ctx.ask("notice")
        return [Reply(problem_text(ctx, error))]
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    return [await _preview(ctx, actor, notice)]


async def _audience_words(ctx: Context, audience: Audience) -> str:
    _ = ctx.gettext
    if audience.members is not None:
        names = (await ctx.session.exec(select(Member.full_name).where(col(Member.id).in_(audience.members)))).all()
        where = ", ".join(names)
    elif audience.branches is None:
        where = _("the whole commune")
    else:
        names = (await ctx.session.exec(select(Branch.name).where(col(Branch.id).in_(audience.branches)))).all()
        where = ", ".join(sorted(names))
    narrowed = {
        AudienceFilter.ALL: "",
        AudienceFilter.OFFICIALS: " — " + _("official members only"),
        AudienceFilter.COMMITTEE: " — " + _("branch committee members only"),
    }[audience.filter]
    return where + narrowed


async def _preview(ctx: Context, actor: Member, notice: Notice, note: str = "") -> Reply:
    _ = ctx.gettext
    audience = Audience.from_json(notice.audience)
    people = await recipients(ctx.session, audience)
    counted = await reach(ctx.session, people)
    body = notice.text if len(notice.text) <= PREVIEW_CHARS else notice.text[:PREVIEW_CHARS] + "…"
    lines = [
        note,
        _("Preview of the notice:"),
        "",
        body,
        "",
        _("To: {audience}").format(audience=await _audience_words(ctx, audience)),
        _("{total} recipient(s): {pushed} get it on Telegram or Zalo, {web} read it in the web chat, "
          "{unlinked} have not joined chibo (phone them).").format(
            total=counted.total, pushed=counted.pushable, web=counted.web_only, unlinked=len(counted.unlinked)
        ),
    ]  # fmt: skip
    ident = str(notice.id)
    scope_row = [_button("🏠 " + _("My branch"), Action.NOTICE_AUDIENCE, f"{ident}:branch")]
    if scope_of(actor) is Scope.COMMUNE:
        scope_row.append(_button("🏛 " + _("Whole commune"), Action.NOTICE_AUDIENCE, f"{ident}:commune"))
    file = await notice_file(ctx.session, notice.id or 0)
    if file is not None:
        lines.insert(lines.index(body) + 1, "\n📎 " + _("Attached: {name}").format(name=file.filename))
    pick_row = [_button("👥 " + _("Chosen people"), Action.ASK, f"people:{ident}")]
    if scope_of(actor) is Scope.COMMUNE:
        pick_row.append(_button("🏘 " + _("Several branches"), Action.NOTICE_BRANCH, ident))
    buttons: Rows = (
        tuple(scope_row),
        tuple(pick_row),
        (
            _button(_("Everyone"), Action.NOTICE_AUDIENCE, f"{ident}:all"),
            _button(_("Officials only"), Action.NOTICE_AUDIENCE, f"{ident}:officials"),
            _button(_("Committee only"), Action.NOTICE_AUDIENCE, f"{ident}:committee"),
        ),
        (_button("📎 " + _("Attach a document or photo"), Action.ASK, f"attach:{ident}"),),
        (
            _button("📤 " + _("Send now"), Action.SEND_NOTICE, ident),
            _button("⏰ " + _("Schedule"), Action.ASK, f"when:{ident}"),
        ),
        (_button("✖️ " + _("Cancel"), Action.CANCEL_NOTICE, ident),),
    )
    return Reply("\n".join(lines).strip(), buttons=buttons)


async def change_audience(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    notice = await _notice(ctx, actor, argument)
    if isinstance(notice, list):
        return notice
    choice = argument.partition(":")[2]
    current = Audience.from_json(notice.audience)
    if choice == "branch":
        wanted = Audience((actor.branch_id,), current.filter)
    elif choice == "commune":
        wanted = Audience(None, current.filter)
    elif choice in AudienceFilter.__members__.values():
        wanted = Audience(current.branches, AudienceFilter(choice), current.members)
    elif choice == "show":
        return [await _preview(ctx, actor, notice)]
    else:
        return [home(ctx, actor, ctx.gettext("This button is no longer valid. Please use the menu below."))]
    return await _set_audience(ctx, actor, notice, wanted) or [await _preview(ctx, actor, notice)]


async def _set_audience(ctx: Context, actor: Member, notice: Notice, audience: Audience) -> list[Reply]:
    """Change who gets the notice; the refusal or problem to answer, or [] when it was changed."""
    try:
        await set_audience(ctx.session, actor, notice, audience)
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    except NoticeError as error:
        return [Reply(problem_text(ctx, error))]
    return []


async def toggle_branch(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    """Several branches: each tap adds or removes one; "Done" shows the preview again."""
    _ = ctx.gettext
    notice = await _notice(ctx, actor, argument)
    if isinstance(notice, list):
        return notice
    current = Audience.from_json(notice.audience)
    chosen = set(current.branches or ()) if current.members is None else set()
    branch_id = argument.partition(":")[2]
    if branch_id:
        if await ctx.session.get(Branch, int(branch_id)) is None:
            return [home(ctx, actor, _("This button is no longer valid. Please use the menu below."))]
        chosen ^= {int(branch_id)}
        problem = await _set_audience(ctx, actor, notice, Audience(tuple(sorted(chosen)), current.filter))
        if problem:
            return problem
    branches = (await ctx.session.exec(select(Branch).order_by(col(Branch.name)))).all()
    rows: list[tuple[Button, ...]] = [
        (_button(("☑️ " if b.id in chosen else "⬜ ") + b.name, Action.NOTICE_BRANCH, f"{notice.id}:{b.id}"),)
        for b in branches
        if may(actor, Permission.ANNOUNCE, Target(b.id or 0))
    ]
    rows.append((_button("✅ " + _("Done"), Action.NOTICE_AUDIENCE, f"{notice.id}:show"),))
    buttons = tuple(rows)
    return [
        Reply(
            _("Tap the branches that get the notice:"), buttons=buttons, edit_message_id=ctx.inbound.source_message_id
        )
    ]


async def ask_file(ctx: Context, actor: Member, notice_id: str) -> list[Reply]:
    _ = ctx.gettext
    text = _(
        "Send the document or photo now (one file, at most {limit} MB). Documents marked Mật, Tối mật or "
        "Tuyệt mật are refused: they never go through a chat platform."
    ).format(limit=MAX_FILE_BYTES // (1024 * 1024))
    return await _ask(ctx, actor, notice_id, "attach", text, upload_label="📎 " + _("Choose the file"))


async def attach_file(ctx: Context, actor: Member, notice_id: str, attachment: Attachment) -> list[Reply]:
    _ = ctx.gettext
    notice = await _notice(ctx, actor, notice_id)
    if isinstance(notice, list):
        return notice
    if (attachment.declared_size or 0) > MAX_FILE_BYTES:
        return [Reply(problem_text(ctx, NoticeError(NoticeProblem.FILE_TOO_LARGE, str(MAX_FILE_BYTES // 2**20))))]
    try:
        await attach(ctx.session, actor, notice, attachment.filename, attachment.content)
    except NoticeError as error:
        return [Reply(problem_text(ctx, error))]
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    return [await _preview(ctx, actor, notice)]


async def _ask(
    ctx: Context, actor: Member, notice_id: str, question: str, text: str, upload_label: str | None = None
) -> list[Reply]:
    """Ask the secretary to type (or send) something for the notice they are composing."""
    notice = await _notice(ctx, actor, notice_id)
    if isinstance(notice, list):
        return notice
    ctx.ask(f"{question}:{notice_id}")
    cancel_row = ((_button("✖️ " + ctx.gettext("Cancel"), Action.CANCEL),),)
    return [Reply(text, buttons=cancel_row, upload_label=upload_label)]


async def ask_people(ctx: Context, actor: Member, notice_id: str) -> list[Reply]:
    _ = ctx.gettext
    text = _("Type the names of the people who get the notice, separated by commas, with or without accents.")
    return await _ask(ctx, actor, notice_id, "people", text)


async def match_people(ctx: Context, actor: Member, text: str, permission: Permission) -> tuple[list[int], list[str]]:
    """Names typed with commas, with or without accents: each must point at exactly one active
    member the actor may act on with ``permission``. The member ids, and what was wrong."""
    _ = ctx.gettext
    reachable = [
        m
        for m in (await ctx.session.exec(select(Member).where(col(Member.active).is_(True)))).all()
        if may(actor, permission, Target(m.branch_id))
    ]
    chosen: list[int] = []
    problems: list[str] = []
    for typed in filter(None, (part.strip() for part in re.split(r"[,;\n]", text))):
        needle = fold(typed)
        matches = [m for m in reachable if needle in fold(m.full_name)]
        exact = [m for m in matches if fold(m.full_name) == needle]
        if len(exact) == 1 or len(matches) == 1:
            chosen.append((exact or matches)[0].id or 0)
        elif matches:
            names = ", ".join(m.full_name for m in matches[:5])
            problems.append(
                _("\u201c{text}\u201d could be several people: {names}").format(text=typed[:40], names=names)
            )
        else:
            problems.append(_("Nobody's name contains \u201c{text}\u201d.").format(text=typed[:40]))
    return list(dict.fromkeys(chosen)), problems


async def people_from_text(ctx: Context, actor: Member, notice_id: str, text: str) -> list[Reply]:
    """Chosen people: each typed name must point at exactly one active member the actor may reach."""
    _ = ctx.gettext
    notice = await _notice(ctx, actor, notice_id)
    if isinstance(notice, list):
        return notice
    chosen, problems = await match_people(ctx, actor, text, Permission.ANNOUNCE)
    if problems or not chosen:
        ctx.ask(f"people:{notice_id}")
        lines = problems or [
            _("Type the names of the people who get the notice, separated by commas, with or without accents.")
        ]
        return [Reply("\n".join([*lines, "", _("Please type the names again.")]))]
    current = Audience.from_json(notice.audience)
    wanted = Audience((), current.filter, tuple(chosen))
    return await _set_audience(ctx, actor, notice, wanted) or [await _preview(ctx, actor, notice)]


async def send(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    _ = ctx.gettext
    notice = await _notice(ctx, actor, argument)
    if isinstance(notice, list):
        return notice
    try:
        count = await send_now(ctx.session, actor, notice, notice_body_maker(ctx.catalogs))
    except NoticeError as error:
        return [Reply(problem_text(ctx, error))]
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    text = _("Sent to {count} member(s). Tap \u201cTrack\u201d to see who received and read it.").format(count=count)
    return [Reply(text, buttons=((_button("📊 " + _("Track"), Action.TRACK_NOTICE, str(notice.id)),),))]


def in_words(ctx: Context, moment: datetime) -> str:
    return moment_words(ctx.translator, moment, ctx.timezone)


async def ask_when(ctx: Context, actor: Member, notice_id: str) -> list[Reply]:
    text = ctx.gettext("When should it be sent? Type a time, e.g. 19:00, or a day and time, e.g. 25/11 19:00.")
    return await _ask(ctx, actor, notice_id, "when", text)


async def schedule_from_text(ctx: Context, actor: Member, notice_id: str, text: str) -> list[Reply]:
    _ = ctx.gettext
    notice = await _notice(ctx, actor, notice_id)
    if isinstance(notice, list):
        return notice
    when = read_answer(ctx, f"when:{notice_id}", text)
    if isinstance(when, list):
        return when
    try:
        await schedule(ctx.session, actor, notice, when, datetime.now(ctx.timezone))
    except NoticeError as error:
        ctx.ask(f"when:{notice_id}")
        return [Reply(problem_text(ctx, error))]
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    text = _("Scheduled: it will be sent at {when}.").format(when=in_words(ctx, when))
    cancel_button = _button("✖️ " + _("Cancel this notice"), Action.CANCEL_NOTICE, notice_id)
    return [Reply(text, buttons=((cancel_button,),))]


async def cancel_notice(ctx: Context, actor: Member, notice_id: str) -> list[Reply]:
    _ = ctx.gettext
    notice = await _notice(ctx, actor, notice_id)
    if isinstance(notice, list):
        return notice
    try:
        await cancel(ctx.session, actor, notice)
    except NoticeError as error:
        return [Reply(problem_text(ctx, error))]
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    return [home(ctx, actor, _("The notice was cancelled; nobody will receive it."))]


async def track(ctx: Context, actor: Member, notice_id: str) -> list[Reply]:
    _ = ctx.gettext
    notice = await _notice(ctx, actor, notice_id)
    if isinstance(notice, list):
        return notice
    if notice.status is NoticeStatus.SCHEDULED and notice.scheduled_at is not None:
        return [Reply(_("Scheduled: it will be sent at {when}.").format(when=in_words(ctx, notice.scheduled_at)))]
    if notice.status is not NoticeStatus.SENT:
        return [Reply(problem_text(ctx, NoticeError(NoticeProblem.NOT_A_DRAFT)))]
    report = await tracking(ctx.session, notice)
    total = report.total

    def counts(tally: Any) -> str:
        return _("{recipients} member(s): {sent} sent, {queued} queued, {failed} failed, {read} read").format(
            recipients=tally.recipients, sent=tally.sent, queued=tally.queued, failed=tally.failed, read=tally.read
        )

    first_line = notice.text.splitlines()[0][:80]
    lines = [f"📊 {first_line}", "", _("Total: {counts}").format(counts=counts(total))]
    if len(report.branches) > 1:
        lines += [f"• {name}: {counts(tally)}" for name, tally in report.branches.items()]
    if report.unreachable:
        lines += [
            "",
            _("Could not be reached (blocked chibo or sending failed):")
            + " "
            + names_text(ctx.translator, report.unreachable),
        ]
    if report.unlinked:
        lines += ["", _("Not on chibo, please phone them:") + " " + names_text(ctx.translator, report.unlinked)]
    if report.unread:
        lines += ["", _("Not read yet:") + " " + names_text(ctx.translator, report.unread)]
    buttons: list[tuple[Button, ...]] = [
        (
            _button("🔄 " + _("Refresh"), Action.TRACK_NOTICE, notice_id),
            _button("📄 " + _("Export as CSV"), Action.EXPORT_RECEIPTS, notice_id),
        )
    ]
    if report.unread:
        buttons.append((_button("🔔 " + _("Remind those who have not read it"), Action.NUDGE_NOTICE, notice_id),))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


async def export_receipts(ctx: Context, actor: Member, notice_id: str) -> list[Reply]:
    """Who received and read the notice, as a CSV file in the chat (opens in Excel)."""
    _ = ctx.gettext
    notice = await _notice(ctx, actor, notice_id)
    if isinstance(notice, list):
        return notice
    rows = await receipt_rows(ctx.session, notice, ctx.timezone)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(RECEIPT_HEADER)
    writer.writerows([["'" + c if c[:1] in ("=", "+", "-", "@") else c for c in row] for row in rows])
    content = base64.b64encode(buffer.getvalue().encode("utf-8-sig")).decode()
    name = f"thong-bao-{notice.id}.csv"
    return [
        Reply(
            _("Receipts of the notice, {count} row(s):").format(count=len(rows)),
            document=Document(0, name, inline=content),
        )
    ]


async def remind(ctx: Context, actor: Member, notice_id: str) -> list[Reply]:
    _ = ctx.gettext
    notice = await _notice(ctx, actor, notice_id)
    if isinstance(notice, list):
        return notice
    try:
        queued = await nudge(ctx.session, actor, notice, notice_body_maker(ctx.catalogs), ctx.nudge_interval)
    except NoticeError as error:
        return [Reply(problem_text(ctx, error))]
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    return [Reply(_("Reminder sent again: {count} message(s).").format(count=queued))]


async def sent_list(ctx: Context, actor: Member) -> list[Reply]:
    """The secretary's recent notices (their branch, or all for the commune), with their tools."""
    _ = ctx.gettext
    own_branch = Target(actor.branch_id)
    if not may(actor, Permission.ANNOUNCE, own_branch):
        return refused(ctx, actor, Permission.ANNOUNCE, own_branch)
    query = (
        select(Notice)
        .where(col(Notice.status).in_([NoticeStatus.SCHEDULED, NoticeStatus.SENT]))
        .order_by(col(Notice.id).desc())
        .limit(LISTED)
    )
    if scope_of(actor) is not Scope.COMMUNE:
        query = query.where(
            col(Notice.author_member_id).in_(select(Member.id).where(Member.branch_id == actor.branch_id))
        )
    notices = list((await ctx.session.exec(query)).all())
    if not notices:
        return [Reply(_("No notices yet. Tap \u201cNew notice\u201d to write one."))]
    buttons = []
    lines = [_("Recent notices:"), ""]
    for number, notice in enumerate(notices, start=1):
        first_line = notice.text.splitlines()[0][:50]
        if notice.status is NoticeStatus.SCHEDULED and notice.scheduled_at is not None:
            lines.append(f"{number}. ⏰ {in_words(ctx, notice.scheduled_at)} — {first_line}")
            buttons.append((_button(f"✖️ {number}. " + _("Cancel"), Action.CANCEL_NOTICE, str(notice.id)),))
        else:
            lines.append(f"{number}. 📤 {first_line}")
            buttons.append((_button(f"📊 {number}. " + _("Track"), Action.TRACK_NOTICE, str(notice.id)),))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


async def inbox(ctx: Context, member: Member) -> list[Reply]:
    """A member's latest notices, unread first, each unread one with its "I have read it" button."""
    _ = ctx.gettext
    listed = await notices_for(ctx.session, member, LISTED)
    if not listed:
        return [home(ctx, member, _("There are no notices for you yet."))]
    replies = []
    for notice, read in listed:
        when = in_words(ctx, notice.sent_at) if notice.sent_at else ""
        header = ("✅ " if read else "📢 ") + when
        buttons: Rows = ()
        if not read:
            buttons = ((_button("✅ " + _("I have read it"), Action.READ_NOTICE, str(notice.id)),),)
        file = await notice_file(ctx.session, notice.id or 0)
        document = None if file is None else Document(file.id or 0, file.filename, file.is_photo)
        replies.append(Reply(header + "\n\n" + notice.text, buttons=buttons, document=document))
    return replies


async def mark_read(ctx: Context, member: Member, notice_id: str) -> list[Reply]:
    _ = ctx.gettext
    await record_read(ctx.session, int(notice_id), member.id or 0)
    # The same answer for the first tap and a double tap: the read is recorded once either way.
    return [Reply(_("Thank you, noted that you have read it."))]
