"""The secretary's record tools in chat: the branch roster and search, a member's card and every
change it offers, the values typed into it, and the audit log in words."""

from handlers.records import changes, directory, edits, history
from handlers.records.actions import FindMember, MemberCard
from handlers.records.card import router
from handlers.records.words import problem_text

__all__ = ["FindMember", "MemberCard", "changes", "directory", "edits", "history", "problem_text", "router"]
