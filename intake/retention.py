"""Deleting what the work no longer needs (DOMAIN.md): transcripts a set number of days after closing or,
for conversations never closed, after the last sign of life; contacts with no conversation left; old
redelivery markers and delivered replies; stale staff sessions and sign-in attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from intake.cases import purge_cases
from intake.storage.uow import Database

# Providers redeliver within minutes to hours; a week covers every retry schedule we know of.
DEDUP_KEEP = timedelta(days=7)
# Longer than any sign-in limit's window: an attempt older than this counts against nothing.
ATTEMPTS_KEEP = timedelta(days=1)
# The console's idle time-out (StaffAccounts.idle_timeout): an idle session is refused from then on.
SESSION_IDLE = timedelta(minutes=30)
BATCH = 10_000


@dataclass(frozen=True)
class Purged:
    conversations: int
    contacts: int
    # Of `conversations`: never closed, inactive for the whole retention period.
    abandoned: int = 0
    sessions: int = 0
    attempts: int = 0
    cases: int = 0


async def purge(
    db: Database,
    now: datetime,
    retention_days: int,
    session_idle: timedelta = SESSION_IDLE,
    case_years: int = 5,
) -> Purged:
    cutoff = now - timedelta(days=retention_days)
    async with db.uow() as uow:
        # A conversation nobody closed (an abandoned intake, a person who stopped writing) is closed by
        # time: inactive for as long as a closed one is kept, it goes as a closed one would.
        abandoned = await uow.conversations.abandoned_before(cutoff, limit=BATCH)
        old = await uow.conversations.closed_before(cutoff, limit=BATCH)
        for conv in (*abandoned, *old):
            await uow.conversations.delete(conv)
        await uow.flush()
        contacts = await uow.contacts.forget_unused(cutoff)
        await uow.outbox.forget_finished_before(cutoff)
        await uow.seen.forget_before(now - DEDUP_KEEP)
        sessions = await uow.access.forget_stale_sessions(now, now - session_idle)
        attempts = await uow.access.forget_attempts_before(now - ATTEMPTS_KEEP)
        # Phone calls (their voicemail and encrypted number) are kept as long as a transcript.
        calls = await uow.calls.delete_started_before(cutoff)
        await uow.commit()
    cases = await purge_cases(db, now, case_years)
    if abandoned or old or calls:
        await db.after_erasure()
    return Purged(
        conversations=len(abandoned) + len(old),
        contacts=contacts,
        abandoned=len(abandoned),
        sessions=sessions,
        attempts=attempts,
        cases=cases,
    )
