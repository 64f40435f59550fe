"""Lists as Excel files: one sheet, a bold header row, the columns sized to their contents; and a
workbook the chat builds, as a download."""

from __future__ import annotations

import io
import urllib.parse
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from fastapi.responses import Response

from models.office_text import as_text, cell_value

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Cell = str | int | float | date | datetime | None


def xlsx_response(filename: str, headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Response:
    """An .xlsx download of ``rows`` under ``headers`` (openpyxl, loaded at the first export).
    Times are written in the zone they carry, without it (Excel keeps none)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook(write_only=False)
    sheet = book.active
    assert sheet is not None
    sheet.append([cell_value(h) for h in headers])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(h) for h in headers]
    for row in rows:
        values = [v.replace(tzinfo=None) if isinstance(v, datetime) else cell_value(v) for v in row]
        sheet.append(values)
        widths = [max(w, len(str(v)) if v is not None else 0) for w, v in zip(widths, values, strict=False)]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[_column(index)].width = min(60, max(8, width + 2))
    sheet.freeze_panes = "A2"
    as_text(sheet)
    buffer = io.BytesIO()
    book.save(buffer)
    return xlsx_file(filename, buffer.getvalue())


def xlsx_file(filename: str, content: bytes) -> Response:
    """A workbook already built (the chat's reports) as a download."""
    quoted = urllib.parse.quote(filename)
    return Response(
        content,
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quoted}", "Cache-Control": "no-store"},
    )


def _column(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
