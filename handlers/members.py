"""Joining (invite code or shared phone number) and what a member may ask about themselves."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from handlers.actions import ActionData, Pattern
from handlers.context import Context
from handlers.contract import REGISTER_FILES, Button, Reply
from handlers.menus import (
    Books,
    BooksUpward,
    BranchRoster,
    ChooseLanguage,
    Help,
    Home,
    MyBranch,
    MyDetails,
    MyDues,
    MyReview,
    NewNotice,
    NewPoll,
    OpenDesk,
    PollList,
    ProbationDue,
    RecentChanges,
    SentNotices,
    SignOutEverywhere,
    main_menu,
)
from handlers.questions import Ask, Awaiting, Question
from handlers.router import Router
from models import audit, record_queries
from models.audit import AuditAction, Refusal
from models.errors import Stale
from models.identities import link_identity
from models.invites import (
    InviteProblem,
    chat_locked_until,
    count_wrong_code,
    never_in_codes,
    normalize_code,
    redeem_invite,
)
from models.membership import ChangeProblem, InvalidChange, NotPermitted, set_own_phone
from models.permissions import Permission, Target, leads_any_branch, may
from models.phones import normalize_phone
from models.tables import Branch, ChannelIdentity, Member, MemberStatus, Role, utcnow

router = Router("members")


@dataclass(frozen=True)
class SetLanguage(ActionData, prefix="setlang", open_to_strangers=True):
    locale: Annotated[str, Pattern("[a-z]{2}")]


@dataclass(frozen=True)
class Cancel(ActionData, prefix="cancel", open_to_strangers=True):
    """Drop the question chibo is waiting to have answered."""


@dataclass(frozen=True)
class EditMyPhone(ActionData, prefix="myphone"):
    pass


@dataclass(frozen=True)
class ImportRegister(ActionData, prefix="import"):
    pass


def role_name(ctx: Context, role: Role) -> str:
    _ = ctx.gettext
    return {
        Role.SECRETARY: _("Secretary"),
        Role.DEPUTY_SECRETARY: _("Deputy secretary"),
        Role.COMMITTEE_MEMBER: _("Branch committee member"),
        Role.MEMBER: _("Party member"),
    }[role]


def status_name(ctx: Context, status: MemberStatus) -> str:
    _ = ctx.gettext
    return {MemberStatus.OFFICIAL: _("Official member"), MemberStatus.PROBATIONARY: _("Probationary member")}[status]


def _contact_label(ctx: Context) -> str | None:
    return "📱 " + ctx.gettext("Share my phone number") if ctx.inbound.can_share_contact else None


def stranger_welcome(ctx: Context) -> Reply:
    _ = ctx.gettext
    text = _(
        "Hello! This is chibo, the assistant of the party branches of our commune. "
        "It serves party members only.\n\n"
        "To begin, please type the invite code your branch secretary gave you on paper "
        "(8 letters and digits, for example ABCD-EFGH)."
    )
    if ctx.inbound.can_share_contact:
        text += " " + _("Or tap \u201cShare my phone number\u201d below.")
    text += "\n\n" + _("If you have no invite code, please ask your branch secretary.")
    if ctx.identity is not None:  # linked once, to a member no longer on a roster: say so, not "who are you?"
        text = (
            _(
                "This chat's account in chibo is closed: the member it belonged to is no longer on a branch's "
                "roster. If that is a mistake, please ask your branch secretary for a new invite code."
            )
            + "\n\n"
            + text
        )
    return Reply(text, contact_label=_contact_label(ctx))


def home(ctx: Context, member: Member, text: str) -> Reply:
    return Reply(text, menu=main_menu(ctx, member))


def welcome_back(ctx: Context, member: Member) -> Reply:
    _ = ctx.gettext
    return home(
        ctx, member, _("Hello, comrade {name}! Choose what you need from the menu below.").format(name=member.full_name)
    )


async def join_with_code(ctx: Context, typed: str) -> list[Reply]:
    """Link the sender to the roster entry whose invite code they typed or opened."""
    _ = ctx.gettext
    if ctx.member is not None:
        return [
            home(
                ctx,
                ctx.member,
                _("You are already linked as {name}. No code is needed.").format(name=ctx.member.full_name),
            )
        ]
    code = normalize_code(typed)
    misread = never_in_codes(typed)
    if code is None and misread:
        text = _(
            "\u201c{text}\u201d has {chars}, which invite codes never have: there is no 0, 1, I, L or O in a code, "
            "so that none can be mistaken for another. Please look at the printed code again and type it."
        ).format(text=typed[:40], chars=", ".join(misread))
        return [Reply(text, contact_label=_contact_label(ctx))]
    if code is None:
        return [
            Reply(
                _(
                    "\u201c{text}\u201d is not an invite code. A code has 8 letters and digits, "
                    "for example ABCD-EFGH. Please check it and type it again."
                ).format(text=typed[:40]),
                contact_label=_contact_label(ctx),
            )
        ]
    platform, user_id = ctx.inbound.platform.value, ctx.inbound.user_id
    locked_until = await chat_locked_until(ctx.session, platform, user_id)
    if locked_until is not None:
        minutes = max(1, math.ceil((locked_until - utcnow()).total_seconds() / 60))
        return [
            Reply(
                _(
                    "Too many wrong invite codes. Please wait {minutes} minutes and type it again, "
                    "or ask your branch secretary."
                ).format(minutes=minutes)
            )
        ]
    outcome = await redeem_invite(ctx.session, code)
    if isinstance(outcome, InviteProblem):
        await count_wrong_code(ctx.session, platform, user_id)
        return [Reply(_problem_text(ctx, outcome), contact_label=_contact_label(ctx))]
    found = await record_queries.member_with_branch(ctx.session, outcome.member_id)  # the welcome names the branch
    member, branch = found if found is not None else (None, None)
    if member is None or not member.active:
        return [Reply(_problem_text(ctx, InviteProblem.REVOKED))]
    identity = await _link(ctx, member, via="invite")
    outcome.used_by_identity_id = identity.id
    ctx.session.add(outcome)
    return [await _linked_reply(ctx, member, branch)]


async def join_with_phone(ctx: Context) -> list[Reply]:
    _ = ctx.gettext
    if ctx.member is not None:
        return [home(ctx, ctx.member, _("You are already linked as {name}.").format(name=ctx.member.full_name))]
    if not ctx.inbound.contact_is_own:
        return [
            Reply(
                _("Please share your own phone number with the button below, not someone else's contact."),
                contact_label=_contact_label(ctx),
            )
        ]
    phone = normalize_phone(ctx.inbound.contact_phone or "")
    matches = [] if phone is None else await record_queries.active_with_phone(ctx.session, phone)
    if not matches:
        return [
            Reply(
                _(
                    "This phone number is not in the branch register. Please type the invite code your "
                    "branch secretary gave you, or ask them to check your phone number."
                )
            )
        ]
    if len(matches) > 1:
        # A family phone shared by two members: the number alone cannot say who is writing.
        return [
            Reply(
                _(
                    "Several members are registered with this phone number, so it cannot tell who you are. "
                    "Please type your own invite code instead."
                )
            )
        ]
    member = matches[0]
    await _link(ctx, member, via="phone")
    return [await _linked_reply(ctx, member)]


def _problem_text(ctx: Context, problem: InviteProblem) -> str:
    _ = ctx.gettext
    if problem is InviteProblem.MALFORMED:
        return _("This is not an invite code. A code has 8 letters and digits.")
    # Unknown, used, revoked and expired codes get one answer, so a guesser cannot tell a real
    # code from a made-up one; the secretary sees the reason in the audit log.
    return _(
        "This invite code cannot be used: it may be mistyped, already used, replaced or expired. "
        "Please check each letter and digit and type it again, or ask your branch secretary for a new one."
    )


async def _link(ctx: Context, member: Member, *, via: str) -> ChannelIdentity:
    inbound = ctx.inbound
    identity = await link_identity(
        ctx.session,
        member,
        ctx.identity,
        platform=inbound.platform,
        user_id=inbound.user_id,
        chat_id=inbound.chat_id,
        display_name=inbound.display_name,
        via=via,
    )
    ctx.identity, ctx.member = identity, member
    return identity


async def _linked_reply(ctx: Context, member: Member, branch: Branch | None = None) -> Reply:
    _ = ctx.gettext
    if branch is None:
        branch = await ctx.session.get(Branch, member.branch_id)
    return home(
        ctx,
        member,
        _(
            "Welcome, comrade {name}! You are now linked to your record in {branch}.\n"
            "Use the buttons below at any time."
        ).format(name=member.full_name, branch=branch.name if branch else "—"),
    )


async def my_details(ctx: Context, member: Member) -> list[Reply]:
    _ = ctx.gettext
    branch = await ctx.session.get(Branch, member.branch_id)
    lines = [
        _("Your record"),
        "",
        _("Full name: {value}").format(value=member.full_name),
        _("Branch: {value}").format(value=branch.name if branch else "—"),
        _("Role: {value}").format(value=role_name(ctx, member.role)),
        _("Status: {value}").format(value=status_name(ctx, member.status)),
        _("Phone: {value}").format(value=_local_phone(member.phone)),
        _("Date joined the Party: {value}").format(value=ctx.format_day(member.date_admitted)),
        _("Date made official: {value}").format(
            value=ctx.format_day(member.date_official)
            if member.status is MemberStatus.OFFICIAL
            else _("not yet (probationary)")
        ),
    ]
    if member.exempt:
        lines.append(_("Exempt from regular activities"))
    lines += [
        "",
        _("You can correct your phone number yourself. If anything else is wrong, please tell your branch secretary."),
    ]
    # The menu too: where there are no buttons (Zalo) it is numbered after the phone button.
    return [
        Reply(
            "\n".join(lines),
            buttons=(
                (Button("📱 " + _("Correct my phone number"), EditMyPhone().pack()),),
                (Button("🏅 " + _("My year-end review"), MyReview().pack()),),
                (Button("💰 " + _("My party dues"), MyDues().pack()),),
            ),
            menu=main_menu(ctx, member),
        )
    ]


def _local_phone(phone: str | None) -> str:
    return "0" + phone[3:] if phone and phone.startswith("+84") else phone or "—"


def ask_my_phone(ctx: Context, member: Member) -> list[Reply]:
    _ = ctx.gettext
    ctx.ask(Awaiting(Question.MY_PHONE))
    return [
        Reply(
            _("Type your phone number, e.g. 0912 345 678:"),
            buttons=((Button("✖️ " + _("Cancel"), Cancel().pack()),),),
        )
    ]


async def save_my_phone(ctx: Context, member: Member, text: str) -> list[Reply]:
    _ = ctx.gettext
    try:
        phone = await set_own_phone(ctx.session, member, text)
    except InvalidChange as error:
        ctx.ask(Awaiting(Question.MY_PHONE))  # they may type another number
        if error.problem is ChangeProblem.PHONE_TAKEN:
            words = _(
                "{phone} is already recorded for another member. If you share that phone, "
                "please ask your branch secretary to record it for you."
            ).format(phone=_local_phone(normalize_phone(text)))
        else:
            words = _("\u201c{value}\u201d is not a phone number. Type it like 0912 345 678.").format(value=text[:40])
        return [Reply(words, buttons=((Button("✖️ " + _("Cancel"), Cancel().pack()),),))]
    return [home(ctx, member, _("Saved. Your phone number is now {phone}.").format(phone=_local_phone(phone)))]


async def my_branch(ctx: Context, member: Member) -> list[Reply]:
    _ = ctx.gettext
    branch = await ctx.session.get(Branch, member.branch_id)
    assert branch is not None  # a member's branch is a foreign key
    secretaries, counts = await record_queries.branch_summary(ctx.session, member.branch_id)
    official = counts.get(MemberStatus.OFFICIAL, 0)
    probationary = counts.get(MemberStatus.PROBATIONARY, 0)
    lines = [
        branch.name,
        "",
        _("Secretary: {value}").format(value=", ".join(secretaries) or _("not assigned")),
        _("Members: {total} ({official} official, {probationary} probationary)").format(
            total=official + probationary, official=official, probationary=probationary
        ),
    ]
    return [home(ctx, member, "\n".join(lines))]


def refused(ctx: Context, member: Member, permission: Permission, target: Target) -> list[Reply]:
    """A polite no, and a line in the audit log: refused secretary actions are worth knowing about
    (``conversation.handle`` writes it, at most one row a minute per member)."""
    ctx.refusal = Refusal(permission.value, target.branch_id, target.member_id)
    _ = ctx.gettext
    return [home(ctx, member, _("Sorry, only the branch secretary and deputy secretary can use this."))]


def too_many_files(ctx: Context, member: Member) -> Reply:
    """A file over the day's cap: not read, and the question it answered stays open."""
    _ = ctx.gettext
    return home(
        ctx,
        member,
        _(
            "You have already sent {count} files today, the most chibo reads from one member in a day. "
            "This file was not read: please send it again tomorrow."
        ).format(count=ctx.uploads_per_day),
    )


