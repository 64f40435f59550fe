"""A secret ballot links no member to a choice, for whoever reads the database, a dump or its pages.

The attacks of issue 15, each on the real database: the transaction id join between the voter roll
and every ballot table (PostgreSQL's ``xmin``), old row versions read with ``pageinspect``, and a
``pg_dump`` of the data after the close. Then what must still hold: one ballot per member under
load and crashes, paper ballots counted from the box, open votes keeping the name with the choice.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from bot.runtime import Runtime
from bot.settings import Settings, SettingsError
from handlers.actions import decode
from handlers.contract import Inbound
from handlers.polls import ballot_maker, result_rows, results_maker
from handlers.polls.actions import ConfirmClosePoll, PaperVote, TickSecret, TrackPoll, Vote
from handlers.questions import Ask, Question
from models.ballots import TICKS_TOKEN, BallotBoxBroken, BallotSecretMissing, open_ticks, purge_closed_boxes, ticks_key
from models.db import create_engine, session_factory
from models.polls import change_draft, close, create_draft, publish, result, vote
from models.tables import (
    AuditEvent,
    BallotBox,
    ChannelIdentity,
    Member,
    MemberStatus,
    OpenBallot,
    OutboxMessage,
    Platform,
    Poll,
    PollKind,
    PollStatus,
    PollTally,
    PollVoter,
    PollVoters,
    ProcessedUpdate,
    SealedBallot,
    WebChatMessage,
    utcnow,
)
from scheduler.polls import close_due_polls
from tests.chat import button, say, visitor
from tests.conftest import Demo, LiveServer, make_settings, member_named, serve_app
from tests.test_polls import SECRETARY, _open_poll
from webhooks.app import create_app

# Six members of Tây and the option each taps (bitmask): 1 Tán thành, 2 Không tán thành, 4 Ý kiến khác.
VOTERS = (
    (400, "Lý Văn Quang", 1),
    (401, "Mai Văn Sơn", 2),
    (403, "Chu Thị Thảo", 1),
    (404, "Phan Thị Loan", 4),
    (407, "Hồ Thị Ngọc", 1),
    (408, "Đinh Văn Khánh", 2),
)
BALLOT_TABLES = ("sealedballot", "ballotbox", "polltally", "openballot")


def _postgres_only(runtime: Runtime) -> None:
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("transaction ids (xmin), pageinspect and pg_dump are PostgreSQL's")


async def _six_secret_ballots(runtime: Runtime, demo: Demo) -> int:
    poll_id = await _open_poll(runtime, demo, secret=True)
    for user, name, mask in VOTERS:
        if user != SECRETARY:
            await say(runtime, user, f"/start {demo.code(name)}")
        assert "Đã ghi nhận phiếu kín" in (await say(runtime, user, payload=Vote(poll_id, mask).pack()))[0].text
    return poll_id


async def _xmins(connection: AsyncConnection, table: str) -> set[int]:
    rows = await connection.execute(text(f"SELECT xmin::text::bigint FROM {table}"))
    return {int(x) for (x,) in rows.all()}


async def _secrets_in_the_box(runtime: Runtime, poll_id: int) -> list[bytes]:
    """What an attacker with a copy taken during the poll holds: the ciphertexts and the salt."""
    async with runtime.sessions() as session:
        sealed = list((await session.exec(select(SealedBallot.sealed).where(SealedBallot.poll_id == poll_id))).all())
        box = await session.get(BallotBox, poll_id)
    assert box is not None and box.salt is not None and box.public_key is not None
    return [*sealed, box.salt, box.public_key]


async def _close(runtime: Runtime, poll_id: int) -> None:
    """The deadline passes and the scheduler closes the poll, then purges its box."""
    async with runtime.sessions() as session, session.begin():
        await session.exec(update(Poll).where(col(Poll.id) == poll_id).values(deadline=utcnow() - timedelta(seconds=1)))
    assert await close_due_polls(runtime.sessions, results_maker(runtime.catalogs), lambda: None) == [poll_id]
    # The scheduler's next passes, in short: a transaction older than the close (an autovacuum
    # ANALYZE of this fresh database) can keep the deleted rows' old versions for a moment.
    for _pass in range(100):
        async with runtime.sessions() as session:
            box = await session.get(BallotBox, poll_id)
        if box is None or box.purged_at is not None:
            return
        await asyncio.sleep(0.1)
        await purge_closed_boxes(runtime.sessions)
    raise AssertionError("the closed ballot box was never purged")


async def _tally(runtime: Runtime, poll_id: int) -> list[tuple[int, int]]:
    async with runtime.sessions() as session:
        query = select(PollTally.option, PollTally.votes).where(PollTally.poll_id == poll_id)
        return sorted((await session.exec(query)).all())


# --- no link by row contents, on both databases --------------------------------------------------


async def test_an_open_secret_poll_holds_only_sealed_ballots_and_the_close_destroys_them(
    runtime: Runtime, demo: Demo
) -> None:
    poll_id = await _six_secret_ballots(runtime, demo)
    async with runtime.sessions() as session:
        sealed = (await session.exec(select(SealedBallot.sealed))).all()
        assert (await session.exec(select(func.count()).select_from(PollTally))).one() == 0  # no running count
    # Six ciphertexts of one length: neither the bytes nor their size say which option.
    assert len(sealed) == 6 and len({len(s) for s in sealed}) == 1 and len(set(sealed)) == 6
    track = (await say(runtime, SECRETARY, payload=TrackPoll(poll_id).pack()))[0].text
    assert "Đã bỏ phiếu: 6 trên 8" in track and "Tán thành:" not in track  # turnout from the roll only
    await _close(runtime, poll_id)
    assert await _tally(runtime, poll_id) == [(0, 3), (1, 2), (2, 1)]
    async with runtime.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(SealedBallot))).one() == 0
        box = await session.get(BallotBox, poll_id)
        poll = await session.get(Poll, poll_id)
        assert poll is not None
        decision = await result(session, poll)
    assert box is not None and box.salt is None and box.public_key is None and box.purged_at is not None
    assert decision.counts == (3, 2, 1) and decision.voters == 6 and decision.eligible == 8


async def test_a_server_with_another_key_cannot_open_the_box_and_the_poll_stays_open(
    runtime: Runtime, demo: Demo, database_url: str
) -> None:
    poll_id = await _six_secret_ballots(runtime, demo)
    other = Runtime.create(make_settings(database_url, ballot_key="another-server-with-another-secret-key"))
    try:
        refused = (await say(other, SECRETARY, payload=ConfirmClosePoll(poll_id).pack()))[0].text
        assert "không thể mở các phiếu kín" in refused.lower() and "vẫn mở" in refused
        with pytest.raises(BallotBoxBroken):
            async with other.sessions() as session, session.begin():
                poll = await session.get(Poll, poll_id)
                assert poll is not None
                await close(session, poll)
    finally:
        await other.engine.dispose()
    engine = create_engine(database_url)
    try:
        with pytest.raises(BallotSecretMissing):  # a session made without any secret
            async with session_factory(engine)() as session, session.begin():
                poll = await session.get(Poll, poll_id)
                assert poll is not None
                await close(session, poll)
    finally:
        await engine.dispose()
    async with runtime.sessions() as session:
        poll = await session.get(Poll, poll_id)
        assert poll is not None and poll.status is PollStatus.OPEN
        assert (await session.exec(select(func.count()).select_from(SealedBallot))).one() == 6
    await _close(runtime, poll_id)  # the server with the key still closes it
    assert await _tally(runtime, poll_id) == [(0, 3), (1, 2), (2, 1)]


async def test_a_box_that_does_not_open_holds_up_no_other_poll(runtime: Runtime, demo: Demo) -> None:
    secret_poll = await _six_secret_ballots(runtime, demo)
    open_poll = await _open_poll(runtime, demo)
    async with runtime.sessions() as session, session.begin():
        # As if the key had changed: the box's salt no longer gives the key the ballots were sealed to.
        await session.exec(update(BallotBox).values(salt=b"\x00" * 32))
        await session.exec(update(Poll).values(deadline=utcnow() - timedelta(seconds=1)))
    assert await close_due_polls(runtime.sessions, results_maker(runtime.catalogs), lambda: None) == [open_poll]
    async with runtime.sessions() as session:
        poll = await session.get(Poll, secret_poll)
        assert poll is not None and poll.status is PollStatus.OPEN
        assert (await session.exec(select(func.count()).select_from(SealedBallot))).one() == 6


# --- the attacks of issue 15, on PostgreSQL --------------------------------------------------------


async def test_the_xmin_join_links_no_voter_to_a_readable_choice(runtime: Runtime, demo: Demo) -> None:
    _postgres_only(runtime)
    poll_id = await _six_secret_ballots(runtime, demo)
    async with runtime.engine.connect() as connection:
        roll = await _xmins(connection, "pollvoter")
        shared = {table: await _xmins(connection, table) & roll for table in BALLOT_TABLES}
    assert len(roll) == 6  # one transaction per voter
    # While the poll is open, a vote's transaction wrote exactly one ballot row: ciphertext only
    # (the first ballot also made the box: a salt and a public key, the same for every voter).
    assert shared["polltally"] == set() and shared["openballot"] == set()
    assert shared["sealedballot"] == roll and len(shared["ballotbox"]) <= 1
    await _close(runtime, poll_id)
    async with runtime.engine.connect() as connection:
        roll_after = await _xmins(connection, "pollvoter")
        after = {table: await _xmins(connection, table) & roll_after for table in BALLOT_TABLES}
        tally_xmins = await _xmins(connection, "polltally")
    assert roll_after == roll and after == {table: set() for table in BALLOT_TABLES}
    assert len(tally_xmins) == 1  # the counts were written once, by the close


@pytest.mark.fresh_database  # earlier tests' dead rows would be on the pages it reads
async def test_pageinspect_finds_no_old_version_of_a_ballot_after_the_close(runtime: Runtime, demo: Demo) -> None:
    _postgres_only(runtime)
    async with runtime.engine.connect() as connection:
        available = (
            await connection.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'pageinspect'"))
        ).first()
        if available is None:
            pytest.skip("pageinspect is not installed on this server (Debian: postgresql-contrib)")
        await connection.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        await connection.commit()
    poll_id = await _six_secret_ballots(runtime, demo)
    stolen = await _secrets_in_the_box(runtime, poll_id)
    # The raw bytes of every page of every table, index and TOAST table of chibo.
    pages = text(
        "SELECT count(*) FROM pg_class c, generate_series(0, pg_relation_size(c.oid) / 8192 - 1) AS block "
        "WHERE ((c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i', 't')) "
        "OR c.oid IN (SELECT reltoastrelid FROM pg_class WHERE relnamespace = 'public'::regnamespace)) "
        "AND position(:needle IN get_raw_page(c.oid::regclass::text, block::int)) > 0"
    )
    async with runtime.engine.connect() as connection:
        before = [(await connection.execute(pages, {"needle": secret})).scalar_one() for secret in stolen]
    assert all(before), before  # the search finds what is there
    await _close(runtime, poll_id)
    async with runtime.engine.connect() as connection:
        # Every tuple on every page of the ballot tables, dead or alive: only the final counts.
        for table in ("sealedballot", "polltally"):
            tuples = (
                await connection.execute(
                    text(
                        "SELECT t_xmax::text, t_data FROM generate_series(0, "
                        f"pg_relation_size('{table}') / 8192 - 1) AS block, "
                        f"heap_page_items(get_raw_page('{table}', block::int)) WHERE t_data IS NOT NULL"
                    )
                )
            ).all()
            expected = {"sealedballot": 0, "polltally": 3}[table]
            assert len(tuples) == expected, (table, tuples)  # no dead versions left behind
            assert all(xmax == "0" for xmax, _data in tuples)
        # No ciphertext, no salt and no public key survives anywhere, in free space either.
        found = [(await connection.execute(pages, {"needle": secret})).scalar_one() for secret in stolen]
    assert found == [0] * len(stolen)


async def test_the_sqlite_files_keep_no_ballot_after_the_close(runtime: Runtime, demo: Demo, database_url: str) -> None:
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's pages are searched with pageinspect above")
    poll_id = await _six_secret_ballots(runtime, demo)
    stolen = await _secrets_in_the_box(runtime, poll_id)
    database = Path(make_url(database_url).database or "")
    files = [database, database.with_name(database.name + "-wal")]

    def holding() -> list[bool]:
        raw = b"".join(f.read_bytes() for f in files if f.exists())
        return [secret in raw for secret in stolen]

    assert all(holding())  # the search finds what is there
    await _close(runtime, poll_id)
    # Deleted rows are zeroed (secure_delete) and the write-ahead log truncated by the purge.
    assert not any(holding())


async def test_a_data_dump_after_the_close_holds_no_ballot(runtime: Runtime, demo: Demo, database_url: str) -> None:
    _postgres_only(runtime)
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed on this machine")
    poll_id = await _six_secret_ballots(runtime, demo)
    stolen = await _secrets_in_the_box(runtime, poll_id)
    await _close(runtime, poll_id)
    url = make_url(database_url).set(drivername="postgresql")
    process = await asyncio.create_subprocess_exec(
        "pg_dump", "--data-only", "--no-owner", url.render_as_string(hide_password=False),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output, _ = await process.communicate()
    assert process.returncode == 0
    dump = output.decode()
    sections = {
        block.split(" ", 1)[0]: block.split(";\n", 1)[1].split("\\.\n", 1)[0]
        for block in dump.split("COPY public.")[1:]
    }
    assert sections["sealedballot"] == ""  # not one ballot, in any order
    assert sections["ballotbox"].split("\t")[1:3] == ["\\N", "\\N"]  # no salt, no key
    assert sorted(sections["polltally"].split("\n")[:-1]) == [
        f"{poll_id}\t0\t3",
        f"{poll_id}\t1\t2",
        f"{poll_id}\t2\t1",
    ]
    assert len(sections["pollvoter"].split("\n")[:-1]) == 6  # who voted, as the roll must say
    assert not [s for s in stolen if s.hex() in dump]


# --- one ballot each, nothing lost -----------------------------------------------------------------


async def test_fifty_voters_at_once_with_a_close_among_them_lose_nothing(runtime: Runtime, demo: Demo) -> None:
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        extra = [Member(branch_id=secretary.branch_id, full_name=f"Đảng viên {n:02d}") for n in range(42)]
        session.add_all(extra)
        poll = await create_draft(session, secretary, "Bầu tổ trưởng?", [secretary.branch_id], utcnow() + timedelta(1))
        poll.secret = True
        await publish(session, secretary, poll, ballot_maker(runtime.catalogs, runtime.settings.tz))
        officials = select(Member).where(
            Member.branch_id == secretary.branch_id, Member.status == MemberStatus.OFFICIAL
        )
        voters = list((await session.exec(officials)).all())
        session.add_all(
            ChannelIdentity(platform=Platform.WEB, platform_user_id=f"v{m.id}", chat_id=f"v{m.id}", member_id=m.id or 0)
            for m in voters
        )
    assert len(voters) == 50

    async def tap(member: Member, n: int) -> str:
        inbound = Inbound(
            Platform.WEB, f"v{member.id}", f"v{member.id}", payload=Vote(poll.id or 0, 1 << (n % 3)).pack()
        )
        return (await runtime.process(inbound, f"{member.id}-{n}", answer_inline=True)).replies[0].text

    async def close_now() -> str:
        inbound = Inbound(
            Platform.WEB, f"v{secretary.id}", f"v{secretary.id}", payload=ConfirmClosePoll(poll.id or 0).pack()
        )
        return (await runtime.process(inbound, "close", answer_inline=True)).replies[0].text

    taps = [tap(member, n) for member in voters for n in (member.id or 0, (member.id or 0) + 1)]
    answers = await asyncio.gather(*taps[:60], close_now(), *taps[60:])
    recorded = sum("Đã ghi nhận" in a for a in answers)
    refused = sum("đã bỏ phiếu rồi" in a or "đã kết thúc" in a for a in answers)
    assert recorded + refused == 100 and 0 < recorded <= 50
    async with runtime.sessions() as session:
        roll = (
            await session.exec(select(func.count()).select_from(PollVoter).where(PollVoter.poll_id == poll.id))
        ).one()
        left = (await session.exec(select(func.count()).select_from(SealedBallot))).one()
    # Every ballot on the roll is counted, once; every vote after the close was refused.
    assert roll == recorded and left == 0
    assert sum(votes for _option, votes in await _tally(runtime, poll.id or 0)) == recorded


async def test_a_crash_loses_no_ballot_and_leaves_none_half_written(runtime: Runtime, demo: Demo) -> None:
    poll_id = await _open_poll(runtime, demo, secret=True)
    member = await member_named(runtime, "Mai Văn Sơn")
    with pytest.raises(ConnectionResetError):
        async with runtime.sessions() as session, session.begin():
            await vote(session, poll_id, member, 1)
            raise ConnectionResetError("the process dies before the commit")
    async with runtime.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(PollVoter))).one() == 0
        assert (await session.exec(select(func.count()).select_from(SealedBallot))).one() == 0
    async with runtime.sessions() as session, session.begin():
        await vote(session, poll_id, member, 2)
    with pytest.raises(ConnectionResetError):  # a close that dies leaves the box as it was
        async with runtime.sessions() as session, session.begin():
            poll = await session.get(Poll, poll_id)
            assert poll is not None and await close(session, poll)
            raise ConnectionResetError("the process dies before the commit")
    async with runtime.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(SealedBallot))).one() == 1
        assert (await session.exec(select(func.count()).select_from(PollTally))).one() == 0
    await _close(runtime, poll_id)
    assert await _tally(runtime, poll_id) == [(0, 0), (1, 1), (2, 0)]


# --- paper ballots, platforms, open votes --------------------------------------------------------------


async def test_secret_paper_ballots_are_a_roll_entry_and_counts_from_the_box(runtime: Runtime, demo: Demo) -> None:
    poll_id = await _open_poll(runtime, demo, secret=True)
    track = (await say(runtime, SECRETARY, payload=TrackPoll(poll_id).pack()))[0]
    for typed, name in (("ta van binh", "Tạ Văn Bình"), ("phan thi loan", "Phan Thị Loan")):
        await say(runtime, SECRETARY, payload=button(track, "Nhập phiếu giấy"))
        found = (await say(runtime, SECRETARY, typed))[0]
        recorded = (await say(runtime, SECRETARY, payload=button(found, name)))[0]
        # No choice is asked for: the ballot stays in the paper box.
        assert f"Đã ghi nhận: {name} đã bỏ phiếu giấy" in recorded.text
        assert "Tán thành" not in str(recorded.buttons)
    tavanbinh = await member_named(runtime, "Tạ Văn Bình")
    # An old "paper vote with a choice" button does nothing in a secret poll.
    assert (
        "không còn dùng được"
        in (await say(runtime, SECRETARY, payload=PaperVote(poll_id, tavanbinh.id or 0, 1).pack()))[0].text
    )
    await say(runtime, 405, f"/start {demo.code('Tạ Văn Bình')}")
    assert "đã bỏ phiếu rồi" in (await say(runtime, 405, payload=Vote(poll_id, 1).pack()))[0].text
    await say(runtime, SECRETARY, payload=button(recorded, "Nhập kết quả hòm phiếu giấy"))
    too_many = (await say(runtime, SECRETARY, "2, 1, 0"))[0].text  # three ballots, two paper voters
    assert "không được nhiều hơn số đảng viên đã được ghi là bỏ phiếu giấy" in too_many
    counted = (await say(runtime, SECRETARY, "1; 0; 1"))[0].text  # asked again: the answer goes on
    assert "Đã ghi nhận 2 phiếu giấy" in counted and "Tán thành" not in counted
    await say(runtime, SECRETARY, payload=Ask(Question.PAPER_BOX, poll_id).pack())
    assert "không được nhiều hơn" in (await say(runtime, SECRETARY, "1, 0, 0"))[0].text  # the box is counted
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    await say(runtime, 401, payload=Vote(poll_id, 1).pack())
    async with runtime.sessions() as session:
        roll = (await session.exec(select(PollVoter.entered_by_member_id).where(PollVoter.poll_id == poll_id))).all()
        audit = (
            await session.exec(
                select(AuditEvent.after).where(col(AuditEvent.action).in_(["poll.paper_vote", "poll.paper_box"]))
            )
        ).all()
    assert sorted(r is not None for r in roll) == [False, True, True]
    assert {"ballots": 2} in audit and all(set(a or {}) <= {"member_id", "ballots"} for a in audit)
    closed = (await say(runtime, SECRETARY, payload=ConfirmClosePoll(poll_id).pack()))[0].text
    assert "Tán thành: 2/8" in closed and "Ý kiến khác: 1/8" in closed and "Đã bỏ phiếu: 3 trên 8" in closed


async def test_the_confirmation_on_zalo_says_zalo_keeps_the_typed_number(runtime: Runtime, demo: Demo) -> None:
    poll_id = await _open_poll(runtime, demo, secret=True)
    replies = {}
    for platform, name in ((Platform.ZALO_BOT, "Mai Văn Sơn"), (Platform.WEB, "Chu Thị Thảo")):
        member = await member_named(runtime, name)
        async with runtime.sessions() as session, session.begin():
            session.add(
                ChannelIdentity(platform=platform, platform_user_id=name, chat_id=name, member_id=member.id or 0)
            )
        inbound = Inbound(platform, name, name, payload=Vote(poll_id, 1).pack())
        replies[platform] = (await runtime.process(inbound, name, answer_inline=True)).replies[0].text
    assert "Không ai biết" not in replies[Platform.ZALO_BOT]  # no longer promised
    assert "con số đồng chí đã gõ vẫn còn trong cuộc trò chuyện Zalo" in replies[Platform.ZALO_BOT]
    assert "Zalo" not in replies[Platform.WEB] and "niêm phong, không kèm tên" in replies[Platform.WEB]


async def test_an_open_vote_keeps_each_name_with_its_choice(runtime: Runtime, demo: Demo) -> None:
    poll_id = await _open_poll(runtime, demo)
    await say(runtime, 401, f"/start {demo.code('Mai Văn Sơn')}")
    await say(runtime, 401, payload=Vote(poll_id, 2).pack())
    await say(runtime, SECRETARY, payload=Vote(poll_id, 1).pack())
    async with runtime.sessions() as session:
        ballots = (await session.exec(select(OpenBallot.member_id, OpenBallot.option))).all()
        assert (await session.exec(select(func.count()).select_from(SealedBallot))).one() == 0
        assert (await session.exec(select(func.count()).select_from(BallotBox))).one() == 0
        poll = await session.get(Poll, poll_id)
        assert poll is not None
        rows = await result_rows(session, runtime.catalogs.translator(None), poll)
    son, quang = await member_named(runtime, "Mai Văn Sơn"), await member_named(runtime, "Lý Văn Quang")
    assert sorted(ballots) == sorted([(son.id, 1), (quang.id, 0)])
    assert ["Mai Văn Sơn", "Không tán thành", ""] in rows and ["Lý Văn Quang", "Tán thành", ""] in rows


async def test_a_secret_poll_for_everyone_in_the_commune(runtime: Runtime, demo: Demo) -> None:
    """Who may vote is unchanged by sealing: a probationary member in a consultation of all."""
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        poll = await create_draft(session, secretary, "Ý kiến?", [secretary.branch_id], utcnow() + timedelta(1))
        poll.secret, poll.voters = True, PollVoters.ALL
        await publish(session, secretary, poll, ballot_maker(runtime.catalogs, runtime.settings.tz))
    await say(runtime, 402, f"/start {demo.code('Trịnh Thị Yến')}")
    assert "Đã ghi nhận phiếu kín" in (await say(runtime, 402, payload=Vote(poll.id or 0, 4).pack()))[0].text
    await _close(runtime, poll.id or 0)
    assert await _tally(runtime, poll.id or 0) == [(0, 0), (1, 0), (2, 1)]


CANDIDATES = ("An", "Bình", "Cường")
BLANK = "Để trống"


async def _two_seat_election(runtime: Runtime) -> int:
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        poll = await create_draft(session, secretary, "Bầu chi ủy", [secretary.branch_id], utcnow() + timedelta(1))
        await change_draft(session, secretary, poll, kind=PollKind.ELECTION, options=list(CANDIDATES), max_choices=2)
        assert poll.secret and poll.max_choices == 2
        await publish(session, secretary, poll, ballot_maker(runtime.catalogs, runtime.settings.tz))
    return poll.id or 0


def _step_payloads(stored: str, poll_id: int) -> list[str]:
    return re.findall(rf"pq:{poll_id}:[0-9]+:{TICKS_TOKEN}", stored)


async def _opened(runtime: Runtime, poll_id: int, payloads: list[str]) -> list[int | None]:
    """What each kept step payload opens to, with the server's secret and the box as it is now."""
    async with runtime.sessions() as session:
        key = await ticks_key(session, poll_id)
    steps = [decode(p) for p in payloads]
    return [open_ticks(key, poll_id, s.step, s.ticks) for s in steps if isinstance(s, TickSecret)]


