"""Files one member sends chibo to read are capped per day (CHIBO_UPLOADS_PER_DAY)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.runtime import Runtime
from handlers.contract import Attachment
from models.tables import NoticeFile, utcnow
from models.uploads import take_upload
from tests.chat import say, vi
from tests.conftest import Demo, make_settings, member_named

SECRETARY = 720
TOO_MANY = (
    "You have already sent {count} files today, the most chibo reads from one member in a day. "
    "This file was not read: please send it again tomorrow."
)


async def test_a_members_files_are_capped_per_day_and_the_next_day_counts_anew(database_url: str, demo: Demo) -> None:
    runtime = Runtime.create(make_settings(database_url, uploads_per_day=2))
    try:
        await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
        await say(runtime, SECRETARY, payload="nnew")
        draft = await say(runtime, SECRETARY, "Kế hoạch tháng 12, xem tệp kèm theo")
        notice_id = next(
            int(b.payload.split(":")[1]) for r in draft for row in r.buttons for b in row if b.payload.startswith("ns:")
        )
        for name in ("ke-hoach-1.txt", "ke-hoach-2.txt"):
            await say(runtime, SECRETARY, payload=f"ask:attach:{notice_id}")
            await say(runtime, SECRETARY, attachment=Attachment(name, b"Ke hoach thang 12"))
        await say(runtime, SECRETARY, payload=f"ask:attach:{notice_id}")
        refused = await say(runtime, SECRETARY, attachment=Attachment("ke-hoach-3.txt", b"Ke hoach moi"))
        assert refused[0].text == vi(TOO_MANY).format(count=2)
        # A register sent unasked counts too: refused the same way, not read.
        register = await say(runtime, SECRETARY, attachment=Attachment("danh-sach.csv", b"Ho va ten\nA"))
        assert register[0].text == vi(TOO_MANY).format(count=2)
        async with runtime.sessions() as session:
            kept = (await session.exec(select(NoticeFile).where(NoticeFile.notice_id == notice_id))).one()
        assert kept.filename == "ke-hoach-2.txt"  # the third was not read
        quang = await member_named(runtime, "Lý Văn Quang")
        async with runtime.sessions() as session, session.begin():
            tomorrow = utcnow() + timedelta(days=1)
            assert await take_upload(session, quang.id or 0, 2, runtime.settings.tz, now=tomorrow)
            assert not await take_upload(session, quang.id or 0, 2, runtime.settings.tz)
    finally:
        await runtime.engine.dispose()
