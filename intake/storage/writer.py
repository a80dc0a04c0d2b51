"""The group-commit writer: SQLite's writes as jobs on one connection, many jobs to a commit.

Through SQLAlchemy's async layer a unit of work held SQLite's write lock across some twenty hand-offs
between the event loop and aiosqlite's thread, and each unit paid its own commit (issue 19). Here one
`sqlite3` connection lives in the event loop's thread; `submit(job)` queues a job (a plain function of that
connection), and the writer runs every job waiting as one batch: `BEGIN IMMEDIATE`, each job inside a
`SAVEPOINT` (a job that fails is undone alone and its caller gets the exception; the others go on), one
`COMMIT`, and only then are the callers answered. An answered job is committed; with WAL and
`synchronous=NORMAL` a commit survives the process being killed (not a power cut, as before).

The connection waits for no lock: its busy timeout is 0, and a `BEGIN IMMEDIATE` that finds the database
locked (a purge or a migration in another connection or process) is retried after an `asyncio.sleep`
that grows, so the event loop goes on serving meanwhile. A job must not await (it runs inside the batch's
transaction, in the loop's thread) and should be short: every other task waits while it runs.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
# A job: runs on the writer's connection inside the batch's transaction; what it returns is the answer.
Job = Callable[[sqlite3.Connection], T]

# Error codes meaning "another connection holds the lock" (the codes, not the message, which varies).
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class DatabaseBusy(TimeoutError):
    """The write lock stayed held by another connection for longer than the writer waits."""


class WriterClosed(RuntimeError):
    """The writer was closed: no job is taken any more."""


def connect_sqlite(path: str) -> sqlite3.Connection:
    """The writer's connection, configured as the engine's are (see db._configure_sqlite) but with no busy
    timeout: the writer waits for the lock itself, without blocking the event loop."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=0")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    # Erased rows are overwritten with zeros, as on every other connection (see db._configure_sqlite).
    conn.execute("PRAGMA secure_delete=ON")
    return conn


@dataclass
class _Submitted:
    job: Job[Any]
    answer: asyncio.Future[Any]


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None


class Waiting(Protocol):
    """A submitted job as both writers queue it: its caller waits on `answer`."""

    answer: asyncio.Future[Any]


W = TypeVar("W", bound=Waiting)


def take(queue: deque[W], limit: int) -> list[W]:
    """The next batch: up to `limit` jobs, in order, without those whose caller gave up (cancelled)
    before they ran."""
    batch: list[W] = []
    while queue and len(batch) < limit:
        submitted = queue.popleft()
        if not submitted.answer.done():
            batch.append(submitted)
    return batch


def settle(submitted: Waiting, outcome: Outcome) -> None:
    if submitted.answer.done():  # cancelled while its batch ran (it may be committed; as ever)
        return
    if outcome.error is not None:
        submitted.answer.set_exception(outcome.error)
    else:
        submitted.answer.set_result(outcome.value)


@dataclass
class SqliteWriter:
    """One connection, opened with the first job in the thread of that job's event loop, and a task that
    runs the batches while jobs wait (it ends when none do, and the next job starts another). The write
    lock is held only inside one batch's synchronous run, never across an await: the engine's own
    connections (the console, the purge) wait for it no longer than that."""

    path: str
    # Jobs per transaction at most: a batch holds the write lock and the event loop while it runs.
    max_batch: int = 200
    # How long a batch waits for another connection's lock before its jobs fail (the engine's own
    # SQLITE_BUSY_TIMEOUT_MS is 10 s).
    busy_timeout: float = 10.0
    first_backoff: float = 0.001
    max_backoff: float = 0.05
    connect: Callable[[str], sqlite3.Connection] = connect_sqlite
    # Batches committed and jobs run, for tests and the benchmark.
    batches: int = 0
    jobs: int = 0
    # Times a BEGIN IMMEDIATE found the database locked and the batch waited.
    busy_retries: int = 0
    _queue: deque[_Submitted] = field(default_factory=deque, init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)
    _conn: sqlite3.Connection | None = field(default=None, init=False)
    _closed: bool = field(default=False, init=False)

    async def submit(self, job: Job[T]) -> T:
        """Run `job` in the next batch; its result once that batch has committed, or its exception (the
        job alone was undone), or the batch's (nothing of the batch was written)."""
        if self._closed:
            raise WriterClosed("the database writer is closed")
        answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Submitted(job, answer))
        self._start()
        return await answer

    def _start(self) -> None:
        if self._conn is None:
            self._conn = self.connect(self.path)
        # A task only while there is work: none is left pending when the loop ends (tests, shutdown). It
        # first runs on the loop's next round, so the jobs submitted meanwhile join its first batch.
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="sqlite-writer")

    async def close(self) -> None:
        """Let the jobs already submitted run, then close the connection."""
        self._closed = True
        if self._task is not None:
            await self._task
            self._task = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _drain(self) -> None:
        while self._queue:
            batch = self._take()
            if batch:
                await self._batch(batch)

    def _take(self) -> list[_Submitted]:
        return take(self._queue, self.max_batch)

    async def _batch(self, batch: list[_Submitted]) -> None:
        conn = self._conn
        assert conn is not None
        try:
            await self._begin(conn)
        except Exception as exc:
            for submitted in batch:
                settle(submitted, Outcome(error=exc))
            return
        outcomes: list[Outcome] = []
        try:
            for submitted in batch:
                outcomes.append(_run_job(conn, submitted))
                if not conn.in_transaction:
                    # SQLite rolled the whole transaction back (a full disk, an I/O error): the jobs
                    # before this one are lost too.
                    raise sqlite3.OperationalError("the batch's transaction was rolled back by SQLite")
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            error = exc if isinstance(exc, Exception) else WriterClosed(f"interrupted: {exc!r}")
            for submitted in batch:
                settle(submitted, Outcome(error=error))
            if not isinstance(exc, Exception):
                raise
            log.error("a write batch of %d jobs failed and was rolled back", len(batch), exc_info=exc)
            return
        self.batches += 1
        self.jobs += len(batch)
        # Only now, committed: an answered job is on disk.
        for submitted, outcome in zip(batch, outcomes, strict=True):
            settle(submitted, outcome)

    async def _begin(self, conn: sqlite3.Connection) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.busy_timeout
        delay = self.first_backoff
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", None) not in _BUSY:
                    raise
                if loop.time() + delay > deadline:
                    raise DatabaseBusy(f"the database stayed locked for {self.busy_timeout:.0f} s") from exc
            self.busy_retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)


def _run_job(conn: sqlite3.Connection, submitted: _Submitted) -> Outcome:
    """One job inside its savepoint: on an exception only its own writes are undone."""
    conn.execute("SAVEPOINT job")
    try:
        value = submitted.job(conn)
    except Exception as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
        return Outcome(error=exc)
    conn.execute("RELEASE job")
    return Outcome(value=value)
