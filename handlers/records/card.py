"""A member's card as the secretary reads it, with the buttons of every change it offers; the one
place a button's member is loaded and the sender's permission on them checked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers.actions import ActionData
from handlers.books.actions import TransferKinds
from handlers.context import Context
from handlers.contract import Button, Reply, Rows
from handlers.dues.actions import DuesCard
from handlers.members import Cancel, home, role_name, status_name
from handlers.questions import Ask, Question
from handlers.records.actions import (
    ChooseBranch,
    CommitteeOffices,
    DeactivationReasons,
    History,
    MemberCard,
    NewInvite,
    Reactivate,
    RevokeInvites,
    Roles,
    SetExempt,
    Standings,
)
from handlers.records.words import (
    channel_names,
    committee_office_name,
    local_phone,
    problem_text,
    reason_name,
    standing_name,
)
from handlers.router import Router
from models import books, record_queries
from models.errors import NotFound
from models.membership import InvalidChange, check, target_of
from models.permissions import Permission, Scope, scope_of
from models.tables import Branch, Member, MemberStatus, Role, TransferKind
from models.vietnamese import shorten

router = Router("records")


def button(label: str, action: ActionData) -> Button:
    return Button(label, action.pack())


def cancel_row(ctx: Context) -> Rows:
    return ((button("✖️ " + ctx.gettext("Cancel"), Cancel()),),)


def card_button(member: Member, *, name_limit: int | None = None) -> Button:
    assert member.id is not None
    name = member.full_name if name_limit is None else shorten(member.full_name, name_limit)
    return button("👤 " + name, MemberCard(member.id))


async def target(ctx: Context, actor: Member, member_id: int, permission: Permission) -> Member:
    """The member a button is about, when the actor may act on them: ``NotFound`` when there is no
    such member, ``NotPermitted`` when the actor may not."""
    member = await ctx.session.get(Member, member_id)
    if member is None:
        raise NotFound(f"member {member_id}")
    check(actor, permission, target_of(member))
    return member


async def _card_text(ctx: Context, member: Member) -> tuple[str, bool]:
    """The record as the secretary reads it, and whether an unused invite code is out."""
    _ = ctx.gettext
    branch = await ctx.session.get(Branch, member.branch_id)
    identities = await record_queries.identities_of(ctx.session, [member.id])
    names = channel_names(ctx)
    channels = [names[i.platform] + (" " + _("(unreachable)") if i.unreachable_at else "") for i in identities]
    status = status_name(ctx, member.status)
    if member.status is MemberStatus.OFFICIAL and member.date_official:
        status += " " + _("(since {day})").format(day=ctx.format_day(member.date_official))
    lines = [
        f"{member.full_name} (#{member.id})",
        _("Branch: {value}").format(value=branch.name if branch else "—"),
        _("Role: {value}").format(value=role_name(ctx, member.role)),
        _("Status: {value}").format(value=status),
        _("Birth date: {value}").format(value=ctx.format_day(member.birth_date)),
        _("Phone: {value}").format(value=local_phone(member.phone)),
        _("Party card number: {value}").format(value=member.card_number or "—"),
        _("Date joined the Party: {value}").format(value=ctx.format_day(member.date_admitted)),
        _("Exempt from regular activities: {value}").format(value=_("yes") if member.exempt else _("no")),
        _("Standing: {value}").format(value=standing_name(ctx, member.standing)),
        _("Reached on: {value}").format(value=", ".join(sorted(channels)) or _("not joined yet")),
    ]
    invite = await record_queries.open_invite(ctx.session, member)
    if invite is not None:
        lines.append(
            _("Unused invite code, valid until {day}").format(
                day=ctx.format_day(invite.expires_at.astimezone(ctx.timezone).date())
            )
        )
    if not member.active:
        reason = reason_name(ctx, member.deactivation_reason) if member.deactivation_reason else "—"
        lines.append(
            _("Taken off the roster on {day} ({reason}).").format(
                day=ctx.format_day(member.deactivated_on), reason=reason
            )
        )
    lines += await _transfer_lines(ctx, member)
    if member.committee_role is not None:
        lines.insert(3, _("Party committee: {value}").format(value=committee_office_name(ctx, member.committee_role)))
    return "\n".join(lines), invite is not None


async def _transfer_lines(ctx: Context, member: Member) -> list[str]:
    """Where the member is active or keeps in touch now, and where they came from or went."""
    _ = ctx.gettext
    lines = []
    for transfer in await books.transfers_of(ctx.session, member.id or 0):
        day = ctx.format_day(transfer.day)
        if transfer.kind is TransferKind.TEMPORARY and transfer.ended_on is None:
            text = _("Temporarily active in {organisation} from {day} until {until}")
            lines.append(text.format(organisation=transfer.organisation, day=day, until=ctx.format_day(transfer.until)))
        elif transfer.kind is TransferKind.RESIDENCE and transfer.ended_on is None:
            text = _("Keeps in touch with {organisation} where they live (since {day})")
            lines.append(text.format(organisation=transfer.organisation, day=day))
        elif transfer.kind is TransferKind.IN:
            lines.append(
                _("Transferred from {organisation} on {day}").format(organisation=transfer.organisation, day=day)
            )
        elif transfer.kind is TransferKind.OUT:
            lines.append(
                _("Transferred to {organisation} on {day}").format(organisation=transfer.organisation, day=day)
            )
    return lines


def _card_buttons(ctx: Context, actor: Member, member: Member, has_invite: bool) -> Rows:
    _ = ctx.gettext
    ident = member.id
    assert ident is not None
    if not member.active:
        return ((button("↩️ " + _("Reactivate"), Reactivate(ident)), button("📜 " + _("History"), History(ident))),)
    rows: list[tuple[Button, ...]] = [
        (
            button("📱 " + _("Phone"), Ask(Question.MEMBER_PHONE, ident)),
            button("✏️ " + _("Name"), Ask(Question.MEMBER_NAME, ident)),
        ),
        (
            button("🎂 " + _("Birth date"), Ask(Question.MEMBER_BIRTH, ident)),
            button("🪪 " + _("Card number"), Ask(Question.MEMBER_CARD_NUMBER, ident)),
        ),
        (button("📅 " + _("Date joined the Party"), Ask(Question.MEMBER_ADMITTED, ident)),),
    ]
    role_row = [button("👔 " + _("Role"), Roles(ident))]
    if member.status is MemberStatus.PROBATIONARY:
        role_row.append(button("⭐ " + _("Make official"), Ask(Question.OFFICIAL_DAY, ident)))
    elif actor.committee_role is Role.SECRETARY and actor.id != member.id:
        role_row.append(button("🏛 " + _("Party committee office"), CommitteeOffices(ident)))
    rows.append(tuple(role_row))
    exempt = (
        button("✅ " + _("End exemption"), SetExempt(ident, False))
        if member.exempt
        else button(_("Exempt from activities"), SetExempt(ident, True))
    )
    move_row = [exempt, button("⏸ " + _("Standing"), Standings(ident))]
    if scope_of(actor) is Scope.COMMUNE:
        move_row.append(button("🔀 " + _("Move to another branch"), ChooseBranch(ident)))
    rows.append(tuple(move_row))
    invite_row = [button("🔑 " + _("New invite code"), NewInvite(ident))]
    if has_invite:
        invite_row.append(button("🚫 " + _("Revoke invite code"), RevokeInvites(ident)))
    rows.append(tuple(invite_row))
    rows.append((button("🔀 " + _("Transfer"), TransferKinds(ident)),))
    rows.append(
        (button("📜 " + _("History"), History(ident)), button(_("Take off the roster"), DeactivationReasons(ident)))
    )
    rows.append((button("💵 " + _("Party dues"), DuesCard(ident)),))
    return tuple(rows)


async def card(ctx: Context, actor: Member, member: Member, note: str = "") -> Reply:
    text, has_invite = await _card_text(ctx, member)
    return Reply((note + "\n\n" if note else "") + text, buttons=_card_buttons(ctx, actor, member, has_invite))


async def refused_on_card(ctx: Context, actor: Member, member: Member, error: InvalidChange) -> list[Reply]:
    """A change the rules refuse: the card again, with why on top."""
    return [await card(ctx, actor, member, "⚠️ " + problem_text(ctx.translator, error))]


async def change(
    ctx: Context, actor: Member, member_id: int, change: Callable[[Member], Awaitable[object]]
) -> list[Reply]:
    """Make a change the card offers, then show the card: saved, or why not."""
    member = await target(ctx, actor, member_id, Permission.EDIT_MEMBER)
    try:
        await change(member)
    except InvalidChange as error:
        return await refused_on_card(ctx, actor, member, error)
    await ctx.session.flush()
    return [await card(ctx, actor, member, "✅ " + ctx.gettext("Saved."))]


@router.on(MemberCard)
async def _member_card(ctx: Context, actor: Member, action: MemberCard) -> list[Reply]:
    member = await target(ctx, actor, action.member_id, Permission.VIEW_ROSTER)
    return [await card(ctx, actor, member)]


@router.renders(InvalidChange)
def _invalid_change(ctx: Context, actor: Member, error: InvalidChange) -> list[Reply]:
    return [home(ctx, actor, "⚠️ " + problem_text(ctx.translator, error))]
