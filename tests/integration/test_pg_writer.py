"""PostgreSQL's group-commit writer (intake/storage/pg_writer.py): one transaction per batch, answered only
once committed, a batch in which a job fails or that fails at COMMIT run again job by job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from intake.storage.pg_writer import PgWriter
from intake.storage.urls import listen_dsn
from tests.conftest import _require_postgres, _scratch_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture
async def dsn() -> AsyncIterator[str]:
    async for url in _scratch_postgres(_require_postgres()):
        dsn = listen_dsn(url)
        assert dsn is not None
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("CREATE TABLE items (n integer PRIMARY KEY)")
            # Checked only at COMMIT: a savepoint does not catch it, the batch's commit fails.
            await conn.execute("CREATE TABLE deferred (n integer UNIQUE DEFERRABLE INITIALLY DEFERRED)")
        finally:
            await conn.close()
        yield dsn


@pytest.fixture
async def writer(dsn: str) -> AsyncIterator[PgWriter]:
    w = PgWriter(dsn)
    try:
        yield w
    finally:
        await w.close()


def insert(table: str, n: int) -> Callable[[asyncpg.Connection], Awaitable[int]]:
    async def job(conn: asyncpg.Connection) -> int:
        await conn.execute(f"INSERT INTO {table} (n) VALUES ($1)", n)  # noqa: S608 - the test's own names
        return n

    return job


async def rows(dsn: str, table: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        return [row[0] for row in await conn.fetch(f"SELECT n FROM {table} ORDER BY n")]  # noqa: S608
    finally:
        await conn.close()


async def test_one_failing_job_in_a_batch_fails_alone_and_the_others_commit(
    writer: PgWriter, dsn: str
) -> None:
    # One key: one lane, and submitted together, one batch.
    answers = await asyncio.gather(
        *(writer.submit(insert("items", n), key="one person") for n in (1, 2, 1, 3)), return_exceptions=True
    )
    assert answers[:2] == [1, 2]
    assert isinstance(answers[2], asyncpg.UniqueViolationError)
    assert answers[3] == 3
    # The failing job aborted the batch's transaction: all four were run again, each alone.
    assert writer.rerun_batches == 1
    assert writer.batches == 3
    assert await rows(dsn, "items") == [1, 2, 3]


async def test_a_batch_failing_at_commit_is_run_again_job_by_job(writer: PgWriter, dsn: str) -> None:
    answers = await asyncio.gather(
        *(writer.submit(insert("deferred", n), key="one person") for n in (1, 2, 2, 3)),
        return_exceptions=True,
    )
    assert writer.rerun_batches == 1
    # Alone, the first 2 commits; the second then fails at its own commit.
    assert answers[0:2] == [1, 2]
    assert isinstance(answers[2], asyncpg.UniqueViolationError)
    assert answers[3] == 3
    assert await rows(dsn, "deferred") == [1, 2, 3]


async def test_submit_answers_only_once_committed(writer: PgWriter, dsn: str) -> None:
    observer = await asyncpg.connect(dsn)
    try:
        for n in range(20):
            # A few jobs in the batch, so the answer waits for a COMMIT after several statements.
            others = [writer.submit(insert("items", 1000 + 10 * n + k), key="one person") for k in range(3)]
            answer = asyncio.ensure_future(writer.submit(insert("items", n), key="one person"))
            await asyncio.gather(answer, *others)
            # Seen from another connection the moment the answer is there.
            assert await observer.fetchval("SELECT count(*) FROM items WHERE n = $1", n) == 1
    finally:
        await observer.close()


async def test_one_person_s_jobs_share_a_lane_and_the_outbox_has_its_own(writer: PgWriter) -> None:
    assert writer.lane_of("someone") == writer.lane_of("someone")
    assert {writer.lane_of(f"person {n}") for n in range(100)} == set(range(writer.lanes))
    assert writer.lane_of(None) == writer.lanes
    assert writer.connections == writer.lanes + 1


async def test_close_lets_submitted_jobs_commit(dsn: str) -> None:
    w = PgWriter(dsn)
    pending = [asyncio.ensure_future(w.submit(insert("items", n), key=str(n))) for n in range(10)]
    await asyncio.sleep(0)
    await w.close()
    assert [p.result() for p in pending] == list(range(10))
    assert await rows(dsn, "items") == list(range(10))


async def test_a_deadlock_s_victim_is_run_again_and_both_jobs_commit(writer: PgWriter, dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    await conn.execute("INSERT INTO items (n) VALUES (1), (2)")
    await conn.close()
    both_hold_one = asyncio.Barrier(2)
    runs: list[str] = []

    def crosswise(first: int, second: int, name: str) -> Callable[[asyncpg.Connection], Awaitable[str]]:
        async def job(conn: asyncpg.Connection) -> str:
            runs.append(name)
            await conn.execute("UPDATE items SET n = n WHERE n = $1", first)
            if runs.count(name) == 1:
                await both_hold_one.wait()
            await conn.execute("UPDATE items SET n = n WHERE n = $1", second)
            return name

        return job

    # Two keys on two lanes (two connections), locking the same rows in opposite order.
    a, b = "a", next(k for k in (f"b{n}" for n in range(100)) if writer.lane_of(k) != writer.lane_of("a"))
    answers = await asyncio.wait_for(
        asyncio.gather(
            writer.submit(crosswise(1, 2, "a"), key=a), writer.submit(crosswise(2, 1, "b"), key=b)
        ),
        30,
    )
    assert answers == ["a", "b"]
    # PostgreSQL broke the deadlock by failing one of them; the writer ran that one again.
    assert sorted(runs) in (["a", "a", "b"], ["a", "b", "b"])
