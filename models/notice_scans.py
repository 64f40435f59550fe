"""A notice's file chibo cannot read: a photo, or a PDF with no text layer (a scan). Its words are
pixels, so the classification check (``models.documents``: the stamp Mật, Tối mật, Tuyệt mật on the
first page) sees nothing; such a file goes out only after someone who may send the notice looked at
it and confirmed it carries no mark (issue 14; DESIGN.md §4). The confirmation is an audit event
naming the file's contents, so a file replaced afterwards must be confirmed again."""

from __future__ import annotations

import hashlib
import re
import zlib
from itertools import islice
from pathlib import Path

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.audit import AuditAction
from models.notices import check_notice, notice_file
from models.permissions import Actor
from models.tables import AuditEvent, Notice, NoticeFile, NoticeStatus

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".tif", ".tiff", ".bmp")
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"II*\x00", b"MM\x00*")
# A text layer needs a font: a page of text names one in its resources; a scan has only images.
_FONT = re.compile(rb"/Font\b")
_STREAM = re.compile(rb"stream\r?\n")
# PDF 1.5 packs objects, fonts among them, into compressed streams: the first few are opened, and
# only the start of each, so a 20 MB scan costs no more to look at than a small one.
_STREAMS_OPENED = 200
_INFLATED_BYTES = 64 * 1024
SHORT_DIGEST = 12  # hex digits of the SHA-256: what a button carries to name the file it confirms


def _is_image(filename: str, content: bytes) -> bool:
    head = content[:12]
    return (
        Path(filename).suffix.lower() in IMAGE_SUFFIXES
        or head.startswith(_IMAGE_MAGIC)
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
    )


def _has_text_layer(pdf: bytes) -> bool:
    if _FONT.search(pdf):
        return True
    view = memoryview(pdf)
    for stream in islice(_STREAM.finditer(pdf), _STREAMS_OPENED):
        try:
            inflated = zlib.decompressobj().decompress(view[stream.end() :], _INFLATED_BYTES)
        except zlib.error:  # not deflated (a JPEG image, say): no fonts in there
            continue
        if _FONT.search(inflated):
            return True
    return False


def unreadable(filename: str, content: bytes) -> bool:
    """Whether the file is a photo or a PDF without a text layer: nothing in it can be checked."""
    if _is_image(filename, content):
        return True
    is_pdf = Path(filename).suffix.lower() == ".pdf" or content.startswith(b"%PDF")
    return is_pdf and not _has_text_layer(content)


def digest(file: NoticeFile) -> str:
    return hashlib.sha256(file.content).hexdigest()


async def unconfirmed_scan(session: AsyncSession, notice: Notice) -> NoticeFile | None:
    """The draft's file, when it cannot be read and nobody has confirmed it carries no mark."""
    if notice.status is not NoticeStatus.DRAFT:
        return None
    file = await notice_file(session, notice.id or 0)
    if file is None or not unreadable(file.filename, file.content):
        return None
    confirmed = (
        await session.exec(
            select(AuditEvent.after).where(
                col(AuditEvent.action) == AuditAction.NOTICE_FILE_CONFIRMED.value,
                col(AuditEvent.subject_type) == "notice",
                col(AuditEvent.subject_id) == notice.id,
            )
        )
    ).all()
    wanted = digest(file)
    return None if any(after and after.get("sha256") == wanted for after in confirmed) else file


async def confirm_scan(session: AsyncSession, actor: Actor, notice: Notice, file: NoticeFile) -> None:
    """The actor looked at the file and says it carries no classification mark."""
    await check_notice(session, actor, notice)
    audit.record(
        session,
        AuditAction.NOTICE_FILE_CONFIRMED,
        actor_id=actor.id,
        subject_type="notice",
        subject_id=notice.id,
        after={"file": file.filename, "sha256": digest(file)},
    )
