"""Taps whose answers go through the outbox (the platform webhooks) and arrive together are committed
together on PostgreSQL (bot/runtime.py, GroupCommit), and each is still handled as if alone: one
ballot per member, a re-delivery handled once, a failing update rolled back alone. On SQLite each
update has its transaction: the same assertions hold there."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func
from sqlmodel import col, select

import bot.runtime
from bot.runtime import Processed, Runtime
from handlers import first_votes
from handlers.contract import Inbound, Reply
from handlers.conversation import handle
from handlers.polls import ballot_maker
from handlers.polls.actions import ConfirmClosePoll, Vote
from models.polls import create_draft, publish
from models.tables import (
    ChannelIdentity,
    Member,
    MemberStatus,
    OpenBallot,
    OutboxMessage,
    Platform,
    Poll,
    PollKind,
    PollVoter,
    ProcessedUpdate,
    SealedBallot,
    utcnow,
)
from tests.conftest import Demo, member_named


async def _voters_and_poll(runtime: Runtime, *, secret: bool) -> tuple[list[Member], int]:
    """Fifty official members of one branch, each on Telegram as ``g<member id>``, and an open poll."""
    secretary = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        session.add_all(Member(branch_id=secretary.branch_id, full_name=f"Đảng viên {n:02d}") for n in range(42))
        poll = await create_draft(session, secretary, "Bầu tổ trưởng?", [secretary.branch_id], utcnow() + timedelta(1))
        poll.secret = secret
        await publish(session, secretary, poll, ballot_maker(runtime.catalogs, runtime.settings.tz))
        officials = select(Member).where(
            Member.branch_id == secretary.branch_id, Member.status == MemberStatus.OFFICIAL
        )
        voters = list((await session.exec(officials)).all())
        session.add_all(
            ChannelIdentity(
                platform=Platform.TELEGRAM, platform_user_id=f"g{m.id}", chat_id=f"g{m.id}", member_id=m.id or 0
            )
            for m in voters
        )
    assert len(voters) == 50
    return voters, poll.id or 0


def _tap(member: Member, poll_id: int, mask: int) -> Inbound:
    return Inbound(Platform.TELEGRAM, f"g{member.id}", f"g{member.id}", payload=Vote(poll_id, mask).pack())


async def _count(runtime: Runtime, table: type, *where: Any) -> int:
    async with runtime.sessions() as session:
        return (await session.exec(select(func.count()).select_from(table).where(*where))).one()


async def test_fifty_members_tapping_twice_at_once_each_have_one_secret_ballot_and_two_answers(
    runtime: Runtime, demo: Demo
) -> None:
    voters, poll_id = await _voters_and_poll(runtime, secret=True)
    taps = [(f"{m.id}-{n}", _tap(m, poll_id, 1 << n)) for m in voters for n in (0, 1)]
    # Every tap delivered twice at once, as a platform does when its first delivery timed out.
    answers: list[Processed] = await asyncio.gather(*(runtime.process(i, key) for key, i in taps + taps))
    first, again = answers[: len(taps)], answers[len(taps) :]
    # Of each tap and its re-delivery exactly one was handled (which one is up to the race).
    assert all(a.duplicate != b.duplicate for a, b in zip(first, again, strict=True))
    handled = [b if a.duplicate else a for a, b in zip(first, again, strict=True)]
    texts = [p.replies[0].text for p in handled]
    assert sum("Đã ghi nhận phiếu kín" in t for t in texts) == 50
    assert sum("đã bỏ phiếu rồi" in t for t in texts) == 50
    for member in voters:  # one recorded, one refused, for each member
        mine = [t for (key, _i), t in zip(taps, texts, strict=True) if key.startswith(f"{member.id}-")]
        assert sorted("Đã ghi nhận phiếu kín" in t for t in mine) == [False, True], member.full_name
    assert await _count(runtime, PollVoter, col(PollVoter.poll_id) == poll_id) == 50
    assert await _count(runtime, SealedBallot, col(SealedBallot.poll_id) == poll_id) == 50
    # Each handled tap has its answer in the outbox, once; a re-delivery queued nothing.
    assert await _count(runtime, OutboxMessage, col(OutboxMessage.chat_id).startswith("g")) == 100
    assert await _count(runtime, ProcessedUpdate) == 100
    if runtime.engine.dialect.name == "postgresql":  # they went in groups, not one commit each
        committed = runtime.metrics.registry.get_sample_value("chibo_updates_per_commit_count") or 0
        assert 0 < committed < 50


async def test_a_failing_update_is_rolled_back_alone_and_handled_when_delivered_again(
    runtime: Runtime, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    voters, poll_id = await _voters_and_poll(runtime, secret=False)
    unlucky = voters[3]
    assert "Đã ghi nhận" in (await runtime.process(_tap(unlucky, poll_id, 1), "earlier")).replies[0].text

    async def failing_for_one(session: Any, catalogs: Any, timezone: Any, inbound: Inbound, **kw: Any) -> list[Reply]:
        replies = await handle(session, catalogs, timezone, inbound, **kw)  # its ballot changed, then…
        if inbound.user_id == f"g{unlucky.id}":
            raise RuntimeError("a bug met by this update only")
        return replies

    monkeypatch.setattr(bot.runtime, "handle", failing_for_one)
    # Nine first votes, and the unlucky member's change of vote (handled by itself, not with them).
    taps = [(f"{m.id}", _tap(m, poll_id, 2 if m is unlucky else 1)) for m in voters[:10]]
    answers = await asyncio.gather(*(runtime.process(i, key) for key, i in taps), return_exceptions=True)
    assert isinstance(answers[3], RuntimeError)
    kept = [a for a in answers if isinstance(a, Processed)]
    assert len(kept) == 9 and all("Đã ghi nhận" in p.replies[0].text for p in kept)
    # Nothing of the failed update stayed: the ballot unchanged, no answer, no record that it was handled.
    assert await _count(runtime, PollVoter, col(PollVoter.poll_id) == poll_id) == 10
    mine = col(OpenBallot.member_id) == unlucky.id
    assert await _count(runtime, OpenBallot, mine, col(OpenBallot.option) == 0) == 1
    assert await _count(runtime, OpenBallot, mine) == 1
    assert await _count(runtime, OutboxMessage, col(OutboxMessage.chat_id) == f"g{unlucky.id}") == 1
    assert await _count(runtime, ProcessedUpdate, col(ProcessedUpdate.update_key) == f"{unlucky.id}") == 0
    monkeypatch.setattr(bot.runtime, "handle", handle)
    again = await runtime.process(taps[3][1], taps[3][0])  # the platform delivers it again
    assert not again.duplicate and "Đã đổi phiếu" in again.replies[0].text
    assert await _count(runtime, OpenBallot, mine, col(OpenBallot.option) == 1) == 1
    assert await _count(runtime, OpenBallot, mine) == 1


async def test_a_branch_voting_at_once_is_answered_and_recorded_as_each_tap_alone_in_a_few_statements(
    runtime: Runtime, demo: Demo
) -> None:
    """Taps arriving together: the members' first ballots are recorded together (handlers.first_votes),
    and every other kind of tap among them is handled by itself, each answered as if it came alone."""
    voters, poll_id = await _voters_and_poll(runtime, secret=False)
    changing, asked, twice, redelivered, let_go, forged, moved = voters[:7]
    assert "Đã ghi nhận" in (await runtime.process(_tap(changing, poll_id, 1), "earlier")).replies[0].text
    async with runtime.sessions() as session, session.begin():
        for member, change in ((asked, {"awaiting": "poll_opinion:1", "awaiting_since": utcnow()}),
                               (moved, {"chat_id": "a-new-phone"})):  # fmt: skip
            identity = (await session.exec(select(ChannelIdentity).where(ChannelIdentity.member_id == member.id))).one()
            session.add(identity.sqlmodel_update(change))
        gone = await session.get(Member, let_go.id)
        assert gone is not None
        session.add(gone.sqlmodel_update({"active": False}))
    taps: list[tuple[str, Inbound]] = [(f"plain-{m.id}", _tap(m, poll_id, 1)) for m in voters[7:]]
    taps += [
        ("change", _tap(changing, poll_id, 2)),
        ("asked", _tap(asked, poll_id, 1)),
        ("twice-1", _tap(twice, poll_id, 1)),
        ("twice-2", _tap(twice, poll_id, 4)),
        ("again", _tap(redelivered, poll_id, 1)),
        ("again", _tap(redelivered, poll_id, 1)),
        ("let-go", _tap(let_go, poll_id, 1)),
        ("forged", _tap(forged, poll_id, 1 << 5)),
        ("moved", replace(_tap(moved, poll_id, 2), chat_id=f"g{moved.id}")),
        ("stranger", Inbound(Platform.TELEGRAM, "g0", "g0", payload=Vote(poll_id, 1).pack())),
    ]
    statements: list[str] = []

    def executed(*args: Any) -> None:
        statements.append(args[2])

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", executed)
    answers = dict(enumerate(await asyncio.gather(*(runtime.process(i, k) for k, i in taps))))
    event.remove(runtime.engine.sync_engine, "before_cursor_execute", executed)
    by_key: dict[str, list[Processed]] = {}
    for index, (key, _inbound) in enumerate(taps):
        by_key.setdefault(key, []).append(answers[index])
    recorded = "Đã ghi nhận phiếu của đồng chí: Tán thành."
    plain = [by_key[f"plain-{m.id}"][0] for m in voters[7:]]
    assert all(recorded in p.replies[0].text for p in plain)
    # The same answer, to the letter, as the tap handled alone (the member with a question open).
    assert {p.replies[0] for p in plain} == {by_key["asked"][0].replies[0]}
    assert "Đã đổi phiếu của đồng chí thành: Không tán thành." in by_key["change"][0].replies[0].text
    # Two taps of one member: the first handled records, the second changes it (in a group, in the
    # order they came; on SQLite each in a transaction of its own, in either order).
    first, second = (by_key[key][0].replies[0].text for key in ("twice-1", "twice-2"))
    if "Đã đổi phiếu" in first:
        assert "Đã đổi phiếu của đồng chí thành: Tán thành." in first and "Ý kiến khác." in second
        last = 0
    else:
        assert recorded in first and "Đã đổi phiếu của đồng chí thành: Ý kiến khác." in second
        last = 2
    assert runtime.engine.dialect.name == "sqlite" or last == 2
    assert sorted(p.duplicate for p in by_key["again"]) == [False, True]
    assert "chỉ phục vụ đảng viên" in by_key["let-go"][0].replies[0].text
    assert "Nút này không còn dùng được nữa" in by_key["forged"][0].replies[0].text
    assert "Đã ghi nhận phiếu của đồng chí: Không tán thành." in by_key["moved"][0].replies[0].text
    assert "chỉ phục vụ đảng viên" in by_key["stranger"][0].replies[0].text
    # On the roll: the 43 first ballots, the four others recorded, the earlier one; never the let go.
    assert await _count(runtime, PollVoter, col(PollVoter.poll_id) == poll_id) == 48
    for member, option in ((changing, 1), (twice, last), (asked, 0), (moved, 1), *((m, 0) for m in voters[7:])):
        chosen = (col(OpenBallot.member_id) == member.id, col(OpenBallot.poll_id) == poll_id)
        assert await _count(runtime, OpenBallot, *chosen, col(OpenBallot.option) == option) == 1, member.full_name
        assert await _count(runtime, OpenBallot, *chosen) == 1, member.full_name
    async with runtime.sessions() as session:
        identities = {i.member_id: i for i in (await session.exec(select(ChannelIdentity))).all()}
    assert identities[asked.id or 0].awaiting is None  # a tap forgets the open question
    assert identities[moved.id or 0].chat_id == f"g{moved.id}"  # reachable where they wrote from
    # One answer in the outbox per tap handled (the earlier one's too, not the re-delivery's).
    assert await _count(runtime, OutboxMessage, col(OutboxMessage.chat_id).startswith("g")) == len(taps)
    assert await _count(runtime, OutboxMessage, col(OutboxMessage.chat_id) == f"g{voters[9].id}") == 1
    if runtime.engine.dialect.name == "postgresql":
        # The 43 first ballots together cost a few statements, where each alone costs seven or more
        # (BEGIN and COMMIT or a savepoint, de-duplication, who, the poll, the roll, the ballot, the answer).
        assert len(statements) < 2 * len(taps), len(statements)


async def test_a_blank_ballot_in_an_open_election_is_recorded_alone_as_with_others(
    runtime: Runtime, demo: Demo
) -> None:
    """Naming nobody (phiếu trắng) in an election by open ballot: the roll row alone. Alone, it
    failed (an INSERT of no ballot rows) and the platform delivered it again forever."""
    voters, poll_id = await _voters_and_poll(runtime, secret=False)
    async with runtime.sessions() as session, session.begin():
        poll = await session.get(Poll, poll_id)
        assert poll is not None
        session.add(poll.sqlmodel_update({"kind": PollKind.ELECTION}))
    alone = await runtime.process(_tap(voters[0], poll_id, 0), "alone")
    together = await asyncio.gather(*(runtime.process(_tap(m, poll_id, 0), f"with-{m.id}") for m in voters[1:4]))
    for answer in (alone, *together):
        assert "Đã ghi nhận phiếu của đồng chí: phiếu trắng." in answer.replies[0].text
    assert await _count(runtime, PollVoter, col(PollVoter.poll_id) == poll_id) == 4
    assert await _count(runtime, OpenBallot, col(OpenBallot.poll_id) == poll_id) == 0


async def test_taps_that_came_after_the_close_in_one_group_are_not_counted(runtime: Runtime, demo: Demo) -> None:
    """The secretary's close, then five taps, committed together: handled in the order they came,
    as one by one, so the taps find the poll closed (they were once recorded together first)."""
    voters, poll_id = await _voters_and_poll(runtime, secret=False)
    secretary = next(m for m in voters if m.full_name == "Lý Văn Quang")
    taps = [_tap(m, poll_id, 1) for m in voters if m is not secretary][:5]
    close = replace(_tap(secretary, poll_id, 1), payload=ConfirmClosePoll(poll_id).pack())
    answers = await asyncio.gather(*(runtime.process(i, f"u{n}") for n, i in enumerate([close, *taps])))
    recorded = [a for a in answers[1:] if "Đã ghi nhận" in a.replies[0].text]
    # Whatever was answered recorded is on the roll, and nothing else (on SQLite, in its own order).
    assert await _count(runtime, PollVoter, col(PollVoter.poll_id) == poll_id) == len(recorded)
    if runtime.engine.dialect.name == "postgresql":
        assert not recorded
        assert all("Cuộc biểu quyết đã kết thúc" in a.replies[0].text for a in answers[1:])


@pytest.mark.parametrize("behind_a_message", [False, True])
async def test_first_votes_whose_batch_fails_are_each_recorded_by_themselves(
    runtime: Runtime, demo: Demo, monkeypatch: pytest.MonkeyPatch, behind_a_message: bool
) -> None:
    """A batch of first votes that fails half-way (its ballots written, then a bug) leaves nothing of
    itself: each tap is then handled alone and recorded once. First in its group the batch has no
    savepoint (the group is done again); behind another update, its savepoint is rolled back."""
    voters, poll_id = await _voters_and_poll(runtime, secret=False)
    real = first_votes.record_votes
    failures: list[int] = []

    async def failing(*args: Any, **kwargs: Any) -> Any:
        await real(*args, **kwargs)  # the roll and the ballots written, then…
        failures.append(1)
        raise RuntimeError("a bug in the batch")

    monkeypatch.setattr(bot.runtime, "record_votes", failing)
    taps = [(f"t{m.id}", _tap(m, poll_id, 1)) for m in voters[1:9]]
    if behind_a_message:
        taps.insert(0, ("hello", Inbound(Platform.TELEGRAM, f"g{voters[0].id}", f"g{voters[0].id}", text="/me")))
    answers = await asyncio.gather(*(runtime.process(i, key) for key, i in taps))
    assert all("Đã ghi nhận" in a.replies[0].text for a in answers[behind_a_message:])
    assert bool(failures) is (runtime.engine.dialect.name == "postgresql")  # tried, and failed (PostgreSQL's)
    assert await _count(runtime, PollVoter, col(PollVoter.poll_id) == poll_id) == 8
    assert await _count(runtime, OpenBallot, col(OpenBallot.poll_id) == poll_id) == 8
    assert await _count(runtime, ProcessedUpdate) == len(taps)
    assert await _count(runtime, OutboxMessage, col(OutboxMessage.chat_id).startswith("g")) == len(taps)


async def test_a_member_tapping_from_two_accounts_at_once_keeps_one_ballot_per_poll(
    runtime: Runtime, demo: Demo
) -> None:
    """One member on two Telegram accounts: a first ballot in one poll from one account and a changed
    vote in another poll from the other, then both accounts tapping one poll at once. Found by an
    outside tester: the change was answered as recorded and lost."""
    voters, motion = await _voters_and_poll(runtime, secret=False)
    secretary = next(m for m in voters if m.full_name == "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        second = await create_draft(session, secretary, "Kết nạp?", [secretary.branch_id], utcnow() + timedelta(1))
        await publish(session, secretary, second, ballot_maker(runtime.catalogs, runtime.settings.tz))
        doubles = [m for m in voters if m is not secretary][:10]
        session.add_all(
            ChannelIdentity(
                platform=Platform.TELEGRAM, platform_user_id=f"h{m.id}", chat_id=f"h{m.id}", member_id=m.id or 0
            )
            for m in doubles
        )
    other = second.id or 0
    for m in doubles:
        assert "Đã ghi nhận" in (await runtime.process(_tap(m, motion, 1), f"before-{m.id}")).replies[0].text

    def from_second(member: Member, poll_id: int, mask: int) -> Inbound:
        return replace(_tap(member, poll_id, mask), user_id=f"h{member.id}", chat_id=f"h{member.id}")

    taps = [(f"first-{m.id}", _tap(m, other, 1)) for m in doubles]
    taps += [(f"change-{m.id}", from_second(m, motion, 2)) for m in doubles]
    answers = dict(
        zip((k for k, _ in taps), await asyncio.gather(*(runtime.process(i, k) for k, i in taps)), strict=True)
    )
    for m in doubles:
        assert "Đã ghi nhận phiếu của đồng chí: Tán thành." in answers[f"first-{m.id}"].replies[0].text
        assert "Đã đổi phiếu của đồng chí thành: Không tán thành." in answers[f"change-{m.id}"].replies[0].text
        mine = (col(OpenBallot.member_id) == m.id,)
        assert (
            await _count(runtime, OpenBallot, *mine, col(OpenBallot.poll_id) == motion, col(OpenBallot.option) == 1)
            == 1
        )
        assert await _count(runtime, OpenBallot, *mine, col(OpenBallot.poll_id) == motion) == 1
        assert await _count(runtime, OpenBallot, *mine, col(OpenBallot.poll_id) == other) == 1
    # Both accounts of one member tapping a third poll at once: one ballot, recorded then changed.
    async with runtime.sessions() as session, session.begin():
        third = await create_draft(session, secretary, "Thi đua?", [secretary.branch_id], utcnow() + timedelta(1))
        await publish(session, secretary, third, ballot_maker(runtime.catalogs, runtime.settings.tz))
    both = [(f"a-{m.id}", _tap(m, third.id or 0, 1)) for m in doubles]
    both += [(f"b-{m.id}", from_second(m, third.id or 0, 2)) for m in doubles]
    texts = [p.replies[0].text for p in await asyncio.gather(*(runtime.process(i, k) for k, i in both))]
    assert sum("Đã ghi nhận" in t for t in texts) == 10 and sum("Đã đổi phiếu" in t for t in texts) == 10
    assert await _count(runtime, PollVoter, col(PollVoter.poll_id) == third.id) == 10
    assert await _count(runtime, OpenBallot, col(OpenBallot.poll_id) == third.id) == 10


async def test_the_same_choice_tapped_again_stays_and_too_many_ticked_says_so(runtime: Runtime, demo: Demo) -> None:
    """Found by an outside tester: tapping the same option again said the vote was changed, and
    sending more candidates than there are seats said the button was no longer valid."""
    voters, poll_id = await _voters_and_poll(runtime, secret=False)
    member = voters[1]
    assert "Đã ghi nhận" in (await runtime.process(_tap(member, poll_id, 1), "first")).replies[0].text
    again = (await runtime.process(_tap(member, poll_id, 1), "again")).replies[0].text
    assert "Phiếu của đồng chí vẫn giữ như cũ: Tán thành." in again and "Đã đổi" not in again
    assert await _count(runtime, OpenBallot, col(OpenBallot.member_id) == member.id) == 1
    # Two options in one tap of a one-choice ballot (forged: its buttons name one each) is refused
    # as a forged button, not with the ballot's buttons or advice to untick: there is nothing to untick.
    (forged,) = (await runtime.process(_tap(voters[4], poll_id, 3), "forged")).replies
    assert "không còn dùng được" in forged.text and "bỏ bớt" not in forged.text and not forged.buttons
    async with runtime.sessions() as session, session.begin():
        poll = await session.get(Poll, poll_id)
        assert poll is not None
        session.add(poll.sqlmodel_update({"kind": PollKind.ELECTION, "max_choices": 2}))
    sent_three = replace(_tap(voters[2], poll_id, 7), source_message_id="ballot-message")
    (crowded,) = (await runtime.process(sent_three, "three")).replies
    assert "Đồng chí đã chọn quá 2 người" in crowded.text and "Xin bỏ bớt rồi gửi phiếu lại." in crowded.text
    assert await _count(runtime, PollVoter, col(PollVoter.member_id) == voters[2].id) == 0
    # The ballot itself says so, still ticked, with its buttons to untick one and send again
    # (it came as a new message without them, the ballot left above).
    assert crowded.edit_message_id == "ballot-message"
    labels = [button.label for row in crowded.buttons for button in row]
    assert sum(label.startswith("☑️") for label in labels) == 3 and "📨 Gửi phiếu" in labels
    # Found by the outside attacker: a member who had voted was told only "not recorded", the
    # confirmation of what stands replaced. It says what stands; where the vote cannot change,
    # it says the ballot was cast, not "untick some and send again".
    assert "Đã ghi nhận" in (await runtime.process(_tap(voters[3], poll_id, 3), "two")).replies[0].text
    (kept,) = (await runtime.process(_tap(voters[3], poll_id, 7), "three again")).replies
    assert "Đồng chí đã chọn quá 2 người" in kept.text
    assert "Phiếu của đồng chí vẫn giữ như cũ: Tán thành, Không tán thành." in kept.text
    async with runtime.sessions() as session, session.begin():
        poll = await session.get(Poll, poll_id)
        assert poll is not None
        session.add(poll.sqlmodel_update({"allow_change": False}))
    (final,) = (await runtime.process(_tap(voters[3], poll_id, 7), "final")).replies
    assert "Đồng chí đã bỏ phiếu rồi" in final.text and not final.buttons
    assert await _count(runtime, OpenBallot, col(OpenBallot.member_id) == voters[3].id) == 2


async def test_one_delivery_sent_by_twenty_members_at_once_is_handled_once(runtime: Runtime, demo: Demo) -> None:
    """A delivery's key is the platform's update id: copies of it (only a forger's, holding the
    webhook's secret, since a platform re-delivers as the same member) are handled as
    re-deliveries, whoever they claim to come from, as they would be one after another."""
    voters, poll_id = await _voters_and_poll(runtime, secret=False)
    answers = await asyncio.gather(*(runtime.process(_tap(m, poll_id, 1), "same-update") for m in voters[:20]))
    assert sum(not a.duplicate for a in answers) == 1
    assert await _count(runtime, PollVoter, col(PollVoter.poll_id) == poll_id) == 1
    assert await _count(runtime, OpenBallot, col(OpenBallot.poll_id) == poll_id) == 1
