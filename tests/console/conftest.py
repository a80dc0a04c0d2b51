"""The real app (bots.app.make_app) behind aiohttp's test client, on SQLite and on PostgreSQL.

The line is open around the clock (deploy/config/always-open.toml), so every person reaches the queue.
Staff sessions run on a clock the test moves by hand; the rest of the service keeps real time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import DummyCookieJar
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select

from bots.app import WIRING, Wiring, make_app
from intake.config import load_settings
from intake.messages import Channel, Contact
from intake.storage.models import ContactRow, ConversationRow
from tests.channels.console_client import FAST_HASHER
from tests.channels.webchat_tab import Chat, Client
from tests.console.staff_client import PASSWORD, Staff
from tests.integration.conftest import Clock, fetch

REPO = Path(__file__).resolve().parents[2]
ALWAYS_OPEN = REPO / "deploy" / "config" / "always-open.toml"
# More than the intake asks: a person who skips every question is in the queue by then.
MAX_QUESTIONS = 10


@dataclass
class Console:
    """The service under test, and the people who use it."""

    client: Client
    wiring: Wiring
    clock: Clock

    async def staff(self, name: str, *, admin: bool = False) -> Staff:
        """A new account, not signed in yet."""
        await self.wiring.accounts.add(name, PASSWORD, "admin" if admin else "staff")
        return Staff(self.client, name)

    async def signed_in(self, name: str, *, admin: bool = False) -> Staff:
        return await (await self.staff(name, admin=admin)).sign_in()

    async def person(self, lang: str = "en") -> Chat:
        return await Chat(self.client, lang=lang).start()

    async def conversation_of(self, chat: Chat) -> ConversationRow:
        """The person's newest conversation, found by pseudonym as the service finds it."""
        pseudonym = self.wiring.keys.pseudonym(Contact(Channel.WEBCHAT, chat.token))
        stmt = (
            select(ConversationRow)
            .join(ContactRow, ContactRow.id == ConversationRow.contact_id)
            .where(ContactRow.pseudonym == pseudonym)
            .order_by(ConversationRow.created_at.desc())
        )
        rows = await fetch(self.wiring.db, stmt)
        assert rows, "this person has no conversation"
        conversation: ConversationRow = rows[0]
        return conversation

    async def queued(self, first: str = "I need to talk to someone", *choices: str) -> tuple[Chat, str]:
        """A person who writes `first`, presses these buttons of the intake in turn, skips the rest and
        waits in the queue. Returns the person and the conversation's id."""
        chat = await self.person()
        await chat.send(first)
        for choice in choices:
            await chat.send(choice=choice)
        for _ in range(MAX_QUESTIONS):
            conversation = await self.conversation_of(chat)
            if conversation.status == "queued":
                return chat, conversation.id
            await chat.send("skip")
        raise AssertionError(f"still not in the queue: {conversation.state}")


MakeConsole = Callable[..., Awaitable[Console]]


@pytest.fixture
def make_console(aiohttp_client: AiohttpClient, database_url: str) -> MakeConsole:
    async def build(**env: str) -> Console:
        settings = load_settings(
            {
                "HELPLINE_ENV": "development",
                "HELPLINE_DATABASE_URL": database_url,
                "HELPLINE_CONFIG": str(ALWAYS_OPEN),
                **env,
            }
        )
        client = await aiohttp_client(make_app(settings), cookie_jar=DummyCookieJar())
        assert client.app is not None
        wiring = client.app[WIRING]
        clock = Clock(datetime.now(UTC))
        wiring.accounts.clock = clock
        # Argon2 at its production cost takes about a second a sign-in on a small CI machine; these tests
        # are about the console, not the hash, and every one signs people in.
        wiring.accounts.hasher = FAST_HASHER
        return Console(client, wiring, clock)

    return build


@pytest.fixture
async def console(make_console: MakeConsole) -> Console:
    return await make_console()