def manage_menu(ctx: Context, member: Member) -> list[Reply]:
    _ = ctx.gettext
    own_branch = Target(member.branch_id)
    if not may(member, Permission.VIEW_ROSTER, own_branch):
        return refused(ctx, member, Permission.VIEW_ROSTER, own_branch)

    def button(label: str, action: ActionData) -> Button:
        return Button(label, action.pack())

    return [
        Reply(
            _(
                "Branch management:\n"
                "• Branch roster: every member, their role and where they can be reached.\n"
                "• Find a member to open their record: correct it, make them official, exempt, move or "
                "take them off the roster, give them a new invite code, see their history.\n"
                "• Due to be made official: probationary members whose 12 months have ended or end within "
                "30 days.\n"
                "• Add a member, or import the branch register from an Excel or CSV file.\n"
                "• Recent changes: who changed what, and refused attempts.\n"
                "• New notice: write to the branch (or the commune), now or at a set time; see who read it.\n"
                "• New poll: a vote by the branch's rules, open or secret; follow it and close it."
            )
            + "\n"
            + _(
                "• Branch books: meeting records, transfers, admission candidates and the year-end review.\n"
                "• Dues and reports: the month's dues collection list (who has not paid), payments, the "
                "reports to the Party committee and Party badges."
            )
            + "\n"
            + _(
                "• Open on a computer: a link to the secretary's desk, the branch at a glance with lists to "
                "print. Sign out everywhere: end the desk on every computer."
            ),
            buttons=(
                (
                    button("📢 " + _("New notice"), NewNotice()),
                    button("📨 " + _("Sent notices"), SentNotices()),
                ),
                (button("🗳 " + _("New poll"), NewPoll()), button("📋 " + _("Polls"), PollList())),
                (
                    button("📋 " + _("Branch roster"), BranchRoster()),
                    button("🔍 " + _("Find a member"), Ask(Question.FIND_MEMBER)),
                ),
                (
                    button("➕ " + _("Add a member"), Ask(Question.ADD_MEMBER)),
                    button("📥 " + _("Import the register"), ImportRegister()),
                ),
                (
                    button("📜 " + _("Recent changes"), RecentChanges()),
                    button("⭐ " + _("Due to be made official"), ProbationDue()),
                ),
                (
                    button("📚 " + _("Branch books"), Books()),
                    button("💰 " + _("Dues and reports"), BooksUpward()),
                ),
                (
                    button("💻 " + _("Open on a computer"), OpenDesk()),
                    button("🚪 " + _("Sign out everywhere"), SignOutEverywhere()),
                ),
            ),
        )
    ]


