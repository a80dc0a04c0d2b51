"""`helpline records import FILE.csv`: earlier years' category records from a spreadsheet."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from intake.config import Settings
from intake.records import CSV_COLUMNS, read_csv, store
from intake.storage.db import migrated_database

MAX_ERRORS_SHOWN = 50


def add_parser(commands: Any) -> None:
    records = commands.add_parser("records", help="the line's category records")
    actions = records.add_subparsers(dest="records_command", required=True)
    imports = actions.add_parser(
        "import",
        help=f"import records from a CSV file with the columns {','.join(CSV_COLUMNS)}; all rows or none",
    )
    imports.add_argument("file", type=Path)


def _read(path: Path) -> str:
    # utf-8-sig: a spreadsheet program's "CSV UTF-8" starts with a byte-order mark.
    return path.read_text(encoding="utf-8-sig")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        text = _read(args.file)
    except UnicodeDecodeError:
        print(f"helpline: {args.file} is not UTF-8 text (save it as CSV UTF-8)", file=sys.stderr)
        return 1
    result = read_csv(text, datetime.now(UTC).date())
    if result.errors:
        for error in result.errors[:MAX_ERRORS_SHOWN]:
            print(f"{args.file}: {error}", file=sys.stderr)
        hidden = len(result.errors) - MAX_ERRORS_SHOWN
        if hidden > 0:
            print(f"{args.file}: … and {hidden} more", file=sys.stderr)
        print(f"helpline: nothing imported: {len(result.errors)} bad row(s)", file=sys.stderr)
        return 1
    async with migrated_database(settings.database_url, settings.keys()) as db:
        count = await store(db, result.records)
    print(f"imported {count} record(s)")
    return 0
