"""The attendance rules of DESIGN.md §4, as a member and a secretary meet them.

Attendance is present / excused (a reason the secretary accepts) / absent without reason; it is
final only when the secretary confirms the list, and nobody becomes absent without reason because
they did not tap. A check-in and an excuse cannot both stand. The commune committee's meeting is
the commune committee's (đảng ủy), not every branch's chi ủy.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select

from bot.runtime import Runtime
from handlers.contract import Reply
from handlers.meetings.actions import (
    AnswerInvitation,
    AttendanceBoard,
    ConfirmAttendance,
    Excuse,
    MarkAttendance,
    MeetingCheckIn,
    NewMeeting,
)
from models.meetings import attendance_of, call, create_draft, invitations, summary
from models.tables import (
    Attendance,
    AuditEvent,
    Meeting,
    MeetingInvitation,
    MeetingKind,
    Member,
    MemberStanding,
    Role,
    Rsvp,
    utcnow,
)
from tests.chat import button, say, vi
from tests.conftest import Demo, member_named
from tests.test_meeting_scheduler import CLOSE, LETTERS, START, Outbox, Scheduler, _call, _link
from tests.test_meetings import LOAN, SECRETARY, SON, _call_meeting

SON_NAME, LOAN_NAME = "Mai Văn Sơn", "Phan Thị Loan"
COMMUNE = 520  # Nguyễn Văn Hùng, secretary of Chi bộ thôn Đông and of the commune committee


def _buttons(reply: Reply) -> str:
    """Every button label of the reply, one per line."""
    return "\n".join(b.label for row in reply.buttons for b in row)


async def _starts_in(runtime: Runtime, meeting_id: int, delta: timedelta) -> None:
    async with runtime.sessions() as session, session.begin():
        await session.exec(update(Meeting).where(col(Meeting.id) == meeting_id).values(starts_at=utcnow() + delta))


async def _invitation(runtime: Runtime, meeting_id: int, name: str) -> MeetingInvitation:
    member = await member_named(runtime, name)
    async with runtime.sessions() as session:
        found = await session.get(MeetingInvitation, (meeting_id, member.id))
    assert found is not None
    return found


async def test_the_close_of_check_in_makes_nobody_absent_without_reason(runtime: Runtime, demo: Demo) -> None:
    """DESIGN.md §4: nobody becomes "absent without reason" because they did not tap. Was: an hour
    after the start everyone unmarked became absent, and could be named in the absence warning."""
    await _link(runtime, "Lý Văn Quang", SON_NAME)
    meeting_id = await _call(runtime)
    outbox, scheduler = Outbox(runtime), Scheduler(runtime)
    await outbox.new()
    await scheduler.run_at(START)
    assert await scheduler.run_at(CLOSE) == 1
    async with runtime.sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
        invited = await invitations(session, meeting_id)
    assert meeting is not None and meeting.attendance_closed_at == CLOSE and meeting.attendance_confirmed_at is None
    assert {attendance_of(invitation) for invitation, _member in invited} == {Attendance.UNRECORDED}
    assert all(invitation.attendance is None for invitation, _member in invited)  # nothing was written
    assert [m for m in await outbox.new() if m[1].startswith("warning")] == []


async def test_an_excuse_after_checking_in_is_refused_and_the_list_still_says_present(
    runtime: Runtime, demo: Demo
) -> None:
    """A check-in and an absence cannot both stand; being at the meeting is what happened. Was: the
    member was told the absence was recorded while the list still said present."""
    meeting_id = await _call_meeting(runtime, demo)
    await _starts_in(runtime, meeting_id, timedelta(minutes=10))
    assert "Đã điểm danh" in (await say(runtime, SON, payload=MeetingCheckIn(meeting_id).pack()))[0].text
    reasons = (await say(runtime, SON, payload=AnswerInvitation(meeting_id, "no").pack()))[0]
    refused = (await say(runtime, SON, payload=button(reasons, "Ốm đau")))[0]
    checked_in = "You have checked in as present at this meeting, so your request to be excused was not recorded."
    assert vi(checked_in) in refused.text
    assert "Đã ghi nhận" not in refused.text
    invitation = await _invitation(runtime, meeting_id, SON_NAME)
    assert invitation.rsvp is Rsvp.ATTENDING and invitation.reason is None
    assert attendance_of(invitation) is Attendance.PRESENT
    board = (await say(runtime, SECRETARY, payload=AttendanceBoard(meeting_id).pack()))[0]
    assert "Có mặt (1): Mai Văn Sơn" in board.text and "xin vắng" not in board.text


async def test_a_check_in_at_the_meeting_replaces_an_earlier_excuse(runtime: Runtime, demo: Demo) -> None:
    """The later action counts: a member who sent an excuse and came after all is present, and told so."""
    meeting_id = await _call_meeting(runtime, demo)
    await say(runtime, LOAN, payload=AnswerInvitation(meeting_id, "no").pack())
    noted = (await say(runtime, LOAN, payload=Excuse(meeting_id, "family").pack()))[0]
    assert "Lời xin vắng có hiệu lực khi bí thư chấp nhận." in noted.text
    await _starts_in(runtime, meeting_id, timedelta(minutes=-5))
    here = (await say(runtime, LOAN, payload=MeetingCheckIn(meeting_id).pack()))[0]
    assert "Lời xin vắng trước đó không còn tính." in here.text
    invitation = await _invitation(runtime, meeting_id, LOAN_NAME)
    assert attendance_of(invitation) is Attendance.PRESENT and invitation.rsvp is Rsvp.ATTENDING
    board = (await say(runtime, SECRETARY, payload=AttendanceBoard(meeting_id).pack()))[0]
    assert "Có mặt (1): Phan Thị Loan" in board.text and "xin vắng" not in board.text


async def test_the_secretary_accepts_reasons_and_confirms_the_list_which_makes_it_final(
    runtime: Runtime, demo: Demo
) -> None:
    """DESIGN.md §4: excused is a reason the secretary accepts; attendance is final only when the
    secretary confirms the list; the unrecorded become absent without reason only by the secretary's
    explicit choice, which is audited."""
    meeting_id = await _call_meeting(runtime, demo)
    await say(runtime, LOAN, payload=AnswerInvitation(meeting_id, "no").pack())
    await say(runtime, LOAN, payload=Excuse(meeting_id, "sick").pack())
    board = (await say(runtime, SECRETARY, payload=AttendanceBoard(meeting_id).pack()))[0]
    assert "Xác nhận danh sách" not in _buttons(board)  # not before the meeting begins
    assert "không ai bị tính là vắng" in board.text
    await _starts_in(runtime, meeting_id, timedelta(minutes=-20))
    assert "Đã điểm danh" in (await say(runtime, SON, payload=MeetingCheckIn(meeting_id).pack()))[0].text
    board = (await say(runtime, SECRETARY, payload=AttendanceBoard(meeting_id).pack()))[0]
    assert "Phan Thị Loan: xin vắng: Ốm đau (chờ bí thư chấp nhận)" in board.text
    assert "Chưa ghi nhận (8): " in board.text and "Vắng không lý do (0): —" in board.text

    # Confirming while a reason waits: the secretary is asked to decide on it first.
    waiting = (await say(runtime, SECRETARY, payload=button(board, "Xác nhận danh sách")))[0]
    assert "Các đồng chí sau xin vắng và đang chờ đồng chí quyết định: Phan Thị Loan" in waiting.text
    person = (await say(runtime, SECRETARY, payload=button(waiting, "Phan Thị Loan")))[0]
    board = (await say(runtime, SECRETARY, payload=button(person, "Chấp nhận lý do")))[0]
    assert "Vắng có lý do (1): Phan Thị Loan: Ốm đau" in board.text

    # The confirm screen names who is not recorded and asks; nothing is confirmed by looking at it.
    screen = (await say(runtime, SECRETARY, payload=button(board, "Xác nhận danh sách")))[0]
    assert "Chưa ghi nhận (8): " in screen.text and "Lương Thị Hạnh" in _buttons(screen)
    assert vi("The remaining comrades: absent without reason") in _buttons(screen)
    hanh = await member_named(runtime, "Lương Thị Hạnh")
    await say(runtime, SECRETARY, payload=MarkAttendance(meeting_id, hanh.id, "present").pack())
    async with runtime.sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
    assert meeting is not None and meeting.attendance_confirmed_at is None
    screen = (await say(runtime, SECRETARY, payload=ConfirmAttendance(meeting_id).pack()))[0]
    assert "Chưa ghi nhận (7): " in screen.text
    done = (await say(runtime, SECRETARY, payload=button(screen, "Những đồng chí còn lại: vắng không lý do")))[0]
    assert vi("The attendance list is confirmed.") in done.text and "là chính thức" in done.text
    # The exempt member (miễn sinh hoạt) of the branch need not come: excused, never absent.
    assert "Vắng không lý do (6): " in done.text and "Chưa ghi nhận (0): —" in done.text
    assert "Xác nhận danh sách" not in _buttons(done) and "Điểm danh hộ" not in _buttons(done)

    # Final: no more marks, no more check-ins, no second confirmation.
    son = await member_named(runtime, SON_NAME)
    late_mark = (await say(runtime, SECRETARY, payload=MarkAttendance(meeting_id, son.id, "absent").pack()))[0]
    assert "đã được xác nhận" in late_mark.text
    assert "đã được xác nhận" in (await say(runtime, LOAN, payload=MeetingCheckIn(meeting_id).pack()))[0].text
    again = (await say(runtime, SECRETARY, payload=ConfirmAttendance(meeting_id, rest="rest").pack()))[0]
    assert "đã được xác nhận" in again.text
    quang = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session:
        [event] = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "meeting.attendance_confirmed"))
        ).all()
        invited = await invitations(session, meeting_id)
    assert event.actor_member_id == quang.id and event.after is not None
    assert (event.after["present"], event.after["excused"], event.after["absent"]) == (2, 2, 6)
    assert len(event.after["marked_absent"]) == 6
    assert Attendance.UNRECORDED not in {attendance_of(invitation) for invitation, _member in invited}


async def test_a_list_with_everyone_recorded_is_confirmed_without_marking_anyone_absent(
    runtime: Runtime, demo: Demo
) -> None:
    meeting_id = await _call_meeting(runtime, demo)
    await _starts_in(runtime, meeting_id, timedelta(minutes=-20))
    async with runtime.sessions() as session:
        invited = await invitations(session, meeting_id)
    for _invitation_row, member in invited:
        await say(runtime, SECRETARY, payload=MarkAttendance(meeting_id, member.id, "present").pack())
    done = (await say(runtime, SECRETARY, payload=ConfirmAttendance(meeting_id).pack()))[0]
    assert vi("The attendance list is confirmed.") in done.text and "Có mặt (10): " in done.text


async def test_a_commune_committee_meeting_invites_the_commune_committee_not_every_chi_uy(
    runtime: Runtime, demo: Demo
) -> None:
    """DESIGN.md §4: commune committee (đảng ủy) roles are of the commune. A commune "Họp cấp ủy"
    invites those with an office in the đảng ủy; was: every branch's secretaries and committee members."""
    quang = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        ngoc = await member_named(runtime, "Hồ Thị Ngọc")
        ngoc.committee_role = Role.COMMITTEE_MEMBER  # a deputy of Tây who also sits on the đảng ủy
        session.add(ngoc)
    hung = await member_named(runtime, "Nguyễn Văn Hùng")  # the committee's secretary (demo)
    async with runtime.sessions() as session, session.begin():
        meeting = await create_draft(
            session, hung, title="Họp đảng ủy", starts_at=utcnow() + timedelta(days=2), branch_id=None,
            kind=MeetingKind.COMMITTEE,
        )  # fmt: skip
        assert await call(session, hung, meeting, LETTERS) == 2
        names = {member.full_name for _invitation_row, member in await invitations(session, meeting.id or 0)}
    assert names == {"Nguyễn Văn Hùng", "Hồ Thị Ngọc"}
    assert quang.full_name not in names  # a branch secretary, not on the đảng ủy


