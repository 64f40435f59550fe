"""Domain errors: raised where a rule is broken, turned into the member's words in one place
(``handlers/errors.py``). Each kind has a code, so logs and tests need no message text."""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """Something the member asked for cannot be done, for a reason they should be told."""

    code: ClassVar[str] = "domain"


class Stale(DomainError):
    """A button or a typed answer refers to something that is gone or has moved on (a sent
    notice's draft button, a closed poll's ballot): the member is told the button no longer works."""

    code = "stale"


class NotFound(Stale):
    """The thing a button names does not exist, or is not the member's to see: to the member this
    is the same as a stale button, so nothing is learnt by guessing ids."""

    code = "not_found"
