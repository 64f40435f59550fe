"""What members ask about themselves and their branch: their record, the secretary and how to reach
them, help; and an invite code typed on a phone that is already joined."""

from __future__ import annotations

from dataclasses import dataclass

from handlers import members
from handlers.actions import ActionData
from handlers.context import Context
from handlers.contract import Button, Reply
from handlers.intents.matching import N_, Intent
from handlers.intents.unanswered import with_unanswered
from handlers.members import Cancel, EditMyPhone
from handlers.menus import BranchRoster, ChooseLanguage, Help, Home, Manage, MyBranch, MyDetails, OpenDesk
from handlers.questions import Awaiting, Question
from handlers.records import FindMember
from handlers.records.words import local_phone
from handlers.router import Router
from models import record_queries
from models.invites import chat_locked_until, count_wrong_code, find_invite, normalize_code
from models.tables import Member, Role, utcnow

router = Router("intents")


@dataclass(frozen=True)
class SwitchMember(ActionData, prefix="switch"):
    """A phone shared in the family: move this chat to the member whose invite code is typed next."""


def _button(label: str, action: ActionData) -> Button:
    return Button(label, action.pack())


async def secretary(ctx: Context, member: Member) -> list[Reply]:
    """ "Số điện thoại bí thư?": the branch's secretary and deputies with their phone numbers."""
    _ = ctx.gettext
    leaders = await record_queries.branch_leaders(ctx.session, member.branch_id)
    if not leaders:
        text = _("Your branch has no secretary recorded yet.")
    else:
        lines = []
        for leader in leaders:
            title = _("Secretary") if leader.role is Role.SECRETARY else _("Deputy secretary")
            lines.append(
                _("{title}: comrade {name}, phone {phone}").format(
                    title=title, name=leader.full_name, phone=local_phone(leader.phone)
                )
            )
        text = "\n".join(lines)
    return [Reply(text, buttons=((_button("🏠 " + _("My branch"), MyBranch()),),))]


async def greet(ctx: Context, member: Member) -> list[Reply]:
    return [members.welcome_back(ctx, member)]


async def typed_code(ctx: Context, member: Member, text: str) -> list[Reply] | None:
    """An invite code typed by a member already joined here (a phone shared in the family), or None
    when ``text`` is no invite code. The code is only checked, not used: to move this chat to the
    other member they tap a button and type the code again, so it is never kept in a button, a
    stored reply or the conversation state."""
    code = normalize_code(text)
    if code is None:
        return None
    platform, user_id = ctx.inbound.platform.value, ctx.inbound.user_id
    if await chat_locked_until(ctx.session, platform, user_id) is not None:
        return None  # read as ordinary words: a locked-out chat learns nothing from its guesses
    invite = await find_invite(ctx.session, code)
    if invite is None:
        await count_wrong_code(ctx.session, platform, user_id)
        return None
    _ = ctx.gettext
    usable = invite.used_at is None and invite.revoked_at is None and invite.expires_at > utcnow()
    if invite.member_id == member.id or not usable:
        text = _("You are already linked as {name}. No code is needed.").format(name=member.full_name)
        if invite.member_id != member.id:
            text += "\n" + _("That code can no longer be used.")
        return [members.home(ctx, member, text)]
    return [
        Reply(
            _(
                "This chat is joined as comrade {name}. The code you typed belongs to another comrade. "
                "To use this chat for that comrade instead, tap \u201cSwitch to another comrade\u201d "
                "and type the code again."
            ).format(name=member.full_name),
            buttons=(
                (_button("🔁 " + _("Switch to another comrade"), SwitchMember()),),
                (_button("✖️ " + _("Keep it as it is"), Cancel()),),
            ),
        )
    ]


@router.on(SwitchMember)
async def _ask_switch(ctx: Context, member: Member, action: SwitchMember) -> list[Reply]:
    """After "Switch to another comrade": the code is asked for again; nothing changes until a
    valid one is typed."""
    _ = ctx.gettext
    ctx.ask(Awaiting(Question.SWITCH_MEMBER))
    text = _(
        "Type the invite code of the comrade who will use this chat. Comrade {name} will then no longer "
        "get messages here (they can join again with a new invite code)."
    ).format(name=member.full_name)
    return [Reply(text, buttons=((_button("✖️ " + _("Cancel"), Cancel()),),))]


@router.answers(Question.SWITCH_MEMBER)
async def _switch_with_code(ctx: Context, member: Member, awaiting: Awaiting, text: str) -> list[Reply]:
    """The code typed after "Switch to another comrade": link this chat to its member (audited as a
    new link, with the member before), or say why not and keep the chat as it was."""
    ctx.member = None  # joining as someone else: members.join_with_code serves only strangers
    replies = await members.join_with_code(ctx, text)
    if ctx.member is None:  # a wrong or used code: nothing changed
        ctx.member = member
    return replies


