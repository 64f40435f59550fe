"""Polls and votes by the branch's rules: who may vote, one ballot each, a secret ballot nobody can
trace, and a result computed the same way every time.

Secret ballots: the voter roll (``PollVoter``) says who voted; the ballot box (``PollTally``) holds
only a count per option, updated in the same transaction. There is no row per ballot, so no id,
time or order links a member to a choice; the price is that a secret ballot cannot be changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import insert_ignoring_conflict, table_of
from models.membership import NotPermitted
from models.notices import push_identities
from models.permissions import Actor, Permission, Target, may
from models.tables import (
    AuditEvent,
    Branch,
    Member,
    MemberStatus,
    OpenBallot,
    OutboxMessage,
    Poll,
    PollBase,
    PollEligible,
    PollRule,
    PollStatus,
    PollTally,
    PollVoter,
    PollVoters,
    Role,
    utcnow,
)

MIN_OPTIONS, MAX_OPTIONS = 2, 10
MAX_OPTION_LENGTH = 100
# The preset for resolutions (nghị quyết): agree / disagree / another opinion.
RESOLUTION_OPTIONS = ("Đồng ý", "Không đồng ý", "Ý kiến khác")
_COMMITTEE_ROLES = (Role.SECRETARY, Role.DEPUTY_SECRETARY, Role.COMMITTEE_MEMBER)

BallotFor = Callable[[Member, Poll], dict[str, Any]]


class PollProblem(StrEnum):
    EMPTY_QUESTION = "empty_question"
    TOO_FEW_OPTIONS = "too_few_options"
    TOO_MANY_OPTIONS = "too_many_options"
    OPTION_TOO_LONG = "option_too_long"
    NO_DEADLINE = "no_deadline"
    DEADLINE_PASSED = "deadline_passed"
    NO_VOTERS = "no_voters"
    NOT_A_DRAFT = "not_a_draft"
    NOT_OPEN = "not_open"
    NUDGED_RECENTLY = "nudged_recently"


class VoteProblem(StrEnum):
    CLOSED = "closed"
    NOT_ELIGIBLE = "not_eligible"
    ALREADY_VOTED = "already_voted"  # a secret ballot, or a poll where votes cannot be changed
    BAD_CHOICE = "bad_choice"  # no option, an option the poll does not have, or too many


class PollError(ValueError):
    def __init__(self, problem: PollProblem | VoteProblem, detail: str = "") -> None:
        super().__init__(f"{problem.value} {detail}".strip())
        self.problem, self.detail = problem, detail


class VoteOutcome(StrEnum):
    RECORDED = "recorded"
    CHANGED = "changed"


# --- the rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    counts: tuple[int, ...]
    voters: int
    eligible: int
    base: int  # what the threshold is measured against
    leader: int | None  # the option with the most votes, when exactly one has the most
    passed: bool  # the leader meets the rule


def decide(
    rule: PollRule,
    counts: Iterable[int],
    *,
    voters: int,
    eligible: int,
    exempt_not_voting: int = 0,
    numerator: int = 1,
    denominator: int = 2,
    base: PollBase = PollBase.ELIGIBLE,
) -> Decision:
    """The result under ``rule``. The base of "more than half" is the membership, not the
    attendance: everyone eligible, minus exempt members who did not vote (DESIGN.md §4)."""
    tally = tuple(counts)
    top = max(tally, default=0)
    leaders = [i for i, count in enumerate(tally) if count == top]
    leader = leaders[0] if top > 0 and len(leaders) == 1 else None
    measured = voters if base is PollBase.VOTED else eligible - exempt_not_voting
    if rule is PollRule.MAJORITY_OF_ELIGIBLE:
        measured = eligible - exempt_not_voting
        passed = top * 2 > measured
    elif rule is PollRule.TWO_THIRDS_OF_ELIGIBLE:
        measured = eligible - exempt_not_voting
        passed = top * 3 >= measured * 2
    elif rule is PollRule.MOST_VOTES:
        passed = True
    else:
        passed = top * denominator > measured * numerator
    return Decision(tally, voters, eligible, measured, leader, leader is not None and passed and measured > 0)


# --- creating and opening -----------------------------------------------------------------------


def check(actor: Actor, branches: Iterable[int]) -> None:
    for branch_id in branches:
        if not may(actor, Permission.MANAGE_POLLS, Target(branch_id)):
            raise NotPermitted(Permission.MANAGE_POLLS, Target(branch_id))


async def _branches(session: AsyncSession, poll: Poll) -> list[int]:
    """The branches a poll belongs to, for permission purposes; one with no branch listed belongs
    to its author's branch (to the commune when written on the server), never to nobody."""
    if poll.branches:
        return list(poll.branches)
    author = None if poll.author_member_id is None else await session.get(Member, poll.author_member_id)
    if poll.branches is not None and author is not None:
        return [author.branch_id]
    return [b for b in (await session.exec(select(Branch.id))).all() if b is not None]


