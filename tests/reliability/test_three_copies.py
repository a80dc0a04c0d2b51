"""Three copies of `helpline serve` on one PostgreSQL behind HAProxy, as a scaled-out deployment runs.

Telegram, SMS and web chat users write through the balancer (round robin per request, so one person's
messages land on different copies) while the copy that runs the scheduled jobs is SIGKILLed. Afterwards:
every acknowledged message is stored once and each person's intake went where their messages lead (so
they were handled in order); every committed reply reached the person, in order, and only a reply in
flight at the kill was sent twice (at most one per person); the scheduled jobs ran in one copy at a time
(another copy took over after the kill). Before the load, a staff console connected to copy A sees at
once a web chat message that arrived at copy B, answers it, and the person gets the answer.

Bounded: about 90 s, most of it the killed copy's 60-second leases running out (nothing stands in for
them here: the other copies' sends are in flight at the same time, and must not be touched).
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer
from sqlalchemy import select

from intake import sms
from intake.flow import FlowState, Step
from intake.messages import Channel, Contact, reply_from_payload
from intake.privacy import Keys
from intake.storage.db import make_database, make_engine
from intake.storage.models import InboundSeenRow
from intake.storage.uow import Database
from tests.channels.fake_telegram import TOKEN, FakeTelegram, User, serve
from tests.channels.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, inbound_form, twilio_signature
from tests.channels.webchat_tab import Chat
from tests.conftest import HELPLINE_COMMAND, REPO
from tests.console.staff_client import PASSWORD, Staff
from tests.integration.conftest import conversations, fetch, messages, outbox
from tests.reliability import balancer
from tests.reliability.harness import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    Crowd,
    Leased,
    Service,
    chat_pseudonym,
    collapse_repeats,
    contacts_by_id,
    delivered_texts,
    extra_sends,
    free_port,
    leased_rows,
    telegram_text,
    unfinished,
    until,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
    pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"),
    pytest.mark.skipif(
        not balancer.available() and not os.environ.get("CI"), reason="HAProxy is not installed"
    ),
]

SEED = int(os.environ.get("HELPLINE_RELIABILITY_SEED", "20261206"))
COPIES = ("a", "b", "c")
SCRIPT = ("hei", "1", "1", "1", "1")  # as in test_nothing_lost: six replies, the intake at its topics
TELEGRAM_USERS, SMS_USERS, WEBCHAT_USERS = 15, 5, 8
PUBLIC_URL = "https://public.example"  # what Twilio signs against; nothing is fetched from it
SMS_FROM = "+4759440000"
SMS_PATH = "/webhooks/twilio/sms"
KILL_AT = 0.35  # of all messages acknowledged
LOAD_DEADLINE = 90.0
DRAIN_DEADLINE = 100.0  # the killed copy's leases (60 s) run out, then its replies go
AT_ONCE = 5.0  # seconds: the console hears of a message on another copy well within this, or fails
LEADS = '"scheduled jobs: this copy runs them"'
JOB_RAN = '"scheduled job retention ran (ok)"'


@dataclass
class Person:
    """A person writing through the balancer on SMS or the web chat; Telegram users are the Crowd's."""

    channel: Channel
    address: str  # phone number, or the web chat's session token
    acknowledged: list[str] = field(default_factory=list)  # provider ids, in the order sent
    served_by: list[str] = field(default_factory=list)  # the copy that answered each acknowledged one
    received: list[dict[str, object]] = field(default_factory=list)  # web chat: replies read by polling
    failures: int = 0


@dataclass
class Copies:
    services: dict[str, Service]
    env: dict[str, str]
    db: Database

    def log(self, name: str) -> str:
        service = self.services[name]
        return "".join(
            path.read_text(errors="replace") for path in sorted(service.logs.glob("service-*.log"))
        )

    def count(self, needle: str) -> dict[str, int]:
        return {name: self.log(name).count(needle) for name in self.services}


@pytest.fixture
async def fake_telegram(aiohttp_server: AiohttpServer) -> FakeTelegram:
    return await serve(aiohttp_server)