@router.on(Manage)
async def _manage(ctx: Context, member: Member, action: Manage) -> list[Reply]:
    return await with_unanswered(ctx, member, members.manage_menu(ctx, member))


INTENTS = (
    Intent(
        "my_details",
        (
            "thông tin",
            "thông tin của tôi",
            "thông tin cá nhân",
            "xem thông tin của tôi",
            "lý lịch của tôi",
            "hồ sơ của tôi",
            "hồ sơ đảng viên",
            "ngày vào đảng của tôi",
            "tôi vào đảng ngày nào",
            "ngày chính thức của tôi",
            "số thẻ đảng của tôi",
            "thẻ đảng viên",
            "tôi là đảng viên chính thức chưa",
            "thông tin đảng viên của tôi",
            "tôi là ai",
            "năm vào đảng",
            "số thẻ đảng",
            "my info",
            "hồ sơ",
            "hồ sơ cá nhân",
            "ngày sinh của tôi",
            "lý lịch",
            "my details",
            "my information",
            "my profile",
            "party card",
            "my record",
        ),
        MyDetails().pack(),
        N_("My details"),
    ),
    Intent(
        "edit_phone",
        (
            "đổi số điện thoại",
            "sửa số điện thoại",
            "cập nhật số điện thoại",
            "thay số điện thoại",
            "số điện thoại của tôi sai",
            "tôi đổi số mới",
            "change my phone number",
            "update my phone number",
            "my phone number is wrong",
        ),
        EditMyPhone().pack(),
        N_("Correct my phone number"),
    ),
    Intent(
        "secretary",
        (
            "số điện thoại bí thư",
            "số bí thư",
            "bí thư là ai",
            "ai là bí thư",
            "bí thư chi bộ là ai",
            "liên hệ bí thư",
            "liên lạc với bí thư",
            "gọi cho bí thư",
            "zalo bí thư",
            "phó bí thư",
            "số điện thoại phó bí thư",
            "hỏi bí thư",
            "gặp bí thư",
            "bí thư",
            "liên lạc bí thư",
            "bí thư tên gì",
            "secretary",
            "secretary phone",
            "who is the secretary",
            "contact the secretary",
            "call the secretary",
        ),
        MyBranch().pack(),
        N_("Branch secretary"),
        secretary,
    ),
    Intent(
        "my_branch",
        (
            "chi bộ của tôi",
            "tôi thuộc chi bộ nào",
            "tôi ở chi bộ nào",
            "chi bộ có bao nhiêu đảng viên",
            "chi bộ mấy người",
            "thông tin chi bộ",
            "số đảng viên chi bộ",
            "chi bộ có bao nhiêu người",
            "my branch",
            "how many members",
        ),
        MyBranch().pack(),
        N_("My branch"),
    ),
    Intent(
        "help",
        (
            "hướng dẫn",
            "hướng dẫn sử dụng",
            "giúp",
            "giúp tôi",
            "trợ giúp",
            "cách dùng",
            "dùng thế nào",
            "làm thế nào",
            "làm sao",
            "tôi phải làm gì",
            "chibo làm được gì",
            "chibo là gì",
            "help",
            "không biết dùng",
            "help me",
            "how do I use this",
            "how does this work",
        ),
        Help().pack(),
        N_("Help"),
    ),
    Intent(
        "home",
        (
            "menu",
            "về menu",
            "màn hình chính",
            "trở về",
            "quay lại",
            "alo",
            "hello",
            "hi",
            "bắt đầu",
            "start",
            "cảm ơn",
            "cảm ơn đồng chí",
            "cảm ơn nhiều",
            "thank you",
            "thanks",
            "hello chibo",
        ),
        Home().pack(),
        N_("Main menu"),
        greet,
    ),
    Intent(
        "language",
        ("đổi ngôn ngữ", "ngôn ngữ", "tiếng anh", "english", "tiếng việt", "language", "vietnamese", "change language"),
        ChooseLanguage().pack(),
        N_("Language / Ngôn ngữ"),
    ),
    Intent(
        "roster",
        (
            "danh sách đảng viên",
            "danh sách chi bộ",
            "ai chưa tham gia chibo",
            "ai chưa dùng chibo",
        ),
        BranchRoster().pack(),
        N_("Branch roster"),
    ),
    Intent(
        "find_member", ("tìm đảng viên", "tìm người", "tra cứu đảng viên"), FindMember().pack(), N_("Find a member")
    ),
    Intent("manage", ("quản lý", "công cụ bí thư", "quản lý chi bộ"), Manage().pack(), N_("Manage")),
    Intent(
        "desk",
        ("mở trên máy tính", "bàn làm việc của bí thư", "làm việc trên máy tính", "mở chibo trên máy tính"),
        OpenDesk().pack(),
        N_("Open on a computer"),
    ),
)
