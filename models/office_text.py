"""Text bound for an Excel or Word file: what members typed may hold characters those formats cannot
(XML 1.0 has no C0 control characters but tab, newline and carriage return), and a cell starting
with = + - @ would be a formula. Every writer of such a file passes its texts through here."""

from __future__ import annotations

import re
from typing import Any

# XML 1.0's forbidden characters (openpyxl's ILLEGAL_CHARACTERS_RE, without importing openpyxl).
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` without the characters a .docx or .xlsx cannot hold."""
    return _NOT_XML.sub("", text)


def cell_value(value: Any) -> Any:
    """A value for a spreadsheet cell: a text made XML-safe; anything else as it is."""
    return xml_safe(value) if isinstance(value, str) else value


def as_text(sheet: Any) -> None:
    """Every cell of ``sheet`` (openpyxl) that would run as a formula is kept as the text it is:
    chibo writes no formulas, so "=HYPERLINK(…)" typed by a member stays words."""
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


def append_row(sheet: Any, values: list[Any]) -> None:
    """``sheet.append`` with every text made XML-safe first."""
    sheet.append([cell_value(value) for value in values])
