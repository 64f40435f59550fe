"""The outbox: what to send, written in the transaction that decided it and sent by the delivery
worker once it commits (DESIGN.md §2), so a crash between the two loses nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import OUTBOX_WAKE_INFO
from models.tables import ChannelIdentity, OutboxMessage

# Set while a session's next commit is to wake the delivery worker; and once it listens for commits.
_WAKE_PENDING = "chibo.outbox_wake_pending"
_WAKE_LISTENING = "chibo.outbox_wake_listening"


class TemplateKind(StrEnum):
    """The kinds of pushed message a platform's template message (the Zalo OA's ZNS) can stand in
    for when the chat window is closed: one approved template each."""

    NOTICE = "notice"
    MEETING_INVITATION = "meeting_invitation"
    MEETING_REMINDER = "meeting_reminder"
    VOTE_OPENED = "vote_opened"


TEMPLATE_KEY = "template"  # where a body names its kind and subject (ignored by Reply.from_dict)


def with_template(body: dict[str, Any], kind: TemplateKind, subject_id: int | None) -> dict[str, Any]:
    """``body`` marked as a message of ``kind`` about ``subject_id`` (a meeting's or a poll's id),
    so a template message can stand in for it where a platform needs one."""
    return body | {TEMPLATE_KEY: {"kind": kind.value, "subject": subject_id}}


def template_of(body: dict[str, Any], notice_id: int | None) -> tuple[TemplateKind, int] | None:
    """The kind and subject a pushed body was marked with (a notice's row needs no mark)."""
    if notice_id is not None:
        return TemplateKind.NOTICE, notice_id
    mark = body.get(TEMPLATE_KEY)
    if not isinstance(mark, dict) or mark.get("kind") not in set(TemplateKind) or type(mark.get("subject")) is not int:
        return None
    return TemplateKind(mark["kind"]), mark["subject"]


@dataclass(frozen=True)
class Outbox:
    """The outbox of one transaction: the only place the domain builds its rows."""

    session: AsyncSession

    def add(
        self,
        identities: Iterable[ChannelIdentity],
        body: dict[str, Any],
        *,
        member_id: int | None,
        notice_id: int | None = None,
    ) -> int:
        """One message ``body`` to each of these chats (a member's Telegram and Zalo); how many."""
        rows = [
            OutboxMessage(
                platform=identity.platform,
                chat_id=identity.chat_id,
                body=body,
                member_id=member_id,
                notice_id=notice_id,
            )
            for identity in identities
        ]
        self.session.add_all(rows)
        if rows:
            self._wake_after_commit()
        return len(rows)

    def _wake_after_commit(self) -> None:
        """The delivery worker is woken once this transaction commits, whoever opened it (a web chat
        message, the desk, a command): it would otherwise find the rows only at its next look."""
        info = self.session.info
        wake = info.get(OUTBOX_WAKE_INFO)
        if wake is None:
            return
        info[_WAKE_PENDING] = True
        if info.get(_WAKE_LISTENING):
            return
        info[_WAKE_LISTENING] = True

        def committed(session: Session) -> None:
            # A savepoint released is reported as a commit too: only the outermost one counts.
            if not session.in_nested_transaction() and session.info.pop(_WAKE_PENDING, False):
                wake()

        event.listen(self.session.sync_session, "after_commit", committed)