async def check_poll(session: AsyncSession, actor: Actor, poll: Poll) -> None:
    check(actor, await _branches(session, poll))


def clean_options(labels: Iterable[str]) -> list[str]:
    options = [" ".join(label.split()) for label in labels]
    options = [o for o in options if o]
    if len(options) < MIN_OPTIONS:
        raise PollError(PollProblem.TOO_FEW_OPTIONS)
    if len(options) > MAX_OPTIONS:
        raise PollError(PollProblem.TOO_MANY_OPTIONS, str(MAX_OPTIONS))
    for option in options:
        if len(option) > MAX_OPTION_LENGTH:
            raise PollError(PollProblem.OPTION_TOO_LONG, option[:40])
    return options


async def create_draft(
    session: AsyncSession, actor: Actor, question: str, branches: list[int] | None, deadline: datetime
) -> Poll:
    question = question.strip()
    if not question:
        raise PollError(PollProblem.EMPTY_QUESTION)
    poll = Poll(
        author_member_id=actor.id,
        question=question[:1000],
        options=list(RESOLUTION_OPTIONS),
        branches=branches,
        deadline=deadline,
    )
    await check_poll(session, actor, poll)
    session.add(poll)
    await session.flush()
    return poll


def _draft(poll: Poll) -> None:
    if poll.status is not PollStatus.DRAFT:
        raise PollError(PollProblem.NOT_A_DRAFT)


async def change_draft(session: AsyncSession, actor: Actor, poll: Poll, **changes: Any) -> None:
    """Set fields of a draft (options, secret, max_choices, voters, rule, deadline, ...)."""
    _draft(poll)
    await check_poll(session, actor, poll)
    if "options" in changes:
        changes["options"] = clean_options(changes["options"])
        changes.setdefault("max_choices", min(poll.max_choices, len(changes["options"])))
    if changes.get("deadline") is not None and changes["deadline"] <= utcnow():
        raise PollError(PollProblem.DEADLINE_PASSED)
    if changes.get("secret", poll.secret):
        # A secret ballot is final, one choice, no running totals: a ticked selection or a running
        # count stored with a reply could tell who chose what.
        changes |= {"allow_change": False, "max_choices": 1, "show_running": False}
    # Written only while still a draft: a publish that got there first wins, and nothing sent out
    # (the ballots) is changed behind it.
    claimed = await session.exec(
        update(Poll).where(col(Poll.id) == poll.id, col(Poll.status) == PollStatus.DRAFT).values(**changes)
    )
    if not claimed.rowcount:
        raise PollError(PollProblem.NOT_A_DRAFT)
    await session.refresh(poll)


async def cancel_draft(session: AsyncSession, actor: Actor, poll: Poll) -> None:
    await check_poll(session, actor, poll)
    claimed = await session.exec(
        update(Poll)
        .where(col(Poll.id) == poll.id, col(Poll.status) == PollStatus.DRAFT)
        .values(status=PollStatus.CANCELLED)
    )
    if not claimed.rowcount:
        raise PollError(PollProblem.NOT_A_DRAFT)
    await session.refresh(poll)


async def eligible_members(session: AsyncSession, poll: Poll) -> list[Member]:
    query = select(Member).where(col(Member.active).is_(True)).order_by(col(Member.branch_id), col(Member.id))
    if poll.branches is not None:
        query = query.where(col(Member.branch_id).in_(poll.branches))
    if poll.voters is PollVoters.OFFICIALS:
        query = query.where(Member.status == MemberStatus.OFFICIAL)
    elif poll.voters is PollVoters.COMMITTEE:
        query = query.where(col(Member.role).in_(_COMMITTEE_ROLES))
    return list((await session.exec(query)).all())


