"""The group-commit writer on PostgreSQL: the same `submit(job)` contract as writer.SqliteWriter (issue 19).

A job (an async function of an asyncpg connection) is routed to a lane by a key: the inbound messages by
the person's pseudonym, the flood check by its source, so that one person's jobs always meet in one lane
and two lanes never lock the same contact (in opposite order or at all); the outbox's claims and
sent-marks (no key) have a lane of their own. Each lane is a task that takes every job queued for it as
one batch: one transaction, one COMMIT, and only then are the callers answered. No savepoint per job (it
cost two round trips of a job's seven): a batch is run optimistically, and if any job fails, or the batch
fails as a whole (at COMMIT, a connection lost), nothing of it was written and it is run again job by
job, each in its own transaction, so a job that cannot commit fails alone and takes none of the others
with it. A job that failed on a deadlock or a serialization failure is run again alone after that. (A
connection lost at COMMIT leaves it unknown whether the batch was written: an inbound message run again
finds its provider id recorded and is a redelivery; a claim run again leaves the first claim's rows
leased until their lease runs out.)

Connections: the lanes share ONE asyncpg pool of `lanes + 1` connections (5 by default), opened on the
first job. With SQLAlchemy's pool (db.make_engine: 20 on PostgreSQL) and the live bus's LISTEN
connection, a copy holds at most 26 connections: three copies fit within PostgreSQL's default
max_connections of 100 (less 3 reserved for superusers) with room for the console's commands and psql.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
from asyncpg import Connection

from intake.storage.sqlite_ops import StaleConversation
from intake.storage.writer import Outcome, WriterClosed, settle, take

log = logging.getLogger(__name__)

T = TypeVar("T")

# A job: runs on the lane's connection inside the batch's transaction. It may be run more than once
# (its batch failed, or a transient failure): a job is a fresh unit each time, with no effect but its SQL.
PgJob = Callable[[Connection], Awaitable[T]]


class _JobFailed(Exception):
    """A job failed inside a batch of several: the transaction is aborted and the batch runs job by job."""


# Failures that say nothing about the job itself: running it again may well succeed.
_TRANSIENT: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    ConnectionError,
    # A staff member changed the conversation after the unit read it: run again, it reads it afresh.
    StaleConversation,
)


def transient(exc: BaseException) -> bool:
    return isinstance(exc, _TRANSIENT)


@dataclass
class _Submitted:
    job: PgJob[Any]
    answer: asyncio.Future[Any]
    tries: int = 0


@dataclass
class _Lane:
    name: str
    queue: deque[_Submitted] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


@dataclass
class PgWriter:
    dsn: str
    # Lanes for keyed jobs (the inbound messages); the outbox's lane comes on top.
    lanes: int = 4
    # Jobs per transaction at most: a batch holds its persons' contact rows locked until it commits.
    max_batch: int = 50
    # Times a job is run again after a transient failure before its caller gets the error.
    retries: int = 3
    # Batches committed and jobs answered with a result, for tests and the benchmark.
    batches: int = 0
    jobs: int = 0
    # Batches that failed whole and were run again job by job.
    rerun_batches: int = 0
    _lanes: list[_Lane] = field(default_factory=list, init=False)
    _pool: asyncpg.Pool | None = field(default=None, init=False)
    _opening: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    _closed: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self._lanes = [_Lane(f"pg-writer-{n}") for n in range(self.lanes)] + [_Lane("pg-writer-outbox")]

    @property
    def connections(self) -> int:
        """The most connections the writer holds (its pool's size): one per lane."""
        return len(self._lanes)

    def lane_of(self, key: str | None) -> int:
        """The lane a key's jobs run on: the same key always the same lane; no key, the outbox's."""
        if key is None:
            return len(self._lanes) - 1
        return zlib.crc32(key.encode("utf-8")) % self.lanes

    async def submit(self, job: PgJob[T], key: str | None = None) -> T:
        """Run `job` in its lane's next batch; its result once that batch has committed, or its exception
        (the job alone was undone)."""
        if self._closed:
            raise WriterClosed("the database writer is closed")
        answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        lane = self._lanes[self.lane_of(key)]
        lane.queue.append(_Submitted(job, answer))
        # A task only while there is work (as SqliteWriter): it first runs on the loop's next round, so the
        # jobs submitted meanwhile join its first batch.
        if lane.task is None or lane.task.done():
            lane.task = asyncio.get_running_loop().create_task(self._drain(lane), name=lane.name)
        return await answer

    async def close(self) -> None:
        """Let the jobs already submitted run and commit, then close the pool (again: nothing)."""
        self._closed = True
        for lane in self._lanes:
            if lane.task is not None:
                await lane.task
                lane.task = None
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 10)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()

    async def _connections(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        # The lanes that start together share one opening; a failed one is tried again by the next batch.
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self.dsn, min_size=1, max_size=len(self._lanes), reset=_keep_as_is
                )
        return self._pool

    async def _drain(self, lane: _Lane) -> None:
        while lane.queue:
            batch = take(lane.queue, self.max_batch)
            if batch:
                await self._batch(batch)

    async def _batch(self, batch: list[_Submitted]) -> None:
        try:
            outcomes = await self._attempt(batch)
        except Exception as exc:
            if len(batch) > 1:
                # Nothing of the batch was written: each job again, alone, so one that cannot commit
                # takes none of the others with it.
                self.rerun_batches += 1
                if isinstance(exc, _JobFailed):
                    log.info(
                        "a job failed in a write batch of %d (%r); running them one by one",
                        len(batch),
                        exc.__cause__,
                    )
                else:
                    log.warning(
                        "a write batch of %d jobs failed (%r); running them one by one", len(batch), exc
                    )
                for submitted in batch:
                    await self._batch([submitted])
                return
            outcomes = [Outcome(error=exc)]
        again: list[_Submitted] = []
        for submitted, outcome in zip(batch, outcomes, strict=True):
            if outcome.error is not None and transient(outcome.error) and submitted.tries < self.retries:
                submitted.tries += 1
                again.append(submitted)
            else:
                if outcome.error is None:
                    self.jobs += 1
                settle(submitted, outcome)
        for submitted in again:
            await asyncio.sleep(0.01 * submitted.tries)
            await self._batch([submitted])

    async def _attempt(self, batch: list[_Submitted]) -> list[Outcome]:
        """One transaction for the batch; raises when the batch as a whole failed (nothing written)."""
        pool = await self._connections()
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            try:
                outcomes = []
                for submitted in batch:
                    outcome = await _run(conn, submitted)
                    if outcome.error is not None:
                        if len(batch) > 1:
                            raise _JobFailed from outcome.error
                        # Alone: the transaction was the job's, and its error is the answer.
                        await tx.rollback()
                        return [outcome]
                    outcomes.append(outcome)
                await tx.commit()
            except BaseException:
                if not conn.is_closed():
                    try:
                        await tx.rollback()
                    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                        log.debug("rollback after a failed batch failed too", exc_info=True)
                raise
        self.batches += 1
        return outcomes


async def _run(conn: Connection, submitted: _Submitted) -> Outcome:
    try:
        return Outcome(value=await submitted.job(conn))
    except Exception as exc:
        return Outcome(error=exc)


async def _keep_as_is(conn: Connection) -> None:
    """The pool's reset between batches: none. A batch leaves nothing on its connection (its transaction
    and the claim's advisory lock end at COMMIT), and asyncpg's default reset would cost every batch a
    round trip more."""
