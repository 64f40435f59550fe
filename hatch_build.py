"""Compile the gettext catalogues (locales/*/LC_MESSAGES/chibo.po) into .mo files at build time.

Runs for wheels and editable installs alike, so an installed chibo always has its translations.
"""

from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompileCatalogsHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        for po_path in sorted(Path(self.root, "locales").glob("*/LC_MESSAGES/*.po")):
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file)
            mo_path = po_path.with_suffix(".mo")
            with mo_path.open("wb") as mo_file:
                write_mo(mo_file, catalog)
            # .mo files are git-ignored, so name them explicitly to ship them in the wheel.
            build_data["force_include"][str(mo_path)] = str(mo_path.relative_to(self.root))
