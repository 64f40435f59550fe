"""Fitting text into a platform's message limit without cutting a paragraph when it can be helped."""

from __future__ import annotations


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at a blank line, else a line end, else a space."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = next((i for i in (window.rfind("\n\n"), window.rfind("\n"), window.rfind(" ")) if i > 0), limit)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest or not pieces:
        pieces.append(rest)
    return pieces
