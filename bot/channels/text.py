"""Text the channels share: fitting it into a message limit without cutting a paragraph when it can be
helped, and the line that stands for a file a platform cannot carry."""

from __future__ import annotations

from collections.abc import Callable


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


def web_chat_address(public_url: object | None, host: str, port: int) -> str:
    """Where members open the web chat: the public address, else the server's own."""
    return str(public_url).rstrip("/") if public_url else f"http://{host}:{port}"


def document_elsewhere(gettext: Callable[[str], str], name: str, web_chat: str) -> str:
    """The line that stands for a document the platform cannot carry: its copy is in the web chat."""
    return "📎 " + gettext("{name} cannot be sent here; open it in the web chat: {url}").format(name=name, url=web_chat)
