"""OutboxWorker against a real database: retries with backoff, permanent failures, crashes, order, stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from sqlalchemy import text

from intake.messages import Channel, OutboundMessage
from intake.outbox import OutboxWorker, PermanentFailure, Sender, TemporaryFailure
from intake.privacy import Keys
from intake.service import IntakeService
from intake.storage.models import OutboxRow
from intake.storage.repositories import Outbox
from intake.storage.uow import Database
from tests.integration.conftest import Clock, Writer, messages, outbox

LEASE = timedelta(seconds=60)
ADDRESS = "4711-chat-address"


class FakeTelegram:
    """Records what it delivers; `fail` decides per attempt what goes wrong (None: delivered)."""

    def __init__(self, fail: Callable[[OutboundMessage], Exception | None] | None = None) -> None:
        self.fail = fail
        self.attempts: list[tuple[int, int]] = []  # (outbox id, attempt number)
        self.delivered: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> str | None:
        self.attempts.append((message.outbox_id, message.attempt))
        problem = self.fail(message) if self.fail is not None else None
        if problem is not None:
            raise problem
        self.delivered.append(message)
        return f"tg-{message.outbox_id}"


class Hanging:
    """A sender that never returns, as if the process died mid-send."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def send(self, message: OutboundMessage) -> str | None:
        self.entered.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


@contextlib.asynccontextmanager
async def crashed_mid_send(service: IntakeService, clock: Clock) -> AsyncIterator[asyncio.Task[int]]:
    """A worker that claimed what was due and hangs in its first send, as if its process died there."""
    hanging = Hanging()
    crashed = asyncio.create_task(worker(service, clock, hanging, send_timeout=3600).run_once())
    try:
        await asyncio.wait_for(hanging.entered.wait(), timeout=10)
        yield crashed
    finally:
        crashed.cancel()
        await asyncio.gather(crashed, return_exceptions=True)


def worker(
    service: IntakeService, clock: Clock, sender: Sender, max_attempts: int = 10, send_timeout: float = 30.0
) -> OutboxWorker:
    return OutboxWorker(
        db=service.db,
        keys=service.keys,
        senders={"telegram": sender},
        clock=clock,
        lease=LEASE,
        max_attempts=max_attempts,
        send_timeout=send_timeout,
    )


async def eventually(condition: Callable[[], bool]) -> None:
    """Waits for what a fake records; the timeout guards against hanging, it is not a timing assertion."""
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 - the fakes record, they signal nothing
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running_in_background(running: OutboxWorker) -> AsyncIterator[None]:
    """`run` as the service runs it, stopped on the way out (and it must stop within 10 s)."""
    stop = asyncio.Event()
    task = asyncio.create_task(running.run(stop, idle=3600))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def first_contact(service: IntakeService, address: str = ADDRESS) -> tuple[Writer, list[int]]:
    """A person writes once on Telegram: two replies (greeting, language menu) wait in the outbox."""
    person = Writer(service, address, Channel.TELEGRAM)
    await person.says("hello")
    rows = await outbox(service.db, person.pseudonym)
    assert len(rows) == 2
    return person, [row.id for row in rows]


async def test_delivers_due_replies_with_the_decrypted_address(service: IntakeService, clock: Clock) -> None:
    _, ids = await first_contact(service)
    fake = FakeTelegram()
    assert await worker(service, clock, fake).run_once() == 2
    assert [m.outbox_id for m in fake.delivered] == ids
    assert {m.contact.address for m in fake.delivered} == {ADDRESS}
    assert fake.delivered[0].reply.text.startswith("Hei")
    assert [ch.id for ch in fake.delivered[1].reply.choices] == ["nb", "en"]
    rows = await outbox(service.db)
    assert [(r.status, r.provider_id, r.sent_at, r.attempts) for r in rows] == [
        ("sent", f"tg-{ids[0]}", clock(), 1),
        ("sent", f"tg-{ids[1]}", clock(), 1),
    ]
    assert [m.delivery for m in await messages(service.db, "out")] == ["sent", "sent"]
    assert await worker(service, clock, fake).run_once() == 0
    assert len(fake.delivered) == 2


