"""Replies into the outbox and the transcript: the one way the bot and the staff desk write to a person."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from intake.messages import Delivery, Direction, OutboxStatus, Reply, reply_payload
from intake.storage.models import ContactRow, ConversationRow, OutboxRow
from intake.storage.uow import UnitOfWork


async def enqueue(
    uow: UnitOfWork,
    conv: ConversationRow | None,
    contact: ContactRow,
    replies: Sequence[Reply],
    now: datetime,
    extra: dict[str, str] | None = None,
) -> list[int]:
    """Queue replies to a person in this unit of work: one outbox row each, and (within a conversation)
    the transcript's copy, pending until the sender or the channel says more. The outbox ids, in order."""
    rows = []
    for reply in replies:
        payload = reply_payload(reply)
        if extra:
            payload["extra"] = dict(extra)
        rows.append(
            OutboxRow(
                conversation_id=conv.id if conv is not None else None,
                channel=contact.channel,
                pseudonym=contact.pseudonym,
                address_enc=contact.address_enc,
                payload=payload,
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    ids = await uow.outbox.add_all(rows)
    if conv is not None:
        await uow.messages.insert(
            [
                {
                    "conversation_id": conv.id,
                    "direction": Direction.OUT,
                    "sender": reply.sender,
                    "text": reply.text,
                    "attachments": 0,
                    "created_at": now,
                    "outbox_id": outbox_id,
                    "delivery": Delivery.PENDING.value,
                }
                for reply, outbox_id in zip(replies, ids, strict=True)
            ]
        )
    return ids
