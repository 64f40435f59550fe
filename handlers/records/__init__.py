"""The secretary's record tools in chat: the branch roster and search, a member's card and every
change it offers, the values typed into it, and the audit log in words.

``actions`` holds the buttons, ``card`` the card and the one place a button's member is loaded and
checked, ``changes`` what tapping changes, ``edits`` what is typed (a new member, a field, making a
member official), ``directory`` the roster and search, ``history`` the audit log, ``words`` the
shared wording; models/record_queries.py what they read."""

# Each module registers its handlers on ``router`` as it is imported.
from handlers.records import changes, directory, edits, history
from handlers.records.actions import FindMember, MemberCard
from handlers.records.card import router
from handlers.records.words import problem_text

__all__ = ["FindMember", "MemberCard", "changes", "directory", "edits", "history", "problem_text", "router"]
