"""`helpline keys rotate`: re-encrypt every stored value with the newest key of HELPLINE_SECRET_KEYS."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from intake.config import Settings
from intake.privacy import UnreadableAddress
from intake.storage.db import migrated_database
from intake.storage.rekey import Unreadable, rotate_all


def add_parser(commands: Any) -> None:
    keys = commands.add_parser("keys", help="the encryption keys")
    actions = keys.add_subparsers(dest="keys_command", required=True)
    rotate = actions.add_parser(
        "rotate", help="re-encrypt stored data with the first key of HELPLINE_SECRET_KEYS (safe to re-run)"
    )
    rotate.add_argument("--batch", type=int, default=500, help="rows per transaction (default 500)")


def _progress(name: str, seen: int, total: int) -> None:
    print(f"{name}: {seen}/{total}", flush=True)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.batch < 1:
        print("helpline: --batch must be at least 1", file=sys.stderr)
        return 2
    keys = settings.keys()

    def rotate(token: bytes) -> bytes | None:
        try:
            return keys.rotated(token)
        except UnreadableAddress:
            raise Unreadable from None

    async with migrated_database(settings.database_url, keys) as db:
        result = await rotate_all(db, rotate, args.batch, _progress)
    print(
        f"re-encrypted {sum(result.rewritten.values())} value(s) with the newest key; "
        f"{sum(result.current.values())} already were"
    )
    unreadable = {name: n for name, n in result.unreadable.items() if n}
    if unreadable:
        listed = ", ".join(f"{name}: {n}" for name, n in unreadable.items())
        print(
            f"helpline: {sum(unreadable.values())} value(s) open with no configured key ({listed}); "
            "add the key they were written with to HELPLINE_SECRET_KEYS and run this again",
            file=sys.stderr,
        )
        return 1
    return 0
