"""Vietnamese phone numbers in one canonical form, ``+84`` and the subscriber digits."""

from __future__ import annotations

_DIGITS = "0123456789"


def normalize_phone(text: str) -> str | None:
    """``0912 345 678``, ``+84 912345678``, ``84912345678`` and ``+84 0912 345 678`` (the trunk 0
    written too) all become ``+84912345678``. Digits of other scripts (full-width, Arabic-Indic,
    superscripts) are refused: a look-alike number must not stand beside a member's real one."""
    if any(ch.isdigit() and ch not in _DIGITS for ch in text):
        return None
    digits = "".join(ch for ch in text if ch in _DIGITS)
    if text.strip().startswith("00"):
        digits = digits[2:]
    if digits.startswith("840") and len(digits) == 12:
        digits = "84" + digits[3:]
    if digits.startswith("0") and len(digits) == 10:
        return "+84" + digits[1:]
    if digits.startswith("84") and len(digits) == 11:
        return "+" + digits
    if 8 <= len(digits) <= 15 and not digits.startswith("0"):
        return "+" + digits
    return None
