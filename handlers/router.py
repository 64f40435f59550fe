"""Routers: each feature registers its handlers for typed actions (buttons, commands, menu labels)
and typed questions (what a member types or sends after chibo asked), and the renderers of its
domain errors. ``handlers/conversation.py`` only includes the routers (``Dispatcher``), finds who
is asking, and turns errors into replies; reading one feature's module tells the whole of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from handlers.actions import ActionData
from handlers.context import Context
from handlers.contract import Attachment, Reply
from handlers.questions import Awaiting, Question
from models.errors import DomainError
from models.tables import Member

A = TypeVar("A", bound=ActionData)
E = TypeVar("E", bound=DomainError)

ActionHandler = Callable[[Context, Member, A], Awaitable[list[Reply]]]
# Puts the question (a prompt, and ``ctx.ask(...)``) when a button asks for it: subject is the id.
PromptHandler = Callable[[Context, Member, Awaiting], Awaitable[list[Reply]]]
TextAnswer = Callable[[Context, Member, Awaiting, str], Awaitable[list[Reply]]]
FileAnswer = Callable[[Context, Member, Awaiting, Attachment], Awaitable[list[Reply]]]
ErrorRenderer = Callable[[Context, Member, E], list[Reply]]


@dataclass
class QuestionRoute:
    """Everything about one question: how it is put, and how a typed or sent answer is taken."""

    prompt: PromptHandler | None = None
    text: TextAnswer | None = None
    file: FileAnswer | None = None  # set when the question takes a file


class Router:
    def __init__(self, name: str) -> None:
        self.name = name
        self.actions: dict[type[ActionData], ActionHandler[Any]] = {}
        self.questions: dict[Question, QuestionRoute] = {}
        self.renderers: dict[type[DomainError], ErrorRenderer[Any]] = {}

    def on(self, action_type: type[A]) -> Callable[[ActionHandler[A]], ActionHandler[A]]:
        """Register the handler of a button's action (also reached by a command or a menu label)."""

        def register(handler: ActionHandler[A]) -> ActionHandler[A]:
            if action_type in self.actions:
                raise ValueError(f"{self.name}: {action_type.__name__} has two handlers")
            self.actions[action_type] = handler
            return handler

        return register

    def _route(self, question: Question) -> QuestionRoute:
        return self.questions.setdefault(question, QuestionRoute())

    def prompts(self, question: Question) -> Callable[[PromptHandler], PromptHandler]:
        def register(handler: PromptHandler) -> PromptHandler:
            route = self._route(question)
            if route.prompt is not None:
                raise ValueError(f"{self.name}: {question} has two prompts")
            route.prompt = handler
            return handler

        return register

    def answers(self, question: Question) -> Callable[[TextAnswer], TextAnswer]:
        def register(handler: TextAnswer) -> TextAnswer:
            route = self._route(question)
            if route.text is not None:
                raise ValueError(f"{self.name}: {question} has two text answers")
            route.text = handler
            return handler

        return register

    def answers_file(self, question: Question) -> Callable[[FileAnswer], FileAnswer]:
        def register(handler: FileAnswer) -> FileAnswer:
            route = self._route(question)
            if route.file is not None:
                raise ValueError(f"{self.name}: {question} has two file answers")
            route.file = handler
            return handler

        return register

    def renders(self, error_type: type[E]) -> Callable[[ErrorRenderer[E]], ErrorRenderer[E]]:
        """Register how a domain error of this feature is told to the member."""

        def register(renderer: ErrorRenderer[E]) -> ErrorRenderer[E]:
            if error_type in self.renderers:
                raise ValueError(f"{self.name}: {error_type.__name__} has two renderers")
            self.renderers[error_type] = renderer
            return renderer

        return register


K = TypeVar("K")
V = TypeVar("V")


def _merge(name: str, table: dict[K, V], mine: dict[K, V]) -> None:
    clash = table.keys() & mine.keys()
    if clash:
        raise ValueError(f"{name}: also registered by another router: {sorted(map(str, clash))}")
    table.update(mine)


class Dispatcher:
    """The routers of every feature, merged: each action, question and error has one owner."""

    def __init__(self, routers: Iterable[Router]) -> None:
        self.routers = tuple(routers)
        self.actions: dict[type[ActionData], ActionHandler[Any]] = {}
        self.questions: dict[Question, QuestionRoute] = {}
        self.renderers: dict[type[DomainError], ErrorRenderer[Any]] = {}
        for router in self.routers:
            _merge(router.name, self.actions, router.actions)
            _merge(router.name, self.questions, router.questions)
            _merge(router.name, self.renderers, router.renderers)

    async def run(self, ctx: Context, member: Member, action: ActionData) -> list[Reply]:
        handler = self.actions.get(type(action))
        if handler is None:
            raise LookupError(f"no handler for {type(action).__name__}")
        return await handler(ctx, member, action)

    def renderer(self, error: DomainError) -> ErrorRenderer[Any] | None:
        for cls in type(error).__mro__:
            renderer = self.renderers.get(cls)
            if renderer is not None:
                return renderer
        return None
