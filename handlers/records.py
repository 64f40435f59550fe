"""The secretary's record tools in chat: a member's card, and every change it offers.

Each button carries only a member id; the handler reloads the member and asks the permission
table again, so a forged or stale button can do nothing the sender may not do.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlmodel import col, or_, select

from handlers.context import Context
from handlers.contract import Button, Reply, Rows, Translator
from handlers.directory import channel_names
from handlers.members import home, refused, role_name, status_name
from handlers.payloads import Action, Payload
from models.invites import CODE_PLACEHOLDER, DEFAULT_VALIDITY
from models.membership import (
    ChangeProblem,
    InvalidChange,
    NotPermitted,
    add_member,
    check_decision_day,
    check_promotion,
    check_record,
    deactivate,
    edit_member,
    move_member,
    parse_day,
    parse_vote,
    probation_due,
    promote,
    reactivate,
    revoke_invites,
    set_committee_role,
    set_exempt,
    set_standing,
    target_of,
)
from models.permissions import Permission, Scope, Target, may, scope_of
from models.tables import (
    AuditEvent,
    Branch,
    ChannelIdentity,
    DeactivationReason,
    Invite,
    Member,
    MemberStanding,
    MemberStatus,
    Role,
    utcnow,
)

HISTORY_LENGTH = 10
RECENT_LENGTH = 15
# The typed answer to each question, as the member field it sets.
_FIELD_OF_QUESTION = {"phone": "phone", "name": "full_name", "birth": "birth_date", "card": "card_number"}


def _button(label: str, action: Action, argument: str = "") -> Button:
    return Button(label, Payload(action, argument).encode())


def _cancel_row(ctx: Context) -> Rows:
    return ((_button("✖️ " + ctx.gettext("Cancel"), Action.CANCEL),),)


async def _target(ctx: Context, actor: Member, member_id: str, permission: Permission) -> Member | list[Reply]:
    """The member a button is about, when the actor may act on them; else the reply to send."""
    member = await ctx.session.get(Member, int(member_id.split(":", 1)[0]))
    if member is None:
        return [home(ctx, actor, ctx.gettext("This button is no longer valid. Please use the menu below."))]
    if not may(actor, permission, target_of(member)):
        return refused(ctx, actor, permission, target_of(member))
    return member


def problem_text(translator: Translator, error: InvalidChange) -> str:
    _ = translator.gettext
    return {
        ChangeProblem.EMPTY_NAME: _("The name cannot be empty."),
        ChangeProblem.TOO_LONG: _("That is too long."),
        ChangeProblem.NOT_A_NAME: _("\u201c{value}\u201d is not a name."),
        ChangeProblem.BAD_PHONE: _("\u201c{value}\u201d is not a phone number. Type it like 0912 345 678."),
        ChangeProblem.BAD_DATE: _("\u201c{value}\u201d is not a date. Type it like 25/11/2026."),
        ChangeProblem.DATE_IN_FUTURE: _("{value} is in the future."),
        ChangeProblem.OFFICIAL_BEFORE_ADMITTED: _("{value} is before the date they joined the Party."),
        ChangeProblem.ALREADY_OFFICIAL: _("This member is already an official member."),
        ChangeProblem.DUPLICATE_CARD: _("Another member already has the party card number {value}."),
        ChangeProblem.SAME_BRANCH: _("This member is already in that branch."),
        ChangeProblem.INACTIVE: _("{value} is no longer an active member; reactivate them first."),
        ChangeProblem.ALREADY_ACTIVE: _("This member is already active."),
        ChangeProblem.FORMULA: _(
            "\u201c{value}\u201d starts with a sign a spreadsheet would run as a formula. Please leave it out."
        ),
        # Quy định 29: probation is 12 months; the branch votes, at least 2/3 of official members.
        ChangeProblem.PROBATION_NOT_OVER: _(
            "Probation lasts 12 months from admission (Quy định 29): this member can be made official from "
            "{value}, not earlier."
        ),
        ChangeProblem.NO_ADMISSION_DATE: _(
            "The date {value} joined the Party is not on the record. Enter it first: probation is counted from it."
        ),
        ChangeProblem.BAD_VOTE: _(
            "Type the votes in favour and the number of official members of the branch, e.g. 8/10 "
            "(in favour at most the number of official members)."
        ),
        ChangeProblem.VOTE_SHORT: _(
            "{value}: fewer than two thirds of the branch's official members voted in favour, so the member is "
            "not made official (Quy định 29)."
        ),
        ChangeProblem.ROLE_SELF: _("Nobody can set their own office."),
        ChangeProblem.ROLE_ABOVE_OWN: _("Nobody can give or take away an office above their own."),
        ChangeProblem.RECORD_SELF: _(
            "Nobody can do this to their own record: another secretary of the branch or of the commune does it."
        ),
        ChangeProblem.RECORD_ABOVE_OWN: _(
            "Nobody can change the record of a comrade whose office is above their own ({value})."
        ),
        ChangeProblem.ROLE_PROBATIONARY: _(
            "{value} is a probationary member: probationary members do not hold office."
        ),
        ChangeProblem.ROLE_COMMUNE_ONLY: _("Only the secretary of the Party committee sets its offices."),
    }[error.problem].format(value=_day_or_text(translator, error.value))


def _day_or_text(translator: Translator, value: str) -> str:
    """A date in a refusal, as members write it."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return date.fromisoformat(value).strftime("%d/%m/%Y")
    return value


def _reason_name(ctx: Context, reason: DeactivationReason) -> str:
    _ = ctx.gettext
    # The register's reasons for leaving the roster (DESIGN.md §4; xóa tên and xin ra khỏi Đảng:
    # Charter art. 8).
    return {
        DeactivationReason.TRANSFERRED: _("transferred to another Party organisation"),
        DeactivationReason.REMOVED: _("name removed"),
        DeactivationReason.EXPELLED: _("expelled"),
        DeactivationReason.RESIGNED: _("left the Party at their own request"),
        DeactivationReason.DIED: _("died"),
    }[reason]


def _local_phone(phone: str | None) -> str:
    return "0" + phone[3:] if phone and phone.startswith("+84") else phone or "—"


async def _card_text(ctx: Context, member: Member) -> tuple[str, bool]:
    """The record as the secretary reads it, and whether an unused invite code is out."""
    _ = ctx.gettext
    branch = await ctx.session.get(Branch, member.branch_id)
    identities = (await ctx.session.exec(select(ChannelIdentity).where(ChannelIdentity.member_id == member.id))).all()
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
        _("Phone: {value}").format(value=_local_phone(member.phone)),
        _("Party card number: {value}").format(value=member.card_number or "—"),
        _("Date joined the Party: {value}").format(value=ctx.format_day(member.date_admitted)),
        _("Exempt from regular activities: {value}").format(value=_("yes") if member.exempt else _("no")),
        _("Standing: {value}").format(value=_standing_name(ctx, member.standing)),
        _("Reached on: {value}").format(value=", ".join(sorted(channels)) or _("not joined yet")),
    ]
    invite = (
        await ctx.session.exec(
            select(Invite).where(
                Invite.member_id == member.id,
                col(Invite.used_at).is_(None),
                col(Invite.revoked_at).is_(None),
                col(Invite.expires_at) > utcnow(),
            )
        )
    ).first()
    if invite is not None:
        lines.append(_("Unused invite code, valid until {day}").format(day=ctx.format_day(invite.expires_at.date())))
    if not member.active:
        reason = _reason_name(ctx, member.deactivation_reason) if member.deactivation_reason else "—"
        lines.append(
            _("Taken off the roster on {day} ({reason}).").format(
                day=ctx.format_day(member.deactivated_on), reason=reason
            )
        )
    if member.committee_role is not None:
        lines.insert(3, _("Party committee: {value}").format(value=role_name(ctx, member.committee_role)))
    return "\n".join(lines), invite is not None


