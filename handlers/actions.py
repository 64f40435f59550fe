"""Typed button actions: one small frozen dataclass per button, packed into Telegram's 64-byte
``callback_data`` and unpacked again in this one place (like aiogram's ``CallbackData``).

A feature declares its buttons next to its handlers::

    @dataclass(frozen=True)
    class Vote(ActionData, prefix="pv"):
        poll_id: int
        mask: Mask

    Button(label, Vote(poll.id, 1).pack())

and ``decode`` turns what comes back from the member's device into ``Vote(7, 1)`` or raises
``InvalidPayload``. The payload is untrusted, so every field is checked against its type: an ``int``
is an id (0..MAX_ID, so PostgreSQL never sees a number beyond its columns), a ``Mask`` or other
``Annotated[int, Bounded(...)]`` stays in its range, a ``StrEnum`` or ``Literal`` must be one of its
values, a ``bool`` is ``1``/``0``, a ``datetime`` is a minute on the clock (``YYYYMMDDHHMM``).
Optional fields (``X | None = None``) may be left off the end. Several classes may share a prefix
(an older button's shape beside a newer one): the first whose shape fits is taken.
"""

from __future__ import annotations

import dataclasses
import re
import types
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

from models.tables import MAX_ID

MAX_BYTES = 64
_SEPARATOR = ":"
_PREFIX = re.compile(r"[a-z]{1,8}")
_DIGITS = re.compile(r"0|[1-9][0-9]{0,11}")  # one spelling per number: "01" is no id chibo wrote
_WORD = re.compile(r"[a-z0-9_]{1,24}")
_MINUTE_FORMAT = "%Y%m%d%H%M"


class InvalidPayload(ValueError):
    """A payload that chibo never made (stale, truncated or forged)."""


@dataclass(frozen=True)
class Bounded:
    """The range of an ``Annotated[int, Bounded(low, high)]`` field."""

    low: int
    high: int


@dataclass(frozen=True)
class Pattern:
    """The shape of an ``Annotated[str, Pattern(r"...")]`` field (a free word is not allowed)."""

    regex: str


# A set of options on a ballot, one bit each (at most 13 options fit in four digits).
Mask = Annotated[int, Bounded(0, 9999)]


