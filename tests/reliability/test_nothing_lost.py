"""Nothing accepted is lost: the real service, killed and stopped under load, on SQLite and PostgreSQL.

A crowd of Telegram users writes to `helpline serve` (a process of its own) while the test kills it with
SIGKILL at seeded moments and starts it again, or stops it with SIGTERM. Afterwards the database and the
fake Bot API must show that every update the webhook acknowledged is stored once, every reply committed
to the outbox reached Telegram, nobody's intake is stuck, and sends repeated by the kills stay within
what the outbox's at-least-once design allows: a send in flight at a kill, at most one per person.

Set HELPLINE_RELIABILITY_SEED to replay other moments; the figures are printed at the end of each test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpServer

from intake.flow import FlowState, Step
from intake.privacy import Keys
from intake.storage.db import make_database, make_engine
from intake.storage.uow import Database
from tests.channels.fake_telegram import TOKEN, FakeTelegram, User, serve
from tests.conftest import REPO
from tests.integration.conftest import conversations, messages, outbox
from tests.reliability.harness import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    Crowd,
    Figures,
    Leased,
    Service,
    chat_pseudonym,
    collapse_repeats,
    contacts_by_id,
    delivered_texts,
    expire_leases,
    extra_sends,
    free_port,
    kill_points,
    leased_rows,
    stored_updates,
    telegram_text,
    unfinished,
    until,
)

SEED = int(os.environ.get("HELPLINE_RELIABILITY_SEED", "20261124"))
USERS = 40
# Hello, Norwegian, "yes, I can write safely", "about myself", the first topic: six replies in all.
SCRIPT = ("hei", "1", "1", "1", "1")
KILLS = 3
LOAD_DEADLINE = 120.0
DRAIN_DEADLINE = 60.0
STOP_DEADLINE = 30.0
# PTB 22 reads RetryAfter.retry_after while building the exception, which warns about its future type.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def fake(aiohttp_server: AiohttpServer) -> FakeTelegram:
    return await serve(aiohttp_server)


@pytest.fixture
def service(fake: FakeTelegram, database_url: str, tmp_path: Path) -> Iterator[Service]:
    running = Service(
        env={
            "HELPLINE_ENV": "development",
            "HELPLINE_SECRET_KEY": SECRET_KEY,
            "HELPLINE_DATABASE_URL": database_url,
            # Open around the clock, so the run does not depend on the time of day.
            "HELPLINE_CONFIG": str(REPO / "deploy" / "config" / "always-open.toml"),
            "HELPLINE_TELEGRAM_TOKEN": TOKEN,
            "HELPLINE_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "HELPLINE_TELEGRAM_API_URL": fake.base_url,
        },
        port=free_port(),
        logs=tmp_path,
    )
    try:
        yield running
    finally:
        running.stop_now()


@dataclass
class Rig:
    fake: FakeTelegram
    service: Service
    db: Database  # the test's own view of the service's database (the service migrates it)
    database: str
    crowd: Crowd
    started: float

    @contextlib.asynccontextmanager
    async def under_load(self) -> AsyncIterator[None]:
        """The service runs and the crowd writes; the body stops and starts the service, and on leaving
        the crowd must finish (every update acknowledged) within the deadline."""
        await self.service.start()
        load = asyncio.create_task(self.crowd.run())
        try:
            yield
            async with asyncio.timeout(LOAD_DEADLINE):
                await load
        finally:
            load.cancel()
            await asyncio.gather(load, return_exceptions=True)


@pytest.fixture
async def rig(fake: FakeTelegram, service: Service, database_url: str) -> AsyncIterator[Rig]:
    engine = make_engine(database_url)
    users = [User(6_100_000_000 + n, f"User{n}", "nb") for n in range(USERS)]
    try:
        yield Rig(
            fake=fake,
            service=service,
            db=make_database(engine, Keys.from_secret(SECRET_KEY)),
            database="sqlite" if database_url.startswith("sqlite") else "postgresql",
            crowd=Crowd(fake, service, users, SCRIPT, SEED),
            started=asyncio.get_running_loop().time(),
        )
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Outcome:
    figures: Figures
    # chat id -> the texts delivered more often than they were committed, and how many times more
    repeated: dict[int, Counter[str]]
    pseudonyms: dict[int, str]
    texts: dict[int, str]  # outbox id -> the text sent for it


async def settle_and_check(rig: Rig, stops: list[Leased]) -> Outcome:
    """After the load: wait for the outbox to drain, then prove (a) stored, (b) delivered, (c) repeats."""
    db, fake, crowd = rig.db, rig.fake, rig.crowd

    async def drained() -> bool:
        return await unfinished(db) == 0

    await until(drained, DRAIN_DEADLINE, "the outbox to drain")
    keys = Keys.from_secret(SECRET_KEY)

    # (a) Every acknowledged update is stored, once, in the order the user sent it.
    assert len(crowd.acknowledged) == crowd.total
    stored = await stored_updates(db, keys, crowd.acknowledged)
    assert stored == set(crowd.acknowledged), (
        f"acknowledged but not stored: {set(crowd.acknowledged) - stored}"
    )
    owners = await contacts_by_id(db)
    by_conversation = {conv.id: conv for conv in await conversations(db)}
    inbound: dict[str, list[int]] = {}
    for message in await messages(db, "in"):
        contact_id = by_conversation[message.conversation_id].contact_id
        assert contact_id is not None
        assert message.provider_ref is not None
        inbound.setdefault(owners[contact_id], []).append(int(message.provider_ref))
    chat_of = {chat_pseudonym(keys, chat): chat for chat in crowd.message_ids}
    assert {chat_of[p]: refs for p, refs in inbound.items()} == crowd.message_ids

    # (b) Every committed reply was delivered, and every intake went where the script leads.
    rows = await outbox(db)
    assert {row.status for row in rows} == {"sent"}, [(r.id, r.status, r.last_error) for r in rows]
    assert {m.delivery for m in await messages(db, "out")} == {"sent"}
    expected: dict[int, list[str]] = {}
    for row in rows:
        expected.setdefault(chat_of[row.pseudonym], []).append(telegram_text(row.payload))
    delivered = delivered_texts(fake)
    assert set(expected) == set(delivered) == set(crowd.message_ids)
    # The same script in the same language: everyone is owed the same replies, none stuck half-way.
    assert len({tuple(texts) for texts in expected.values()}) == 1
    [replies] = {len(texts) for texts in expected.values()}
    assert replies == len(SCRIPT) + 1
    for conv in by_conversation.values():
        state = FlowState.from_json(conv.state)
        assert (conv.status, state.step, len(state.topics)) == ("intake", Step.TOPICS, 1)
    assert len(by_conversation) == len(crowd.users)
    repeated: dict[int, Counter[str]] = {}
    for chat, texts in expected.items():
        extra, missing = extra_sends(texts, delivered[chat])
        assert not missing, f"committed but never delivered to {chat}: {missing}"
        # A repeat comes right after its first send (the next reply waits for it): the order holds.
        assert collapse_repeats(delivered[chat]) == texts
        if extra:
            repeated[chat] = extra

    retries = sum(1 for attempt in crowd.attempts if not attempt.acknowledged)
    figures = Figures(
        database=rig.database,
        updates=crowd.total,
        acknowledged=len(crowd.acknowledged),
        stored=len(stored),
        replies_expected=sum(len(texts) for texts in expected.values()),
        replies_delivered=sum(len(texts) for texts in delivered.values()),
        duplicates=sum(sum(extra.values()) for extra in repeated.values()),
        stops=len(stops),
        leased_at_stops=sum(stop.rows for stop in stops),
        retries=retries,
        seconds=asyncio.get_running_loop().time() - rig.started,
    )
    sent = {row.id: telegram_text(row.payload) for row in rows}
    return Outcome(figures, repeated, {chat: p for p, chat in chat_of.items()}, sent)


async def test_killed_and_restarted_under_load_nothing_is_lost(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    points = kill_points(random.Random(SEED), rig.crowd.total, KILLS)
    stops: list[Leased] = []
    async with rig.under_load():
        for point in points:
            await rig.crowd.acknowledged_at_least(point, LOAD_DEADLINE)
            await rig.service.kill()
            stops.append(await leased_rows(rig.db))
            await expire_leases(rig.db)
            await rig.service.start()
    outcome = await settle_and_check(rig, stops)

    # (c) Repeats. Only a send in flight when the process died can be repeated: Telegram had it, the
    # commit of "sent" had not happened. A person's replies go one after the other, each marked sent
    # before the next begins, so at a kill at most one per person is in flight, and it is that person's
    # first reply still claimed. Every repeat must be such a reply: at most one per person per kill,
    # so at most kills x users (the sender's concurrency) in all.
    for chat, extra in outcome.repeated.items():
        pseudonym = outcome.pseudonyms[chat]
        in_flight = Counter(
            outcome.texts[min(stop.by_pseudonym[pseudonym])]
            for stop in stops
            if pseudonym in stop.by_pseudonym
        )
        assert extra <= in_flight, (chat, extra, in_flight)
    persons_in_flight = sum(len(stop.by_pseudonym) for stop in stops)
    assert outcome.figures.duplicates <= persons_in_flight <= KILLS * USERS
    with capsys.disabled():
        print(f"\n{outcome.figures.line('SIGKILL')} seed={SEED} kill points={points}")


async def test_sigterm_under_load_finishes_what_it_holds_and_exits_cleanly(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    loop = asyncio.get_running_loop()
    [point] = kill_points(random.Random(SEED + 1), rig.crowd.total, 1)
    async with rig.under_load():
        await rig.crowd.acknowledged_at_least(point, LOAD_DEADLINE)
        stopping = loop.time()
        code = await rig.service.terminate(STOP_DEADLINE)
        stopped = loop.time()
        assert code == 0, rig.service.log_tail()
        left = await leased_rows(rig.db)
        await rig.service.start()
    outcome = await settle_and_check(rig, [left])

    # A graceful stop finishes its sends or hands them back: nothing stays claimed for a lease to expire,
    # and no reply spent an attempt on it (each went out on its first).
    assert left.rows == 0, left
    assert {row.attempts for row in await outbox(rig.db)} == {1}
    # Each webhook call in hand at the SIGTERM either was acknowledged (and so is stored, above) or got no
    # 2xx, and then the same update was acknowledged later, after the restart.
    attempts = rig.crowd.attempts
    in_hand = [a for a in attempts if a.started < stopping < a.finished]
    for attempt in in_hand:
        if not attempt.acknowledged:
            assert any(
                later.update_id == attempt.update_id and later.acknowledged and later.started >= stopped
                for later in attempts
            )
    assert outcome.figures.duplicates == 0, outcome.repeated
    answered = sum(1 for a in in_hand if a.acknowledged)
    with capsys.disabled():
        print(
            f"\n{outcome.figures.line('SIGTERM')} seed={SEED} stop point={point} "
            f"in hand at SIGTERM={len(in_hand)} (answered 2xx={answered}) stop took={stopped - stopping:.1f}s"
        )
