"""Taps on an open ballot from many members at once (a branch voting), recorded together.

A tap that only casts a member's first ballot in an open vote, with nothing more to do, is handled
here with the others that arrived with it: their members read in one round trip, each poll's
eligible voters in one, the roll and the ballots written in one statement each. Everything else (a
refusal, a changed vote, a secret ballot, a vote at a meeting, "Ý kiến khác", a member with an
open question or several events in the batch) is left to ``handlers.conversation.handle``, which
answers it as always. The answer and the rows written are those ``handle`` would make.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import actions
from handlers.contract import Catalogs, Inbound, Reply
from handlers.polls.actions import Vote
from handlers.polls.ballots import confirmation
from models.polls import VoteOutcome, plain_first_votes, record_first_votes
from models.tables import ChannelIdentity, Member, Platform, Poll

# Who is writing, for many at once on one platform (handlers.conversation's _WHO, for a batch).
_WHO_OF_MANY = (
    select(ChannelIdentity, Member)
    .join(Member, col(Member.id) == ChannelIdentity.member_id)
    .where(col(ChannelIdentity.platform) == bindparam("platform"))
    .where(col(ChannelIdentity.platform_user_id).in_(bindparam("user_ids", expanding=True)))
)


@dataclass(frozen=True)
class FirstVote:
    """A tap that casts a member's first ballot, found by ``first_votes``."""

    key: int  # the caller's key for the event
    inbound: Inbound
    member: Member
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
    """Of ``events`` (by the caller's keys, in the order they arrived), the taps that cast a
    member's first ballot in an open vote and need nothing else (see the module's docstring). Reads
    only, with each poll locked for ballots as ``models.polls.vote`` locks it."""
    writers = Counter((inbound.platform, inbound.user_id) for inbound in events.values())
    taps = {
        key: (inbound, vote)
        for key, inbound in events.items()
        if writers[(inbound.platform, inbound.user_id)] == 1 and (vote := tapped_vote(inbound)) is not None
    }
    if not taps:
        return []
    voters: dict[int, tuple[Inbound, Vote, Member]] = {}
    for platform in {inbound.platform for inbound, _ in taps.values()}:
        mine = {inbound.user_id: key for key, (inbound, _) in taps.items() if inbound.platform is platform}
        found = await session.exec(_WHO_OF_MANY, params={"platform": platform, "user_ids": list(mine)})
        for identity, member in found.all():
            key = mine[identity.platform_user_id]
            inbound, vote = taps[key]
            # As handle would find them: active, reachable at this chat, no question open (a tap
            # forgets it, a write these taps do not do).
            if (
                member.active
                and identity.unreachable_at is None
                and identity.chat_id == inbound.chat_id
                and identity.awaiting is None
            ):
                voters[key] = (inbound, vote, member)
    plain: list[FirstVote] = []
    for poll_id in sorted({vote.poll_id for _, vote, _ in voters.values()}):
        ballots = {key: (member, vote.mask) for key, (_, vote, member) in voters.items() if vote.poll_id == poll_id}
        poll, cast = await plain_first_votes(session, poll_id, ballots)
        if poll is not None:
            plain += [FirstVote(key, voters[key][0], voters[key][2], poll, voters[key][1]) for key in sorted(cast)]
    return plain


async def record_votes(
    session: AsyncSession, catalogs: Catalogs, timezone: ZoneInfo, votes: list[FirstVote]
) -> dict[int, list[Reply]]:
    """Record ``votes`` (from ``first_votes``, in the same transaction) and answer each, by key.
    Raises models.polls.RollChanged when a member turned out to be on the roll already."""
    for poll_id in sorted({v.poll.id for v in votes if v.poll.id is not None}):
        await record_first_votes(session, *_ballots_of(votes, poll_id))
    # The same choice in the same language gets the same answer: made once (the ballot's text, its
    # deadline in words and its buttons are most of a vote's own work), each with its message to edit.
    made: dict[tuple[int | None, str | None, int, Platform], Reply] = {}
    answers = {}
    for v in votes:
        same = (v.poll.id, v.member.locale, v.vote.mask, v.inbound.platform)
        if same not in made:
            translator = catalogs.translator(v.member.locale)
            made[same] = confirmation(translator, timezone, v.inbound, v.poll, VoteOutcome.RECORDED, v.vote.mask)
        answers[v.key] = [replace(made[same], edit_message_id=v.inbound.source_message_id)]
    return answers


def _ballots_of(votes: list[FirstVote], poll_id: int) -> tuple[Poll, list[tuple[Member, int]]]:
    mine = [v for v in votes if v.poll.id == poll_id]
    return mine[0].poll, [(v.member, v.vote.mask) for v in mine]