async def publish(session: AsyncSession, actor: Actor, poll: Poll, ballot_for: BallotFor) -> int:
    """Open the poll: fix who may vote, then send each of them the ballot. The number eligible."""
    _draft(poll)
    await check_poll(session, actor, poll)
    if poll.deadline is None:
        raise PollError(PollProblem.NO_DEADLINE)
    if poll.deadline <= utcnow():
        raise PollError(PollProblem.DEADLINE_PASSED)
    members = await eligible_members(session, poll)
    if not members:
        raise PollError(PollProblem.NO_VOTERS)
    claimed = await session.exec(
        update(Poll)
        .where(col(Poll.id) == poll.id, col(Poll.status) == PollStatus.DRAFT)
        .values(status=PollStatus.OPEN, opened_at=utcnow())
    )
    if not claimed.rowcount:  # a double tap on "publish"
        raise PollError(PollProblem.NOT_A_DRAFT)
    await session.refresh(poll)
    session.add_all(PollEligible(poll_id=poll.id or 0, member_id=m.id or 0, exempt=m.exempt) for m in members)
    if poll.secret:
        session.add_all(PollTally(poll_id=poll.id or 0, option=i) for i in range(len(poll.options)))
    await _send(session, poll, members, ballot_for)
    session.add(
        AuditEvent(
            actor_member_id=actor.id,
            action="poll.opened",
            subject_type="poll",
            subject_id=poll.id,
            after={"eligible": len(members), "secret": poll.secret, "rule": poll.rule.value},
        )
    )
    return len(members)


async def _send(session: AsyncSession, poll: Poll, members: list[Member], body_for: BallotFor) -> int:
    by_member = await push_identities(session, [m.id or 0 for m in members])
    rows = [
        OutboxMessage(platform=i.platform, chat_id=i.chat_id, body=body_for(m, poll), member_id=m.id)
        for m in members
        for i in by_member.get(m.id or 0, [])
    ]
    session.add_all(rows)
    await session.flush()
    return len(rows)


# --- voting -------------------------------------------------------------------------------------


def choices_from_mask(mask: int, option_count: int) -> tuple[int, ...]:
    return tuple(i for i in range(option_count) if mask >> i & 1)


# The vote path's statements, built once (every tap runs them). The poll comes with whether the
# member may vote in it, in one round trip, under a shared lock on the poll row alone: closing (an
# UPDATE of that row) waits for votes in progress, and a vote after it sees the poll closed, so the
# announced result counts every ballot.
_POLL_FOR_VOTE = (
    select(Poll, PollEligible.member_id)
    .outerjoin(
        PollEligible,
        (col(PollEligible.poll_id) == Poll.id) & (col(PollEligible.member_id) == bindparam("member_id")),
    )
    .where(col(Poll.id) == bindparam("poll_id"))
    .with_for_update(read=True, of=Poll)
    .execution_options(populate_existing=True)
)
_OPEN_BALLOT = insert(table_of(OpenBallot))
_tally = table_of(PollTally).c
# The poll's parameter is "box": in an UPDATE of polltally, "poll_id" is that column's own parameter.
_COUNT_SECRET_BALLOT = (
    update(table_of(PollTally))
    .where(_tally.poll_id == bindparam("box"), _tally.option.in_(bindparam("choices", expanding=True)))
    .values(votes=_tally.votes + 1)
)


async def vote(
    session: AsyncSession,
    poll_id: int,
    member: Member,
    mask: int,
    *,
    entered_by: Member | None = None,
    now: datetime | None = None,
) -> tuple[VoteOutcome, Poll]:
    """Record ``member``'s ballot (options as a bitmask); the outcome, and the poll as read under
    its lock. The voter roll's primary key makes a second ballot impossible however many taps
    arrive at once; an open vote may be changed."""
    found = (await session.exec(_POLL_FOR_VOTE, params={"poll_id": poll_id, "member_id": member.id})).first()
    now = now or utcnow()
    if found is None:
        raise PollError(VoteProblem.BAD_CHOICE)
    poll, eligible = found
    if poll.status is not PollStatus.OPEN or (poll.deadline is not None and poll.deadline <= now):
        raise PollError(VoteProblem.CLOSED)
    if eligible is None or not member.active:
        raise PollError(VoteProblem.NOT_ELIGIBLE)
    choices = choices_from_mask(mask, len(poll.options))
    if not choices or mask >> len(poll.options) or len(choices) > poll.max_choices:
        raise PollError(VoteProblem.BAD_CHOICE)
    first = await insert_ignoring_conflict(
        session,
        PollVoter,
        poll_id=poll_id,
        member_id=member.id,
        entered_by_member_id=entered_by.id if entered_by else None,
    )
    if not first:
        if poll.secret or not poll.allow_change or entered_by is not None:
            raise PollError(VoteProblem.ALREADY_VOTED)
        # Take the roll row's lock first, so two changes at once end as one ballot, not a mix.
        await session.exec(
            update(PollVoter)
            .where(col(PollVoter.poll_id) == poll_id, col(PollVoter.member_id) == member.id)
            .values(entered_by_member_id=None)
        )
        await session.exec(
            delete(OpenBallot).where(col(OpenBallot.poll_id) == poll_id, col(OpenBallot.member_id) == member.id)
        )
    if poll.secret:
        counted = await session.exec(_COUNT_SECRET_BALLOT, params={"box": poll_id, "choices": list(choices)})
        if counted.rowcount != len(choices):  # never a voter on the roll without their ballot
            raise RuntimeError(f"poll {poll_id}: ballot box rows missing")
    else:
        await session.exec(
            _OPEN_BALLOT, params=[{"poll_id": poll_id, "member_id": member.id, "option": c} for c in choices]
        )
    if entered_by is not None:
        # A paper vote is audited as entered by the secretary; in a secret ballot, without the choice.
        session.add(
            AuditEvent(
                actor_member_id=entered_by.id,
                action="poll.paper_vote",
                subject_type="poll",
                subject_id=poll_id,
                after={"member_id": member.id} | ({} if poll.secret else {"options": list(choices)}),
            )
        )
        await session.flush()
    return VoteOutcome.RECORDED if first else VoteOutcome.CHANGED, poll


