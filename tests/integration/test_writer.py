"""The group-commit writer on SQLite: batches, one job failing alone, waiting for a lock without blocking the
event loop, and an answered job being on disk."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from intake.storage.writer import DatabaseBusy, SqliteWriter, WriterClosed


def _db(tmp_path: Path) -> str:
    path = str(tmp_path / "writer.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)")
    conn.close()
    return path


def _insert(name: str) -> Callable[[sqlite3.Connection], int]:
    def job(conn: sqlite3.Connection) -> int:
        return int(conn.execute("INSERT INTO items (name) VALUES (?) RETURNING id", (name,)).fetchone()[0])

    return job


def _names(path: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT name FROM items ORDER BY id")]
    finally:
        conn.close()


async def test_the_jobs_waiting_together_commit_as_one_batch(tmp_path: Path) -> None:
    path = _db(tmp_path)
    writer = SqliteWriter(path)
    try:
        ids = await asyncio.gather(*(writer.submit(_insert(f"n{i}")) for i in range(50)))
        assert ids == list(range(1, 51))
        assert (writer.batches, writer.jobs) == (1, 50)
        # One by one: one batch each.
        await writer.submit(_insert("a"))
        await writer.submit(_insert("b"))
        assert (writer.batches, writer.jobs) == (3, 52)
    finally:
        await writer.close()
    assert _names(path) == [*(f"n{i}" for i in range(50)), "a", "b"]


async def test_a_batch_takes_at_most_max_batch_jobs(tmp_path: Path) -> None:
    path = _db(tmp_path)
    writer = SqliteWriter(path, max_batch=10)
    try:
        await asyncio.gather(*(writer.submit(_insert(f"n{i}")) for i in range(35)))
        assert (writer.batches, writer.jobs) == (4, 35)
    finally:
        await writer.close()
    assert len(_names(path)) == 35


async def test_a_failing_job_is_undone_alone_and_its_caller_gets_the_exception(tmp_path: Path) -> None:
    path = _db(tmp_path)

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO items (name) VALUES ('half')")
        raise ValueError("this job fails")

    writer = SqliteWriter(path)
    try:
        results = await asyncio.gather(
            writer.submit(_insert("first")),
            writer.submit(half_then_fail),
            writer.submit(_insert("first")),  # a constraint the database refuses
            writer.submit(_insert("last")),
            return_exceptions=True,
        )
        assert writer.batches == 1
    finally:
        await writer.close()
    assert results[0] == 1
    assert isinstance(results[1], ValueError)
    assert isinstance(results[2], sqlite3.IntegrityError)
    assert isinstance(results[3], int)
    assert _names(path) == ["first", "last"]


async def test_a_locked_database_is_waited_for_without_blocking_the_event_loop(tmp_path: Path) -> None:
    path = _db(tmp_path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a purge or a migration holds the write lock
    writer = SqliteWriter(path)
    try:
        waiting = asyncio.create_task(writer.submit(_insert("after the lock")))
        # This coroutine keeps running while the writer waits: the loop is not blocked by the lock.
        async with asyncio.timeout(30):
            # Polling is the point: this coroutine runs while the writer waits for the lock.
            while writer.busy_retries < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
        assert not waiting.done()
        other.execute("INSERT INTO items (name) VALUES ('the other connection')")
        other.execute("COMMIT")
        assert await asyncio.wait_for(waiting, timeout=30) == 2
    finally:
        other.close()
        await writer.close()
    assert _names(path) == ["the other connection", "after the lock"]


async def test_a_lock_held_past_the_busy_timeout_fails_the_batch_and_the_next_one_goes_through(
    tmp_path: Path,
) -> None:
    path = _db(tmp_path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    writer = SqliteWriter(path, busy_timeout=0.05)
    try:
        with pytest.raises(DatabaseBusy):
            await writer.submit(_insert("refused"))
        other.execute("ROLLBACK")
        await writer.submit(_insert("later"))
    finally:
        other.close()
        await writer.close()
    assert _names(path) == ["later"]


async def test_an_answered_job_is_visible_to_another_connection(tmp_path: Path) -> None:
    path = _db(tmp_path)
    writer = SqliteWriter(path)
    seen: list[list[str]] = []
    try:

        async def submit_and_look(name: str) -> None:
            await writer.submit(_insert(name))
            seen.append(_names(path))

        await asyncio.gather(submit_and_look("x"), submit_and_look("y"))
    finally:
        await writer.close()
    assert seen == [["x", "y"], ["x", "y"]]


async def test_a_cancelled_caller_s_job_is_skipped_if_its_batch_had_not_begun(tmp_path: Path) -> None:
    path = _db(tmp_path)
    writer = SqliteWriter(path)
    try:
        kept = asyncio.create_task(writer.submit(_insert("kept")))
        dropped = asyncio.create_task(writer.submit(_insert("dropped")))
        await asyncio.sleep(0)  # both queued
        dropped.cancel()
        await kept
        with pytest.raises(asyncio.CancelledError):
            await dropped
    finally:
        await writer.close()
    assert _names(path) == ["kept"]


async def test_a_closed_writer_takes_no_more_jobs(tmp_path: Path) -> None:
    writer = SqliteWriter(_db(tmp_path))
    await writer.submit(_insert("one"))
    await writer.close()
    with pytest.raises(WriterClosed):
        await writer.submit(_insert("two"))


_KILLED_AFTER_ANSWER = textwrap.dedent(
    """
    import asyncio, os, signal, sqlite3, sys
    from intake.storage.writer import SqliteWriter

    async def main(path):
        writer = SqliteWriter(path)

        def job(name):
            return lambda conn: conn.execute("INSERT INTO items (name) VALUES (?)", (name,))

        async def one(i):
            await writer.submit(job(f"n{i}"))
            sys.stdout.write(f"n{i}\\n")
            sys.stdout.flush()
            if i == 7:
                # Killed the moment the eighth answer arrives: whatever was answered must be on disk.
                os.kill(os.getpid(), signal.SIGKILL)

        await asyncio.gather(*(one(i) for i in range(40)))

    asyncio.run(main(sys.argv[1]))
    """
)


def test_every_answered_job_survives_the_process_being_killed(tmp_path: Path) -> None:
    path = _db(tmp_path)
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, "-c", _KILLED_AFTER_ANSWER, path],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    answered = done.stdout.split()
    assert "n7" in answered
    stored = set(_names(path))
    assert set(answered) <= stored
