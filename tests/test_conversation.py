"""Joining and asking, through the same entry point every channel uses (Runtime.process)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, update
from sqlmodel import col, select

from bot.runtime import Runtime
from handlers.contract import Inbound
from models.invites import find_invite
from models.tables import AuditEvent, ChannelIdentity, Invite, Member, Platform, utcnow
from tests.chat import button, labels, say
from tests.conftest import Demo, member_named


async def test_a_member_joins_with_the_deep_link_code_and_gets_the_menu(runtime: Runtime, demo: Demo) -> None:
    replies = await say(runtime, 1, f"/start {demo.code('Hoàng Văn Nam')}")
    assert "Chào mừng đồng chí Hoàng Văn Nam" in replies[0].text
    assert "Chi bộ thôn Đông" in replies[0].text
    assert labels(replies[0]) == [
        "📢 Thông báo", "🗳 Biểu quyết đang mở", "📅 Cuộc họp", "👤 Thông tin của tôi", "🏠 Chi bộ của tôi",
        "🌐 Ngôn ngữ / Language", "❓ Hướng dẫn",
    ]  # fmt: skip


async def test_a_typed_code_works_in_any_case_with_spaces(runtime: Runtime, demo: Demo) -> None:
    code = demo.code("Vũ Thị Mai").lower().replace("-", " ")
    replies = await say(runtime, 2, code)
    assert "Vũ Thị Mai" in replies[0].text


async def test_an_invite_works_once(runtime: Runtime, demo: Demo) -> None:
    code = demo.code("Ngô Thị Thu")
    await say(runtime, 3, f"/start {code}")
    replies = await say(runtime, 4, f"/start {code}")
    assert "đã được dùng rồi" in replies[0].text
    assert replies[0].menu is None
    async with runtime.sessions() as session:
        linked = (await session.exec(select(func.count()).select_from(ChannelIdentity))).one()
    assert linked == 1


async def test_unknown_malformed_expired_and_reissued_codes_are_explained(runtime: Runtime, demo: Demo) -> None:
    unknown = (await say(runtime, 5, "/start ABCD-EFGH"))[0].text
    assert "không còn hiệu lực" in unknown
    assert "không phải là mã mời" in (await say(runtime, 5, "12-34"))[0].text
    async with runtime.sessions() as session, session.begin():
        invite = await find_invite(session, demo.code("Bùi Thị Hương"))
        assert invite is not None
        await session.exec(
            update(Invite).where(col(Invite.id) == invite.id).values(expires_at=utcnow() - timedelta(minutes=1))
        )
    # An expired (or used, or replaced) code gets the very answer an unknown one gets.
    assert (await say(runtime, 5, demo.code("Bùi Thị Hương")))[0].text == unknown


async def test_a_chat_that_types_wrong_codes_is_locked_out_on_every_platform(runtime: Runtime, demo: Demo) -> None:
    """The web chat counted wrong codes; Telegram and Zalo did not, so a bot could guess freely."""
    for _attempt in range(5):
        assert "không còn hiệu lực" in (await say(runtime, 7, "/start ABCD-EFGH"))[0].text
    # Even the right code is not tried while the chat is locked out: guessing teaches nothing.
    locked = (await say(runtime, 7, f"/start {demo.code('Bùi Thị Hương')}"))[0].text
    assert "Đã nhập sai mã mời quá nhiều lần" in locked and "bí thư" in locked
    assert (await say(runtime, 8, f"/start {demo.code('Bùi Thị Hương')}"))[0].menu is not None  # another chat


async def test_a_joined_member_guessing_codes_is_locked_out_too(runtime: Runtime, demo: Demo) -> None:
    """A joined chat typing a code learns whether it is someone's (to offer switching): it may not
    try codes without end."""
    await say(runtime, 9, f"/start {demo.code('Mai Văn Sơn')}")
    for attempt in range(5):
        await say(runtime, 9, f"ABCD-EFG{'HJKMN'[attempt]}")
    other = (await say(runtime, 9, demo.code("Bùi Thị Hương")))[0]
    assert "Đổi sang đồng chí khác" not in str(other.buttons)


async def test_a_stranger_learns_nothing(runtime: Runtime, demo: Demo) -> None:
    for text in ("/start", "Xin chào, cho tôi hỏi lịch họp chi bộ", "/me", "👤 Thông tin của tôi"):
        reply = (await say(runtime, 6, text))[0]
        assert "chỉ phục vụ đảng viên" in reply.text
        assert reply.menu is None
        assert reply.contact_label == "📱 Chia sẻ số điện thoại"
        assert "Chi bộ" not in reply.text and "Nguyễn" not in reply.text


async def test_sharing_ones_own_phone_links_the_member(runtime: Runtime, demo: Demo) -> None:
    member = await member_named(runtime, "Lê Văn Minh")
    assert member.phone is not None
    local = "0" + member.phone.removeprefix("+84")
    refused = await say(runtime, 7, contact_phone=local, contact_is_own=False)
    assert "của chính mình" in refused[0].text
    linked = await say(runtime, 7, contact_phone=local, contact_is_own=True)
    assert "Chào mừng đồng chí Lê Văn Minh" in linked[0].text
    async with runtime.sessions() as session:
        audit = (await session.exec(select(AuditEvent).where(AuditEvent.action == "member.linked"))).one()
    assert audit.after is not None
    assert (audit.after["platform"], audit.after["via"]) == ("telegram", "phone")


async def test_a_phone_shared_by_two_members_does_not_link(runtime: Runtime, demo: Demo) -> None:
    async with runtime.sessions() as session, session.begin():
        await session.exec(
            update(Member)
            .where(Member.full_name.in_(["Mai Văn Sơn", "Chu Thị Thảo"]))  # type: ignore[attr-defined]
            .values(phone="+84988777666")
        )
    replies = await say(runtime, 8, contact_phone="+84 988 777 666", contact_is_own=True)
    assert "nhiều đảng viên" in replies[0].text


async def test_my_details_and_my_branch(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, 9, f"/start {demo.code('Đặng Văn Tuấn')}")
    details = (await say(runtime, 9, "👤 Thông tin của tôi"))[0].text
    assert "Họ và tên: Đặng Văn Tuấn" in details
    assert "Chi bộ: Chi bộ thôn Đông" in details
    assert "Loại đảng viên: Đảng viên dự bị" in details
    assert "Ngày chính thức: chưa (đang dự bị)" in details
    branch = (await say(runtime, 9, "/branch"))[0].text
    assert "Bí thư: Nguyễn Văn Hùng" in branch
    assert "Số đảng viên: 11 (10 chính thức, 1 dự bị)" in branch


async def test_only_secretaries_see_and_use_manage(runtime: Runtime, demo: Demo) -> None:
    secretary = await say(runtime, 10, f"/start {demo.code('Lý Văn Quang')}")
    assert "🛠 Quản lý" in labels(secretary[0])
    manage = (await say(runtime, 10, "🛠 Quản lý"))[0]
    roster = (await say(runtime, 10, payload=button(manage, "Danh sách đảng viên")))[0].text
    assert "Danh sách đảng viên Chi bộ thôn Tây" in roster
    assert "7. Lý Văn Quang — Bí thư, đảng viên chính thức, Telegram" in roster  # by given name: Quang is 7th
    assert "6. Hồ Thị Ngọc — Phó Bí thư, đảng viên chính thức, chưa tham gia" in roster
    found = (await say(runtime, 10, "/tim thi"))[0]
    assert len(found.buttons) == 5  # one per name, opening the record
    assert found.text.splitlines()[:5] == [  # as registers list people: Hạnh, Loan, Ngọc, Thảo, Yến
        "1. Lương Thị Hạnh — Đảng viên, đảng viên chính thức, chưa tham gia",
        "2. Phan Thị Loan — Đảng viên, đảng viên chính thức, chưa tham gia",
        "3. Hồ Thị Ngọc — Phó Bí thư, đảng viên chính thức, chưa tham gia",
        "4. Chu Thị Thảo — Đảng viên, đảng viên chính thức, chưa tham gia",
        "5. Trịnh Thị Yến — Đảng viên, đảng viên dự bị, chưa tham gia",
    ]
    assert "Không có ai" in (await say(runtime, 10, "/find nguyen van hung"))[0].text  # another branch
    # The committee secretary searches the whole commune.
    await say(runtime, 17, f"/start {demo.code('Nguyễn Văn Hùng')}")
    commune = (await say(runtime, 17, "/find LAN"))[0].text
    assert "Trần Thị Lan" in commune and "Phan Thị Loan" not in commune
    member = await say(runtime, 11, f"/start {demo.code('Mai Văn Sơn')}")
    assert "🛠 Quản lý" not in labels(member[0])
    forged = (await say(runtime, 11, payload="roster"))[0].text
    assert "chỉ dành cho bí thư" in forged


async def test_forged_payloads_are_refused(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, 12, f"/start {demo.code('Trần Minh Châu')}")
    for payload in ("vote:1:2", "setlang:xx'; drop", "me:extra", "", "x" * 65):
        reply = (await say(runtime, 12, payload=payload))[0]
        assert "không còn dùng được" in reply.text or "Chọn ngôn ngữ" in reply.text


async def test_language_switch_is_per_member(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, 13, f"/start {demo.code('Phan Thị Loan')}")
    await say(runtime, 14, f"/start {demo.code('Cao Văn Dũng')}")
    switched = (await say(runtime, 13, payload="setlang:en"))[0]
    assert switched.text == "From now on I will write to you in English."
    assert "👤 My details" in labels(switched)
    details = (await say(runtime, 13, "👤 My details"))[0].text
    assert "Full name: Phan Thị Loan" in details and "Official member" in details
    # The old Vietnamese keyboard still works, and the other member still reads Vietnamese.
    assert "Full name" in (await say(runtime, 13, "👤 Thông tin của tôi"))[0].text
    assert "Họ và tên: Cao Văn Dũng" in (await say(runtime, 14, "/me"))[0].text
    back = (await say(runtime, 13, payload="setlang:vi"))[0]
    assert back.text == "Từ nay tôi sẽ viết cho đồng chí bằng tiếng Việt."


async def test_an_update_delivered_twice_is_handled_once(runtime: Runtime, demo: Demo) -> None:
    inbound = Inbound(platform=Platform.WEB, user_id="u", chat_id="u", text=demo.code("Lương Thị Hạnh"))
    first = await runtime.process(inbound, "same-key", answer_inline=True)
    again = await runtime.process(inbound, "same-key", answer_inline=True)
    assert again.duplicate and again.replies == first.replies
    async with runtime.sessions() as session:
        count = (await session.exec(select(func.count()).select_from(AuditEvent))).one()
    assert count == 1


async def test_a_deactivated_members_account_is_a_stranger_and_can_be_relinked(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, 15, f"/start {demo.code('Đỗ Thị Kim')}")
    async with runtime.sessions() as session, session.begin():
        await session.exec(update(Member).where(Member.full_name == "Đỗ Thị Kim").values(active=False))  # type: ignore[arg-type]
    stranger = (await say(runtime, 15, "/me"))[0]
    assert "chỉ phục vụ đảng viên" in stranger.text and "Đỗ Thị Kim" not in stranger.text
    # Was: greeted as a stranger with no word of why; the account is said to be closed.
    assert "Tài khoản chibo của cuộc trò chuyện này đã đóng" in stranger.text
    assert "đóng" not in (await say(runtime, 16, "/me"))[0].text  # a true stranger is not told of accounts
    # The same phone, handed on to another member who got their own code.
    relinked = (await say(runtime, 15, f"/start {demo.code('Nguyễn Đức Anh')}"))[0]
    assert "Chào mừng đồng chí Nguyễn Đức Anh" in relinked.text
    async with runtime.sessions() as session:
        identities = (await session.exec(select(ChannelIdentity))).all()
    assert len(identities) == 1


async def test_two_people_racing_on_one_code_link_exactly_one(runtime: Runtime, demo: Demo) -> None:
    code = demo.code("Dương Văn Long")

    async def join(user: str) -> str:
        inbound = Inbound(platform=Platform.WEB, user_id=user, chat_id=user, text=code)
        return (await runtime.process(inbound, f"race-{user}", answer_inline=True)).replies[0].text

    texts = await asyncio.gather(*(join(f"racer{i}") for i in range(6)))
    assert sum("Chào mừng đồng chí Dương Văn Long" in text for text in texts) == 1
    assert sum("đã được dùng rồi" in text for text in texts) == 5
    async with runtime.sessions() as session:
        assert len((await session.exec(select(ChannelIdentity))).all()) == 1


async def test_a_refused_management_action_is_audited(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, 16, f"/start {demo.code('Lương Thị Hạnh')}")
    await say(runtime, 16, payload="manage")
    async with runtime.sessions() as session:
        refusal = (await session.exec(select(AuditEvent).where(AuditEvent.action == "refused"))).one()
    member = await member_named(runtime, "Lương Thị Hạnh")
    assert refusal.actor_member_id == member.id
    assert refusal.after == {"permission": "view_roster", "member_id": None, "times": 1, "permissions": ["view_roster"]}


async def test_thoi_drops_the_question_chibo_asked(runtime: Runtime, demo: Demo) -> None:
    """Was: "thôi" typed while chibo waited for a phone number got "“thôi” is not a phone number"."""
    await say(runtime, 930, f"/start {demo.code('Mai Văn Sơn')}")
    before = (await member_named(runtime, "Mai Văn Sơn")).phone
    for word in ("thôi", "Hủy nhé", "bo qua"):
        await say(runtime, 930, payload="myphone")
        dropped = (await say(runtime, 930, word))[0]
        assert dropped.text.startswith("Đã hủy.") and "số điện thoại" not in dropped.text
    assert (await member_named(runtime, "Mai Văn Sơn")).phone == before
    await say(runtime, 930, payload="myphone")  # an answer is still taken as one
    await say(runtime, 930, "0912 345 678")
    assert (await member_named(runtime, "Mai Văn Sơn")).phone not in (before, None)
