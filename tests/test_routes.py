"""Every button and every question has exactly one owner: a router that handles it."""

from __future__ import annotations

from handlers.actions import registered
from handlers.conversation import DISPATCH
from handlers.questions import Ask, PickTime, Question
from handlers.router import Dispatcher, Router


def test_every_action_has_a_handler() -> None:
    central = {Ask, PickTime}  # answered through the question's own route
    unhandled = [cls.__name__ for cls in registered() if cls not in DISPATCH.actions and cls not in central]
    assert unhandled == []


def test_every_question_has_exactly_one_answer_route() -> None:
    missing = [q for q in Question if q not in DISPATCH.questions]
    assert missing == []
    for question, route in DISPATCH.questions.items():
        assert route.text is not None or route.file is not None, question


def test_two_routers_cannot_claim_the_same_question() -> None:
    first, second = Router("first"), Router("second")

    async def answer(*_args: object) -> list[object]:
        return []

    first.answers(Question.MY_PHONE)(answer)  # type: ignore[arg-type]
    second.answers(Question.MY_PHONE)(answer)  # type: ignore[arg-type]
    try:
        Dispatcher((first, second))
    except ValueError as error:
        assert "myphone" in str(error)
    else:
        raise AssertionError("two owners of one question were accepted")
