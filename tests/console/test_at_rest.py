"""Message text, staff notes and outbox payloads are stored encrypted (SQLite and PostgreSQL): the raw
columns hold no clear text, while staff and the person read everything as written."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tests.console.conftest import Console

WRITTEN = "my brother reads my phone at night"
REPLY = "Thank you for writing. We can talk here, nobody else reads this."
NOTE = "Father controls the phone; only write in the afternoon."


async def raw_values(console: Console) -> list[str]:
    """Every value of every table as the database hands it out, bypassing the models' types."""
    values: list[str] = []
    async with console.wiring.storage.engine.connect() as conn:
        for table in ("contacts", "conversations", "messages", "outbox", "stat_records", "audit_log"):
            for row in await conn.execute(text(f"SELECT * FROM {table}")):  # noqa: S608 - fixed names
                values.extend(as_text(value) for value in row)
    return values


def as_text(value: Any) -> str:
    return bytes(value).decode("latin-1") if isinstance(value, bytes | memoryview) else str(value)


async def test_transcripts_notes_and_replies_are_stored_encrypted_and_read_clear(console: Console) -> None:
    chat, conversation = await console.queued(WRITTEN)
    anna = await console.signed_in("anna")
    await anna.act(conversation, "claim")
    await anna.act(conversation, "messages", {"text": REPLY})
    await anna.act(conversation, "notes", {"text": NOTE})

    # Staff and the person read what was written.
    shown = [m["text"] for m in (await anna.conversation(conversation))["messages"]]
    assert {WRITTEN, REPLY, NOTE} <= set(shown)
    assert REPLY in [reply["text"] for reply in await chat.poll()]

    # The database holds none of it, nor a word of the bot's own replies (which would tell the language
    # and the step), nor a payload's keys.
    stored = await raw_values(console)
    for secret in (WRITTEN, "brother", REPLY, "nobody else", NOTE, "afternoon", '"choices"', '"text"'):
        assert not any(secret in value for value in stored), secret
    async with console.wiring.storage.engine.connect() as conn:
        tokens = (await conn.execute(text("SELECT text FROM messages"))).scalars().all()
    assert tokens
    assert all(str(token).startswith("gAAAAA") for token in tokens)  # Fernet tokens
