"""Live updates for the console: "conversation X changed" fanned out to every open console.

On PostgreSQL every copy of the service LISTENs and changes are NOTIFYed, so a console on one copy sees a
message that arrived on another. On SQLite (one process) an in-process bus does the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg

from intake.storage.urls import listen_dsn

log = logging.getLogger(__name__)

CHANNEL = "helpline_console"
QUEUE_SIZE = 100
# Nudges waiting for their NOTIFY. Under load changes come faster than one connection NOTIFYs them; a task
# per change grew the process by ~1.5 KB a message on PostgreSQL (14.8 MB per 10,000 in the soak).
MAX_PENDING = 100


class LiveBus:
    def __init__(self, database_url: str) -> None:
        self._dsn = listen_dsn(database_url)
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._conn: asyncpg.Connection | None = None
        self._pending: deque[dict[str, Any]] = deque()
        self._sender: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[Mapping[str, Any]], None]] = []

    @property
    def shared(self) -> bool:
        return self._dsn is not None

    async def start(self) -> None:
        if self._dsn is not None:
            self._conn = await asyncpg.connect(self._dsn)
            await self._conn.add_listener(CHANNEL, self._on_notify)

    async def stop(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def publish(self, conversation_id: str | None) -> None:
        self._send({"type": "change", "conversation": conversation_id})

    def sessions_ended(self, staff_id: int | None = None, token_hash: str | None = None) -> None:
        """A session ended (sign-out: its token's hash) or all of a member's did (disabled: their id): the
        streams they hold end now, on every copy of the service, not at their next session check."""
        self._send({"type": "session_ended", "staff": staff_id, "session": token_hash})

    def signal(self, event: dict[str, Any]) -> None:
        """A passing signal (someone typing: intake/typing_signals.py) for the consoles and the web chats of
        every copy; dropped first when the bus falls behind."""
        self._send(event)

    def listen(self, listener: Callable[[Mapping[str, Any]], None]) -> None:
        """Called with every event this copy hears (its own and the other copies')."""
        self._listeners.append(listener)

    def _send(self, event: dict[str, Any]) -> None:
        if self._conn is None:
            self._deliver(event)
            return
        if len(self._pending) >= MAX_PENDING:
            # Far behind: one "something changed" (no id) stands for all the changes; consoles refetch.
            # An ended session is never dropped: it is what keeps a signed-out console from reading on.
            # A typing signal goes too: it is stale by the time the bus catches up.
            kept = [e for e in self._pending if e["type"] == "session_ended"]
            self._pending.clear()
            self._pending.extend([*kept, {"type": "change", "conversation": None}])
        self._pending.append(event)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_pending())

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def drain(self) -> None:
        """Until every event published so far has been sent (a one-off command, before it exits)."""
        if self._sender is not None:
            await self._sender

    async def _send_pending(self) -> None:
        while self._pending:
            await self._notify(json.dumps(self._pending.popleft()))

    async def _notify(self, payload: str) -> None:
        try:
            assert self._conn is not None
            await self._conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
        except Exception:
            # The console refetches on its next event or reconnect, and a stream re-checks its session
            # at least every heartbeat: losing one nudge loses no data.
            log.warning("could not notify the other service copies of a change", exc_info=True)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            event = json.loads(payload)
        except ValueError:
            return
        if isinstance(event, dict):
            self._deliver(event)

    def _deliver(self, event: dict[str, Any]) -> None:
        for listener in self._listeners:
            listener(event)
        for queue in list(self._subscribers):
            if queue.full():
                # A stalled console: drop its oldest nudge, it refetches everything anyway.
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    def end_streams(self) -> None:
        """At shutdown: tell every open console stream to finish now rather than at its next heartbeat."""
        self._deliver({"type": "shutdown"})

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)
