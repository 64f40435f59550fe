"""Taps on an open ballot from many members at once (a branch voting), recorded together (on
PostgreSQL, whose group commit brings them together: bot/runtime.py).

A tap that only casts a member's first ballot in an open vote, with nothing more to do, is handled
here with the others that arrived with it: their members read in one round trip, each poll with
which of them are eligible in one, the roll and the ballots written in one. Everything else (a
refusal, a changed vote, a secret ballot, a vote at a meeting, "Ý kiến khác", a member with an
open question or several events in the batch) is left to ``handlers.conversation.handle``, which
answers it as always. The answer and the rows written are those ``handle`` would make.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from sqlalchemy import String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import actions
from handlers.contract import Catalogs, Inbound, Reply
from handlers.polls.actions import Vote
from handlers.polls.ballots import confirmation
from models.polls import VoteOutcome, plain_votes, record_first_votes
from models.tables import ChannelIdentity, Member, Platform, Poll

# Who is writing, for many at once on one platform (handlers.conversation's _WHO, for a batch): only
# what decides whether a tap is plain, and the member's language; Core rows, no ORM objects.
_WHO_OF_MANY = (
    select(
        col(ChannelIdentity.platform_user_id),
        col(ChannelIdentity.chat_id),
        col(ChannelIdentity.unreachable_at),
        col(ChannelIdentity.awaiting),
        col(Member.id),
        col(Member.active),
        col(Member.locale),
    )
    .join(Member, col(Member.id) == ChannelIdentity.member_id)
    .where(col(ChannelIdentity.platform) == bindparam("platform"))
    # One array, not IN (…): one prepared statement for every size of batch, and a plan that looks up
    # the index for each whatever the planner's statistics say (IN took ten times as long without them).
    .where(col(ChannelIdentity.platform_user_id) == any_(bindparam("user_ids", type_=ARRAY(String))))
)


@dataclass(frozen=True)
class FirstVote:
    """A tap that casts a member's first ballot, found by ``first_votes``."""

    key: int  # the caller's key for the event
    inbound: Inbound
    member_id: int
    locale: str | None
    poll: Poll
    vote: Vote


def tapped_vote(inbound: Inbound) -> Vote | None:
    """The ballot a tap casts, if the event is nothing but that tap."""
    if (
        inbound.payload is None
        or not inbound.payload.startswith("pv:")
        or inbound.attachment is not None
        or inbound.contact_phone is not None
        or inbound.stale_button
    ):
        return None
    try:
        typed = actions.decode(inbound.payload)
    except actions.InvalidPayload:
        return None
    return typed if isinstance(typed, Vote) else None


async def first_votes(session: AsyncSession, events: Mapping[int, Inbound]) -> list[FirstVote]:
    """Of ``events`` (by the caller's keys, in the order they arrived; each from a chat with nothing
    else among the events the caller handles together, as bot/runtime.py's runs are), the taps that
    cast a ballot in an open vote needing nothing else if it is the member's first (see the module's
    docstring; ``record_votes`` finds which are). Reads only, with each poll locked for ballots as
    ``models.polls.vote`` locks it."""
    taps = {key: (inbound, vote) for key, inbound in events.items() if (vote := tapped_vote(inbound)) is not None}
    if not taps:
        return []
    voters: dict[int, tuple[Inbound, Vote, int, str | None]] = {}
    connection = await session.connection()
    for platform in {inbound.platform for inbound, _ in taps.values()}:
        mine = {inbound.user_id: key for key, (inbound, _) in taps.items() if inbound.platform is platform}
        found = await connection.execute(_WHO_OF_MANY, {"platform": platform, "user_ids": list(mine)})
        for user_id, chat_id, unreachable_at, awaiting, member_id, active, locale in found.all():
            key = mine[user_id]
            inbound, vote = taps[key]
            # As handle would find them: active, reachable at this chat, no question open (a tap
            # forgets it, a write these taps do not do).
            if active and unreachable_at is None and chat_id == inbound.chat_id and awaiting is None:
                voters[key] = (inbound, vote, member_id or 0, locale)
    # A member tapping from two accounts at once is left to handle, which takes the taps in turn.
    taps_of = Counter(member_id for _, _, member_id, _ in voters.values())
    voters = {key: voter for key, voter in voters.items() if taps_of[voter[2]] == 1}
    plain: list[FirstVote] = []
    for poll_id in sorted({vote.poll_id for _, vote, _, _ in voters.values()}):
        ballots = {
            key: (member_id, vote.mask) for key, (_, vote, member_id, _) in voters.items() if vote.poll_id == poll_id
        }
        poll, cast = await plain_votes(session, poll_id, ballots)
        if poll is not None:
            for key in sorted(cast):
                inbound, vote, member_id, locale = voters[key]
                plain.append(FirstVote(key, inbound, member_id, locale, poll, vote))
    return plain


async def record_votes(
    session: AsyncSession, catalogs: Catalogs, timezone: ZoneInfo, votes: list[FirstVote]
) -> dict[int, list[Reply]]:
    """Record those of ``votes`` (from ``first_votes``, in the same transaction) that are their
    members' first ballots, and answer each of them, by key. A member already on the roll (a
    changed vote, a ballot already cast) is left out, for ``handle``."""
    # By poll: one member may cast a first ballot in one poll and change another's (two accounts).
    first: set[tuple[int, int]] = set()
    for poll_id in sorted({v.poll.id for v in votes if v.poll.id is not None}):
        first |= {(poll_id, member_id) for member_id in await record_first_votes(session, *_ballots_of(votes, poll_id))}
    # The same choice in the same language gets the same answer: made once (the ballot's text, its
    # deadline in words and its buttons are most of a vote's own work), each with its message to edit.
    made: dict[tuple[int | None, str | None, int, Platform], Reply] = {}
    answers = {}
    for v in votes:
        if (v.poll.id, v.member_id) not in first:
            continue
        same = (v.poll.id, v.locale, v.vote.mask, v.inbound.platform)
        if same not in made:
            translator = catalogs.translator(v.locale)
            made[same] = confirmation(translator, timezone, v.inbound, v.poll, VoteOutcome.RECORDED, v.vote.mask)
        answers[v.key] = [replace(made[same], edit_message_id=v.inbound.source_message_id)]
    return answers


def _ballots_of(votes: list[FirstVote], poll_id: int) -> tuple[Poll, list[tuple[int, int]]]:
    mine = [v for v in votes if v.poll.id == poll_id]
    return mine[0].poll, [(v.member_id, v.vote.mask) for v in mine]
