"""What a typed message most likely asks for: each feature's phrases, matched fuzzily on folded text.

Deterministic and local: the phrases are data beside each feature (``INTENTS`` in the modules of
this package), folded once. A phrase scores how much of it the message holds: each of its words
is found among the message's words by rapidfuzz's ratio (a mistyped letter costs a little), and
the scores are averaged by word length, so extra words and another order cost nothing, while a
short message is not taken for a longer phrase it is only part of ("vâng" is not "xin vắng họp").
Of equal scores the phrase closest to the whole message wins ("các cuộc họp" over "các cuộc họp
đã qua"), then the longer, more specific one. Short answers ("có", "gửi đi") are compared whole.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from rapidfuzz import fuzz

from handlers.context import Context
from handlers.contract import Reply
from handlers.intents.folding import fold_question
from models.tables import Member

# A phrase matches from this score up (0-100); below it the message is unanswered.
THRESHOLD = 85
# A short answer ("có", "gửi đi") is compared whole, and must be this close.
WHOLE_THRESHOLD = 85
# Two words this close (0-100) are one word mistyped; less is no match at all.
SLIP = 70
# A word shorter than this is never taken for a longer one with a letter missing.
SHORTEST_SLIP = 3
# A typed word this long that no phrase knows may be words typed without their spaces ("khinaohop").
RUN_TOGETHER = 6
# How many messages' rankings are kept (see Matcher.ranked).
RANKED_KEPT = 1024

Answer = Callable[[Context, Member], Awaitable[list[Reply]]]


def N_(message: str) -> str:
    """Marks a message for the catalogue; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class Intent:
    """One thing members ask for. ``name`` is the screen it leads to (the phrasing table names it);
    ``tap`` is the payload of the screen's button, tapped when there is no direct ``answer``, and
    offered under ``label`` among the closest things to an unanswered question."""

    name: str
    phrases: tuple[str, ...]
    tap: str
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

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """Every word of every phrase."""
        return frozenset(word for intent in self.intents for phrase in intent.folded for word in phrase.split())

    def spaced(self, folded: str) -> str:
        """The message with each long unknown word split into known ones, when it is only those."""
        words: list[str] = []
        for word in folded.split():
            unknown = len(word) >= RUN_TOGETHER and word not in self.vocabulary
            words += (_split(word, self.vocabulary) if unknown else None) or [word]
        return " ".join(words)

    def ranked(self, folded: str) -> tuple[Match, ...]:
        """Every intent with its best phrase, best first (score, then the longer phrase).

        Members type the same few questions again and again: the last RANKED_KEPT messages' rankings
        are kept (a pure function of the text)."""
        found = self._ranked.get(folded)
        if found is None:
            found = self._rank(folded)
            if len(self._ranked) >= RANKED_KEPT:
                del self._ranked[next(iter(self._ranked))]  # the oldest
            self._ranked[folded] = found
        return found

    @cached_property
    def _ranked(self) -> dict[str, tuple[Match, ...]]:
        return {}

    @cached_property
    def _phrases(self) -> tuple[tuple[Intent, tuple[_Phrase, ...]], ...]:
        return tuple((intent, tuple(_Phrase.of(p) for p in intent.folded)) for intent in self.intents)

    def _rank(self, folded: str) -> tuple[Match, ...]:
        folded = self.spaced(folded)
        if not folded:
            return ()
        found = []
        present = _Present(folded.split())
        for intent, phrases in self._phrases:
            scored = [
                (fuzz.ratio(phrase.text, folded) if intent.whole else phrase.coverage(present), phrase.text)
                for phrase in phrases
            ]
            # The highest score wins; only a tie needs the closeness to the whole message.
            top = max(score for score, _ in scored)
            tied = [s for s in scored if s[0] == top]
            best = tied[0] if len(tied) == 1 else max(tied, key=lambda s: _strength(s, folded))
            found.append(Match(intent, best[0], best[1]))
        return tuple(sorted(found, key=lambda m: _strength((m.score, m.phrase), folded), reverse=True))

    def best(self, folded: str) -> Match | None:
        """The intent the message asks for, or None when nothing is close enough."""
        for match in self.ranked(folded):
            limit = WHOLE_THRESHOLD if match.intent.whole else THRESHOLD
            if match.score >= limit:
                return match
        return None


def _split(word: str, vocabulary: frozenset[str]) -> list[str] | None:
    """``word`` as the fewest known words of two letters or more, or None.

    A piece is never longer than the longest known word, and each end keeps only where its best
    piece starts: linear in the word's length, so 4,000 run-together characters cost milliseconds
    (trying every substring took seconds on the event loop)."""
    longest = _longest(vocabulary)
    counts: list[int | None] = [0, *([None] * len(word))]  # fewest pieces up to each end
    starts = [0] * (len(word) + 1)  # where the last of those pieces starts
    for end in range(2, len(word) + 1):
        for start in range(max(0, end - longest), end - 1):
            before, now = counts[start], counts[end]
            if before is None or (now is not None and before + 1 >= now) or word[start:end] not in vocabulary:
                continue
            counts[end], starts[end] = before + 1, start
    if counts[-1] is None:
        return None
    pieces: list[str] = []
    end = len(word)
    while end > 0:
        pieces.append(word[starts[end] : end])
        end = starts[end]
    return pieces[::-1]


@lru_cache(maxsize=4)
def _longest(vocabulary: frozenset[str]) -> int:
    return max((len(known) for known in vocabulary), default=0)


class _Present(dict[str, float]):
    """How well each word of the phrases is present among the message's words (computed once)."""

    def __init__(self, words: list[str]) -> None:
        super().__init__()
        self.words = words

    def __missing__(self, wanted: str) -> float:
        self[wanted] = best = max(_word_similarity(wanted, word) for word in self.words)
        return best


@dataclass(frozen=True)
class _Phrase:
    """A folded phrase, split into its words once."""

    text: str
    words: tuple[str, ...]
    length: int  # its words' letters

    @classmethod
    def of(cls, text: str) -> _Phrase:
        words = tuple(text.split())
        return cls(text, words, sum(len(w) for w in words))

    def coverage(self, present: _Present) -> float:
        """How much of the phrase the message holds, 0-100, each of its words weighted by its length."""
        return sum(len(w) * present[w] for w in self.words) / self.length


def _word_similarity(wanted: str, typed: str) -> float:
    """A letter missing, doubled or swapped is a typing slip ("thog", "hopp", "beiu"); a letter
    changed is another word ("thang" is not "thong"), and so is a word half of which differs."""
    if wanted == typed:
        return 100.0
    if len(wanted) == len(typed) and sorted(wanted) != sorted(typed):
        return 0.0
    if min(len(wanted), len(typed)) < SHORTEST_SLIP:  # "gi" is not "gio" mistyped
        return 0.0
    similarity = fuzz.ratio(wanted, typed)
    return similarity if similarity >= SLIP else 0.0


def _strength(scored: tuple[float, str], folded: str) -> tuple[float, float, int]:
    score, phrase = scored
    return (score, fuzz.ratio(phrase, folded), len(phrase.split()))
