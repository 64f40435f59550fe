"""The buttons of party dues and the branch's books. Each carries ids and a month (``YYYYMM``); the
handler reloads what it names and asks the permission table again, so a forged or stale button can
do nothing the sender may not do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from handlers.actions import ActionData, Bounded
from handlers.menus import BooksUpward, MyDues
from models.tables import DuesCategory

__all__ = [
    "Badges",
    "BooksReport",
    "BooksUpward",
    "DuesBook",
    "DuesCard",
    "DuesCategories",
    "MyDues",
    "PayDues",
    "SetDuesCategory",
]

# A month as ``YYYYMM``.
Month = Annotated[int, Bounded(190001, 299912)]
# How many months a payment covers.
Count = Annotated[int, Bounded(1, 12)]


@dataclass(frozen=True)
class DuesBook(ActionData, prefix="dbk"):
    """A branch's collection list of a month (0: the current one); the branch 0: the commune's
    totals, for a commune committee secretary."""

    branch_id: Annotated[int, Bounded(0, 2**31 - 1)] = 0
    month: Annotated[int, Bounded(0, 299912)] = 0


@dataclass(frozen=True)
class DuesCard(ActionData, prefix="dmc"):
    """One member's dues as the secretary reads them, with the payment buttons."""

    member_id: int


@dataclass(frozen=True)
class PayDues(ActionData, prefix="dpy"):
    """Record that the member paid ``count`` months from ``first``: asks first; ``sure`` records."""

    member_id: int
    first: Month
    count: Count
    sure: Literal["yes"] | None = None


@dataclass(frozen=True)
class DuesCategories(ActionData, prefix="dct"):
    member_id: int


@dataclass(frozen=True)
class SetDuesCategory(ActionData, prefix="dcs"):
    """A fixed-amount category is set at once; a salary or pension asks for the amount."""

    member_id: int
    category: DuesCategory


@dataclass(frozen=True)
class BooksReport(ActionData, prefix="brp"):
    """A report upward of a month or a quarter ending in ``month``, of a branch or (0) the commune;
    ``excel`` sends it as a workbook."""

    branch_id: Annotated[int, Bounded(0, 2**31 - 1)]
    period: Literal["m", "q"]
    month: Month
    excel: bool = False


@dataclass(frozen=True)
class Badges(ActionData, prefix="bdg"):
    """Who reaches a badge year of Party membership in the coming year; ``excel`` as a workbook."""

    excel: bool = False
