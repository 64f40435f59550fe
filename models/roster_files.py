"""Reading a register file (XLSX or CSV) into numbered rows of known columns."""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from xml.etree import ElementTree

from models.isolation import LimitExceeded, run_limited
from models.office_text import append_row, as_text
from models.roster import Column, HeaderError, map_headers

MAX_BYTES = 20 * 1024 * 1024
# What a register sent in chat may cost to read (the file itself is at most MAX_BYTES): a commune
# has a few hundred members, a province some thousands. A file over these is refused with a reason.
MAX_ROWS = 20_000
MAX_COLUMNS = 64  # cells further right are not read
MAX_FIELD_BYTES = 128 * 1024  # one CSV cell
# An .xlsx is a zip archive: what its parts say they unpack to is checked before any is read.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
MAX_RATIO = 100  # unpacked / packed, for parts over RATIO_FLOOR; XML packs 5-20 times in practice
RATIO_FLOOR = 1024 * 1024
PARSE_MEMORY_BYTES = 1024 * 1024 * 1024
PARSE_SECONDS = 60.0


class FileProblem(StrEnum):
    MISSING = "missing"
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    WRONG_TYPE = "wrong_type"
    BAD_XLSX = "bad_xlsx"
    NOT_UTF8 = "not_utf8"
    NO_ROWS = "no_rows"
    NO_HEADER = "no_header"
    TOO_MANY_ROWS = "too_many_rows"
    FIELD_TOO_LARGE = "field_too_large"
    UNSAFE_ARCHIVE = "unsafe_archive"  # unpacks to far more than it weighs (a "zip bomb")
    TOO_COMPLEX = "too_complex"  # the parse ran out of its memory or time
    BAD_CSV = "bad_csv"


class RegisterFileError(ValueError):
    """The file as a whole cannot be read; the caller tells the secretary why, in their language."""

    def __init__(self, problem: FileProblem, name: str, size: int = 0) -> None:
        super().__init__(f"{name}: {problem.value}")
        self.problem, self.name, self.size = problem, name, size

    def __reduce__(self) -> tuple[type[RegisterFileError], tuple[FileProblem, str, int]]:
        # Raised in the parsing process and re-raised in the server: pickled by its fields.
        return (RegisterFileError, (self.problem, self.name, self.size))


Rows = list[tuple[int, dict[Column, object]]]


def read_register(path: Path, *, max_rows: int | None = None) -> Rows:
    """Every non-empty data row with its line number as the secretary sees it (header = line 1).
    For the operator's own files on the server: no row limit unless given."""
    if not path.is_file():
        raise RegisterFileError(FileProblem.MISSING, str(path))
    size = path.stat().st_size
    if size > MAX_BYTES:  # refused before a byte is read
        raise RegisterFileError(FileProblem.TOO_LARGE, path.name, size)
    return read_register_bytes(path.name, path.read_bytes(), max_rows=max_rows)


async def read_uploaded_register(name: str, raw: bytes) -> Rows:
    """A register sent in chat, at most MAX_ROWS rows, read off the event loop. A spreadsheet, whose
    cost is not bounded by its size, is read in a process of its own with capped memory and time,
    once its zip directory passed the checks here; a CSV costs at most linear time in its size
    (MAX_BYTES), so a thread suffices."""
    if Path(name).suffix.lower() != ".xlsx" or not raw or len(raw) > MAX_BYTES:
        return await asyncio.to_thread(read_register_bytes, name, raw, MAX_ROWS)
    check_archive(name, raw).close()
    try:
        return await run_limited(
            read_register_bytes, name, raw, MAX_ROWS, memory_bytes=PARSE_MEMORY_BYTES, seconds=PARSE_SECONDS
        )
    except LimitExceeded:
        raise RegisterFileError(FileProblem.TOO_COMPLEX, name, len(raw)) from None
    except ElementTree.ParseError:  # e.g. nested entities ("billion laughs"), which expat refuses
        raise RegisterFileError(FileProblem.TOO_COMPLEX, name, len(raw)) from None


