"""What the staff desk shows, as plain read models: the console (and any other edge) gets these, never a row
or a session, so a lazy load or a write can never happen outside the desk's own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from intake.storage.models import ContactRow, ConversationRow, MessageRow


@dataclass(frozen=True)
class ConversationView:
    id: str
    status: str
    channel: str
    language: str
    created_at: datetime
    queued_at: datetime | None
    claimed_by: str | None
    danger: bool
    under18: bool
    outside_hours: bool
    # The web chat's source hash, and whether the conversation is part of a flood from it.
    source: str | None
    flood: bool
    # What the intake found so far (the flow state's answers).
    role: str | None
    kind: str | None
    topics: tuple[str, ...]
    age_group: str | None
    gender: str | None

    @classmethod
    def of(cls, row: ConversationRow) -> ConversationView:
        # The answers only, not a whole FlowState: a step this release no longer knows (a conversation
        # stored by an older one) must not hide the conversation from staff.
        state = row.state or {}
        return cls(
            id=row.id,
            status=row.status,
            channel=row.channel,
            language=row.language,
            created_at=row.created_at,
            queued_at=row.queued_at,
            claimed_by=row.claimed_by,
            danger=row.danger,
            under18=row.under18,
            outside_hours=row.outside_hours,
            source=row.source,
            flood=row.flood,
            role=state.get("role"),
            kind=state.get("kind"),
            topics=tuple(state.get("topics") or ()),
            age_group=state.get("age"),
            gender=state.get("gender"),
        )


@dataclass(frozen=True)
class MessageView:
    id: int
    direction: str
    sender: str
    text: str
    attachments: int
    created_at: datetime
    delivery: str | None

    @classmethod
    def of(cls, row: MessageRow) -> MessageView:
        return cls(
            id=row.id,
            direction=row.direction,
            sender=row.sender,
            text=row.text,
            attachments=row.attachments,
            created_at=row.created_at,
            delivery=row.delivery,
        )


@dataclass(frozen=True)
class ContactView:
    """What staff may know of the person behind a conversation: never the address or the pseudonym."""

    hostile: bool
    opted_out: bool
    blocked_until: datetime | None

    @classmethod
    def of(cls, row: ContactRow) -> ContactView:
        return cls(hostile=row.hostile, opted_out=row.opted_out, blocked_until=row.blocked_until)


@dataclass(frozen=True)
class Detail:
    conversation: ConversationView
    messages: list[MessageView]
    # None: the person erased the conversation (the delete keyword).
    contact: ContactView | None
    earlier: list[ConversationView]
