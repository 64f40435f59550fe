"""The platform-neutral contract: an inbound event in, a list of replies out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from models.tables import Platform


@dataclass(frozen=True)
class Attachment:
    """A file the member sent, already read by the channel (size-limited there)."""

    filename: str
    content: bytes
    # The size the platform announced, when it was too large to download (content is then empty).
    declared_size: int | None = None


@dataclass(frozen=True)
class Inbound:
    """One thing a person did on a platform, as a channel adapter translated it."""

    platform: Platform
    user_id: str
    chat_id: str
    display_name: str = ""
    text: str | None = None
    payload: str | None = None
    contact_phone: str | None = None
    # True only when the platform proves the shared contact is the sender's own.
    contact_is_own: bool = False
    # Whether the platform can offer a "share my phone number" button at all.
    can_share_contact: bool = False
    attachment: Attachment | None = None
    # The message whose button was tapped, where the platform says (Telegram): a reply can edit it.
    source_message_id: str | None = None
    # A choice the platform knows is no longer offered (a Zalo number not on any open menu): a stale button.
    stale_button: bool = False


@dataclass(frozen=True)
class Button:
    label: str
    payload: str
    # A secret ballot's choice: where the member's tap would be echoed or kept (the web chat's own
    # bubble and its history on the phone), it is not: a shared phone must not tell the vote.
    secret: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "payload": self.payload} | ({"secret": True} if self.secret else {})


Rows = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Document:
    """A file sent with a message: a notice's or a meeting's document or photo by its id in chibo's
    store (``source`` says which), or a small generated file (an export) carried in the message
    itself as base64."""

    file_id: int
    name: str
    is_photo: bool = False
    inline: str | None = None
    source: str = "notice"  # "notice" | "meeting"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "name": self.name,
            "is_photo": self.is_photo,
            "inline": self.inline,
            "source": self.source,
        }


@dataclass(frozen=True)
class Chart:
    """A bar chart, drawn by the channel where it can show pictures (Telegram, the web chat)."""

    title: str
    labels: tuple[str, ...]
    values: tuple[int, ...]
    threshold: int = 0  # the votes the rule needs, marked on the chart; 0: none (a consultation)
    threshold_label: str = ""  # what the mark means, in the reader's words ("needs 6 votes")
    # The bars the result picks (adopted, chosen, elected), drawn dark; None: every bar at or past the
    # threshold (charts queued before this was sent). Reaching the mark is not always winning: a tie
    # for the last seat of an election reaches it and elects nobody.
    chosen: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "labels": list(self.labels),
            "values": list(self.values),
            "threshold": self.threshold,
            "threshold_label": self.threshold_label,
            "chosen": None if self.chosen is None else list(self.chosen),
        }


# The files a branch register can be sent as (models/roster_files.py reads both).
REGISTER_FILES = ".xlsx,.csv"


@dataclass(frozen=True)
class Reply:
    """A message for the member. ``buttons`` sit under the message; ``menu`` replaces the
    persistent main menu (``()`` removes it, None leaves it); ``contact_label`` offers a
    "share my phone number" button where the platform can prove the number is the sender's;
    ``upload_label`` offers a file picker where the platform has one (the web chat)."""

    text: str
    buttons: Rows = ()
    menu: Rows | None = None
    contact_label: str | None = None
    upload_label: str | None = None
    # The files that picker offers, as an HTML accept list (".xlsx,.csv"); None: documents and photos.
    upload_accept: str | None = None
    # Replace this earlier message (the ballot that was tapped) instead of sending a new one,
    # where the platform can edit messages; elsewhere it is sent as a new message.
    edit_message_id: str | None = None
    chart: Chart | None = None
    document: Document | None = None
    # Sent by chibo on its own (a notice, a ballot, an invitation), not as the answer to what the
    # member just did. Set by the delivery worker from the outbox row; not part of the stored body.
    pushed: bool = False
    # The member a fresh invite code is made for when this message is sent: the text holds
    # models.invites.CODE_PLACEHOLDER instead of a code, so no code is ever stored (outbox, kept replies).
    invite_for: int | None = None
    # The member a fresh one-time link to the secretary's desk is made for when this message is sent:
    # the text holds models.desk.LINK_PLACEHOLDER instead of the link, which is never stored.
    desk_link_for: int | None = None
    # chibo asked a question with this message and waits for the member to type the answer: where
    # choices are typed numbers (Zalo bot), a typed number then answers the question, not a menu.
    asks: bool = False

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {} if self.invite_for is None else {"invite_for": self.invite_for}
        extra |= {} if self.desk_link_for is None else {"desk_link_for": self.desk_link_for}
        if self.upload_accept is not None:
            extra["upload_accept"] = self.upload_accept
        extra |= {"asks": True} if self.asks else {}
        return extra | {
            "text": self.text,
            "buttons": [[b.to_dict() for b in row] for row in self.buttons],
            "menu": None if self.menu is None else [[b.to_dict() for b in row] for row in self.menu],
            "contact_label": self.contact_label,
            "upload_label": self.upload_label,
            "edit_message_id": self.edit_message_id,
            "chart": None if self.chart is None else self.chart.to_dict(),
            "document": None if self.document is None else self.document.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        def rows(value: list[list[dict[str, str]]]) -> Rows:
            return tuple(tuple(Button(b["label"], b["payload"], bool(b.get("secret"))) for b in row) for row in value)

        menu = data.get("menu")
        chart = data.get("chart")
        document = data.get("document")
        return cls(
            text=data["text"],
            buttons=rows(data.get("buttons") or []),
            menu=None if menu is None else rows(menu),
            contact_label=data.get("contact_label"),
            upload_label=data.get("upload_label"),
            upload_accept=data.get("upload_accept"),
            edit_message_id=data.get("edit_message_id"),
            invite_for=None if data.get("invite_for") is None else int(data["invite_for"]),
            desk_link_for=None if data.get("desk_link_for") is None else int(data["desk_link_for"]),
            asks=data.get("asks") is True,
            chart=None
            if chart is None
            else Chart(
                chart["title"],
                tuple(chart["labels"]),
                tuple(int(v) for v in chart["values"]),
                int(chart.get("threshold", 0)),  # rows queued before the threshold was drawn have none
                str(chart.get("threshold_label", "")),
                None if chart.get("chosen") is None else tuple(int(i) for i in chart["chosen"]),
            ),
            document=None
            if document is None
            else Document(
                int(document["file_id"]),
                str(document["name"]),
                bool(document.get("is_photo")),
                document.get("inline"),
                str(document.get("source") or "notice"),
            ),
        )


class Translator(Protocol):
    """gettext for one locale; the runtime loads the catalogues (bot/i18n.py)."""

    locale: str

    def gettext(self, message: str) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int) -> str: ...


class Catalogs(Protocol):
    default_locale: str
    locales: tuple[str, ...]

    def translator(self, locale: str | None) -> Translator: ...