@pytest.fixture
async def fake_twilio(aiohttp_server: AiohttpServer) -> tuple[FakeTwilio, str]:
    fake = FakeTwilio()
    server = await aiohttp_server(fake.app)
    return fake, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def copies(
    fake_telegram: FakeTelegram, fake_twilio: tuple[FakeTwilio, str], database_url: str, tmp_path: Path
) -> AsyncIterator[Copies]:
    env = {
        "HELPLINE_ENV": "production",
        "HELPLINE_SECRET_KEY": SECRET_KEY,
        "HELPLINE_DATABASE_URL": database_url,
        "HELPLINE_CONFIG": str(REPO / "deploy" / "config" / "always-open.toml"),
        "HELPLINE_PUBLIC_URL": PUBLIC_URL,
        "HELPLINE_TELEGRAM_TOKEN": TOKEN,
        "HELPLINE_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "HELPLINE_TELEGRAM_API_URL": fake_telegram.base_url,
        "HELPLINE_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "HELPLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "HELPLINE_TWILIO_SMS_FROM": SMS_FROM,
        "HELPLINE_TWILIO_API_URL": fake_twilio[1],
    }
    services = {}
    for name in COPIES:
        (tmp_path / name).mkdir()
        services[name] = Service(env=env, port=free_port(), logs=tmp_path / name)
    engine = make_engine(database_url, pool_size=5)
    try:
        # Started together on an empty database, as a Deployment's replicas are: they migrate in turn.
        await asyncio.gather(*(service.start() for service in services.values()))
        staff_add = subprocess.run(  # noqa: S603, ASYNC221 - our own command, a second at most
            [*HELPLINE_COMMAND, "staff", "add", "anna"],
            input=f"{PASSWORD}\n".encode(),
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **env},
            capture_output=True,
            check=False,
        )
        assert staff_add.returncode == 0, staff_add.stderr
        yield Copies(services, env, make_database(engine, Keys.from_secret(SECRET_KEY)))
    finally:
        for service in services.values():
            service.stop_now()
        await engine.dispose()


def session(base_url: str) -> aiohttp.ClientSession:
    # No cookie jar: Staff sends its own cookie, and a person's chat has none.
    return aiohttp.ClientSession(base_url=base_url, cookie_jar=aiohttp.DummyCookieJar())


async def console_on_a_answers_a_message_on_b(copies: Copies, front: str) -> float:
    """Returns how long copy A's console took to hear of the message that copy B took in."""
    loop = asyncio.get_running_loop()
    async with session(copies.services["a"].url) as on_a, session(copies.services["b"].url) as on_b:
        anna = await Staff(on_a, "anna").sign_in()
        stream = await anna.stream()
        chat = await Chat(on_b, lang="en").start()
        sent = loop.time()
        assert await chat.send("I am writing from school. Is anyone there?") == "accepted"
        conversation = await stream.change()
        heard = loop.time() - sent
        assert conversation is not None
        assert heard < AT_ONCE
        detail = await anna.conversation(conversation)
        assert detail["messages"][0]["text"] == "I am writing from school. Is anyone there?"
        assert await anna.act(conversation, "claim") == {"ok": True}
        answer = "Hi, this is Anna. I am here."
        assert (await anna.act(conversation, "messages", {"text": answer}))["held"] is False
        stream.close()
    # The person reads on through the balancer, on whichever copy it picks.
    async with session(front) as through:
        chat.client = through
        texts: list[str] = []
        await until(lambda: _read(chat, texts, answer), 20, "the staff answer through the balancer")
    return heard


async def _read(chat: Chat, texts: list[str], wanted: str) -> bool:
    texts += [str(m["text"]) for m in await chat.poll()]
    return wanted in texts


async def sms_person(http: aiohttp.ClientSession, person: Person, index: int) -> None:
    """Writes as Twilio delivers: one message after the other, each re-sent until it is answered 2xx."""
    rng = random.Random(SEED * 7 + index)
    for step, text in enumerate(SCRIPT):
        await asyncio.sleep(rng.uniform(0, 0.2))
        sid = f"SM{index:04d}{step:02d}" + "0" * 26
        form = inbound_form(sid, person.address, text, SMS_FROM)
        signature = twilio_signature(AUTH_TOKEN, PUBLIC_URL + SMS_PATH, form)
        headers = {"X-Twilio-Signature": signature}
        await deliver(person, functools.partial(http.post, SMS_PATH, data=form, headers=headers))
        person.acknowledged.append(sid)


