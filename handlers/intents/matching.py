"""What a typed message most likely asks for: each feature's phrases, matched fuzzily on folded text.

Deterministic and local: the phrases are data beside each feature (``INTENTS`` in the modules of
this package), folded once, and compared with rapidfuzz's token-set ratio, so extra words, another
word order and a mistyped letter still match. Of equal scores the phrase closest to the whole
message wins ("các cuộc họp" over "các cuộc họp đã qua"), then the longer, more specific one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

from rapidfuzz import fuzz

from handlers.context import Context
from handlers.contract import Reply
from handlers.intents.folding import fold_question
from handlers.payloads import Action
from models.tables import Member

# A phrase matches from this score up (0-100); below it the message is unanswered.
THRESHOLD = 85
# A short answer ("có", "gửi đi") is compared whole, and must be this close.
WHOLE_THRESHOLD = 85

Answer = Callable[[Context, Member], Awaitable[list[Reply]]]


def N_(message: str) -> str:
    """Marks a message for the catalogue; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class Intent:
    """One thing members ask for. ``name`` is the screen it leads to (the phrasing table names it);
    ``action`` is the screen's button, run when there is no direct ``answer``, and offered under
    ``label`` among the closest things to an unanswered question."""

    name: str
    phrases: tuple[str, ...]
    action: Action
    label: str
    answer: Answer | None = None
    # Compared with the whole message, for short answers such as "có" that must not match inside
    # a longer question ("có thông báo gì mới không").
    whole: bool = False
    folded: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "folded", tuple(dict.fromkeys(fold_question(p) for p in self.phrases)))


@dataclass(frozen=True)
class Match:
    intent: Intent
    score: float
    phrase: str


class Matcher:
    """The intents of every feature, ranked against one folded message."""

    def __init__(self, intents: Iterable[Intent]) -> None:
        self.intents = tuple(intents)

    @cached_property
    def by_name(self) -> dict[str, Intent]:
        return {intent.name: intent for intent in self.intents}

    def ranked(self, folded: str) -> list[Match]:
        """Every intent with its best phrase, best first (score, then the longer phrase)."""
        if not folded:
            return []
        found = []
        for intent in self.intents:
            scorer = fuzz.ratio if intent.whole else fuzz.token_set_ratio
            best = max(
                ((scorer(phrase, folded), phrase) for phrase in intent.folded), key=lambda s: _strength(s, folded)
            )
            found.append(Match(intent, best[0], best[1]))
        return sorted(found, key=lambda m: _strength((m.score, m.phrase), folded), reverse=True)

    def best(self, folded: str) -> Match | None:
        """The intent the message asks for, or None when nothing is close enough."""
        for match in self.ranked(folded):
            limit = WHOLE_THRESHOLD if match.intent.whole else THRESHOLD
            if match.score >= limit:
                return match
        return None


def _strength(scored: tuple[float, str], folded: str) -> tuple[float, float, int]:
    score, phrase = scored
    return (score, fuzz.ratio(phrase, folded), len(phrase.split()))
