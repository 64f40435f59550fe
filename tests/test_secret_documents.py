"""Classified documents and texts never go through a chat platform; mentions of secrets do
(DESIGN.md §4). The mark is looked for as a document carries it: the stamp standing alone, the field
"Độ mật", a word of the file name."""

from __future__ import annotations

import io
import zipfile

import pytest

from bot.runtime import Runtime
from handlers.contract import Attachment
from handlers.menus import NewNotice
from models.documents import name_marking, secrecy_marking, text_marking
from tests.chat import button, say
from tests.conftest import Demo

NAMES: list[tuple[str, str | None]] = [
    ("Báo cáo MẬT.docx", "MẬT"),
    ("Báo cáo mật quý IV.docx", "mật"),
    ("MẬT - Nghị quyết 05.pdf", "MẬT"),
    ("Nghị quyết 05 (Mật).pdf", "Mật"),
    ("Kế hoạch tối mật.docx", "tối mật"),
    ("TUYỆT MẬT_ke_hoach.pdf", "tuyệt mật"),
    ("bao_cao_toi_mat.pdf", "toi mat"),
    ("tuyet-mat-2026.docx", "tuyet mat"),
    ("MAT_NQ05.pdf", "MAT"),
    ("NQ05 - MAT.pdf", "MAT"),
    # mentions, not marks
    ("Tài liệu bảo vệ bí mật nhà nước.docx", None),
    ("Hướng dẫn bảo vệ bí mật nhà nước năm 2026.pdf", None),
    ("Đổi mật khẩu Zalo.docx", None),
    ("mat-khau-wifi.txt", None),
    ("Chính sách bảo mật.pdf", None),
    ("Mật độ dân cư thôn Đông.xlsx", None),
    ("Lịch họp Mặt trận.pdf", None),
    ("Mất điện thôn Đông.docx", None),
    ("Gap mat cuoi nam.docx", None),
    ("anh.jpg", None),
]

TEXTS: list[tuple[str, str | None]] = [
    ("MẬT\nNGHỊ QUYẾT\nvề công tác cán bộ", "MẬT"),
    ("TỐI MẬT\n\nKẾ HOẠCH", "TỐI MẬT"),
    ("  Tuyệt mật  \nSố 12-KH/ĐU", "Tuyệt mật"),
    ("(MẬT)\nBáo cáo", "MẬT"),
    ("ĐẢNG ỦY XÃ ĐÔNG SƠN        MẬT\nSố 12-CV/ĐU", "MẬT"),
    ("Số 12-CV/ĐU\tTỐI MẬT", "TỐI MẬT"),
    ("Tài liệu TUYỆT MẬT\nSố 12", "TUYỆT MẬT"),
    ("Độ mật: Mật\nNơi nhận: …", "Mật"),
    ("độ mật: tối mật", "tối mật"),
    ("- MẬT -", "MẬT"),
    # mentions, not marks
    ("Hội nghị quán triệt Luật Bảo vệ bí mật nhà nước lúc 8 giờ.", None),
    ("BẢO VỆ BÍ MẬT NHÀ NƯỚC TRONG CÔNG TÁC ĐẢNG", None),
    ("Đồng chí nào quên mật khẩu Zalo thì báo văn phòng.", None),
    ("Tài liệu tối mật phải được cất giữ tại văn phòng, không chụp ảnh.", None),
    ("Chi bộ có mặt đầy đủ; họp Mặt trận lúc 14 giờ.", None),
    ("Thông tin giữ bí mật đến khi công bố.", None),
    ("Mật độ dân cư tăng; mật ong Tây Sơn được mùa.", None),
    ("", None),
]


@pytest.mark.parametrize(("name", "expected"), NAMES, ids=[n for n, _ in NAMES])
def test_a_file_name(name: str, expected: str | None) -> None:
    assert name_marking(name) == expected


@pytest.mark.parametrize(("text", "expected"), TEXTS, ids=[t[:30] or "empty" for t, _ in TEXTS])
def test_a_text(text: str, expected: str | None) -> None:
    assert text_marking(text) == expected


def _docx(paragraphs: list[str], title: str = "") -> bytes:
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", f"<w:document><w:body>{body}</w:body></w:document>")
        archive.writestr("docProps/core.xml", f"<cp:coreProperties><dc:title>{title}</dc:title></cp:coreProperties>")
    return buffer.getvalue()


def test_a_document_by_its_first_page_and_title() -> None:
    assert secrecy_marking("nghi-quyet.docx", _docx(["ĐẢNG BỘ XÃ", "MẬT", "NGHỊ QUYẾT"])) == "MẬT"
    assert secrecy_marking("nghi-quyet.docx", _docx(["Độ mật: Tối mật"])) == "Tối mật"
    assert secrecy_marking("nghi-quyet.docx", _docx(["x"], title="Kế hoạch MẬT")) == "MẬT"
    assert secrecy_marking("nghi-quyet.pdf", b"%PDF-1.4 /Title (Tai lieu Toi mat) ") == "toi mat"
    assert secrecy_marking("ghi-chu.txt", "Tài liệu TUYỆT MẬT\nSố 12".encode()) == "TUYỆT MẬT"
    harmless = _docx(["HƯỚNG DẪN", "Bảo vệ bí mật nhà nước", "Không chia sẻ mật khẩu."])
    assert secrecy_marking("Tài liệu bảo vệ bí mật nhà nước.docx", harmless) is None


# --- in the chat, on both databases ---------------------------------------------------------------

SECRETARY = 400


async def test_a_notice_about_state_secrets_goes_out_and_a_marked_one_does_not(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, SECRETARY, payload=NewNotice().pack())
    refused = (await say(runtime, SECRETARY, "MẬT\nKế hoạch nhân sự nhiệm kỳ tới"))[0]
    assert "mang dấu độ mật “MẬT”" in refused.text
    preview = (await say(runtime, SECRETARY, "Hội nghị quán triệt Luật Bảo vệ bí mật nhà nước, 8 giờ sáng thứ Hai."))[0]
    assert "Xem trước thông báo" in preview.text
    await say(runtime, SECRETARY, payload=button(preview, "Đính kèm"))
    document = _docx(["HƯỚNG DẪN", "Bảo vệ bí mật nhà nước; không chia sẻ mật khẩu."])
    attached = (await say(runtime, SECRETARY, attachment=Attachment("bảo vệ bí mật nhà nước.docx", document)))[0]
    assert "📎 Đính kèm: bảo vệ bí mật nhà nước.docx" in attached.text
    await say(runtime, SECRETARY, payload=button(preview, "Đính kèm"))
    marked = _docx(["ĐẢNG ỦY XÃ", "TỐI MẬT", "KẾ HOẠCH"])
    refused = (await say(runtime, SECRETARY, attachment=Attachment("ke-hoach.docx", marked)))[0]
    assert "được đánh dấu “TỐI MẬT”" in refused.text