async def my_choices(session: AsyncSession, poll: Poll, member: Member) -> tuple[int, ...] | None:
    """What the member chose (an open vote), () when they voted in secret, None when not yet."""
    voted = await session.get(PollVoter, (poll.id, member.id))
    if voted is None:
        return None
    if poll.secret:
        return ()
    rows = await session.exec(
        select(OpenBallot.option).where(OpenBallot.poll_id == poll.id, OpenBallot.member_id == member.id)
    )
    return tuple(sorted(rows.all()))


# --- counting and closing -----------------------------------------------------------------------


async def counts(session: AsyncSession, poll: Poll) -> tuple[int, ...]:
    if poll.secret:
        rows = dict(
            (await session.exec(select(PollTally.option, PollTally.votes).where(PollTally.poll_id == poll.id))).all()
        )
    else:
        rows = dict(
            (
                await session.exec(
                    select(OpenBallot.option, func.count())
                    .where(OpenBallot.poll_id == poll.id)
                    .group_by(col(OpenBallot.option))
                )
            ).all()
        )
    return tuple(int(rows.get(i, 0)) for i in range(len(poll.options)))


async def result(session: AsyncSession, poll: Poll) -> Decision:
    voters = (await session.exec(select(func.count()).select_from(PollVoter).where(PollVoter.poll_id == poll.id))).one()
    eligible = (
        await session.exec(select(func.count()).select_from(PollEligible).where(PollEligible.poll_id == poll.id))
    ).one()
    exempt_not_voting = (
        await session.exec(
            select(func.count())
            .select_from(PollEligible)
            .where(PollEligible.poll_id == poll.id, col(PollEligible.exempt).is_(True))
            .where(col(PollEligible.member_id).not_in(select(PollVoter.member_id).where(PollVoter.poll_id == poll.id)))
        )
    ).one()
    return decide(
        poll.rule,
        await counts(session, poll),
        voters=voters,
        eligible=eligible,
        exempt_not_voting=exempt_not_voting,
        numerator=poll.rule_numerator,
        denominator=poll.rule_denominator,
        base=poll.rule_base,
    )


async def close(session: AsyncSession, poll: Poll, *, actor: Actor | None = None, now: datetime | None = None) -> bool:
    """Close the poll once: True for the caller that closed it, False when it already was."""
    if actor is not None:
        await check_poll(session, actor, poll)
    claimed = await session.exec(
        update(Poll)
        .where(col(Poll.id) == poll.id, col(Poll.status) == PollStatus.OPEN)
        .values(status=PollStatus.CLOSED, closed_at=now or utcnow())
    )
    if not claimed.rowcount:
        return False
    await session.refresh(poll)
    session.add(
        AuditEvent(
            actor_member_id=actor.id if actor is not None else None,
            action="poll.closed",
            subject_type="poll",
            subject_id=poll.id,
        )
    )
    return True


async def close_due(session: AsyncSession, now: datetime | None = None) -> list[Poll]:
    """Close every open poll whose deadline has passed; each once, whoever else runs this."""
    now = now or utcnow()
    due = (await session.exec(select(Poll).where(Poll.status == PollStatus.OPEN, col(Poll.deadline) <= now))).all()
    return [poll for poll in due if await close(session, poll, now=now)]


