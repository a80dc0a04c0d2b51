"""Starts the service for the benchmark: `python -m bench.serve serve --port P` is `helpline serve`, with
the measuring hooks below. (Telegram's send pacing is lifted, unless `--telegram-limits`, through the
service's own settings HELPLINE_TELEGRAM_SENDS_PER_SECOND and HELPLINE_TELEGRAM_SENDS_PER_CHAT_PER_SECOND
set to 0 in the environment the bench gives it: see `Bench.service_env`.)
With HELPLINE_BENCH_PROFILE=path the whole run is profiled with cProfile into that file; with
HELPLINE_BENCH_SAMPLE=path its stacks are sampled (bench/sampler.py) into that file. With
HELPLINE_BENCH_SQL=path every SQL statement the service runs is counted, by its text, into that file (JSON):
how many statements a message costs is the first thing to know when the database is the bottleneck.
With HELPLINE_BENCH_TRACEMALLOC=path Python's allocations are traced and a snapshot is written to path.N
every minute (compare two with `python -m bench.memdiff A B`): where memory that keeps growing comes from.
"""

from __future__ import annotations

import os
import sys


def count_statements(path: str) -> None:
    """Counts statements on every engine (the service builds its own) and writes them at exit."""
    import atexit
    import json
    from collections import Counter
    from typing import Any

    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    counts: Counter[str] = Counter()

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counts[" ".join(statement.split())[:160]] += 1

    event.listen(Engine, "before_cursor_execute", before)

    def connected(*args: Any) -> None:
        counts["(a new database connection)"] += 1

    event.listen(Pool, "connect", connected)

    def write() -> None:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(counts.most_common(), out, indent=1)

    atexit.register(write)


def trace_allocations(path: str, every: float = 60.0) -> None:
    import threading
    import time
    import tracemalloc

    # Each frame kept costs: with 12 the service ran at a tenth of its speed.
    tracemalloc.start(int(os.environ.get("HELPLINE_BENCH_TRACEMALLOC_FRAMES", "2")))

    def dump() -> None:
        n = 0
        while True:
            time.sleep(every)
            tracemalloc.take_snapshot().dump(f"{path}.{n}")
            n += 1

    threading.Thread(target=dump, name="tracemalloc", daemon=True).start()


def main() -> int:
    trace_path = os.environ.get("HELPLINE_BENCH_TRACEMALLOC")
    if trace_path:
        trace_allocations(trace_path)
    sql_path = os.environ.get("HELPLINE_BENCH_SQL")
    if sql_path:
        count_statements(sql_path)
    from bots.cli import main as cli_main

    sample_path = os.environ.get("HELPLINE_BENCH_SAMPLE")
    if sample_path:
        from bench.sampler import StackSampler

        sampler = StackSampler()
        sampler.start()
        try:
            return cli_main(sys.argv[1:])
        finally:
            sampler.stop(sample_path)
    profile_path = os.environ.get("HELPLINE_BENCH_PROFILE")
    if not profile_path:
        return cli_main(sys.argv[1:])
    import cProfile

    profiler = cProfile.Profile()
    try:
        return profiler.runcall(cli_main, sys.argv[1:])
    finally:
        profiler.dump_stats(profile_path)


if __name__ == "__main__":
    sys.exit(main())
