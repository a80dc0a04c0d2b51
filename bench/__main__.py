"""`python -m bench`: the end-to-end benchmark of the service's Telegram webhook, with three references.

Per database (SQLite, PostgreSQL) it starts, each in its own process: a fake Bot API that counts replies;
the direct reference (the headline: store the update once, send one reply, on `sqlite3` / asyncpg), the
bare reference (the same through SQLAlchemy's async layer); the service itself (`bots.cli serve`, a fresh
database); and once per run the python-telegram-bot reference (ConversationHandler + PicklePersistence, no
database). For each it measures throughput (messages per second from the first post until every expected
reply was counted) and webhook latency under that load; for the service and the database references also
the latency in an open loop at a fixed rate and the rate at which the webhook's p99 crosses a limit (a
stepped search), and for the service the memory over a long soak. See bench/README.md for each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench import crypto
from bench.copies import render_copies, run_copies
from bench.driver import (
    Driver,
    PhaseResult,
    ReplyCounter,
    SimUser,
    Target,
    UpdateIds,
    ptb_script,
    service_script,
)
from bench.procs import (
    REPO,
    CpuWindow,
    MemorySampler,
    ScratchPostgres,
    Server,
    free_port,
    machine,
    postgres_available,
    slope_per,
)
from bench.pyspy import PySpy
from bench.report import render

TOKEN = "123456:TEST"  # noqa: S105 - the fake Bot API's token
SERVICE_PATH = "/webhooks/telegram"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
TARGETS = ("service", "direct", "bare", "ptb")
# The database references: name -> module (both run with the same command line, bench/reference_cli.py).
REFERENCES = {"direct": "bench.reference_direct", "bare": "bench.reference_bare"}


@dataclass
class Options:
    users: int
    messages_per_user: int
    dbs: list[str]
    rate: float
    duration: float
    soak: int
    connections: int
    active_users: int
    targets: set[str]
    postgres_url: str
    quick: bool
    json_path: Path | None
    timeout: float
    telegram_limits: bool
    profile: Path | None
    knee_p99_ms: float
    knee_steps: int
    knee_seconds: float
    py_spy: Path | None
    py_spy_targets: set[str]
    copies: list[int] = field(default_factory=list)
    sender_process: bool = False


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description="End-to-end webhook benchmark.")
    parser.add_argument("--users", type=int, help="simulated users in the throughput run (1000; quick 200)")
    parser.add_argument("--messages-per-user", type=int, default=len(service_script(10)), metavar="M")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="a short run: fewer users, a shorter soak")
    parser.add_argument("--rate", type=float, default=300.0, help="open-loop rate, msg/s (300)")
    parser.add_argument("--duration", type=float, help="open-loop seconds (10; quick 5)")
    parser.add_argument("--soak", type=int, help="messages in the memory soak (100000; quick 10000; 0: none)")
    parser.add_argument("--connections", type=int, default=40, help="webhook connections (Telegram: 40)")
    parser.add_argument("--active-users", type=int, default=200, help="users writing at once in the soak")
    parser.add_argument(
        "--targets",
        help=f"comma-separated subset of {','.join(TARGETS)} (all; none with --copies)",
    )
    parser.add_argument(
        "--copies",
        default="",
        help="also run the service on PostgreSQL as N copies behind HAProxy, for each N: e.g. 1,2,3",
    )
    parser.add_argument(
        "--knee-p99", type=float, default=250.0, metavar="MS", help="the p99 whose crossing rate is sought"
    )
    parser.add_argument(
        "--knee-steps", type=int, default=8, help="most open-loop steps in that search (8; 0: no search)"
    )
    parser.add_argument("--knee-seconds", type=float, help="seconds per search step (4; quick 2)")
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="record the throughput phase with py-spy --gil into DIR; the top ten go into the results",
    )
    parser.add_argument(
        "--py-spy-targets", default="service", help="which servers --py-spy records (service)"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HELPLINE_BENCH_POSTGRES_URL")
        or os.environ.get("HELPLINE_TEST_POSTGRES_URL")
        or DEFAULT_POSTGRES,
        help="an admin URL; each run creates and drops its own scratch database there",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="longest wait for a phase's replies")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--sender-process",
        action="store_true",
        help="run the service as two processes, `serve --role web` and `serve --role sender`; CPU summed",
    )
    parser.add_argument(
        "--telegram-limits",
        action="store_true",
        help="keep the service's Telegram send pacing (1/s per chat, 30/s overall); lifted by default",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="profile the service into this file (DB name appended): sampled stacks if it ends in .stacks "
        "(summary: python -m bench.sampler FILE), else cProfile",
    )
    args = parser.parse_args(argv)
    copies = [int(n) for n in args.copies.split(",") if n.strip()]
    if any(n < 1 for n in copies):
        parser.error("--copies: whole numbers from 1")
    default_targets = "" if copies else ",".join(TARGETS)
    if copies and not args.targets and args.db == "both":
        args.db = "postgres"  # the copies run on PostgreSQL; nothing else unless asked
    targets = {t.strip() for t in (args.targets or default_targets).split(",") if t.strip()}
    spied = {t.strip() for t in args.py_spy_targets.split(",") if t.strip()}
    if not targets | spied <= set(TARGETS):
        parser.error(f"--targets, --py-spy-targets: choose from {', '.join(TARGETS)}")
    return Options(
        users=args.users or (200 if args.quick else 1000),
        messages_per_user=args.messages_per_user,
        dbs=["sqlite", "postgres"] if args.db == "both" else [args.db],
        rate=args.rate,
        duration=args.duration or (5.0 if args.quick else 10.0),
        soak=args.soak if args.soak is not None else (10_000 if args.quick else 100_000),
        connections=args.connections,
        active_users=args.active_users,
        targets=targets,
        postgres_url=args.postgres_url,
        quick=args.quick,
        json_path=args.json,
        timeout=args.timeout,
        telegram_limits=args.telegram_limits,
        sender_process=args.sender_process,
        profile=args.profile,
        knee_p99_ms=args.knee_p99,
        knee_steps=args.knee_steps,
        knee_seconds=args.knee_seconds or (2.0 if args.quick else 4.0),
        py_spy=args.py_spy,
        py_spy_targets=spied,
        copies=copies,
    )


def phase_dict(result: PhaseResult) -> dict[str, Any]:
    return {
        "messages": result.messages,
        "replies": result.replies,
        "seconds": round(result.seconds, 3),
        "messages_per_second": round(result.per_second, 1),
        "complete": result.complete,
        "errors": result.errors,
        "error_kinds": result.error_kinds,
        "latency_ms": {
            "p50": round(result.latency_ms(50), 2),
            "p90": round(result.latency_ms(90), 2),
            "p99": round(result.latency_ms(99), 2),
            "max": round(result.latency_ms(100), 2),
        },
        "connection_wait_ms": {"p50": round(result.wait_ms(50), 2), "p99": round(result.wait_ms(99), 2)},
        "answered_rate": round(result.answered_rate, 1),
        "posting_rate": round(result.posting_rate, 1),
        "late_posts": result.late,
        "overloaded": result.overloaded,
        "server_cpu_seconds": round(result.server_cpu_seconds, 2),
        "server_cpu_ms_per_message": round(result.cpu_ms_per_message, 3),
        "machine_idle": round(result.machine_idle, 3),
        **({"py_spy": result.profile} if result.profile is not None else {}),
    }


async def measured(server: Server, phase: Awaitable[PhaseResult], spy: Path | None = None) -> PhaseResult:
    """Runs a phase and adds the server's CPU time and the machine's idle share to its result; with `spy`,
    py-spy records the server during the phase into that file and its summary goes into the result."""
    recorder = await PySpy(server.pid, spy).start() if spy is not None else None
    windows = [CpuWindow(process.pid).start() for process in (server, *server.companions)]
    try:
        result = await phase
    finally:
        profile = await recorder.stop() if recorder is not None else None
    for window in windows:
        window.stop()
    # The service's CPU is its processes' together (`--sender-process`: the web and the sender).
    result.server_cpu_seconds = sum(window.server_seconds for window in windows)
    result.machine_idle = windows[0].machine_idle
    result.profile = profile
    return result


@dataclass
class Bench:
    options: Options
    workdir: Path
    api_base: str
    session: aiohttp.ClientSession
    counter: ReplyCounter
    user_ids: Iterator[int] = field(default_factory=lambda: itertools.count(10_000_000))

    def users(self, target: Target, n: int) -> list[SimUser]:
        script = target.script(self.options.messages_per_user)
        return [SimUser(next(self.user_ids), script) for _ in range(n)]

    def new_user(self, target: Target) -> SimUser:
        return SimUser(next(self.user_ids), target.script(self.options.messages_per_user))

    async def prepare(self, driver: Driver, target: Target) -> None:
        """Calibration (one user, message by message: how many replies each step brings) and warm-up."""
        target.replies_after = await driver.calibrate(self.new_user(target))
        print(
            f"  {target.name}: one user's {self.options.messages_per_user} messages bring "
            f"{target.replies_after[-1]} replies ({target.replies_after[1:]} cumulative)",
            file=sys.stderr,
        )
        if target.replies_after[-1] == 0:
            raise RuntimeError(f"{target.name} sent no replies; see its log in {self.workdir}")
        await driver.closed_loop(
            self.users(target, min(50, self.options.users)), 50, self.options.timeout, "warm-up"
        )
        await self.counter.wait_quiet()

    async def throughput(self, driver: Driver, target: Target) -> PhaseResult:
        result = await driver.closed_loop(
            self.users(target, self.options.users),
            self.options.users,
            self.options.timeout,
            f"{target.name} throughput",
        )
        await self.counter.wait_quiet()
        return result

    async def open_loop(self, driver: Driver, target: Target) -> PhaseResult:
        result = await driver.open_loop(
            lambda: self.new_user(target),
            self.options.rate,
            self.options.duration,
            self.options.timeout,
            f"{target.name} at {self.options.rate:.0f} msg/s",
        )
        await self.counter.wait_quiet()
        return result

    def driver(self, target: Target) -> Driver:
        return Driver(self.session, target, self.counter, UpdateIds(), self.options.connections)

    async def scratch_db(self, db: str, name: str) -> tuple[str, ScratchPostgres | None]:
        if db == "sqlite":
            return f"sqlite+aiosqlite:///{self.workdir / (name + '.db')}", None
        scratch = ScratchPostgres(self.options.postgres_url)
        await scratch.create()
        return scratch.url, scratch

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
        env["PYTHONPATH"] = str(REPO)
        return env

    def spy(self, name: str, db: str | None) -> Path | None:
        """Where py-spy records this server's throughput phase (None: not recorded)."""
        if self.options.py_spy is None or name not in self.options.py_spy_targets:
            return None
        return self.options.py_spy.resolve() / (f"{name}-{db}.txt" if db else f"{name}.txt")

    async def knee(self, driver: Driver, target: Target, server: Server, start: float) -> dict[str, Any]:
        """The highest open-loop rate at which the webhook's p99 stays at or under the limit: from half the
        closed-loop throughput, up by half again while it holds, down by half while it does not, then
        halving the interval between the last rate that held and the first that did not. At most
        --knee-steps short open loops; the answer is a bracket (held, crossed), not a point."""
        limit, held, crossed = self.options.knee_p99_ms, None, None
        steps: list[dict[str, Any]] = []
        rate = max(10.0, round(start / 2))
        for _ in range(self.options.knee_steps):
            result = await measured(
                server,
                driver.open_loop(
                    lambda: self.new_user(target),
                    rate,
                    self.options.knee_seconds,
                    min(self.options.timeout, 120.0),
                    f"{target.name} p99 search at {rate:.0f} msg/s",
                ),
            )
            await self.counter.wait_quiet()
            p99 = result.latency_ms(99)
            # A load generator starved of CPU (the machine is shared) posts slower than asked: that step
            # does not show the server holding the rate, so it does not count as held.
            posted = result.posting_rate >= 0.9 * rate
            ok = p99 <= limit and posted and not result.overloaded and result.complete and not result.errors
            steps.append(
                {"rate": rate, "p99_ms": round(p99, 1), "posting_rate": round(result.posting_rate, 1),
                 "answered_rate": round(result.answered_rate, 1), "overloaded": result.overloaded,
                 "errors": result.errors, "held": ok}
            )  # fmt: skip
            if ok:
                held = rate if held is None else max(held, rate)
            else:
                crossed = rate if crossed is None else min(crossed, rate)
            if held is not None and crossed is not None:
                if crossed - held <= max(2.0, 0.1 * held):  # 10 %: finer than the noise
                    break
                rate = round((held + crossed) / 2)
            else:
                rate = round(rate * 1.5) if crossed is None else max(5.0, round(rate / 2))
        return {"p99_limit_ms": limit, "held": held, "crossed": crossed, "steps": steps}

    async def open_phases(
        self, driver: Driver, target: Target, server: Server, closed: PhaseResult
    ) -> dict[str, Any]:
        """The open loop at the fixed rate and the p99 search, after the closed-loop throughput phase."""
        out: dict[str, Any] = {
            "open_loop": phase_dict(await measured(server, self.open_loop(driver, target)))
        }
        if self.options.knee_steps > 0:
            out["p99_knee"] = await self.knee(driver, target, server, closed.per_second)
        return out

    async def run_reference(self, name: str, db: str) -> dict[str, Any]:
        """One database reference (bench/reference_direct.py, bench/reference_bare.py) on a fresh database."""
        url, scratch = await self.scratch_db(db, name)
        port = free_port()
        secret = secrets.token_urlsafe(24)
        server = Server(
            f"{name} reference",
            [sys.executable, "-m", REFERENCES[name], "--port", str(port), "--db-url", url,
             "--api-url", f"{self.api_base}/bot", "--token", TOKEN, f"--secret={secret}"],
            self.base_env(),
            f"http://127.0.0.1:{port}/healthz",
            self.workdir / f"{name}-{db}.log",
        )  # fmt: skip
        target = Target(name, f"http://127.0.0.1:{port}/webhook", secret, service_script)
        try:
            await server.start()
            driver = self.driver(target)
            await self.prepare(driver, target)
            result = await measured(server, self.throughput(driver, target), self.spy(name, db))
            return {
                "throughput": phase_dict(result),
                **await self.open_phases(driver, target, server, result),
                "peak_rss_mb": round(server.peak_kb() / 1024, 1),
            }
        finally:
            await server.stop()
            if scratch is not None:
                await scratch.drop()

    async def run_ptb(self) -> dict[str, Any]:
        port = free_port()
        secret = secrets.token_urlsafe(24)
        server = Server(
            "python-telegram-bot reference",
            [sys.executable, "-m", "bench.reference_ptb", "--port", str(port),
             "--api-url", f"{self.api_base}/bot", "--token", TOKEN, f"--secret={secret}",
             "--persistence", str(self.workdir / "ptb.pickle")],
            self.base_env(),
            f"http://127.0.0.1:{port}/healthz",
            self.workdir / "ptb.log",
        )  # fmt: skip
        target = Target("ptb", f"http://127.0.0.1:{port}/telegram", secret, ptb_script)
        try:
            await server.start()
            driver = self.driver(target)
            await self.prepare(driver, target)
            result = await measured(server, self.throughput(driver, target), self.spy("ptb", None))
            return {"throughput": phase_dict(result), "peak_rss_mb": round(server.peak_kb() / 1024, 1)}
        finally:
            await server.stop()

    def service_env(self, database_url: str, secret: str) -> dict[str, str]:
        env = self.base_env()
        env.update(
            HELPLINE_ENV="development",
            HELPLINE_DATABASE_URL=database_url,
            HELPLINE_CONFIG=str(REPO / "deploy" / "config" / "always-open.toml"),
            HELPLINE_TELEGRAM_TOKEN=TOKEN,
            HELPLINE_TELEGRAM_WEBHOOK_SECRET=secret,
            HELPLINE_TELEGRAM_API_URL=f"{self.api_base}/bot",
        )
        if not self.options.telegram_limits:
            # Telegram's pacing (1 a second per chat, 30 overall) would be all the bench measured against
            # its fake Bot API, and neither reference paces: the service's own setting lifts it.
            env["HELPLINE_TELEGRAM_SENDS_PER_SECOND"] = "0"
            env["HELPLINE_TELEGRAM_SENDS_PER_CHAT_PER_SECOND"] = "0"
        if os.environ.get("HELPLINE_EVENT_LOOP"):
            # `HELPLINE_EVENT_LOOP=asyncio python -m bench`: the service on asyncio's loop, to compare.
            env["HELPLINE_EVENT_LOOP"] = os.environ["HELPLINE_EVENT_LOOP"]
        return env

    async def run_service(self, db: str) -> dict[str, Any]:
        url, scratch = await self.scratch_db(db, "service")
        port = free_port()
        secret = secrets.token_urlsafe(24)
        env = self.service_env(url, secret)
        if self.options.profile is not None:
            kind = "SAMPLE" if self.options.profile.suffix == ".stacks" else "PROFILE"
            env[f"HELPLINE_BENCH_{kind}"] = f"{self.options.profile.resolve()}.{db}"
        for name in ("HELPLINE_BENCH_SQL", "HELPLINE_BENCH_TRACEMALLOC"):  # see bench/serve.py
            if os.environ.get(name):
                env[name] = f"{os.environ[name]}.{db}"
        web_role = ["--role", "web"] if self.options.sender_process else []
        server = Server(
            "service",
            [sys.executable, "-m", "bench.serve", "serve", "--port", str(port), *web_role],
            env,
            f"http://127.0.0.1:{port}/healthz",
            self.workdir / f"service-{db}.log",
        )
        if self.options.sender_process:
            sender_port = free_port()
            sender_argv = ["serve", "--port", str(sender_port), "--role", "sender"]
            sender_env = {k: v for k, v in env.items() if not k.startswith("HELPLINE_BENCH_")}
            server.companions.append(
                Server(
                    "sender",
                    [sys.executable, "-m", "bench.serve", *sender_argv],
                    sender_env,
                    f"http://127.0.0.1:{sender_port}/healthz",
                    self.workdir / f"sender-{db}.log",
                )
            )
        target = Target("service", f"http://127.0.0.1:{port}{SERVICE_PATH}", secret, service_script)
        sampler: MemorySampler | None = None
        try:
            await server.start()
            driver = self.driver(target)
            await self.prepare(driver, target)
            started_kb = server.rss_kb()
            result = await measured(server, self.throughput(driver, target), self.spy("service", db))
            out: dict[str, Any] = {
                "throughput": phase_dict(result),
                **await self.open_phases(driver, target, server, result),
                "rss_after_warm_up_mb": round(started_kb / 1024, 1),
            }
            if self.options.soak > 0:
                n_users = max(1, self.options.soak // self.options.messages_per_user)
                sampler = MemorySampler(server, lambda: driver.answered, interval=2.0)
                sampler.start()
                soaked = await measured(
                    server,
                    driver.closed_loop(
                        self.users(target, n_users),
                        self.options.active_users,
                        self.options.timeout * 4,
                        f"service soak ({n_users * self.options.messages_per_user} messages)",
                    ),
                )
                await sampler.stop()
                samples = sampler.samples
                out["soak"] = {
                    **phase_dict(soaked),
                    "rss_start_mb": round(samples[0].rss_kb / 1024, 1),
                    "rss_end_mb": round(samples[-1].rss_kb / 1024, 1),
                    "rss_peak_mb": round(max(s.rss_kb for s in samples) / 1024, 1),
                    "slope_mb_per_10k": round(slope_per(samples, 10_000), 3),
                    "samples": [[round(s.seconds, 1), s.messages, s.rss_kb] for s in samples],
                }
            out["peak_rss_mb"] = round(server.peak_kb() / 1024, 1)
            return out
        finally:
            if sampler is not None:
                await sampler.stop()
            await server.stop()
            if scratch is not None:
                await scratch.drop()


async def run(options: Options) -> dict[str, Any]:
    pg_version: str | None = None
    if "postgres" in options.dbs or options.copies:
        if not await postgres_available(options.postgres_url):
            print("PostgreSQL is not answering (--postgres-url): running on SQLite only", file=sys.stderr)
            options.dbs = [d for d in options.dbs if d != "postgres"]
        else:
            pg_version = await ScratchPostgres(options.postgres_url).version()
    results: dict[str, Any] = {
        "machine": machine(pg_version),
        "load": {
            "users": options.users,
            "messages_per_user": options.messages_per_user,
            "connections": options.connections,
            "open_loop_rate": options.rate,
            "open_loop_seconds": options.duration,
            "soak_messages": options.soak,
            "soak_active_users": options.active_users,
            "service_telegram_limits": options.telegram_limits,
            "service_sender_process": options.sender_process,
            "p99_search_limit_ms": options.knee_p99_ms,
            "p99_search_steps": options.knee_steps,
            "p99_search_step_seconds": options.knee_seconds,
        },
        "databases": {},
    }
    with tempfile.TemporaryDirectory(prefix="helpline-bench-") as tmp:
        workdir = Path(tmp)
        api_port = free_port()
        api_base = f"http://127.0.0.1:{api_port}"
        fake = Server(
            "fake Bot API",
            [sys.executable, "-m", "bench.fake_bot_api", "--port", str(api_port)],
            {**os.environ, "PYTHONPATH": str(REPO)},
            f"{api_base}/_stats",
            workdir / "fake-bot-api.log",
        )
        # The driver's own semaphore holds the webhook connections to --connections; the pool has room.
        connector = aiohttp.TCPConnector(
            limit=options.connections + 20, limit_per_host=options.connections + 10
        )
        timeout = aiohttp.ClientTimeout(total=120)
        try:
            await fake.start()
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                counter = ReplyCounter(session, api_base)
                counter.start()
                bench = Bench(options, workdir, api_base, session, counter)
                try:
                    if "ptb" in options.targets:
                        print("python-telegram-bot reference", file=sys.stderr)
                        results["ptb"] = await bench.run_ptb()
                    for db in options.dbs:
                        per_db: dict[str, Any] = {}
                        results["databases"][db] = per_db
                        for name in REFERENCES:
                            if name in options.targets:
                                print(f"{name} reference on {db}", file=sys.stderr)
                                per_db[name] = await bench.run_reference(name, db)
                        if "service" in options.targets:
                            print(f"service on {db}", file=sys.stderr)
                            per_db["service"] = await bench.run_service(db)
                    if options.copies:
                        if pg_version is None:
                            raise RuntimeError("--copies needs PostgreSQL (--postgres-url)")
                        results["copies"] = await run_copies(bench, options.copies, SERVICE_PATH, phase_dict)
                finally:
                    await counter.stop()
        finally:
            await fake.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    started = time.perf_counter()
    results = asyncio.run(run(options))
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    # With --copies alone, the references' table would be all dashes: only its machine lines.
    print(render(results) if options.targets else render(results).split("\n\n")[0])
    if "copies" in results:
        print(render_copies(results["copies"]))
    if options.targets:
        results["crypto"] = crypto.measure()
        service_ms = {
            db: per_db.get("service", {}).get("throughput", {}).get("server_cpu_ms_per_message")
            for db, per_db in results["databases"].items()
        }
        print(crypto.render(results["crypto"], service_ms, "this run"))
    if options.json_path is not None:
        options.json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {options.json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
