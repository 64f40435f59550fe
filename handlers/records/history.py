"""The audit log in words: a member's history, and the latest changes in a branch or the commune."""

from __future__ import annotations

import re
from datetime import date

from handlers.context import Context
from handlers.contract import Reply
from handlers.members import role_name, status_name
from handlers.menus import RecentChanges
from handlers.records.actions import History
from handlers.records.card import card_button, router, target
from handlers.records.words import local_phone, standing_name
from models import record_queries
from models.membership import check
from models.permissions import Permission, Target
from models.tables import AuditEvent, Member, MemberStanding, MemberStatus, Role

HISTORY_LENGTH = 10
RECENT_LENGTH = 15


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
    if key == "branch_id" and isinstance(value, int):
        return branches.get(value, f"#{value}")
    if key == "phone":
        return local_phone(str(value))
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return ctx.format_day(date.fromisoformat(value))
    return str(value)


def _action_name(ctx: Context, action: str) -> str:
    _ = ctx.gettext
    return {
        "member.linked": _("joined chibo"),
        "member.language": _("changed language"),
        "member.phone": _("corrected their phone number"),
        "member.added": _("added"),
        "member.imported": _("imported from the register"),
        "member.updated": _("updated from the register"),
        "member.edited": _("edited"),
        "member.moved": _("moved"),
        "member.promoted": _("made official"),
        "member.exempt": _("changed exemption of"),
        "member.deactivated": _("took off the roster"),
        "member.committee_role": _("set the Party committee office of"),
        "member.standing": _("changed the standing of"),
        "member.reactivated": _("reactivated"),
        "invite.issued": _("issued an invite code for"),
        "invite.revoked": _("revoked the invite code of"),
        "invite.refused": _("refused a used, revoked or expired invite code of"),
        "invite.lockout": _("locked out a web chat that typed too many wrong invite codes"),
        "refused": _("was refused"),
    }.get(action, action)


async def describe(ctx: Context, events: list[AuditEvent]) -> list[str]:
    _ = ctx.gettext
    ids = {e.actor_member_id for e in events} | {e.subject_id for e in events if e.subject_type == "member"}
    ids.discard(None)
    names = await record_queries.member_names(ctx.session, ids)
    branches = await record_queries.branch_names(ctx.session)
    lines = []
    for event in events:
        who = names.get(event.actor_member_id) if event.actor_member_id else _("the server (command line)")
        what = _action_name(ctx, event.action)
        line = f"{ctx.format_moment(event.at)} — {who or '?'} {what}"
        if event.subject_type == "member" and event.subject_id != event.actor_member_id:
            line += f" {names.get(event.subject_id, '?')}"
        before, after = event.before or {}, event.after or {}
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
        if changes:
            line += " (" + "; ".join(changes) + ")"
        lines.append(line)
    return lines


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
