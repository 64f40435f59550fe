"""The branch's books in chat: party dues (a member's own, the collection list, payments and
categories) and the books upward (reports of a month or a quarter, Party badges), with Excel files.

``actions`` holds the buttons, ``words`` how sums, months and categories are said, ``book`` the
dues screens, ``reports`` the reports and badges; models/dues.py and models/books_reports.py the rules and
the numbers."""

# Each module registers its handlers on ``router`` as it is imported.
from handlers.dues import book, reports
from handlers.dues.actions import BooksUpward, DuesBook, DuesCard, MyDues
from handlers.dues.common import router

__all__ = ["BooksUpward", "DuesBook", "DuesCard", "MyDues", "book", "reports", "router"]
