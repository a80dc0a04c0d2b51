"""`helpline report --year Y [--format html|xlsx|csv|json] [--out PATH] [--public] [--lang nb|en]`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from intake.config import Settings
from intake.report import year_report
from intake.report_render import FORMATS, render
from intake.storage.db import migrated_database


def add_parser(commands: Any) -> None:
    report = commands.add_parser("report", help="the year's report: the tables of the annual report")
    report.add_argument("--year", type=int, default=datetime.now(UTC).year - 1, help="default: last year")
    report.add_argument("--format", choices=FORMATS, default="html")
    report.add_argument("--out", type=Path, help="write to this file (default: standard output)")
    report.add_argument(
        "--public",
        action="store_true",
        help="for publication: counts of 1-4 and what would reveal them hidden",
    )
    report.add_argument("--lang", choices=("nb", "en"), default="nb", help="the labels' language")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    if not 1900 <= args.year <= 9998:
        print(f"helpline: --year {args.year} is not a year the line can have worked", file=sys.stderr)
        return 2
    async with migrated_database(settings.database_url, settings.keys()) as db:
        report = await year_report(db, args.year)
    body = render(report, args.format, lang=args.lang, public=args.public)
    if args.out is not None:
        args.out.write_bytes(body)
        print(f"wrote {args.out}")
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    return 0
