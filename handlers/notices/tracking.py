"""The secretary follows what was sent: recent notices, who received and read each, the receipts as
a CSV file, a reminder to those who have not read it."""

from __future__ import annotations

import base64
import csv
import io
from collections import Counter
from datetime import datetime, tzinfo

from handlers.context import Context, names_text
from handlers.contract import Button, Document, Reply, Translator
from handlers.menus import SentNotices
from handlers.notices.actions import CancelNotice, ExportReceipts, NudgeNotice, TrackNotice
from handlers.notices.common import LISTED, in_words, notice_for, router
from handlers.notices.preview import audience_words
from handlers.notices.reading import notice_body_maker
from handlers.records.words import local_phone
from models.membership import NotPermitted
from models.notice_queries import member_names_by_id, read_counts, recent_notices
from models.notice_tracking import Delivery, NoticeTracking, RecipientState, notice_tracking
from models.notices import Audience, NoticeError, NoticeProblem, Nudge, nudge
from models.permissions import Permission, Scope, Target, may, scope_of
from models.tables import Member, NoticeStatus, Platform
from models.template_messages import templates_this_month
from models.vietnamese import shorten, without_salutation

TITLE_CHARS = 80  # a notice's first words past the salutation, as its title
NAMES_SHOWN = 30
SUMMARY_CHARS = 90


@router.on(SentNotices)
async def sent_list(ctx: Context, actor: Member, action: SentNotices) -> list[Reply]:
    """The secretary's recent notices (their branch, or all for the commune): when, by whom, to whom,
    what they say past the salutation, how many read them; with their tools."""
    _ = ctx.gettext
    own_branch = Target(actor.branch_id)
    if not may(actor, Permission.ANNOUNCE, own_branch):
        raise NotPermitted(Permission.ANNOUNCE, own_branch)
    branch = None if scope_of(actor) is Scope.COMMUNE else actor.branch_id
    notices = await recent_notices(ctx.session, LISTED, branch)
    if not notices:
        return [Reply(_("No notices yet. Tap \u201cNew notice\u201d to write one."))]
    reads = await read_counts(ctx.session, notices)
    authors = await member_names_by_id(ctx.session, [n.author_member_id for n in notices if n.author_member_id])
    buttons = []
    lines = [_("Recent notices:")]
    for number, notice in enumerate(notices, start=1):
        ident = notice.id or 0
        sender = authors.get(notice.author_member_id or 0, _("the server"))
        audience = await audience_words(ctx, Audience.from_json(notice.audience))
        summary = shorten(without_salutation(notice.text), SUMMARY_CHARS)
        lines.append("")
        if notice.status is NoticeStatus.SCHEDULED and notice.scheduled_at is not None:
            lines.append(f"{number}. ⏰ " + _("Scheduled for {when}").format(when=in_words(ctx, notice.scheduled_at)))
            buttons.append((Button(f"✖️ {number}. " + _("Cancel"), CancelNotice(ident).pack()),))
        else:
            lines.append(f"{number}. 📤 {in_words(ctx, notice.sent_at or notice.created_at)}")
            buttons.append((Button(f"📊 {number}. " + _("Track"), TrackNotice(ident).pack()),))
        lines.append("   " + _("From {sender} to {audience}").format(sender=sender, audience=audience))
        lines.append(f"   \u201c{summary}\u201d")
        if notice.status is NoticeStatus.SENT:
            read, total = reads.get(ident, (0, 0))
            lines.append("   ✅ " + _("Read: {read}/{total}").format(read=read, total=total))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


def _channel_words(t: Translator) -> dict[Platform, str]:
    return {
        Platform.TELEGRAM: "Telegram",
        Platform.WEB: t.gettext("web chat"),
        Platform.ZALO_BOT: "Zalo",
        Platform.ZALO_OA: "Zalo OA",
    }


