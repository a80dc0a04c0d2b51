"""Delivery reports applied in any order. Twilio does not promise that its status callbacks arrive in the
order it sent them (each is an HTTP request of its own): a late "failed" must not undo a "delivered"."""

from __future__ import annotations

from dataclasses import dataclass

from intake.messages import Delivery
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
    async with db.uow() as uow:
        reply = await uow.outbox.by_provider_id(report.provider_id)
        if reply is None:
            return None
        applied = await uow.messages.advance_delivery([reply.id], report.state)
        if applied and report.error is not None:
            await uow.outbox.set_last_error(reply.id, report.error)
        await uow.commit()
        return reply.channel
