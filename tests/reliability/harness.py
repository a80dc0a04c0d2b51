"""The pieces of the "nothing lost" tests: the real service in a process of its own, a crowd of Telegram
users writing to its webhook the way Telegram delivers updates, and what the database and the fake Bot API
hold afterwards.

The service is started with `helpline serve`, exactly as in production, so SIGKILL and SIGTERM reach a
real process. The fake Bot API and the crowd run in the test's own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import socket
import subprocess
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, update

from bots.channels.telegram.channel import SECRET_HEADER, WEBHOOK_PATH
from bots.channels.telegram.sender import MAX_TEXT, render
from intake.messages import Channel, Contact, reply_from_payload
from intake.privacy import Keys
from intake.storage.models import ContactRow, InboundSeenRow, OutboxRow
from intake.storage.uow import Database
from tests.channels.fake_telegram import FakeTelegram, User
from tests.conftest import HELPLINE_COMMAND, REPO
from tests.integration.conftest import fetch

SECRET_KEY = "1v89Mwq2feBfMuiwPzaIL8QiBLmOS3NaQybK0VraWzc"
WEBHOOK_SECRET = "reliability-Webhook_secret-42"
UNFINISHED = ("pending", "sending")
# Telegram waits before re-sending an update that got no 2xx; much shorter here to keep the test short.
RETRY_PAUSE = 0.1
# Telegram itself gives up on an answer after about 60 s; no request here should take even a fraction.
REQUEST_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def until(
    condition: Callable[[], bool | Awaitable[bool]], deadline: float, what: str, pause: float = 0.05
) -> None:
    """Wait for `condition()` (sync or async) to be true, failing after `deadline` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > end:
            pytest.fail(f"gave up after {deadline:.0f}s waiting for {what}")
        await asyncio.sleep(pause)


@dataclass
class Service:
    """`helpline serve` in a process of its own, started again on the same port after each stop."""

    env: Mapping[str, str]
    port: int
    logs: Path
    # More of `helpline serve`'s options, e.g. ("--role", "sender").
    options: Sequence[str] = ()
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def start(self, deadline: float = 60.0) -> None:
        assert not self.running
        self.starts += 1
        log = self.logs / f"service-{self.starts}.log"
        with log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own command; ready is polled below
                [*HELPLINE_COMMAND, "serve", "--host", "127.0.0.1", "--port", str(self.port), *self.options],
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", **self.env},
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                if not self.running:
                    pytest.fail(f"the service exited at start {self.starts}:\n{self.log_tail()}")
                try:
                    async with session.get(self.url + "/readyz") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await until(ready, deadline, f"start {self.starts} of the service")

    async def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, as when the OOM killer or a crash takes the process."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.wait(10.0)

    async def terminate(self, deadline: float) -> int:
        """SIGTERM, as systemd or Kubernetes stop a service; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await self.wait(deadline)

    async def wait(self, deadline: float) -> int:
        await until(lambda: not self.running, deadline, "the service to exit")
        assert self.process is not None
        assert self.process.returncode is not None
        return self.process.returncode

    def log_tail(self, lines: int = 40) -> str:
        log = self.logs / f"service-{self.starts}.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""

    def stop_now(self) -> None:
        """Fixture teardown, also after a failure: no process outlives its test."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)


