"""The live stream across two real service processes on one PostgreSQL database.

Each process is `helpline serve` on a port of its own, both on a scratch database made for the test and
dropped after it. A console on process A must hear of what happens on process B (LISTEN/NOTIFY), and a
staff session, being in the database, works on either.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.channels.webchat_tab import Chat
from tests.conftest import HELPLINE_COMMAND
from tests.console.conftest import ALWAYS_OPEN
from tests.console.staff_client import PASSWORD, WAIT_SECONDS, Staff
from tests.console.test_stream_ends import busy_line, until_signed_out

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgres"], indirect=True)]


@dataclass
class Service:
    name: str
    url: str
    process: asyncio.subprocess.Process
    log: Path
    env: dict[str, str]

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def helpline(env: dict[str, str], *args: str, stdin: bytes = b"") -> None:
    process = await asyncio.create_subprocess_exec(
        *HELPLINE_COMMAND,
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(WAIT_SECONDS * 3):
        output, _ = await process.communicate(stdin)
    assert process.returncode == 0, output.decode()


async def start(name: str, env: dict[str, str], tmp_path: Path) -> Service:
    port = free_port()
    log = tmp_path / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *HELPLINE_COMMAND,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            env=env,
            stdout=out,
            stderr=out,
        )
    return Service(name, f"http://127.0.0.1:{port}", process, log, env)


async def ready(service: Service) -> None:
    """Until /readyz answers 200 (migrated, database reachable); fails if the process dies first."""
    async with aiohttp.ClientSession() as http, asyncio.timeout(WAIT_SECONDS * 3):
        while True:
            assert service.process.returncode is None, f"{service.name} exited:\n{service.output()}"
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{service.url}/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)


async def stop(service: Service) -> None:
    if service.process.returncode is not None:
        return
    service.process.terminate()
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            await service.process.wait()
    except TimeoutError:
        service.process.kill()
        await service.process.wait()


@pytest.fixture
async def services(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Service, Service]]:
    """Two copies started at the same moment on a new database, as a deployment with two replicas does."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "HELPLINE_ENV": "production",
        "HELPLINE_SECRET_KEY": "3dzPH90a56_NxHYpCahYvXqqI3TxbeOhYnloXIDcf5A",
        "HELPLINE_DATABASE_URL": database_url,
        "HELPLINE_CONFIG": str(ALWAYS_OPEN),
    }
    a = await start("A", env, tmp_path)
    b = await start("B", env, tmp_path)
    try:
        await asyncio.gather(ready(a), ready(b))
        for name in ("anna", "bjorn"):
            await helpline(env, "staff", "add", name, stdin=f"{PASSWORD}\n".encode())
        yield a, b
    finally:
        await asyncio.gather(stop(a), stop(b))


@contextlib.asynccontextmanager
async def client(service: Service) -> AsyncIterator[aiohttp.ClientSession]:
    # No cookie jar: Staff sends its cookie itself, and a person's chat has none.
    async with aiohttp.ClientSession(base_url=service.url, cookie_jar=aiohttp.DummyCookieJar()) as http:
        yield http


async def test_a_person_writing_through_b_shows_on_the_stream_of_a(services: tuple[Service, Service]) -> None:
    a, b = services
    async with client(a) as on_a, client(b) as on_b:
        anna = await Staff(on_a, "anna").sign_in()
        stream = await anna.stream()
        chat = await Chat(on_b, lang="en").start()
        assert await chat.send("Is anyone there? I am writing from school.") == "accepted"

        conversation = await stream.change()
        assert conversation is not None
        # The event names the conversation that B just opened: A reads it from the shared database.
        detail = await anna.conversation(conversation)
        assert detail["conversation"]["channel"] == "webchat"
        assert detail["messages"][0]["text"] == "Is anyone there? I am writing from school."
        stream.close()


async def test_a_claim_on_b_shows_on_a_and_a_reply_through_a_reaches_the_person_on_b(
    services: tuple[Service, Service],
) -> None:
    a, b = services
    async with client(a) as on_a, client(b) as on_b:
        anna = await Staff(on_a, "anna").sign_in()
        stream = await anna.stream()
        chat = await Chat(on_b, lang="en").start()
        await chat.send("I need help")
        conversation = await stream.change()
        assert conversation is not None
        await chat.poll()

        bjorn = await Staff(on_b, "bjorn").sign_in()
        assert await bjorn.act(conversation, "claim") == {"ok": True}
        assert await stream.change() == conversation
        summary = (await anna.conversation(conversation))["conversation"]
        assert (summary["status"], summary["claimed_by"]) == ("claimed", "bjorn")

        # Bjørn's session is in the database: the same cookie works on A, where he replies.
        bjorn.http = on_a
        reply = await bjorn.act(conversation, "messages", {"text": "Hi, I am Bjørn. I am here."})
        assert reply["held"] is False
        assert await stream.change() == conversation
        # The person, still polling B, gets it (B finds what A wrote to the shared outbox).
        texts: list[str] = []
        async with asyncio.timeout(WAIT_SECONDS):
            while "Hi, I am Bjørn. I am here." not in texts:
                texts += [m["text"] for m in await chat.poll()]
        stream.close()


async def test_signing_out_on_b_or_disabling_from_the_command_line_ends_streams_on_a_at_once(
    services: tuple[Service, Service],
) -> None:
    """Not at the stream's next session check (15 s): at once, on a line busy enough that the stream's
    wait never times out."""
    a, b = services
    async with client(a) as on_a, client(b) as on_b:
        anna = await Staff(on_a, "anna").sign_in()
        other_tab = await Staff(on_a, "anna").sign_in()
        streams = [await anna.stream(), await other_tab.stream()]
        chat = await Chat(on_b, lang="en").start()
        await chat.send("I need help")
        conversation = await streams[0].change()
        assert conversation is not None
        bjorn = await Staff(on_b, "bjorn").sign_in()
        async with busy_line(bjorn, conversation):
            # Signed out through B: A's stream of that session ends.
            anna.http = on_b
            assert (await anna.sign_out()).status == 303
            await until_signed_out(streams[0])
            # Disabled by an operator's command: the member's other streams end too.
            await helpline(a.env, "staff", "disable", "anna")
            await until_signed_out(streams[1])


async def test_typing_crosses_the_copies_both_ways(services: tuple[Service, Service]) -> None:
    """The person types on B and the console on A shows it; the staff member types on A and the person's
    poll on B shows "Writing…" (web chat typing, intake/typing_signals.py: over the bus, never stored)."""
    a, b = services
    async with client(a) as on_a, client(b) as on_b:
        anna = await Staff(on_a, "anna").sign_in()
        stream = await anna.stream()
        chat = await Chat(on_b, lang="en").start()
        await chat.send("I need help")
        conversation = await stream.change()
        assert conversation is not None
        await chat.poll()
        await anna.act(conversation, "claim")
        await chat.poll()

        response = await on_b.post("/chat/api/typing", json={"typing": True}, headers=chat.headers)
        assert response.status == 202
        assert (await response.json())["sent"] is True
        event = await stream.next()
        while event.name != "typing":
            event = await stream.next()
        assert event.data == {"conversation": conversation, "typing": True}

        assert await anna.act(conversation, "typing", {"typing": True}) == {"ok": True, "sent": True}
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                polled = await on_b.get(f"/chat/api/poll?after={chat.after}", headers=chat.headers)
                if (await polled.json()).get("typing") is True:
                    break
        stream.close()