async def non_voters(session: AsyncSession, poll: Poll) -> list[Member]:
    return list(
        (
            await session.exec(
                select(Member)
                .join(PollEligible, col(PollEligible.member_id) == Member.id)
                .where(PollEligible.poll_id == poll.id, col(Member.active).is_(True))
                .where(col(Member.id).not_in(select(PollVoter.member_id).where(PollVoter.poll_id == poll.id)))
                .order_by(col(Member.id))
            )
        ).all()
    )


async def nudge(session: AsyncSession, actor: Actor, poll: Poll, ballot_for: BallotFor, interval: Any) -> int:
    """The ballot again to eligible members who have not voted, at most once per ``interval``."""
    await check_poll(session, actor, poll)
    if poll.status is not PollStatus.OPEN:
        raise PollError(PollProblem.NOT_OPEN)
    now = utcnow()
    claimed = await session.exec(
        update(Poll)
        .where(col(Poll.id) == poll.id)
        .where(col(Poll.last_nudged_at).is_(None) | (col(Poll.last_nudged_at) <= now - interval))
        .values(last_nudged_at=now)
    )
    if not claimed.rowcount:
        raise PollError(PollProblem.NUDGED_RECENTLY)
    return await _send(session, poll, await non_voters(session, poll), ballot_for)


async def open_polls_for(session: AsyncSession, member: Member) -> list[tuple[Poll, bool]]:
    """Open polls the member may vote in, and whether they already have."""
    rows = (
        await session.exec(
            select(Poll, PollVoter.member_id)
            .join(PollEligible, col(PollEligible.poll_id) == Poll.id)
            .outerjoin(
                PollVoter, (col(PollVoter.poll_id) == Poll.id) & (col(PollVoter.member_id) == PollEligible.member_id)
            )
            .where(PollEligible.member_id == member.id, Poll.status == PollStatus.OPEN)
            .where(col(Poll.deadline) > utcnow())
            .order_by(col(Poll.deadline))
        )
    ).all()
    return [(poll, voter is not None) for poll, voter in rows]


ResultsFor = Callable[[Member, Poll, Decision], dict[str, Any]]


async def queue_results(
    session: AsyncSession, poll: Poll, results_for: ResultsFor, *, skip_member_id: int | None = None
) -> int:
    """The result to whoever set the poll up and, if the poll says so, to everyone who could vote."""
    decision = await result(session, poll)
    ids: set[int] = set()
    if poll.author_member_id is not None:
        ids.add(poll.author_member_id)
    if poll.announce_results:
        ids |= set((await session.exec(select(PollEligible.member_id).where(PollEligible.poll_id == poll.id))).all())
    ids.discard(skip_member_id or 0)
    members = list(
        (await session.exec(select(Member).where(col(Member.id).in_(ids), col(Member.active).is_(True)))).all()
    )
    by_member = await push_identities(session, [m.id or 0 for m in members])
    rows = [
        OutboxMessage(platform=i.platform, chat_id=i.chat_id, body=results_for(m, poll, decision), member_id=m.id)
        for m in members
        for i in by_member.get(m.id or 0, [])
    ]
    session.add_all(rows)
    await session.flush()
    return len(rows)


RESULT_HEADER = ["Phương án", "Số phiếu", "Tỷ lệ"]


async def result_rows(session: AsyncSession, poll: Poll) -> list[list[str]]:
    """The result as CSV rows; for an open vote, then each voter's name and choice."""
    decision = await result(session, poll)
    total = max(1, sum(decision.counts))
    rows = [
        [label, str(count), f"{count * 100 / total:.1f}%"]
        for label, count in zip(poll.options, decision.counts, strict=True)
    ]
    rows.append(["Đã bỏ phiếu / có quyền biểu quyết", f"{decision.voters}/{decision.eligible}", ""])
    adopted = poll.options[decision.leader] if decision.passed and decision.leader is not None else "(không)"
    rows.append(["Được thông qua", adopted, poll.rule.value])
    if not poll.secret:
        rows.append([])
        rows.append(["Họ và tên", "Lựa chọn", "Nhập bởi bí thư"])
        voters = (
            await session.exec(
                select(Member.full_name, OpenBallot.option, PollVoter.entered_by_member_id)
                .join(OpenBallot, col(OpenBallot.member_id) == Member.id)
                .join(PollVoter, (col(PollVoter.member_id) == Member.id) & (col(PollVoter.poll_id) == poll.id))
                .where(OpenBallot.poll_id == poll.id)
                .order_by(col(Member.full_name))
            )
        ).all()
        rows += [[name, poll.options[option], "x" if entered else ""] for name, option, entered in voters]
    return rows