def read_register_bytes(name: str, raw: bytes, max_rows: int | None = MAX_ROWS) -> Rows:
    """The same, for a file that came as bytes (an upload)."""
    if not raw:
        raise RegisterFileError(FileProblem.EMPTY, name)
    if len(raw) > MAX_BYTES:
        raise RegisterFileError(FileProblem.TOO_LARGE, name, len(raw))
    suffix = Path(name).suffix.lower()
    if suffix == ".xlsx":
        table = _xlsx_rows(name, raw, max_rows)
    elif suffix == ".csv":
        table = _csv_rows(name, raw, max_rows)
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
        values = {column: _without_nul(cells[i]) if i < len(cells) else None for i, column in columns.items()}
        if any(v not in (None, "") for v in values.values()):
            rows.append((line, values))
    return rows


def check_archive(name: str, raw: bytes, max_unpacked: int = MAX_UNPACKED_BYTES) -> zipfile.ZipFile:
    """The zip archive, once what its parts declare they unpack to is within bounds. Reading a part
    never yields more than it declared (zipfile stops there), so the declared sizes are the limit."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise RegisterFileError(FileProblem.BAD_XLSX, name) from None
    total = 0
    for part in parts:
        total += part.file_size
        packed = max(part.compress_size, 1)
        if total > max_unpacked or (part.file_size > RATIO_FLOOR and part.file_size > MAX_RATIO * packed):
            archive.close()
            raise RegisterFileError(FileProblem.UNSAFE_ARCHIVE, name, total)
    return archive


def _xlsx_rows(name: str, raw: bytes, max_rows: int | None) -> Iterator[tuple[object, ...]]:
    check_archive(name, raw).close()
    # openpyxl takes a fifth of a second and several MB: loaded only when a register is read or written.
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise RegisterFileError(FileProblem.BAD_XLSX, name) from None
    sheet = workbook.worksheets[0]
    limit = None if max_rows is None else max_rows + 1  # the header, then at most max_rows rows
    for number, row in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
        if limit is not None and number > limit:
            workbook.close()
            raise RegisterFileError(FileProblem.TOO_MANY_ROWS, name, max_rows or 0)
        yield row
    workbook.close()


def _csv_rows(name: str, raw: bytes, max_rows: int | None) -> Iterator[tuple[object, ...]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RegisterFileError(FileProblem.NOT_UTF8, name) from None
    # Excel in Vietnamese locales writes ";" between columns.
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    limit = None if max_rows is None else max_rows + 1
    previous = csv.field_size_limit(MAX_FIELD_BYTES)
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
            if limit is not None and number > limit:
                raise RegisterFileError(FileProblem.TOO_MANY_ROWS, name, max_rows or 0)
            yield tuple(row[:MAX_COLUMNS])
    except csv.Error as error:
        problem = FileProblem.FIELD_TOO_LARGE if "field larger" in str(error) else FileProblem.BAD_CSV
        raise RegisterFileError(problem, name, MAX_FIELD_BYTES) from None
    finally:
        csv.field_size_limit(previous)


def write_register(path: Path, header: list[str], rows: Sequence[Sequence[str | int]]) -> None:
    """Write the roster as .xlsx or .csv (UTF-8 with BOM, so Excel shows Vietnamese right); a
    number (a count) stays a number cell."""
    safe = [[_defused(cell) for cell in row] for row in rows]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(safe)
    elif suffix == ".xlsx":
        from openpyxl import Workbook  # only when a register is written as .xlsx (see _xlsx_rows)

        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        append_row(sheet, list(header))
        for row in safe:
            append_row(sheet, list(row))
        as_text(sheet)
        workbook.save(path)
    else:
        raise RegisterFileError(FileProblem.WRONG_TYPE, path.name)


def _without_nul(cell: object) -> object:
    """A NUL means nothing in a register and PostgreSQL refuses it in text: dropped, as in chat."""
    return cell.replace("\x00", "") if isinstance(cell, str) else cell


def _defused(cell: str | int) -> str | int:
    # A value a spreadsheet would run as a formula is written as text.
    return "'" + cell if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@") else cell
