"""The secretary's directory: who is in the branch, how each can be reached, and search by name."""

from __future__ import annotations

from collections import defaultdict

from handlers.context import Context
from handlers.contract import Reply
from handlers.members import role_name, status_name
from handlers.menus import BranchRoster
from handlers.questions import Ask, Awaiting, Question
from handlers.records.actions import FindMember, MemberCard
from handlers.records.card import button, cancel_row, router
from handlers.records.words import channel_names
from models import record_queries
from models.membership import check
from models.permissions import Permission, Target
from models.roster import fold
from models.tables import Branch, Member

MAX_RESULTS = 20


async def _reach(ctx: Context, people: list[Member]) -> dict[int, list[str]]:
    """Per member, the channels they joined on, each marked when the platform says unreachable."""
    _ = ctx.gettext
    names = channel_names(ctx)
    reach: dict[int, list[str]] = defaultdict(list)
    for identity in await record_queries.identities_of(ctx.session, [p.id for p in people]):
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


@router.on(BranchRoster)
async def _branch_roster(ctx: Context, member: Member, action: BranchRoster) -> list[Reply]:
    _ = ctx.gettext
    check(member, Permission.VIEW_ROSTER, Target(member.branch_id))
    branch = await ctx.session.get(Branch, member.branch_id)
    people = await record_queries.active_in_branch(ctx.session, member.branch_id)
    reach = await _reach(ctx, people)
    lines = [_("Roster of {branch}").format(branch=branch.name if branch else "—"), ""]
    lines += [_line(ctx, n, p, reach.get(p.id or 0, [])) for n, p in enumerate(people, start=1)]
    lines += ["", _("To open someone's record, tap Find a member or type /find and part of the name.")]
    return [Reply("\n".join(lines), buttons=((button("🔍 " + _("Find a member"), Ask(Question.FIND_MEMBER)),),))]


async def _find(ctx: Context, member: Member, wanted: str) -> list[Reply]:
    """Members whose name contains ``wanted``, with or without diacritics, within the actor's scope."""
    _ = ctx.gettext
    check(member, Permission.VIEW_ROSTER, Target(member.branch_id))
    if not fold(wanted):
        return [Reply(_("Type /find and part of the name, e.g. /find nguyen van"))]
    found = await record_queries.members_named(ctx.session, member, wanted)
    if not found:
        return [Reply(_("Nobody's name contains \u201c{text}\u201d.").format(text=wanted[:40]))]
    shown = found[:MAX_RESULTS]
    reach = await _reach(ctx, shown)
    lines = [_line(ctx, n, p, reach.get(p.id or 0, [])) for n, p in enumerate(shown, start=1)]
    if len(found) > MAX_RESULTS:
        lines.append(_("… and {count} more: type more of the name.").format(count=len(found) - MAX_RESULTS))
    lines += ["", _("Tap a name to open the record.")]
    buttons = tuple(
        (button(f"{n}. {p.full_name}", MemberCard(p.id)),) for n, p in enumerate(shown, start=1) if p.id is not None
    )
    return [Reply("\n".join(lines), buttons=buttons)]


@router.prompts(Question.FIND_MEMBER)
async def _ask_name(ctx: Context, member: Member, awaiting: Awaiting) -> list[Reply]:
    check(member, Permission.VIEW_ROSTER, Target(member.branch_id))
    ctx.ask(awaiting)
    text = ctx.gettext("Type part of the member's name, with or without accents, e.g. nguyen van")
    return [Reply(text, buttons=cancel_row(ctx))]


@router.answers(Question.FIND_MEMBER)
async def _name_typed(ctx: Context, member: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    return await _find(ctx, member, text)


@router.on(FindMember)
async def _find_member(ctx: Context, member: Member, action: FindMember) -> list[Reply]:
    """``/find``: the name is asked for; ``/find nguyen van``: it is looked up at once."""
    if action.name is None:
        return await _ask_name(ctx, member, Awaiting(Question.FIND_MEMBER))
    return await _find(ctx, member, action.name)
