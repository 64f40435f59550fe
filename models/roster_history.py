"""Who was on a branch's roster on a past day, and how they stood then, read from the records: the
audit log (added, imported, moved, made official, exempted), the transfers, the admission
ceremonies and the days of leaving. A report of a past month counts the roster as it was, not as it
is now; nothing is counted separately, so nothing can drift.

One rule for "the day a member came on the branch's roster", used by the dues card, the collection
list, the absence warning and the reports upward alike: the day of their transfer in, of their
admission ceremony, of their move from another branch, or else the day they were added or imported.
A member the records do not show arriving (seeded before chibo kept them) has been on the roster
since their admission. A member put back on the roster (reactivated) counts as never having left:
reactivation undoes a mistake, and the day of leaving is cleared with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import AuditAction
from models.tables import (
    AdmissionCandidate,
    AuditEvent,
    DuesCategory,
    Member,
    MemberStatus,
    MemberTransfer,
    TransferKind,
)


class Came(StrEnum):
    """How a stay on a branch's roster began."""

    KNOWN = "known"  # on it before the records begin: since admission
    ADDED = "added"
    ADMITTED = "admitted"  # the admission ceremony of a candidate the branch followed
    TRANSFERRED = "transferred"  # arrived by transfer from another party organisation
    MOVED = "moved"  # moved from another branch of the commune


_ARRIVALS = (AuditAction.MEMBER_ADDED, AuditAction.MEMBER_IMPORTED)
# Events that may change the branch: a move, or an import that put a known member in another branch.
_MOVES = (AuditAction.MEMBER_MOVED, AuditAction.MEMBER_UPDATED)
_READ = (*_ARRIVALS, *_MOVES, AuditAction.MEMBER_PROMOTED, AuditAction.MEMBER_EXEMPT, AuditAction.MEMBER_DUES_CATEGORY)


@dataclass(frozen=True)
class Stay:
    """A member's time on one branch's roster: from ``since`` (None: before the records begin) to the
    day before ``until`` (None: still on it)."""

    member: Member
    branch_id: int
    since: date | None
    came: Came
    until: date | None = None
    moved_to: int | None = None  # ended by a move to this branch; else by leaving the roster

    def on(self, day: date) -> bool:
        if self.member.date_admitted is not None and self.member.date_admitted > day:
            return False
        return (self.since is None or self.since <= day) and (self.until is None or day < self.until)

    def began_within(self, first: date, last: date) -> bool:
        """Came on the roster between the two days (both included): an arrival of that period."""
        start = self.since
        if start is None or (self.member.date_admitted is not None and self.member.date_admitted > start):
            start = self.member.date_admitted
        return start is not None and first <= start <= last

    def ended_within(self, first: date, last: date) -> bool:
        return self.until is not None and first <= self.until <= last


@dataclass(frozen=True)
class MemberHistory:
    member: Member
    stays: tuple[Stay, ...]
    official_from: date | None  # counted official in the books from this day (None: never, or unknown)
    exempt_changes: tuple[tuple[date, bool, bool], ...]  # (day, before, after), in order
    away: tuple[tuple[date, date | None], ...]  # temporary transfers: (from, back on)
    # The dues category and base as audited by ``dues.set_category``: (day, before, after), in order,
    # each holding the values that changed.
    dues_changes: tuple[tuple[date, dict[str, Any], dict[str, Any]], ...] = ()

    @property
    def since(self) -> date | None:
        """The day the member came on their present branch's roster (None: since admission)."""
        return self.stays[-1].since if self.stays else None

    def stay(self, branch_id: int, day: date) -> Stay | None:
        return next((s for s in self.stays if s.branch_id == branch_id and s.on(day)), None)

    def official_on(self, day: date) -> bool:
        if self.official_from is not None:
            return self.official_from <= day
        return self.member.status is MemberStatus.OFFICIAL and self.member.date_official is None

    def exempt_on(self, day: date) -> bool:
        return _as_of(self.exempt_changes, day, self.member.exempt)

    def dues_on(self, day: date) -> tuple[DuesCategory | None, int | None]:
        """The dues category and base in effect at the end of ``day``: the present ones with every
        change made after that day undone; before the first one ever recorded, the first recorded
        (a category not yet entered is not "owes nothing")."""
        state: dict[str, Any] = {"dues_category": self.member.dues_category, "dues_base": self.member.dues_base}
        for on, before, _after in reversed(self.dues_changes):
            if on <= day:
                break
            state.update(before)
        if state["dues_category"] is None:
            recorded = next((after for _on, _before, after in self.dues_changes if after.get("dues_category")), None)
            if recorded is not None:
                state = {"dues_base": None, **recorded}
        category = state["dues_category"]
        return (DuesCategory(category) if category is not None else None), state["dues_base"]

    def away_on(self, day: date) -> bool:
        """Temporarily active elsewhere on the day (chuyển sinh hoạt tạm thời)."""
        return any(start <= day and (back is None or day < back) for start, back in self.away)


def _as_of(changes: tuple[tuple[date, bool, bool], ...], day: date, current: bool) -> bool:
    """A value on ``day`` from its audited changes: the last one made by then, or the value before the
    first one made after it; the value now when it never changed."""
    earlier = [after for on, _before, after in changes if on <= day]
    if earlier:
        return earlier[-1]
    return changes[0][1] if changes else current


