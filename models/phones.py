"""Vietnamese phone numbers in one canonical form, ``+84`` and the subscriber digits."""

from __future__ import annotations


def normalize_phone(text: str) -> str | None:
    """``0912 345 678``, ``+84 912345678`` and ``84912345678`` all become ``+84912345678``."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if text.strip().startswith("00"):
        digits = digits[2:]
    if digits.startswith("0") and len(digits) == 10:
        return "+84" + digits[1:]
    if digits.startswith("84") and len(digits) == 11:
        return "+" + digits
    if 8 <= len(digits) <= 15 and not digits.startswith("0"):
        return "+" + digits
    return None
