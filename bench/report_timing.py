"""`python -m bench.report_timing`: how long the year's report takes over a large year.

Fills a fresh database (a SQLite file; a scratch PostgreSQL database) with --records anonymous records
(default 1,000,000) shaped like a line's work, a tenth as many the year before, and --activities follow-up
activities (default 100,000), then times `intake.report.year_report` (its SQL aggregates and the fold)
three times, and the suppression for publication once. The goal: under 2 s on each database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, text

from bench.procs import ScratchPostgres
from intake.categories import FOLLOW_UP_ACTIVITIES, SUBTOPIC_OF, Topic, topic_bits
from intake.disclosure import suppress
from intake.report import year_report
from intake.storage.db import make_database, make_engine, migrate
from intake.storage.models import ActivityRecordRow, StatRecordRow

YEAR = 2025
CHUNK = 20_000
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
MAIN = [t.value for t in Topic if t.value not in SUBTOPIC_OF]
CHANNELS = (["phone"] * 40 + ["webchat"] * 20 + ["sms"] * 10 + ["whatsapp"] * 10 + ["telegram"] * 8
            + ["email"] * 8 + ["in_person"] * 3 + ["other"])  # fmt: skip
ROLES = ["self"] * 5 + ["family"] * 2 + ["network", "professional", "other", None]
COUNTRIES = [None] * 30 + ["SO", "IQ", "AF", "PK", "SY", "ER", "TR", "RU", "IR", "MA", "SE", "PL"]


def record(rng: random.Random, year: int) -> dict[str, Any]:
    topics = rng.sample(MAIN, rng.choice((1, 1, 1, 2, 2, 3)))
    if "forced_marriage" in topics and rng.random() < 0.5:
        topics.append(rng.choice([s for s, main in SUBTOPIC_OF.items() if main == "forced_marriage"]))
    return {
        "key": str(uuid.UUID(int=rng.getrandbits(128))),
        "month": f"{year}-{rng.randint(1, 12):02d}",
        "channel": rng.choice(CHANNELS),
        "role": rng.choice(ROLES),
        "kind": "information" if rng.random() < 0.2 else rng.choice(["individual", "individual", None]),
        "age_group": rng.choice(["under_18", "adult", "adult", "not_stated"]),
        "gender": rng.choice(["woman"] * 6 + ["man"] * 2 + ["trans", "other", "not_stated"]),
        "topics": topics,
        "topic_bits": topic_bits(topics),
        "outside_hours": rng.random() < 0.3,
        "follow_up": rng.random() < 0.2,
        "country": rng.choice(COUNTRIES),
        "closed_by_staff": rng.random() < 0.5,
    }


async def fill(url: str, records: int, activities: int) -> None:
    engine = make_engine(url)
    try:
        await migrate(engine)
        rng = random.Random(20)
        kinds = [o.id for o in FOLLOW_UP_ACTIVITIES]
        stat_table = cast(Table, StatRecordRow.__table__)
        activity_table = cast(Table, ActivityRecordRow.__table__)
        batches = [(YEAR, records), (YEAR - 1, records // 10)]
        async with engine.begin() as conn:
            for year, n in batches:
                for start in range(0, n, CHUNK):
                    rows = [record(rng, year) for _ in range(min(CHUNK, n - start))]
                    await conn.execute(stat_table.insert(), rows)
            for start in range(0, activities, CHUNK):
                count = min(CHUNK, activities - start)
                rows = [{"month": f"{YEAR}-{rng.randint(1, 12):02d}",
                         "origin": rng.choice(["shelter", "shelter", "helpline", "anonymous"]),
                         "kind": rng.choice(kinds)} for _ in range(count)]  # fmt: skip
                await conn.execute(activity_table.insert(), rows)
        # What autovacuum (PostgreSQL) or an occasional ANALYZE (SQLite) would have done by then.
        async with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE"))
            else:
                await conn.execute(text("ANALYZE"))
                await conn.commit()
    finally:
        await engine.dispose()


async def time_report(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        db = make_database(engine)
        times = []
        for _ in range(3):
            started = time.perf_counter()
            report = await year_report(db, YEAR)
            times.append(time.perf_counter() - started)
        started = time.perf_counter()
        suppress(report)
        public = time.perf_counter() - started
    finally:
        await engine.dispose()
    return {
        "records": report["first_contacts"]["total"],
        "activities": sum(table["total"] for table in report["activities"].values()),
        "report_seconds": [round(t, 3) for t in times],
        "median_seconds": round(statistics.median(times), 3),
        "suppression_seconds": round(public, 3),
    }


async def run(db: str, records: int, activities: int, postgres_url: str) -> dict[str, Any]:
    if db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="helpline-report-") as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'report.db'}"
            started = time.perf_counter()
            await fill(url, records, activities)
            filled = time.perf_counter() - started
            return {**await time_report(url), "fill_seconds": round(filled, 1)}
    scratch = ScratchPostgres(postgres_url)
    await scratch.create()
    try:
        started = time.perf_counter()
        await fill(scratch.url, records, activities)
        filled = time.perf_counter() - started
        return {**await time_report(scratch.url), "fill_seconds": round(filled, 1)}
    finally:
        await scratch.drop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report_timing", description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("HELPLINE_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    args = parser.parse_args(argv)
    for db in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        result = asyncio.run(run(db, args.records, args.activities, args.postgres_url))
        print(f"report on {db}: {result}", flush=True)
        if result["median_seconds"] >= 2.0:
            print(f"report on {db}: {result['median_seconds']} s, over the 2 s goal", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
