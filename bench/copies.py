"""`python -m bench --copies 1,2,3`: the service on one PostgreSQL as 1, 2, 3 ... copies behind HAProxy.

For each count: a scratch database, that many `bench.serve` processes (the service with Telegram's send
pacing lifted, as in the rest of the bench), and Debian's HAProxy in front (round robin, the same
generated configuration the three-copy test uses: tests/reliability/balancer.py). The driver posts to the
balancer; the phase is the bench's closed-loop throughput (every expected reply counted). CPU is summed
over the copies, so `cpu_ms_per_message` says what one message costs whichever copy took it, and
1000 / it is what one core can carry.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bench.driver import PhaseResult, Target, service_script
from bench.procs import CpuWindow, ScratchPostgres, Server, free_port
from tests.reliability.balancer import available, haproxy

if TYPE_CHECKING:
    from bench.__main__ import Bench


async def run_copies(
    bench: Bench, counts: Sequence[int], path: str, summary: Callable[[PhaseResult], dict[str, Any]]
) -> dict[str, Any]:
    """`path`: the service's webhook path; `summary`: a phase's figures as the bench reports them."""
    if not available():
        raise RuntimeError("--copies needs HAProxy (Debian's package `haproxy`)")
    results: dict[str, Any] = {}
    for count in counts:
        print(f"service: {count} copies on PostgreSQL behind HAProxy", file=sys.stderr)
        scratch = ScratchPostgres(bench.options.postgres_url)
        await scratch.create()
        secret = secrets.token_urlsafe(24)
        env = bench.service_env(scratch.url, secret)
        servers, ports = [], [free_port() for _ in range(count)]
        for index, port in enumerate(ports):
            servers.append(
                Server(
                    f"service copy {index + 1}",
                    [sys.executable, "-m", "bench.serve", "serve", "--port", str(port)],
                    env,
                    f"http://127.0.0.1:{port}/readyz",
                    bench.workdir / f"copies-{count}-{index + 1}.log",
                )
            )
        workdir = bench.workdir / f"haproxy-{count}"
        workdir.mkdir()
        try:
            await asyncio.gather(*(server.start() for server in servers))
            upstream = [(f"copy{index + 1}", port) for index, port in enumerate(ports)]
            async with haproxy(free_port(), upstream, workdir) as front:
                target = Target(f"{count} copies", front + path, secret, service_script)
                driver = bench.driver(target)
                await bench.prepare(driver, target)
                windows = [CpuWindow(server.pid).start() for server in servers]
                result = await bench.throughput(driver, target)
                for window in windows:
                    window.stop()
            result.server_cpu_seconds = sum(window.server_seconds for window in windows)
            result.machine_idle = windows[0].machine_idle
            results[str(count)] = {
                "throughput": summary(result),
                "peak_rss_mb_per_copy": [round(server.peak_kb() / 1024, 1) for server in servers],
            }
        finally:
            await asyncio.gather(*(server.stop() for server in servers))
            await scratch.drop()
    return results


def render_copies(copies: dict[str, Any]) -> str:
    lines = [
        "",
        "Copies of the service on one PostgreSQL behind HAProxy (closed loop, every reply counted):",
        "| copies | msg/s | webhook p50 / p99 (ms) | CPU per message, all copies (ms) | msg/s per core "
        "| idle |",
        "|---|---|---|---|---|---|",
    ]
    for count, result in copies.items():
        phase = result["throughput"]
        cpu = phase["server_cpu_ms_per_message"]
        per_core = 1000 / cpu if cpu else 0.0
        lines.append(
            f"| {count} | {phase['messages_per_second']:.0f}{'' if phase['complete'] else ' (incomplete)'} "
            f"| {phase['latency_ms']['p50']:.0f} / {phase['latency_ms']['p99']:.0f} | {cpu:.1f} "
            f"| {per_core:.0f} | {phase['machine_idle']:.0%} |"
        )
    return "\n".join(lines)
