"""The fuzz tests' one fixture: the whole service, every channel on, against the local fakes.

It runs on a temp SQLite file; HELPLINE_FUZZ_DATABASE=postgres runs it on a scratch database of the test
PostgreSQL server instead (HELPLINE_TEST_POSTGRES_URL), where text may hold no NUL.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bots.app import WIRING, make_app
from bots.channels.webchat import chat as webchat
from intake.config import load_settings
from intake.limits import ChatLimits
from tests.channels.console_client import FAST_HASHER, sign_in
from tests.channels.fake_telegram import TOKEN, FakeTelegram
from tests.channels.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.channels.webchat_tab import Chat
from tests.conftest import _require_postgres, _scratch_postgres
from tests.fuzz.harness import (
    CONSOLE_NOW,
    OTHER_STAFF,
    PASSWORD,
    PUBLIC_URL,
    REPO,
    SMS_FROM,
    STAFF,
    TELEGRAM_SECRET,
    WHATSAPP_FROM,
    Service,
)

UNLIMITED = ChatLimits(
    sessions_per_minute=10**9,
    messages_per_minute=10**9,
    address_messages_per_minute=10**9,
    new_sessions_per_minute=10**9,
)


@pytest.fixture
async def fuzz_database_url(tmp_path: Path) -> AsyncIterator[str]:
    if os.environ.get("HELPLINE_FUZZ_DATABASE") == "postgres":
        async for url in _scratch_postgres(_require_postgres()):
            yield url
        return
    yield f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}"


@pytest.fixture
async def service(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    fuzz_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Service]:
    telegram = FakeTelegram()
    telegram.base_url = str((await aiohttp_server(telegram.app)).make_url("/bot"))
    twilio = await aiohttp_server(FakeTwilio().app)
    env = {
        "HELPLINE_ENV": "development",
        "HELPLINE_SECRET_KEY": "fdVIkQ9iOX84gXkehlAyULvGcYE0J1zQa_-5V9H5ZOA",
        "HELPLINE_DATABASE_URL": fuzz_database_url,
        "HELPLINE_CONFIG": str(REPO / "deploy" / "config" / "always-open.toml"),
        "HELPLINE_PUBLIC_URL": PUBLIC_URL,
        "HELPLINE_TELEGRAM_TOKEN": TOKEN,
        "HELPLINE_TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "HELPLINE_TELEGRAM_API_URL": telegram.base_url,
        "HELPLINE_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "HELPLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "HELPLINE_TWILIO_SMS_FROM": SMS_FROM,
        "HELPLINE_TWILIO_WHATSAPP_FROM": WHATSAPP_FROM,
        "HELPLINE_TWILIO_VOICE_NUMBER": "+4722000000",
        "HELPLINE_TWILIO_API_URL": str(twilio.make_url("")),
    }
    # A poll answers at once: what it answers is under test, not how long it waits.
    monkeypatch.setattr(webchat, "POLL_SECONDS", 0.0)
    client = await aiohttp_client(make_app(load_settings(env), run_outbox=False))
    assert client.app is not None
    # Thousands of requests from one address and one chat: the limits (tested on their own) would refuse
    # most of them.
    client.app[WIRING].webchat.limits = UNLIMITED
    accounts = client.app[WIRING].accounts
    accounts.clock = lambda: CONSOLE_NOW
    accounts.hasher = FAST_HASHER
    await accounts.add(STAFF, PASSWORD)
    await accounts.add(OTHER_STAFF, PASSWORD)
    cookie, csrf = await sign_in(client, STAFF, PASSWORD)
    chat = await Chat(client).start()
    sqlite_file = fuzz_database_url.removeprefix("sqlite+aiosqlite:///")
    running = Service(
        client,
        Path(sqlite_file) if sqlite_file != fuzz_database_url else None,
        cookie,
        csrf,
        chat.token,
    )
    yield running
    await running.still_serving()
