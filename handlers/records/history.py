"""The audit log in words: a member's history, and the latest changes in a branch or the commune."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from handlers.books.words import level_name, step_name
from handlers.context import Context
from handlers.contract import Reply
from handlers.dues.words import money, short_category
from handlers.members import role_name, status_name
from handlers.menus import RecentChanges
from handlers.records.actions import History
from handlers.records.card import card_button, router, target
from handlers.records.words import channel_names, local_phone, reason_name, standing_name
from models import audit_sentences, record_queries
from models.books import Step
from models.membership import check
from models.permissions import Permission, Target
from models.tables import (
    Attendance,
    AuditEvent,
    DeactivationReason,
    DuesCategory,
    Member,
    MemberStanding,
    MemberStatus,
    Platform,
    ReviewLevel,
    Role,
)

HISTORY_LENGTH = 10
RECENT_LENGTH = 15
TITLE_LENGTH = 60
# A language is named in its own words, as on the buttons that choose it.
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}


def _field_name(ctx: Context, key: str) -> str:
    _ = ctx.gettext
    return {
        "full_name": _("name"),
        "birth_date": _("birth date"),
        "gender": _("gender"),
        "phone": _("phone"),
        "card_number": _("card number"),
        "role": _("role"),
        "committee_role": _("Party committee office"),
        "status": _("status"),
        "date_admitted": _("date joined"),
        "date_official": _("date made official"),
        "exempt": _("exempt"),
        "standing": _("standing"),
        "notes": _("notes"),
        "branch_id": _("branch"),
        "active": _("active"),
        "locale": _("language"),
        "dues_category": _("dues category"),
        "dues_base": _("salary or pension for dues"),
    }.get(key, key)


def _value(ctx: Context, key: str, value: object, branches: dict[int | None, str]) -> str:
    _ = ctx.gettext
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if key == "role" and value in Role.__members__.values():
        return role_name(ctx, Role(str(value)))
    if key == "standing" and value in MemberStanding.__members__.values():
        return standing_name(ctx, MemberStanding(str(value)))
    if key == "status" and value in MemberStatus.__members__.values():
        return status_name(ctx, MemberStatus(str(value)))
    if key == "dues_category" and value in DuesCategory.__members__.values():
        return short_category(ctx, DuesCategory(str(value)))
    if key == "dues_base" and isinstance(value, int):
        return money(ctx.translator, value)
    if key == "branch_id" and isinstance(value, int):
        return branches.get(value, f"#{value}")
    if key == "phone":
        return local_phone(str(value))
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return ctx.format_day(date.fromisoformat(value))
    return str(value)


def _changes(ctx: Context, before: dict[str, Any], after: dict[str, Any], branches: dict[int | None, str]) -> str:
    """The changed fields, "field: before → after; …"."""
    _ = ctx.gettext
    changes = [
        f"{_field_name(ctx, key)}: {_value(ctx, key, before.get(key), branches)} → "
        f"{_value(ctx, key, after.get(key), branches)}"
        for key in after
        if key in before
    ]
    if "votes_for" in after:  # the branch's vote on making a probationary member official
        changes.append(
            _("branch vote of {day}: {votes_for}/{officials} official members in favour").format(
                day=_value(ctx, "day", after.get("decided_on"), branches),
                votes_for=after["votes_for"],
                officials=after.get("officials"),
            )
        )
    return "; ".join(changes) or "—"


def _attendance_name(ctx: Context, value: object) -> str:
    _ = ctx.gettext
    words = {
        Attendance.PRESENT: _("present"),
        Attendance.EXCUSED: _("excused"),
        Attendance.ABSENT: _("absent without reason"),
        Attendance.UNRECORDED: _("not recorded yet"),
    }
    return words[Attendance(str(value))] if value in Attendance.__members__.values() else str(value)


def _moment(ctx: Context, value: object) -> str:
    return ctx.format_moment(datetime.fromisoformat(value)) if isinstance(value, str) else "?"


class _Known(dict[str, object]):
    """The fields of one event; one the event did not store (an older row) reads "?"."""

    def __missing__(self, key: str) -> str:
        return "?"


def _title(text: str) -> str:
    """A notice is known by its first line, shortened."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


