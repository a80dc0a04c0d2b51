"""Scheduled jobs run once across copies: on one PostgreSQL only the copy holding the lead runs them.

Each "copy" here has an engine of its own (its own connections, as separate processes have); the
three-copy test in tests/reliability/ checks the same across real processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.app import make_app
from intake.config import load_settings
from intake.scheduler import Job, run_jobs
from intake.storage.db import make_engine
from intake.storage.leader import JOBS_LOCK, Leadership
from tests.conftest import REPO, TEST_SECRET_KEY
from tests.reliability.harness import until

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgres"], indirect=True)]


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[Callable[[], AsyncEngine]]:
    made: list[AsyncEngine] = []

    def another() -> AsyncEngine:
        made.append(make_engine(database_url, pool_size=3))
        return made[-1]

    try:
        yield another
    finally:
        for engine in made:
            await engine.dispose()


async def test_one_copy_leads_and_another_takes_over_when_it_lets_go(
    engines: Callable[[], AsyncEngine],
) -> None:
    first, second = Leadership(engines()), Leadership(engines())
    assert await first.held()
    assert not await second.held()
    assert await first.held()  # asked again: still the leader, and the other still not
    assert not await second.held()
    await first.release()
    assert await second.held()
    assert not await first.held()
    await second.release()


async def test_a_leader_whose_connection_dies_loses_the_lead(engines: Callable[[], AsyncEngine]) -> None:
    """As when a copy is SIGKILLed: its session ends, PostgreSQL lets go of the lock, another copy leads."""
    first, second = Leadership(engines()), Leadership(engines())
    assert await first.held()
    async with engines().connect() as admin:
        await admin.execute(
            text(
                # Only the holder of this lock in this test's own database: the server may be shared.
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND objid = :key "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"key": JOBS_LOCK},
        )
        await admin.commit()
    assert await second.held()
    assert not await first.held()
    await first.release()
    await second.release()


async def test_two_copies_run_a_periodic_job_once_per_period(engines: Callable[[], AsyncEngine]) -> None:
    runs: list[str] = []

    def job(copy: str) -> list[Job]:
        async def record() -> None:
            runs.append(copy)

        return [Job("tick", 0.2, record)]

    stops = {"a": asyncio.Event(), "b": asyncio.Event()}
    copies = {
        name: asyncio.create_task(run_jobs(job(name), Leadership(engines()), stops[name], check_every=0.05))
        for name in ("a", "b")
    }
    await asyncio.sleep(1.1)
    # One copy ran it about every 0.2 s; the other never did (twice as many runs if both had).
    assert len(set(runs)) == 1, runs
    assert 4 <= len(runs) <= 7, runs
    leader = runs[0]
    follower = "b" if leader == "a" else "a"
    before = len(runs)
    stops[leader].set()
    await copies[leader]
    # The leader stopped and let go: the other copy takes over at its next check and runs the job at once.
    await asyncio.sleep(0.5)
    assert runs[before:], runs
    assert set(runs[before:]) == {follower}, runs
    stops[follower].set()
    await copies[follower]


METRICS_TOKEN = "scheduler-metrics-token-7Qk2vX9pL4mZ8rT1"


async def test_two_services_on_one_database_purge_once(database_url: str) -> None:
    """Two apps as `helpline serve` builds them: the retention purge at start runs in one of them only."""
    env = {
        "HELPLINE_ENV": "development",
        "HELPLINE_SECRET_KEY": TEST_SECRET_KEY,
        "HELPLINE_DATABASE_URL": database_url,
        "HELPLINE_CONFIG": str(REPO / "deploy" / "config" / "always-open.toml"),
        "HELPLINE_METRICS_TOKEN": METRICS_TOKEN,
    }
    clients = [TestClient(TestServer(make_app(load_settings(env)))) for _ in range(2)]
    for client in clients:
        await client.start_server()
    try:

        async def retention_runs() -> list[float]:
            counts = []
            for client in clients:
                answer = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
                body = await answer.text()
                counts.append(
                    sum(
                        sample.value
                        for family in text_string_to_metric_families(body)
                        for sample in family.samples
                        if sample.name == "helpline_scheduled_runs_total"
                        and sample.labels["job"] == "retention"
                    )
                )
            return counts

        async def purged() -> bool:
            return sum(await retention_runs()) >= 1

        await until(purged, 10, "the retention purge at start")
        await asyncio.sleep(0.5)  # room for a second run, were the other copy to purge too
        assert sorted(await retention_runs()) == [0.0, 1.0]
    finally:
        for client in clients:
            await client.close()
