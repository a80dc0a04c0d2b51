"""Key rotation on SQLite and PostgreSQL: the newest key encrypts, every configured key reads, `keys rotate`
re-encrypts everything stored (in batches, safe to re-run), and pseudonyms do not change on the way."""

from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.messages import Channel
from intake.privacy import Keys, UnreadableAddress
from intake.service import IntakeService
from intake.storage.rekey import ENCRYPTED_COLUMNS, Rotate, Unreadable, rotate_all
from intake.storage.sealed import UNREADABLE_TEXT, use_cipher
from tests.integration.conftest import Clock, Writer, conversations, messages, outbox
from tests.integration.test_cli import helpline, sqlite_url
from tests.integration.test_outbox import FakeTelegram, worker

OLD = secrets.token_urlsafe(32)
NEW = secrets.token_urlsafe(32)
ADDRESS = "4711-chat-address"


def raw_token(value: Any) -> bytes:
    """A token as stored: bytes, text, or a JSON string (as the driver hands JSON back: text or decoded)."""
    if isinstance(value, str) and value.startswith('"'):
        value = json.loads(value)
    return value.encode("ascii") if isinstance(value, str) else bytes(value)


def configure(service: IntakeService, engine: AsyncEngine, keys: Keys) -> None:
    """The service restarted with these keys: addresses and the sealed columns both use them."""
    service.keys = keys
    use_cipher(engine, keys)


def rotating(keys: Keys) -> Rotate:
    def rotate(token: bytes) -> bytes | None:
        try:
            return keys.rotated(token)
        except UnreadableAddress:
            raise Unreadable from None

    return rotate


async def stored(engine: AsyncEngine) -> dict[str, list[bytes]]:
    """Every encrypted value as the database holds it."""
    values: dict[str, list[bytes]] = {}
    async with engine.connect() as conn:
        for sealed in ENCRYPTED_COLUMNS:
            rows = await conn.execute(
                text(f"SELECT {sealed.column} FROM {sealed.table} ORDER BY id")  # noqa: S608
            )
            values[sealed.name] = [raw_token(v) for (v,) in rows if v]
    return values


async def test_rotation_reencrypts_everything_once_and_pseudonyms_stay(
    service: IntakeService, clock: Clock, engine: AsyncEngine
) -> None:
    configure(service, engine, Keys.from_secrets([OLD], OLD))
    person = Writer(service, ADDRESS, Channel.TELEGRAM)
    await person.says("hei")
    pseudonym = person.pseudonym

    # The operator adds a new key in front and keeps the pseudonym key: nothing old becomes unreadable.
    configure(service, engine, Keys.from_secrets([NEW, OLD], OLD))
    await person.says("nb")
    assert person.pseudonym == pseudonym
    before = await stored(engine)
    assert sum(map(len, before.values())) >= 4

    seen: list[tuple[str, int, int]] = []
    result = await rotate_all(service.db, rotating(service.keys), batch=2, progress=lambda *p: seen.append(p))
    assert sum(result.rewritten.values()) > 0
    assert not any(result.unreadable.values())
    assert ("outbox.address_enc", 2, len(before["outbox.address_enc"])) in seen  # in batches, with progress

    # Everything opens with the new key alone, and says what it said before.
    only_new = Keys.from_secrets([NEW], OLD)
    after = await stored(engine)
    assert {name: len(v) for name, v in after.items()} == {name: len(v) for name, v in before.items()}
    for name, values in after.items():
        assert [only_new.decrypt(v) for v in values] == [service.keys.decrypt(v) for v in before[name]]

    again = await rotate_all(service.db, rotating(service.keys), batch=2)
    assert sum(again.rewritten.values()) == 0  # safe to re-run: nothing left to do
    assert await stored(engine) == after

    # The old key dropped: the person is still the same person (one conversation), and replies still go.
    configure(service, engine, only_new)
    await person.says("3")
    assert person.pseudonym == pseudonym
    assert len(await conversations(service.db)) == 1
    fake = FakeTelegram()
    await worker(service, clock, fake).run_once()
    assert fake.delivered
    assert {m.contact.address for m in fake.delivered} == {ADDRESS}


async def test_values_no_key_opens_are_counted_and_left_alone(
    service: IntakeService, engine: AsyncEngine
) -> None:
    configure(service, engine, Keys.from_secrets([OLD], OLD))
    await Writer(service, ADDRESS).says("hei")
    lost = Keys.from_secrets([NEW], OLD)  # OLD forgotten before the rotation
    result = await rotate_all(service.db, rotating(lost))
    assert result.unreadable["contacts.address_enc"] == 1
    assert sum(result.rewritten.values()) == 0


def test_keys_rotate_command(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    assert (
        helpline(tmp_path, ["migrate"], {"HELPLINE_SECRET_KEY": OLD, "HELPLINE_DATABASE_URL": url}).returncode
        == 0
    )
    old_token = Keys.from_secret(OLD).encrypt("+4791234567")
    with sqlite3.connect(tmp_path / "helpline.db") as db:
        db.executemany(
            "INSERT INTO contacts (pseudonym, channel, address_enc, created_at, last_seen_at, hostile,"
            " opted_out, block_notified) VALUES (?, 'sms', ?, '2026-11-24', '2026-11-24', 0, 0, 0)",
            [(f"p{n}", old_token) for n in range(3)],
        )
    env = {
        "HELPLINE_SECRET_KEYS": f"{NEW},{OLD}",
        "HELPLINE_PSEUDONYM_KEY": OLD,
        "HELPLINE_DATABASE_URL": url,
    }
    first = helpline(tmp_path, ["keys", "rotate", "--batch", "2"], env)
    assert first.returncode == 0, first.stderr
    assert "contacts.address_enc: 2/3" in first.stdout
    assert "re-encrypted 3 value(s)" in first.stdout
    with sqlite3.connect(tmp_path / "helpline.db") as db:
        tokens = [bytes(t) for (t,) in db.execute("SELECT address_enc FROM contacts")]
    new_only = Keys.from_secret(NEW)
    assert [new_only.decrypt(t) for t in tokens] == ["+4791234567"] * 3
    second = helpline(tmp_path, ["keys", "rotate"], env)
    assert "re-encrypted 0 value(s) with the newest key; 3 already were" in second.stdout


async def test_text_no_key_opens_is_shown_as_such_and_never_sent(
    service: IntakeService, clock: Clock, engine: AsyncEngine
) -> None:
    """An operator dropped a key before `keys rotate` finished: staff see a marker instead of an error,
    and a reply that cannot be read fails instead of going out empty."""
    configure(service, engine, Keys.from_secrets([OLD], OLD))
    await Writer(service, ADDRESS).says("hei")
    use_cipher(engine, Keys.from_secrets([NEW], OLD))  # the payloads' key is gone; the address still opens
    assert {m.text for m in await messages(service.db)} == {UNREADABLE_TEXT}
    fake = FakeTelegram()
    for _ in range(3):  # the later reply waits for the failed one, then fails the same way
        await worker(service, clock, fake).run_once()
        clock.advance(minutes=10)
    assert fake.attempts == []
    assert {row.status for row in await outbox(service.db)} == {"failed"}
