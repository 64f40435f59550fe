"""Classified documents and texts never go through a chat platform; mentions of secrets do
(DESIGN.md §4). The mark is looked for as a document carries it: the stamp standing alone, the field
"Độ mật", a word of the file name."""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.runtime import Runtime
from handlers.contract import Attachment, Reply
from handlers.menus import NewNotice
from models.audit import AuditAction
from models.documents import name_marking, secrecy_marking, text_marking
from models.notice_scans import unreadable
from models.tables import AuditEvent, Notice, NoticeStatus
from tests.chat import button, say
from tests.conftest import Demo, member_named

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


# --- a file chibo cannot read: a scan or a photo (issue 14) ----------------------------------------

# A scanned page: one JPEG image, no font anywhere.
_SCAN = (
    b"%PDF-1.4\n1 0 obj << /Type /XObject /Subtype /Image /Filter /DCTDecode >>\n"
    b"stream\n\xff\xd8\xff\xe0 the scanned page\nendstream\nendobj\n"
)
_TEXT_PDF = b"%PDF-1.4\n1 0 obj << /Type /Page /Resources << /Font << /F1 2 0 R >> >> >>\nendobj\n"
# PDF 1.5: the page, its fonts with it, packed in a compressed object stream.
_PACKED_PDF = (
    b"%PDF-1.5\n4 0 obj << /Type /ObjStm /Filter /FlateDecode >>\nstream\n"
    + zlib.compress(b"<< /Type /Page /Resources << /Font << /F1 5 0 R >> >> >>")
    + b"\nendstream\nendobj\n"
)
_PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF a photo of the document"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("anh.jpg", _PHOTO, True),
        ("tep", b"\x89PNG\r\n\x1a\n a photo sent without its suffix", True),
        ("lich-hop.pdf", _SCAN, True),
        ("lich-hop.pdf", _TEXT_PDF, False),
        ("lich-hop.pdf", _PACKED_PDF, False),
        ("ke-hoach.docx", _docx(["KẾ HOẠCH"]), False),
        ("ghi-chu.txt", b"Lich hop thang 12", False),
    ],
)
def test_a_file_whose_text_chibo_cannot_read(name: str, content: bytes, expected: bool) -> None:
    assert unreadable(name, content) is expected


DEPUTY_ELSEWHERE = 401
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


async def _draft_with(runtime: Runtime, text: str, attachment: Attachment) -> tuple[int, Reply]:
    """A draft with a file attached: its id, and its preview."""
    await say(runtime, SECRETARY, payload=NewNotice().pack())
    preview = (await say(runtime, SECRETARY, text))[0]
    await say(runtime, SECRETARY, payload=button(preview, "Đính kèm"))
    attached = (await say(runtime, SECRETARY, attachment=attachment))[0]
    assert f"📎 Đính kèm: {attachment.filename}" in attached.text
    async with runtime.sessions() as session:
        notice = (await session.exec(select(Notice).order_by(col(Notice.id).desc()))).first()
    assert notice is not None and notice.id is not None
    return notice.id, attached


async def _status(runtime: Runtime, notice_id: int) -> NoticeStatus:
    async with runtime.sessions() as session:
        notice = await session.get(Notice, notice_id)
    assert notice is not None
    return notice.status


async def test_a_scan_goes_out_only_once_the_secretary_confirms_it_carries_no_mark(
    runtime: Runtime, demo: Demo
) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    await say(runtime, DEPUTY_ELSEWHERE, f"/start {demo.code('Trần Thị Lan')}")
    notice_id, preview = await _draft_with(
        runtime, "Lịch họp tháng 12, xem tệp kèm theo.", Attachment("lich.pdf", _SCAN)
    )
    asked = (await say(runtime, SECRETARY, payload=button(preview, "Gửi ngay")))[0]
    assert "lich.pdf là bản chụp hoặc ảnh" in asked.text and "xác nhận tệp không mang dấu độ mật" in asked.text
    assert await _status(runtime, notice_id) is NoticeStatus.DRAFT  # nothing went out
    assert "Xem trước thông báo" in (await say(runtime, SECRETARY, payload=button(asked, "Chưa")))[0].text
    # Nobody else may confirm it for him, not even with the button.
    confirm_scan = button(asked, "không mang dấu độ mật")
    assert "Nút này không còn dùng được nữa" in (await say(runtime, DEPUTY_ELSEWHERE, payload=confirm_scan))[0].text
    # The scan replaced by a photo: the confirmation of the scan does not pass for the photo.
    await say(runtime, SECRETARY, payload=button(preview, "Đính kèm"))
    await say(runtime, SECRETARY, attachment=Attachment("anh.jpg", _PHOTO))
    assert "không còn dùng được" in (await say(runtime, SECRETARY, payload=confirm_scan))[0].text
    assert await _status(runtime, notice_id) is NoticeStatus.DRAFT
    asked = (await say(runtime, SECRETARY, payload=button(preview, "Gửi ngay")))[0]
    assert "anh.jpg là bản chụp hoặc ảnh" in asked.text
    sent = (await say(runtime, SECRETARY, payload=button(asked, "không mang dấu độ mật")))[0]
    assert "Đã gửi tới " in sent.text
    assert await _status(runtime, notice_id) is NoticeStatus.SENT
    async with runtime.sessions() as session:
        confirmations = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == AuditAction.NOTICE_FILE_CONFIRMED.value))
        ).all()
    quang = await member_named(runtime, "Lý Văn Quang")
    assert [(e.actor_member_id, e.subject_id) for e in confirmations] == [(quang.id, notice_id)]
    assert confirmations[0].after == {"file": "anh.jpg", "sha256": hashlib.sha256(_PHOTO).hexdigest()}


async def test_a_scan_is_confirmed_before_its_time_is_asked_and_a_text_pdf_needs_no_confirmation(
    runtime: Runtime, demo: Demo
) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    notice_id, preview = await _draft_with(runtime, "Lịch trực Tết.", Attachment("anh.jpg", _PHOTO))
    asked = (await say(runtime, SECRETARY, payload=button(preview, "Hẹn giờ")))[0]
    assert "anh.jpg là bản chụp hoặc ảnh" in asked.text
    when = (await say(runtime, SECRETARY, payload=button(asked, "không mang dấu độ mật")))[0]
    assert "Gửi lúc nào?" in when.text
    tomorrow = datetime.now(HANOI) + timedelta(days=1)
    assert "sẽ được gửi lúc 07:30" in (await say(runtime, SECRETARY, f"{tomorrow:%d/%m} 07:30"))[0].text
    assert await _status(runtime, notice_id) is NoticeStatus.SCHEDULED
    # A PDF with a text layer is checked by its name and title, as any document: no question.
    notice_id, preview = await _draft_with(runtime, "Kế hoạch tháng 1.", Attachment("ke-hoach.pdf", _TEXT_PDF))
    assert "Đã gửi tới " in (await say(runtime, SECRETARY, payload=button(preview, "Gửi ngay")))[0].text
