"""Reading a register file (XLSX or CSV) into numbered rows of known columns."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

from openpyxl import Workbook, load_workbook

from models.roster import Column, HeaderError, map_headers

MAX_BYTES = 20 * 1024 * 1024


class FileProblem(StrEnum):
    MISSING = "missing"
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    WRONG_TYPE = "wrong_type"
    BAD_XLSX = "bad_xlsx"
    NOT_UTF8 = "not_utf8"
    NO_ROWS = "no_rows"
    NO_HEADER = "no_header"


class RegisterFileError(ValueError):
    """The file as a whole cannot be read; the caller tells the secretary why, in their language."""

    def __init__(self, problem: FileProblem, name: str, size: int = 0) -> None:
        super().__init__(f"{name}: {problem.value}")
        self.problem, self.name, self.size = problem, name, size


Rows = list[tuple[int, dict[Column, object]]]


def read_register(path: Path) -> Rows:
    """Every non-empty data row with its line number as the secretary sees it (header = line 1)."""
    if not path.is_file():
        raise RegisterFileError(FileProblem.MISSING, str(path))
    size = path.stat().st_size
    if size > MAX_BYTES:  # refused before a byte is read
        raise RegisterFileError(FileProblem.TOO_LARGE, path.name, size)
    return read_register_bytes(path.name, path.read_bytes())


def read_register_bytes(name: str, raw: bytes) -> Rows:
    """The same, for a file that came as bytes (an upload)."""
    if not raw:
        raise RegisterFileError(FileProblem.EMPTY, name)
    if len(raw) > MAX_BYTES:
        raise RegisterFileError(FileProblem.TOO_LARGE, name, len(raw))
    suffix = Path(name).suffix.lower()
    if suffix == ".xlsx":
        table = _xlsx_rows(name, raw)
    elif suffix == ".csv":
        table = _csv_rows(name, raw)
    else:
        raise RegisterFileError(FileProblem.WRONG_TYPE, name)
    try:
        header = next(table)
    except StopIteration:
        raise RegisterFileError(FileProblem.NO_ROWS, name) from None
    try:
        columns = map_headers(header)
    except HeaderError:
        raise RegisterFileError(FileProblem.NO_HEADER, name) from None
    rows: Rows = []
    for line, cells in enumerate(table, start=2):
        values = {column: cells[i] if i < len(cells) else None for i, column in columns.items()}
        if any(v not in (None, "") for v in values.values()):
            rows.append((line, values))
    return rows


def _xlsx_rows(name: str, raw: bytes) -> Iterator[tuple[object, ...]]:
    try:
        workbook = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise RegisterFileError(FileProblem.BAD_XLSX, name) from None
    sheet = workbook.worksheets[0]
    yield from sheet.iter_rows(values_only=True)
    workbook.close()


def _csv_rows(name: str, raw: bytes) -> Iterator[tuple[object, ...]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RegisterFileError(FileProblem.NOT_UTF8, name) from None
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
        raise RegisterFileError(FileProblem.WRONG_TYPE, path.name)


def _defused(cell: str) -> str:
    # A value a spreadsheet would run as a formula is written as text.
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell
