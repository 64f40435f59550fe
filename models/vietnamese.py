"""Vietnamese text as people read it: names in the order registers list them, titles shortened at a
word.

The order is the dictionary's (Vũ Xuân Lương, Vietnam Lexicography Centre, "Quy tắc sắp xếp theo
ABC", vietunicode.sourceforge.net/charset/quytacABC_en.html): letters a ă â b c d đ e ê f g h i j k
l m n o ô ơ p q r s t u ư v w x y z; each syllable by its letters first, then by its tone (no tone,
huyền, hỏi, ngã, sắc, nặng); syllables from left to right, a shorter one before a longer one it
begins. Registers list people by given name, then middle name, then surname: "Nguyễn Văn An"
before "Lê Thị Bình".
"""

from __future__ import annotations

import unicodedata

_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_RANK = {letter: rank for rank, letter in enumerate(_ALPHABET)}
# Tone marks as Unicode decomposes them, in the dictionary's order (no tone is 0).
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
_OTHERS = len(_ALPHABET)  # digits and anything else: after the letters, by code point

Syllable = tuple[tuple[int, ...], int]


def _syllable(word: str) -> Syllable:
    """A syllable's letters (ranked) and its tone: ("Tuấn") -> ranks of t, u, â, n and sắc."""
    letters: list[int] = []
    tone = 0
    for char in unicodedata.normalize("NFD", word.lower()):
        if char in _TONES:
            tone = _TONES[char]
        elif unicodedata.combining(char) and letters:
            # A breve, circumflex or horn makes another letter (a → ă, â): re-rank the letter it sits on.
            base = _ALPHABET[letters[-1]] if letters[-1] < _OTHERS else ""
            composed = unicodedata.normalize("NFC", base + char)
            letters[-1] = _RANK.get(composed, letters[-1])
        else:
            letters.append(_RANK.get(char, _OTHERS + ord(char)))
    return tuple(letters), tone


def plain_name(text: str) -> str:
    """A person's name as a register writes it: one space between words, and none of Unicode's
    invisible control or format characters (``\\x01``, ``\\x7f``, the bidi overrides U+202E, U+2066…
    that show "Đinh Khánh" reversed): no name holds one. Letters and combining marks stay."""
    words = ("".join(ch for ch in word if unicodedata.category(ch) not in ("Cc", "Cf")) for word in text.split())
    return " ".join(word for word in words if word)


def text_key(text: str) -> tuple[Syllable, ...]:
    """The dictionary order of a text (a branch's name, a title): syllable by syllable."""
    return tuple(_syllable(word) for word in text.split())


def name_key(full_name: str) -> tuple[tuple[Syllable, ...], str]:
    """The order registers list people in: given name, then middle name(s), then surname, each in
    the dictionary's order; the name as written breaks a tie, so the order is always the same."""
    words = full_name.split()
    ordered = words[-1:] + words[1:-1] + words[:1]
    return tuple(_syllable(word) for word in ordered), full_name


def shorten(text: str, limit: int) -> str:
    """``text`` on one line in at most ``limit`` characters, cut after a whole word with "…" when it
    is longer: never in the middle of a word ("…19h30 họp", not "…19h30 họ")."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    room = max(limit - 1, 1)  # one character for "…"
    head = line[: room + 1]
    cut = head.rfind(" ")
    # A first word longer than the limit is itself cut: there is no word boundary to keep.
    shown = head[:cut] if cut > 0 else line[:room]
    return shown.rstrip(" ,;:.-–—") + "…"


# How a notice opens before it says anything: "Kính gửi các đồng chí đảng viên," and the like.
_SALUTATIONS = ("kính gửi", "kính thưa", "thân gửi", "gửi các đồng chí", "thưa các đồng chí", "chào các đồng chí",
                "xin chào")  # fmt: skip
_SALUTATION_LINE = 120  # a longer first line is the message itself


def without_salutation(text: str) -> str:
    """The text from where it starts saying something: leading salutation lines ("Kính gửi các đồng
    chí đảng viên,") are skipped, and so is a salutation ending in a comma or colon at the start of
    a line that goes on. The text itself when nothing else is left."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    while lines:
        first = lines[0]
        if first.lower().strip(" :.!") == "thông báo":  # a heading, not the news
            lines.pop(0)
            continue
        if not first.lower().startswith(_SALUTATIONS):
            break
        stop = min((i for i in (first.find(","), first.find(":")) if i >= 0), default=-1)
        if 0 <= stop < len(first) - 1 and stop < _SALUTATION_LINE:
            rest = first[stop + 1 :].strip()  # "Kính gửi các đồng chí, chi bộ sẽ họp …"
            lines[0] = rest[:1].upper() + rest[1:]
        elif len(first) <= _SALUTATION_LINE:
            lines.pop(0)
        else:
            break
    return " ".join(lines) or text.strip()
