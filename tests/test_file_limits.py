"""Files from members are read away from the server's event loop, within limits: a zip bomb, a
sheet of 300,000 rows, a giant CSV cell or a document that unpacks to gigabytes is refused with a
clear message, and the server keeps answering meanwhile."""

from __future__ import annotations

import asyncio
import functools
import io
import tracemalloc
import zipfile
from pathlib import Path

import httpx
import pytest
from openpyxl import Workbook

from bot.runtime import Runtime
from handlers.contract import Attachment
from models.documents import secrecy_marking
from models.isolation import LimitExceeded, run_limited
from models.roster import Column
from models.roster_files import (
    FileProblem,
    RegisterFileError,
    read_register_bytes,
    read_uploaded_register,
)
from tests.chat import say
from tests.conftest import Demo, make_settings, serve_app
from tests.isolated import allocate, wait_for
from webhooks.app import create_app

SECRETARY = 900
_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
        'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.worksheet+xml"/></Types>'
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
    ),
}


def _bomb() -> bytes:
    """400 MB of shared strings in a file of under 2 MB, as reported."""
    return _xlsx(3, (("xl/sharedStrings.xml", 400 * 2**20),))


@functools.cache
def _xlsx(rows: int, extra: tuple[tuple[str, int], ...] = ()) -> bytes:
    """A minimal .xlsx with a header and ``rows`` named members, written as XML directly (fast);
    ``extra`` adds parts of that many zero bytes (a zip bomb's padding)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in _XLSX_PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                b'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>H\xe1\xbb\x8d'
                b" v\xc3\xa0 t\xc3\xaan</t></is></c></row>"
            )
            sheet.write(
                "".join(
                    f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>Thành viên {n}</t></is></c></row>'
                    for n in range(2, rows + 2)
                ).encode()
            )
            sheet.write(b"</sheetData></worksheet>")
        for name, size in extra:
            with archive.open(name, "w", force_zip64=True) as part:
                for _ in range(size // 2**20):
                    part.write(bytes(2**20))
    return buffer.getvalue()


def test_a_zip_bomb_is_refused_before_anything_is_unpacked() -> None:
    bomb = _bomb()
    assert len(bomb) < 2 * 2**20  # 400 MB inside less than 2 MB
    with pytest.raises(RegisterFileError) as refused:
        read_register_bytes("danh-sach.xlsx", bomb)
    assert refused.value.problem is FileProblem.UNSAFE_ARCHIVE


def test_a_sheet_of_300000_rows_is_refused_after_the_limit() -> None:
    with pytest.raises(RegisterFileError) as refused:
        read_register_bytes("danh-sach.xlsx", _xlsx(300_000))
    assert refused.value.problem is FileProblem.TOO_MANY_ROWS
    csv_rows = ("Họ và tên\n" + "".join(f"Thành viên {n}\n" for n in range(300_000))).encode()
    assert len(read_register_bytes("danh-sach.csv", csv_rows, max_rows=None)) == 300_000  # on the server
    with pytest.raises(RegisterFileError) as refused:
        read_register_bytes("danh-sach.csv", csv_rows)
    assert refused.value.problem is FileProblem.TOO_MANY_ROWS


def test_a_giant_csv_cell_is_a_clear_error() -> None:
    giant = ("Họ và tên;Ghi chú\nNguyễn Văn A;" + "x" * 200_000 + "\n").encode()
    with pytest.raises(RegisterFileError) as refused:
        read_register_bytes("danh-sach.csv", giant)
    assert refused.value.problem is FileProblem.FIELD_TOO_LARGE


def test_a_document_that_unpacks_to_hundreds_of_megabytes_is_checked_in_little_memory() -> None:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("word/document.xml", "w", force_zip64=True) as part,
    ):
        part.write("<w:t>TỐI MẬT</w:t>".encode())
        for _ in range(256):
            part.write(bytes(2**20))  # then 256 MB of nothing
    docx = buffer.getvalue()
    assert len(docx) < 2**20
    tracemalloc.start()
    marking = secrecy_marking("bao-cao.docx", docx)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert marking == "TỐI MẬT"
    assert peak < 8 * 2**20


async def test_the_parse_has_its_own_memory_and_time_limits(tmp_path: Path) -> None:
    assert await run_limited(allocate, 10 * 2**20) == 10 * 2**20
    with pytest.raises(LimitExceeded, match="memory"):
        await run_limited(allocate, 4 * 2**30, memory_bytes=512 * 2**20)
    with pytest.raises(LimitExceeded, match="time"):
        await run_limited(wait_for, str(tmp_path / "never"), seconds=0.5)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", _XLSX_PARTS["[Content_Types].xml"])  # and no workbook
    with pytest.raises(RegisterFileError) as refused:
        await read_uploaded_register("danh-sach.xlsx", buffer.getvalue())
    assert refused.value.problem is FileProblem.BAD_XLSX  # the parser's own errors come back as they are
    rows = await read_uploaded_register("danh-sach.xlsx", _xlsx(3))
    assert [cells for _line, cells in rows][-1] == {Column.FULL_NAME: "Thành viên 4"}


async def test_the_server_answers_while_a_parse_runs(database_url: str, tmp_path: Path) -> None:
    app = create_app(make_settings(database_url), migrate=False)
    done = tmp_path / "done"
    async for server in serve_app(app):
        parse = asyncio.create_task(run_limited(wait_for, str(done)))
        async with httpx.AsyncClient(base_url=server.url) as client:
            for _ in range(3):
                assert (await client.get("/healthz")).status_code == 200
        assert not parse.done()  # still parsing, and the server answered all along
        written = tmp_path / "written"
        written.write_text("read")
        written.rename(done)  # at once: the child never sees the file before its text
        assert await parse == "read"


async def test_a_bomb_sent_in_chat_gets_a_clear_answer(runtime: Runtime, demo: Demo) -> None:
    await say(runtime, SECRETARY, f"/start {demo.code('Lý Văn Quang')}")
    bomb = _bomb()
    answer = (await say(runtime, SECRETARY, attachment=Attachment("danh-sach.xlsx", bomb)))[0].text
    assert "danh-sach.xlsx" in answer and "Excel" in answer
    rows = ("Họ và tên\n" + "".join(f"Thành viên {n}\n" for n in range(300_000))).encode()
    answer = (await say(runtime, SECRETARY, attachment=Attachment("danh-sach.csv", rows)))[0].text
    assert "20.000" in answer


async def test_a_sheet_of_nested_entities_is_refused_with_a_reason() -> None:
    """"Billion laughs" in a 3 KB spreadsheet: was a 500 (expat's amplification limit, uncaught)."""
    book = io.BytesIO()
    Workbook().save(book)
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{"".join(f"&lol{i - 1};" for _ in range(10))}">' for i in range(1, 10)
    )
    sheet = (
        f'<?xml version="1.0"?><!DOCTYPE worksheet [{entities}]>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
    )
    bomb = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(book.getvalue())) as source, zipfile.ZipFile(bomb, "w") as target:
        for item in source.infolist():
            data = sheet.encode() if item.filename == "xl/worksheets/sheet1.xml" else source.read(item.filename)
            target.writestr(item, data)
    with pytest.raises(RegisterFileError) as refused:
        await read_uploaded_register("danh-sach.xlsx", bomb.getvalue())
    assert refused.value.problem in (FileProblem.TOO_COMPLEX, FileProblem.BAD_XLSX)
