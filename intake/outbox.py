"""Drains the durable outbox to the push channels, with retries and backoff.

A row is claimed with a lease; if this process dies mid-send the lease runs out and another sender (or
this one after restart) takes it again. That makes delivery at-least-once; the rare repeat after a crash
between the channel's answer and our commit is the price of never losing a reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from intake.messages import Channel, Contact, Delivery, OutboundMessage, reply_from_payload
from intake.metrics import Metrics
from intake.privacy import Keys, UnreadableAddress
from intake.storage.models import OutboxRow
from intake.storage.ops import ClaimDue, MarkSent, only
from intake.storage.sealed import UNREADABLE
from intake.storage.sqlite_ops import outbox_rows
from intake.storage.uow import Database

log = logging.getLogger(__name__)


class TemporaryFailure(Exception):
    """Try again later (network error, 5xx, rate limit)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """Never try again (blocked by the person, invalid address, opted out)."""


class Sender(Protocol):
    async def send(self, message: OutboundMessage) -> str | None:
        """Deliver one message; return the provider's id for it, or raise one of the failures above."""


def backoff(attempt: int) -> float:
    base: float = min(2.0**attempt, 300.0)
    return base * (0.8 + 0.4 * random.random())  # noqa: S311 - jitter, not security


@dataclass
class OutboxWorker:
    db: Database
    keys: Keys
    senders: Mapping[str, Sender]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    batch: int = 50
    # Batches being sent at once. Never reorders a person's replies: a claim skips a person whose earlier
    # reply another batch holds.
    lanes: int = 4
    claim_gap: float = 0.1
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 10
    send_timeout: float = 30.0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    metrics: Metrics | None = None
    sent_flush_interval: float = 0.1
    slow_claim: float = 0.1
    analyze_every: float = 600.0
    _analyzed_at: float = float("-inf")
    _sent: list[tuple[int, str | None]] = field(default_factory=list)
    _flush_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _unrecorded: set[int] = field(default_factory=set)
    _unflushed: set[int] = field(default_factory=set)
    _flushed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def _count_failure(self, channel: str, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.send_failures.labels(channel, kind).inc()

    async def run_once(self, stop: asyncio.Event | None = None) -> int:
        """Send what is due now; returns how many rows were handled. Once `stop` is set, the sends in
        hand are finished and the rest of the batch is handed back."""
        if not self.senders:
            return 0
        rows = await self._claim()
        if rows:
            async with self._flushing():
                await self._send_batch(rows, stop)
        return len(rows)

    @contextlib.asynccontextmanager
    async def _flushing(self) -> AsyncIterator[None]:
        """Group-commits the sends made inside, every `sent_flush_interval` and once more at the end."""
        finished = asyncio.Event()
        flusher = asyncio.create_task(self._flush_sent_until(finished))
        try:
            yield
        finally:
            # Never cancel the flusher: cancelled inside its transaction, it would drop the sends it took.
            finished.set()
            await flusher

    async def _claim(self) -> list[OutboxRow]:
        started = time.monotonic()
        if self.db.writer is not None:
            # A job of the writer (SQLite: in the batch with the webhooks' units; PostgreSQL: on the
            # outbox's own lane, no key); opened after it, outside the job.
            now = self.clock()
            claim = ClaimDue(now, now + self.lease, self.batch, tuple(self.senders))
            claimed = outbox_rows(self.db.cipher(), await self.db.perform(lambda: only(claim)))
            await self._keep_claims_fast(time.monotonic() - started)
            return claimed
        async with self.db.uow(urgent=True) as uow:
            rows = await uow.outbox.claim_due(self.clock(), self.batch, self.lease, list(self.senders))
            await uow.commit()
        await self._keep_claims_fast(time.monotonic() - started)
        return list(rows)

    async def _send_batch(self, rows: list[OutboxRow], stop: asyncio.Event | None) -> None:
        # One person's messages go in order; different people in parallel.
        by_person: dict[str, list[OutboxRow]] = {}
        for row in rows:
            by_person.setdefault(row.pseudonym, []).append(row)
        await asyncio.gather(*(self._send_in_order(person_rows, stop) for person_rows in by_person.values()))

    async def _keep_claims_fast(self, seconds: float) -> None:
        """A claim costs its batch when the planner knows the table; a slow one means it does not (yet):
        refresh the statistics, at most every `analyze_every`. Claims grow slower gradually with the
        backlog, so this fires long before they get pathological."""
        now = time.monotonic()
        if seconds < self.slow_claim or now - self._analyzed_at < self.analyze_every:
            return
        self._analyzed_at = now
        try:
            async with self.db.uow(urgent=True) as uow:
                if await uow.outbox.refresh_statistics():
                    await uow.commit()
                    log.info("outbox: a claim took %.0f ms; table statistics refreshed", seconds * 1000)
        except Exception:
            log.exception("outbox: could not refresh the table statistics")

    async def _flush_sent_until(self, finished: asyncio.Event) -> None:
        """Flushes every `sent_flush_interval` while sends go on, and once more when they are done."""
        while not finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), self.sent_flush_interval)
            await self._flush_sent()
        # Sends may have finished while the last flush ran (and `finished` was set meanwhile).
        await self._flush_sent()

    async def _flush_sent(self) -> None:
        """Commits the sends done so far in one transaction (group commit: one write for many replies).
        A failed commit loses nothing: the rows stay leased and are sent again when the lease runs out
        (at-least-once); they are noted in `_unrecorded`. Wakes whoever waits in `_recorded`."""
        async with self._flush_lock:
            sent, self._sent = self._sent, []
            if sent:
                try:
                    await self._mark_sent(sent)
                except Exception:
                    log.exception("could not record %d sends; they will be sent again", len(sent))
                    self._unrecorded.update(outbox_id for outbox_id, _ in sent)
            async with self._flushed:
                self._unflushed.difference_update(outbox_id for outbox_id, _ in sent)
                self._flushed.notify_all()

    async def _mark_sent(self, sent: list[tuple[int, str | None]]) -> None:
        if self.db.writer is not None:
            mark = MarkSent(sent, self.clock())
            await self.db.perform(lambda: only(mark))
            return
        async with self.db.uow(urgent=True) as uow:
            await uow.outbox.mark_sent_many(sent, self.clock())
            await uow.messages.set_delivery_many([outbox_id for outbox_id, _ in sent], Delivery.SENT)
            await uow.commit()

    async def _recorded(self, outbox_id: int) -> bool:
        """Waits for the group commit that holds this send (the flusher's next round, not a commit of its
        own: many people's sends share it); False when that commit failed."""
        async with self._flushed:
            await self._flushed.wait_for(lambda: outbox_id not in self._unflushed)
        if outbox_id in self._unrecorded:
            self._unrecorded.discard(outbox_id)
            return False
        return True

    async def _send_in_order(self, rows: list[OutboxRow], stop: asyncio.Event | None = None) -> None:
        for index, row in enumerate(rows):
            if stop is not None and stop.is_set():
                # Shutting down: a reply not begun goes back at once, unattempted, so the next process
                # (or another copy) sends it without waiting out the lease or spending an attempt.
                async with self.db.uow(urgent=True) as uow:
                    await uow.outbox.release([later.id for later in rows[index:]])
                    await uow.commit()
                return
            # A person's next reply waits until the previous one is recorded as sent: a crash can then
            # repeat at most one reply per person (Telegram and Twilio have no idempotency key).
            if index > 0 and not await self._recorded(rows[index - 1].id):
                return  # not recorded: this and the later rows stay leased and go again, in order
            if not await self._send(row):
                # Later messages wait for the failed one so the person never reads them out of order.
                async with self.db.uow(urgent=True) as uow:
                    for later in rows[index + 1 :]:
                        await uow.outbox.mark_retry(
                            later.id, "waiting for an earlier message", row.next_attempt_at
                        )
                    await uow.commit()
                return

    async def _send(self, row: OutboxRow) -> bool:
        now = self.clock()
        try:
            contact = Contact(Channel(row.channel), self.keys.decrypt(row.address_enc))
            if row.payload.get(UNREADABLE):
                raise UnreadableAddress("the reply opens with no configured key")
            extra = {str(k): str(v) for k, v in dict(row.payload.get("extra") or {}).items()}
            message = OutboundMessage(row.id, contact, reply_from_payload(row.payload), row.attempts, extra)
            async with asyncio.timeout(self.send_timeout):
                provider_id = await self.senders[row.channel].send(message)
        except (PermanentFailure, UnreadableAddress) as exc:
            self._count_failure(row.channel, "permanent")
            await self._finish(row, failed=type(exc).__name__ + ": " + str(exc))
            return False
        except Exception as exc:
            reason = str(exc) if isinstance(exc, TemporaryFailure) else type(exc).__name__
            self._count_failure(row.channel, "temporary")
            if row.attempts >= self.max_attempts:
                await self._finish(row, failed=f"gave up after {row.attempts} attempts: {reason}")
                return False
            delay = (
                exc.retry_after
                if isinstance(exc, TemporaryFailure) and exc.retry_after
                else backoff(row.attempts)
            )
            row.next_attempt_at = now + timedelta(seconds=delay)
            log.warning(
                "send failed on %s (attempt %d), retry in %.1fs: %s", row.channel, row.attempts, delay, reason
            )
            async with self.db.uow(urgent=True) as uow:
                await uow.outbox.mark_retry(row.id, reason, row.next_attempt_at)
                await uow.commit()
            return False
        self._sent.append((row.id, provider_id))
        self._unflushed.add(row.id)
        if self.metrics is not None:
            self.metrics.messages_out.labels(row.channel).inc()
        return True

    async def _finish(self, row: OutboxRow, failed: str) -> None:
        log.error("giving up on an outbox message on %s: %s", row.channel, failed)
        async with self.db.uow(urgent=True) as uow:
            await uow.outbox.mark_failed(row.id, failed)
            await uow.messages.set_delivery(row.id, Delivery.FAILED)
            await uow.commit()

    async def run(self, stop: asyncio.Event, idle: float = 0.5) -> None:
        """Claims the next batch while earlier ones are still being sent (up to `lanes` at once): waiting
        for a whole batch before claiming again let its slowest person set everyone's pace."""
        room = asyncio.Semaphore(max(1, self.lanes))
        batches: set[asyncio.Task[None]] = set()

        def done(batch: asyncio.Task[None]) -> None:
            batches.discard(batch)
            room.release()
            # A person's later reply was skipped while this batch held the earlier one: claim again.
            self.wake.set()
            if not batch.cancelled() and (exc := batch.exception()) is not None:
                log.error("outbox batch failed; its rows go again when their lease ends", exc_info=exc)

        async with self._flushing():
            try:
                while not stop.is_set():
                    await room.acquire()
                    # Cleared before the claim, so a reply queued while it runs wakes the next one.
                    self.wake.clear()
                    rows: list[OutboxRow] = []
                    try:
                        rows = await self._claim() if self.senders else []
                    except Exception:
                        log.exception("outbox claim failed; retrying")
                    if not rows:
                        room.release()
                    else:
                        batch = asyncio.create_task(self._send_batch(rows, stop))
                        batches.add(batch)
                        batch.add_done_callback(done)
                        if len(rows) == self.batch:
                            continue  # a full batch: more is likely due now
                    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
                    await asyncio.wait(waiters, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
                    for waiter in waiters:
                        waiter.cancel()
                    # Woken by one new reply, gather a few more before claiming: a claim per reply cost
                    # more CPU than the messages themselves under load (measured: 6,200 claims for 3,541
                    # messages, most of one or two rows, and half the throughput). 100 ms here and between
                    # group commits kept the throughput of one-batch-at-a-time while replies kept pace.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.claim_gap)
            finally:
                # The batches in hand finish (a stop hands their unstarted rows back) before the last flush.
                if batches:
                    await asyncio.gather(*batches, return_exceptions=True)
