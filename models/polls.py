"""Polls and votes by the branch's rules: who may vote, one ballot each, a secret ballot nobody can
trace, and a result computed the same way every time.

Secret ballots: the voter roll (``PollVoter``) says who voted; the ballot is sealed to the poll's
key in a row of its own with no member (models/ballots.py), and counted only when the poll closes.
The price is that a secret ballot cannot be changed: nobody can tell which sealed ballot is whose.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Integer, any_, bindparam, delete, func, insert, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit, ballots
from models.audience import push_identities
from models.audit import AuditAction
from models.db import claim, insert_ignoring_conflict, table_of
from models.errors import DomainError, NotFound
from models.meetings import attendance_of
from models.membership import NotPermitted
from models.outbox import Outbox, TemplateKind, with_template
from models.permissions import Actor, Permission, Target, may
from models.tables import (
    Attendance,
    BallotBox,
    Branch,
    Meeting,
    MeetingInvitation,
    MeetingStatus,
    Member,
    MemberStanding,
    MemberStatus,
    OpenBallot,
    Poll,
    PollBase,
    PollEligible,
    PollKind,
    PollOpinion,
    PollRule,
    PollStatus,
    PollTally,
    PollVoter,
    PollVoters,
    Role,
    utcnow,
)
from models.vietnamese import name_key

MIN_OPTIONS, MAX_OPTIONS = 2, 10
MAX_OPTION_LENGTH = 100
# The preset of a motion, in the Charter's words: in favour / not in favour / another opinion.
RESOLUTION_OPTIONS = ("Tán thành", "Không tán thành", "Ý kiến khác")
MAX_OPINION_LENGTH = 1000
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
    NOT_SECRET = "not_secret"  # counts from a paper box are for secret ballots
    PAPER_COUNTS = "paper_counts"  # not one count per option, or more ballots than paper voters
    NO_CANDIDATES = "no_candidates"  # an election or a choice still offering a motion's three answers
    EVERYONE_VOTED = "everyone_voted"  # a reminder with nobody left to remind
    EMPTY_OPINION = "empty_opinion"
    NOBODY_REACHABLE = "nobody_reachable"  # a reminder nobody who has not voted could receive (detail: how many)


class VoteProblem(StrEnum):
    CLOSED = "closed"
    NOT_ELIGIBLE = "not_eligible"
    ALREADY_VOTED = "already_voted"  # a secret ballot, or a poll where votes cannot be changed
    BAD_CHOICE = "bad_choice"  # no option, or an option the poll does not have
    TOO_MANY = "too_many"  # more options ticked than the poll allows (its detail: how many it allows)
    MEETING_NOT_STARTED = "meeting_not_started"  # a vote at a meeting, before it begins
    MEETING_OVER = "meeting_over"  # a vote at a meeting, after it ended
    NOT_PRESENT = "not_present"  # a vote at a meeting, by a member not recorded present at it


class PollError(DomainError, ValueError):
    def __init__(self, problem: PollProblem | VoteProblem, detail: str = "") -> None:
        super().__init__(f"{problem.value} {detail}".strip())
        self.problem, self.detail = problem, detail


class VoteOutcome(StrEnum):
    RECORDED = "recorded"
    CHANGED = "changed"
    UNCHANGED = "unchanged"  # the same choice tapped again: nothing written


# --- the rules ----------------------------------------------------------------------------------
#
# Party rules as applied here (Điều lệ Đảng, art. 10 on the principle of democratic centralism, and
# Quy định 294-QĐ/TW (2025) implementing the Charter, which replaced Quy định 24-QĐ/TW (2021); the
# exact article text could not be checked from here, see README "Rules as the code applies them"):
# a resolution passes only when MORE THAN HALF of the members of the body approve, and the base is the
# membership, not the attendance: everyone summoned, less exempt members (miễn sinh hoạt) who did not
# take part, members suspended from activity (đình chỉ sinh hoạt), members temporarily active in
# another organisation (sinh hoạt tạm thời nơi khác) and, for a vote at a meeting, members absent from
# it with a reason the secretary accepted. The fractions are per-poll defaults a secretary can change.


@dataclass(frozen=True)
class Deductions:
    """Members of the body left out of the base of a vote, by reason."""

    exempt_absent: int = 0  # miễn công tác và sinh hoạt đảng, and did not vote
    suspended: int = 0  # đình chỉ sinh hoạt
    elsewhere: int = 0  # sinh hoạt tạm thời nơi khác
    excused_absent: int = 0  # a vote at a meeting: absent from it with an accepted reason

    @property
    def total(self) -> int:
        return self.exempt_absent + self.suspended + self.elsewhere + self.excused_absent


@dataclass(frozen=True)
class Decision:
    kind: PollKind
    counts: tuple[int, ...]
    voters: int  # ballots cast, blank ones included
    eligible: int  # members on the poll's roll (who may vote)
    base: int  # what the rule is measured against: the membership less deductions, or the votes cast
    needed: int  # the votes an option or a candidate needs under the rule; 0 for a consultation
    chosen: tuple[int, ...]  # the motion adopted (0,), the option chosen, the candidates elected
    leader: int | None  # the one option with the most votes, when exactly one has the most
    blank: int = 0  # an election's ballots that named nobody
    deducted: Deductions = Deductions()
    # An election's candidates who reached the rule tied for the last seats, more of them than seats
    # left: none is elected, the branch votes again among them (Quy chế bầu cử trong Đảng).
    tied: tuple[int, ...] = ()

    @property
    def passed(self) -> bool:
        """A motion adopted, an option chosen, someone elected; a consultation never passes."""
        return bool(self.chosen)


def votes_needed(rule: PollRule, base: int, numerator: int = 1, denominator: int = 2) -> int:
    """The fewest votes that meet ``rule`` out of ``base``; 0 when no number can (plurality)."""
    if rule is PollRule.MOST_VOTES or base <= 0:
        return 0
    if rule is PollRule.MAJORITY_OF_ELIGIBLE:
        return base // 2 + 1  # quá nửa: more than half
    if rule is PollRule.TWO_THIRDS_OF_ELIGIBLE:
        return -(-2 * base // 3)  # at least two thirds
    return base * numerator // denominator + 1  # more than numerator/denominator


def decide(
    kind: PollKind,
    rule: PollRule,
    counts: Iterable[int],
    *,
    voters: int,
    eligible: int,
    deducted: Deductions = Deductions(),
    seats: int = 1,
    blank: int = 0,
    numerator: int = 1,
    denominator: int = 2,
    base: PollBase = PollBase.ELIGIBLE,
) -> Decision:
    """The result of a poll of ``kind`` under ``rule``. ``eligible`` is everyone on the roll;
    ``deducted`` those the rules leave out of the base besides (suspended and temporarily elsewhere
    members are never on the roll, so they are not in ``eligible``: they are counted here only to
    be shown)."""
    tally = tuple(counts)
    top = max(tally, default=0)
    leaders = [i for i, count in enumerate(tally) if count == top]
    leader = leaders[0] if top > 0 and len(leaders) == 1 else None
    if rule is PollRule.CUSTOM and base is PollBase.VOTED:
        measured, deducted = voters, Deductions()  # of the votes cast: nobody is left out of that base
    else:
        measured = eligible - deducted.exempt_absent - deducted.excused_absent
    needed = 0 if kind is PollKind.CONSULTATION else votes_needed(rule, measured, numerator, denominator)
    reaching = [i for i, count in enumerate(tally) if needed and count >= needed]
    chosen: tuple[int, ...] = ()
    tied: tuple[int, ...] = ()
    if kind is PollKind.MOTION:
        chosen = (0,) if 0 in reaching else ()  # only "Tán thành" adopts; a majority against rejects
    elif kind is PollKind.CHOICE:
        chosen = tuple(reaching) if len(reaching) == 1 else ()
    elif kind is PollKind.ELECTION:
        ranked = sorted(reaching, key=lambda i: -tally[i])
        if len(ranked) > seats and tally[ranked[seats - 1]] == tally[ranked[seats]]:
            # A tie for the last seat: nobody tied for it is elected (the branch votes again on them).
            last = tally[ranked[seats]]
            tied = tuple(sorted(i for i in ranked if tally[i] == last))
            ranked = [i for i in ranked if tally[i] > last]
        chosen = tuple(sorted(ranked[:seats]))
    return Decision(kind, tally, voters, eligible, measured, needed, chosen, leader, blank, deducted, tied)


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


async def concerns(session: AsyncSession, poll: Poll, member: Member) -> bool:
    """Whether the poll is one of the member's branch (or the commune's); a published one only. Of
    any other the member is told nothing, not even that it exists."""
    return poll.status is not PollStatus.DRAFT and member.branch_id in await _branches(session, poll)


def clean_options(labels: Iterable[str]) -> list[str]:
    """The options as typed, one a line; typed on one line (a phone's one-line box), separated by
    semicolons or commas."""
    labels = list(labels)
    if len([label for label in labels if label.strip()]) == 1:
        [line] = [label for label in labels if label.strip()]
        labels = re.split(r"\s*;\s*", line) if ";" in line else re.split(r"\s*,\s*", line)
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
        kind=PollKind.MOTION,
        options=list(RESOLUTION_OPTIONS),
        branches=branches,
        deadline=deadline,
    )
    await check_poll(session, actor, poll)
    session.add(poll)
    await session.flush()
    return poll


def lacks_options(poll: Poll) -> bool:
    """An election or a choice whose candidates (options) are yet to be typed: a new vote is a
    motion, and made an election or a choice it still holds the motion's three answers, which are
    not its candidates. It cannot be opened so."""
    return poll.kind in (PollKind.ELECTION, PollKind.CHOICE) and list(poll.options) == list(RESOLUTION_OPTIONS)


def _draft(poll: Poll) -> None:
    if poll.status is not PollStatus.DRAFT:
        raise PollError(PollProblem.NOT_A_DRAFT)


def fit_kind(poll: Poll, changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` made to agree with the poll's kind (DESIGN.md §4): a motion has the Charter's three
    options and one choice; plurality ("most votes") and probationary voters belong to consultations
    only; an election is a secret ballot unless the secretary opens it, with blank ballots allowed.
    Without a kind given, asking for plurality or for everyone's opinion makes a consultation, and
    typed options turn a motion into a choice."""
    kind = changes.get("kind")
    if kind is None:
        if changes.get("rule") is PollRule.MOST_VOTES or changes.get("voters") is PollVoters.ALL:
            kind = PollKind.CONSULTATION
        elif "options" in changes and poll.kind is PollKind.MOTION:
            kind = PollKind.CHOICE
        else:
            kind = poll.kind
    fitted = changes | {"kind": kind}
    if kind is PollKind.CONSULTATION:
        fitted["rule"] = PollRule.MOST_VOTES
        return fitted
    if fitted.get("rule", poll.rule) is PollRule.MOST_VOTES:
        fitted["rule"] = PollRule.MAJORITY_OF_ELIGIBLE
    if fitted.get("voters", poll.voters) is PollVoters.ALL:
        fitted["voters"] = PollVoters.OFFICIALS  # probationary members do not vote (Điều lệ Đảng, art. 5)
    if kind is PollKind.MOTION:
        fitted |= {"options": list(RESOLUTION_OPTIONS), "max_choices": 1}
    elif kind is PollKind.CHOICE:
        fitted["max_choices"] = 1
    elif kind is PollKind.ELECTION and "kind" in changes and poll.kind is not PollKind.ELECTION:
        fitted.setdefault("secret", True)  # elections are by secret ballot (Quy chế bầu cử trong Đảng)
    return fitted


async def change_draft(session: AsyncSession, actor: Actor, poll: Poll, **changes: Any) -> None:
    """Set fields of a draft (kind, options, secret, max_choices, voters, rule, deadline, ...)."""
    _draft(poll)
    await check_poll(session, actor, poll)
    changes = fit_kind(poll, changes)
    if "options" in changes:
        changes["options"] = clean_options(changes["options"])
        changes.setdefault("max_choices", min(poll.max_choices, len(changes["options"])))
    if changes.get("deadline") is not None and changes["deadline"] <= utcnow():
        raise PollError(PollProblem.DEADLINE_PASSED)
    if changes.get("secret", poll.secret):
        # A secret ballot is final, with no running totals: a running count stored with a reply
        # could tell who chose what. Several seats (k of n, Quy chế bầu cử trong Đảng) are allowed:
        # the ballot is filled in k steps whose choices so far travel sealed in its buttons
        # (models.ballots.seal_ticks), never stored beside the member.
        changes |= {"allow_change": False, "show_running": False}
    # Written only while still a draft: a publish that got there first wins, and nothing sent out
    # (the ballots) is changed behind it.
    if not await claim(session, Poll, col(Poll.id) == poll.id, col(Poll.status) == PollStatus.DRAFT, **changes):
        raise PollError(PollProblem.NOT_A_DRAFT)
    await session.refresh(poll)


async def cancel_draft(session: AsyncSession, actor: Actor, poll: Poll) -> None:
    await check_poll(session, actor, poll)
    if not await claim(
        session, Poll, col(Poll.id) == poll.id, col(Poll.status) == PollStatus.DRAFT, status=PollStatus.CANCELLED
    ):
        raise PollError(PollProblem.NOT_A_DRAFT)
    await session.refresh(poll)


async def _body(session: AsyncSession, poll: Poll) -> list[Member]:
    """The active members the poll is put to, whatever their standing."""
    query = select(Member).where(col(Member.active).is_(True)).order_by(col(Member.branch_id), col(Member.id))
    if poll.branches is not None:
        query = query.where(col(Member.branch_id).in_(poll.branches))
    if poll.voters is PollVoters.OFFICIALS:
        query = query.where(Member.status == MemberStatus.OFFICIAL)
    elif poll.voters is PollVoters.COMMITTEE:
        query = query.where(col(Member.role).in_(_COMMITTEE_ROLES))
    return list((await session.exec(query)).all())


async def eligible_members(session: AsyncSession, poll: Poll) -> list[Member]:
    # Suspended members, and members temporarily active in another organisation, do not vote here
    # (Điều lệ Đảng; Quy định 294-QĐ/TW).
    return [m for m in await _body(session, poll) if m.standing is MemberStanding.ACTIVE]


async def publish(session: AsyncSession, actor: Actor, poll: Poll, ballot_for: BallotFor) -> int:
    """Open the poll: fix who may vote, then send each of them the ballot. The number eligible."""
    _draft(poll)
    await check_poll(session, actor, poll)
    if poll.deadline is None:
        raise PollError(PollProblem.NO_DEADLINE)
    if poll.deadline <= utcnow():
        raise PollError(PollProblem.DEADLINE_PASSED)
    if lacks_options(poll):
        raise PollError(PollProblem.NO_CANDIDATES)
    body = await _body(session, poll)
    members = [m for m in body if m.standing is MemberStanding.ACTIVE]
    if not members:
        raise PollError(PollProblem.NO_VOTERS)
    # The claim: of a double tap on "publish", one opens the poll.
    if not await claim(
        session,
        Poll,
        col(Poll.id) == poll.id,
        col(Poll.status) == PollStatus.DRAFT,
        status=PollStatus.OPEN,
        opened_at=utcnow(),
        suspended_count=sum(m.standing is MemberStanding.SUSPENDED for m in body),
        elsewhere_count=sum(m.standing is MemberStanding.ELSEWHERE for m in body),
    ):
        raise PollError(PollProblem.NOT_A_DRAFT)
    await session.refresh(poll)
    session.add_all(PollEligible(poll_id=poll.id or 0, member_id=m.id or 0, exempt=m.exempt) for m in members)
    await _send(session, poll, members, ballot_for)
    audit.record(
        session,
        AuditAction.POLL_OPENED,
        actor_id=actor.id,
        subject_type="poll",
        subject_id=poll.id,
        after={"eligible": len(members), "secret": poll.secret, "kind": poll.kind.value, "rule": poll.rule.value},
    )
    return len(members)


async def _send(session: AsyncSession, poll: Poll, members: list[Member], body_for: BallotFor) -> int:
    by_member = await push_identities(session, [m.id or 0 for m in members])
    outbox = Outbox(session)
    queued = sum(
        outbox.add(reach, with_template(body_for(m, poll), TemplateKind.VOTE_OPENED, poll.id), member_id=m.id)
        for m in members
        if (reach := by_member.get(m.id or 0, []))
    )
    await session.flush()
    return queued


MEETING_WINDOW = timedelta(hours=12)


async def meeting_now(session: AsyncSession, poll: Poll, now: datetime | None = None) -> Meeting | None:
    """The called meeting of the poll's one branch nearest to now, within 12 hours either side: the
    meeting a vote is taken at."""
    if poll.branches is None or len(poll.branches) != 1:
        return None
    now = now or utcnow()
    near = (
        await session.exec(
            select(Meeting).where(
                Meeting.branch_id == poll.branches[0],
                Meeting.status == MeetingStatus.CALLED,
                col(Meeting.starts_at).between(now - MEETING_WINDOW, now + MEETING_WINDOW),
            )
        )
    ).all()
    return min(near, key=lambda m: abs(m.starts_at - now), default=None)


# --- voting -------------------------------------------------------------------------------------


def choices_from_mask(mask: int, option_count: int) -> tuple[int, ...]:
    return tuple(i for i in range(option_count) if mask >> i & 1)


# The vote path's statements, built once (every tap runs them). The poll comes with whether the
# member may vote in it and the public key of its ballot box, in one round trip, under a shared lock
# on the poll row alone: closing (an UPDATE of that row) waits for votes in progress, and a vote
# after it sees the poll closed, so the announced result counts every ballot.
_POLL_FOR_VOTE = (
    select(Poll, PollEligible.member_id, BallotBox.public_key)
    .outerjoin(
        PollEligible,
        (col(PollEligible.poll_id) == Poll.id) & (col(PollEligible.member_id) == bindparam("member_id")),
    )
    .outerjoin(BallotBox, col(BallotBox.poll_id) == Poll.id)
    .where(col(Poll.id) == bindparam("poll_id"))
    .with_for_update(read=True, of=Poll)
    .execution_options(populate_existing=True)
)
_OPEN_BALLOT = insert(table_of(OpenBallot))


async def _poll_for_ballot(
    session: AsyncSession, poll_id: int, member: Member, now: datetime | None
) -> tuple[Poll, bytes | None]:
    """The poll, locked for a ballot, if it is open and ``member`` may vote in it; its box's key."""
    found = (await session.exec(_POLL_FOR_VOTE, params={"poll_id": poll_id, "member_id": member.id})).first()
    now = now or utcnow()
    if found is None:
        raise NotFound(f"poll {poll_id}")
    poll, eligible, box_key = found
    if eligible is None and not await concerns(session, poll, member):
        raise NotFound(f"poll {poll_id}")  # another branch's: answered as an id that does not exist
    if not takes_ballots(poll, now):
        raise PollError(VoteProblem.CLOSED)
    if eligible is None or not member.active:
        raise PollError(VoteProblem.NOT_ELIGIBLE)
    if poll.meeting_id is not None:
        await _at_the_meeting(session, poll.meeting_id, member, now)
    return poll, box_key


async def _at_the_meeting(session: AsyncSession, meeting_id: int, member: Member, now: datetime) -> None:
    """A vote taken at a meeting is cast there: while it is in session, by members recorded present
    (checked in or marked present; Hướng dẫn 12-HD/BTCTW: the branch decides at its meeting). A
    meeting has no end time: it is in session from its start until the secretary confirms the
    attendance list, and at most ``MEETING_WINDOW``."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None or meeting.status is not MeetingStatus.CALLED or now < meeting.starts_at:
        raise PollError(VoteProblem.MEETING_NOT_STARTED)
    ended = meeting.attendance_confirmed_at is not None and meeting.attendance_confirmed_at <= now
    if ended or now > meeting.starts_at + MEETING_WINDOW:
        raise PollError(VoteProblem.MEETING_OVER)
    invitation = await session.get(MeetingInvitation, (meeting_id, member.id))
    if invitation is None or attendance_of(invitation) is not Attendance.PRESENT:
        raise PollError(VoteProblem.NOT_PRESENT)


def takes_ballots(poll: Poll, now: datetime | None = None) -> bool:
    """Whether ``poll`` is open and its deadline not yet come (``now``, or the present)."""
    return poll.status is PollStatus.OPEN and (poll.deadline is None or poll.deadline > (now or utcnow()))


def _choices(poll: Poll, mask: int) -> tuple[int, ...]:
    """The options ``mask`` names, if it is a ballot this poll accepts."""
    choices = choices_from_mask(mask, len(poll.options))
    blank_allowed = poll.kind is PollKind.ELECTION  # a ballot naming nobody (phiếu trắng)
    if (not choices and not blank_allowed) or mask >> len(poll.options):
        raise PollError(VoteProblem.BAD_CHOICE)
    if len(choices) > poll.max_choices:
        raise PollError(VoteProblem.TOO_MANY, str(poll.max_choices))
    return choices


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
    arrive at once; an open vote may be changed. A secretary enters a paper ballot with
    ``entered_by`` in an open vote only: in a secret one, see ``record_paper_voter``."""
    poll, box_key = await _poll_for_ballot(session, poll_id, member, now)
    choices = _choices(poll, mask)
    if poll.secret and entered_by is not None:
        # A secret paper ballot stays in the paper box: a member and a choice never go in together.
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
        voted = await session.get(PollVoter, (poll_id, member.id))
        entered_online = voted is not None and voted.entered_by_member_id is None
        if entered_online and set(choices) == set(await my_choices(session, poll, member) or ()):
            return VoteOutcome.UNCHANGED, poll  # the same tapped again: the ballot and its opinion stay
        # Take the roll row's lock first, so two changes at once end as one ballot, not a mix.
        await session.exec(
            update(PollVoter)
            .where(col(PollVoter.poll_id) == poll_id, col(PollVoter.member_id) == member.id)
            .values(entered_by_member_id=None)
        )
        await session.exec(
            delete(OpenBallot).where(col(OpenBallot.poll_id) == poll_id, col(OpenBallot.member_id) == member.id)
        )
        # The opinion explained the choice being replaced; a new "Ý kiến khác" is asked for anew.
        await session.exec(
            delete(PollOpinion).where(col(PollOpinion.poll_id) == poll_id, col(PollOpinion.member_id) == member.id)
        )
    if poll.secret:
        # In the roll's transaction, so a vote is never on the roll without its ballot; sealed, so
        # that transaction's id (PostgreSQL's xmin, shared by both rows) links the member to
        # nothing readable without the server's secret.
        await ballots.drop(
            session, poll_id, box_key, ballots.BallotKind.ONLINE, [int(i in choices) for i in range(len(poll.options))]
        )
    elif choices:  # a blank ballot (an election's phiếu trắng) is the roll row alone
        await session.exec(
            _OPEN_BALLOT, params=[{"poll_id": poll_id, "member_id": member.id, "option": c} for c in choices]
        )
    if entered_by is not None:
        # A paper vote in an open ballot is audited as entered by the secretary.
        audit.record(
            session,
            AuditAction.POLL_PAPER_VOTE,
            actor_id=entered_by.id,
            subject_type="poll",
            subject_id=poll_id,
            after={"member_id": member.id, "options": list(choices)},
        )
        await session.flush()
    return VoteOutcome.RECORDED if first else VoteOutcome.CHANGED, poll


# Many first ballots in an open vote at once (a group commit's taps on PostgreSQL, bot/runtime.py): the poll
# locked as for one ballot, with which of the voters may vote in it, in one round trip; then the roll,
# whose primary key tells who votes for the first time, and those voters' ballots, in one more. Run
# on the session's connection, as Core: no ORM objects for what is read once and answered.
_POLLS = table_of(Poll)
_ELIGIBLE_OF = "eligible_of_these"
_POLL_LOCKED = (
    sa_select(
        _POLLS,
        sa_select(func.array_agg(col(PollEligible.member_id)))
        .where(
            col(PollEligible.poll_id) == bindparam("poll_id"),
            col(PollEligible.member_id) == any_(bindparam("member_ids", type_=ARRAY(Integer))),  # PostgreSQL's
        )
        .scalar_subquery()
        .label(_ELIGIBLE_OF),
    )
    .where(_POLLS.c.id == bindparam("poll_id"))
    .with_for_update(read=True, of=_POLLS)
)
# The roll's rows in the order given (the caller sorts them: locks taken in one order, always), and
# the ballots of those the roll took (a member already on it is left as they were, for ``vote``).
_ROLL_AND_BALLOTS = text(
    """
    WITH roll AS (
        INSERT INTO pollvoter (poll_id, member_id, entered_by_member_id)
        SELECT :poll_id, voter, NULL FROM unnest(CAST(:voters AS INTEGER[])) WITH ORDINALITY AS given(voter, n)
        ORDER BY n
        ON CONFLICT DO NOTHING
        RETURNING member_id
    ), ballots AS (
        INSERT INTO openballot (poll_id, member_id, option)
        SELECT :poll_id, chosen.member_id, chosen.option
        FROM unnest(CAST(:chosen_by AS INTEGER[]), CAST(:chosen AS INTEGER[])) AS chosen(member_id, option)
        JOIN roll ON roll.member_id = chosen.member_id
    )
    SELECT member_id FROM roll
    """
)


async def plain_votes(
    session: AsyncSession, poll_id: int, ballots: dict[int, tuple[int, int]], now: datetime | None = None
) -> tuple[Poll | None, set[int]]:
    """The poll, and the keys of those ``ballots`` (each: an active member's id, and the options as
    a bitmask) that ``vote`` would record with nothing more to do if they are the members' first:
    the poll open, in chat (not at a meeting), by open ballot, its counts not shown as it goes; the
    member eligible; the choice valid, and not "Ý kiến khác" (which asks more). The poll is read
    under the shared lock ``vote`` takes. The rest are for ``vote`` itself (a refusal, a secret
    ballot, a meeting's vote), and so is each that ``record_first_votes`` finds is not a first."""
    connection = await session.connection()
    params = {"poll_id": poll_id, "member_ids": [member_id for member_id, _ in ballots.values()]}
    row = (await connection.execute(_POLL_LOCKED, params)).first()
    if row is None:
        return None, set()
    fields = dict(row._mapping)
    may = set(fields.pop(_ELIGIBLE_OF) or ())
    poll = Poll(**fields)
    if not takes_ballots(poll, now) or poll.secret or poll.meeting_id is not None or poll.show_running:
        return poll, set()
    opinion = other_opinion(poll)
    plain = set()
    for key, (member_id, mask) in ballots.items():
        try:
            choices = _choices(poll, mask)
        except PollError:
            continue
        if member_id in may and opinion not in choices:
            plain.add(key)
    return poll, plain


async def record_first_votes(session: AsyncSession, poll: Poll, ballots: list[tuple[int, int]]) -> set[int]:
    """Record those of ``ballots`` (member id, options; let through by ``plain_votes``) that are
    their members' first, as ``vote`` would: the roll, then their open ballots, in one statement.
    The members recorded; a member already on the roll is left as they were, for ``vote``."""
    ballots = sorted(ballots)  # rows locked in one order, always
    chosen = [(member_id, option) for member_id, mask in ballots for option in _choices(poll, mask)]
    params = {
        "poll_id": poll.id,
        "voters": [member_id for member_id, _ in ballots],
        "chosen_by": [member_id for member_id, _ in chosen],
        "chosen": [option for _, option in chosen],
    }
    return set((await (await session.connection()).execute(_ROLL_AND_BALLOTS, params)).scalars().all())


def _folded(label: str) -> str:
    return unicodedata.normalize("NFC", " ".join(label.split())).casefold()


def other_opinion(poll: Poll) -> int | None:
    """The option of a consultation after which the voter types what they think ("Ý kiến khác"),
    if it has one."""
    if poll.kind is not PollKind.CONSULTATION:
        return None
    wanted = {_folded(RESOLUTION_OPTIONS[2]), _folded("Khác")}
    return next((i for i, label in enumerate(poll.options) if _folded(label) in wanted), None)


async def save_opinion(session: AsyncSession, poll_id: int, member: Member, text: str) -> Poll:
    """Keep the opinion ``member`` typed with their open ballot for "Ý kiến khác" (replacing an
    earlier one). A secret ballot takes none: a typed text can name its writer, and asking only
    those who chose "Ý kiến khác" would record the choice itself (README "Polls")."""
    poll, _key = await _poll_for_ballot(session, poll_id, member, None)
    other = other_opinion(poll)
    if poll.secret or other is None or other not in (await my_choices(session, poll, member) or ()):
        raise PollError(VoteProblem.BAD_CHOICE)
    text = text.strip()[:MAX_OPINION_LENGTH]
    if not text:
        raise PollError(PollProblem.EMPTY_OPINION)
    await session.exec(
        delete(PollOpinion).where(col(PollOpinion.poll_id) == poll_id, col(PollOpinion.member_id) == member.id)
    )
    session.add(PollOpinion(poll_id=poll_id, member_id=member.id or 0, text=text))
    await session.flush()
    return poll


async def opinions(session: AsyncSession, poll: Poll) -> list[tuple[str, str]]:
    """An open consultation's typed opinions, each with its writer's name, for the secretary."""
    rows = await session.exec(
        select(Member.full_name, PollOpinion.text)
        .join(PollOpinion, col(PollOpinion.member_id) == Member.id)
        .where(PollOpinion.poll_id == poll.id)
    )
    return sorted(((name, text) for name, text in rows.all()), key=lambda row: name_key(row[0]))


async def record_paper_voter(
    session: AsyncSession, poll_id: int, member: Member, entered_by: Member, *, now: datetime | None = None
) -> Poll:
    """A secret poll: ``member`` put a ballot in the paper box. Only the roll is written; the
    ballot itself is counted with the box (``count_paper_box``), never with the member's name."""
    poll, _key = await _poll_for_ballot(session, poll_id, member, now)
    if not poll.secret:
        raise PollError(PollProblem.NOT_SECRET)
    await check_poll(session, entered_by, poll)
    if not await insert_ignoring_conflict(
        session, PollVoter, poll_id=poll_id, member_id=member.id, entered_by_member_id=entered_by.id
    ):
        raise PollError(VoteProblem.ALREADY_VOTED)
    audit.record(
        session,
        AuditAction.POLL_PAPER_VOTE,
        actor_id=entered_by.id,
        subject_type="poll",
        subject_id=poll_id,
        after={"member_id": member.id},
    )
    await session.flush()
    return poll


async def count_paper_box(
    session: AsyncSession, poll_id: int, counts: list[int], entered_by: Member, *, ballots_in_box: int | None = None
) -> int:
    """A secret poll: the secretary's count of the paper box (or of part of it), a number per
    option, sealed like an online ballot and counted at the close. ``ballots_in_box`` (blank ones
    too) defaults to the sum of the counts; together with earlier counts it may not exceed the
    members recorded as having voted on paper. The number of ballots counted."""
    # Under the same shared lock as a vote, so the close waits for this count, or it sees it closed.
    poll = await session.get(Poll, poll_id, with_for_update={"read": True}, populate_existing=True)
    if poll is None:
        raise PollError(VoteProblem.BAD_CHOICE)
    await check_poll(session, entered_by, poll)
    if not poll.secret:
        raise PollError(PollProblem.NOT_SECRET)
    if not takes_ballots(poll):
        raise PollError(PollProblem.NOT_OPEN)
    ballots_in_box = sum(counts) if ballots_in_box is None else ballots_in_box
    if (
        len(counts) != len(poll.options)
        or min(counts) < 0
        or ballots_in_box <= 0
        or max(counts) > ballots_in_box
        or sum(counts) > ballots_in_box * poll.max_choices
    ):
        raise PollError(PollProblem.PAPER_COUNTS)
    if not await ballots.add_paper_count(session, poll_id, ballots_in_box):
        raise PollError(PollProblem.PAPER_COUNTS)
    await ballots.drop(session, poll_id, None, ballots.BallotKind.PAPER_BOX, counts)
    # Audited without the counts: with one paper voter, they would be that member's choice.
    audit.record(
        session,
        AuditAction.POLL_PAPER_BOX,
        actor_id=entered_by.id,
        subject_type="poll",
        subject_id=poll_id,
        after={"ballots": ballots_in_box},
    )
    await session.flush()
    return ballots_in_box


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
    """The votes per option. A secret poll's box stays sealed until the close: zeros until then."""
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


async def _blank_ballots(session: AsyncSession, poll: Poll, voters: int, tally: tuple[int, ...]) -> int:
    """An election's ballots that named nobody: voters less the ballots with a choice."""
    if poll.kind is not PollKind.ELECTION:
        return 0
    if poll.max_choices == 1:
        return voters - sum(tally)
    if poll.secret:  # counted when the box was opened (models.ballots.open_and_count)
        query = select(PollTally.votes).where(PollTally.poll_id == poll.id, PollTally.option == len(poll.options))
        return int((await session.exec(query)).first() or 0)
    named = (
        await session.exec(select(func.count(func.distinct(OpenBallot.member_id))).where(OpenBallot.poll_id == poll.id))
    ).one()
    return voters - int(named)


async def _excused_absent(session: AsyncSession, poll: Poll) -> int:
    """Members on the roll absent from the poll's meeting with an accepted reason, who did not vote."""
    if poll.meeting_id is None:
        return 0
    invitations = (
        await session.exec(
            select(MeetingInvitation)
            .join(PollEligible, col(PollEligible.member_id) == MeetingInvitation.member_id)
            .where(MeetingInvitation.meeting_id == poll.meeting_id, PollEligible.poll_id == poll.id)
            .where(col(PollEligible.exempt).is_(False))  # an exempt member absent is deducted as exempt
            .where(col(PollEligible.member_id).not_in(select(PollVoter.member_id).where(PollVoter.poll_id == poll.id)))
        )
    ).all()
    return sum(attendance_of(invitation) is Attendance.EXCUSED for invitation in invitations)


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
    tally = await counts(session, poll)
    deducted = Deductions(
        exempt_absent=exempt_not_voting,
        suspended=poll.suspended_count,
        elsewhere=poll.elsewhere_count,
        excused_absent=await _excused_absent(session, poll),
    )
    return decide(
        poll.kind,
        poll.rule,
        tally,
        voters=voters,
        eligible=eligible,
        deducted=deducted,
        seats=poll.max_choices,
        blank=await _blank_ballots(session, poll, voters, tally),
        numerator=poll.rule_numerator,
        denominator=poll.rule_denominator,
        base=poll.rule_base,
    )


async def close(session: AsyncSession, poll: Poll, *, actor: Actor | None = None, now: datetime | None = None) -> bool:
    """Close the poll once: True for the caller that closed it, False when it already was."""
    if actor is not None:
        await check_poll(session, actor, poll)
    if not await claim(
        session,
        Poll,
        col(Poll.id) == poll.id,
        col(Poll.status) == PollStatus.OPEN,
        status=PollStatus.CLOSED,
        closed_at=now or utcnow(),
    ):
        return False
    await session.refresh(poll)
    if poll.secret:
        # Every vote in progress held the poll row, so this UPDATE waited for them: the box is
        # complete. Opened, counted once, emptied and its keys erased, all in this transaction.
        await ballots.open_and_count(session, poll.id or 0, len(poll.options), poll.max_choices)
    audit.record(
        session,
        AuditAction.POLL_CLOSED,
        actor_id=actor.id if actor is not None else None,
        subject_type="poll",
        subject_id=poll.id,
    )
    return True


async def close_due(session: AsyncSession, now: datetime | None = None) -> list[Poll]:
    """Close every open poll whose deadline has passed; each once, whoever else runs this."""
    now = now or utcnow()
    due = (await session.exec(select(Poll).where(Poll.status == PollStatus.OPEN, col(Poll.deadline) <= now))).all()
    return [poll for poll in due if await close(session, poll, now=now)]


async def non_voters(session: AsyncSession, poll: Poll) -> list[Member]:
    """Who may vote and has not, as registers list them."""
    found = (
        await session.exec(
            select(Member)
            .join(PollEligible, col(PollEligible.member_id) == Member.id)
            .where(PollEligible.poll_id == poll.id, col(Member.active).is_(True))
            .where(col(Member.id).not_in(select(PollVoter.member_id).where(PollVoter.poll_id == poll.id)))
        )
    ).all()
    return sorted(found, key=lambda member: name_key(member.full_name))


@dataclass(frozen=True)
class Nudged:
    """A reminder sent: messages queued, and members who have not voted that chibo cannot message
    (not joined on a channel it can write to first, or they blocked it)."""

    queued: int
    unreachable: int


async def nudge(session: AsyncSession, actor: Actor, poll: Poll, ballot_for: BallotFor, interval: Any) -> Nudged:
    """The ballot again to eligible members who have not voted, at most once per ``interval``. A
    reminder that would reach nobody is refused with the reason and does not start the interval."""
    await check_poll(session, actor, poll)
    if poll.status is not PollStatus.OPEN:
        raise PollError(PollProblem.NOT_OPEN)
    waiting = await non_voters(session, poll)
    if not waiting:
        raise PollError(PollProblem.EVERYONE_VOTED)
    reachable = await push_identities(session, [m.id or 0 for m in waiting])
    if not reachable:
        raise PollError(PollProblem.NOBODY_REACHABLE, str(len(waiting)))
    now = utcnow()
    if not await claim(
        session,
        Poll,
        col(Poll.id) == poll.id,
        col(Poll.last_nudged_at).is_(None) | (col(Poll.last_nudged_at) <= now - interval),
        last_nudged_at=now,
    ):
        raise PollError(PollProblem.NUDGED_RECENTLY)
    queued = await _send(session, poll, waiting, ballot_for)
    return Nudged(queued, len(waiting) - len(reachable))


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
    outbox = Outbox(session)
    queued = sum(
        outbox.add(reach, results_for(m, poll, decision), member_id=m.id)
        for m in members
        if (reach := by_member.get(m.id or 0, []))
    )
    await session.flush()
    return queued


async def open_ballots(session: AsyncSession, poll: Poll) -> list[tuple[str, int, bool]]:
    """An open vote's ballots by name: each voter's name, an option chosen, and whether the
    secretary entered it from paper. Nothing for a secret ballot."""
    if poll.secret:
        return []
    rows = (
        await session.exec(
            select(Member.full_name, OpenBallot.option, PollVoter.entered_by_member_id)
            .join(OpenBallot, col(OpenBallot.member_id) == Member.id)
            .join(PollVoter, (col(PollVoter.member_id) == Member.id) & (col(PollVoter.poll_id) == poll.id))
            .where(OpenBallot.poll_id == poll.id)
        )
    ).all()
    listed = [(name, option, entered is not None) for name, option, entered in rows]
    return sorted(listed, key=lambda row: (name_key(row[0]), row[1]))
