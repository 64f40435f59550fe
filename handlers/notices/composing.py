"""The secretary writes a notice: its text, a document or photo, then sends it, schedules it or
drops it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from handlers.context import Context
from handlers.contract import Attachment, Button, Reply
from handlers.members import home
from handlers.menus import NewNotice
from handlers.notices.actions import CancelNotice, ConfirmScan, SendNotice, ShowNotice, TrackNotice
from handlers.notices.common import cancel_row, in_words, notice_for, problem_text, router
from handlers.notices.preview import audience_reach, preview
from handlers.notices.reading import notice_body_maker
from handlers.questions import Awaiting, Question
from handlers.times import read_answer
from models.errors import Stale
from models.membership import NotPermitted
from models.notice_scans import SHORT_DIGEST, confirm_scan, digest, unconfirmed_scan
from models.notices import (
    MAX_FILE_BYTES,
    Audience,
    NoticeError,
    NoticeProblem,
    attach,
    cancel,
    create_draft,
    notice_file,
    schedule,
    send_now,
)
from models.permissions import Permission, Target, may
from models.tables import Member, Notice, NoticeFile


@router.on(NewNotice)
async def start(ctx: Context, actor: Member, action: NewNotice) -> list[Reply]:
    return _ask_for_text(ctx, actor)


@router.prompts(Question.NOTICE_TEXT)
async def text_prompt(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    return _ask_for_text(ctx, actor)


def _ask_for_text(ctx: Context, actor: Member) -> list[Reply]:
    _ = ctx.gettext
    own_branch = Target(actor.branch_id)
    if not may(actor, Permission.ANNOUNCE, own_branch):
        raise NotPermitted(Permission.ANNOUNCE, own_branch)
    ctx.ask(Awaiting(Question.NOTICE_TEXT))
    text = _(
        "Type the text of the notice and send it. You will see a preview and choose who gets it "
        "before anything is sent."
    )
    return [Reply(text, buttons=cancel_row(ctx))]


@router.answers(Question.NOTICE_TEXT)
async def draft_from_text(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    try:
        notice = await create_draft(ctx.session, actor, text, Audience(branches=(actor.branch_id,)))
    except NoticeError as error:  # the text is asked for again
        ctx.ask(awaiting)
        return [Reply(problem_text(ctx, error))]
    return [await preview(ctx, actor, notice)]


def _file_prompt(ctx: Context) -> Reply:
    _ = ctx.gettext
    text = _(
        "Send the document or photo now (one file, at most {limit} MB). Documents marked Mật, Tối mật or "
        "Tuyệt mật are refused: they never go through a chat platform."
    ).format(limit=MAX_FILE_BYTES // (1024 * 1024))
    return Reply(text, buttons=cancel_row(ctx), upload_label="📎 " + _("Choose the file"))


@router.prompts(Question.NOTICE_FILE)
async def ask_file(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    await notice_for(ctx, actor, awaiting.subject or 0)
    ctx.ask(awaiting)
    return [_file_prompt(ctx)]


@router.answers(Question.NOTICE_FILE)
async def text_instead_of_file(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    """A file was asked for and text came: ask for the file again."""
    return await ask_file(ctx, actor, awaiting)


@router.answers_file(Question.NOTICE_FILE)
async def attach_file(ctx: Context, actor: Member, awaiting: Awaiting, attachment: Attachment) -> list[Reply]:
    notice = await notice_for(ctx, actor, awaiting.subject or 0)
    if (attachment.declared_size or 0) > MAX_FILE_BYTES:
        raise NoticeError(NoticeProblem.FILE_TOO_LARGE, str(MAX_FILE_BYTES // 2**20))
    await attach(ctx.session, actor, notice, attachment.filename, attachment.content)
    return [await preview(ctx, actor, notice)]


def _scan_question(ctx: Context, notice: Notice, scan: NoticeFile, then: Literal["send", "when"]) -> Reply:
    """Before a scan or photo goes out: chibo could not check it, so the secretary is asked to."""
    _ = ctx.gettext
    text = _(
        "📎 {name} is a scan or a photo: chibo cannot read its text to check it for a classification mark "
        "(Mật, Tối mật, Tuyệt mật). Classified documents never go through a chat platform. Please look at it "
        "and confirm that it carries no such mark."
    ).format(name=scan.filename)
    ident = notice.id or 0
    confirm = ConfirmScan(ident, then, digest(scan)[:SHORT_DIGEST])
    return Reply(
        text,
        buttons=(
            (Button("✅ " + _("It carries no classification mark"), confirm.pack()),),
            (Button(_("Not yet"), ShowNotice(ident).pack()),),
        ),
    )


@router.on(ConfirmScan)
async def scan_confirmed(ctx: Context, actor: Member, action: ConfirmScan) -> list[Reply]:
    notice = await notice_for(ctx, actor, action.notice_id)
    file = await notice_file(ctx.session, action.notice_id)
    if file is None or not digest(file).startswith(action.file):
        raise Stale(f"notice {action.notice_id}: its file was replaced")  # what was looked at is gone
    if await unconfirmed_scan(ctx.session, notice) is not None:
        await confirm_scan(ctx.session, actor, notice, file)
    if action.then == "send":
        return await _send(ctx, actor, notice)
    return _when_prompt(ctx, Awaiting(Question.NOTICE_WHEN, action.notice_id))


@router.on(SendNotice)
async def send(ctx: Context, actor: Member, action: SendNotice) -> list[Reply]:
    notice = await notice_for(ctx, actor, action.notice_id)
    scan = await unconfirmed_scan(ctx.session, notice)
    if scan is not None:
        return [_scan_question(ctx, notice, scan, "send")]
    return await _send(ctx, actor, notice)


async def _send(ctx: Context, actor: Member, notice: Notice) -> list[Reply]:
    _ = ctx.gettext
    await send_now(ctx.session, actor, notice, notice_body_maker(ctx.catalogs))
    # What was really sent: members who never joined chibo got nothing and are named as such.
    counted = await audience_reach(ctx, notice)
    text = _(
        "Sent to {pushed} member(s) on Telegram or Zalo; {web} will see it in the web chat; {unlinked} have not "
        "joined chibo (phone them). You are not counted."
    ).format(pushed=counted.pushable, web=counted.web_only, unlinked=len(counted.unlinked))
    if counted.unreachable:
        text += " " + _("{count} blocked or left chibo.").format(count=counted.unreachable)
    text += " " + _("Tap \u201cTrack\u201d to see who received and read it.")
    return [Reply(text, buttons=((Button("📊 " + _("Track"), TrackNotice(notice.id or 0).pack()),),))]


def _when_prompt(ctx: Context, awaiting: Awaiting) -> list[Reply]:
    ctx.ask(awaiting)
    text = ctx.gettext(
        "When should it be sent? Type a time, e.g. 19:00, or a day and time, e.g. \u201cthứ Sáu 19:30\u201d or "
        "\u201c8 giờ sáng mai\u201d."
    )
    return [Reply(text, buttons=cancel_row(ctx))]


@router.prompts(Question.NOTICE_WHEN)
async def ask_when(ctx: Context, actor: Member, awaiting: Awaiting) -> list[Reply]:
    notice = await notice_for(ctx, actor, awaiting.subject or 0)
    scan = await unconfirmed_scan(ctx.session, notice)
    if scan is not None:
        return [_scan_question(ctx, notice, scan, "when")]
    return _when_prompt(ctx, awaiting)


@router.answers(Question.NOTICE_WHEN)
async def schedule_from_text(ctx: Context, actor: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    _ = ctx.gettext
    notice = await notice_for(ctx, actor, awaiting.subject or 0)
    scan = await unconfirmed_scan(ctx.session, notice)
    if scan is not None:  # a time picked from an older message, after a scan was attached
        return [_scan_question(ctx, notice, scan, "when")]
    when = read_answer(ctx, awaiting, text)
    if isinstance(when, list):  # not a time, or morning or evening: asked again
        return when
    try:
        await schedule(ctx.session, actor, notice, when, datetime.now(ctx.timezone))
    except NoticeError as error:  # a time already passed: asked again
        ctx.ask(awaiting)
        return [Reply(problem_text(ctx, error))]
    text = _("Scheduled: it will be sent at {when}.").format(when=in_words(ctx, when))
    cancel_button = Button("✖️ " + _("Cancel this notice"), CancelNotice(notice.id or 0).pack())
    return [Reply(text, buttons=((cancel_button,),))]


@router.on(CancelNotice)
async def cancel_notice(ctx: Context, actor: Member, action: CancelNotice) -> list[Reply]:
    notice = await notice_for(ctx, actor, action.notice_id)
    await cancel(ctx.session, actor, notice)
    return [home(ctx, actor, ctx.gettext("The notice was cancelled; nobody will receive it."))]
