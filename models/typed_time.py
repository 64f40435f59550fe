"""Times as members type them, in Vietnamese (with or without diacritics) or English.

One pure reader for every typed time (a notice's schedule, a poll's deadline, a meeting's start):
"5 giờ chiều mai", "chiều mai 5 giờ", "7 giờ tối nay", "8 giờ kém 15", "thứ Ba tuần sau 19h30",
"ngày 5 tháng 12 lúc 7h tối", "5/12 19:30", "CN 8 giờ sáng", "5 gio chieu mai", "tomorrow 5pm".
The time is read in the zone of ``now``. An hour from 1 to 11 with no part of the day ("mai 5 giờ")
could be morning or evening: it comes back as ``Ambiguous`` for the member to choose, never guessed;
"05:00" (a leading zero) is the 24-hour clock and is not ambiguous. A time already past is refused.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum


class TimeProblem(StrEnum):
    UNREADABLE = "unreadable"  # no time in it, or parts that contradict each other
    NO_HOUR = "no_hour"  # a day without an hour: "sáng mai"
    NO_SUCH_DAY = "no_such_day"  # "31/02"
    PAST = "past"


@dataclass(frozen=True)
class Ambiguous:
    """An hour that could be morning or evening: the readings still ahead, morning first."""

    candidates: tuple[datetime, ...]


TypedTime = datetime | Ambiguous | TimeProblem

# Words whose meaning is lost when the diacritics go: kept apart as upper-case tokens (the folded
# text is otherwise lower case). "mốt" is the day after tomorrow, "một" one, "tới" the coming one.
_KEEP = {"mốt": "KIA", "một": "MOT", "tới": "TOI"}


def fold(text: str) -> str:
    """Lower case without diacritics, keeping the words in ``_KEEP`` apart."""
    lowered = unicodedata.normalize("NFC", text).lower()
    for word, token in _KEEP.items():
        lowered = re.sub(rf"(?<!\w){word}(?!\w)", token, lowered)
    decomposed = unicodedata.normalize("NFD", lowered.replace("đ", "d"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


_DATE_WORDS = re.compile(r"(?:ngay\s+)?(\d{1,2})\s+thang\s+(\d{1,2})(?:\s*(?:,|nam)\s*(\d{4}))?")
_DAY_OF_MONTH = re.compile(r"(?<!\w)ngay\s+(\d{1,2})(?![\d/.:-])(?!\s*(?:gio|h|g)(?![a-z]))")
_DATE = re.compile(r"(?<![\d:.])(?:ngay\s+)?(\d{1,2})\s*([/.-])\s*(\d{1,2})(?:\s*\2\s*(\d{4}|\d{2}))?(?![\d:])")
_WEEKDAY_NAMES = {
    "hai": 0, "2": 0, "ba": 1, "3": 1, "tu": 2, "4": 2, "nam": 3, "5": 3, "sau": 4, "6": 4, "bay": 5, "7": 5,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
}  # fmt: skip
_WEEKDAY = re.compile(
    r"(?<![\w/])(?:(next|this)\s+)?(?:thu\s*(hai|ba|tu|nam|sau|bay|[2-7])|t([2-7])|(chu\s*nhat|cn)"
    r"|(monday|tuesday|wednesday|thursday|friday|saturday|sunday))(?!\w)"
    r"(?:\s+(TOI))?"
)
_WEEK = re.compile(r"(?<!\w)(?:tuan\s+(nay|sau|toi|TOI|nua)|(this|next)\s+week)(?!\w)")
_NUMBER_WORDS = {
    "muoi hai": 12, "muoi MOT": 11, "muoi mot": 11, "muoi": 10, "MOT": 1, "mot": 1, "hai": 2, "ba": 3,
    "bon": 4, "tu": 4, "nam": 5, "sau": 6, "bay": 7, "tam": 8, "chin": 9,
}  # fmt: skip
_HOUR_WORD = re.compile(r"(?<!\w)(" + "|".join(_NUMBER_WORDS) + r")\s+(?=(?:gio|h|g|tieng|ruoi)(?!\w))")
_CLOCK = re.compile(
    r"(?<![\d/.])(\d{1,2})\s*(?::|gio(?![a-z])|h(?![a-z])|g(?![a-z])|\.(?=\d{2}(?!\d)))\s*"
    r"(?:(\d{1,2})(?!\d)(?:\s*(?:phut|p)(?![a-z]))?|(ruoi)(?![a-z]))?"
    r"(?:\s*(?:dung|sharp)(?![a-z]))?"
    r"(?:\s*kem\s*(\d{1,2})(?:\s*(?:phut|p)(?![a-z]))?)?"
)
_HALF_PAST = re.compile(r"(?<![\d/.])(\d{1,2})\s+ruoi(?![a-z])")
_AM_PM = re.compile(r"(?<![\d/.])(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)(?!\w)")
_NOON = re.compile(r"(?<!\w)(noon|midnight)(?!\w)")
_BARE_HOUR = re.compile(r"(?<![\d/.:])(\d{1,2})(?![\d/.:])")
_DAYS = re.compile(
    r"(?<!\w)(day after tomorrow|ngay\s+kia|ngay\s+KIA|ngay\s+mot|KIA|kia|mot"
    r"|hom\s+nay|bua\s+nay|nay|today|tonight|ngay\s+mai|mai|tomorrow|hom\s+qua|yesterday)(?!\w)"
)
_DAY_OFFSETS = {"kia": 2, "mot": 2, "nay": 0, "today": 0, "tonight": 0, "mai": 1, "tomorrow": 1}
_PARTS = re.compile(r"(?<!\w)(sang|trua|chieu|toi|dem|khuya|morning|afternoon|evening|night|tonight)(?!\w)")
_PART_NAMES = {
    "sang": "morning", "morning": "morning", "trua": "noon", "chieu": "afternoon", "afternoon": "afternoon",
    "toi": "evening", "evening": "evening", "tonight": "evening", "dem": "night", "khuya": "night", "night": "night",
}  # fmt: skip


@dataclass
class _Reading:
    """What was found in the text so far; each part is removed from ``rest`` once read."""

    rest: str
    day: date | None = None  # an explicit date
    year_given: bool = False
    weekday: int | None = None
    week: str | None = None  # "this", "next" or "coming" (thứ Hai tới)
    offset: int | None = None  # days from today: hôm nay 0, mai 1, ngày kia 2
    hour_text: str | None = None
    minute: int = 0
    before: int = 0  # "kém 15": minutes before the hour
    part: str | None = None  # morning, noon, afternoon, evening, night, am, pm

    def take(self, match: re.Match[str]) -> None:
        self.rest = self.rest[: match.start()] + " " + self.rest[match.end() :]


def read_time(text: str, now: datetime) -> TypedTime:
    """The moment ``text`` names, in the zone of ``now``; ``Ambiguous`` for an hour that could be
    morning or evening; a ``TimeProblem`` when it cannot be read or has passed."""
    reading = _Reading(" " + fold(text) + " ")
    problem = _read_day(reading, now) or _read_clock(reading) or _read_words(reading)
    if problem is not None:
        return problem
    if re.search(r"\d|(?<!\w)gio(?!\w)", reading.rest):
        return TimeProblem.UNREADABLE  # numbers or hours left over: a second time, or a day not understood
    if reading.hour_text is None:
        return TimeProblem.NO_HOUR if _has_day(reading) else TimeProblem.UNREADABLE
    clocks = _clocks(reading)
    if clocks is None:
        return TimeProblem.UNREADABLE
    return _place(reading, clocks, now)


def read_choice(text: str, candidates: tuple[datetime, ...]) -> datetime | None:
    """The candidate a typed follow-up picks ("17", "5", "chiều", "sáng"), if it picks one."""
    folded = fold(text)
    number = re.fullmatch(r"(\d{1,2})(?:\s*(?::00|h|g|gio))?", folded)
    if number is not None:
        matching = [c for c in candidates if c.hour == int(number.group(1))]
        return matching[0] if len(matching) == 1 else None
    part = _PARTS.fullmatch(folded)
    if part is not None and candidates:
        evening = _PART_NAMES[part.group(1)] in ("afternoon", "evening", "night")
        matching = [c for c in candidates if (c.hour >= 12) == evening]
        return matching[0] if len(matching) == 1 else None
    return None


def stamp(moment: datetime) -> str:
    """A local moment in 12 digits (YYYYMMDDHHMM), for a button or a pending question."""
    return f"{moment:%Y%m%d%H%M}"


def from_stamp(digits: str, now: datetime) -> datetime | None:
    """The moment ``stamp`` wrote, in the zone of ``now``; None for digits that are no moment."""
    try:
        return datetime.strptime(digits, "%Y%m%d%H%M").replace(tzinfo=now.tzinfo)
    except ValueError:
        return None


def canonical(moment: datetime) -> str:
    """The text ``read_time`` reads back as exactly ``moment``: "05:00 01/12/2026", "10:30 sáng 01/12/2026"."""
    # A leading zero marks 01-09 as the 24-hour clock, and 12-23 are read so anyway; 10 and 11 alone
    # could be evening, so they say morning (without it, the reading picked was asked about again).
    morning = " sáng" if moment.hour in (10, 11) else ""
    return f"{moment:%H:%M}{morning} {moment:%d/%m/%Y}"


def _has_day(reading: _Reading) -> bool:
    return reading.day is not None or reading.weekday is not None or reading.offset is not None


def _read_day(reading: _Reading, now: datetime) -> TimeProblem | None:
    problem = _read_date(reading, now)
    if problem is not None:
        return problem
    week = _WEEK.search(reading.rest)
    if week is not None:
        word = week.group(1) or week.group(2)
        reading.week = "this" if word in ("nay", "this") else "next"
        reading.take(week)
    weekday = _WEEKDAY.search(reading.rest)
    if weekday is not None:
        name = weekday.group(2) or weekday.group(3) or weekday.group(5)
        reading.weekday = 6 if weekday.group(4) else _WEEKDAY_NAMES[name]
        if weekday.group(1):  # "next monday", "this friday"
            reading.week = weekday.group(1)
        elif weekday.group(6):  # "thứ Hai tới": the coming one
            reading.week = reading.week or "coming"
        reading.take(weekday)
    elif reading.week is not None:
        return TimeProblem.UNREADABLE  # "tuần sau" without a day
    return None


def _read_date(reading: _Reading, now: datetime) -> TimeProblem | None:
    """ "ngày 5 tháng 12 (năm 2026)", "5/12", "5-12-2026", "5.12.2026", "ngày 5" (this month or the next)."""
    found: tuple[re.Match[str], int, int, str | None] | None = None
    match = _DATE_WORDS.search(reading.rest)
    if match is not None:
        found = (match, int(match.group(1)), int(match.group(2)), match.group(3))
    for match in _DATE.finditer(reading.rest) if found is None else ():
        if match.group(2) == "." and match.group(4) is None:
            continue  # "19.30" is a time
        found = (match, int(match.group(1)), int(match.group(3)), match.group(4))
        break
    if found is None:
        match = _DAY_OF_MONTH.search(reading.rest)
        if match is None:
            return None
        today = now.date()
        month = today.month if int(match.group(1)) >= today.day else today.month % 12 + 1
        found = (match, int(match.group(1)), month, str(today.year + (1 if month < today.month else 0)))
    match, day, month, year = found
    reading.year_given = year is not None
    full_year = now.year if year is None else int(year) + (2000 if len(year) == 2 else 0)
    try:
        reading.day = date(full_year, month, day)
    except ValueError:
        return TimeProblem.NO_SUCH_DAY
    reading.take(match)
    return None


def _read_clock(reading: _Reading) -> TimeProblem | None:
    reading.rest = _HOUR_WORD.sub(lambda m: str(_NUMBER_WORDS[m.group(1)]) + " ", reading.rest)
    noon = _NOON.search(reading.rest)
    if noon is not None:
        reading.hour_text, reading.part = "12", "noon" if noon.group(1) == "noon" else "night"
        reading.take(noon)
        return None
    am_pm = _AM_PM.search(reading.rest)
    if am_pm is not None:
        reading.hour_text, reading.minute = am_pm.group(1), int(am_pm.group(2) or 0)
        reading.part = "am" if am_pm.group(3).startswith("a") else "pm"
        reading.take(am_pm)
        return None
    clock = _CLOCK.search(reading.rest)
    if clock is not None:
        reading.hour_text = clock.group(1)
        reading.minute = 30 if clock.group(3) else int(clock.group(2) or 0)
        reading.before = int(clock.group(4) or 0)
        reading.take(clock)
        return None
    half = _HALF_PAST.search(reading.rest)
    if half is not None:
        reading.hour_text, reading.minute = half.group(1), 30
        reading.take(half)
        return None
    bare = _BARE_HOUR.findall(reading.rest)
    if len(bare) == 1:  # "mai 17", "5 chiều": one number alone is the hour
        match = _BARE_HOUR.search(reading.rest)
        assert match is not None
        reading.hour_text = bare[0]
        reading.take(match)
    return None


def _read_words(reading: _Reading) -> TimeProblem | None:
    days = _DAYS.findall(reading.rest)
    offsets = {_offset(word) for word in days}
    if len(offsets) > 1:
        return TimeProblem.UNREADABLE
    reading.offset = offsets.pop() if offsets else None
    reading.rest = _DAYS.sub(" ", reading.rest)
    parts = {_PART_NAMES[word] for word in _PARTS.findall(reading.rest)} | ({"evening"} if "tonight" in days else set())
    reading.rest = _PARTS.sub(" ", reading.rest)
    if reading.part in ("am", "pm"):
        fitting = {"morning"} if reading.part == "am" else {"noon", "afternoon", "evening", "night"}
        return TimeProblem.UNREADABLE if parts - fitting else None  # "5pm sáng"
    parts |= {reading.part} if reading.part else set()
    if len(parts) > 1:
        return TimeProblem.UNREADABLE
    reading.part = parts.pop() if parts else None
    return None


def _offset(word: str) -> int:
    if word.startswith("day after"):
        return 2
    last = word.split()[-1].lower()
    return -1 if last in ("qua", "yesterday") else _DAY_OFFSETS[last]


def _clocks(reading: _Reading) -> list[tuple[int, int, int]] | None:
    """The (hour, minute, days later) readings of the clock: two when it could be morning or evening."""
    assert reading.hour_text is not None
    hour, minute, part = int(reading.hour_text), reading.minute, reading.part
    if hour > 23 or minute > 59 or reading.before > 59:
        return None
    if hour > 12:
        if part in ("morning", "am", "pm"):
            return None  # "17 giờ sáng", "17pm"
        hours = [(hour, 0)]
    elif hour == 0 or (part is None and reading.hour_text.startswith("0")):
        hours = [(hour, 0)]  # "05:00" is the 24-hour clock
    elif hour == 12:
        # "12 giờ trưa" is noon; "12 giờ đêm" is midnight, which starts the next day.
        hours = [(0, 1)] if part in ("night", "evening") else [(0, 0)] if part == "am" else [(12, 0)]
    elif part is None:
        hours = [(hour, 0), (hour + 12, 0)]
    elif part in ("morning", "am"):
        hours = [(hour, 0)]
    elif part == "noon":
        hours = [(hour if hour >= 10 else hour + 12, 0)]  # "11 giờ trưa", "1 giờ trưa"
    elif part == "night":
        hours = [(hour if hour <= 4 else hour + 12, 0)]  # "2 giờ đêm" is 02:00, "10 giờ đêm" 22:00
    else:
        hours = [(hour + 12, 0)]
    clocks = []
    for h, later in hours:
        total = h * 60 + minute - reading.before
        clocks.append((total // 60 % 24, total % 60, later + total // (24 * 60)))
    return clocks


def _place(reading: _Reading, clocks: list[tuple[int, int, int]], now: datetime) -> TypedTime:
    today = now.date()
    fixed = _fixed_day(reading, today)
    if isinstance(fixed, TimeProblem):
        return fixed
    moments: list[datetime] = []
    for hour, minute, later in clocks:
        day = (fixed or today) + timedelta(days=later)
        moment = datetime.combine(day, time(hour, minute), tzinfo=now.tzinfo)
        if fixed is None and moment <= now:
            moment += timedelta(days=1)  # a bare time already past today means tomorrow
        elif reading.weekday is not None and reading.week is None and moment <= now:
            moment += timedelta(days=7)  # "thứ Hai 7 giờ" said on a Monday evening: next Monday
        moments.append(moment)
    ahead = tuple(m for m in moments if m > now)
    if not ahead:
        return TimeProblem.PAST
    if len(clocks) == 1:
        return ahead[0]
    return Ambiguous(ahead)


def _fixed_day(reading: _Reading, today: date) -> date | TimeProblem | None:
    """The day the words name, or None when only a clock time was typed."""
    days: set[date] = set()
    if reading.day is not None:
        day = reading.day
        if not reading.year_given and day < today:
            day = day.replace(year=day.year + 1)  # "05/01" typed in December means next January
        days.add(day)
    if reading.offset is not None:
        days.add(today + timedelta(days=reading.offset))
    if reading.weekday is not None:
        monday = today - timedelta(days=today.weekday())
        if reading.week == "this":
            named = monday + timedelta(days=reading.weekday)
        elif reading.week == "next":
            named = monday + timedelta(days=7 + reading.weekday)
        else:
            ahead = (reading.weekday - today.weekday()) % 7
            named = today + timedelta(days=ahead or (7 if reading.week == "coming" else 0))
        if days and named not in days:
            if reading.week is None and any(d.weekday() == reading.weekday for d in days):
                return days.pop()  # "thứ Ba 08/12": the weekday agrees with the date
            return TimeProblem.UNREADABLE  # a weekday that is not that day
        days.add(named)
    if len(days) > 1:
        return TimeProblem.UNREADABLE
    return days.pop() if days else None


# ---- Dates of the past: birth, admission, a branch's decision ------------------------------------


class DateProblem(StrEnum):
    UNREADABLE = "unreadable"  # not a day, month and year
    NO_YEAR = "no_year"  # "5/3": a birth or admission date needs its year, in four digits
    NO_SUCH_DAY = "no_such_day"  # "31/02/1960", "5/13/1960"


_MONTH_NAME = r"(?:thang\s+)"
_DATE_NUMBERS = re.compile(
    r"(?:ngay\s+)?(\d{1,2})\s*([/.-])\s*(\d{1,2})\s*\2\s*(\d{2,4})"  # 5/3/1960, 05-03-1960, 5.3.1960
    r"|(?:ngay\s+)?(\d{1,2})\s+" + _MONTH_NAME + r"(\d{1,2})(?:\s*,?\s*(?:nam\s+)?(\d{2,4}))?"  # 5 tháng 3 năm 1960
    r"|(\d{4})-(\d{1,2})-(\d{1,2})"  # 1960-03-05 (ISO, as spreadsheets write it)
    r"|(?:ngay\s+)?(\d{1,2})\s*([/.-])\s*(\d{1,2})"  # 5/3: the year is missing
)


def read_date(text: str) -> date | DateProblem:
    """A past date as a secretary types it (birth, admission): "5/3/1960", "05-03-1960",
    "5.3.1960", "5 tháng 3 năm 1960", "ngày 5 tháng 3 1960", "1960-03-05", with or without
    diacritics. The year is required in four digits (a two-digit "60" could be 1960 or 2060); a day
    that does not exist is refused, never moved. Whether it lies in the past is the caller's rule."""
    folded = fold(text).strip().rstrip(".")
    match = _DATE_NUMBERS.fullmatch(folded)
    if match is None:
        return DateProblem.UNREADABLE
    groups = match.groups()
    if groups[0] is not None:
        day, month, year = groups[0], groups[2], groups[3]
    elif groups[4] is not None:
        day, month, year = groups[4], groups[5], groups[6]
    elif groups[7] is not None:
        year, month, day = groups[7], groups[8], groups[9]
    else:
        return DateProblem.NO_YEAR
    if year is None or len(year) != 4:
        return DateProblem.NO_YEAR
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return DateProblem.NO_SUCH_DAY
