"""Meetings in chat: the secretary calls one and takes attendance; members answer the invitation,
check in, and read the agenda, the documents and the minutes.

One room: ``actions`` (the buttons), ``texts`` and ``messages`` (what is said, and what chibo
sends by itself), and the handlers by subject: ``invitation`` (members answering, checking in,
their history), ``calling`` (the secretary composing, calling, moving, cancelling), ``attendance``
(taking and confirming it, rates), ``minutes`` (minutes, conclusions, files). All register on
``router``.
"""

from handlers.meetings import attendance, calling, invitation, minutes
from handlers.meetings.common import router
from handlers.meetings.messages import ChatMeetingMessages, messages_maker

__all__ = ["ChatMeetingMessages", "attendance", "calling", "invitation", "messages_maker", "minutes", "router"]
