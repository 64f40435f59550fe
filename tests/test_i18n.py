"""Every message chibo can say has a Vietnamese translation, and the compiled catalogues load."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR, Catalogs

ROOT = Path(__file__).resolve().parent.parent


def _message_ids_in_code() -> set[str]:
    found: set[str] = set()
    for package in ("bot", "handlers", "webhooks"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / package), method_map=[("**.py", "python")], keywords={"_": None, "gettext": None}
        ):
            found.add(message if isinstance(message, str) else message[0])
    # The desk's templates say their words through the same catalogue (``_`` and ``ngettext`` in Jinja).
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "webhooks"),
        method_map=[("**.html", "jinja2")],
        options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
        keywords={"_": None, "gettext": None, "ngettext": (1, 2)},
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _singular(text: str | tuple[str, ...] | list[str] | None) -> str:
    """A plural entry's first form (its id, or its first translation)."""
    return text if isinstance(text, str) else text[0] if text else ""


def test_every_message_in_the_code_has_a_vietnamese_translation() -> None:
    with (LOCALES_DIR / "vi" / "LC_MESSAGES" / "chibo.po").open("rb") as po_file:
        catalog = read_po(po_file)
    translated = {_singular(m.id) for m in catalog if m.id and _singular(m.string) and not m.fuzzy}
    in_code = _message_ids_in_code()
    assert len(in_code) > 40  # the extraction itself found the handlers' texts
    assert sorted(in_code - translated) == []


def test_the_english_catalogue_lists_the_same_messages() -> None:
    with (LOCALES_DIR / "en" / "LC_MESSAGES" / "chibo.po").open("rb") as po_file:
        english = {_singular(m.id) for m in read_po(po_file) if m.id}
    assert sorted(_message_ids_in_code() - english) == []


def test_compiled_catalogues_translate() -> None:
    catalogs = Catalogs("vi")
    assert catalogs.translator("vi").gettext("My details") == "Thông tin của tôi"
    assert catalogs.translator("en").gettext("My details") == "My details"
    assert catalogs.translator(None).gettext("Send") == "Gửi"
