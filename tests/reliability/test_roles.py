"""`helpline serve --role web` and `--role sender` on one database (SQLite and PostgreSQL): the web process
receives and queues every reply and sends none; the sender process receives nothing and sends them all, in
each person's order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from bots.channels.telegram.channel import SECRET_HEADER, WEBHOOK_PATH
from intake.privacy import Keys
from intake.storage.db import make_database, make_engine
from intake.storage.uow import Database
from tests.channels.fake_telegram import TOKEN, FakeTelegram, User, serve
from tests.conftest import REPO
from tests.integration.conftest import outbox
from tests.reliability.harness import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    Crowd,
    Service,
    chat_pseudonym,
    delivered_texts,
    free_port,
    telegram_text,
    unfinished,
    until,
)

# Hello, Norwegian, "yes, I can write safely", "about myself": five replies a person.
SCRIPT = ("hei", "1", "1", "1")
USERS = 6
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def fake(aiohttp_server: AiohttpServer) -> FakeTelegram:
    return await serve(aiohttp_server)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    engine = make_engine(database_url)
    try:
        yield make_database(engine, Keys.from_secret(SECRET_KEY))
    finally:
        await engine.dispose()


def role(name: str, fake: FakeTelegram, database_url: str, logs: Path) -> Service:
    logs.mkdir()
    env = {
        "HELPLINE_ENV": "development",
        "HELPLINE_SECRET_KEY": SECRET_KEY,
        "HELPLINE_DATABASE_URL": database_url,
        "HELPLINE_CONFIG": str(REPO / "deploy" / "config" / "always-open.toml"),
        "HELPLINE_TELEGRAM_TOKEN": TOKEN,
        "HELPLINE_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "HELPLINE_TELEGRAM_API_URL": fake.base_url,
    }
    return Service(env=env, port=free_port(), logs=logs, options=("--role", name))


async def test_the_web_process_queues_and_only_the_sender_sends(
    fake: FakeTelegram, database_url: str, db: Database, tmp_path: Path
) -> None:
    web, sender = (
        role("web", fake, database_url, tmp_path / "web"),
        role("sender", fake, database_url, tmp_path / "s"),
    )
    try:
        await web.start()
        users = [User(7_100_000_000 + n, f"User{n}", "nb") for n in range(USERS)]
        await Crowd(fake, web, users, SCRIPT, seed=7).run()

        # Every message acknowledged and its replies committed, none sent: the web process sends nothing.
        rows = await outbox(db)
        assert len(rows) == USERS * (len(SCRIPT) + 1)
        assert {row.status for row in rows} == {"pending"}
        assert fake.calls_to("sendMessage") == []

        await sender.start()
        # Nothing is received by the sender: no webhook, no chat, no console.
        async with aiohttp.ClientSession() as http:
            update = fake.text(users[0], "hei")
            async with http.post(
                sender.url + WEBHOOK_PATH, json=update, headers={SECRET_HEADER: WEBHOOK_SECRET}
            ) as response:
                assert response.status == 404
            for path in ("/chat", "/staff"):
                async with http.get(sender.url + path, allow_redirects=False) as response:
                    assert response.status == 404, path

        async def drained() -> bool:
            return await unfinished(db) == 0

        await until(drained, 30, "the sender to send every queued reply")
        # Each person got exactly their replies, in the order they were committed.
        keys = Keys.from_secret(SECRET_KEY)
        delivered = delivered_texts(fake)
        for user in users:
            expected = [
                telegram_text(row.payload) for row in rows if row.pseudonym == chat_pseudonym(keys, user.id)
            ]
            assert len(expected) == len(SCRIPT) + 1
            assert delivered[user.id] == expected
    finally:
        web.stop_now()
        sender.stop_now()
