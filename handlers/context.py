"""Everything a handler needs about one event: the session, who is asking, and their language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.contract import Catalogs, Inbound, Translator
from models.tables import ChannelIdentity, Member


@dataclass
class Context:
    session: AsyncSession
    inbound: Inbound
    catalogs: Catalogs
    timezone: ZoneInfo
    identity: ChannelIdentity | None = None
    member: Member | None = None

    @property
    def translator(self) -> Translator:
        return self.catalogs.translator(self.member.locale if self.member else None)

    def gettext(self, message: str) -> str:
        return self.translator.gettext(message)

    def format_day(self, day: date | None) -> str:
        if day is None:
            return "—"
        # Day/month/year is what members in Vietnam read; English gets the month spelled out.
        pattern = "dd/MM/yyyy" if self.translator.locale == "vi" else "d MMM yyyy"
        return format_date(day, pattern, locale=self.translator.locale)
