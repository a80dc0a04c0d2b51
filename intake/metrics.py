"""Prometheus metrics. Labels are channels and outcomes only: never text, addresses or pseudonyms."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from intake.storage.uow import Database


@dataclass
class Metrics:
    # One registry per service instance: tests build many apps in one process.
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.messages_in = Counter(
            "helpline_messages_in", "Messages received from people", ["channel", "outcome"], registry=r
        )
        self.messages_out = Counter(
            "helpline_messages_out", "Replies delivered to people", ["channel"], registry=r
        )
        self.send_failures = Counter(
            "helpline_send_failures", "Failed delivery attempts", ["channel", "kind"], registry=r
        )
        self.handle_seconds = Histogram(
            "helpline_handle_seconds",
            "Time to store and answer one inbound message (the webhook's own work)",
            ["channel"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.queue_length = Gauge("helpline_queue_length", "Conversations waiting for staff", registry=r)
        self.longest_wait = Gauge(
            "helpline_queue_longest_wait_seconds",
            "How long the longest-waiting conversation has waited",
            registry=r,
        )
        self.scheduled_runs = Counter(
            "helpline_scheduled_runs",
            "Runs of the scheduled jobs by this copy (one copy at a time leads)",
            ["job", "outcome"],
            registry=r,
        )
        self.outbox_backlog = Gauge("helpline_outbox_backlog", "Replies not yet delivered", registry=r)


async def sample_backlog(metrics: Metrics, db: Database, now: datetime) -> None:
    """Sets the gauges read from the database (the queue, the longest wait, the outbox), before a scrape."""
    async with db.uow() as uow:
        metrics.queue_length.set(await uow.conversations.queue_length())
        metrics.longest_wait.set(await uow.conversations.longest_wait(now))
        metrics.outbox_backlog.set(await uow.outbox.backlog())
