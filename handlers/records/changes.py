"""The changes a member's card offers by tapping: office, exemption and standing, branch, leaving
and coming back to the roster, invite codes; and who is due to be made official."""

from __future__ import annotations

from handlers.context import Context
from handlers.contract import Reply
from handlers.members import role_name
from handlers.menus import ProbationDue
from handlers.records.actions import (
    ChooseBranch,
    CommitteeOffice,
    CommitteeOffices,
    Deactivate,
    DeactivationReasons,
    MemberCard,
    Move,
    NewInvite,
    Reactivate,
    RevokeInvites,
    Roles,
    SetCommitteeOffice,
    SetExempt,
    SetRole,
    SetStanding,
    Standings,
)
from handlers.records.card import (
    button,
    cancel_row,
    card,
    card_button,
    change,
    refused_on_card,
    router,
    target,
)
from handlers.records.words import committee_office_name, reason_name, standing_name
from models import audit, record_queries
from models.audit import AuditAction
from models.errors import NotFound
from models.invites import CODE_PLACEHOLDER, DEFAULT_VALIDITY
from models.membership import (
    ChangeProblem,
    InvalidChange,
    NotPermitted,
    check,
    check_deactivate,
    check_record,
    deactivate,
    edit_member,
    move_member,
    probation_due,
    reactivate,
    revoke_invites,
    set_committee_role,
    set_exempt,
    set_standing,
)
from models.permissions import Permission, Target, may
from models.tables import Branch, DeactivationReason, Member, MemberStanding, Role

# At most this many of those due are offered as buttons.
DUE_BUTTONS = 20


@router.on(Roles)
async def _roles(ctx: Context, actor: Member, action: Roles) -> list[Reply]:
    member = await target(ctx, actor, action.member_id, Permission.EDIT_MEMBER)
    buttons = tuple((button(role_name(ctx, role), SetRole(action.member_id, role)),) for role in Role)
    return [Reply(ctx.gettext("Choose the role of {name}:").format(name=member.full_name), buttons=buttons)]


@router.on(SetRole)
async def _set_role(ctx: Context, actor: Member, action: SetRole) -> list[Reply]:
    return await change(
        ctx, actor, action.member_id, lambda m: edit_member(ctx.session, actor, m, {"role": action.role})
    )


@router.on(CommitteeOffices)
async def _committee_offices(ctx: Context, actor: Member, action: CommitteeOffices) -> list[Reply]:
    _ = ctx.gettext
    member = await target(ctx, actor, action.member_id, Permission.EDIT_MEMBER)
    # The commune committee's own offices (bí thư, phó bí thư đảng ủy, đảng ủy viên), never a
    # branch's "chi ủy viên" (DESIGN.md §4: commune committee roles are set at commune level).
    offices = [Role.SECRETARY, Role.DEPUTY_SECRETARY, Role.COMMITTEE_MEMBER]
    buttons = (
        *(
            (button(committee_office_name(ctx, role), SetCommitteeOffice(action.member_id, CommitteeOffice.of(role))),)
            for role in offices
        ),
        (button(_("No office in the Party committee"), SetCommitteeOffice(action.member_id, CommitteeOffice.NONE)),),
    )
    text = _("Choose the office of {name} in the Party committee:")
    return [Reply(text.format(name=member.full_name), buttons=buttons)]


@router.on(SetCommitteeOffice)
async def _set_committee_office(ctx: Context, actor: Member, action: SetCommitteeOffice) -> list[Reply]:
    role = action.office.role
    return await change(ctx, actor, action.member_id, lambda m: set_committee_role(ctx.session, actor, m, role))


@router.on(SetExempt)
async def _set_exempt(ctx: Context, actor: Member, action: SetExempt) -> list[Reply]:
    return await change(ctx, actor, action.member_id, lambda m: set_exempt(ctx.session, actor, m, action.exempt))


@router.on(Standings)
async def _standings(ctx: Context, actor: Member, action: Standings) -> list[Reply]:
    """Standing sits beside exemption: suspended and temporarily-elsewhere members do not vote and
    leave the base of votes."""
    member = await target(ctx, actor, action.member_id, Permission.EDIT_MEMBER)
    buttons = tuple(
        (button(standing_name(ctx, standing), SetStanding(action.member_id, standing)),) for standing in MemberStanding
    )
    return [Reply(ctx.gettext("Choose the standing of {name}:").format(name=member.full_name), buttons=buttons)]


@router.on(SetStanding)
async def _set_standing(ctx: Context, actor: Member, action: SetStanding) -> list[Reply]:
    return await change(ctx, actor, action.member_id, lambda m: set_standing(ctx.session, actor, m, action.standing))


@router.on(ChooseBranch)
async def _choose_branch(ctx: Context, actor: Member, action: ChooseBranch) -> list[Reply]:
    member = await target(ctx, actor, action.member_id, Permission.EDIT_MEMBER)
    buttons = tuple(
        (button(branch.name, Move(action.member_id, branch.id)),)
        for branch in await record_queries.branches(ctx.session)
        if branch.id is not None
        and branch.id != member.branch_id
        and may(actor, Permission.EDIT_MEMBER, Target(branch.id))
    )
    if not buttons:
        raise NotPermitted(Permission.EDIT_MEMBER, Target(0))
    return [Reply(ctx.gettext("Move {name} to which branch?").format(name=member.full_name), buttons=buttons)]