def import_help(ctx: Context, member: Member) -> list[Reply]:
    _ = ctx.gettext
    own_branch = Target(member.branch_id)
    if not may(member, Permission.IMPORT_MEMBERS, own_branch):
        return refused(ctx, member, Permission.IMPORT_MEMBERS, own_branch)
    text = _(
        "Send the branch register as an Excel (.xlsx) or CSV file, first row = column names, e.g. "
        "\u201cHọ và tên\u201d, \u201cNgày sinh\u201d, \u201cSố điện thoại\u201d, \u201cChức vụ\u201d, "
        "\u201cNgày vào Đảng\u201d, \u201cNgày chính thức\u201d, \u201cSố thẻ đảng viên\u201d.\n"
        "Members already on the roster are matched by card number, else by name and birth date, so "
        "sending the same file twice changes nothing. If any row is wrong, nothing is saved and each "
        "wrong row is listed.\n\n"
        "Files can be sent from the web chat, with the button below."
    )
    return [Reply(text, upload_label="📎 " + _("Choose the file"), upload_accept=REGISTER_FILES)]


def choose_language(ctx: Context) -> list[Reply]:
    _ = ctx.gettext
    return [
        Reply(
            _("Choose your language:"),
            buttons=(
                (
                    Button("🇻🇳 Tiếng Việt", SetLanguage("vi").pack()),
                    Button("🇬🇧 English", SetLanguage("en").pack()),
                ),
            ),
        )
    ]


