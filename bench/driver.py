"""The load generator: simulated Telegram users posting updates to a webhook, and the reply counter.

Each simulated user sends its script strictly in order (the next update only after the webhook answered
the previous one, as Telegram does per chat); many users run at once over one aiohttp ClientSession with a
connection limit (Telegram's `max_connections`). Every webhook round trip is timed. Replies are counted by
the fake Bot API, which the `ReplyCounter` polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name

# The service's intake, typed as a person on Telegram would: the language menu (2 = English), "are you
# safe to write?", role 1 (myself), topic 1, "done", age group 1, gender 1, situation 1 (the hand-off),
# then a free-text message for staff. Longer scripts add more free text; shorter ones cut it.
SERVICE_SCRIPT = ("/start", "2", "yes", "1", "1", "done", "1", "1", "1")
FREE_TEXT = "I need to talk to someone about my family"
# python-telegram-bot's three questions (language, role, age) answer every message with one reply; the
# script runs the conversation again and again for the same number of messages per user.
PTB_SCRIPT = ("/start", "2", "1", "1")


def service_script(messages: int) -> tuple[str, ...]:
    extra = max(0, messages - len(SERVICE_SCRIPT))
    return (SERVICE_SCRIPT + (FREE_TEXT,) * extra)[:messages]


def ptb_script(messages: int) -> tuple[str, ...]:
    return tuple(itertools.islice(itertools.cycle(PTB_SCRIPT), messages))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by the nearest-rank method; 0.0 for no values."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(q / 100.0 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


class UpdateIds:
    """update_id is unique and increasing over everything one server receives."""

    def __init__(self, start: int = 100_000_000) -> None:
        self._next = itertools.count(start)

    def next(self) -> int:
        return next(self._next)


@dataclass
class SimUser:
    user_id: int
    script: tuple[str, ...]
    position: int = 0
    message_id: int = 0

    @property
    def done(self) -> bool:
        return self.position >= len(self.script)

    def next_update(self, ids: UpdateIds) -> bytes:
        text = self.script[self.position]
        self.position += 1
        self.message_id += 1
        return json.dumps(telegram_update(ids.next(), self.user_id, self.message_id, text)).encode()


def telegram_update(update_id: int, user_id: int, message_id: int, text: str) -> dict[str, Any]:
    """An update shaped exactly like the ones Telegram posts for a text message in a private chat."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": {"id": user_id, "is_bot": False, "first_name": "Bench", "language_code": "en"},
        "chat": {"id": user_id, "type": "private", "first_name": "Bench"},
        "date": int(time.time()),
        "text": text,
    }
    if text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"update_id": update_id, "message": message}


@dataclass
class Target:
    """A webhook under test and the replies its script produces."""

    name: str
    url: str
    secret: str
    script: Callable[[int], tuple[str, ...]]
    # replies_after[k]: replies to one user after their first k messages (from the calibration).
    replies_after: list[int] = field(default_factory=list)

    def expected(self, messages_sent: int) -> int:
        return self.replies_after[messages_sent] if self.replies_after else messages_sent

    @property
    def headers(self) -> dict[str, str]:
        return {SECRET_HEADER: self.secret, "Content-Type": "application/json"}


