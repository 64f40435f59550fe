"""Everything a handler needs about one event: the session, who is asking, and their language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.contract import Catalogs, Inbound, Translator
from handlers.questions import Awaiting
from models.audit import Refusal
from models.dues import DEFAULT_RATES, DuesRates
from models.tables import Branch, ChannelIdentity, Member, local_today, utcnow

# A question left unanswered this long is forgotten: a later message is not taken as its answer.
QUESTION_LIFETIME = timedelta(minutes=30)


def moment_words(t: Translator, moment: datetime, timezone: tzinfo) -> str:
    """ "19:00, thứ Tư, 25/11/2026": plain words in the reader's language."""
    pattern = "HH:mm, EEEE, dd/MM/yyyy" if t.locale == "vi" else "HH:mm, EEEE d MMMM yyyy"
    return format_datetime(moment, pattern, tzinfo=timezone, locale=t.locale)


def names_text(t: Translator, names: list[str], limit: int = 30) -> str:
    """Names separated by commas, the first ``limit`` of them, and how many more."""
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        shown += " " + t.gettext("… and {count} more").format(count=len(names) - limit)
    return shown


@dataclass
class Context:
    session: AsyncSession
    inbound: Inbound
    catalogs: Catalogs
    timezone: ZoneInfo
    identity: ChannelIdentity | None = None
    member: Member | None = None
    # The member's branch, read with them; held here, so ``session.get(Branch, …)`` finds it.
    branch: Branch | None = None
    # How often a secretary may remind those who have not read a notice.
    nudge_interval: timedelta = timedelta(hours=24)
    # The figures of party dues (models/dues.py), from the settings.
    dues_rates: DuesRates = DEFAULT_RATES
    # Files one member may send chibo to read in a day.
    uploads_per_day: int = 30
    # A secretary's action this member was refused: audited once the event is handled (rate-limited).
    refusal: Refusal | None = None

    @property
    def translator(self) -> Translator:
        return self.catalogs.translator(self.member.locale if self.member else None)

    def ask(self, question: Awaiting) -> None:
        """Remember that the next typed message (or file) answers ``question``."""
        if self.identity is not None:
            self.identity.awaiting, self.identity.awaiting_since = question.encode(), utcnow()
            self.session.add(self.identity)

    def take_question(self) -> str | None:
        """The question the member's typed message answers, if one is pending and fresh; it is
        forgotten either way, so an answer is taken once."""
        identity = self.identity
        if identity is None or identity.awaiting is None:
            return None
        question, since = identity.awaiting, identity.awaiting_since
        identity.awaiting, identity.awaiting_since = None, None
        self.session.add(identity)
        if since is None or utcnow() - since > QUESTION_LIFETIME:
            return None
        return question

    def today(self) -> date:
        """Today where the commune is."""
        return local_today(self.timezone)

    def gettext(self, message: str) -> str:
        return self.translator.gettext(message)

    def format_day(self, day: date | None) -> str:
        if day is None:
            return "—"
        # Day/month/year is what members in Vietnam read; English gets the month spelled out.
        pattern = "dd/MM/yyyy" if self.translator.locale == "vi" else "d MMM yyyy"
        return format_date(day, pattern, locale=self.translator.locale)

    def format_moment(self, moment: datetime) -> str:
        local = moment.astimezone(self.timezone)
        pattern = "HH:mm dd/MM/yyyy" if self.translator.locale == "vi" else "d MMM yyyy, HH:mm"
        return format_datetime(local, pattern, tzinfo=self.timezone, locale=self.translator.locale)
