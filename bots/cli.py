"""`helpline serve | migrate | staff | keys | compile-catalogs`: the service's command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading
from collections.abc import Sequence

from aiohttp import web

from bots import cli_keys, cli_records, cli_report, cli_staff, logs
from bots.access_log import access_log_options
from bots.event_loop import new_event_loop
from bots.roles import Role
from intake.config import ConfigError, Settings, load_settings
from intake.hours import HoursConfigError, OpeningHours
from intake.i18n import compile_catalogs, default_locales_dir
from intake.storage.db import DatabaseUnusable, make_engine, migrate_or_refuse
from intake.storage.sealed import use_cipher


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpline", description="Helpline intake over messaging apps.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the service (web chat, webhooks)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--telegram-polling",
        action="store_true",
        help="fetch Telegram updates with getUpdates instead of the webhook (development, no public URL)",
    )
    serve.add_argument(
        "--role",
        choices=[role.value for role in Role],
        default=Role.ALL.value,
        help="all: everything (default); web: receive and queue replies, send none; sender: send the "
        "queued replies, receive nothing (run one of each, on the same database)",
    )
    commands.add_parser("migrate", help="bring the database schema up to date")
    commands.add_parser("compile-catalogs", help="compile the translation catalogs (.po -> .mo)")
    cli_staff.add_parser(commands)
    cli_keys.add_parser(commands)
    cli_records.add_parser(commands)
    cli_report.add_parser(commands)
    telegram = commands.add_parser("telegram", help="the Telegram channel")
    telegram_commands = telegram.add_subparsers(dest="telegram_command", required=True)
    telegram_commands.add_parser(
        "set-webhook", help="register HELPLINE_PUBLIC_URL/webhooks/telegram with Telegram, and the commands"
    )
    return parser


def _settings(command: str) -> Settings:
    settings = load_settings(need_secret=command != "staff")
    try:
        OpeningHours.from_config(settings.hours)
    except HoursConfigError as exc:
        raise ConfigError(f"HELPLINE_CONFIG: {exc}") from None
    return settings


async def _migrate(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    use_cipher(engine, settings.keys())
    try:
        await migrate_or_refuse(engine)
    except DatabaseUnusable as exc:
        # One line naming the setting; never the URL itself.
        raise ConfigError(f"HELPLINE_DATABASE_URL: cannot use the database: {exc}") from None
    finally:
        await engine.dispose()
        # aiosqlite stops the thread of a failed connection without waiting for it; if the loop closes
        # first, that thread prints a traceback at exit. Let it finish while the loop is still open.
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and "_connection_worker_thread" in thread.name:
                thread.join(timeout=5)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The server logs its work; one-off commands print only their result and problems.
    level = logging.INFO if args.command == "serve" else logging.WARNING
    # JSON lines for log collectors in production; plain lines for a person at a terminal.
    logs.configure(
        level, structured=args.command == "serve" and os.environ.get("HELPLINE_ENV") != "development"
    )
    try:
        if args.command == "compile-catalogs":
            written = compile_catalogs(default_locales_dir())
            print(f"compiled {len(written)} catalog(s)")
            return 0
        role = Role(getattr(args, "role", Role.ALL))
        if getattr(args, "telegram_polling", False) and role is Role.SENDER:
            raise ConfigError("--telegram-polling receives messages; a --role sender process receives none")
        settings = _settings(args.command)
        if args.command == "staff":
            return asyncio.run(cli_staff.run(args, settings))
        if args.command == "keys":
            return asyncio.run(cli_keys.run(args, settings))
        if args.command == "records":
            return asyncio.run(cli_records.run(args, settings))
        if args.command == "report":
            return asyncio.run(cli_report.run(args, settings))
        if args.command == "migrate":
            asyncio.run(_migrate(settings))
            print("database is up to date")
            return 0
        if args.command == "telegram":
            from bots.channels.telegram.admin import set_webhook_command

            return set_webhook_command(settings)
        # Migrate here first, so an unusable database is one line, not a traceback from start-up.
        asyncio.run(_migrate(settings))
        from bots.app import make_app

        app = make_app(settings, role=role)
        if args.telegram_polling:
            from bots.channels.telegram import enable_polling

            enable_polling(app)
        where = f"[{args.host}]" if ":" in args.host else args.host
        try:
            loop, loop_name = new_event_loop(os.environ)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        logging.getLogger("helpline").info("event loop: %s", loop_name)
        web.run_app(
            app,
            loop=loop,
            host=args.host,
            port=args.port,
            # Printed once the socket listens, so the address shown is one that answers.
            print=lambda _: print(
                f"helpline: sending replies; health on http://{where}:{args.port}/healthz"
                if role is Role.SENDER
                else f"helpline: serving http://{where}:{args.port}/chat and /staff",
                flush=True,
            ),
            **access_log_options(),
        )
        return 0
    except ConfigError as exc:
        print(f"helpline: configuration error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"helpline: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
