"""Vietnamese as members type it, folded to one plain form before it is matched.

"Cho tôi hỏi khi nào họp chi bộ ạ?", "khi naof hopj chi bo" and "khi nao hop cb" all become
"khi nao hop chi bo": no diacritics (models.roster.fold: đ to d, lower case, single spaces), no
punctuation, no Telex keys left by a phone without a Vietnamese keyboard, short forms written out,
and no polite frames or closing particles.
"""

from __future__ import annotations

import re

from models.roster import fold

_VOWELS = frozenset("aeiouy")
_WORD = re.compile(r"[a-z0-9]+")
# Short forms as members write them, and words typed without their space.
SHORT_FORMS: dict[str, str] = {
    "tb": "thong bao",
    "thongbao": "thong bao",
    "ko": "khong",
    "k": "khong",
    "kg": "khong",
    "kh": "khong",
    "khg": "khong",
    "hok": "khong",
    "hong": "khong",
    "hem": "khong",
    "hk": "khong",
    "dc": "duoc",
    "dk": "duoc",
    "bt": "bi thu",
    "bithu": "bi thu",
    "cb": "chi bo",
    "chibo": "chi bo",
    "sdt": "so dien thoai",
    "dt": "dien thoai",
    "dthoai": "dien thoai",
    "j": "gi",
    "ji": "gi",
    "bn": "bao nhieu",
    "ntn": "nhu the nao",
    "bq": "bieu quyet",
    "bieuquyet": "bieu quyet",
    "lichhop": "lich hop",
    "hopchibo": "hop chi bo",
    "dv": "dang vien",
    "ng": "nguoi",
    "lh": "lien he",
    "tt": "thong tin",
    "ms": "moi",
    "mn": "moi nguoi",
    "h": "gio",
    "oke": "ok",
    "okie": "ok",
    "okay": "ok",
    "oki": "ok",
    "uk": "u",
    "uh": "u",
    "um": "u",
    "ukm": "u",
    "uhm": "u",
    "vg": "vang",
    "dy": "dong y",
    # The speaker, however they name themselves to an elder or a younger comrade ("em", "cháu",
    # "bác", "mình"), is "tôi": the phrase tables are written with "tôi".
    "em": "toi",
    "chau": "toi",
    "bac": "toi",
    "minh": "toi",
    "tui": "toi",
    "mk": "toi",
    "mik": "toi",
    "dg": "duong",
    "hnay": "hom nay",
    # i and y are both written after t, l and k ("tỉ lệ", "tỷ lệ"; "lí lịch", "lý lịch").
    "ti": "ty",
    "li": "ly",
    "ki": "ky",
}
# Particles that close a sentence and carry no meaning here ("ạ", "nhé", "vậy", "thế"…).
_PARTICLES = frozenset({"a", "nhe", "nha", "nhi", "vay", "the", "day", "ha", "ak", "ah", "nhen", "voi"})
# Words that carry nothing a phrase needs wherever they stand: "thông tin của tôi" is "thông tin tôi".
_FILLERS = frozenset({"cua"})


def _untelex(word: str) -> str:
    """A word typed in Telex without the keyboard turning it into Vietnamese: "hopj" -> "hop",
    "bieeur" -> "bieu", "dduwowcj" -> "duoc". Folded Vietnamese never has f, j, w or z after the
    first letter, nor s, r or x after a vowel, so those are the tone and shape keys."""
    if not word.isalpha():
        return word
    kept = [word[0]]
    seen_vowel = word[0] in _VOWELS
    for ch in word[1:]:
        if ch in "fjwz" or (ch in "srx" and seen_vowel):
            continue
        seen_vowel = seen_vowel or ch in _VOWELS
        kept.append(ch)
    plain = "".join(kept)
    for double in ("dd", "aa", "ee", "oo"):
        plain = plain.replace(double, double[0])
    return plain


def _plain(raw: str) -> list[str]:
    """One typed word in its plain form: Telex keys dropped, a short form written out."""
    return (SHORT_FORMS.get(raw) or SHORT_FORMS.get(_untelex(raw)) or _untelex(raw)).split()


# Said before the question, and dropped: "cho tôi hỏi", "đồng chí ơi", "xin hỏi"…
_FRAMES = tuple(
    tuple(word for typed in frame.split() for word in _plain(typed))  # "please" as it is folded
    for frame in sorted(
        (
            "cho toi hoi",
            "cho hoi",
            "xin hoi",
            "xin cho hoi",
            "toi muon hoi",
            "toi muon biet",
            "cho toi biet",
            "cho biet",
            "vui long",
            "lam on",
            "dong chi oi",
            "chibo oi",
            "chi bo oi",
            "bot oi",
            "ad oi",
            "admin oi",
            "ban oi",
            "oi",
            "xin chao dong chi",
            "chao dong chi",
            "dong chi cho hoi",
            "xin chao",
            "chao",
            "please",
            "can you tell me",
            "i want to know",
        ),
        key=len,
        reverse=True,
    )
)


def _drop_frames(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        for frame in _FRAMES:
            if tuple(words[i : i + len(frame)]) == frame:
                i += len(frame)
                break
        else:
            if words[i] not in _FILLERS:
                out.append(words[i])
            i += 1
    while len(out) > 1 and out[-1] in _PARTICLES:
        out.pop()
    return out


def fold_question(text: str) -> str:
    """The plain form of what a member typed: "Cho tôi hỏi, lịch họp tháng này ạ?" -> "lich hop thang nay"."""
    words = [word for raw in _WORD.findall(fold(text)) for word in _plain(raw)]
    return " ".join(_drop_frames(words))
