"""What members ask about votes: what is open for them and whether they have voted."""

from __future__ import annotations

from handlers.intents.matching import N_, Intent
from handlers.menus import NewPoll, OpenPolls

INTENTS = (
    Intent(
        "open_polls",
        (
            "biểu quyết",
            "bỏ phiếu",
            "tôi bỏ phiếu chưa",
            "tôi đã bỏ phiếu chưa",
            "tôi biểu quyết chưa",
            "tôi đã biểu quyết chưa",
            "có biểu quyết nào không",
            "có gì cần biểu quyết không",
            "biểu quyết đang mở",
            "các cuộc biểu quyết",
            "có phiếu nào chưa bỏ",
            "phiếu bầu",
            "bầu cử",
            "lấy ý kiến",
            "kết quả biểu quyết",
            "kết quả bỏ phiếu",
            "tôi muốn bỏ phiếu",
            "đổi phiếu",
            "vote",
            "votes",
            "open votes",
            "did I vote",
            "ballot",
            "poll",
            "election results",
        ),
        OpenPolls().pack(),
        N_("Open votes"),
    ),
    Intent(
        "new_poll",
        (
            "tạo biểu quyết",
            "tạo biểu quyết mới",
            "biểu quyết mới",
            "mở biểu quyết",
            "lấy ý kiến chi bộ",
            "tạo phiếu bầu",
            "new poll",
            "new vote",
        ),
        NewPoll().pack(),
        N_("New poll"),
    ),
)