async def test_temporary_failure_is_retried_after_its_backoff_then_sent_once(
    service: IntakeService, clock: Clock
) -> None:
    _, (first, second) = await first_contact(service)
    failures = iter([TemporaryFailure("429 Too Many Requests", retry_after=30)])
    fake = FakeTelegram(lambda m: next(failures, None))
    sender = worker(service, clock, fake)

    assert await sender.run_once() == 2
    assert fake.attempts == [(first, 1)]  # the second waits for the first
    rows = {r.id: r for r in await outbox(service.db)}
    assert (rows[first].status, rows[first].last_error) == ("pending", "429 Too Many Requests")
    assert rows[first].next_attempt_at == clock() + timedelta(seconds=30)
    assert rows[second].status == "pending"
    assert rows[second].next_attempt_at == clock() + timedelta(seconds=30)

    clock.advance(seconds=29)
    assert await sender.run_once() == 0  # not due yet
    clock.advance(seconds=1)
    assert await sender.run_once() == 2
    assert fake.attempts == [(first, 1), (first, 2), (second, 2)]
    assert [m.outbox_id for m in fake.delivered] == [first, second]
    rows = {r.id: r for r in await outbox(service.db)}
    assert (rows[first].status, rows[first].sent_at, rows[first].last_error) == ("sent", clock(), None)
    clock.advance(hours=1)
    assert await sender.run_once() == 0
    assert len(fake.delivered) == 2  # exactly once


async def test_failure_without_retry_after_uses_exponential_backoff(
    service: IntakeService, clock: Clock
) -> None:
    _, (first, _) = await first_contact(service)
    failures = iter([ConnectionResetError(), TemporaryFailure("502")])
    fake = FakeTelegram(lambda m: next(failures, None))
    sender = worker(service, clock, fake)
    start = clock()

    await sender.run_once()  # attempt 1 fails: about 2 s (2**1 with ±20 % jitter)
    (row, _) = await outbox(service.db)
    assert row.last_error == "ConnectionResetError"  # the exception type only: no text of the message
    delay = (row.next_attempt_at - start).total_seconds()
    assert 1.6 <= delay <= 2.4
    clock.now = row.next_attempt_at
    await sender.run_once()  # attempt 2 fails: about 4 s
    (row, _) = await outbox(service.db)
    delay = (row.next_attempt_at - clock()).total_seconds()
    assert 3.2 <= delay <= 4.8
    clock.now = row.next_attempt_at
    await sender.run_once()
    assert [m.outbox_id for m in fake.delivered][:1] == [first]
    assert [m.attempt for m in fake.delivered][:1] == [3]


async def test_gives_up_after_max_attempts(service: IntakeService, clock: Clock) -> None:
    _, (first, second) = await first_contact(service)
    fake = FakeTelegram(lambda m: TemporaryFailure("down", retry_after=1) if m.outbox_id == first else None)
    sender = worker(service, clock, fake, max_attempts=3)
    for _ in range(5):
        await sender.run_once()
        clock.advance(seconds=2)
    assert [attempt for outbox_id, attempt in fake.attempts if outbox_id == first] == [1, 2, 3]
    rows = {r.id: r for r in await outbox(service.db)}
    assert rows[first].status == "failed"
    error = rows[first].last_error
    assert error is not None
    assert "gave up after 3 attempts" in error
    assert rows[second].status == "sent"


async def test_permanent_failure_marks_failed_and_the_message_undelivered(
    service: IntakeService, clock: Clock
) -> None:
    _, (first, second) = await first_contact(service)
    fake = FakeTelegram(
        lambda m: PermanentFailure("403 Forbidden: bot was blocked") if m.outbox_id == first else None
    )
    sender = worker(service, clock, fake)

    await sender.run_once()
    rows = {r.id: r for r in await outbox(service.db)}
    assert rows[first].status == "failed"
    assert rows[first].last_error == "PermanentFailure: 403 Forbidden: bot was blocked"
    deliveries = {m.outbox_id: m.delivery for m in await messages(service.db, "out")}
    assert deliveries[first] == "failed"
    # Never tried again; the later message goes once the failed one is out of the way.
    await sender.run_once()
    clock.advance(hours=1)
    await sender.run_once()
    assert [outbox_id for outbox_id, _ in fake.attempts] == [first, second]
    assert [m.outbox_id for m in fake.delivered] == [second]
    deliveries = {m.outbox_id: m.delivery for m in await messages(service.db, "out")}
    assert deliveries == {first: "failed", second: "sent"}


