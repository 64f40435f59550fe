"""Webhook events, as Zalo shapes them (unknown fields are ignored), and the member's events in them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from bot.channels.zalo_oa.facts import (
    BUTTON_PREFIX,
    FOLLOW_EVENT,
    MESSAGE_EVENTS,
    RECEIPT_EVENTS,
    SEEN_EVENT,
    TEXT_EVENT,
    TRACKING_PREFIX,
    UNFOLLOW_EVENT,
)
from handlers.contract import Inbound
from models.tables import Platform, valid_id


class OaUser(BaseModel):
    # Bounded so "<event>:<user id>:<timestamp>" fits the 128-character de-duplication key.
    id: str = Field(min_length=1, max_length=64)


class OaMessage(BaseModel):
    msg_id: str = Field(min_length=1, max_length=128)
    text: str | None = None


class OaReceipt(BaseModel):
    """A delivered receipt's message (msg_id, and a ZNS send's tracking_id) or a seen one's (msg_ids)."""

    msg_id: str | None = Field(default=None, min_length=1, max_length=128)
    msg_ids: list[str] = Field(default_factory=list, max_length=1000)
    tracking_id: str | None = Field(default=None, max_length=128)

    @field_validator("msg_ids")
    @classmethod
    def _bounded_ids(cls, value: list[str]) -> list[str]:
        if any(not 1 <= len(item) <= 128 for item in value):
            raise ValueError("a msg_id of 1-128 characters")
        return value


class OaEvent(BaseModel):
    event_name: str = Field(min_length=1, max_length=100)
    timestamp: str = Field(pattern=r"^\d{1,20}$")
    sender: OaUser | None = None
    message: OaMessage | None = None
    follower: OaUser | None = None
    receipt: OaReceipt | None = None

    @model_validator(mode="before")
    @classmethod
    def _only_what_is_read(cls, data: Any) -> Any:
        # Events shape these parts differently (a seen receipt's message holds msg_ids): only the
        # events chibo handles are held to the shape it reads, each in its own field.
        name = data.get("event_name") if isinstance(data, dict) else None
        if not isinstance(name, str):
            return data  # refused below (a list as the name raised TypeError here: a 500)
        dropped = (() if name in MESSAGE_EVENTS else ("sender", "message")) + (
            () if name in (FOLLOW_EVENT, UNFOLLOW_EVENT) else ("follower",)
        )
        kept = {key: value for key, value in data.items() if key not in dropped and key != "receipt"}
        if name in RECEIPT_EVENTS:
            kept["receipt"] = data.get("message")
        return kept

    @field_validator("timestamp", mode="before")
    @classmethod
    def _number_as_text(cls, value: object) -> object:
        return str(value) if type(value) is int else value

    @model_validator(mode="after")
    def _events_carry_their_parts(self) -> OaEvent:
        if self.event_name in MESSAGE_EVENTS and (self.sender is None or self.message is None):
            raise ValueError(f"{self.event_name} without a sender or a message")
        if self.event_name in (FOLLOW_EVENT, UNFOLLOW_EVENT) and self.follower is None:
            raise ValueError(f"{self.event_name} without a follower")
        return self


def inbound_from_message(event: OaEvent) -> Inbound:
    """The member's message as an event; a button's hidden text arrives as its payload."""
    assert event.sender is not None and event.message is not None
    text = event.message.text or ""
    payload = text[len(BUTTON_PREFIX) :] if event.event_name == TEXT_EVENT and text.startswith(BUTTON_PREFIX) else None
    return Inbound(
        platform=Platform.ZALO_OA,
        user_id=event.sender.id,
        chat_id=event.sender.id,
        text=None if payload is not None else text,
        payload=payload,
        # Members join with their printed invite code: no phone sharing on Zalo.
        can_share_contact=False,
    )


def inbound_from_follow(event: OaEvent) -> Inbound:
    """Following the OA is opening the chat: answered as /start (a welcome, or welcome back)."""
    assert event.follower is not None
    user = event.follower.id
    return Inbound(platform=Platform.ZALO_OA, user_id=user, chat_id=user, text="/start", can_share_contact=False)


def receipts(event: OaEvent) -> tuple[list[str], list[str], list[int]]:
    """What a receipt event reports: message ids delivered, message ids seen, and the outbox rows
    whose ZNS template message was delivered (by the tracking id chibo gave it)."""
    receipt = event.receipt
    if receipt is None:
        return [], [], []
    if event.event_name == SEEN_EVENT:
        return [], receipt.msg_ids or ([receipt.msg_id] if receipt.msg_id else []), []
    tracked = (receipt.tracking_id or "").removeprefix(TRACKING_PREFIX)
    ours = receipt.tracking_id != tracked and tracked.isascii() and tracked.isdigit()
    rows = [int(tracked)] if ours and valid_id(int(tracked)) else []  # beyond the ids' column: not ours
    return [receipt.msg_id] if receipt.msg_id else [], [], rows


def update_key(event: OaEvent) -> str:
    """What makes a delivery of this event unique, for de-duplication."""
    if event.message is not None:
        return event.message.msg_id
    assert event.follower is not None
    return f"{event.event_name}:{event.follower.id}:{event.timestamp}"
