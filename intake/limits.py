"""The web chat's limits and flood rule, and the counter that enforces limits across service copies.

Every limit is counted in the database: an event is recorded (committed) first and counted after, so
parallel requests, on one copy or several, cannot all slip under a limit (the same scheme as sign-in). A
refused event is taken back: it is not counted against later tries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from intake.config import ConfigError
from intake.storage.uow import Database, UnitOfWork

MINUTE = timedelta(minutes=1)
# Counted events are kept this long (the longest window), then deleted.
KEEP_EVENTS = timedelta(hours=1)


@dataclass(frozen=True)
class ChatLimits:
    """`[chat.limits]` in the TOML file. Every number is a whole number of at least 1."""

    # New web chat sessions from one client address per minute.
    sessions_per_minute: int = 10
    # Messages per minute from one chat (one browser tab's token) ...
    messages_per_minute: int = 20
    # ... and from one client address, all its chats together.
    address_messages_per_minute: int = 60
    # Characters in one message.
    max_message_chars: int = 2000
    # Admission control: new web chat sessions per minute from everyone together.
    new_sessions_per_minute: int = 60
    # A client address that opened this many conversations within `flood_minutes` is a flood source.
    flood_conversations: int = 5
    flood_minutes: int = 10

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> ChatLimits:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"chat.limits: unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})"
            )
        for name, value in data.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"chat.limits.{name} must be a whole number, at least 1")
        return cls(**data)

    @property
    def flood_window(self) -> timedelta:
        return timedelta(minutes=self.flood_minutes)


@dataclass(frozen=True)
class Check:
    """At most `most` events under `key` within `window`."""

    key: str
    most: int
    window: timedelta = MINUTE


@dataclass
class Counter:
    db: Database
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def admit(self, checks: Sequence[Check]) -> Check | None:
        """Records one event under each check's key, in order; None when all are within their limits, else
        the first check it breaks (and the event is taken back). A later check is not touched by events
        an earlier one refused: a flood from one address, stopped by its own limit, does not fill the
        line's. Parallel events may refuse each other, so under a burst fewer than the limit may pass at
        first, never more."""
        now = self.clock()
        recorded: list[int] = []
        for check in checks:
            # Stored as a hash: bounded in length, and nothing a key is made of is kept as given.
            key = hashlib.sha256(check.key.encode()).hexdigest()
            async with self.db.uow() as uow:
                recorded += await uow.rate_events.record([key], now)
                await uow.commit()
            async with self.db.uow() as uow:
                if await uow.rate_events.count(key, now - check.window) > check.most:
                    await uow.rate_events.forget(recorded)
                    await uow.commit()
                    return check
        return None

    async def forget_old(self) -> int:
        async with self.db.uow() as uow:
            deleted = await uow.rate_events.forget_before(self.clock() - KEEP_EVENTS)
            await uow.commit()
            return deleted


async def joins_flood(uow: UnitOfWork, source: str, now: datetime, limits: ChatLimits) -> bool:
    """Whether a conversation opened now from `source` belongs to a flood; the earlier ones from there are
    marked too (call before adding the new conversation)."""
    opened = 1 + await uow.floods.opened_since(source, now - limits.flood_window)
    if opened < limits.flood_conversations:
        return False
    # Every time, not only at the threshold: parallel conversations on PostgreSQL may count past it.
    await uow.floods.mark(source)
    return True


async def settle_flood(db: Database, source: str, now: datetime, limits: ChatLimits) -> None:
    """After a message from `source` is committed: if its conversations make a flood, all are marked. Each
    such check sees every conversation committed before it, so the last of a parallel burst sees them
    all (the check inside the transaction cannot see the others' uncommitted ones)."""
    async with db.uow() as uow:
        if await uow.floods.opened_since(source, now - limits.flood_window) >= limits.flood_conversations:
            await uow.floods.mark(source)
            await uow.commit()
