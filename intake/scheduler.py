"""Scheduled jobs (the retention purge and anything else periodic), run by one copy of the service at a time.

Every copy runs this loop; only the one that holds the lead (intake/storage/leader.py) runs the jobs, so
three copies on one PostgreSQL purge once an hour, not three times. A copy that takes the lead (at start,
or when the leader died) runs every job at once: the jobs are idempotent, and a missed period is worse
than an extra one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from intake.metrics import Metrics

log = logging.getLogger(__name__)

# How often a copy that does not lead asks whether it may (the leader asks before each job anyway).
FOLLOWER_CHECK_SECONDS = 10.0


@dataclass(frozen=True)
class Job:
    name: str
    every: float  # seconds between runs
    run: Callable[[], Awaitable[None]]


class Lead(Protocol):
    async def held(self) -> bool: ...

    async def release(self) -> None: ...


async def run_jobs(
    jobs: Sequence[Job],
    lead: Lead,
    stop: asyncio.Event,
    *,
    metrics: Metrics | None = None,
    check_every: float = FOLLOWER_CHECK_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    next_run: dict[str, float] = {}
    leading = False
    try:
        while not stop.is_set():
            try:
                now_leading = await lead.held()
            except Exception:
                log.exception("scheduled jobs: could not ask for the lead; trying again later")
                now_leading = False
            if now_leading != leading:
                log.info(
                    "scheduled jobs: this copy %s", "runs them" if now_leading else "no longer runs them"
                )
                next_run = {job.name: clock() for job in jobs}
            leading = now_leading
            if leading:
                for job in jobs:
                    if clock() >= next_run[job.name] and not stop.is_set():
                        await _run(job, metrics)
                        next_run[job.name] = clock() + job.every
            wait = check_every
            if leading and jobs:
                wait = min(wait, max(0.0, min(next_run.values()) - clock()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
    finally:
        await lead.release()


async def _run(job: Job, metrics: Metrics | None) -> None:
    try:
        await job.run()
    except Exception:
        log.exception("scheduled job %s failed; it runs again at its next time", job.name)
        outcome = "failed"
    else:
        outcome = "ok"
    log.info("scheduled job %s ran (%s)", job.name, outcome)
    if metrics is not None:
        metrics.scheduled_runs.labels(job.name, outcome).inc()
