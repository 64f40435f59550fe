"""The desk's Biểu quyết: the printable result sheet (DOCX) in the chat's words."""

from __future__ import annotations

import io
from datetime import timedelta

from bot.runtime import Runtime
from handlers.polls import ballot_maker
from handlers.polls.sheet import result_sheet_docx
from models.polls import change_draft, close, create_draft, publish, vote
from models.tables import Member, Poll, PollKind, utcnow
from tests.chat import vi
from tests.conftest import Demo, member_named


def docx_text(content: bytes) -> str:
    """Every paragraph and table cell of a .docx, one per line."""
    from docx import Document

    document = Document(io.BytesIO(content))
    lines = [p.text for p in document.paragraphs]
    lines += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(lines)


async def _voted_poll(runtime: Runtime, *, secret: bool, kind: PollKind = PollKind.MOTION) -> int:
    """Lý Văn Quang's poll in Tây: Mai Văn Sơn and Hồ Thị Ngọc in favour, Đinh Văn Khánh against."""
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        poll = await create_draft(
            session, secretary, "Thông qua kế hoạch quý I?", [secretary.branch_id], utcnow() + timedelta(days=1)
        )
        changes: dict[str, object] = {"secret": secret}
        if kind is PollKind.ELECTION:
            changes |= {"kind": kind, "options": ["Mai Văn Sơn", "Hồ Thị Ngọc"]}
        await change_draft(session, secretary, poll, **changes)
        await publish(session, secretary, poll, ballot_maker(runtime.catalogs, runtime.settings.tz))
    for name, mask in (("Mai Văn Sơn", 1), ("Hồ Thị Ngọc", 1), ("Đinh Văn Khánh", 2)):
        async with runtime.sessions() as session, session.begin():
            voter = await session.get(Member, (await member_named(runtime, name)).id)
            assert voter is not None
            await vote(session, poll.id or 0, voter, mask)
    async with runtime.sessions() as session, session.begin():
        found = await session.get(Poll, poll.id)
        assert found is not None
        await close(session, found, actor=secretary)
    return poll.id or 0


async def _sheet(runtime: Runtime, poll_id: int) -> str:
    async with runtime.sessions() as session:
        poll = await session.get(Poll, poll_id)
        assert poll is not None
        content = await result_sheet_docx(session, runtime.catalogs.translator("vi"), poll, runtime.settings.tz)
    return docx_text(content)


async def test_the_result_sheet_says_what_the_chat_says_and_leaves_room_to_sign(runtime: Runtime, demo: Demo) -> None:
    sheet = await _sheet(runtime, await _voted_poll(runtime, secret=False))
    assert vi("RESULT OF THE VOTE") in sheet and "Thông qua kế hoạch quý I?" in sheet
    # The verdict word for word as the chat reads it aloud: 8 official members less the exempt
    # Tạ Văn Bình who did not vote: a base of 7, 2 in favour, 4 needed.
    assert "Không được thông qua: 2/7 tán thành (28,6%), cần ít nhất 4." in sheet
    assert "Đã bỏ phiếu: 3 trên 8 người có quyền biểu quyết." in sheet
    assert "Cơ sở tính: 7 đồng chí (không tính miễn sinh hoạt, không tham gia: 1)" in sheet
    assert vi("more than half of all eligible voters") in sheet
    assert "28,6%" in sheet and "14,3%" in sheet  # each option's share of the base
    assert vi("(signature and full name)") in sheet and vi("Secretary of the branch") in sheet
    assert vi("Made at {when}").split("{")[0] in sheet
    # An open vote: each name with its choice, as the ballot told the voters.
    assert "Mai Văn Sơn\nTán thành" in sheet and "Đinh Văn Khánh\nKhông tán thành" in sheet
    for internal in ("majority_of_eligible", "motion", "True", "None"):
        assert internal not in sheet


async def test_a_secret_ballots_sheet_names_nobody(runtime: Runtime, demo: Demo) -> None:
    sheet = await _sheet(runtime, await _voted_poll(runtime, secret=True, kind=PollKind.ELECTION))
    assert "Mai Văn Sơn" in sheet  # a candidate, with her count
    assert vi("elected") in sheet and vi("secret") in sheet
    for voter in ("Hồ Thị Ngọc\nTán thành", "Đinh Văn Khánh", "Lý Văn Quang", vi("Votes by name")):
        assert voter not in sheet