def state_words(t: Translator) -> dict[Delivery, str]:
    """Each state in the words the screen and the CSV both use."""
    _ = t.gettext
    return {
        Delivery.READ: _("read"),
        Delivery.DELIVERED: _("received, not read yet"),
        Delivery.SENDING: _("being sent"),
        Delivery.FAILED: _("could not be delivered"),
        Delivery.NOT_JOINED: _("not on chibo"),
    }


def _reason(t: Translator, person: RecipientState) -> str:
    """Why it did not arrive: in words when they blocked or left chibo, with the platform's own."""
    if not person.blocked:
        return person.reason
    words = t.gettext("blocked or left chibo")
    return f"{words} ({person.reason})" if person.reason else words


def receipt_table(t: Translator, report: NoticeTracking, tz: tzinfo) -> tuple[list[str], list[list[str]]]:
    """The tracking screen as a table: one row per recipient, in the screen's words (the chat's CSV
    and the desk's Excel file): the state, where it arrived or was refused and why, when it was read
    or seen, and whether to phone them (with their number)."""
    _ = t.gettext
    header = [
        _("Full name"), _("Branch"), _("Phone"), _("State"), _("Channel"), _("Reason"), _("Read at"),
        _("Delivered at"), _("Seen on Zalo at"), _("To phone"),
    ]  # fmt: skip
    words, channels = state_words(t), _channel_words(t)

    def moment(when: datetime | None) -> str:
        return when.astimezone(tz).strftime("%d/%m/%Y %H:%M") if when else ""

    rows = [
        [
            person.name,
            person.branch,
            local_phone(person.phone) if person.phone else "",
            words[person.state],
            ", ".join(channels[c] for c in person.channels),
            _reason(t, person) if person.state is Delivery.FAILED else "",
            moment(person.read_at),
            moment(person.delivered_at),
            moment(person.seen_at),
            _("yes") if person.must_phone else "",
        ]
        for person in report.recipients
    ]
    return header, rows


def _by_channel(t: Translator, counts: Counter[Platform]) -> str:
    channels = _channel_words(t)
    return ", ".join(f"{channels[p]} {n}" for p, n in sorted(counts.items(), key=lambda item: item[0].value))


def tracking_lines(t: Translator, report: NoticeTracking, *, names: bool = True) -> list[str]:
    """The counts by state (each recipient once, the sender counted out), where it was delivered or
    refused, who to phone, who has not read it. ``names`` False: the counts only, for the desk,
    whose table below lists everyone with a filter for each kind."""
    _ = t.gettext
    total = len(report.recipients)
    lines = [_("{total} recipient(s), not counting the sender:").format(total=total)]
    icons = {
        Delivery.READ: "✅",
        Delivery.DELIVERED: "📨",
        Delivery.SENDING: "⏳",
        Delivery.FAILED: "❌",
        Delivery.NOT_JOINED: "📵",
    }
    words = state_words(t)
    for state in Delivery:
        count = report.count(state)
        if not count and state is not Delivery.READ:
            continue
        line = f"{icons[state]} {words[state]}: {count}"
        if state in (Delivery.DELIVERED, Delivery.FAILED) and report.channels(state):
            line += f" ({_by_channel(t, report.channels(state))})"
        lines.append(line)
    branches = report.branches()
    if len(branches) > 1:
        lines.append("")
        for name, counts in branches.items():
            lines.append(
                "• "
                + _("{branch}: {read}/{total} read").format(
                    branch=name, read=counts[Delivery.READ], total=sum(counts.values())
                )
            )
    if not names:
        return lines
    channels = _channel_words(t)
    failed = report.with_state(Delivery.FAILED)
    if failed:
        lines += ["", "❌ " + _("Could not be delivered:")]
        lines += [
            f"• {p.name} — {', '.join(channels[c] for c in p.channels)}: {shorten(_reason(t, p), 80)}"
            for p in failed[:NAMES_SHOWN]
        ]
    not_joined = report.with_state(Delivery.NOT_JOINED)
    if not_joined:
        lines += ["", "📵 " + _("Not on chibo, please phone them:")]
        lines += [
            f"• {p.name} — {local_phone(p.phone) if p.phone else _('no phone number')}"
            for p in not_joined[:NAMES_SHOWN]
        ]
        if len(not_joined) > NAMES_SHOWN:
            lines.append(_("… and {count} more").format(count=len(not_joined) - NAMES_SHOWN))
    unread = report.with_state(Delivery.DELIVERED, Delivery.SENDING)
    if unread:
        lines += ["", _("Received, not read yet:") + " " + names_text(t, [p.name for p in unread])]
    readers = report.with_state(Delivery.READ)
    if readers:
        lines += ["", "✅ " + _("Read by:") + " " + names_text(t, [p.name for p in readers])]
    return lines