def local_day(moment: datetime, tz: tzinfo) -> date:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(tz).date()


def _branch_change(event: AuditEvent) -> tuple[int, int] | None:
    before, after = (event.before or {}).get("branch_id"), (event.after or {}).get("branch_id")
    if isinstance(before, int) and isinstance(after, int) and before != after:
        return before, after
    return None


async def _members_of(session: AsyncSession, branch_id: int) -> list[int]:
    """The members on the branch's roster now, and those who moved in or out of it at some time."""
    ids = set((await session.exec(select(Member.id).where(Member.branch_id == branch_id))).all())
    moves = await session.exec(
        select(AuditEvent).where(
            AuditEvent.subject_type == "member", col(AuditEvent.action).in_([a.value for a in _MOVES])
        )
    )
    for event in moves.all():
        change = _branch_change(event)
        if change is not None and branch_id in change and event.subject_id is not None:
            ids.add(event.subject_id)
    return sorted(i for i in ids if i is not None)


async def histories(
    session: AsyncSession,
    *,
    branch_id: int | None = None,
    member_ids: Iterable[int] = (),
    tz: tzinfo = UTC,
) -> dict[int, MemberHistory]:
    """The histories of the given members, or of every member who was ever on the branch's roster."""
    ids = await _members_of(session, branch_id) if branch_id is not None else sorted(set(member_ids))
    if not ids:
        return {}
    members = (await session.exec(select(Member).where(col(Member.id).in_(ids)))).all()
    events: dict[int, list[AuditEvent]] = {}
    rows = await session.exec(
        select(AuditEvent)
        .where(AuditEvent.subject_type == "member", col(AuditEvent.subject_id).in_(ids))
        .where(col(AuditEvent.action).in_([a.value for a in _READ]))
        .order_by(col(AuditEvent.at), col(AuditEvent.id))
    )
    for event in rows.all():
        events.setdefault(event.subject_id or 0, []).append(event)
    transfers: dict[int, list[MemberTransfer]] = {}
    for transfer in (
        await session.exec(
            select(MemberTransfer)
            .where(col(MemberTransfer.member_id).in_(ids))
            .where(col(MemberTransfer.kind).in_([TransferKind.IN, TransferKind.TEMPORARY]))
            .order_by(col(MemberTransfer.day), col(MemberTransfer.id))
        )
    ).all():
        transfers.setdefault(transfer.member_id, []).append(transfer)
    ceremonies = {
        c.member_id: c.ceremony_on
        for c in (
            await session.exec(select(AdmissionCandidate).where(col(AdmissionCandidate.member_id).in_(ids)))
        ).all()
    }
    return {
        m.id or 0: _history(m, events.get(m.id or 0, []), transfers.get(m.id or 0, []), ceremonies.get(m.id), tz)
        for m in members
    }


def _history(
    member: Member, events: list[AuditEvent], transfers: list[MemberTransfer], ceremony: date | None, tz: tzinfo
) -> MemberHistory:
    arrived = next((local_day(e.at, tz) for e in events if e.action in {a.value for a in _ARRIVALS}), None)
    came_in = next((t.day for t in transfers if t.kind is TransferKind.IN), None)
    since, came = None, Came.KNOWN
    if came_in is not None:
        since, came = came_in, Came.TRANSFERRED
    elif ceremony is not None:
        since, came = ceremony, Came.ADMITTED
    elif arrived is not None:
        since, came = arrived, Came.ADDED
    moves = [(local_day(e.at, tz), change) for e in events if (change := _branch_change(e)) is not None]
    stays: list[Stay] = []
    branch = moves[0][1][0] if moves else member.branch_id
    for day, (_left, joined) in moves:
        stays.append(Stay(member, branch, since, came, until=day, moved_to=joined))
        branch, since, came = joined, day, Came.MOVED
    until = member.deactivated_on if not member.active else None
    stays.append(Stay(member, branch, since, came, until=until))
    return MemberHistory(
        member=member,
        stays=tuple(stays),
        official_from=_official_from(member, events, tz),
        exempt_changes=tuple(
            (local_day(e.at, tz), bool((e.before or {}).get("exempt")), bool((e.after or {}).get("exempt")))
            for e in events
            if e.action == AuditAction.MEMBER_EXEMPT.value
        ),
        away=tuple((t.day, t.ended_on) for t in transfers if t.kind is TransferKind.TEMPORARY),
        dues_changes=tuple(
            (local_day(e.at, tz), dict(e.before or {}), dict(e.after or {}))
            for e in events
            if e.action == AuditAction.MEMBER_DUES_CATEGORY.value
        ),
    )


def _official_from(member: Member, events: list[AuditEvent], tz: tzinfo) -> date | None:
    """From when the books count the member official: the day the branch decided, never earlier
    (the member is official from the end of probation, Quy định 29, but a report already sent for a
    month before the decision said probationary, and says so still); the day made official for one
    added as official."""
    if member.status is not MemberStatus.OFFICIAL:
        return None
    promoted = [e for e in events if e.action == AuditAction.MEMBER_PROMOTED.value]
    if promoted:
        after: dict[str, Any] = promoted[-1].after or {}
        decided = after.get("decided_on")
        day = date.fromisoformat(decided) if isinstance(decided, str) else local_day(promoted[-1].at, tz)
        return max(day, member.date_official) if member.date_official is not None else day
    return member.date_official
