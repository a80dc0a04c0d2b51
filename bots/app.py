"""make_app(settings): the one place that wires storage, the core, the channels and the HTTP routes."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.console.live import LiveBus
from bots.console.routes import CONSOLE_LANGUAGES, Console
from bots.console.routes import add_routes as add_console_routes
from bots.webchat import WebChat
from intake.config import Settings
from intake.hours import HoursConfigError, OpeningHours
from intake.i18n import Catalogs, compile_catalogs, default_locales_dir
from intake.keywords import default_table
from intake.metrics import Metrics
from intake.outbox import OutboxWorker, Sender
from intake.privacy import Keys
from intake.queue import StaffDesk
from intake.retention import purge
from intake.service import IntakeService
from intake.staff import StaffAccounts
from intake.storage.db import make_database, make_engine, migrate, ping
from intake.storage.uow import Database

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@dataclass
class Wiring:
    """Everything the running service holds; built at start-up inside the event loop."""

    settings: Settings
    engine: AsyncEngine
    db: Database
    keys: Keys
    catalogs: Catalogs
    hours: OpeningHours
    service: IntakeService
    webchat: WebChat
    outbox: OutboxWorker
    accounts: StaffAccounts
    desk: StaffDesk
    console: Console
    bus: LiveBus
    metrics: Metrics
    senders: dict[str, Sender] = field(default_factory=dict)


WIRING = web.AppKey("wiring", Wiring)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response, streams and static files included (a middleware would miss prepared ones)."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")


@web.middleware
async def no_tracebacks(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An unexpected error answers 500 with one neutral line; the details go to the log only."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "internal error"}, status=500)


def build_hours(settings: Settings) -> OpeningHours:
    return OpeningHours.from_config(settings.hours)


ChannelSetup = Callable[[web.Application, Settings], None]


def channel_setups(settings: Settings) -> list[ChannelSetup]:
    """The push channels whose settings are present. Each `setup(app, settings)` checks its settings at
    once (raising ConfigError), adds its routes, and at start-up (its own cleanup_ctx, which runs after the
    core's) registers its sender in `app[WIRING].senders`. A channel without settings is off."""
    setups: list[ChannelSetup] = []
    for variable, module in (
        ("HELPLINE_TELEGRAM_TOKEN", "bots.telegram"),
        ("HELPLINE_TWILIO_ACCOUNT_SID", "bots.twilio"),
    ):
        if settings.env.get(variable):
            setups.append(importlib.import_module(module).setup)
    return setups


async def _purge_periodically(db: Database, retention_days: int, stop: asyncio.Event) -> None:
    """Deletes transcripts past the retention period, once at start and then every hour."""
    while not stop.is_set():
        try:
            purged = await purge(db, datetime.now(UTC), retention_days)
            if purged.conversations:
                log.info("retention: deleted %d closed conversations", purged.conversations)
        except Exception:
            log.exception("retention pass failed; trying again later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=3600)


def invite_channels(settings: Settings) -> frozenset[str]:
    """Channels with an approved template to invite a person back when a staff reply is held."""
    return (
        frozenset({"whatsapp"}) if settings.env.get("HELPLINE_TWILIO_WHATSAPP_TEMPLATE_SID") else frozenset()
    )


def make_app(settings: Settings, *, run_outbox: bool = True) -> web.Application:
    app = web.Application(middlewares=[no_tracebacks], client_max_size=1024**2)
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True)
    app.on_response_prepare.append(security_headers)
    hours = build_hours(settings)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        locales = default_locales_dir()
        compile_catalogs(locales)
        catalogs = Catalogs(locales, settings.languages)
        if catalogs.missing():
            log.warning("no compiled catalog for %s: texts fall back to the message ids", catalogs.missing())
        engine = make_engine(settings.database_url)
        await migrate(engine)
        db = make_database(engine)
        keys = Keys.from_secret(settings.secret_key)
        metrics = Metrics()
        service = IntakeService(
            db=db, keys=keys, catalogs=catalogs, hours=hours, keywords=default_table(), metrics=metrics
        )
        accounts = StaffAccounts(db)
        if settings.require_staff:
            service.staffed = accounts.anyone_signed_in
        webchat = WebChat(service, db, keys, catalogs, settings.exit_url)
        senders: dict[str, Sender] = {}
        outbox = OutboxWorker(db=db, keys=keys, senders=senders, metrics=metrics)
        bus = LiveBus(settings.database_url)
        await bus.start()
        desk = StaffDesk(service, invite_channels=invite_channels(settings))
        secure = (settings.public_url or "").startswith("https://")
        pages = Catalogs(locales, CONSOLE_LANGUAGES, domain="console")
        console = Console(accounts, desk, catalogs, pages, service.keywords, bus, secure)

        def replies_queued(pseudonyms: Sequence[str]) -> None:
            webchat.notify(pseudonyms)
            outbox.wake.set()

        service.on_replies = replies_queued
        service.on_change = bus.publish
        app[WIRING] = Wiring(
            settings=settings,
            engine=engine,
            db=db,
            keys=keys,
            catalogs=catalogs,
            hours=hours,
            service=service,
            webchat=webchat,
            outbox=outbox,
            accounts=accounts,
            desk=desk,
            console=console,
            bus=bus,
            metrics=metrics,
            senders=senders,
        )
        stop = asyncio.Event()
        janitor = asyncio.create_task(_purge_periodically(db, settings.retention_days, stop))
        try:
            yield
        finally:
            stop.set()
            await janitor
            await bus.stop()
            await engine.dispose()

    app.cleanup_ctx.append(lifecycle)

    async def end_streams(app: web.Application) -> None:
        # Runs before aiohttp waits for open requests: long-lived console streams end at once.
        if WIRING in app:
            app[WIRING].bus.end_streams()
            app[WIRING].webchat.close()

    app.on_shutdown.append(end_streams)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        ok = await ping(request.app[WIRING].engine)
        return web.json_response(
            {"status": "ok" if ok else "database unavailable"}, status=200 if ok else 503
        )

    async def metrics(request: web.Request) -> web.Response:
        wiring = request.app[WIRING]
        async with wiring.db.uow() as uow:
            wiring.metrics.queue_length.set(await uow.conversations.queue_length())
            wiring.metrics.longest_wait.set(await uow.conversations.longest_wait(wiring.service.clock()))
            wiring.metrics.outbox_backlog.set(await uow.outbox.backlog())
        body = generate_latest(wiring.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def chat_page(request: web.Request) -> web.StreamResponse:
        return await request.app[WIRING].webchat.page(request)

    async def chat_session(request: web.Request) -> web.StreamResponse:
        return await request.app[WIRING].webchat.session(request)

    async def chat_send(request: web.Request) -> web.StreamResponse:
        return await request.app[WIRING].webchat.send(request)

    async def chat_poll(request: web.Request) -> web.StreamResponse:
        return await request.app[WIRING].webchat.poll(request)

    async def chat_status(request: web.Request) -> web.StreamResponse:
        return await request.app[WIRING].webchat.status(request)

    async def favicon(request: web.Request) -> web.StreamResponse:
        # Browsers ask for /favicon.ico by themselves: answer it instead of a 404 on every page load.
        return web.FileResponse(STATIC_DIR / "favicon.svg", headers={"Content-Type": "image/svg+xml"})

    async def root(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/chat")

    app.router.add_get("/", root)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/chat", chat_page)
    app.router.add_post("/chat/api/session", chat_session)
    app.router.add_post("/chat/api/send", chat_send)
    app.router.add_get("/chat/api/poll", chat_poll)
    app.router.add_get("/chat/api/status", chat_status)
    add_console_routes(app, lambda request: request.app[WIRING].console)
    app.router.add_static("/static", STATIC_DIR)
    for setup in channel_setups(settings):
        setup(app, settings)
    if run_outbox:
        app.cleanup_ctx.append(sending)
    return app


async def sending(app: web.Application) -> AsyncIterator[None]:
    """The outbox worker. Added after the channels, so it starts once their senders are registered and,
    on the way out, stops before they close: a send in hand is finished, not cut off (which would send it
    again after the restart, since the reply may already be on the person's phone)."""
    stop = asyncio.Event()
    worker = asyncio.create_task(app[WIRING].outbox.run(stop))
    try:
        yield
    finally:
        stop.set()
        await worker


__all__ = ["WIRING", "HoursConfigError", "Wiring", "make_app"]