async def test_an_address_encrypted_with_another_key_fails_permanently(
    service: IntakeService, clock: Clock, db: Database
) -> None:
    await first_contact(service)
    fake = FakeTelegram()
    rotated = OutboxWorker(db=db, keys=Keys.from_secret("y" * 32), senders={"telegram": fake}, clock=clock)
    await rotated.run_once()
    assert fake.attempts == []
    statuses = [r.status for r in await outbox(db)]
    assert statuses[0] == "failed"


async def test_a_crash_mid_send_is_resent_by_another_worker_after_the_lease(
    service: IntakeService, clock: Clock
) -> None:
    _, ids = await first_contact(service)
    async with crashed_mid_send(service, clock) as crashed:
        rows = await outbox(service.db)
        assert {r.status for r in rows} == {"sending"}

        fake = FakeTelegram()
        second = worker(service, clock, fake)
        assert await second.run_once() == 0  # the lease still holds
        clock.advance(seconds=LEASE.total_seconds() + 1)
        assert await second.run_once() == 2
        assert [(m.outbox_id, m.attempt) for m in fake.delivered] == [(ids[0], 2), (ids[1], 2)]
        assert {r.status for r in await outbox(service.db)} == {"sent"}
        assert not crashed.done()  # the first worker is still stuck: the second did not wait for it


async def test_each_persons_messages_go_in_order_even_when_the_first_fails(
    service: IntakeService, clock: Clock
) -> None:
    alice, alice_ids = await first_contact(service, "alice-chat")
    _, bob_ids = await first_contact(service, "bob-chat")
    await alice.says("hmm")  # two more replies for Alice: "noted" and the next question
    alice_ids = [r.id for r in await outbox(service.db, alice.pseudonym)]
    assert len(alice_ids) == 4
    failed_once: set[int] = set()

    def flaky(message: OutboundMessage) -> Exception | None:
        if message.outbox_id == alice_ids[0] and message.outbox_id not in failed_once:
            failed_once.add(message.outbox_id)
            return TemporaryFailure("timeout", retry_after=5)
        return None

    fake = FakeTelegram(flaky)
    sender = worker(service, clock, fake)
    await sender.run_once()
    # Bob is not held up by Alice's failure; nothing of Alice's after the failed one was tried.
    assert [m.outbox_id for m in fake.delivered] == bob_ids
    assert [outbox_id for outbox_id, _ in fake.attempts if outbox_id in alice_ids] == [alice_ids[0]]
    clock.advance(seconds=5)
    await sender.run_once()
    alice_delivered = [m.outbox_id for m in fake.delivered if m.contact.address == "alice-chat"]
    assert alice_delivered == alice_ids
    assert {r.status for r in await outbox(service.db)} == {"sent"}


async def test_run_stops_when_the_stop_event_is_set(service: IntakeService, clock: Clock) -> None:
    _, ids = await first_contact(service)
    both_sent = asyncio.Event()

    class Notifying(FakeTelegram):
        async def send(self, message: OutboundMessage) -> str | None:
            provider_id = await super().send(message)
            if len(self.delivered) == len(ids):
                both_sent.set()
            return provider_id

    fake = Notifying()
    running = worker(service, clock, fake)
    stop = asyncio.Event()
    task = asyncio.create_task(running.run(stop, idle=30))
    try:
        await asyncio.wait_for(both_sent.wait(), timeout=10)
        assert not task.done()  # idle, waiting for work
        stop.set()
        await asyncio.wait_for(task, timeout=10)  # a guard against hanging, not a timing assertion
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert task.exception() is None
    assert [m.outbox_id for m in fake.delivered] == ids


async def test_a_stop_finishes_the_send_in_hand_and_hands_back_the_rest_unattempted(
    service: IntakeService, clock: Clock
) -> None:
    _, (first, second) = await first_contact(service)
    stop = asyncio.Event()

    class Stopping(FakeTelegram):
        async def send(self, message: OutboundMessage) -> str | None:
            stop.set()  # SIGTERM arrives while the first reply is on its way
            return await super().send(message)

    fake = Stopping()
    assert await worker(service, clock, fake).run_once(stop) == 2
    assert [m.outbox_id for m in fake.delivered] == [first]
    rows = {r.id: r for r in await outbox(service.db)}
    assert (rows[first].status, rows[first].attempts) == ("sent", 1)
    assert (rows[second].status, rows[second].attempts, rows[second].locked_until) == ("pending", 0, None)

    after = FakeTelegram()
    assert await worker(service, clock, after).run_once() == 1  # at once: no lease to wait out
    assert [(m.outbox_id, m.attempt) for m in after.delivered] == [(second, 1)]


