"""What members ask about notices: what is new for them (unread first); for secretaries, writing one."""

from __future__ import annotations

from handlers.intents.matching import N_, Intent
from handlers.menus import NewNotice, Notices, SentNotices

INTENTS = (
    Intent(
        "notices",
        (
            "thông báo",
            "có thông báo gì mới không",
            "có thông báo gì không",
            "thông báo mới",
            "thông báo mới nhất",
            "xem thông báo",
            "thông báo chưa đọc",
            "tin mới",
            "có tin gì mới không",
            "có gì mới không",
            "văn bản mới",
            "công văn mới",
            "chi bộ có thông báo gì",
            "công văn",
            "tin tức",
            "văn bản",
            "notices",
            "new notices",
            "announcements",
            "news",
            "any news",
        ),
        Notices().pack(),
        N_("Notices"),
    ),
    Intent(
        "new_notice",
        (
            "soạn thông báo",
            "tạo thông báo",
            "tạo thông báo mới",
            "viết thông báo",
            "đăng thông báo",
            "gửi thông báo cho chi bộ",
            "gửi thông báo",
            "new notice",
            "write a notice",
        ),
        NewNotice().pack(),
        N_("New notice"),
    ),
    Intent(
        "sent_notices",
        (
            "thông báo đã gửi",
            "ai chưa đọc thông báo",
            "theo dõi thông báo",
            "bao nhiêu người đã đọc",
        ),
        SentNotices().pack(),
        N_("Sent notices"),
    ),
)
