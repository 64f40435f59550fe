"""Phone numbers as members type them, in the one form chibo keeps and compares."""

from __future__ import annotations

import pytest

from models.phones import normalize_phone


@pytest.mark.parametrize(
    "typed",
    ["0912 000 004", "+84 912-000-004", "(+84) 912000004", "84912000004", "+840912000004", "00840912000004"],
)
def test_every_way_of_writing_one_number_is_the_same_number(typed: str) -> None:
    assert normalize_phone(typed) == "+84912000004"


@pytest.mark.parametrize("typed", ["０９１２０００００４", "٠٩١٢٠٠٠٠٠٤", "0912²00004", "12", "không có"])
def test_look_alike_digits_and_non_numbers_are_refused(typed: str) -> None:
    assert normalize_phone(typed) is None
