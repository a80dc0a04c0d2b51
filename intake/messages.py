"""The one internal message type: every channel adapter translates to and from these at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


def storable(text: str) -> str:
    """The text as every database can store it: PostgreSQL's text holds no NUL, and no database takes a
    lone surrogate (JSON's "\\ud800", which a broken client may send); it becomes "?"."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


class Channel(StrEnum):
    WEBCHAT = "webchat"
    TELEGRAM = "telegram"
    SMS = "sms"
    WHATSAPP = "whatsapp"


class Delivery(StrEnum):
    """How far a reply got (the message's delivery column)."""

    PENDING = "pending"
    # Not sent: the channel's free-text window had closed (WhatsApp after 24 hours).
    HELD = "held"
    SENT = "sent"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    DELIVERED = "delivered"

    @property
    def rank(self) -> int:
        """How far along: a state is applied only over one of the same rank or lower. The two failures
        share a rank (the later report explains more); delivered is final."""
        return _RANKS[self]


_RANKS = {
    Delivery.PENDING: 0,
    Delivery.HELD: 1,
    Delivery.SENT: 2,
    Delivery.UNDELIVERED: 3,
    Delivery.FAILED: 3,
    Delivery.DELIVERED: 4,
}


class ConversationStatus(StrEnum):
    """Where a conversation stands (the conversation's status column)."""

    # The bot is still asking its questions.
    INTAKE = "intake"
    # Waiting for a staff member.
    QUEUED = "queued"
    # A staff member holds it.
    CLAIMED = "claimed"
    CLOSED = "closed"


# A person's next message joins an open conversation; a closed one is only kept until retention.
OPEN_STATUSES = (ConversationStatus.INTAKE, ConversationStatus.QUEUED, ConversationStatus.CLAIMED)


class OutboxStatus(StrEnum):
    """Where a reply stands in the outbox (the outbox's status column)."""

    PENDING = "pending"
    # Claimed by a sender under a lease.
    SENDING = "sending"
    SENT = "sent"
    # Not sent: the channel's free-text window had closed; staff see it as held.
    HELD = "held"
    FAILED = "failed"


class Direction(StrEnum):
    """Which way a stored message went (the message's direction column)."""

    IN = "in"
    OUT = "out"
    # A staff member's internal note: never sent.
    NOTE = "note"
    # A line the desk writes itself (claimed by, closed by, …).
    SYSTEM = "system"


class Sender(StrEnum):
    """Who wrote a stored message. A note's sender is the staff member's name instead."""

    PERSON = "person"
    BOT = "bot"
    STAFF = "staff"
    SYSTEM = "system"


@dataclass(frozen=True)
class Contact:
    """Where a person writes from. `address` is the raw reply address; it is stored only encrypted."""

    channel: Channel
    address: str


@dataclass(frozen=True)
class InboundMessage:
    """One message from a person, as any channel delivers it.

    `provider_id` is the channel's own id for the message (Telegram update_id, Twilio MessageSid, the web
    chat's client-generated id); a repeated one is processed once. `choice` is the id of a pressed button,
    when the channel has buttons; typed text is matched against the menu by the flow.
    """

    contact: Contact
    provider_id: str
    text: str
    received_at: datetime
    choice: str | None = None
    locale_hint: str | None = None
    attachments: int = 0
    # The message's own id in the chat where the channel can delete it later (Telegram's message_id).
    provider_ref: str | None = None
    # Web chat: a keyed hash of the client address (never the address), to tell a flood from one source.
    source: str | None = None


@dataclass(frozen=True)
class Choice:
    """One menu entry: a stable id (used as button payload) and the label in the person's language."""

    id: str
    label: str


@dataclass(frozen=True)
class Reply:
    """One message to a person. Menus are data: an adapter renders `choices` as buttons or a numbered list.

    `multi` marks a menu where several choices may be picked one after another (topics), ended by a
    choice with id "done". `erase` asks the adapter to also remove what it can of the conversation on the
    person's device (Telegram's delete_message); it is set only on the confirmation of a delete.
    """

    text: str
    choices: tuple[Choice, ...] = ()
    multi: bool = False
    lang: str = "nb"
    rtl: bool = False
    erase: bool = False
    sender: str = Sender.BOT.value
    # With `erase`: the chat's ids of earlier messages (both directions) the adapter should delete.
    erase_refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutboundMessage:
    """A reply bound for a contact, as the outbox hands it to a channel adapter for delivery."""

    outbox_id: int
    contact: Contact
    reply: Reply
    attempt: int = 0
    extra: dict[str, str] = field(default_factory=dict)


def reply_payload(reply: Reply) -> dict[str, Any]:
    """A reply as the outbox stores it (JSON): the outbox worker decodes it with `reply_from_payload`."""
    return {
        "text": reply.text,
        "choices": [{"id": ch.id, "label": ch.label} for ch in reply.choices],
        "multi": reply.multi,
        "lang": reply.lang,
        "rtl": reply.rtl,
        "erase": reply.erase,
        "sender": reply.sender,
        "erase_refs": list(reply.erase_refs),
    }


def reply_from_payload(payload: dict[str, Any]) -> Reply:
    return Reply(
        text=str(payload.get("text", "")),
        choices=tuple(Choice(str(c["id"]), str(c["label"])) for c in payload.get("choices", [])),
        multi=bool(payload.get("multi", False)),
        lang=str(payload.get("lang", "nb")),
        rtl=bool(payload.get("rtl", False)),
        erase=bool(payload.get("erase", False)),
        sender=str(payload.get("sender", Sender.BOT)),
        erase_refs=tuple(str(r) for r in payload.get("erase_refs", [])),
    )