async def describe(ctx: Context, events: list[AuditEvent]) -> list[str]:
    """Each event as the sentence of models/audit_sentences.py, after its moment."""
    _ = ctx.gettext
    ids: set[int | None] = {e.actor_member_id for e in events}
    ids |= {e.subject_id for e in events if e.subject_type == "member"}
    ids |= {(e.after or {}).get("member_id") for e in events}
    ids.discard(None)
    names = await record_queries.member_names(ctx.session, ids)
    branches = await record_queries.branch_names(ctx.session)
    wanted: dict[str, set[int]] = {}
    for event in events:
        if event.subject_id is not None:
            wanted.setdefault(event.subject_type, set()).add(event.subject_id)
    titles = await record_queries.subject_titles(ctx.session, wanted)
    meeting_ids = {m for e in events if isinstance(m := (e.after or {}).get("meeting"), int)}
    starts = await record_queries.meeting_starts(ctx.session, meeting_ids) if meeting_ids else {}
    lines = []
    for event in events:
        before, after = event.before or {}, event.after or {}
        actor = names.get(event.actor_member_id, "?") if event.actor_member_id else _("the server (command line)")
        subject = _subject(event, names, branches, titles)
        msgid = audit_sentences.sentence(event.action, attended=event.actor_member_id is not None)
        if msgid is None:  # a row older than the enum: the action as stored
            changes = _changes(ctx, before, after, branches)
            text = " ".join(filter(None, (actor, event.action, subject))) + ("" if changes == "—" else f" ({changes})")
        else:
            meeting = after.get("meeting")
            fields = _Known(
                audit_sentences.stored_fields(before, after),
                actor=actor,
                subject=subject or "?",
                changes=_changes(ctx, before, after, branches),
                at=_moment(ctx, after.get("at")),
                starts_at=_moment(ctx, after.get("starts_at")),
                previous=_moment(ctx, before.get("starts_at")),
            )
            if "platform" in fields and fields["platform"] in Platform.__members__.values():
                fields["platform"] = channel_names(ctx)[Platform(str(fields["platform"]))]
            if "locale" in after:
                fields["language"] = LANGUAGE_NAMES.get(str(after["locale"]), str(after["locale"]))
            if after.get("deactivation_reason") in DeactivationReason.__members__.values():
                fields["reason"] = reason_name(ctx, DeactivationReason(str(after["deactivation_reason"])))
            if "attendance" in after:
                fields["attendance"] = _attendance_name(ctx, after["attendance"])
                if isinstance(after.get("excuse"), str):
                    fields["attendance"] = _("excused, reason: {reason}").format(reason=after["excuse"])
            if "member_id" in after:
                fields["member"] = names.get(after["member_id"], "?")
            for key in ("on", "until"):  # the days of a transfer or an admission step
                if isinstance(after.get(key), str):
                    fields[key] = _value(ctx, key, after[key], branches)
            if after.get("step") in Step.__members__.values():
                fields["step"] = step_name(ctx.translator, Step(str(after["step"])))
            if after.get("level") in ReviewLevel.__members__.values():
                fields["level"] = level_name(ctx.translator, ReviewLevel(str(after["level"])))
            if isinstance(meeting, int) and meeting in starts:
                fields["day"] = ctx.format_day(starts[meeting].astimezone(ctx.timezone).date())
            text = _(msgid).format_map(fields)
        lines.append(f"{ctx.format_moment(event.at)} — {text}")
    return lines


def _subject(
    event: AuditEvent,
    names: dict[int | None, str],
    branches: dict[int | None, str],
    titles: dict[tuple[str, int], str],
) -> str:
    """The member, meeting, notice, poll or branch the event was done to, as the reader knows it."""
    if event.subject_id is None:
        return ""
    if event.subject_type == "member":
        return names.get(event.subject_id, "?")
    if event.subject_type == "branch":
        return branches.get(event.subject_id, "?")
    title = titles.get((event.subject_type, event.subject_id))
    if title is None:
        return "?"
    return _title(title) if event.subject_type == "notice" else title


@router.on(History)
async def _history(ctx: Context, actor: Member, action: History) -> list[Reply]:
    _ = ctx.gettext
    member = await target(ctx, actor, action.member_id, Permission.VIEW_AUDIT)
    events = await record_queries.member_history(ctx.session, member, HISTORY_LENGTH)
    lines = [_("History of {name}, newest first:").format(name=member.full_name), ""]
    lines += await describe(ctx, events) or [_("Nothing recorded yet.")]
    return [Reply("\n".join(lines), buttons=((card_button(member),),))]


@router.on(RecentChanges)
async def _recent_changes(ctx: Context, actor: Member, action: RecentChanges) -> list[Reply]:
    """The latest changes and refusals in the actor's branch (or the whole commune)."""
    _ = ctx.gettext
    check(actor, Permission.VIEW_AUDIT, Target(actor.branch_id))
    events = await record_queries.recent_events(ctx.session, actor, RECENT_LENGTH)
    lines = [_("Recent changes, newest first:"), ""]
    lines += await describe(ctx, events) or [_("Nothing recorded yet.")]
    return [Reply("\n".join(lines))]
