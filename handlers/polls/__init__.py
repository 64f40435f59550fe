"""Polls in chat: a secretary sets one up step by step and publishes it; members vote with one tap
(or tick several and send); results go out when it closes.

``ballots`` (members voting), ``setup`` (the secretary composing), ``follow`` (tracking, reminding,
closing), ``paper`` (votes cast on paper), ``results`` (the result in words and as a sheet); each
registers its handlers on ``router``.
"""

from __future__ import annotations

from handlers.polls import follow, paper, setup  # noqa: F401  (importing them registers their handlers)
from handlers.polls.ballots import ballot_maker, has_secret_ticks, show_ticks, ticks_shown, unmarked
from handlers.polls.common import problem_text, router
from handlers.polls.results import result_header, result_rows, results_maker, results_text

__all__ = [
    "ballot_maker",
    "has_secret_ticks",
    "problem_text",
    "result_header",
    "result_rows",
    "results_maker",
    "results_text",
    "router",
    "show_ticks",
    "ticks_shown",
    "unmarked",
]
