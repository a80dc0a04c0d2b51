"""The end of a conversation as the person sees it: a neutral line when staff close it, and a message soon
after the close goes back to the same staff member as the same conversation, not into a new intake.

Here, not in the desk or the service, so both share one rule (and the system line the console translates).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from intake.categories import N_
from intake.messages import ConversationStatus, Direction, Sender
from intake.storage.models import ConversationRow, MessageRow
from intake.storage.uow import UnitOfWork

# First line neutral (a lock screen shows it) and true in every state: writing again always reaches staff.
ENDED = N_("This conversation has ended. You can write here again at any time.")
# A message this soon after staff closed a conversation reopens it for them.
REOPEN_WINDOW = timedelta(hours=24)
REOPENED_LINE = "reopened: the person wrote again"


def system_line(conv: ConversationRow, text: str, now: datetime) -> MessageRow:
    return MessageRow(
        conversation_id=conv.id,
        direction=Direction.SYSTEM,
        sender=Sender.SYSTEM,
        text=text,
        attachments=0,
        created_at=now,
    )


class Closable(Protocol):
    """A conversation as a row or as the writer's record (storage/ops.py)."""

    @property
    def status(self) -> str: ...
    @property
    def claimed_by(self) -> str | None: ...
    @property
    def stat_key(self) -> str | None: ...
    @property
    def closed_at(self) -> datetime | None: ...


def reopenable(latest: Closable | None, now: datetime) -> bool:
    """Whether a message now reopens the person's latest conversation: staff closed it (staff closes
    unlink the anonymous record; an opt-out or an expired conversation keeps its own state) within
    REOPEN_WINDOW."""
    return not (
        latest is None
        or latest.status != ConversationStatus.CLOSED
        or latest.claimed_by is None
        or latest.stat_key is not None
        or latest.closed_at is None
        or now - latest.closed_at > REOPEN_WINDOW
    )


async def reopen_recent(uow: UnitOfWork, contact_id: int, now: datetime) -> ConversationRow | None:
    """The person's conversation that staff closed within REOPEN_WINDOW, back with the staff member who
    held it; None when there is none. Only staff closes count: they unlink the anonymous record (an
    opt-out or an expired conversation keeps its own state)."""
    conversations = await uow.conversations.for_contact(contact_id)
    latest = conversations[-1] if conversations else None
    if latest is None or not reopenable(latest, now):
        return None
    latest.status, latest.closed_at, latest.updated_at = ConversationStatus.CLAIMED, None, now
    uow.messages.add(system_line(latest, REOPENED_LINE, now))
    return latest


async def was_reopened(uow: UnitOfWork, conv: ConversationRow) -> bool:
    """Closed once already: its anonymous record was written then, and is not written twice."""
    messages = await uow.messages.for_conversation(conv.id)
    return any(m.direction == Direction.SYSTEM and m.text == REOPENED_LINE for m in messages)
