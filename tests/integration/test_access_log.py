"""The access log of the real `helpline serve`: method, route, status and time, and nothing that could
tie a web chat visit to a person (client address, referer, user agent, query)."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import time
from asyncio.subprocess import Process
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import HELPLINE_COMMAND, REPO

REFERER = "https://www.example.org/search?q=forced+marriage+help+oslo"
USER_AGENT = "Mozilla/5.0 (Linux; Android 14; SM-A546B-sisters-phone)"
FORWARDED = "203.0.113.77"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until_up(session: aiohttp.ClientSession, base: str, server: Process) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.returncode is None, "the server stopped"
        try:
            async with session.get(f"{base}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("the server did not come up")


async def web_chat_visit(session: aiohttp.ClientSession, base: str) -> None:
    headers = {"Referer": REFERER, "User-Agent": USER_AGENT, "X-Forwarded-For": FORWARDED}
    async with session.get(f"{base}/chat?lang=en", headers=headers) as page:
        assert page.status == 200
    async with session.post(f"{base}/chat/api/session?lang=en", json={}, headers=headers) as started:
        token = (await started.json())["token"]
    chat = {**headers, "X-Chat-Token": token}
    body = {"text": "hei", "client_id": "c-00000001"}
    async with session.post(f"{base}/chat/api/send", json=body, headers=chat) as sent:
        assert sent.status == 202
    async with session.get(f"{base}/chat/api/poll?after=0", headers=chat) as polled:
        assert polled.status == 200
    async with session.get(f"{base}/chat/api/nowhere?lang=en", headers=headers) as missing:
        assert missing.status == 404


async def test_the_access_log_names_routes_and_nothing_about_the_visitor(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "HELPLINE_ENV": "production",  # JSON lines, as a log collector gets them
        "HELPLINE_SECRET_KEY": secrets.token_urlsafe(48),
        "HELPLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}",
        "HELPLINE_CONFIG": str(REPO / "deploy" / "config" / "always-open.toml"),
    }
    server = await asyncio.create_subprocess_exec(
        *HELPLINE_COMMAND,
        "serve",
        "--port",
        str(port),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_until_up(session, base, server)
            await web_chat_visit(session, base)
    finally:
        server.terminate()
        async with asyncio.timeout(60):
            raw_out, raw_err = await server.communicate()
    out, err = raw_out.decode(), raw_err.decode()
    lines: list[dict[str, Any]] = [
        json.loads(line) for line in (out + err).splitlines() if line.startswith("{")
    ]
    # Everything but the one start-up line that names the service's own listening address (not a visitor's).
    everything = "\n".join(
        line for line in (out + err).splitlines() if not line.startswith("helpline: serving http://")
    )
    for secret in ("127.0.0.1", FORWARDED, REFERER, "example.org", USER_AGENT, "Android", "lang=", "after="):
        assert secret not in everything, secret
    access = [entry for entry in lines if entry["logger"] == "helpline.access"]

    def logged(method: str, route: str, status: int) -> dict[str, Any]:
        [entry] = [e for e in access if (e["method"], e["route"], e["status"]) == (method, route, status)]
        return entry

    assert logged("GET", "/chat", 200)["duration_ms"] >= 0
    logged("POST", "/chat/api/session", 200)
    logged("POST", "/chat/api/send", 202)
    logged("GET", "/chat/api/poll", 200)
    logged("GET", "unmatched", 404)
    for entry in access:
        assert set(entry) == {"ts", "level", "logger", "msg", "method", "route", "status", "duration_ms"}