@router.on(TrackNotice)
async def track(ctx: Context, actor: Member, action: TrackNotice) -> list[Reply]:
    _ = ctx.gettext
    notice = await notice_for(ctx, actor, action.notice_id)
    if notice.status is NoticeStatus.SCHEDULED and notice.scheduled_at is not None:
        return [Reply(_("Scheduled: it will be sent at {when}.").format(when=in_words(ctx, notice.scheduled_at)))]
    if notice.status is not NoticeStatus.SENT:
        raise NoticeError(NoticeProblem.NOT_A_DRAFT)
    report = await notice_tracking(ctx.session, notice)
    lines = [f"📊 {shorten(without_salutation(notice.text), TITLE_CHARS)}"]
    if notice.sent_at is not None:
        lines.append(_("Sent at {when}").format(when=in_words(ctx, notice.sent_at)))
    lines += ["", *tracking_lines(ctx.translator, report)]
    seen = report.seen_unread()
    if seen:
        lines += ["", _("Seen on Zalo, not yet marked read:") + " " + names_text(ctx.translator, seen)]
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
    if report.count(Delivery.READ) < len(report.recipients):
        buttons.append((Button("🔔 " + _("Remind those who have not read it"), NudgeNotice(action.notice_id).pack()),))
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


@router.on(ExportReceipts)
async def export_receipts(ctx: Context, actor: Member, action: ExportReceipts) -> list[Reply]:
    """Who received and read the notice, as a CSV file in the chat (opens in Excel)."""
    notice = await notice_for(ctx, actor, action.notice_id)
    header, rows = receipt_table(ctx.translator, await notice_tracking(ctx.session, notice), ctx.timezone)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
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
    _ = ctx.gettext
    notice = await notice_for(ctx, actor, action.notice_id)
    done = await nudge(ctx.session, actor, notice, notice_body_maker(ctx.catalogs, reminder=True), ctx.nudge_interval)
    back = ((Button("📊 " + _("Track"), TrackNotice(action.notice_id).pack()),),)
    return [Reply(nudge_words(ctx.translator, done), buttons=back)]


def nudge_words(t: Translator, done: Nudge) -> str:
    """What a reminder did: how many messages went, or why nobody could be reminded in a chat."""
    _ = t.gettext
    if done.queued:
        return _("Reminder sent again: {count} message(s).").format(count=done.queued)
    if not done.unread:
        return _("Everyone has read it: nobody to remind.")
    reasons = []
    if done.not_joined:
        reasons.append(_("{count} have not joined chibo (phone them)").format(count=done.not_joined))
    if done.web_only:
        reasons.append(
            _("{count} use only the web chat, where the notice waits in their list").format(count=done.web_only)
        )
    if done.unreachable:
        reasons.append(_("{count} blocked or left chibo").format(count=done.unreachable))
    return _(
        "Nobody can be reminded in a chat: of the {unread} who have not read it, {reasons}. Nothing was sent, "
        "and you can remind them later."
    ).format(unread=done.unread, reasons="; ".join(reasons))
