"""HAProxy (Debian's package) in front of several copies of the service, on loopback ports.

Used by the three-copy test and by `python -m bench --copies`. The configuration is written per run:
round robin per request, health checks on /readyz, a request that could not reach a copy (refused: the
copy died) is sent to another, and timeouts long enough for the web chat's long poll and the console's
event stream. Each answer names the copy that served it in `X-Served-By`.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def available() -> bool:
    return Path(HAPROXY).exists()


def config(port: int, copies: Sequence[tuple[str, int]]) -> str:
    servers = "\n".join(f"    server {name} 127.0.0.1:{copy_port} check" for name, copy_port in copies)
    return f"""global
    maxconn 4000

defaults
    mode http
    timeout connect 2s
    timeout client 90s
    timeout server 90s
    retries 3
    option redispatch 1
    # Only a request that never reached a copy is sent to another: a POST a copy may have handled is
    # left to the client (Telegram and Twilio re-send; the web chat re-sends with the same id).
    retry-on conn-failure

frontend public
    bind 127.0.0.1:{port}
    default_backend copies

backend copies
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    # A copy under full load answers its check late (behind the webhooks' work): with the check's
    # time-out at its interval (300 ms) every copy was marked down at once and HAProxy answered 503 to
    # a third of the benchmark's posts. A dead copy still refuses connections at once (redispatched).
    timeout check 5s
    default-server inter 500ms fall 3 rise 2
    http-response set-header X-Served-By %[srv_name]
{servers}
"""


@contextlib.asynccontextmanager
async def haproxy(port: int, copies: Sequence[tuple[str, int]], workdir: Path) -> AsyncIterator[str]:
    """HAProxy in the foreground for the body; yields its URL. Checked with `haproxy -c` first."""
    path = workdir / "haproxy.cfg"
    path.write_text(config(port, copies), encoding="utf-8")
    check = await asyncio.create_subprocess_exec(
        HAPROXY, "-c", "-q", "-f", str(path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output, _ = await check.communicate()
    assert check.returncode == 0, output.decode()
    log = (workdir / "haproxy.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        HAPROXY, "-db", "-f", str(path), stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(20):
            while True:
                assert process.returncode is None, (workdir / "haproxy.log").read_text()
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(url + "/readyz") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.1)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()
