"""What one process of the service does (`helpline serve --role`), so that the sending of replies can run in
a process of its own: on a machine with more than one core the webhooks and the sends no longer share one
event loop (issue 19, point 3)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    # Everything in one process: the default, and what several copies behind a balancer each run.
    ALL = "all"
    # Webhooks, the web chat and the console: replies are queued in the outbox, none is sent here.
    WEB = "web"
    # The outbox's sends (and the scheduled jobs, as every process): only /healthz, /readyz and /metrics
    # answer; nothing is received here.
    SENDER = "sender"


# How long a sender process waits between looks at the outbox when nothing is due. The process that
# queued a reply wakes its own sender at once, but nothing wakes a sender in another process (SQLite has
# no bus between processes), so the look comes often: an empty claim is one short query.
SENDER_IDLE_POLL = 0.05
# A process that also receives is woken by its own webhooks; it looks only for what other copies queued.
IDLE_POLL = 0.5
