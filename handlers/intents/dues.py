"""What members ask about party dues and the branch's books, in their own words."""

from __future__ import annotations

from handlers.dues.actions import Badges, DuesBook
from handlers.intents.matching import N_, Intent
from handlers.menus import BooksUpward, MyDues

INTENTS = (
    Intent(
        "my_dues",
        (
            "đảng phí",
            "đảng phí của tôi",
            "tôi đóng đảng phí chưa",
            "tôi đã đóng đảng phí chưa",
            "đã đóng đảng phí chưa",
            "tôi còn nợ đảng phí không",
            "nợ đảng phí",
            "đóng đảng phí",
            "đóng đảng phí tháng này",
            "mức đảng phí",
            "mỗi tháng đóng bao nhiêu đảng phí",
            "đảng phí bao nhiêu",
            "tôi đóng đến tháng nào",
            "còn nợ mấy tháng",
            "đóng đến tháng mấy",
            "còn thiếu tháng nào chưa đóng",
            "mấy tháng chưa đóng",
            "nợ mấy tháng",
            "đóng phí tới đâu",
            "tiền đảng phí",
            "my dues",
            "party dues",
            "have i paid my dues",
            "did i pay",
        ),
        MyDues().pack(),
        N_("My party dues"),
    ),
    Intent(
        # The month's collection list itself, not the menu above it: who has paid and who has not.
        "dues_list",
        (
            "sổ đảng phí",
            "sổ thu đảng phí",
            "thu đảng phí",
            "ai chưa đóng đảng phí",
            "những ai chưa đóng đảng phí",
            "ai đã đóng đảng phí",
            "danh sách thu đảng phí",
            "danh sách đóng đảng phí",
            "nộp đảng phí lên đảng ủy",
            "dues collection",
            "who has not paid dues",
        ),
        DuesBook().pack(),
        N_("Dues collection list"),
    ),
    Intent(
        "dues_reports",
        (
            "báo cáo",
            "báo cáo tháng",
            "báo cáo quý",
            "báo cáo đảng ủy",
            "monthly report",
        ),
        BooksUpward().pack(),
        N_("Dues and reports"),
    ),
    Intent(
        "badges",
        (
            "huy hiệu đảng",
            "huy hiệu",
            "danh sách huy hiệu đảng",
            "ai được nhận huy hiệu",
            "tuổi đảng",
            "trao huy hiệu",
            "party badges",
            "badges",
        ),
        Badges().pack(),
        N_("Party badges"),
    ),
)
