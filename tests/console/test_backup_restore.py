"""The README's back-up and restore, followed: pg_dump of a database with conversations, restored into a
fresh database, and the service on the restored one serves the same conversations to staff and person."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.channels.webchat_tab import Chat, Client
from tests.conftest import _scratch_postgres, postgres_url
from tests.console.conftest import MakeConsole
from tests.console.staff_client import Staff

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgres"], indirect=True)]


def libpq(url: str) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore take it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def tab(client: Client, token: str) -> Chat:
    """The person's browser tab, reloaded: the same token, reading from the first reply."""
    chat = Chat(client)
    chat.token = token
    return chat


def run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr


async def test_a_dump_restored_into_a_fresh_database_serves_the_same_conversations(
    make_console: MakeConsole, database_url: str, tmp_path: Path
) -> None:
    original = await make_console()
    anna = await original.signed_in("anna")
    chat, conversation = await original.queued("I need to talk to someone")
    await anna.act(conversation, "claim")
    await anna.act(conversation, "messages", {"text": "Hi, this is Anna."})
    await anna.act(conversation, "notes", {"text": "Asked to be called Sara."})
    replies_before = [m["text"] for m in await tab(original.client, chat.token).poll()]
    before = await anna.conversation(conversation)
    queue_before = await anna.queue()
    assert "Hi, this is Anna." in replies_before

    # The README's commands: a custom-format dump, restored without owners into an empty database.
    dump = tmp_path / "helpline.dump"
    run("pg_dump", "--format=custom", "--no-owner", "--file", str(dump), libpq(database_url))
    admin = postgres_url()
    assert admin is not None
    async for restored_url in _scratch_postgres(admin):
        run("pg_restore", "--no-owner", "--exit-on-error", "--dbname", libpq(restored_url), str(dump))
        restored = await make_console(HELPLINE_DATABASE_URL=restored_url)
        # The same staff account (its password hash came along), the same conversation and messages.
        anna_again = await Staff(restored.client, "anna").sign_in()
        after = await anna_again.conversation(conversation)
        assert after["messages"] == before["messages"]
        assert after["conversation"]["status"] == before["conversation"]["status"] == "claimed"
        assert [c["id"] for c in (await anna_again.queue())["mine"]] == [
            c["id"] for c in queue_before["mine"]
        ]
        # The person's tab (its token signed with the same key) reads the same replies, and writes on.
        again = tab(restored.client, chat.token)
        assert [m["text"] for m in await again.poll()] == replies_before
        assert await again.send("Thank you", client_id="after-the-restore-1") == "accepted"
        assert (await anna_again.conversation(conversation))["messages"][-1]["text"] == "Thank you"
        await restored.client.close()  # before its database is dropped