@dataclass(frozen=True)
class Attempt:
    """One POST of an update to the webhook, on the test loop's clock; status None: no HTTP answer."""

    update_id: int
    started: float
    finished: float
    status: int | None

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Crowd:
    """Telegram users writing to the bot at once. As Telegram does, each user's updates are delivered one
    after the other, and an update is sent again (same update_id) until the webhook answers 2xx."""

    fake: FakeTelegram
    service: Service
    users: Sequence[User]
    script: Sequence[str]
    seed: int
    think: float = 0.2
    attempts: list[Attempt] = field(default_factory=list)
    acknowledged: dict[int, int] = field(default_factory=dict)  # update_id -> chat id
    message_ids: dict[int, list[int]] = field(default_factory=dict)  # chat id -> the user's message_ids

    @property
    def total(self) -> int:
        return len(self.users) * len(self.script)

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            await asyncio.gather(*(self._user(session, user, index) for index, user in enumerate(self.users)))

    async def _user(self, session: aiohttp.ClientSession, user: User, index: int) -> None:
        # One generator per user: the pauses stay the same from run to run, whatever the interleaving.
        rng = random.Random(self.seed * 1_000 + index)
        for text in self.script:
            await asyncio.sleep(rng.uniform(0, self.think))
            update = self.fake.text(user, text)
            self.message_ids.setdefault(user.id, []).append(update["message"]["message_id"])
            await self._deliver(session, update)
            self.acknowledged[update["update_id"]] = user.id

    async def _deliver(self, session: aiohttp.ClientSession, update: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        while True:
            started, status = loop.time(), None
            try:
                async with session.post(
                    self.service.url + WEBHOOK_PATH,
                    json=update,
                    headers={SECRET_HEADER: WEBHOOK_SECRET},
                    timeout=timeout,
                ) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                pass  # refused while the service is down, or cut off by a kill: Telegram tries again
            attempt = Attempt(update["update_id"], started, loop.time(), status)
            self.attempts.append(attempt)
            if attempt.acknowledged:
                return
            await asyncio.sleep(RETRY_PAUSE)

    async def acknowledged_at_least(self, count: int, deadline: float) -> None:
        await until(lambda: len(self.acknowledged) >= count, deadline, f"{count} acknowledged updates")


def kill_points(rng: random.Random, total: int, kills: int) -> list[int]:
    """How many acknowledged updates to wait for before each kill: spread over the load, never the very
    start or end, at least a few updates apart so each restart sees some load."""
    low, high = total // 10, total * 9 // 10
    points = sorted(rng.sample(range(low, high, max(1, (high - low) // (kills * 3))), kills))
    return points


# ---- What the database and the fake hold ----


def telegram_text(payload: dict[str, Any]) -> str:
    """The text TelegramSender sends for an outbox payload."""
    text, _ = render(reply_from_payload(payload))
    return text[:MAX_TEXT]


@dataclass(frozen=True)
class Leased:
    """Outbox rows a stopped process left claimed ('sending'), per person: sends that may have reached
    Telegram without the service learning so."""

    by_pseudonym: Mapping[str, tuple[int, ...]]

    @property
    def rows(self) -> int:
        return sum(len(ids) for ids in self.by_pseudonym.values())


async def leased_rows(db: Database) -> Leased:
    rows = await fetch(db, select(OutboxRow).where(OutboxRow.status == "sending").order_by(OutboxRow.id))
    by_pseudonym: dict[str, list[int]] = {}
    for row in rows:
        by_pseudonym.setdefault(row.pseudonym, []).append(row.id)
    return Leased({p: tuple(ids) for p, ids in by_pseudonym.items()})


async def expire_leases(db: Database) -> None:
    """Stand in for the lease running out (60 s) while no process runs: the killed process holds these
    rows no more, and the restarted one would take them once the lease expired anyway."""
    async with db.uow() as uow:
        await uow.session.execute(
            update(OutboxRow)
            .where(OutboxRow.status == "sending")
            .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )
        await uow.commit()


async def unfinished(db: Database) -> int:
    return len(await fetch(db, select(OutboxRow).where(OutboxRow.status.in_(UNFINISHED))))


@dataclass
class Figures:
    """What one run measured, printed for the closing note."""

    database: str
    updates: int
    acknowledged: int
    stored: int
    replies_expected: int
    replies_delivered: int
    duplicates: int
    stops: int
    leased_at_stops: int
    retries: int
    seconds: float

    def line(self, kind: str) -> str:
        return (
            f"reliability[{self.database}, {kind}]: updates={self.updates} acknowledged={self.acknowledged} "
            f"stored={self.stored} replies expected={self.replies_expected} "
            f"delivered={self.replies_delivered} duplicates={self.duplicates} stops={self.stops} "
            f"leased at stops={self.leased_at_stops} webhook retries={self.retries} "
            f"run time={self.seconds:.1f}s"
        )


def delivered_texts(fake: FakeTelegram) -> dict[int, list[str]]:
    by_chat: dict[int, list[str]] = {}
    for call in fake.calls_to("sendMessage", ok=True):
        by_chat.setdefault(call.chat_id, []).append(call.text)
    return by_chat


def collapse_repeats(texts: Sequence[str]) -> list[str]:
    """A repeated send arrives right after the first one (the person's next reply waits for it)."""
    return [text for index, text in enumerate(texts) if index == 0 or texts[index - 1] != text]


def chat_pseudonym(keys: Keys, chat_id: int) -> str:
    return keys.pseudonym(Contact(Channel.TELEGRAM, str(chat_id)))


async def stored_updates(db: Database, keys: Keys, update_ids: Iterable[int]) -> set[int]:
    keys_seen = {row.provider_key for row in await fetch(db, select(InboundSeenRow))}
    return {u for u in update_ids if keys.provider_key("telegram", str(u)) in keys_seen}


async def contacts_by_id(db: Database) -> dict[int, str]:
    return {row.id: row.pseudonym for row in await fetch(db, select(ContactRow))}


def extra_sends(expected: Sequence[str], delivered: Sequence[str]) -> tuple[Counter[str], Counter[str]]:
    """(what was delivered more often than committed, what was committed but never delivered)."""
    want, got = Counter(expected), Counter(delivered)
    return got - want, want - got
