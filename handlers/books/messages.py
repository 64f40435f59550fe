"""What the books tell the secretary by themselves (scheduler/books.py), in their language."""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers.contract import Button, Catalogs, Reply
from handlers.menus import Books, ProbationDue
from models.books import BookMessages
from models.tables import Member


class ChatBookMessages(BookMessages):
    def __init__(self, catalogs: Catalogs) -> None:
        self.catalogs = catalogs

    def probation_ending(self, secretary: Member, member: Member, ends: date, days: int) -> dict[str, Any]:
        t = self.catalogs.translator(secretary.locale)
        _ = t.gettext
        text = "⏳ " + _(
            "The probation of comrade {name} ends on {day}, in {days} days. The branch votes on making "
            "them official after that day, within 30 working days (Quy định 29): please put it on the "
            "agenda of a meeting."
        ).format(name=member.full_name, day=ends.strftime("%d/%m/%Y"), days=days)
        buttons = ((Button("⭐ " + _("Due to be made official"), ProbationDue().pack()),),)
        return Reply(text, buttons=buttons).to_dict()

    def thematic_missing(self, secretary: Member, year: int, quarter: int) -> dict[str, Any]:
        t = self.catalogs.translator(secretary.locale)
        _ = t.gettext
        text = "📚 " + _(
            "Only for you, comrade secretary: the branch has no thematic meeting in quarter {quarter}/{year}. "
            "A branch holds one at least every quarter, besides the monthly meeting (Hướng dẫn 12-HD/BTCTW)."
        ).format(quarter=quarter, year=year)
        return Reply(text, buttons=((Button("📚 " + _("Branch books"), Books().pack()),),)).to_dict()


def book_messages(catalogs: Catalogs) -> ChatBookMessages:
    return ChatBookMessages(catalogs)
