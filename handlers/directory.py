"""The secretary's directory: who is in the branch, how each can be reached, and search by name."""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import col, select

from handlers.context import Context
from handlers.contract import Button, Reply
from handlers.members import refused, role_name, status_name
from handlers.payloads import Action, Payload
from models.permissions import Permission, Scope, Target, may, scope_of
from models.roster import fold
from models.tables import Branch, ChannelIdentity, Member, Platform

MAX_RESULTS = 20


def channel_names(ctx: Context) -> dict[Platform, str]:
    return {
        Platform.TELEGRAM: "Telegram",
        Platform.WEB: ctx.gettext("web chat"),
        Platform.ZALO_BOT: "Zalo",
        Platform.ZALO_OA: "Zalo OA",
    }


async def _reach(ctx: Context, people: list[Member]) -> dict[int, list[str]]:
    """Per member, the channels they joined on, each marked when the platform says unreachable."""
    _ = ctx.gettext
    names = channel_names(ctx)
    identities = (
        await ctx.session.exec(
            select(ChannelIdentity).where(col(ChannelIdentity.member_id).in_([p.id for p in people]))
        )
    ).all()
    reach: dict[int, list[str]] = defaultdict(list)
    for identity in identities:
        label = names[identity.platform]
        if identity.unreachable_at is not None:
            label += " " + _("(unreachable)")
        reach[identity.member_id].append(label)
    return reach


def _line(ctx: Context, number: int, person: Member, reach: list[str]) -> str:
    joined = ", ".join(sorted(set(reach))) if reach else ctx.gettext("not joined yet")
    return (
        f"{number}. {person.full_name} — {role_name(ctx, person.role)}, "
        f"{status_name(ctx, person.status).lower()}, {joined}"
    )


async def branch_roster(ctx: Context, member: Member) -> list[Reply]:
    _ = ctx.gettext
    own_branch = Target(member.branch_id)
    if not may(member, Permission.VIEW_ROSTER, own_branch):
        return refused(ctx, member, Permission.VIEW_ROSTER, own_branch)
    branch = await ctx.session.get(Branch, member.branch_id)
    people = list(
        (
            await ctx.session.exec(
                select(Member)
                .where(Member.branch_id == member.branch_id, col(Member.active).is_(True))
                .order_by(col(Member.id))
            )
        ).all()
    )
    reach = await _reach(ctx, people)
    lines = [_("Roster of {branch}").format(branch=branch.name if branch else "—"), ""]
    lines += [_line(ctx, n, p, reach.get(p.id or 0, [])) for n, p in enumerate(people, start=1)]
    lines += ["", _("To open someone's record, tap Find a member or type /find and part of the name.")]
    return [
        Reply("\n".join(lines), buttons=((Button("🔍 " + _("Find a member"), Payload(Action.ASK, "find").encode()),),))
    ]


async def find_members(ctx: Context, member: Member, wanted: str) -> list[Reply]:
    """Members whose name contains ``wanted``, with or without diacritics, within the actor's scope."""
    _ = ctx.gettext
    own_branch = Target(member.branch_id)
    if not may(member, Permission.VIEW_ROSTER, own_branch):
        return refused(ctx, member, Permission.VIEW_ROSTER, own_branch)
    needle = fold(wanted)
    if not needle:
        return [Reply(_("Type /find and part of the name, e.g. /find nguyen van"))]
    query = select(Member).where(col(Member.active).is_(True)).order_by(col(Member.branch_id), col(Member.id))
    if scope_of(member) is not Scope.COMMUNE:
        query = query.where(Member.branch_id == member.branch_id)
    found = [p for p in (await ctx.session.exec(query)).all() if needle in fold(p.full_name)]
    if not found:
        return [Reply(_("Nobody's name contains \u201c{text}\u201d.").format(text=wanted[:40]))]
    reach = await _reach(ctx, found[:MAX_RESULTS])
    lines = [_line(ctx, n, p, reach.get(p.id or 0, [])) for n, p in enumerate(found[:MAX_RESULTS], start=1)]
    if len(found) > MAX_RESULTS:
        lines.append(_("… and {count} more: type more of the name.").format(count=len(found) - MAX_RESULTS))
    lines += ["", _("Tap a name to open the record.")]
    buttons = tuple(
        (Button(f"{n}. {p.full_name}", Payload(Action.MEMBER_CARD, str(p.id)).encode()),)
        for n, p in enumerate(found[:MAX_RESULTS], start=1)
    )
    return [Reply("\n".join(lines), buttons=buttons)]
