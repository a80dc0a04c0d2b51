"""The processes under test: start, wait until they answer, sample their memory, stop; scratch databases
and the machine's description."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def read_status_kb(pid: int, field_name: str) -> int:
    """A `VmRSS` / `VmHWM` line of /proc/<pid>/status, in kB (0 when the process is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Server:
    """One server process under test (its stdout and stderr go to a log file)."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    health_url: str
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    _log: IO[bytes] | None = None
    # Processes started after this one and stopped before it, measured with it (the service's sender).
    companions: list[Server] = field(default_factory=list)

    def _open_log(self) -> IO[bytes]:
        return open(self.log_path, "wb")

    async def start(self, patience: float = 60.0) -> None:
        """Starts the process and waits until its health URL answers 200; then its companions."""
        await self._start_alone(patience)
        for companion in self.companions:
            await companion.start(patience)

    async def _start_alone(self, patience: float) -> None:
        self._log = self._open_log()
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, env=dict(self.env), stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO
        )
        deadline = time.monotonic() + patience
        async with aiohttp.ClientSession() as session:
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(f"{self.name} exited at start-up; see {self.log_path}:\n{self.tail()}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(self.health_url) as response:
                        if response.status == 200:
                            return
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.name} did not answer within {patience:.0f} s; see {self.log_path}"
                    )
                await asyncio.sleep(0.1)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss_kb(self) -> int:
        return read_status_kb(self.pid, "VmRSS")

    def peak_kb(self) -> int:
        return read_status_kb(self.pid, "VmHWM")

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self) -> None:
        for companion in self.companions:
            await companion.stop()
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(20):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class MemorySample:
    seconds: float
    messages: int
    rss_kb: int


@dataclass
class MemorySampler:
    """Samples a process's RSS every `interval` seconds, with how many messages were answered by then."""

    server: Server
    messages: Callable[[], int]
    interval: float = 2.0
    samples: list[MemorySample] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def sample(self, started: float) -> None:
        elapsed = time.perf_counter() - started
        self.samples.append(MemorySample(elapsed, self.messages(), self.server.rss_kb()))

    async def _run(self) -> None:
        started = time.perf_counter()
        while True:
            self.sample(started)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.samples.append(MemorySample(0.0, self.messages(), self.server.rss_kb()))


def slope_per(samples: Sequence[MemorySample], per_messages: int, skip_fraction: float = 0.1) -> float:
    """Least-squares slope of RSS (MB) over messages answered, per `per_messages`; the first
    `skip_fraction` of the messages (warm-up: caches filling, pools opening) is left out."""
    if not samples:
        return 0.0
    last = max(s.messages for s in samples)
    points = [(s.messages, s.rss_kb / 1024.0) for s in samples if s.messages >= skip_fraction * last]
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return 0.0
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return cov / var * per_messages


class ScratchPostgres:
    """A fresh database on the server of `admin_url`, dropped on close."""

    def __init__(self, admin_url: str) -> None:
        self.admin = make_url(admin_url)
        self.name = f"bench_{uuid.uuid4().hex[:12]}"

    def _dsn(self, database: str) -> str:
        url = self.admin.set(drivername="postgresql", database=database)
        return url.render_as_string(hide_password=False)

    @property
    def url(self) -> str:
        url = self.admin.set(drivername="postgresql+asyncpg", database=self.name)
        return url.render_as_string(hide_password=False)

    async def _admin(self, sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self._dsn(self.admin.database or "postgres"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create(self) -> None:
        await self._admin(f'CREATE DATABASE "{self.name}"')

    async def drop(self) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    async def version(self) -> str:
        import asyncpg

        conn = await asyncpg.connect(self._dsn(self.admin.database or "postgres"))
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()


async def postgres_available(admin_url: str) -> bool:
    try:
        await ScratchPostgres(admin_url).version()
    except Exception:
        return False
    return True


def machine(postgres_version: str | None) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_kb = 0
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                ram_kb = int(line.split()[1])
                break
    versions: dict[str, str] = {}
    from importlib.metadata import PackageNotFoundError, version

    for package in ("aiohttp", "SQLAlchemy", "aiosqlite", "asyncpg", "python-telegram-bot"):
        with contextlib.suppress(PackageNotFoundError):
            versions[package] = version(package)
    return {
        "cpu": cpu,
        "cores": os.cpu_count() or 0,
        "ram_gb": round(ram_kb / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version,
        "libraries": versions,
    }


def python() -> str:
    return sys.executable


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0.0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(idle, total) jiffies of all cores so far, from /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return idle, sum(values[:8])


@dataclass
class CpuWindow:
    """CPU used by one process, and how idle the whole machine was, between start() and stop()."""

    pid: int
    _cpu: float = 0.0
    _idle: int = 0
    _total: int = 0
    server_seconds: float = 0.0
    machine_idle: float = 0.0

    def start(self) -> CpuWindow:
        self._cpu = cpu_seconds(self.pid)
        self._idle, self._total = machine_ticks()
        return self

    def stop(self) -> None:
        self.server_seconds = cpu_seconds(self.pid) - self._cpu
        idle, total = machine_ticks()
        self.machine_idle = (idle - self._idle) / (total - self._total) if total > self._total else 0.0
