"""What members ask about meetings: when and where the next one is, the schedule, their attendance."""

from __future__ import annotations

from handlers.context import Context, moment_words
from handlers.contract import Button, Reply
from handlers.intents.matching import N_, Intent
from handlers.meetings.actions import AnswerInvitation, MeetingCard, MyAttendance, NewMeeting, PastMeetings
from handlers.menus import Meetings
from models.meetings import upcoming_for
from models.tables import Member, Rsvp, utcnow


async def next_meeting(ctx: Context, member: Member) -> list[Reply]:
    """ "Khi nào họp?": the next meeting's time and place in one message, the member's answer, and
    the buttons to answer it or see the whole schedule."""
    _ = ctx.gettext
    schedule = (Button("📅 " + _("Meeting schedule"), Meetings().pack()),)
    listed = await upcoming_for(ctx.session, member, limit=1)
    if not listed:
        return [Reply(_("No meetings are planned for you."), buttons=(schedule,))]
    meeting, invitation = listed[0]
    assert meeting.id is not None  # a stored meeting
    lines = [
        _("The next meeting: {title}").format(title=meeting.title),
        "🕖 " + moment_words(ctx.translator, meeting.starts_at, ctx.timezone),
        "📍 " + (meeting.place or _("the place is not set yet")),
    ]
    if meeting.link:
        lines.append("🔗 " + meeting.link)
    buttons: list[tuple[Button, ...]] = []
    if meeting.starts_at > utcnow():
        if invitation.rsvp is Rsvp.ATTENDING:
            lines.append("✅ " + _("You said you will attend."))
        elif invitation.rsvp is Rsvp.EXCUSED:
            lines.append("🙏 " + _("You sent your apologies."))
        # Only buttons: an answer is recorded when the member taps one, never from typed words.
        buttons.append(
            (
                Button("✅ " + _("I will attend"), AnswerInvitation(meeting.id, "yes").pack()),
                Button("🙏 " + _("Excused absence"), AnswerInvitation(meeting.id, "no").pack()),
            )
        )
    buttons.append((Button("📄 " + _("Details and documents"), MeetingCard(meeting.id).pack()),))
    buttons.append(schedule)
    return [Reply("\n".join(lines), buttons=tuple(buttons))]


INTENTS = (
    Intent(
        "next_meeting",
        (
            "khi nào họp",
            "khi nào họp chi bộ",
            "bao giờ họp",
            "bao giờ họp chi bộ",
            "mấy giờ họp",
            "họp lúc mấy giờ",
            "họp ngày nào",
            "họp hôm nào",
            "họp ở đâu",
            "tháng này họp ở đâu",
            "tháng này họp khi nào",
            "họp tháng này",
            "sinh hoạt tháng này",
            "sinh hoạt chi bộ khi nào",
            "sinh hoạt chi bộ ở đâu",
            "ngày sinh hoạt chi bộ",
            "cuộc họp tới",
            "cuộc họp sắp tới",
            "buổi họp tới",
            "họp chi bộ",
            "hôm nay có họp không",
            "mai có họp không",
            "tuần này có họp không",
            "có họp không",
            "địa điểm họp",
            "giờ họp",
            "xin vắng họp",
            "xin nghỉ họp",
            "báo vắng họp",
            "tôi không đi họp được",
            "tôi bận không dự họp được",
            "tôi sẽ đi họp",
            "ốm không đi họp được",
            "có sinh hoạt chi bộ không",
            "thứ mấy họp",
            "meeting place",
            "họp ngày bao nhiêu",
            "tài liệu họp",
            "tài liệu cuộc họp",
            "next meeting",
            "when meeting",
            "where meeting",
            "meeting time",
            "when do we meet",
        ),
        Meetings().pack(),
        N_("Next meeting"),
        next_meeting,
    ),
    Intent(
        "meetings",
        (
            "lịch họp",
            "lịch họp chi bộ",
            "xem lịch họp",
            "các cuộc họp",
            "danh sách cuộc họp",
            "cuộc họp",
            "lịch sinh hoạt",
            "lịch sinh hoạt chi bộ",
            "lịch họp tháng sau",
            "các buổi họp sắp tới",
            "các cuộc họp sắp tới",
            "lịch họp tháng này",
            "lịch sinh hoạt tháng này",
            "meeting list",
            "meeting schedule",
            "upcoming meetings",
        ),
        Meetings().pack(),
        N_("Meeting schedule"),
    ),
    Intent(
        "my_attendance",
        (
            "lịch sử tham dự",
            "tôi đã họp mấy buổi",
            "tôi vắng mấy buổi",
            "tôi vắng bao nhiêu buổi",
            "tỷ lệ tham dự của tôi",
            "điểm danh của tôi",
            "tôi có vắng buổi nào không",
            "số buổi tôi đi họp",
            "tôi đi họp đầy đủ không",
            "tôi đi họp mấy buổi",
            "tỷ lệ đi họp",
            "đi họp đủ chưa",
            "điểm danh",
            "tôi vắng mấy lần",
            "tôi đi họp mấy lần",
            "đi họp đủ không",
            "my attendance",
            "attendance history",
            "meetings I missed",
            "how many meetings did I miss",
        ),
        MyAttendance().pack(),
        N_("My attendance"),
    ),
    Intent(
        "past_meetings",
        (
            "biên bản",
            "biên bản họp",
            "xem biên bản",
            "biên bản cuộc họp",
            "biên bản cuộc họp trước",
            "kết luận cuộc họp",
            "kết luận buổi họp trước",
            "nghị quyết cuộc họp trước",
            "cuộc họp trước",
            "họp tháng trước",
            "các cuộc họp đã qua",
            "nội dung họp tháng trước",
            "buổi họp trước",
            "họp trước bàn gì",
            "kết luận",
            "nghị quyết",
            "nghị quyết tháng trước",
            "hôm qua họp",
            "họp hôm trước",
            "cuộc họp hôm qua",
            "cuộc họp vừa rồi",
            "buổi họp vừa rồi",
            "minutes",
            "last meeting",
            "past meetings",
            "what was decided",
            "conclusions",
        ),
        PastMeetings().pack(),
        N_("Past meetings"),
    ),
    Intent(
        "new_meeting",
        (
            "tạo cuộc họp",
            "tạo cuộc họp mới",
            "cuộc họp mới",
            "triệu tập họp",
            "gửi giấy mời họp",
            "mời họp chi bộ",
            "lên lịch họp",
            "new meeting",
            "call a meeting",
        ),
        NewMeeting().pack(),
        N_("New meeting"),
    ),
)