async def set_language(ctx: Context, member: Member, locale: str) -> list[Reply]:
    if locale not in ctx.catalogs.locales:
        return choose_language(ctx)
    before = member.locale
    member.locale = locale
    ctx.session.add(member)
    audit.record(
        ctx.session,
        AuditAction.MEMBER_LANGUAGE,
        actor_id=member.id,
        subject_type="member",
        subject_id=member.id,
        before={"locale": before},
        after={"locale": locale},
    )
    _ = ctx.gettext  # the member's new language
    return [home(ctx, member, _("From now on I will write to you in English."))]


def help_text(ctx: Context, member: Member) -> list[Reply]:
    _ = ctx.gettext
    lines = [
        _("Tap a button in the menu below:"),
        _("• Notices: the latest announcements; tap “I have read it” on each."),
        _("• Open votes: the votes you may take part in, and whether you have voted."),
        _("• Meetings: upcoming meetings and your answer, your attendance, past minutes."),
        _("• My details: your own party record."),
        _("• My branch: your branch, its secretary and how many members it has."),
    ]
    if leads_any_branch(member):
        lines.append(_("• Manage: tools for the branch secretary."))
    lines += [
        _("• Language: Vietnamese or English."),
        "",
        _(
            "You can also type the commands /me (/toi), /branch (/chibo), /meetings (/lichhop), /lang "
            "and /help (/huongdan)."
        ),
    ]
    if leads_any_branch(member):
        lines.append(_("To find a member, type /find (/tim) and part of the name."))
    return [home(ctx, member, "\n".join(lines))]