class ReplyCounter:
    """Polls the fake Bot API's reply count in the background."""

    def __init__(self, session: aiohttp.ClientSession, api_base: str, interval: float = 0.02) -> None:
        self.session = session
        self.stats_url = f"{api_base}/_stats"
        self.interval = interval
        self.sent = 0
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def read(self, chat: int | None = None) -> dict[str, Any]:
        params = {"chat": str(chat)} if chat is not None else {}
        async with self.session.get(self.stats_url, params=params) as response:
            data: dict[str, Any] = await response.json()
        return data

    async def _poll(self) -> None:
        while True:
            try:
                self.sent = int((await self.read())["sent"])
                self._changed.set()
            except (aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait_for(self, total: int, patience: float) -> float | None:
        """The perf_counter time at which the count reached `total`; None after `patience` seconds."""
        deadline = time.perf_counter() + patience
        while self.sent < total:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            self._changed.clear()
            try:
                async with asyncio.timeout(min(remaining, 1.0)):
                    await self._changed.wait()
            except TimeoutError:
                pass
        return time.perf_counter()

    async def wait_quiet(self, quiet: float = 0.5, patience: float = 30.0) -> int:
        """Waits until the count has not changed for `quiet` seconds (at most `patience`); returns it."""
        deadline = time.perf_counter() + patience
        last, since = self.sent, time.perf_counter()
        while time.perf_counter() < deadline:
            await asyncio.sleep(self.interval)
            if self.sent != last:
                last, since = self.sent, time.perf_counter()
            elif time.perf_counter() - since >= quiet:
                break
        return last


class Progress:
    """One line on stderr while a phase runs: messages sent and answered, replies counted."""

    def __init__(self, label: str, total_messages: int, total_replies: int, counter: ReplyCounter) -> None:
        self.label = label
        self.total_messages = total_messages
        self.total_replies = total_replies
        self.counter = counter
        self.reply_base = counter.sent
        self.answered = 0
        self.started = time.perf_counter()
        self._task: asyncio.Task[None] | None = None
        self._tty = sys.stderr.isatty()

    def line(self) -> str:
        elapsed = time.perf_counter() - self.started
        return (
            f"  {self.label}: {self.answered}/{self.total_messages} messages answered, "
            f"{self.counter.sent - self.reply_base}/{self.total_replies} replies counted, {elapsed:.0f} s"
        )

    async def _run(self) -> None:
        every = 0.5 if self._tty else 10.0
        while True:
            await asyncio.sleep(every)
            if self._tty:
                sys.stderr.write("\r" + self.line() + "\x1b[K")
            else:
                sys.stderr.write(self.line() + "\n")
            sys.stderr.flush()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        sys.stderr.write(("\r" if self._tty else "") + self.line() + ("\x1b[K\n" if self._tty else "\n"))
        sys.stderr.flush()


@dataclass
class PhaseResult:
    messages: int
    replies: int
    latencies: list[float]  # seconds, one per answered webhook call, on its connection
    errors: int  # non-2xx answers and connection errors (each retried, as Telegram does)
    seconds: float  # first post until the last expected reply was counted (or the time-out)
    complete: bool  # every expected reply arrived
    posting_seconds: float = 0.0  # first post until the last webhook answer
    late: int = 0  # open loop: posts that went out more than 10 ms after their time
    waits: list[float] = field(default_factory=list)  # seconds each call waited for a free connection
    answered_seconds: float = 0.0  # first post until the last webhook answer
    server_cpu_seconds: float = 0.0  # CPU time the server under test used in the phase
    machine_idle: float = 0.0  # fraction of all cores' time idle in the phase (others' load shows here)
    overloaded: bool = False  # open loop: stopped early, more than a second's worth of posts unanswered
    error_kinds: dict[str, int] = field(default_factory=dict)  # "HTTP 503", "TimeoutError", ... -> count
    profile: dict[str, Any] | None = None  # py-spy's summary of the server in the phase (bench/pyspy.py)

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    def latency_ms(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000.0

    @property
    def answered_rate(self) -> float:
        """Webhook calls answered per second (open loop: the rate achieved)."""
        return self.messages / self.answered_seconds if self.answered_seconds > 0 else 0.0

    def wait_ms(self, q: float) -> float:
        return percentile(sorted(self.waits), q) * 1000.0

    @property
    def cpu_ms_per_message(self) -> float:
        return self.server_cpu_seconds * 1000.0 / self.messages if self.messages else 0.0

    @property
    def posting_rate(self) -> float:
        """Messages per second actually posted (open loop: the rate achieved)."""
        return (self.messages - 1) / self.posting_seconds if self.posting_seconds > 0 else 0.0


class Driver:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        target: Target,
        counter: ReplyCounter,
        ids: UpdateIds,
        connections: int,
        max_retries: int = 20,
    ) -> None:
        # Telegram keeps at most `max_connections` (default 40) requests open to a webhook and queues the
        # rest on its side: so does the driver. The round trip is timed once a connection slot is held;
        # the wait for the slot is recorded apart (it is the backlog, not the webhook's latency).
        self.slots = asyncio.Semaphore(connections)
        self.waits: list[float] = []
        self.session = session
        self.target = target
        self.counter = counter
        self.ids = ids
        self.max_retries = max_retries
        self.errors = 0
        self.error_kinds: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.answered = 0
        self.progress: Progress | None = None
        self.overloaded = False  # the last open loop stopped early: the server fell too far behind

    async def post(self, body: bytes) -> None:
        """One webhook call, retried on failure like Telegram does; records the successful round trip."""
        headers = self.target.headers
        for attempt in range(self.max_retries + 1):
            queued = time.perf_counter()
            async with self.slots:
                started = time.perf_counter()
                try:
                    async with self.session.post(self.target.url, data=body, headers=headers) as response:
                        await response.read()
                        ok = 200 <= response.status < 300
                        kind = f"HTTP {response.status}"
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    ok = False
                    kind = type(exc).__name__
            if ok:
                self.waits.append(started - queued)
                self.latencies.append(time.perf_counter() - started)
                self.answered += 1
                if self.progress is not None:
                    self.progress.answered += 1
                return
            self.errors += 1
            self.error_kinds[kind] += 1
            await asyncio.sleep(min(0.05 * 2**attempt, 2.0))
        raise RuntimeError(f"{self.target.name}: a webhook call failed {self.max_retries + 1} times")

    async def run_user(self, user: SimUser) -> None:
        while not user.done:
            await self.post(user.next_update(self.ids))

    async def calibrate(self, user: SimUser, quiet: float = 0.6) -> list[int]:
        """Sends one user's script message by message, waiting for quiet after each; returns the replies
        after each prefix of the script (index 0 = no messages)."""
        replies = [0]
        while not user.done:
            await self.post(user.next_update(self.ids))
            await self.counter.wait_quiet(quiet=quiet)
            replies.append(int((await self.counter.read(chat=user.user_id))["chat"]))
        return replies

    async def closed_loop(
        self, users: Iterable[SimUser], max_active: int, patience: float, label: str
    ) -> PhaseResult:
        """Every user runs its script; at most `max_active` users at once. Ends when every expected reply
        has been counted (or `patience` seconds after the last post)."""
        queue: deque[SimUser] = deque(users)
        n_messages = sum(len(user.script) for user in queue)
        expected = sum(self.target.expected(len(user.script)) for user in queue)
        base = self.counter.sent
        self.latencies, self.waits, self.errors, self.answered = [], [], 0, 0
        self.error_kinds = Counter()
        self.progress = Progress(label, n_messages, expected, self.counter)

        async def worker() -> None:
            while queue:
                await self.run_user(queue.popleft())

        started = time.perf_counter()
        self.progress.start()
        try:
            await asyncio.gather(*(worker() for _ in range(min(max_active, len(queue)))))
            answered = time.perf_counter()
            reached = await self.counter.wait_for(base + expected, patience)
        finally:
            await self.progress.stop()
        end = reached if reached is not None else time.perf_counter()
        return PhaseResult(
            messages=n_messages,
            replies=self.counter.sent - base,
            latencies=self.latencies,
            errors=self.errors,
            error_kinds=dict(self.error_kinds),
            seconds=end - started,
            complete=reached is not None,
            posting_seconds=answered - started,
            answered_seconds=answered - started,
            waits=self.waits,
        )

    async def open_loop(
        self, new_user: Callable[[], SimUser], rate: float, duration: float, patience: float, label: str
    ) -> PhaseResult:
        """Posts at a fixed rate whatever the answers take (users still send in order: a user whose last
        update is unanswered is not picked; a new one starts instead). Measures the webhook's latency at
        that rate and the rate actually achieved. A server that falls more than a second's worth of posts
        behind is overloaded: posting stops there (the result says so) rather than queueing without end."""
        total = max(1, int(rate * duration))
        ready: deque[SimUser] = deque()
        users: list[SimUser] = []
        self.latencies, self.waits, self.errors, self.answered = [], [], 0, 0
        self.error_kinds = Counter()
        self.progress = Progress(label, total, 0, self.counter)
        base = self.counter.sent
        tasks: set[asyncio.Task[None]] = set()
        late = 0
        max_backlog = max(100, int(rate))
        self.overloaded = False

        async def fire(user: SimUser, body: bytes) -> None:
            await self.post(body)
            if not user.done:
                ready.append(user)

        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        t0 = loop.time()
        self.progress.start()
        try:
            for i in range(total):
                due = t0 + i / rate
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -0.01:
                    late += 1
                if len(tasks) > max_backlog:
                    self.overloaded = True
                    total = i
                    break
                if ready:
                    user = ready.popleft()
                else:
                    user = new_user()
                    users.append(user)
                task = loop.create_task(fire(user, user.next_update(self.ids)))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            last_post = time.perf_counter()
            while tasks:
                await asyncio.gather(*list(tasks))
            answered = time.perf_counter()
            expected = sum(self.target.expected(u.position) for u in users)
            self.progress.total_replies = expected
            reached = await self.counter.wait_for(base + expected, patience)
        finally:
            await self.progress.stop()
        end = reached if reached is not None else time.perf_counter()
        return PhaseResult(
            messages=total,
            replies=self.counter.sent - base,
            latencies=self.latencies,
            errors=self.errors,
            error_kinds=dict(self.error_kinds),
            seconds=end - started,
            complete=reached is not None,
            posting_seconds=last_post - started,
            answered_seconds=answered - started,
            late=late,
            waits=self.waits,
            overloaded=self.overloaded,
        )