async def test_a_committee_secretary_calls_the_commune_committee_in_chat(runtime: Runtime, demo: Demo) -> None:
    """ "Người dự" steps through the branch, its chi ủy and, for commune leaders, the đảng ủy."""
    async with runtime.sessions() as session, session.begin():
        ngoc = await member_named(runtime, "Hồ Thị Ngọc")
        ngoc.committee_role = Role.DEPUTY_SECRETARY
        session.add(ngoc)
    await say(runtime, COMMUNE, f"/start {demo.code('Nguyễn Văn Hùng')}")
    await say(runtime, COMMUNE, payload=NewMeeting().pack())
    await say(runtime, COMMUNE, "Họp đảng ủy tháng 12")
    preview = (await say(runtime, COMMUNE, (utcnow() + timedelta(days=3)).strftime("%d/%m") + " 19:30"))[0]
    assert "Mời: toàn thể đảng viên chi bộ (11 người)" in preview.text
    preview = (await say(runtime, COMMUNE, payload=button(preview, "Người dự")))[0]
    assert "Mời: chi ủy (3 người)" in preview.text  # Chi bộ thôn Đông's secretary, deputy, member
    preview = (await say(runtime, COMMUNE, payload=button(preview, "Người dự")))[0]
    assert "Mời: đảng ủy xã (2 người)" in preview.text
    called = (await say(runtime, COMMUNE, payload=button(preview, "Gửi giấy mời")))[0]
    assert "Đã gửi giấy mời cho 2 đồng chí" in called.text
    async with runtime.sessions() as session:
        meeting = (await session.exec(select(Meeting))).one()
        names = {member.full_name for _invitation_row, member in await invitations(session, meeting.id or 0)}
    assert meeting.branch_id is None and names == {"Nguyễn Văn Hùng", "Hồ Thị Ngọc"}
    # A branch secretary's cycle has no commune step.
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, SECRETARY, payload=NewMeeting().pack())
    await say(runtime, SECRETARY, "Sinh hoạt chi bộ")
    preview = (await say(runtime, SECRETARY, (utcnow() + timedelta(days=3)).strftime("%d/%m") + " 19:30"))[0]
    preview = (await say(runtime, SECRETARY, payload=button(preview, "Người dự")))[0]
    preview = (await say(runtime, SECRETARY, payload=button(preview, "Người dự")))[0]
    assert "Mời: toàn thể đảng viên chi bộ (10 người)" in preview.text


