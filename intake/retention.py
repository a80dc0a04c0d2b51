"""Deleting what the work no longer needs (DOMAIN.md): transcripts a set number of days after closing,
contacts with no conversation left, old redelivery markers and delivered replies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select

from intake.cases import purge_cases
from intake.storage.models import ContactRow, ConversationRow, InboundSeenRow, OutboxRow
from intake.storage.uow import Database

# Providers redeliver within minutes to hours; a week covers every retry schedule we know of.
DEDUP_KEEP = timedelta(days=7)


@dataclass(frozen=True)
class Purged:
    conversations: int
    contacts: int
    cases: int = 0


async def purge(db: Database, now: datetime, retention_days: int, case_years: int = 5) -> Purged:
    cutoff = now - timedelta(days=retention_days)
    async with db.uow() as uow:
        old = await uow.conversations.closed_before(cutoff, limit=10_000)
        for conv in old:
            await uow.conversations.delete(conv)
        await uow.flush()
        # A contact is only the means to answer a person; with no conversation left it goes too.
        orphaned = await uow.session.execute(
            delete(ContactRow)
            .where(~exists(select(ConversationRow.id).where(ConversationRow.contact_id == ContactRow.id)))
            .where(ContactRow.last_seen_at < cutoff)
        )
        await uow.session.execute(
            delete(OutboxRow).where(OutboxRow.status.in_(("sent", "failed")), OutboxRow.created_at < cutoff)
        )
        await uow.session.execute(delete(InboundSeenRow).where(InboundSeenRow.seen_at < now - DEDUP_KEEP))
        await uow.commit()
    cases = await purge_cases(db, now, case_years)
    return Purged(conversations=len(old), contacts=int(orphaned.rowcount or 0), cases=cases)  # type: ignore[attr-defined]