class ActionData:
    """The base of every button's action. Subclasses are frozen dataclasses declared with
    ``class X(ActionData, prefix="..."):``; the prefix names the action on the wire."""

    prefix: ClassVar[str]
    # A stranger may tap it (home, help, language) without it being audited as a refused action.
    open_to_strangers: ClassVar[bool] = False
    # Tapping it does not drop the question chibo is waiting to have answered (the button is part
    # of answering it, e.g. "official from today" while a date is being asked for).
    keeps_question: ClassVar[bool] = False
    # Any member may tap it on what concerns them (a ballot, "read"); the others are secretaries'.
    member_facing: ClassVar[bool] = False

    def __init_subclass__(
        cls,
        *,
        prefix: str,
        open_to_strangers: bool = False,
        keeps_question: bool = False,
        member_facing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if not _PREFIX.fullmatch(prefix):
            raise TypeError(f"action prefix {prefix!r} must be 1-8 lower-case letters")
        cls.prefix = prefix
        cls.open_to_strangers = open_to_strangers
        cls.keeps_question = keeps_question
        cls.member_facing = member_facing
        _REGISTRY.setdefault(prefix, []).append(cls)

    def pack(self) -> str:
        parts = [self.prefix]
        omitted = False
        for name, codec in _codecs(type(self)):
            value = getattr(self, name)
            if value is None:
                omitted = True
                continue
            if omitted:
                raise ValueError(f"{type(self).__name__}.{name} is set after an omitted optional field")
            parts.append(codec.pack(value))
        text = _SEPARATOR.join(parts)
        if len(text.encode()) > MAX_BYTES:
            raise ValueError(f"payload over {MAX_BYTES} bytes: {text!r}")
        return text


_REGISTRY: dict[str, list[type[ActionData]]] = {}


@dataclass(frozen=True)
class _Codec:
    pack: Callable[[Any], str]
    unpack: Callable[[str], Any]  # raises ValueError on anything chibo would not have made
    optional: bool


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def unpack(text: str) -> int:
        if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
            raise ValueError(text)
        return int(text)

    return unpack


def _codec_for(hint: Any) -> _Codec:
    optional = False
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        members = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(members) != 1:
            raise TypeError(f"unsupported union in an action: {hint}")
        hint, optional = members[0], True
        origin = get_origin(hint)
    extras: tuple[Any, ...] = ()
    if origin is Annotated:
        hint, *rest = get_args(hint)
        extras = tuple(rest)
        origin = get_origin(hint)
    if hint is bool:
        return _Codec(lambda v: "1" if v else "0", _one_of({"1": True, "0": False}), optional)
    if hint is int:
        bounds = next((e for e in extras if isinstance(e, Bounded)), Bounded(0, MAX_ID))
        return _Codec(str, _bounded_int(bounds.low, bounds.high), optional)
    if hint is str:
        pattern = next((e for e in extras if isinstance(e, Pattern)), None)
        if pattern is None:
            raise TypeError("a str field in an action needs Annotated[str, Pattern(...)]")
        regex = re.compile(pattern.regex)

        def unpack_str(text: str) -> str:
            if not regex.fullmatch(text):
                raise ValueError(text)
            return text

        return _Codec(str, unpack_str, optional)
    if isinstance(hint, type) and issubclass(hint, Enum):
        values = {str(member.value): member for member in hint}
        if not all(_WORD.fullmatch(v) for v in values):
            raise TypeError(f"enum {hint.__name__} has values that are not short words")
        return _Codec(lambda v: str(v.value), _one_of(values), optional)
    if origin is Literal:
        literal_values = {str(v): v for v in get_args(hint)}
        return _Codec(str, _one_of(literal_values), optional)
    if hint is datetime:

        def unpack_minute(text: str) -> datetime:
            if len(text) != 12 or not text.isdigit():
                raise ValueError(text)
            return datetime.strptime(text, _MINUTE_FORMAT)

        return _Codec(lambda v: v.strftime(_MINUTE_FORMAT), unpack_minute, optional)
    raise TypeError(f"unsupported field type in an action: {hint}")


def _one_of(values: dict[str, Any]) -> Callable[[str], Any]:
    def unpack(text: str) -> Any:
        if text not in values:
            raise ValueError(text)
        return values[text]

    return unpack


_CODECS: dict[str, tuple[tuple[str, _Codec], ...]] = {}


def _codecs(cls: type[ActionData]) -> tuple[tuple[str, _Codec], ...]:
    key = f"{cls.__module__}.{cls.__qualname__}"
    if key not in _CODECS:
        _CODECS[key] = _field_codecs(cls)
    return _CODECS[key]


def _field_codecs(cls: type[ActionData]) -> tuple[tuple[str, _Codec], ...]:
    hints = get_type_hints(cls, include_extras=True)
    codecs = tuple((field.name, _codec_for(hints[field.name])) for field in dataclasses.fields(cls))  # type: ignore[arg-type]
    seen_optional = False
    for name, codec in codecs:
        if seen_optional and not codec.optional:
            raise TypeError(f"{cls.__name__}.{name}: a required field after an optional one")
        seen_optional = seen_optional or codec.optional
    return codecs


def _unpack(cls: type[ActionData], parts: list[str]) -> ActionData:
    codecs = _codecs(cls)
    required = sum(1 for _name, codec in codecs if not codec.optional)
    if not required <= len(parts) <= len(codecs):
        raise ValueError(parts)
    values = {name: codec.unpack(part) for (name, codec), part in zip(codecs, parts, strict=False)}
    return cls(**values)


def decode(text: str) -> ActionData:
    """The action a payload stands for; ``InvalidPayload`` for anything chibo did not make."""
    if not text or len(text.encode()) > MAX_BYTES:
        raise InvalidPayload(text)
    prefix, *parts = text.split(_SEPARATOR)
    for cls in _REGISTRY.get(prefix, ()):
        try:
            return _unpack(cls, parts)
        except ValueError:
            continue
    raise InvalidPayload(text)


def registered() -> tuple[type[ActionData], ...]:
    """Every action class, for the round-trip test and the router's completeness check."""
    return tuple(cls for classes in _REGISTRY.values() for cls in classes)