async def test_run_wakes_for_new_work_and_survives_a_failing_pass(
    service: IntakeService, clock: Clock
) -> None:
    fake = FakeTelegram()
    running = worker(service, clock, fake)
    original = running._claim
    passes = 0

    async def claim() -> list[OutboxRow]:
        nonlocal passes
        passes += 1
        if passes == 1:
            raise RuntimeError("database went away")
        return await original()

    running._claim = claim  # type: ignore[method-assign]
    async with running_in_background(running):
        await asyncio.sleep(0)
        await first_contact(service)
        running.wake.set()  # what the service's on_replies does
        await eventually(lambda: len(fake.delivered) >= 2)
    assert passes >= 2
    assert len(fake.delivered) == 2


async def test_a_persons_next_reply_waits_until_the_previous_one_is_recorded(
    service: IntakeService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So a crash can repeat at most one reply per person; the wait is for the flusher's next group
    commit, which sends in flight together share, not for a commit of each person's own."""
    people = [(await first_contact(service, f"person-{n}"))[1] for n in range(3)]
    events: list[tuple[str, tuple[int, ...]]] = []
    original = OutboxWorker._mark_sent
    in_flight = asyncio.Barrier(len(people))

    async def recording(self: OutboxWorker, sent: list[tuple[int, str | None]]) -> None:
        events.append(("recorded", tuple(sorted(outbox_id for outbox_id, _ in sent))))
        await original(self, sent)

    class Logged(FakeTelegram):
        async def send(self, message: OutboundMessage) -> str | None:
            if message.outbox_id in {ids[0] for ids in people}:
                await in_flight.wait()  # everyone's first reply is in flight at once
            events.append(("sent", (message.outbox_id,)))
            return await super().send(message)

    monkeypatch.setattr(OutboxWorker, "_mark_sent", recording)
    assert await worker(service, clock, Logged()).run_once() == 6
    for ids in people:
        sent_second = events.index(("sent", (ids[1],)))
        recorded_first = next(
            i for i, (kind, got) in enumerate(events) if kind == "recorded" and ids[0] in got
        )
        assert recorded_first < sent_second, events
    commits = [got for kind, got in events if kind == "recorded"]
    firsts = {ids[0] for ids in people}
    assert firsts <= set(commits[0]), events  # sends in flight together share one commit
    assert len(commits) < 2 * len(people)  # fewer commits than replies
    assert {r.status for r in await outbox(service.db)} == {"sent"}


async def test_a_failed_record_stops_the_person_and_sends_again_never_loses(
    service: IntakeService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, ids = await first_contact(service)
    fake = FakeTelegram()
    sender = worker(service, clock, fake)
    original = OutboxWorker._mark_sent

    async def failing(self: OutboxWorker, sent: list[tuple[int, str | None]]) -> None:
        raise OSError("database went away")

    monkeypatch.setattr(OutboxWorker, "_mark_sent", failing)
    assert await sender.run_once() == 2
    # The first reply went out but was not recorded: the second is held back, both stay leased.
    assert [m.outbox_id for m in fake.delivered] == ids[:1]
    assert {r.status for r in await outbox(service.db)} == {"sending"}

    monkeypatch.setattr(OutboxWorker, "_mark_sent", original)
    assert await sender.run_once() == 0  # still leased
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert await sender.run_once() == 2
    assert [m.outbox_id for m in fake.delivered] == [ids[0], *ids]  # one repeat, in order, nothing lost
    assert {r.status for r in await outbox(service.db)} == {"sent"}
    assert [m.delivery for m in await messages(service.db, "out")] == ["sent", "sent"]


async def test_a_persons_new_replies_wait_while_an_earlier_one_is_claimed_elsewhere(
    service: IntakeService, clock: Clock
) -> None:
    person, first_ids = await first_contact(service)
    async with crashed_mid_send(service, clock):
        await person.says("1")  # meanwhile the person answers: the next question is committed
        later_ids = [r.id for r in await outbox(service.db, person.pseudonym)][len(first_ids) :]
        assert later_ids

        fake = FakeTelegram()
        restarted = worker(service, clock, fake)
        assert await restarted.run_once() == 0  # the next question must not overtake the greeting
        clock.advance(seconds=LEASE.total_seconds() + 1)
        while await restarted.run_once():
            pass
        assert [m.outbox_id for m in fake.delivered] == first_ids + later_ids


async def test_a_send_that_finishes_during_the_last_flush_is_still_recorded(
    service: IntakeService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch ends while a periodic flush is committing: what finished meanwhile gets its own flush,
    instead of staying leased (and being sent again after the lease)."""
    people = [(await first_contact(service, f"person-{n}"))[1] for n in range(2)]
    quick, slow = people[0][0], people[1][0]
    original = OutboxWorker._mark_sent
    commits: list[tuple[int, ...]] = []

    async def slow_first_commit(self: OutboxWorker, sent: list[tuple[int, str | None]]) -> None:
        if not commits:
            await asyncio.sleep(0.1)
        commits.append(tuple(outbox_id for outbox_id, _ in sent))
        await original(self, sent)

    class OneSlow(FakeTelegram):
        async def send(self, message: OutboundMessage) -> str | None:
            if message.outbox_id == slow:
                await asyncio.sleep(0.03)  # finishes while the first commit is under way
            return await super().send(message)

    monkeypatch.setattr(OutboxWorker, "_mark_sent", slow_first_commit)
    sender = worker(service, clock, OneSlow())
    sender.batch = 1 + 1  # one row each: no waiting between a person's replies
    sender.sent_flush_interval = 0.005
    async with service.db.uow() as uow:  # only the two first replies are due
        for ids in people:
            await uow.outbox.mark_retry(ids[1], "later", clock() + timedelta(hours=1))
        await uow.commit()
    assert await sender.run_once() == 2
    assert commits == [(quick,), (slow,)]
    rows = {r.id: r.status for r in await outbox(service.db)}
    assert (rows[quick], rows[slow]) == ("sent", "sent")


async def test_a_slow_claim_refreshes_the_outbox_statistics_at_most_once_a_while(
    service: IntakeService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await first_contact(service)
    calls: list[bool] = []
    original = Outbox.refresh_statistics

    async def counted(self: Outbox) -> bool:
        calls.append(await original(self))
        return calls[-1]

    monkeypatch.setattr(Outbox, "refresh_statistics", counted)
    sender = worker(service, clock, FakeTelegram())
    sender.slow_claim = 0.0  # every claim counts as slow here
    assert await sender.run_once() == 2
    assert await sender.run_once() == 0
    assert len(calls) == 1  # not again within analyze_every
    async with service.db.uow() as uow:
        postgres = uow.session.get_bind().dialect.name == "postgresql"
        if postgres:
            # -1 until the table is first analyzed (PostgreSQL 14+), a real count after.
            reltuples = await uow.session.scalar(
                text("SELECT reltuples FROM pg_class WHERE relname = 'outbox'")
            )
            assert reltuples is not None
            assert reltuples >= 0
    assert calls == [postgres]  # SQLite's planner needs no statistics for the claim


async def test_a_slow_send_does_not_hold_up_other_peoples_replies(
    service: IntakeService, clock: Clock
) -> None:
    """The next batch is claimed while an earlier one is still on its way: one person's slow send (a
    provider taking its time) must not keep everyone else waiting for an answer."""
    _, slow_ids = await first_contact(service, "slow-chat")
    release, held = asyncio.Event(), asyncio.Event()

    class SlowForOne(FakeTelegram):
        async def send(self, message: OutboundMessage) -> str | None:
            if message.contact.address == "slow-chat":
                held.set()
                await release.wait()
            return await super().send(message)

    fake = SlowForOne()
    running = worker(service, clock, fake)
    async with running_in_background(running):
        try:
            await asyncio.wait_for(held.wait(), timeout=10)
            _, other_ids = await first_contact(service, "other-chat")
            running.wake.set()
            await eventually(lambda: {m.outbox_id for m in fake.delivered} == set(other_ids))
            assert not {m.outbox_id for m in fake.delivered} & set(slow_ids)  # still on its way
            release.set()
            await eventually(lambda: len(fake.delivered) == 4)
        finally:
            release.set()  # before the stop: else a failed assertion above leaves the slow send hanging
    assert [m.outbox_id for m in fake.delivered if m.outbox_id in slow_ids] == slow_ids  # in order