def _card_buttons(ctx: Context, actor: Member, member: Member, has_invite: bool) -> Rows:
    _ = ctx.gettext
    ident = str(member.id)
    if not member.active:
        return (
            (
                _button("↩️ " + _("Reactivate"), Action.REACTIVATE, ident),
                _button("📜 " + _("History"), Action.HISTORY, ident),
            ),
        )
    rows: list[tuple[Button, ...]] = [
        (
            _button("📱 " + _("Phone"), Action.ASK, f"phone:{ident}"),
            _button("✏️ " + _("Name"), Action.ASK, f"name:{ident}"),
        ),
        (
            _button("🎂 " + _("Birth date"), Action.ASK, f"birth:{ident}"),
            _button("🪪 " + _("Card number"), Action.ASK, f"card:{ident}"),
        ),
    ]
    role_row = [_button("👔 " + _("Role"), Action.SET_ROLE, ident)]
    if member.status is MemberStatus.PROBATIONARY:
        role_row.append(_button("⭐ " + _("Make official"), Action.ASK, f"official:{ident}"))
    elif actor.committee_role is Role.SECRETARY and actor.id != member.id:
        role_row.append(_button("🏛 " + _("Party committee office"), Action.SET_ROLE, f"{ident}:c"))
    rows.append(tuple(role_row))
    exempt = (
        _button("✅ " + _("End exemption"), Action.SET_EXEMPT, f"{ident}:0")
        if member.exempt
        else _button(_("Exempt from activities"), Action.SET_EXEMPT, f"{ident}:1")
    )
    move_row = [exempt, _button("⏸ " + _("Standing"), Action.SET_EXEMPT, f"{ident}:standing")]
    if scope_of(actor) is Scope.COMMUNE:
        move_row.append(_button("🔀 " + _("Move to another branch"), Action.MOVE, ident))
    rows.append(tuple(move_row))
    invite_row = [_button("🔑 " + _("New invite code"), Action.NEW_INVITE, ident)]
    if has_invite:
        invite_row.append(_button("🚫 " + _("Revoke invite code"), Action.REVOKE_INVITES, ident))
    rows.append(tuple(invite_row))
    rows.append(
        (
            _button("📜 " + _("History"), Action.HISTORY, ident),
            _button(_("Take off the roster"), Action.DEACTIVATE, ident),
        )
    )
    return tuple(rows)


async def member_card(ctx: Context, actor: Member, member_id: str, note: str = "") -> list[Reply]:
    member = await _target(ctx, actor, member_id, Permission.VIEW_ROSTER)
    if isinstance(member, list):
        return member
    return [await _card(ctx, actor, member, note)]


async def _card(ctx: Context, actor: Member, member: Member, note: str = "") -> Reply:
    text, has_invite = await _card_text(ctx, member)
    return Reply((note + "\n\n" if note else "") + text, buttons=_card_buttons(ctx, actor, member, has_invite))


