"""Lists as Excel files: one sheet, a bold header row, the columns sized to their contents; and a
workbook the chat builds, as a download."""

from __future__ import annotations

import io
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

from fastapi.responses import Response

from models.office_text import as_text, cell_value

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Cell = str | int | float | date | datetime | None


# Number formats for the columns of a sheet that should read as an office's paper does.
MONEY = "#,##0"
DAY = "dd/mm/yyyy"
PERCENT = "0.0%"


def xlsx_response(
    filename: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    title: Sequence[str] = (),
    sheet_name: str = "",
    formats: Mapping[int, str] | None = None,
) -> Response:
    """An .xlsx download of ``rows`` under ``headers`` (openpyxl, loaded at the first export).
    Times are written in the zone they carry, without it (Excel keeps none). ``title``: heading
    lines above the table (the first bold); ``formats``: a number format by column (0-based), so
    money and dates stay numbers a reader can add up and sort."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook(write_only=False)
    sheet = book.active
    assert sheet is not None
    if sheet_name:
        sheet.title = sheet_name[:31]  # Excel's limit on a sheet's name
    for line in title:
        sheet.append([cell_value(line)])
    if title:
        sheet.cell(row=1, column=1).font = Font(bold=True)
        sheet.append([])
    header_row = sheet.max_row + 1 if title else 1
    sheet.append([cell_value(h) for h in headers])
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    widths = [len(h) for h in headers]
    for row in rows:
        values = [v.replace(tzinfo=None) if isinstance(v, datetime) else cell_value(v) for v in row]
        sheet.append(values)
        widths = [max(w, len(str(v)) if v is not None else 0) for w, v in zip(widths, values, strict=False)]
    for column, number_format in (formats or {}).items():
        for (cell,) in sheet.iter_rows(min_row=header_row + 1, min_col=column + 1, max_col=column + 1):
            cell.number_format = number_format
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[_column(index)].width = min(60, max(8, width + 2))
    sheet.freeze_panes = f"A{header_row + 1}"
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