async def test_confirming_never_makes_an_exempt_member_absent_and_leaves_out_who_left_the_roster(
    runtime: Runtime, demo: Demo
) -> None:
    """DESIGN.md §4: exempt members (miễn sinh hoạt) need not come, and count only when present; a
    member taken off the roster is on no list. Was: "the remaining comrades: absent without reason"
    named the exempt elder and a comrade who had died, who also still counted among those who must
    attend."""
    meeting_id = await _call_meeting(runtime, demo)
    hanh, son = await member_named(runtime, "Lương Thị Hạnh"), await member_named(runtime, SON_NAME)
    async with runtime.sessions() as session, session.begin():
        await session.exec(
            update(MeetingInvitation)
            .where(col(MeetingInvitation.meeting_id) == meeting_id, col(MeetingInvitation.member_id) == hanh.id)
            .values(exempt=True)
        )
        await session.exec(update(Member).where(col(Member.id) == son.id).values(active=False))
    await _starts_in(runtime, meeting_id, timedelta(minutes=-20))
    board = (await say(runtime, SECRETARY, payload=AttendanceBoard(meeting_id).pack()))[0]
    assert SON_NAME not in board.text and "Chưa ghi nhận (9): " in board.text
    await say(runtime, SECRETARY, payload=ConfirmAttendance(meeting_id, rest="rest").pack())
    async with runtime.sessions() as session:
        rows = await invitations(session, meeting_id)
        invited = {member.full_name: attendance_of(i) for i, member in rows}
        exempt = {member.full_name for i, member in rows if i.exempt}
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        counts = await summary(session, meeting)
    assert SON_NAME not in invited and invited["Lương Thị Hạnh"] is Attendance.EXCUSED
    assert "Lương Thị Hạnh" in exempt and {invited[name] for name in exempt} == {Attendance.EXCUSED}
    assert {state for name, state in invited.items() if name not in exempt} == {Attendance.ABSENT}
    assert (counts.invited, counts.must_attend) == (9, 9 - len(exempt))