@router.on(Home)
async def _home(ctx: Context, member: Member, action: Home) -> list[Reply]:
    return [welcome_back(ctx, member)]


@router.on(Help)
async def _help(ctx: Context, member: Member, action: Help) -> list[Reply]:
    return help_text(ctx, member)


@router.on(MyDetails)
async def _my_details(ctx: Context, member: Member, action: MyDetails) -> list[Reply]:
    return await my_details(ctx, member)


@router.on(MyBranch)
async def _my_branch(ctx: Context, member: Member, action: MyBranch) -> list[Reply]:
    return await my_branch(ctx, member)


@router.on(ChooseLanguage)
async def _choose_language(ctx: Context, member: Member, action: ChooseLanguage) -> list[Reply]:
    return choose_language(ctx)


@router.on(SetLanguage)
async def _set_language(ctx: Context, member: Member, action: SetLanguage) -> list[Reply]:
    return await set_language(ctx, member, action.locale)


@router.on(Cancel)
async def _cancel(ctx: Context, member: Member, action: Cancel) -> list[Reply]:
    return [home(ctx, member, ctx.gettext("Cancelled."))]


@router.on(EditMyPhone)
async def _edit_my_phone(ctx: Context, member: Member, action: EditMyPhone) -> list[Reply]:
    return ask_my_phone(ctx, member)


@router.on(ImportRegister)
async def _import_register(ctx: Context, member: Member, action: ImportRegister) -> list[Reply]:
    return import_help(ctx, member)


@router.answers(Question.MY_PHONE)
async def _my_phone_typed(ctx: Context, member: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    return await save_my_phone(ctx, member, text)


@router.renders(NotPermitted)
def _not_permitted(ctx: Context, member: Member, error: NotPermitted) -> list[Reply]:
    return refused(ctx, member, error.permission, error.target)


@router.renders(Stale)
def _stale(ctx: Context, member: Member, error: Stale) -> list[Reply]:
    return [home(ctx, member, ctx.gettext("This button is no longer valid. Please use the menu below."))]
