"""The gettext catalogues (locales/<lang>/LC_MESSAGES/chibo.mo), compiled at install time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel.support import NullTranslations, Translations

from bot.settings import SUPPORTED_LOCALES

DOMAIN = "chibo"
# locales/ sits beside the packages both in a checkout and in an installed wheel.
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"


class CatalogMissing(RuntimeError):
    """A compiled catalogue is not where it should be: the install step did not run."""


@dataclass
class Translator:
    locale: str
    translations: NullTranslations

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)


class Catalogs:
    """One translator per supported locale; ``translator(None)`` is the organisation's default."""

    def __init__(self, default_locale: str, directory: Path = LOCALES_DIR) -> None:
        self.default_locale = default_locale
        self.locales: tuple[str, ...] = SUPPORTED_LOCALES
        self._translators: dict[str, Translator] = {}
        for locale in self.locales:
            if not (directory / locale / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file():
                raise CatalogMissing(
                    f"no compiled catalogue for '{locale}' in {directory}; reinstall chibo "
                    "(pip install -e .) so the build step compiles locales/*.po"
                )
            translations = Translations.load(str(directory), [locale], DOMAIN)
            self._translators[locale] = Translator(locale, translations)

    def translator(self, locale: str | None) -> Translator:
        return self._translators.get(locale or self.default_locale, self._translators[self.default_locale])