async def webchat_person(http: aiohttp.ClientSession, person: Person, index: int) -> None:
    rng = random.Random(SEED * 11 + index)
    chat = Chat(http)
    chat.token = person.address
    for step, text in enumerate(SCRIPT):
        await asyncio.sleep(rng.uniform(0, 0.2))
        client_id = f"client-{step:04d}"
        # The browser's own retry sends the same id again.
        await deliver(person, functools.partial(chat.post, text, client_id=client_id))
        person.acknowledged.append(f"{person.address}/{client_id}")


async def deliver(person: Person, send: Callable[[], Awaitable[aiohttp.ClientResponse]]) -> None:
    """Until the service answers 2xx: refused, cut off or answered 5xx, the message is sent again."""
    while True:
        try:
            async with await send() as response:
                await response.read()
                if 200 <= response.status < 300:
                    person.served_by.append(response.headers.get("X-Served-By", "?"))
                    return
        except aiohttp.ClientError:
            pass
        person.failures += 1
        await asyncio.sleep(0.1)


async def keep_polling(http: aiohttp.ClientSession, person: Person, stop: asyncio.Event) -> None:
    """The web chat tab's long poll, through the balancer; a copy's death only costs a retry."""
    after = 0
    while not stop.is_set():
        try:
            async with http.get(
                f"/chat/api/poll?after={after}", headers={"X-Chat-Token": person.address}
            ) as response:
                if response.status == 200:
                    got = (await response.json())["messages"]
                    person.received += got
                    after = got[-1]["id"] if got else after
                    continue
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)


