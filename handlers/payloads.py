"""Button payloads: compact typed values that fit Telegram's 64-byte callback_data.

A payload comes back from the member's device, so it is untrusted: ``decode`` accepts only the
actions below with a well-formed argument, and the handler re-checks everything it implies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

MAX_BYTES = 64


class Action(StrEnum):
    HOME = "home"
    HELP = "help"
    MY_DETAILS = "me"
    MY_BRANCH = "branch"
    MANAGE = "manage"
    BRANCH_ROSTER = "roster"
    FIND_MEMBER = "find"  # only as a command: the name comes typed
    CHOOSE_LANGUAGE = "lang"
    SET_LANGUAGE = "setlang"


class InvalidPayload(ValueError):
    """A payload that chibo never made (stale, truncated or forged)."""


_LOCALE = re.compile(r"^[a-z]{2}$")
_NO_ARGUMENT: Callable[[str], bool] = lambda arg: arg == ""  # noqa: E731
_ARGUMENT_RULES: dict[Action, Callable[[str], bool]] = {
    Action.SET_LANGUAGE: lambda arg: bool(_LOCALE.match(arg)),
}


@dataclass(frozen=True)
class Payload:
    action: Action
    argument: str = ""

    def encode(self) -> str:
        text = f"{self.action.value}:{self.argument}" if self.argument else self.action.value
        if len(text.encode()) > MAX_BYTES:
            raise ValueError(f"payload over {MAX_BYTES} bytes: {text!r}")
        return text


def decode(text: str) -> Payload:
    if not text or len(text.encode()) > MAX_BYTES:
        raise InvalidPayload(text)
    name, _, argument = text.partition(":")
    try:
        action = Action(name)
    except ValueError:
        raise InvalidPayload(text) from None
    if not _ARGUMENT_RULES.get(action, _NO_ARGUMENT)(argument):
        raise InvalidPayload(text)
    return Payload(action, argument)