async def ask(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    """Ask for a value to be typed: a name to find, a new member, or a field of one member."""
    _ = ctx.gettext
    question, _sep, member_id = argument.partition(":")
    own_branch = Target(actor.branch_id)
    if question == "find":
        if not may(actor, Permission.VIEW_ROSTER, own_branch):
            return refused(ctx, actor, Permission.VIEW_ROSTER, own_branch)
        ctx.ask("find")
        text = _("Type part of the member's name, with or without accents, e.g. nguyen van")
        return [Reply(text, buttons=_cancel_row(ctx))]
    if question == "add":
        if not may(actor, Permission.EDIT_MEMBER, own_branch):
            return refused(ctx, actor, Permission.EDIT_MEMBER, own_branch)
        ctx.ask("add")
        text = _(
            "Type the new member's full name, birth date and phone number, separated by commas, e.g.\n"
            "Nguyễn Văn An, 12/03/1985, 0912 345 678\n"
            "Birth date and phone may be left out. The member is added to your branch as probationary; "
            "you can change that on their record."
        )
        return [Reply(text, buttons=_cancel_row(ctx))]
    if not member_id:
        return [home(ctx, actor, _("This button is no longer valid. Please use the menu below."))]
    member = await _target(ctx, actor, member_id, Permission.EDIT_MEMBER)
    if isinstance(member, list):
        return member
    ctx.ask(argument)
    prompts = {
        "phone": _("Type the new phone number of {name}:"),
        "name": _("Type the corrected full name of {name}:"),
        "birth": _("Type the birth date of {name} (dd/mm/yyyy):"),
        "card": _("Type the party card number of {name}:"),
        "official": _(
            "Probation of {name} ended on {end}. On what day did the branch vote to make them official "
            "(dd/mm/yyyy)? Tap Today if it was today."
        ),
    }
    buttons = _cancel_row(ctx)
    end = ""
    if question == "official":
        try:
            ends = check_promotion(actor, member)
        except InvalidChange as error:
            ctx.take_question()
            return [await _card(ctx, actor, member, "⚠️ " + problem_text(ctx.translator, error))]
        end = ctx.format_day(ends)
        today = _("Today ({day})").format(day=ctx.format_day(date.today()))
        buttons = ((_button("📅 " + today, Action.PROMOTE_TODAY, member_id), *buttons[0]),)
    return [Reply(prompts[question].format(name=member.full_name, end=end), buttons=buttons)]


def _ask_vote(ctx: Context, member: Member, on: date) -> list[Reply]:
    """The second question of "make official": the branch's vote (Quy định 29: at least 2/3 of the
    official members in favour)."""
    ctx.ask(f"ovote:{member.id}:{on.isoformat()}")
    text = ctx.gettext(
        "The branch's vote of {day} on making {name} official: type the votes in favour and the number of "
        "official members of the branch, e.g. 8/10. At least two thirds must be in favour."
    ).format(day=ctx.format_day(on), name=member.full_name)
    return [Reply(text, buttons=_cancel_row(ctx))]


async def answer(ctx: Context, actor: Member, question: str, text: str) -> list[Reply]:
    """The typed answer to a question ``ask`` put."""
    if question == "add":
        return await _add_from_text(ctx, actor, text)
    kind, _sep, member_id = question.partition(":")
    member_id, _sep, day = member_id.partition(":")
    if (kind not in ("official", "ovote") and kind not in _FIELD_OF_QUESTION) or not member_id.isdigit():
        return [home(ctx, actor, ctx.gettext("This button is no longer valid. Please use the menu below."))]
    member = await _target(ctx, actor, member_id, Permission.EDIT_MEMBER)
    if isinstance(member, list):
        return member
    try:
        if kind == "official":
            on = parse_day(text)
            check_decision_day(actor, member, on)
            return _ask_vote(ctx, member, on)
        if kind == "ovote":
            vote = parse_vote(text)
            try:
                await promote(ctx.session, actor, member, date.fromisoformat(day), vote=vote)
            except InvalidChange as error:  # the vote fell short, or the member changed meanwhile
                return [await _card(ctx, actor, member, "⚠️ " + problem_text(ctx.translator, error))]
        else:
            field = _FIELD_OF_QUESTION[kind]
            value: Any = parse_day(text) if field == "birth_date" else text
            await edit_member(ctx.session, actor, member, {field: value})
    except InvalidChange as error:
        ctx.ask(question)  # let them type it again
        return [
            Reply(
                problem_text(ctx.translator, error) + "\n" + ctx.gettext("Please type it again."),
                buttons=_cancel_row(ctx),
            )
        ]
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    return [await _card(ctx, actor, member, "✅ " + ctx.gettext("Saved."))]


_SEPARATORS = re.compile(r"[,;\n]")


async def _add_from_text(ctx: Context, actor: Member, text: str) -> list[Reply]:
    _ = ctx.gettext
    parts = [part.strip() for part in _SEPARATORS.split(text)]
    values: dict[str, Any] = {"full_name": parts[0]}
    try:
        for part in filter(None, parts[1:]):
            if "/" in part or (len(part) == 10 and part[4:5] == "-"):
                values["birth_date"] = parse_day(part)
            else:
                values["phone"] = part
        member = await add_member(ctx.session, actor, actor.branch_id, values)
    except InvalidChange as error:
        ctx.ask("add")
        return [
            Reply(problem_text(ctx.translator, error) + "\n" + _("Please type it again."), buttons=_cancel_row(ctx))
        ]
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    note = "✅ " + _("{name} was added. Tap \u201cNew invite code\u201d to let them join.").format(
        name=member.full_name
    )
    return [await _card(ctx, actor, member, note)]


async def promote_today(ctx: Context, actor: Member, member_id: str) -> list[Reply]:
    """ "Today" as the day of the branch's decision; then the vote is asked."""
    ctx.take_question()  # the question this button answers
    member = await _target(ctx, actor, member_id, Permission.EDIT_MEMBER)
    if isinstance(member, list):
        return member
    try:
        check_decision_day(actor, member, date.today())
    except InvalidChange as error:
        return [await _card(ctx, actor, member, "⚠️ " + problem_text(ctx.translator, error))]
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    return _ask_vote(ctx, member, date.today())


async def probation_due_list(ctx: Context, actor: Member) -> list[Reply]:
    """Quản lý → who is due to be made official: probation ended, or ending within 30 days."""
    _ = ctx.gettext
    own_branch = Target(actor.branch_id)
    if not may(actor, Permission.EDIT_MEMBER, own_branch):
        return refused(ctx, actor, Permission.EDIT_MEMBER, own_branch)
    due = await probation_due(ctx.session, actor)
    if not due:
        return [Reply(_("Nobody's probation ends within the next 30 days."))]
    today = date.today()
    lines = [_("Probation ended or ending within 30 days (Quy định 29: the branch votes after its end):"), ""]
    for item in due:
        words = _("ended on {day}") if item.ends <= today else _("ends on {day}")
        lines.append(f"• {item.member.full_name}: " + words.format(day=ctx.format_day(item.ends)))
    buttons = tuple(
        (_button("👤 " + item.member.full_name[:40], Action.MEMBER_CARD, str(item.member.id)),) for item in due[:20]
    )
    return [Reply("\n".join(lines), buttons=buttons)]


async def set_role(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    """<id> lists the branch offices, <id>:<role> sets one; <id>:c lists the commune committee's
    offices, <id>:c_<role> (or c_none) sets one."""
    _ = ctx.gettext
    member_id, _sep, wanted = argument.partition(":")
    if not wanted or wanted == "c":
        member = await _target(ctx, actor, member_id, Permission.EDIT_MEMBER)
        if isinstance(member, list):
            return member
        if wanted == "c":
            offices = [role for role in Role if role is not Role.MEMBER]
            buttons = (
                *((_button(role_name(ctx, role), Action.SET_ROLE, f"{member_id}:c_{role.value}"),) for role in offices),
                (_button(_("No office in the Party committee"), Action.SET_ROLE, f"{member_id}:c_none"),),
            )
            text = _("Choose the office of {name} in the Party committee:")
            return [Reply(text.format(name=member.full_name), buttons=buttons)]
        buttons = tuple((_button(role_name(ctx, role), Action.SET_ROLE, f"{member_id}:{role.value}"),) for role in Role)
        return [Reply(_("Choose the role of {name}:").format(name=member.full_name), buttons=buttons)]
    if wanted.startswith("c_"):
        office = wanted[2:]
        if office != "none" and office not in Role.__members__.values():
            return [home(ctx, actor, _("This button is no longer valid. Please use the menu below."))]
        role = None if office == "none" else Role(office)
        return await _change(ctx, actor, member_id, lambda m: set_committee_role(ctx.session, actor, m, role))
    if wanted not in Role.__members__.values():
        return [home(ctx, actor, _("This button is no longer valid. Please use the menu below."))]
    return await _change(ctx, actor, member_id, lambda m: edit_member(ctx.session, actor, m, {"role": Role(wanted)}))


def _standing_name(ctx: Context, standing: MemberStanding) -> str:
    _ = ctx.gettext
    return {
        MemberStanding.ACTIVE: _("active in the branch"),
        MemberStanding.SUSPENDED: _("suspended from activity"),
        MemberStanding.ELSEWHERE: _("temporarily active elsewhere"),
    }[standing]


async def set_exemption(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    """Exemption (``<id>:1|0``) and, beside it, standing (``<id>:standing`` asks, ``<id>:<standing>``
    sets): suspended and temporarily-elsewhere members do not vote and leave the base of votes."""
    member_id, _sep, flag = argument.partition(":")
    if flag == "standing":
        member = await _target(ctx, actor, member_id, Permission.EDIT_MEMBER)
        if isinstance(member, list):
            return member
        buttons = tuple(
            (_button(_standing_name(ctx, s), Action.SET_EXEMPT, f"{member_id}:{s.value}"),) for s in MemberStanding
        )
        return [Reply(ctx.gettext("Choose the standing of {name}:").format(name=member.full_name), buttons=buttons)]
    if flag in MemberStanding.__members__.values():
        standing = MemberStanding(flag)
        return await _change(ctx, actor, member_id, lambda m: set_standing(ctx.session, actor, m, standing))
    if flag not in ("0", "1"):
        return [home(ctx, actor, ctx.gettext("This button is no longer valid. Please use the menu below."))]
    return await _change(ctx, actor, member_id, lambda m: set_exempt(ctx.session, actor, m, flag == "1"))


async def move(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    _ = ctx.gettext
    member_id, _sep, branch_id = argument.partition(":")
    if not branch_id:
        member = await _target(ctx, actor, member_id, Permission.EDIT_MEMBER)
        if isinstance(member, list):
            return member
        branches = (await ctx.session.exec(select(Branch).order_by(col(Branch.name)))).all()
        buttons = tuple(
            (_button(b.name, Action.MOVE, f"{member_id}:{b.id}"),)
            for b in branches
            if b.id != member.branch_id and may(actor, Permission.EDIT_MEMBER, Target(b.id or 0))
        )
        if not buttons:
            return refused(ctx, actor, Permission.EDIT_MEMBER, Target(0))
        return [Reply(_("Move {name} to which branch?").format(name=member.full_name), buttons=buttons)]
    if not branch_id.isdigit() or await ctx.session.get(Branch, int(branch_id)) is None:
        return [home(ctx, actor, _("This button is no longer valid. Please use the menu below."))]
    return await _change(ctx, actor, member_id, lambda m: move_member(ctx.session, actor, m, int(branch_id)))


async def deactivate_member(ctx: Context, actor: Member, argument: str) -> list[Reply]:
    _ = ctx.gettext
    member_id, _sep, reason = argument.partition(":")
    if not reason:
        member = await _target(ctx, actor, member_id, Permission.EDIT_MEMBER)
        if isinstance(member, list):
            return member
        text = _(
            "Why is {name} leaving the roster? Nothing is deleted: their record is kept for history; they drop "
            "out of notices, votes and meetings, and their accounts can no longer use chibo."
        ).format(name=member.full_name)
        buttons = tuple(
            (_button(_reason_name(ctx, r), Action.DEACTIVATE, f"{member_id}:{r.value}"),) for r in DeactivationReason
        ) + _cancel_row(ctx)
        return [Reply(text, buttons=buttons)]
    if reason not in DeactivationReason.__members__.values():
        return [home(ctx, actor, _("This button is no longer valid. Please use the menu below."))]
    return await _change(ctx, actor, member_id, lambda m: deactivate(ctx.session, actor, m, DeactivationReason(reason)))


async def reactivate_member(ctx: Context, actor: Member, member_id: str) -> list[Reply]:
    return await _change(ctx, actor, member_id, lambda m: reactivate(ctx.session, actor, m))


async def new_invite(ctx: Context, actor: Member, member_id: str) -> list[Reply]:
    _ = ctx.gettext
    member = await _target(ctx, actor, member_id, Permission.ISSUE_INVITE)
    if isinstance(member, list):
        return member
    try:
        check_record(actor, member, Permission.ISSUE_INVITE)
        if not member.active:
            raise InvalidChange(ChangeProblem.INACTIVE, member.full_name)
    except InvalidChange as error:
        return [await _card(ctx, actor, member, problem_text(ctx.translator, error))]
    assert member.id is not None
    ctx.session.add(
        AuditEvent(actor_member_id=actor.id, action="invite.issued", subject_type="member", subject_id=member.id)
    )
    # The code itself is made as the message is sent (models.invites.fill_in_code): only its hash
    # is ever stored, not a copy in the outbox or in the web chat's kept replies.
    text = _(
        "New invite code for {name}: {code}\n"
        "It works once and for {days} days; earlier codes no longer work. Give it to them on paper or "
        "read it out over the phone: they type it as their first message to chibo."
    ).format(name=member.full_name, code=CODE_PLACEHOLDER, days=DEFAULT_VALIDITY.days)
    card = ((_button("👤 " + member.full_name, Action.MEMBER_CARD, member_id),),)
    return [Reply(text, buttons=card, invite_for=member.id)]


async def revoke_member_invites(ctx: Context, actor: Member, member_id: str) -> list[Reply]:
    _ = ctx.gettext
    member = await _target(ctx, actor, member_id, Permission.ISSUE_INVITE)
    if isinstance(member, list):
        return member
    try:
        count = await revoke_invites(ctx.session, actor, member)
    except InvalidChange as error:
        return [await _card(ctx, actor, member, "⚠️ " + problem_text(ctx.translator, error))]
    note = _("The invite code no longer works.") if count else _("There was no unused invite code.")
    return [await _card(ctx, actor, member, "✅ " + note)]


async def _change(ctx: Context, actor: Member, member_id: str, change: Any) -> list[Reply]:
    member = await _target(ctx, actor, member_id, Permission.EDIT_MEMBER)
    if isinstance(member, list):
        return member
    try:
        await change(member)
    except InvalidChange as error:
        return [await _card(ctx, actor, member, "⚠️ " + problem_text(ctx.translator, error))]
    except NotPermitted as error:
        return refused(ctx, actor, error.permission, error.target)
    await ctx.session.flush()
    return [await _card(ctx, actor, member, "✅ " + ctx.gettext("Saved."))]


# --- the audit log, in words -------------------------------------------------------------------


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
        return _standing_name(ctx, MemberStanding(str(value)))
    if key == "status" and value in MemberStatus.__members__.values():
        return status_name(ctx, MemberStatus(str(value)))
    if key == "branch_id" and isinstance(value, int):
        return branches.get(value, f"#{value}")
    if key == "phone":
        return _local_phone(str(value))
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
    names = dict((await ctx.session.exec(select(Member.id, Member.full_name).where(col(Member.id).in_(ids)))).all())
    branches = dict((await ctx.session.exec(select(Branch.id, Branch.name))).all())
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


async def history(ctx: Context, actor: Member, member_id: str) -> list[Reply]:
    _ = ctx.gettext
    member = await _target(ctx, actor, member_id, Permission.VIEW_AUDIT)
    if isinstance(member, list):
        return member
    about = (col(AuditEvent.subject_type) == "member") & (col(AuditEvent.subject_id) == member.id)
    events = list(
        (
            await ctx.session.exec(
                select(AuditEvent)
                .where(or_(about, col(AuditEvent.actor_member_id) == member.id))
                .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
                .limit(HISTORY_LENGTH)
            )
        ).all()
    )
    lines = [_("History of {name}, newest first:").format(name=member.full_name), ""]
    lines += await describe(ctx, events) or [_("Nothing recorded yet.")]
    return [Reply("\n".join(lines), buttons=((_button("👤 " + member.full_name, Action.MEMBER_CARD, member_id),),))]


async def recent_changes(ctx: Context, actor: Member) -> list[Reply]:
    """The latest changes and refusals in the actor's branch (or the whole commune)."""
    _ = ctx.gettext
    own_branch = Target(actor.branch_id)
    if not may(actor, Permission.VIEW_AUDIT, own_branch):
        return refused(ctx, actor, Permission.VIEW_AUDIT, own_branch)
    query = select(AuditEvent).order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).limit(RECENT_LENGTH)
    if scope_of(actor) is not Scope.COMMUNE:
        in_branch = select(Member.id).where(Member.branch_id == actor.branch_id)
        query = query.where(
            or_(
                (col(AuditEvent.subject_type) == "member") & col(AuditEvent.subject_id).in_(in_branch),
                (col(AuditEvent.subject_type) == "branch") & (col(AuditEvent.subject_id) == actor.branch_id),
                col(AuditEvent.actor_member_id).in_(in_branch),
            )
        )
    events = list((await ctx.session.exec(query)).all())
    lines = [_("Recent changes, newest first:"), ""]
    lines += await describe(ctx, events) or [_("Nothing recorded yet.")]
    return [Reply("\n".join(lines))]
