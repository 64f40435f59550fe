"""The desk's Thông báo: the tracking table per member, as the Excel file has it."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col

from bot.runtime import Runtime
from handlers.notices.reading import notice_body_maker
from handlers.notices.tracking import receipt_table
from handlers.records.words import local_phone
from models.notice_tracking import notice_tracking
from models.notices import Audience, create_draft, record_read, send_now
from models.tables import Member, Notice, NoticeRecipient, utcnow
from tests.chat import say, vi
from tests.conftest import Demo, member_named

SECRETARY = 400


async def _sent_to_tay(runtime: Runtime) -> int:
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        author = await session.get(Member, secretary.id)
        assert author is not None
        notice = await create_draft(session, author, "Họp chi bộ lúc 19:30 thứ Sáu.", Audience((author.branch_id,)))
        await send_now(session, author, notice, notice_body_maker(runtime.catalogs))
    return notice.id or 0


async def test_the_tracking_table_has_a_row_per_member_with_whom_to_phone(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    await say(runtime, 402, f"/start {demo.code('Hồ Thị Ngọc')}")
    notice_id = await _sent_to_tay(runtime)
    son, ngoc = await member_named(runtime, "Mai Văn Sơn"), await member_named(runtime, "Hồ Thị Ngọc")
    async with runtime.sessions() as session, session.begin():
        assert await record_read(session, notice_id, son.id or 0)
        # Seen on her phone, not marked read: as the Zalo OA's "seen" event records it.
        await session.exec(
            update(NoticeRecipient)
            .where(col(NoticeRecipient.notice_id) == notice_id, col(NoticeRecipient.member_id) == ngoc.id)
            .values(seen_at=utcnow())
        )
    async with runtime.sessions() as session:
        notice = await session.get(Notice, notice_id)
        assert notice is not None
        header, rows = receipt_table(
            runtime.catalogs.translator("vi"), await notice_tracking(session, notice), runtime.settings.tz
        )
    assert header[-2:] == [vi("Seen on Zalo at"), vi("To phone")]
    by_name = {row[0]: row for row in rows}
    assert "Lý Văn Quang" not in by_name and len(rows) == 9  # the sender counted out
    assert by_name["Mai Văn Sơn"][3] == vi("read") and by_name["Mai Văn Sơn"][6] and not by_name["Mai Văn Sơn"][8]
    assert by_name["Hồ Thị Ngọc"][3] == vi("being sent") and by_name["Hồ Thị Ngọc"][7]
    assert by_name["Hồ Thị Ngọc"][-1] == ""
    loan = await member_named(runtime, "Phan Thị Loan")
    assert by_name["Phan Thị Loan"][2:4] == [local_phone(loan.phone or ""), vi("not on chibo")]
    assert by_name["Phan Thị Loan"][-1] == vi("yes")
