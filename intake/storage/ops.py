"""The database operations of an inbound message, as data: the unit (intake/inbound.py) yields them and a
driver runs each on its connection (intake/storage/sqlite_ops.py: plain SQL on the writer's `sqlite3`
connection; a PostgreSQL driver can run the same unit on asyncpg). No SQL here and no ORM: the records
are plain values, so a job runs no SQLAlchemy at all.

Values cross as the columns hold them, except time (aware UTC datetimes) and sealed text, which the unit
encrypts before it yields (a driver never sees a clear message or reply).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from intake.messages import Delivery

T = TypeVar("T")


class Op(Generic[T]):
    """An operation whose driver's answer is a T."""


# A unit: yields operations, is sent each one's answer, returns its result.
Unit = Generator["Op[Any]", Any, T]


def ask(op: Op[T]) -> Generator[Op[Any], Any, T]:
    """`value = yield from ask(op)`: the operation's answer, typed."""
    answer: T = yield op
    return answer


def only(op: Op[T]) -> Unit[T]:
    """A unit of this one operation."""
    return (yield from ask(op))


@dataclass
class Contact:
    id: int
    pseudonym: str
    channel: str
    address_enc: bytes
    blocked_until: datetime | None
    opted_out: bool
    block_notified: bool


@dataclass
class Conversation:
    id: str
    contact_id: int | None
    channel: str
    language: str
    state: dict[str, Any]
    status: str
    created_at: datetime
    updated_at: datetime
    danger: bool = False
    under18: bool = False
    outside_hours: bool = False
    queued_at: datetime | None = None
    claimed_by: str | None = None
    last_inbound_at: datetime | None = None
    closed_at: datetime | None = None
    stat_key: str | None = None
    version: int = 1
    source: str | None = None
    flood: bool = False


@dataclass(frozen=True)
class NewMessage:
    conversation_id: str
    direction: str
    sender: str
    text_enc: str
    created_at: datetime
    attachments: int = 0
    outbox_id: int | None = None
    provider_ref: str | None = None
    delivery: str | None = None


@dataclass(frozen=True)
class NewOutbox:
    conversation_id: str | None
    channel: str
    pseudonym: str
    address_enc: bytes
    # The sealed payload (SealedJSON's stored token).
    payload_enc: str
    status: str
    next_attempt_at: datetime
    created_at: datetime


# ---- operations ----


@dataclass(frozen=True)
class FirstTime(Op[bool]):
    """Record a provider's message id; False when it was recorded already (a redelivery)."""

    channel: str
    provider_key: str
    now: datetime


@dataclass(frozen=True)
class TouchContact(Op[Contact]):
    """The contact, created on first contact; seen now, at this address, and no longer opted out."""

    pseudonym: str
    channel: str
    address_enc: bytes
    now: datetime


@dataclass(frozen=True)
class Arrival:
    contact: Contact
    # Whether anyone is staffed; True when not asked.
    staffed: bool


@dataclass(frozen=True)
class Arrive(Op["Arrival | None"]):
    """FirstTime, then, for a first time only, AnyoneStaffed (when given) and TouchContact: the message's
    first three questions in one operation (one statement on PostgreSQL). None for a redelivery."""

    first: FirstTime
    staffed: AnyoneStaffed | None
    contact: TouchContact


@dataclass(frozen=True)
class OpenWithRecent(Op["tuple[Conversation | None, int]"]):
    """OpenConversation and that conversation's InboundSince (0 without one), in one operation. Asked
    after the contact's upsert has its lock, so on PostgreSQL it sees what the person's previous message
    committed (a statement's snapshot is taken when it starts)."""

    contact_id: int
    since: datetime


@dataclass(frozen=True)
class UpdateContact(Op[None]):
    contact_id: int
    values: dict[str, Any]


@dataclass(frozen=True)
class OpenConversation(Op["Conversation | None"]):
    contact_id: int


@dataclass(frozen=True)
class ConversationsOf(Op[list[Conversation]]):
    """The contact's conversations, oldest first."""

    contact_id: int


@dataclass(frozen=True)
class InboundSince(Op[int]):
    conversation_id: str
    since: datetime


@dataclass(frozen=True)
class OpenedSince(Op[int]):
    """Conversations opened from this source since then."""

    source: str
    since: datetime


@dataclass(frozen=True)
class MarkFlood(Op[None]):
    source: str


@dataclass(frozen=True)
class AnyoneStaffed(Op[bool]):
    now: datetime
    active_since: datetime


@dataclass(frozen=True)
class WaitingAhead(Op[int]):
    danger: bool
    under18: bool
    flood: bool


@dataclass(frozen=True)
class SaveConversation(Op[None]):
    """Insert (`new`) or update the conversation; an update raises its version by one."""

    conversation: Conversation
    new: bool


@dataclass(frozen=True)
class InsertMessages(Op[None]):
    """In this order (the transcript is ordered by id)."""

    messages: Sequence[NewMessage]


@dataclass(frozen=True)
class InsertOutbox(Op[list[int]]):
    """The rows' ids, in the rows' order."""

    rows: Sequence[NewOutbox]


@dataclass(frozen=True)
class InsertReplies(Op[None]):
    """A message's writes after its conversation: InsertOutbox(outbox), then InsertMessages of `before`
    and of `replies`, the i-th reply's message pointing at the i-th outbox row (the driver fills in its
    id). One operation, so PostgreSQL writes them in one statement."""

    outbox: Sequence[NewOutbox]
    before: Sequence[NewMessage]
    replies: Sequence[NewMessage]


@dataclass(frozen=True)
class CancelPending(Op[None]):
    pseudonym: str
    reason: str


@dataclass(frozen=True)
class PutStat(Op[str]):
    """Write or correct one anonymous record (a new one when `key` is None or gone); its key."""

    key: str | None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MessageRefsSince(Op[list[str]]):
    """The chat's ids of the conversation's messages since then, in order."""

    conversation_id: str
    since: datetime


@dataclass(frozen=True)
class DeleteConversation(Op[None]):
    """With its messages (the foreign key cascades); outbox rows keep theirs as NULL."""

    conversation_id: str


@dataclass(frozen=True)
class SentRefs(Op[list[str]]):
    pseudonym: str
    since: datetime


@dataclass(frozen=True)
class ForgetOutbox(Op[None]):
    pseudonym: str


# ---- the outbox's sender ----


@dataclass(frozen=True)
class ClaimDue(Op[list[tuple[Any, ...]]]):
    """As repositories.Outbox.claim_due: up to `limit` due rows leased until `until`, as stored (the
    sender opens them outside the job: decrypting holds no lock)."""

    now: datetime
    until: datetime
    limit: int
    channels: tuple[str, ...]


@dataclass(frozen=True)
class MarkSent(Op[None]):
    """As Outbox.mark_sent_many and Messages.set_delivery_many: sent, with the provider's ids."""

    sent: Sequence[tuple[int, str | None]]
    now: datetime


# ---- what a channel learns of its replies (intake/delivery.py) ----


@dataclass(frozen=True)
class MarkPulled(Op[None]):
    """As Outbox.mark_pulled and Messages.set_delivery_many: a pull channel (the web chat) fetched these
    replies; they are sent."""

    ids: Sequence[int]
    now: datetime


@dataclass(frozen=True)
class ApplyReport(Op["str | None"]):
    """As delivery.apply_report on the repositories: the reply the provider knows by `provider_id` gets
    `state` unless it already got further, and `error` if given; the reply's channel, or None without one."""

    provider_id: str
    state: Delivery
    error: str | None
