"""Every button's typed action survives the trip to the member's device and back, fits Telegram's
64 bytes, and nothing chibo did not make decodes."""

from __future__ import annotations

import dataclasses
import re
import types
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import handlers.conversation  # noqa: F401  (imports every feature, so every action is registered)
from handlers.actions import MAX_BYTES, ActionData, Bounded, InvalidPayload, Pattern, decode, registered
from handlers.questions import Ask, PickTime, Question
from models.tables import MAX_ID


def _strategy(hint: Any) -> st.SearchStrategy[Any]:
    extras: tuple[Any, ...] = ()
    if get_origin(hint) is Annotated:
        hint, *rest = get_args(hint)
        extras = tuple(rest)
    if hint is bool:
        return st.booleans()
    if hint is int:
        bounds = next((e for e in extras if isinstance(e, Bounded)), Bounded(0, MAX_ID))
        return st.integers(bounds.low, bounds.high)
    if hint is str:
        pattern = next(e for e in extras if isinstance(e, Pattern))
        return st.from_regex(re.compile(pattern.regex), fullmatch=True)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return st.sampled_from(list(hint))
    if get_origin(hint) is Literal:
        return st.sampled_from(get_args(hint))
    if hint is datetime:
        return st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
            lambda moment: moment.replace(second=0, microsecond=0)
        )
    raise AssertionError(f"no strategy for {hint}")


@st.composite
def _instances(draw: st.DrawFn, cls: type[ActionData]) -> ActionData:
    hints = get_type_hints(cls, include_extras=True)
    values: dict[str, Any] = {}
    omitted = False
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        hint = hints[field.name]
        if get_origin(hint) in (Union, types.UnionType):
            inner = next(arg for arg in get_args(hint) if arg is not type(None))
            omitted = omitted or draw(st.booleans())
            values[field.name] = None if omitted else draw(_strategy(inner))
        else:
            values[field.name] = draw(_strategy(hint))
    return cls(**values)


ACTIONS = registered()


def test_every_feature_declares_its_buttons() -> None:
    assert len(ACTIONS) >= 10
    assert len({cls.__name__ for cls in ACTIONS}) == len(ACTIONS)  # one name, one button


@pytest.mark.parametrize("cls", ACTIONS, ids=lambda cls: cls.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_button_comes_back_as_it_was_sent(cls: type[ActionData], data: st.DataObject) -> None:
    action = data.draw(_instances(cls))
    packed = action.pack()
    assert len(packed.encode()) <= MAX_BYTES
    assert decode(packed) == action


@pytest.mark.parametrize(
    "forged",
    [
        "",
        "nothing",
        f"ask:mwhen:{MAX_ID + 1}",  # an id beyond the columns
        "ask:mwhen:-1",
        "ask:mwhen:012",  # was accepted as 12: a second spelling of a button chibo made
        "ask:mwhen:+12",
        "ask:mwhen:1:2",  # one field too many
        "ask:nosuchquestion:1",
        "ask",  # a required field missing
        "setlang:EN",
        "setlang:english",
        "tm:mwhen:1:202613011700",  # the 13th month
        "tm:mwhen:1:2026120117",
        "tm:myphone:1:202612061930",  # a time picked for a question that asks for no time
        "home:1",
        "x" * (MAX_BYTES + 1),
        "ask:mwhen:1\n",
    ],
)
def test_what_chibo_never_made_does_not_decode(forged: str) -> None:
    with pytest.raises(InvalidPayload):
        decode(forged)


def test_the_wire_format_of_buttons_already_on_phones_is_kept() -> None:
    assert Ask(Question.MEETING_WHEN, 12).pack() == "ask:mwhen:12"
    assert Ask(Question.FIND_MEMBER).pack() == "ask:find"
    assert PickTime(Question.POLL_DEADLINE, 7, datetime(2026, 12, 1, 17, 0)).pack() == "tm:deadline:7:202612011700"
    assert decode("tm:deadline:7:202612011700") == PickTime(Question.POLL_DEADLINE, 7, datetime(2026, 12, 1, 17))
