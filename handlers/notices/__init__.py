"""Announcements in chat: a secretary composes, previews, sends or schedules, and tracks; a member
reads and taps "I have read it".

``reading`` is the member's side, ``composing`` and ``audience`` the secretary writing a draft (its
screen is ``preview``), ``tracking`` what follows once it is sent; ``actions`` holds the buttons.
"""

from handlers.notices import composing, tracking  # noqa: F401  (their handlers register on the router)
from handlers.notices.audience import match_people
from handlers.notices.common import in_words, router
from handlers.notices.reading import notice_body_maker

__all__ = ["in_words", "match_people", "notice_body_maker", "router"]
