"""Reading a register file (XLSX or CSV) into numbered rows of known columns."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from openpyxl import Workbook, load_workbook

from models.roster import Column, HeaderError, map_headers

MAX_BYTES = 20 * 1024 * 1024


class RegisterFileError(ValueError):
    """The file as a whole cannot be read; the message is for the secretary."""


Rows = list[tuple[int, dict[Column, object]]]


def read_register(path: Path) -> Rows:
    """Every non-empty data row with its line number as the secretary sees it (header = line 1)."""
    if not path.is_file():
        raise RegisterFileError(f"{path} does not exist")
    size = path.stat().st_size
    if size == 0:
        raise RegisterFileError(f"{path.name} is empty")
    if size > MAX_BYTES:
        raise RegisterFileError(
            f"{path.name} is {size // (1024 * 1024)} MB; the limit is {MAX_BYTES // (1024 * 1024)} MB"
        )
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        table = _xlsx_rows(path)
    elif suffix == ".csv":
        table = _csv_rows(path)
    else:
        raise RegisterFileError(f"{path.name}: only .xlsx and .csv files can be imported")
    try:
        header = next(table)
    except StopIteration:
        raise RegisterFileError(f"{path.name} has no rows") from None
    try:
        columns = map_headers(header)
    except HeaderError:
        raise RegisterFileError(
            f"{path.name}: the first row must name the columns, with at least \u201cHọ và tên\u201d (full name)"
        ) from None
    rows: Rows = []
    for line, cells in enumerate(table, start=2):
        values = {column: cells[i] if i < len(cells) else None for i, column in columns.items()}
        if any(v not in (None, "") for v in values.values()):
            rows.append((line, values))
    return rows


def _xlsx_rows(path: Path) -> Iterator[tuple[object, ...]]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise RegisterFileError(f"{path.name} is not a valid Excel (.xlsx) file") from None
    sheet = workbook.worksheets[0]
    yield from sheet.iter_rows(values_only=True)
    workbook.close()


def _csv_rows(path: Path) -> Iterator[tuple[object, ...]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RegisterFileError(f"{path.name} is not UTF-8 text; save it from Excel as \u201cCSV UTF-8\u201d") from None
    # Excel in Vietnamese locales writes ";" between columns.
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    for row in csv.reader(io.StringIO(text), dialect):
        yield tuple(row)


def write_register(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """Write the roster as .xlsx or .csv (UTF-8 with BOM, so Excel shows Vietnamese right)."""
    safe = [[_defused(cell) for cell in row] for row in rows]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(safe)
    elif suffix == ".xlsx":
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.append(header)
        for row in safe:
            sheet.append(row)
        workbook.save(path)
    else:
        raise RegisterFileError(f"{path.name}: the roster can be written as .xlsx or .csv")


def _defused(cell: str) -> str:
    # A value a spreadsheet would run as a formula is written as text.
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell
