"""A printable sheet of invite QR codes: the secretary prints it, elderly members scan their square.

Each QR code opens the web chat with the member's code filled in, so it works on any phone with a
camera and a browser (Zalo's scanner opens links too).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

# Vietnamese needs a font with its diacritics; Pillow's built-in one has none.
FONT_PATHS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    Path("/Library/Fonts/DejaVuSans.ttf"),
)
PAGE = (1240, 1754)  # A4 at 150 dpi
COLUMNS, ROWS = 3, 4
MARGIN = 60


class SheetError(RuntimeError):
    """The sheet cannot be made here; the message says what to install or change."""


@dataclass(frozen=True)
class SheetEntry:
    full_name: str
    code: str
    link: str


def find_font() -> Path | None:
    return next((path for path in FONT_PATHS if path.is_file()), None)


def render_pages(title: str, entries: Sequence[SheetEntry]) -> list[Image.Image]:
    # Pillow and qrcode serve only the printed sheet, a CLI command: loaded when it runs.
    import qrcode
    from PIL import Image, ImageDraw, ImageFont

    font_path = find_font()
    if font_path is None:
        raise SheetError(
            "no DejaVu Sans font for Vietnamese text; install it (Debian: apt-get install fonts-dejavu-core)"
        )
    name_font = ImageFont.truetype(str(font_path), 26)
    code_font = ImageFont.truetype(str(font_path), 34)
    title_font = ImageFont.truetype(str(font_path), 30)
    cell_w = (PAGE[0] - 2 * MARGIN) // COLUMNS
    cell_h = (PAGE[1] - 2 * MARGIN - 60) // ROWS
    per_page = COLUMNS * ROWS
    pages = []
    for start in range(0, len(entries), per_page):
        page = Image.new("RGB", PAGE, "white")
        draw = ImageDraw.Draw(page)
        number = start // per_page + 1
        draw.text((MARGIN, MARGIN - 20), f"{title} ({number})", font=title_font, fill="black")
        for index, entry in enumerate(entries[start : start + per_page]):
            left = MARGIN + (index % COLUMNS) * cell_w
            top = MARGIN + 60 + (index // COLUMNS) * cell_h
            draw.rectangle((left + 4, top + 4, left + cell_w - 4, top + cell_h - 4), outline="#999999", width=2)
            qr = qrcode.make(entry.link, box_size=6, border=2).get_image().convert("RGB")
            side = min(cell_w - 60, cell_h - 130)
            qr = qr.resize((side, side), Image.Resampling.NEAREST)
            page.paste(qr, (left + (cell_w - side) // 2, top + 14))
            _centered(draw, entry.full_name, name_font, left, cell_w, top + side + 24)
            _centered(draw, entry.code, code_font, left, cell_w, top + side + 62)
        pages.append(page)
    return pages


def _centered(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, left: int, width: int, y: int
) -> None:
    while draw.textlength(text, font=font) > width - 20 and len(text) > 4:
        text = text[:-2] + "…"
    draw.text((left + (width - draw.textlength(text, font=font)) / 2, y), text, font=font, fill="black")


def web_invite_link(public_url: str, code: str) -> str:
    """The web chat with the code filled in: what the QR code on the printed sheet opens."""
    return f"{public_url.rstrip('/')}/?invite={code}"


def sheet_pdf(title: str, entries: Sequence[SheetEntry]) -> bytes:
    """The sheet as one PDF (A4 pages of twelve squares), for a download."""
    pages = render_pages(title, entries)
    buffer = io.BytesIO()
    if pages:
        pages[0].save(buffer, "PDF", resolution=150.0, save_all=True, append_images=pages[1:])
    return buffer.getvalue()


def save_sheet(path: Path, title: str, entries: Sequence[SheetEntry]) -> list[Path]:
    """Write the sheet as one PDF, or as PNG pages (``name-2.png`` … after the first); the files written."""
    if not entries:
        return []
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        path.write_bytes(sheet_pdf(title, entries))
        return [path]
    if suffix == ".png":
        written = []
        for number, page in enumerate(render_pages(title, entries), start=1):
            target = path if number == 1 else path.with_name(f"{path.stem}-{number}.png")
            page.save(target, "PNG")
            written.append(target)
        return written
    raise SheetError(f"{path.name}: the sheet can be written as .pdf or .png")