async def test_three_copies_behind_haproxy_lose_nothing_and_keep_order(
    copies: Copies,
    fake_telegram: FakeTelegram,
    fake_twilio: tuple[FakeTwilio, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    keys = Keys.from_secret(SECRET_KEY)
    proxy_port = free_port()
    upstream = [(name, service.port) for name, service in copies.services.items()]
    async with balancer.haproxy(proxy_port, upstream, tmp_path) as front:
        heard = await console_on_a_answers_a_message_on_b(copies, front)

        # Only one copy leads the scheduled jobs; it ran the retention purge once.
        await until(lambda: sum(copies.count(JOB_RAN).values()) == 1, 20, "the first retention run")
        leaders = [name for name, n in copies.count(LEADS).items() if n]
        assert len(leaders) == 1, copies.count(LEADS)
        [leader] = leaders

        # The load, through the balancer.
        users = [User(6_200_000_000 + n, f"User{n}", "nb") for n in range(TELEGRAM_USERS)]
        crowd = Crowd(fake_telegram, Service(env={}, port=proxy_port, logs=tmp_path), users, SCRIPT, SEED)
        async with session(front) as http:
            texters = [Person(Channel.SMS, f"+47{41000000 + n}") for n in range(SMS_USERS)]
            tabs = []
            for _ in range(WEBCHAT_USERS):
                tabs.append(Person(Channel.WEBCHAT, (await Chat(http).start()).token))
            stop_polling = asyncio.Event()
            polls = [asyncio.create_task(keep_polling(http, tab, stop_polling)) for tab in tabs]
            load = asyncio.gather(
                crowd.run(),
                *(sms_person(http, p, n) for n, p in enumerate(texters)),
                *(webchat_person(http, p, n) for n, p in enumerate(tabs)),
            )
            people = [*texters, *tabs]
            total = (TELEGRAM_USERS + SMS_USERS + WEBCHAT_USERS) * len(SCRIPT)

            def acknowledged() -> int:
                return len(crowd.acknowledged) + sum(len(p.acknowledged) for p in people)

            try:
                await until(lambda: acknowledged() >= total * KILL_AT, LOAD_DEADLINE, "load before the kill")
                await copies.services[leader].kill()
                killed_at = acknowledged()
                at_kill: Leased = await leased_rows(copies.db)
                async with asyncio.timeout(LOAD_DEADLINE):
                    await load
            finally:
                load.cancel()
                await asyncio.gather(load, return_exceptions=True)

            async def drained() -> bool:
                return await unfinished(copies.db) == 0

            await until(drained, DRAIN_DEADLINE, "every reply to be delivered (after the killed leases)")
            stop_polling.set()
            await asyncio.gather(*polls)

    # Another copy took over the scheduled jobs after the leader died, and only one did.
    leads = copies.count(LEADS)
    assert leads[leader] == 1
    assert sum(leads.values()) == 2, leads
    assert copies.count(JOB_RAN) == leads, (copies.count(JOB_RAN), leads)

    # Every acknowledged message is stored, once.
    seen = {row.provider_key for row in await fetch(copies.db, select(InboundSeenRow))}
    sent_ids = [("telegram", str(u)) for u in crowd.acknowledged] + [
        (p.channel.value, ref) for p in people for ref in p.acknowledged
    ]
    assert len(sent_ids) == total
    assert all(keys.provider_key(channel, ref) in seen for channel, ref in sent_ids)
    pseudonym = {id(p): keys.pseudonym(Contact(p.channel, p.address)) for p in people}
    chat_of = {chat_pseudonym(keys, user.id): user.id for user in users}
    owners = await contacts_by_id(copies.db)
    by_conversation = {conv.id: conv for conv in await conversations(copies.db)}
    inbound = await messages(copies.db, "in")
    count = Counter(message.conversation_id for message in inbound)
    # One conversation a person (and the console's), each with exactly the script's messages, and each
    # intake at the step the script leads to: a message handled out of order would have led elsewhere.
    load_conversations = [c for c in by_conversation.values() if count[c.id] == len(SCRIPT)]
    assert len(load_conversations) == TELEGRAM_USERS + SMS_USERS + WEBCHAT_USERS
    for conv in load_conversations:
        state = FlowState.from_json(conv.state)
        assert (conv.status, state.step, len(state.topics)) == ("intake", Step.TOPICS, 1), conv.id
    # Telegram keeps the message ids: each person's messages are stored in the order they were sent.
    telegram_refs: dict[int, list[int]] = {}
    for message in inbound:
        if message.provider_ref is not None:
            contact_id = by_conversation[message.conversation_id].contact_id
            assert contact_id is not None
            telegram_refs.setdefault(chat_of[owners[contact_id]], []).append(int(message.provider_ref))
    assert telegram_refs == crowd.message_ids

    # Every committed reply reached its person, in order; a repeat only where a send was in flight at
    # the kill, at most one per person.
    rows = await outbox(copies.db)
    assert {row.status for row in rows} == {"sent"}, [(r.id, r.status, r.last_error) for r in rows]
    telegram_sent = delivered_texts(fake_telegram)
    sms_sent: dict[str, list[str]] = {}
    for call in fake_twilio[0].sent:
        sms_sent.setdefault(call.to, []).append(call.body or "")
    repeats = 0
    for key, delivered, render in [
        *((chat_pseudonym(keys, u.id), telegram_sent.get(u.id, []), telegram_text) for u in users),
        *(
            (
                pseudonym[id(p)],
                sms_sent.get(p.address, []),
                lambda payload: sms.render(reply_from_payload(payload)),
            )
            for p in texters
        ),
    ]:
        expected = [render(row.payload) for row in rows if row.pseudonym == key]
        assert len(expected) == len(SCRIPT) + 1, (key, expected)
        extra, missing = extra_sends(expected, delivered)
        assert not missing, (key, missing)
        assert collapse_repeats(delivered) == expected, (key, delivered)
        if extra:
            assert sum(extra.values()) == 1, (key, extra)
            assert key in at_kill.by_pseudonym, (key, extra)
            repeats += 1
    for tab in tabs:
        expected_ids = [row.id for row in rows if row.pseudonym == pseudonym[id(tab)]]
        assert [m["id"] for m in tab.received] == expected_ids
        assert len(expected_ids) == len(SCRIPT) + 1

    # The balancer spread each person's messages over the copies, and every copy served some.
    served = [p.served_by for p in people]
    unused = set(COPIES) - set().union(*map(set, served))
    # If one served nothing, what the balancer said of it (its checks) and how that copy's log ends.
    assert not unused, (
        unused,
        (tmp_path / "haproxy.log").read_text(errors="replace")[-4000:],
        {name: copies.log(name)[-4000:] for name in unused},
    )
    assert sum(1 for s in served if len(set(s)) > 1) >= len(people) // 2
    failures = sum(p.failures for p in people) + sum(1 for a in crowd.attempts if not a.acknowledged)
    with capsys.disabled():
        print(
            f"\nthree copies behind HAProxy: messages={total} (killed {leader} at {killed_at}) "
            f"console heard across copies in {heard * 1000:.0f} ms; replies={len(rows)} repeats={repeats} "
            f"leased at the kill={at_kill.rows}; refused or cut-off requests re-sent={failures}; "
            f"run time={loop.time() - started:.1f}s"
        )
