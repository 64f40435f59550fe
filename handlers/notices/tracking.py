"""The secretary follows what was sent: recent notices, who received and read each, the receipts as
a CSV file, a reminder to those who have not read it."""

from __future__ import annotations

import base64
import csv
import io

from handlers.context import Context, names_text
from handlers.contract import Button, Document, Reply
from handlers.menus import SentNotices
from handlers.notices.actions import CancelNotice, ExportReceipts, NudgeNotice, TrackNotice
from handlers.notices.common import LISTED, in_words, notice_for, router
from handlers.notices.reading import notice_body_maker
from handlers.records.words import channel_names
from models.membership import NotPermitted
from models.notice_queries import recent_notices
from models.notices import RECEIPT_HEADER, BranchTally, NoticeError, NoticeProblem, nudge, receipt_rows, tracking
from models.permissions import Permission, Scope, Target, may, scope_of
from models.tables import Member, NoticeStatus, Platform
from models.template_messages import templates_this_month


@router.on(SentNotices)
async def sent_list(ctx: Context, actor: Member, action: SentNotices) -> list[Reply]:
    """The secretary's recent notices (their branch, or all for the commune), with their tools."""
    _ = ctx.gettext
    own_branch = Target(actor.branch_id)
    if not may(actor, Permission.ANNOUNCE, own_branch):
        raise NotPermitted(Permission.ANNOUNCE, own_branch)
    branch = None if scope_of(actor) is Scope.COMMUNE else actor.branch_id
    notices = await recent_notices(ctx.session, LISTED, branch)
    if not notices:
        return [Reply(_("No notices yet. Tap \u201cNew notice\u201d to write one."))]
    buttons = []
    lines = [_("Recent notices:"), ""]
    for number, notice in enumerate(notices, start=1):
        first_line = notice.text.splitlines()[0][:50]
        ident = notice.id or 0
        if notice.status is NoticeStatus.SCHEDULED and notice.scheduled_at is not None:
            lines.append(f"{number}. ⏰ {in_words(ctx, notice.scheduled_at)} — {first_line}")
            buttons.append((Button(f"✖️ {number}. " + _("Cancel"), CancelNotice(ident).pack()),))
        else:
            lines.append(f"{number}. 📤 {first_line}")
            buttons.append((Button(f"📊 {number}. " + _("Track"), TrackNotice(ident).pack()),))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


@router.on(TrackNotice)
async def track(ctx: Context, actor: Member, action: TrackNotice) -> list[Reply]:
    _ = ctx.gettext
    notice = await notice_for(ctx, actor, action.notice_id)
    if notice.status is NoticeStatus.SCHEDULED and notice.scheduled_at is not None:
        return [Reply(_("Scheduled: it will be sent at {when}.").format(when=in_words(ctx, notice.scheduled_at)))]
    if notice.status is not NoticeStatus.SENT:
        raise NoticeError(NoticeProblem.NOT_A_DRAFT)
    report = await tracking(ctx.session, notice)

    def counts(tally: BranchTally) -> str:
        return _("{recipients} member(s): {sent} sent, {queued} queued, {failed} failed, {read} read").format(
            recipients=tally.recipients, sent=tally.sent, queued=tally.queued, failed=tally.failed, read=tally.read
        )

    first_line = notice.text.splitlines()[0][:80]
    lines = [f"📊 {first_line}", "", _("Total: {counts}").format(counts=counts(report.total))]
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
    if report.seen_unread:
        lines += ["", _("Seen on Zalo, not yet marked read:") + " " + names_text(ctx.translator, report.seen_unread)]
    month = await templates_this_month(ctx.session, ctx.timezone)
    if report.by_template or month:
        lines += [
            "",
            _(
                "Sent as Zalo template messages (ZNS, paid): {notice} for this notice, {month} this month in all."
            ).format(notice=report.by_template, month=month),
        ]
    buttons: list[tuple[Button, ...]] = [
        (
            Button("🔄 " + _("Refresh"), TrackNotice(action.notice_id).pack()),
            Button("📄 " + _("Export as CSV"), ExportReceipts(action.notice_id).pack()),
        )
    ]
    if report.unread:
        buttons.append((Button("🔔 " + _("Remind those who have not read it"), NudgeNotice(action.notice_id).pack()),))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


@router.on(ExportReceipts)
async def export_receipts(ctx: Context, actor: Member, action: ExportReceipts) -> list[Reply]:
    """Who received and read the notice, as a CSV file in the chat (opens in Excel)."""
    notice = await notice_for(ctx, actor, action.notice_id)
    rows = await receipt_rows(ctx.session, notice, ctx.timezone)
    # The channel column in the words members use, not the stored platform code.
    channels = {platform.value: name for platform, name in channel_names(ctx).items()}
    channels[Platform.WEB.value] = ctx.gettext("Web chat")
    rows = [[*row[:2], channels.get(row[2], row[2]), *row[3:]] for row in rows]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(RECEIPT_HEADER)
    # A cell starting with = + - @ would be a formula in Excel: quoted as text.
    writer.writerows([["'" + c if c[:1] in ("=", "+", "-", "@") else c for c in row] for row in rows])
    content = base64.b64encode(buffer.getvalue().encode("utf-8-sig")).decode()
    return [
        Reply(
            ctx.gettext("Receipts of the notice, {count} row(s):").format(count=len(rows)),
            document=Document(0, f"thong-bao-{notice.id}.csv", inline=content),
        )
    ]


@router.on(NudgeNotice)
async def remind(ctx: Context, actor: Member, action: NudgeNotice) -> list[Reply]:
    notice = await notice_for(ctx, actor, action.notice_id)
    queued = await nudge(ctx.session, actor, notice, notice_body_maker(ctx.catalogs), ctx.nudge_interval)
    return [Reply(ctx.gettext("Reminder sent again: {count} message(s).").format(count=queued))]
