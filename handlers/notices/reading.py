"""A member's side of notices: the message each recipient gets, their list, "I have read it"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers.context import Context
from handlers.contract import Button, Catalogs, Document, Reply, Rows
from handlers.members import home
from handlers.menus import Notices
from handlers.notices.actions import ReadNotice
from handlers.notices.common import LISTED, in_words, router
from models.notice_queries import member_names_by_id
from models.notices import BodyFor, notice_file, notices_for, record_read
from models.tables import Member, Notice, NoticeFile


def heading(_: Callable[[str], str], sender: str) -> str:
    """ "Notice from comrade …": who sent it, so a member knows whose word it is."""
    return _("Notice from comrade {name}").format(name=sender) if sender else _("Notice")


def notice_body_maker(catalogs: Catalogs, *, reminder: bool = False) -> BodyFor:
    """The message each recipient gets, in their own language, with the "I have read it" button;
    a ``reminder`` (the secretary's nudge) says it is one, so it is not taken for a new notice."""

    def body_for(member: Member, notice: Notice, file: NoticeFile | None, sender: str) -> dict[str, Any]:
        _ = catalogs.translator(member.locale).gettext
        text = "📢 " + heading(_, sender) + "\n\n" + notice.text
        if reminder:
            text = "🔔 " + _("Reminder: you have not marked this notice as read yet.") + "\n\n" + text
        document = None
        if file is not None:
            text += "\n\n📎 " + _("Attached: {name}").format(name=file.filename)
            document = Document(file.id or 0, file.filename, file.is_photo)
        read = Button("✅ " + _("I have read it"), ReadNotice(notice.id or 0).pack())
        return Reply(text, buttons=((read,),), document=document).to_dict()

    return body_for


@router.on(Notices)
async def inbox(ctx: Context, member: Member, action: Notices) -> list[Reply]:
    """A member's latest notices, unread first, each unread one with its "I have read it" button."""
    _ = ctx.gettext
    listed = await notices_for(ctx.session, member, LISTED)
    if not listed:
        return [home(ctx, member, _("There are no notices for you yet."))]
    replies = []
    senders = await member_names_by_id(ctx.session, [n.author_member_id for n, _r in listed if n.author_member_id])
    for notice, read in listed:
        when = in_words(ctx, notice.sent_at) if notice.sent_at else ""
        header = ("✅ " if read else "📢 ") + when
        if notice.author_member_id in senders:
            header += "\n" + heading(_, senders[notice.author_member_id])
        buttons: Rows = ()
        if not read:
            buttons = ((Button("✅ " + _("I have read it"), ReadNotice(notice.id or 0).pack()),),)
        file = await notice_file(ctx.session, notice.id or 0)
        document = None if file is None else Document(file.id or 0, file.filename, file.is_photo)
        replies.append(Reply(header + "\n\n" + notice.text, buttons=buttons, document=document))
    return replies


@router.on(ReadNotice)
async def mark_read(ctx: Context, member: Member, action: ReadNotice) -> list[Reply]:
    await record_read(ctx.session, action.notice_id, member.id or 0)
    # The same answer for the first tap and a double tap: the read is recorded once either way.
    return [Reply(ctx.gettext("Thank you, noted that you have read it."))]