async def test_suspended_and_temporarily_elsewhere_members_are_not_invited_nor_in_the_validity_base(
    runtime: Runtime, demo: Demo
) -> None:
    """DESIGN.md §4: the base is all members summoned minus those temporarily active elsewhere and
    those suspended (Quy định 294-QĐ/TW; Hướng dẫn 01-HD/TW point 13.2: one active elsewhere who comes
    is counted). Was: both were invited, reminded and counted among those who must attend."""
    async with runtime.sessions() as session, session.begin():
        await session.exec(
            update(Member).where(col(Member.full_name) == "Phan Thị Loan").values(standing=MemberStanding.SUSPENDED)
        )
        await session.exec(
            update(Member).where(col(Member.full_name) == "Mai Văn Sơn").values(standing=MemberStanding.ELSEWHERE)
        )
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    quang = await member_named(runtime, "Lý Văn Quang")
    async with runtime.sessions() as session, session.begin():
        draft = await create_draft(
            session, quang, title="Sinh hoạt chi bộ", starts_at=utcnow() + timedelta(days=2), branch_id=quang.branch_id
        )
        assert await call(session, quang, draft, LETTERS) == 8  # of the branch's 10
        meeting_id = draft.id or 0
    async with runtime.sessions() as session:
        names = {member.full_name for _i, member in await invitations(session, meeting_id)}
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        counts = await summary(session, meeting)
    assert SON_NAME not in names and LOAN_NAME not in names
    assert (counts.invited, counts.must_attend) == (8, 7)  # the exempt elder counts only when present
    # Hạnh is suspended after her invitation: off the list and the base, and no more reminders.
    async with runtime.sessions() as session, session.begin():
        await session.exec(
            update(Member).where(col(Member.full_name) == "Lương Thị Hạnh").values(standing=MemberStanding.SUSPENDED)
        )
    async with runtime.sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        counts = await summary(session, meeting)
    assert (counts.invited, counts.must_attend) == (7, 6)
    board = (await say(runtime, SECRETARY, payload=AttendanceBoard(meeting_id).pack()))[0]
    assert "Lương Thị Hạnh" not in board.text and "6 đảng viên phải dự" in board.text
