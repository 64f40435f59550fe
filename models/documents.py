"""Documents and texts that must not go through a chat platform: those carrying a classification
mark (Mật, Tối mật, Tuyệt mật) as a document carries it (DESIGN.md §4; Luật Bảo vệ bí mật nhà nước
2018, art. 10 and 15: the three degrees, stamped on the document).

A mark is the stamp word standing on its own: a line of its own ("MẬT", "TỐI MẬT"), the capitals of
a stamp ("Số 12-CV  TUYỆT MẬT"), the field "Độ mật: Mật", or a word of the file name ("Báo cáo
MẬT.docx", "bao_cao_toi_mat.pdf"). Running text that merely mentions secrets is not marked: "bảo
vệ bí mật nhà nước", "mật khẩu", "bảo mật", "mật độ", "tài liệu tối mật phải cất giữ cẩn thận".
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from pathlib import Path

from models.roster import fold

_MARKS = ("tuyệt mật", "tối mật", "mật")
_FOLDED_MARKS = ("tuyet mat", "toi mat")
# Words that make "mật" part of another word: bí mật (a secret), bảo mật (security), mật khẩu
# (password), mật độ (density), mật ong (honey), thân mật (friendly), cơ mật, mật mã, mật thiết …
_BEFORE = {"bí", "bảo", "cơ", "thân", "giữ", "lộ"}
_AFTER = {"khẩu", "mã", "độ", "ong", "thiết", "báo", "thám", "vụ", "đàm", "ước", "danh", "hiệu", "lệnh"}
_LINE_MARK = re.compile(r"^[\W_]*(tuyệt mật|tối mật|mật)[\W_]*$", re.IGNORECASE)
_FIELD = re.compile(r"(?<!\w)độ mật\s*[:：]\s*(tuyệt mật|tối mật|mật)(?!\w)", re.IGNORECASE)
# A stamp in capitals: apart from the words around it, or "TUYỆT MẬT" closing its line.
_APART = re.compile(
    r"(?:^|[\t(\[|]|\s{2,})(TUYỆT MẬT|TỐI MẬT|MẬT|TUYET MAT|TOI MAT)(?=[ \t]*$|[\t)\]|]|\s{2,})", re.MULTILINE
)
_CLOSING = re.compile(r"(?<!\w)(TUYỆT MẬT|TỐI MẬT|TUYET MAT|TOI MAT)(?=[ \t]*$)", re.MULTILINE)


def text_marking(text: str) -> str | None:
    """The classification mark ``text`` (a notice, minutes, a document's first page) carries, if any."""
    normalized = unicodedata.normalize("NFC", text)
    for line in normalized.splitlines():
        found = _LINE_MARK.match(line.strip())
        if found:
            return found.group(1)
    for pattern in (_FIELD, _APART, _CLOSING):
        found = pattern.search(normalized)
        if found:
            return found.group(1)
    return None


def name_marking(name: str) -> str | None:
    """The classification mark a file name (or a document's title) carries as one of its words.

    Diacritics matter: "mật" is secret, "mặt" (as in Mặt trận) is not; without diacritics only
    "toi mat" and "tuyet mat", and "MAT" in capitals at the start or end of the name, count."""
    normalized = unicodedata.normalize("NFC", name)
    stem = Path(normalized).stem if "." in normalized[-6:] else normalized
    words = [w for w in re.split(r"[\W_]+", stem) if w]
    lowered = [w.lower() for w in words]
    joined = " ".join(lowered)
    for mark in _MARKS[:2]:
        if re.search(rf"(?<!\w){mark}(?!\w)", joined):
            return mark
    for i, word in enumerate(lowered):
        if word == "mật":
            before = lowered[i - 1] if i > 0 else ""
            after = lowered[i + 1] if i + 1 < len(lowered) else ""
            if before not in _BEFORE and after not in _AFTER:
                return words[i]
    folded = " ".join(fold(w) for w in words)
    for mark in _FOLDED_MARKS:
        if re.search(rf"(?<!\w){mark}(?!\w)", folded):
            return mark
    if words and "MAT" in (words[0], words[-1]) and len(words) > 1:
        return "MAT"
    return None


def secrecy_marking(filename: str, content: bytes) -> str | None:
    """The classification a document carries in its name, its title or its first page, if any:
    such documents never go through a chat platform (DESIGN.md §4)."""
    title, first_page = _title_and_first_page(filename, content)
    return name_marking(filename) or (name_marking(title) if title else None) or text_marking(first_page)


_PART_BYTES = 200_000  # of a .docx part: the title and first page are well within


def _read_start(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    if name not in archive.namelist():
        return b""
    with archive.open(name) as part:
        return part.read(limit)


def _title_and_first_page(filename: str, content: bytes) -> tuple[str, str]:
    """The document's title and first few thousand characters, where the format lets us read them."""
    suffix = Path(filename).suffix.lower()
    if suffix in (".txt", ".csv", ".md"):
        return "", content[:8000].decode("utf-8", errors="ignore")
    if suffix == ".docx":
        # Only the first bytes of each part are ever unpacked, whatever the part declares: a 0.8 MB
        # document that unpacks to gigabytes costs no more than a small one.
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                core = _read_start(archive, "docProps/core.xml", 20_000)
                body = _read_start(archive, "word/document.xml", _PART_BYTES)
        except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, NotImplementedError, EOFError):
            return "", ""
        title = re.search(rb"<dc:title>(.*?)</dc:title>", core, re.DOTALL)
        paragraphs = re.sub(rb"</w:p>|<w:br/>|<w:tab/>", b"\n", body)  # each paragraph a line of its own
        text = re.sub(r"<[^>]+>", "", paragraphs.decode("utf-8", errors="ignore"))
        return (title.group(1).decode("utf-8", errors="ignore") if title else ""), text[:8000]
    if suffix == ".pdf":
        title = re.search(rb"/Title\s*\((.{0,200}?)\)", content[:200_000] + content[-20_000:])
        return (title.group(1).decode("utf-8", errors="ignore") if title else ""), ""
    return "", ""
