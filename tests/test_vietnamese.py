"""Names in the order registers list them, titles cut at a word, a notice's summary past its
salutation: what every list, export and title on a phone relies on."""

from __future__ import annotations

import random

from bot.runtime import Runtime
from handlers.menus import BranchRoster
from models.record_queries import active_in_branch
from models.roster import export_rows
from models.vietnamese import name_key, shorten, text_key, without_salutation
from tests.chat import say
from tests.conftest import Demo, member_named


def test_letters_in_the_vietnamese_alphabet_and_tones_after_the_letters() -> None:
    # Đ after D (not after Z, as code points put it); ă and â after a; ơ and ư after o and u.
    words = ["Đức", "Dũng", "Ân", "Ăn", "An", "Ơn", "Ôn", "On", "Ưng", "Uy", "Vân", "Yến", "Bình"]
    assert sorted(words, key=text_key) == ["An", "Ăn", "Ân", "Bình", "Dũng", "Đức", "On", "Ôn", "Ơn", "Uy", "Ưng",
                                           "Vân", "Yến"]  # fmt: skip
    # Tones in the dictionary's order: none, huyền, hỏi, ngã, sắc, nặng.
    tones = ["ba", "bà", "bả", "bã", "bá", "bạ"]
    assert sorted(random.sample(tones, len(tones)), key=text_key) == tones
    # Letters first, then tones: "ang" before "anh" whatever their tones; "cha" before "chan".
    assert sorted(["ánh", "àng", "chan", "chà"], key=text_key) == ["àng", "ánh", "chà", "chan"]


def test_people_are_listed_by_given_name_then_middle_name_then_surname() -> None:
    people = ["Trần Văn Đức", "Nguyễn Văn An", "Lê Thị Bình", "Phạm Thị An", "Võ Đức Dũng", "Hồ Văn Ánh"]
    assert sorted(people, key=name_key) == [
        "Phạm Thị An",  # An: Thị before Văn
        "Nguyễn Văn An",
        "Hồ Văn Ánh",  # the same letters, a tone: after An
        "Lê Thị Bình",
        "Võ Đức Dũng",
        "Trần Văn Đức",  # Đ after D
    ]


def test_titles_are_cut_after_a_whole_word() -> None:
    title = "Họp chi bộ định kỳ tháng 12 lúc 19h30 họp bàn kế hoạch năm 2027"
    cut = shorten(title, 42)
    assert cut == "Họp chi bộ định kỳ tháng 12 lúc 19h30 họp…" and len(cut) <= 42
    assert not shorten(title, 41).endswith("họ…")  # was "…19h30 họ"
    assert shorten("Ngắn gọn", 40) == "Ngắn gọn"
    assert shorten("Thông qua nghị quyết,   đợt 2", 22) == "Thông qua nghị quyết…"  # no comma left dangling
    assert shorten("Mộttừrấtdàikhôngcókhoảngtrắng", 10) == "Mộttừrấtd…"  # a single word longer than the room


def test_a_summary_starts_where_the_notice_starts_saying_something() -> None:
    text = "Kính gửi các đồng chí đảng viên chi bộ thôn Tây,\n\nChi bộ họp định kỳ lúc 19h30 thứ Sáu."
    assert without_salutation(text) == "Chi bộ họp định kỳ lúc 19h30 thứ Sáu."
    assert without_salutation("THÔNG BÁO\nKính thưa các đồng chí!\nNộp đảng phí quý IV.") == "Nộp đảng phí quý IV."
    assert without_salutation("Kính gửi các đồng chí, chi bộ họp lúc 19h30.") == "Chi bộ họp lúc 19h30."
    assert without_salutation("Thông báo lịch họp tháng 12") == "Thông báo lịch họp tháng 12"  # the news itself
    assert without_salutation("Kính gửi các đồng chí") == "Kính gửi các đồng chí"  # nothing else to show


async def test_the_roster_and_the_export_list_people_as_registers_do(runtime: Runtime, demo: Demo) -> None:
    tay = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session:
        roster = [m.full_name for m in await active_in_branch(session, tay.branch_id)]
        exported = [row[0] for row in await export_rows(session, "TAY")]
    given = ["Bình", "Dũng", "Hạnh", "Khánh", "Loan", "Ngọc", "Quang", "Sơn", "Thảo", "Yến"]
    assert [name.split()[-1] for name in roster] == given
    assert exported == roster
    # The roster screen a secretary opens shows that order too.
    await say(runtime, 300, f"/start {demo.code('Lý Văn Quang')}")
    shown = (await say(runtime, 300, payload=BranchRoster().pack()))[0].text
    positions = [shown.find(name) for name in roster]
    assert -1 not in positions and positions == sorted(positions)
