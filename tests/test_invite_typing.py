"""An invite code typed with a character codes never contain is explained, not just refused."""

from __future__ import annotations

from bot.runtime import Runtime
from models.invites import never_in_codes
from tests.chat import say
from tests.conftest import Demo


def test_characters_no_code_has_are_named_only_in_a_code_shaped_text() -> None:
    assert never_in_codes("ABCD-EFG0") == ["0"]
    assert never_in_codes("abcd efgh") == []  # a code as it may be typed: nothing wrong
    assert never_in_codes("1OIL-2345") == ["1", "I", "L", "O"]
    assert never_in_codes("khi nào họp") == []  # words, not a code


async def test_a_code_typed_with_a_zero_is_explained(runtime: Runtime, demo: Demo) -> None:
    code = demo.code("Mai Văn Sơn")
    typed = code[:-1] + "0"  # the printed last letter misread as a zero
    reply = (await say(runtime, 501, typed))[0].text
    assert reply.startswith(f"“{typed}” có 0, là ký tự mã mời không bao giờ có")
    # The right code still works afterwards: the misreading counted as no wrong guess.
    assert "Chào mừng đồng chí Mai Văn Sơn" in (await say(runtime, 501, code))[0].text
