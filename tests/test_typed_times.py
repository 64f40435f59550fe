"""Every typed time, read by the one reader, against a fixed "now": Monday 30/11/2026, 10:00 in Hà Nội."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.channels.zalo_bot import Menu, choose, offered, place, render
from bot.runtime import Runtime
from handlers.contract import Button
from models.tables import Poll, utcnow
from models.typed_time import Ambiguous, DateProblem, TimeProblem, canonical, read_choice, read_date, read_time
from tests.chat import button, say
from tests.conftest import Demo

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=HANOI)  # a Monday

UNREADABLE, NO_HOUR, NO_SUCH_DAY, PAST = (
    TimeProblem.UNREADABLE,
    TimeProblem.NO_HOUR,
    TimeProblem.NO_SUCH_DAY,
    TimeProblem.PAST,
)

# text -> "HH:MM dd/mm/yyyy", a tuple of such (asked back: morning or evening), or a problem
TABLE: list[tuple[str, str | tuple[str, ...] | TimeProblem]] = [
    # the issue's own examples: the part of the day before or after the hour
    ("5 giờ chiều mai", "17:00 01/12/2026"),
    ("chiều mai 5 giờ", "17:00 01/12/2026"),
    ("7 giờ tối nay", "19:00 30/11/2026"),
    ("tối mai 8 giờ", "20:00 01/12/2026"),
    ("tối nay 7 giờ", "19:00 30/11/2026"),
    ("5 gio chieu mai", "17:00 01/12/2026"),
    ("chieu mai 5 gio", "17:00 01/12/2026"),
    ("7 gio toi nay", "19:00 30/11/2026"),
    ("8 giờ sáng mai", "08:00 01/12/2026"),
    ("sáng mai 8h", "08:00 01/12/2026"),
    ("11 giờ trưa mai", "11:00 01/12/2026"),
    ("1 giờ trưa mai", "13:00 01/12/2026"),
    ("12 giờ trưa nay", "12:00 30/11/2026"),
    ("10 giờ đêm nay", "22:00 30/11/2026"),
    ("12 giờ đêm nay", "00:00 01/12/2026"),
    ("2 giờ đêm mai", "02:00 01/12/2026"),
    ("9 giờ khuya mai", "21:00 01/12/2026"),
    # h, g, giờ, minutes, rưỡi, kém
    ("19:30", "19:30 30/11/2026"),
    ("19h30", "19:30 30/11/2026"),
    ("19g30", "19:30 30/11/2026"),
    ("19 giờ 30", "19:30 30/11/2026"),
    ("19 giờ 30 phút", "19:30 30/11/2026"),
    ("19.30", "19:30 30/11/2026"),
    ("7h tối", "19:00 30/11/2026"),
    ("7h30 tối mai", "19:30 01/12/2026"),
    ("7 giờ rưỡi tối", "19:30 30/11/2026"),
    ("7 rưỡi tối mai", "19:30 01/12/2026"),
    ("7h rưỡi sáng mai", "07:30 01/12/2026"),
    ("8 giờ kém 15 sáng mai", "07:45 01/12/2026"),
    ("8 giờ kém 15 phút tối", "19:45 30/11/2026"),
    ("8 giờ kém 15 mai", ("07:45 01/12/2026", "19:45 01/12/2026")),
    ("9 giờ đúng sáng mai", "09:00 01/12/2026"),
    ("21h", "21:00 30/11/2026"),
    ("9:00", ("09:00 01/12/2026", "21:00 30/11/2026")),  # 09:00 today is past
    ("09:00", "09:00 01/12/2026"),  # a leading zero: the 24-hour clock; past today, so tomorrow
    ("08:00 mai", "08:00 01/12/2026"),
    ("00:30 mai", "00:30 01/12/2026"),
    ("12:00", "12:00 30/11/2026"),
    # hours in words
    ("năm giờ chiều mai", "17:00 01/12/2026"),
    ("bảy giờ tối nay", "19:00 30/11/2026"),
    ("mười giờ sáng mai", "10:00 01/12/2026"),
    ("mười một giờ trưa mai", "11:00 01/12/2026"),
    ("mười hai giờ trưa mai", "12:00 01/12/2026"),
    ("một giờ chiều mai", "13:00 01/12/2026"),
    ("bốn giờ chiều mai", "16:00 01/12/2026"),
    ("tám giờ rưỡi tối mai", "20:30 01/12/2026"),
    ("chin gio toi mai", "21:00 01/12/2026"),
    # days: hôm nay, mai, ngày mai, ngày kia, mốt
    ("hôm nay 15:00", "15:00 30/11/2026"),
    ("ngày mai 15h", "15:00 01/12/2026"),
    ("ngày kia 15h", "15:00 02/12/2026"),
    ("ngày mốt 9 giờ sáng", "09:00 02/12/2026"),
    ("mốt 19h", "19:00 02/12/2026"),
    ("5 gio chieu mot", "17:00 02/12/2026"),
    ("5 giờ chiều ngày mốt", "17:00 02/12/2026"),
    # weekdays, this week and next
    ("thứ Ba 19h", "19:00 01/12/2026"),
    ("thứ 3 19h", "19:00 01/12/2026"),
    ("T3 19h", "19:00 01/12/2026"),
    ("thứ Sáu 7 giờ tối", "19:00 04/12/2026"),
    ("thứ 6 tuần này 19:30", "19:30 04/12/2026"),
    ("thứ Sáu tuần sau 19:30", "19:30 11/12/2026"),
    ("thứ 6 tuần tới 19:30", "19:30 11/12/2026"),
    ("19:30 thứ bảy", "19:30 05/12/2026"),
    ("thứ bẩy 8 giờ sáng", "08:00 05/12/2026"),
    ("Chủ nhật 8 giờ sáng", "08:00 06/12/2026"),
    ("CN 8h sáng", "08:00 06/12/2026"),
    ("chu nhat tuan sau 8h sang", "08:00 13/12/2026"),
    ("thứ Hai 7 giờ sáng", "07:00 07/12/2026"),  # a Monday, and 07:00 today has passed
    ("thứ Hai tới 14h", "14:00 07/12/2026"),
    ("thứ hai 14h", "14:00 30/11/2026"),
    ("thứ năm năm giờ chiều", "17:00 03/12/2026"),
    ("thứ Ba 01/12 17h", "17:00 01/12/2026"),
    # dates
    ("ngày 5 tháng 12 19:30", "19:30 05/12/2026"),
    ("19:30 ngày 5 tháng 12 năm 2026", "19:30 05/12/2026"),
    ("5/12 19:30", "19:30 05/12/2026"),
    ("5/12/2026 19:30", "19:30 05/12/2026"),
    ("05/12/26 7h tối", "19:00 05/12/2026"),
    ("7:15 02/01/2027", ("07:15 02/01/2027", "19:15 02/01/2027")),
    ("05/01 08:00", "08:00 05/01/2027"),  # January typed in November: next January
    ("5-12 19h", "19:00 05/12/2026"),
    ("5.12.2026 19h", "19:00 05/12/2026"),
    ("ngày 3 lúc 8 giờ tối", "20:00 03/12/2026"),
    ("25/11 19:00", "19:00 25/11/2027"),
    # English, cheaply
    ("tomorrow 5pm", "17:00 01/12/2026"),
    ("tomorrow at 5 pm", "17:00 01/12/2026"),
    ("today 7:30pm", "19:30 30/11/2026"),
    ("tonight 8", "20:00 30/11/2026"),
    ("next monday 9am", "09:00 07/12/2026"),
    ("friday 7 in the evening", "19:00 04/12/2026"),
    ("tomorrow noon", "12:00 01/12/2026"),
    ("day after tomorrow 17:00", "17:00 02/12/2026"),
    # an hour that could be morning or evening is asked back, never guessed
    ("mai 5 giờ", ("05:00 01/12/2026", "17:00 01/12/2026")),
    ("5 giờ mai", ("05:00 01/12/2026", "17:00 01/12/2026")),
    ("mai 5", ("05:00 01/12/2026", "17:00 01/12/2026")),
    ("thứ 6 8h", ("08:00 04/12/2026", "20:00 04/12/2026")),
    ("5/12 7:30", ("07:30 05/12/2026", "19:30 05/12/2026")),
    ("hôm nay 5 giờ", ("17:00 30/11/2026",)),  # 05:00 today has passed: only 17:00 is offered
    ("mai 17", "17:00 01/12/2026"),
    # refused, with the reason
    ("7 giờ sáng nay", PAST),
    ("hôm nay 09:00", PAST),
    ("hôm nay 9:00", ("21:00 30/11/2026",)),
    ("hôm qua 19h", PAST),
    ("thứ Hai tuần này 7 giờ sáng", PAST),
    ("1/1/2026 8h sáng", PAST),
    ("sáng mai", NO_HOUR),
    ("mai", NO_HOUR),
    ("thứ 3 tuần sau", NO_HOUR),
    ("31/02 08:00", NO_SUCH_DAY),
    ("25:00", UNREADABLE),
    ("19:75", UNREADABLE),
    ("", UNREADABLE),
    ("họp chi bộ", UNREADABLE),
    ("17 giờ sáng mai", UNREADABLE),
    ("5 giờ 7 giờ", UNREADABLE),
    ("thứ Tư 01/12 17h", UNREADABLE),  # 01/12/2026 is a Tuesday
    ("mai ngày kia 17h", UNREADABLE),
    ("tuần sau 17h", UNREADABLE),
]


def _shown(result: datetime | Ambiguous | TimeProblem) -> str | tuple[str, ...] | TimeProblem:
    if isinstance(result, Ambiguous):
        return tuple(f"{c:%H:%M %d/%m/%Y}" for c in result.candidates)
    if isinstance(result, datetime):
        assert result.tzinfo is HANOI
        return f"{result:%H:%M %d/%m/%Y}"
    return result


def test_the_table_is_long_enough() -> None:
    assert len(TABLE) >= 80
    assert len({text for text, _ in TABLE}) == len(TABLE)


@pytest.mark.parametrize(("text", "expected"), TABLE, ids=[text or "empty" for text, _ in TABLE])
def test_typed_time(text: str, expected: str | tuple[str, ...] | TimeProblem) -> None:
    assert _shown(read_time(text, NOW)) == expected


def test_what_a_button_carries_reads_back_as_itself() -> None:
    # Was: 10:xx and 11:xx came back as "morning or evening?", so the reading tapped was asked again.
    for hour in range(24):
        moment = datetime(2026, 12, 2, hour, 30, tzinfo=HANOI)
        assert read_time(canonical(moment), NOW) == moment, canonical(moment)


def test_a_typed_follow_up_picks_morning_or_evening() -> None:
    asked = read_time("mai 5 giờ", NOW)
    assert isinstance(asked, Ambiguous)
    morning, evening = asked.candidates
    assert read_choice("17", asked.candidates) == evening
    assert read_choice("17h", asked.candidates) == evening
    assert read_choice("5", asked.candidates) == morning
    assert read_choice("chiều", asked.candidates) == evening
    assert read_choice("sang", asked.candidates) == morning
    assert read_choice("6", asked.candidates) is None
    assert read_choice("5 giờ chiều mai", asked.candidates) is None  # read afresh instead


# --- in the chat, on both databases ---------------------------------------------------------------

SECRETARY = 400
WEEKDAYS = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"]


def _words(moment: datetime) -> str:
    return f"{moment:%H:%M}, {WEEKDAYS[moment.weekday()]}, {moment:%d/%m/%Y}"


async def _deadline(runtime: Runtime, poll_id: int) -> datetime | None:
    async with runtime.sessions() as session:
        poll = await session.get(Poll, poll_id)
    assert poll is not None
    return None if poll.deadline is None else poll.deadline.astimezone(HANOI)


async def test_a_poll_deadline_typed_as_people_say_it(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    manage = (await say(runtime, SECRETARY, "/quanly"))[0]
    await say(runtime, SECRETARY, payload=button(manage, "Biểu quyết mới"))
    preview = (await say(runtime, SECRETARY, "Thông qua kế hoạch quý I?"))[0]
    ask_deadline = button(preview, "⏰")
    poll_id = int(ask_deadline.rsplit(":", 1)[1])
    tomorrow = (datetime.now(HANOI) + timedelta(days=1)).date()
    five_pm = datetime.combine(tomorrow, time(17, 0), tzinfo=HANOI)

    # "mai 5 giờ": morning or evening? Two buttons, nothing saved until one is tapped.
    await say(runtime, SECRETARY, payload=ask_deadline)
    before = await _deadline(runtime, poll_id)
    asked = (await say(runtime, SECRETARY, "mai 5 giờ"))[0]
    assert "buổi sáng hay buổi chiều tối" in asked.text
    five_am = five_pm - timedelta(hours=12)
    assert [b.label for b in asked.buttons[0]] == ["🕖 " + _words(five_am), "🕖 " + _words(five_pm)]
    assert await _deadline(runtime, poll_id) == before
    # On the Zalo bot the readings are listed without numbers under the question, and while it is
    # open a typed number answers it, even beside a ballot's numbered menu (issue 14: "17" was taken
    # as a menu number).
    assert asked.asks
    ballot = Menu(1, tuple(Button(f"Option {i}", f"pv:1:{1 << i}") for i in range(20)), True, utcnow())
    menus = place([ballot], offered(asked) or [], False, utcnow(), asks=True)
    assert choose("17", menus) is None and choose("2", menus) is None
    shown = render(asked, offered(asked) or [], "")[0]
    assert "• 🕖 " + _words(five_pm) in shown and "2. " not in shown
    assert choose("huy", menus) == button(asked, "Hủy")  # a label's words still stand for it
    answered = (await say(runtime, SECRETARY, "17"))[0]
    assert "Đã lưu" in answered.text and _words(five_pm) in answered.text
    await say(runtime, SECRETARY, payload=ask_deadline)
    asked = (await say(runtime, SECRETARY, "mai 5 giờ"))[0]
    saved = (await say(runtime, SECRETARY, payload=button(asked, "17:00")))[0]
    assert "Đã lưu" in saved.text and _words(five_pm) in saved.text
    assert await _deadline(runtime, poll_id) == five_pm

    # A typed "5" answers the same question: 05:00.
    await say(runtime, SECRETARY, payload=ask_deadline)
    await say(runtime, SECRETARY, "mai 5 giờ")
    saved = (await say(runtime, SECRETARY, "5"))[0]
    assert _words(five_am) in saved.text
    assert await _deadline(runtime, poll_id) == five_am

    # "5 giờ chiều mai": 17:00 at once, echoed in full.
    await say(runtime, SECRETARY, payload=ask_deadline)
    saved = (await say(runtime, SECRETARY, "5 giờ chiều mai"))[0]
    assert "Đã lưu" in saved.text and _words(five_pm) in saved.text
    assert await _deadline(runtime, poll_id) == five_pm

    # A time already past is refused, and the question stays open.
    await say(runtime, SECRETARY, payload=ask_deadline)
    refused = (await say(runtime, SECRETARY, "8 giờ sáng hôm qua"))[0]
    assert "đã qua" in refused.text
    saved = (await say(runtime, SECRETARY, "chiều mai 5 giờ"))[0]
    assert _words(five_pm) in saved.text

    # A tapped reading is checked again: not for a poll already published.
    await say(runtime, SECRETARY, payload=ask_deadline)
    asked = (await say(runtime, SECRETARY, "mai 5 giờ"))[0]
    late_tap = button(asked, "17:00")
    await say(runtime, SECRETARY, payload=f"pp:{poll_id}")
    assert "Đã lưu" not in (await say(runtime, SECRETARY, payload=late_tap))[0].text


# Birth and admission dates as a secretary types them (issue 14): text -> the date, or a problem.
DATES: list[tuple[str, date | DateProblem]] = [
    ("5/3/1960", date(1960, 3, 5)),
    ("05/03/1960", date(1960, 3, 5)),
    ("05-03-1960", date(1960, 3, 5)),
    ("5.3.1960", date(1960, 3, 5)),
    ("5 tháng 3 năm 1960", date(1960, 3, 5)),
    ("ngày 5 tháng 3 1960", date(1960, 3, 5)),
    ("ngày 5 tháng 3 năm 1960", date(1960, 3, 5)),
    ("ngay 5 thang 3 nam 1960", date(1960, 3, 5)),
    ("5 tháng 3, 1960", date(1960, 3, 5)),
    ("Ngày 05/03/1960", date(1960, 3, 5)),
    ("1960-03-05", date(1960, 3, 5)),
    (" 5/3/1960. ", date(1960, 3, 5)),
    ("29/02/1960", date(1960, 2, 29)),
    ("31/2/1960", DateProblem.NO_SUCH_DAY),
    ("29/02/1961", DateProblem.NO_SUCH_DAY),
    ("5/13/1960", DateProblem.NO_SUCH_DAY),
    ("5 tháng 13 năm 1960", DateProblem.NO_SUCH_DAY),
    ("0/3/1960", DateProblem.NO_SUCH_DAY),
    ("5/3", DateProblem.NO_YEAR),
    ("5 tháng 3", DateProblem.NO_YEAR),
    ("5/3/60", DateProblem.NO_YEAR),  # 1960 or 2060: asked, never guessed
    ("hôm qua", DateProblem.UNREADABLE),
    ("0912 345 678", DateProblem.UNREADABLE),
    ("5/3/1960 và 6/3/1960", DateProblem.UNREADABLE),
]


@pytest.mark.parametrize(("text", "expected"), DATES)
def test_a_typed_birth_or_admission_date(text: str, expected: date | DateProblem) -> None:
    assert read_date(text) == expected
