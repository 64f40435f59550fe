"""What members ask about the branch's books: their own year-end review; for secretaries, the books."""

from __future__ import annotations

from handlers.intents.matching import N_, Intent
from handlers.menus import Books, MyReview

INTENTS = (
    Intent(
        "my_review",
        (
            "xếp loại của tôi",
            "đánh giá xếp loại của tôi",
            "tôi được xếp loại gì",
            "tự kiểm điểm",
            "bản tự kiểm điểm",
            "viết bản kiểm điểm",
            "kiểm điểm cuối năm",
            "đánh giá đảng viên cuối năm",
            "my review",
            "my year-end review",
            "self-assessment",
        ),
        MyReview().pack(),
        N_("My year-end review"),
    ),
    Intent(
        "books",
        (
            "sổ sách chi bộ",
            "sổ nghị quyết",
            "ghi nghị quyết tháng",
            "chuyển sinh hoạt đảng",
            "chuyển sinh hoạt",
            "quần chúng ưu tú",
            "cảm tình đảng",
            "kết nạp đảng viên mới",
            "xếp loại đảng viên",
            "branch books",
            "transfers",
        ),
        Books().pack(),
        N_("Branch books"),
    ),
)