async def test_a_secret_election_of_two_seats_is_filled_in_two_steps(runtime: Runtime, demo: Demo) -> None:
    """Issue 14: k of n by secret ballot, filled in k steps of one place each. The choices so far
    travel sealed in the buttons; the member sees them marked, while the kept replies, the outbox
    and the database hold no choice in plain, and the close counts the sealed ballots. After the
    close no kept payload opens, not even with the server's secret (the box's salt is gone)."""
    poll_id = await _two_seat_election(runtime)
    places = {400: ("An", "Bình"), 401: ("Bình", "Cường"), 403: (BLANK, BLANK), 404: ("Cường", "Cường")}
    names = {400: "Lý Văn Quang", 401: "Mai Văn Sơn", 403: "Chu Thị Thảo", 404: "Phan Thị Loan"}
    for user, chosen in places.items():
        await say(runtime, user, f"/start {demo.code(names[user])}")
        ballot = (await say(runtime, user, "🗳 Biểu quyết đang mở"))[0]
        assert "Phiếu điền trong 2 bước" in ballot.text and "Bước 1/2" in ballot.text
        second = (await say(runtime, user, payload=button(ballot, chosen[0])))[0]
        assert "Bước 2/2" in second.text and "Phiếu được gửi ngay sau bước 2" in second.text
        # The member sees what is chosen; the payloads are sealed, one step's buttons for everyone.
        shown = [b.label for row in second.buttons for b in row]
        assert shown == [("☑️ " if name == chosen[0] else "") + name for name in CANDIDATES] + ["⬜ " + BLANK]
        assert all(b.payload.startswith(f"pq:{poll_id}:2:") for row in second.buttons for b in row)
        sent = (await say(runtime, user, payload=button(second, chosen[1])))[0]
        assert "Đã ghi nhận phiếu kín" in sent.text
    # A forged payload, or a sealed one moved to another step or poll, opens nothing.
    step = decode(button(second, "An"))
    assert isinstance(step, TickSecret)
    for forged in (
        TickSecret(poll_id, 2, "A" * 40), TickSecret(poll_id, 1, step.ticks), TickSecret(poll_id + 1, 2, step.ticks)
    ):  # fmt: skip
        assert "không còn dùng được" in (await say(runtime, 401, payload=forged.pack()))[0].text
    # A button of the ticked ballot before steps (its selection sealed with the server's secret alone).
    assert "không còn dùng được" in (await say(runtime, 401, payload=f"pz:{poll_id}:{'A' * 40}"))[0].text
    async with runtime.sessions() as session:
        kept = [str(r) for r in (await session.exec(select(ProcessedUpdate.result))).all()]
        queued = [str(b) for b in (await session.exec(select(OutboxMessage.body))).all()]
    stored = "\n".join(kept + queued)
    assert "☑️" not in stored, stored[max(0, stored.find("☑️") - 300) : stored.find("☑️") + 100]
    for mask in (3, 5, 6):  # what a member chose, were it written in plain
        assert f"pv:{poll_id}:{mask}" not in stored and f"pt:{poll_id}:{mask}" not in stored
    payloads = _step_payloads(stored, poll_id)
    assert len(payloads) == 4 * 4 and None not in await _opened(runtime, poll_id, payloads)  # they open now
    if runtime.engine.dialect.name == "postgresql":
        async with runtime.engine.connect() as connection:
            roll = await _xmins(connection, "pollvoter")
            shared = {table: await _xmins(connection, table) & roll for table in BALLOT_TABLES}
        assert len(roll) == 4 and shared["polltally"] == set() and shared["openballot"] == set()
    await _close(runtime, poll_id)
    # An, Bình twice, Cường twice (once chosen twice: one place left blank), and one blank ballot.
    assert await _tally(runtime, poll_id) == [(0, 1), (1, 2), (2, 2), (3, 1)]
    async with runtime.sessions() as session:
        closed = await session.get(Poll, poll_id)
        assert closed is not None
        decision = await result(session, closed)
    assert decision.counts == (1, 2, 2) and decision.blank == 1 and decision.voters == 4
    # After the close, the server's secret and every kept payload: nothing opens, and a kept
    # button is a stale one.
    assert await _opened(runtime, poll_id, payloads) == [None] * len(payloads)
    assert "không còn dùng được" in (await say(runtime, 401, payload=payloads[0]))[0].text
    if runtime.engine.dialect.name == "postgresql" and shutil.which("pg_dump") is not None:
        url = make_url(runtime.engine.url.render_as_string(hide_password=False)).set(drivername="postgresql")
        process = await asyncio.create_subprocess_exec(
            "pg_dump", "--data-only", "--no-owner", url.render_as_string(hide_password=False),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        output, _ = await process.communicate()
        dump = output.decode()
        assert process.returncode == 0 and "☑️" not in dump
        assert f"pv:{poll_id}:3" not in dump and f"pv:{poll_id}:6" not in dump


@pytest.fixture
async def web_chat(database_url: str) -> AsyncIterator[LiveServer]:
    async for server in serve_app(create_app(make_settings(database_url), migrate=False)):
        yield server


def _web_button(reply: dict[str, Any], label: str) -> str:
    return str(next(b["payload"] for row in reply["buttons"] for b in row if label in b["label"]))


def _lengths(rows: Sequence[tuple[str, object]]) -> dict[str, list[int]]:
    """Each chat's stored bodies about the election, as their lengths in order."""
    chats: dict[str, list[int]] = {}
    for chat, body in rows:
        if "Bầu chi ủy" in str(body):
            chats.setdefault(chat, []).append(len(json.dumps(body, ensure_ascii=False)))
    return chats


async def test_every_secret_ballot_of_an_election_leaves_the_same_rows(web_chat: LiveServer, demo: Demo) -> None:
    """Who chose two candidates and who voted blank cannot be told from the number or the size of
    what is kept for their chats: every ballot takes k taps, each step's reply the same for everyone,
    in the web chat's messages and in the outbox (Telegram's answers)."""
    runtime: Runtime = web_chat.app.state.runtime
    poll_id = await _two_seat_election(runtime)
    async with runtime.sessions() as session:
        marks = [
            (await session.exec(select(func.coalesce(func.max(col(table.id)), 0)))).one()
            for table in (WebChatMessage, ProcessedUpdate, OutboxMessage)
        ]
    async with httpx.AsyncClient(base_url=web_chat.url) as client:
        for name, places in (("Mai Văn Sơn", ("An", "Cường")), ("Chu Thị Thảo", (BLANK, BLANK))):
            member = await visitor(client)
            await member.replies(text=demo.code(name))
            [ballot] = await member.replies(text="🗳 Biểu quyết đang mở")
            # Every choice is marked secret, so the page neither echoes the tap nor keeps it on the phone.
            assert all(b.get("secret") is True for row in ballot["buttons"] for b in row)
            [second] = await member.replies(payload=_web_button(ballot, places[0]))
            assert all(b.get("secret") is True for row in second["buttons"] for b in row)
            [sent] = await member.replies(payload=_web_button(second, places[1]))
            assert "Đã ghi nhận phiếu kín" in sent["text"]
    # Telegram answers through the outbox.
    for user, name, places in ((404, "Phan Thị Loan", ("Bình", "An")), (407, "Hồ Thị Ngọc", (BLANK, BLANK))):
        await say(runtime, user, f"/start {demo.code(name)}")
        shown = (await say(runtime, user, "🗳 Biểu quyết đang mở"))[0]
        for index, place in enumerate(places):
            inbound = Inbound(
                platform=Platform.TELEGRAM, user_id=str(user), chat_id=str(user), display_name="Tester",
                payload=button(shown, place),
            )  # fmt: skip
            [shown] = (await runtime.process(inbound, f"queued-{user}-{index}")).replies
    async with runtime.sessions() as session:
        web_rows = (
            await session.exec(
                select(WebChatMessage.chat_id, WebChatMessage.body)
                .where(col(WebChatMessage.id) > marks[0])
                .order_by(col(WebChatMessage.id))
            )
        ).all()
        processed = (
            await session.exec(
                select(ProcessedUpdate.update_key, ProcessedUpdate.result)
                .where(col(ProcessedUpdate.id) > marks[1], ProcessedUpdate.platform == Platform.WEB)
                .order_by(col(ProcessedUpdate.id))
            )
        ).all()
        queued = (
            await session.exec(
                select(OutboxMessage.chat_id, OutboxMessage.body).where(
                    col(OutboxMessage.id) > marks[2], OutboxMessage.platform == Platform.TELEGRAM,
                    col(OutboxMessage.chat_id).in_(["404", "407"]),
                ).order_by(col(OutboxMessage.id))
            )
        ).all()  # fmt: skip
    # The web chat's answers are kept once, for a reload and a retry alike: not in the
    # de-duplication row as well.
    assert len(processed) == 2 * 4 and all(result is None for _, result in processed)
    # What concerns the ballot (the join's welcome names the member): the same rows, of the same sizes.
    web = list(_lengths(web_rows).values())
    outbox = list(_lengths(queued).values())
    for per_chat in (web, outbox):
        assert len(per_chat) == 2 and per_chat[0] == per_chat[1], per_chat
    assert len(web[0]) == 3  # the ballot, its second step, the confirmation
    assert len(outbox[0]) == 2  # the second step, then the confirmation
    # Every kept step payload, in both tables: it opens while the poll is open, never after.
    kept = {json.dumps(tuple(row)) for rows in (web_rows, queued) for row in rows}
    payloads = _step_payloads("\n".join(kept), poll_id)
    assert len(payloads) == 2 * 2 * 4  # two tables, two members, the four buttons of the second step
    assert None not in await _opened(runtime, poll_id, payloads)
    await _close(runtime, poll_id)
    assert await _tally(runtime, poll_id) == [(0, 2), (1, 1), (2, 1), (3, 2)]
    assert await _opened(runtime, poll_id, payloads) == [None] * len(payloads)
    assert "không còn dùng được" in (await say(runtime, 404, payload=payloads[-1]))[0].text


# --- the server's key ------------------------------------------------------------------------------------


def test_the_ballot_key_comes_from_the_setting_or_a_private_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'commune.db'}"
    settings = Settings(_env_file=None, database_url=url)
    made = settings.ballot_secret()
    key_file = tmp_path / "commune.ballot-key"
    assert key_file.exists() and key_file.stat().st_mode & 0o777 == 0o600 and len(made) >= 32
    assert Settings(_env_file=None, database_url=url).ballot_secret() == made  # read again, not made again
    given = "x" * 40
    assert Settings(_env_file=None, database_url=url, ballot_key=given).ballot_secret() == given.encode()
    with pytest.raises(ValueError, match="at least 32"):
        Settings(_env_file=None, database_url=url, ballot_key="short")
    key_file.write_text("short\n")
    with pytest.raises(SettingsError, match="CHIBO_BALLOT_KEY_FILE"):
        settings.ballot_secret()
