"""What encrypting message text, notes and outbox payloads at rest costs per message, against the
service's CPU per message.

It runs the real service (SQLite in a temporary directory, no HTTP) for the same scripts `make bench`'s
users send, with a cipher that records every encryption and decryption the storage asks for, including
the outbox worker's reads; then it replays exactly those operations alone and takes their process CPU.
`make bench` prints the figure against that run's own CPU per message; alone it compares with the README's
last figures.

    python -m bench.crypto [--users N] [--service-ms SQLITE POSTGRES]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.driver import service_script
from intake.hours import OpeningHours
from intake.i18n import Catalogs, compile_catalogs, default_locales_dir
from intake.keywords import default_table
from intake.messages import Channel, Contact, InboundMessage, OutboundMessage
from intake.outbox import OutboxWorker
from intake.privacy import Keys
from intake.service import IntakeService
from intake.storage.db import make_database, make_engine, migrate

# The README's last `make bench` figures (2026-12-02): the service's CPU per message.
README_SERVICE_MS = {"sqlite": 13.4, "postgres": 10.3}
TARGET_SHARE = 0.05
MESSAGES_PER_USER = 10
ALWAYS_OPEN = {
    "public_holidays": "",
    "weekly": {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    "channel": {},
}


@dataclass
class Recording:
    """A cipher that passes everything to the service's keys and keeps what it was asked to do."""

    keys: Keys
    sealed: list[bytes] = field(default_factory=list)
    opened: list[bytes] = field(default_factory=list)

    def seal(self, data: bytes) -> bytes:
        self.sealed.append(data)
        return self.keys.seal(data)

    def unseal(self, token: bytes) -> bytes | None:
        self.opened.append(token)
        return self.keys.unseal(token)


class Delivered:
    async def send(self, message: OutboundMessage) -> str | None:
        return None


async def record(users: int, secret: str) -> tuple[Recording, int]:
    """The storage's encryptions and decryptions while `users` people go through the bench's script."""
    compile_catalogs(default_locales_dir())
    keys = Keys.from_secret(secret)
    recording = Recording(keys)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'crypto.db'}")
        try:
            db = make_database(engine, recording)
            await migrate(engine)
            service = IntakeService(
                db=db,
                keys=keys,
                catalogs=Catalogs(default_locales_dir(), ("nb", "en")),
                hours=OpeningHours.from_config(ALWAYS_OPEN),
                keywords=default_table(),
            )
            worker = OutboxWorker(db=db, keys=keys, senders={"telegram": Delivered()})
            messages = 0
            for user in range(users):
                contact = Contact(Channel.TELEGRAM, str(100_000 + user))
                for n, text in enumerate(service_script(MESSAGES_PER_USER)):
                    await service.handle(InboundMessage(contact, f"{user}-{n}", text, datetime.now(UTC)))
                    messages += 1
                await worker.run_once()
            while await worker.run_once():
                pass
        finally:
            await engine.dispose()
    return recording, messages


def replay(recording: Recording, keys: Keys) -> float:
    """Process CPU seconds of the recorded operations alone, with these keys, per pass (the recording
    is replayed until some 20,000 operations were timed, for a steady figure)."""
    passes = max(1, 20_000 // max(1, len(recording.sealed) + len(recording.opened)))
    started = time.process_time()
    for _ in range(passes):
        for data in recording.sealed:
            keys.seal(data)
        for token in recording.opened:
            if keys.unseal(token) is None:
                raise AssertionError("a recorded token did not open")
    return (time.process_time() - started) / passes


def measure(users: int = 20, rounds: int = 5) -> dict[str, Any]:
    secret = secrets.token_urlsafe(32)
    recording, messages = asyncio.run(record(users, secret))
    steady = statistics.median(replay(recording, recording.keys) for _ in range(rounds))
    # During a rotation the new key is tried first and fails on every value still under the old one.
    rotating = Keys.from_secrets([secrets.token_urlsafe(32), secret], secret)
    worst = statistics.median(replay(recording, rotating) for _ in range(rounds))
    sizes = [len(data) for data in recording.sealed]
    return {
        "messages": messages,
        "encryptions": len(recording.sealed),
        "decryptions": len(recording.opened),
        "mean_bytes": round(statistics.mean(sizes), 1) if sizes else 0,
        "ms_per_message": round(1000 * steady / messages, 4),
        "ms_per_message_rotating": round(1000 * worst / messages, 4),
    }


def render(crypto: dict[str, Any], service_ms: dict[str, float | None], source: str) -> str:
    """One paragraph: the cost per message, and its share of the service's CPU per message."""
    per = crypto["ms_per_message"]
    shares = []
    for db, name in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
        ms = service_ms.get(db)
        if ms:
            share = per / ms
            verdict = "met" if share < TARGET_SHARE else "NOT met"
            shares.append(f"{name} {100 * share:.2f} % of {ms:.1f} ms")
            shares[-1] += f" ({verdict})"
    return (
        f"Encryption at rest: {crypto['encryptions'] / crypto['messages']:.1f} encryptions and "
        f"{crypto['decryptions'] / crypto['messages']:.1f} decryptions per message (mean "
        f"{crypto['mean_bytes']:.0f} bytes), {per:.3f} ms CPU per message "
        f"({crypto['ms_per_message_rotating']:.3f} ms during a key rotation); of the service's CPU per "
        f"message ({source}): " + ", ".join(shares) + f"; target < {100 * TARGET_SHARE:.0f} %"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crypto", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--users", type=int, default=100, help="people going through the script (10 messages each)"
    )
    parser.add_argument(
        "--service-ms",
        type=float,
        nargs=2,
        metavar=("SQLITE", "POSTGRES"),
        help="the service's CPU per message to compare with (default: the README's last make bench)",
    )
    options = parser.parse_args(argv)
    from bench.procs import machine

    m = machine(None)
    print(f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}")
    service = (
        dict(zip(("sqlite", "postgres"), options.service_ms, strict=True)) if options.service_ms else None
    )
    print(
        render(measure(options.users), service or dict(README_SERVICE_MS), "given" if service else "README")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
