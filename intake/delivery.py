"""Delivery reports applied in any order. Twilio does not promise that its status callbacks arrive in the
order it sent them (each is an HTTP request of its own): a late "failed" must not undo a "delivered"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from intake.messages import Delivery
from intake.storage.ops import ApplyReport, MarkPulled, only
from intake.storage.uow import Database


@dataclass(frozen=True)
class Report:
    """A delivery report as a channel received it."""

    provider_id: str
    state: Delivery
    # Why it did not arrive, as the provider says it (e.g. "Twilio: failed, error 30008").
    error: str | None = None


async def apply_report(db: Database, report: Report) -> str | None:
    """Applies a delivery report unless the reply already got further. Returns the reply's channel, or
    None when no stored reply has that id (erased, or purged)."""
    if db.writer is not None:
        # A job of the writer (issue 19), on the outbox's lane on PostgreSQL: the rows the sender marks.
        op = ApplyReport(report.provider_id, report.state, report.error)
        return await db.perform(lambda: only(op))
    async with db.uow() as uow:
        reply = await uow.outbox.by_provider_id(report.provider_id)
        if reply is None:
            return None
        applied = await uow.messages.advance_delivery([reply.id], report.state)
        if applied and report.error is not None:
            await uow.outbox.set_last_error(reply.id, report.error)
        await uow.commit()
        return reply.channel


@dataclass(frozen=True)
class PulledReply:
    """A reply a pull channel (the web chat) fetched: its outbox id and the reply's payload."""

    id: int
    payload: Mapping[str, Any]


async def pull(db: Database, pseudonym: str, after: int, now: datetime) -> list[PulledReply]:
    """The replies for this person after outbox id `after`, marked pulled and sent (committed before they
    are returned)."""
    async with db.uow() as uow:
        rows = await uow.outbox.delivered_to(pseudonym, after)
        if not rows:
            return []
        ids = [row.id for row in rows]
        if db.writer is None:
            await uow.outbox.mark_pulled(ids, now)
            await uow.messages.set_delivery_many(ids, Delivery.SENT)
            await uow.commit()
    if db.writer is not None:
        # Read above without a lock (most polls find nothing and write nothing); marked as a job of the
        # writer, on the person's lane on PostgreSQL. A reply erased in between is simply not marked.
        await db.perform(lambda: only(MarkPulled(ids, now)), key=pseudonym)
    return [PulledReply(row.id, row.payload) for row in rows]


@dataclass(frozen=True)
class Deliveries:
    """What channels learn about their replies, applied through the repositories (a channel's
    `DeliveryUpdates`, bots/channels/base.py)."""

    db: Database

    async def report(self, report: Report) -> str | None:
        return await apply_report(self.db, report)

    async def pull(self, pseudonym: str, after: int) -> Sequence[PulledReply]:
        return await pull(self.db, pseudonym, after, datetime.now(UTC))
