"""`helpline staff add NAME [--admin]` and `helpline staff disable NAME`."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from bots.console.live import LiveBus
from intake.config import Settings
from intake.staff import StaffAccounts
from intake.storage.db import migrated_database


def add_parser(commands: Any) -> None:
    staff = commands.add_parser("staff", help="manage staff accounts for the console")
    actions = staff.add_subparsers(dest="staff_command", required=True)
    add = actions.add_parser("add", help="add a staff member (password from the terminal, or stdin)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may read the audit log")
    disable = actions.add_parser("disable", help="disable a staff member and end their sessions")
    disable.add_argument("name")
    enable = actions.add_parser("enable", help="enable a disabled staff member again")
    enable.add_argument("name")


def _password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Again: "):
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    async with migrated_database(settings.database_url, settings.keys()) as db:
        accounts = StaffAccounts(db)
        if args.staff_command == "add":
            try:
                await accounts.add(args.name, _password(), "admin" if args.admin else "staff")
            except ValueError as exc:
                print(f"helpline: {exc}", file=sys.stderr)
                return 1
            print(f"added {args.name}")
            return 0
        # On PostgreSQL the running copies of the service hear of it at once and end the member's
        # live streams (elsewhere the streams' own session checks end them within a heartbeat).
        bus = LiveBus(settings.database_url)
        await bus.start()
        try:
            accounts.on_sessions_ended = bus.sessions_ended
            found = await accounts.set_disabled(args.name, disabled=args.staff_command == "disable")
            await bus.drain()
        finally:
            await bus.stop()
        if not found:
            print(f"helpline: no staff member named {args.name!r}", file=sys.stderr)
            return 1
        print(f"{args.staff_command}d {args.name}")
        return 0