@router.on(Move)
async def _move(ctx: Context, actor: Member, action: Move) -> list[Reply]:
    if await ctx.session.get(Branch, action.branch_id) is None:
        raise NotFound(f"branch {action.branch_id}")
    return await change(ctx, actor, action.member_id, lambda m: move_member(ctx.session, actor, m, action.branch_id))


@router.on(DeactivationReasons)
async def _deactivation_reasons(ctx: Context, actor: Member, action: DeactivationReasons) -> list[Reply]:
    _ = ctx.gettext
    member = await target(ctx, actor, action.member_id, Permission.EDIT_MEMBER)
    text = _(
        "Why is {name} leaving the roster? Nothing is deleted: their record is kept for history; they drop "
        "out of notices, votes and meetings, and their accounts can no longer use chibo."
    ).format(name=member.full_name)
    buttons = tuple(
        (button(reason_name(ctx, reason), Deactivate(action.member_id, reason)),) for reason in DeactivationReason
    ) + cancel_row(ctx)
    return [Reply(text, buttons=buttons)]


@router.on(Deactivate)
async def _deactivate(ctx: Context, actor: Member, action: Deactivate) -> list[Reply]:
    if action.sure is None:  # nothing is deleted, but members drop out at once: asked first
        _ = ctx.gettext
        member = await target(ctx, actor, action.member_id, Permission.EDIT_MEMBER)
        try:
            check_deactivate(actor, member)
        except InvalidChange as error:
            return await refused_on_card(ctx, actor, member, error)
        text = _(
            "Take {name} off the roster, reason: {reason}? They drop out of notices, votes and meetings at once."
        ).format(name=member.full_name, reason=reason_name(ctx, action.reason))
        buttons = (
            (button("✅ " + _("Yes, take them off the roster"), Deactivate(action.member_id, action.reason, "yes")),),
            (button("↩️ " + _("No, keep them"), MemberCard(action.member_id)),),
        )
        return [Reply(text, buttons=buttons)]
    today = ctx.today()
    return await change(ctx, actor, action.member_id, lambda m: deactivate(ctx.session, actor, m, action.reason, today))


@router.on(Reactivate)
async def _reactivate(ctx: Context, actor: Member, action: Reactivate) -> list[Reply]:
    return await change(ctx, actor, action.member_id, lambda m: reactivate(ctx.session, actor, m))


@router.on(NewInvite)
async def _new_invite(ctx: Context, actor: Member, action: NewInvite) -> list[Reply]:
    _ = ctx.gettext
    member = await target(ctx, actor, action.member_id, Permission.ISSUE_INVITE)
    try:
        check_record(actor, member, Permission.ISSUE_INVITE)
        if not member.active:
            raise InvalidChange(ChangeProblem.INACTIVE, member.full_name)
    except InvalidChange as error:
        return await refused_on_card(ctx, actor, member, error)
    audit.record(ctx.session, AuditAction.INVITE_ISSUED, actor_id=actor.id, subject_type="member", subject_id=member.id)
    # The code itself is made as the message is sent (models.invites.fill_in_code): only its hash
    # is ever stored, not a copy in the outbox or in the web chat's kept replies.
    text = _(
        "New invite code for {name}: {code}\n"
        "It works once and for {days} days; earlier codes no longer work. Give it to them on paper or "
        "read it out over the phone: they type it as their first message to chibo."
    ).format(name=member.full_name, code=CODE_PLACEHOLDER, days=DEFAULT_VALIDITY.days)
    return [Reply(text, buttons=((card_button(member),),), invite_for=member.id)]


@router.on(RevokeInvites)
async def _revoke_invites(ctx: Context, actor: Member, action: RevokeInvites) -> list[Reply]:
    _ = ctx.gettext
    member = await target(ctx, actor, action.member_id, Permission.ISSUE_INVITE)
    try:
        count = await revoke_invites(ctx.session, actor, member)
    except InvalidChange as error:
        return await refused_on_card(ctx, actor, member, error)
    note = _("The invite code no longer works.") if count else _("There was no unused invite code.")
    return [await card(ctx, actor, member, "✅ " + note)]


@router.on(ProbationDue)
async def _probation_due(ctx: Context, actor: Member, action: ProbationDue) -> list[Reply]:
    """Quản lý → who is due to be made official: probation ended, or ending within 30 days."""
    _ = ctx.gettext
    check(actor, Permission.EDIT_MEMBER, Target(actor.branch_id))
    today = ctx.today()
    due = await probation_due(ctx.session, actor, today)
    if not due:
        return [Reply(_("Nobody's probation ends within the next 30 days."))]
    lines = [_("Probation ended or ending within 30 days (Quy định 29: the branch votes after its end):"), ""]
    for item in due:
        words = _("ended on {day}") if item.ends <= today else _("ends on {day}")
        lines.append(f"• {item.member.full_name}: " + words.format(day=ctx.format_day(item.ends)))
    buttons = tuple((card_button(item.member, name_limit=40),) for item in due[:DUE_BUTTONS])
    return [Reply("\n".join(lines), buttons=buttons)]
