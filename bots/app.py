"""make_app(settings): the one place that wires storage, the core, the channels and the HTTP routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bots.access_log import route_of
from bots.channels import telegram, twilio, voice, webchat
from bots.channels.base import Channel, ChannelContext, ChannelModule
from bots.channels.webchat import WebChat, WebChatChannel
from bots.client_address import ClientAddresses, parse_trusted_proxies
from bots.console.casework import CaseworkCore
from bots.console.live import LiveBus
from bots.console.phone import PhoneDesk
from bots.console.routes import CONSOLE_LANGUAGES, Console
from bots.console.routes import add_routes as add_console_routes
from bots.http.errors import json_error
from bots.metrics_access import MetricsAccess
from bots.roles import IDLE_POLL, SENDER_IDLE_POLL, Role
from intake.calls import PhoneLine
from intake.chat_tokens import token_expired
from intake.config import Settings
from intake.delivery import Deliveries
from intake.hours import HoursConfigError, OpeningHours
from intake.i18n import Catalogs, compile_catalogs, default_locales_dir
from intake.keywords import default_table
from intake.limits import ChatLimits, Counter
from intake.line_status import line_status
from intake.metrics import Metrics, sample_backlog
from intake.outbox import OutboxWorker, Sender
from intake.privacy import Keys
from intake.queue import StaffDesk
from intake.retention import purge
from intake.scheduler import Job, run_jobs
from intake.service import IntakeService
from intake.staff import StaffAccounts
from intake.storage.db import Storage
from intake.storage.uow import Database
from intake.typing_signals import TypingSignals

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HSTS_SECONDS = 365 * 24 * 3600

# The channels, in the order they start (and the reverse of the order they stop). A new channel is a
# package under bots/channels/ and one entry here.
CHANNELS: tuple[ChannelModule, ...] = (webchat, telegram, twilio, voice)


@dataclass
class Wiring:
    """Everything the running service holds; built at start-up inside the event loop."""

    settings: Settings
    storage: Storage
    db: Database
    keys: Keys
    catalogs: Catalogs
    hours: OpeningHours
    service: IntakeService
    outbox: OutboxWorker
    accounts: StaffAccounts
    desk: StaffDesk
    console: Console
    bus: LiveBus
    metrics: Metrics
    counter: Counter
    channels: tuple[Channel, ...]
    # Filled by the channels' start-up (each returns its own); read by the outbox worker.
    senders: dict[str, Sender] = field(default_factory=dict)

    @property
    def webchat(self) -> WebChat:
        """The running web chat (always on)."""
        return next(c for c in self.channels if isinstance(c, WebChatChannel)).chat


WIRING = web.AppKey("wiring", Wiring)
CONTEXT = web.AppKey("channel_context", ChannelContext)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def security_headers(https: bool) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """On every response, streams and static files included (a middleware would miss prepared ones)."""

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if https:
            # A browser that once reached us over https never tries plain http here again for a year.
            response.headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_SECONDS}")

    return add


@web.middleware
async def no_tracebacks(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An unexpected error answers 500 with one neutral line; the details go to the log only."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, route_of(request))
        return json_error(500, "internal error")


def build_hours(settings: Settings) -> OpeningHours:
    return OpeningHours.from_config(settings.hours)


VOICE = web.AppKey("voice", voice.VoiceChannel)


def add_phone_line(app: web.Application, channels: tuple[Channel, ...], *, pages: bool = True) -> None:
    """The phone line's console pages (with `pages`), and the core's PhoneLine handed to it before the
    channels start (ChannelContext has no place for it yet: calls are not messages)."""
    found = [channel for channel in channels if isinstance(channel, voice.VoiceChannel)]
    if not found:
        return
    line_channel = app[VOICE] = found[0]
    if pages:
        PhoneDesk(line_channel).add_routes(app, lambda request: request.app[WIRING].console)

    async def phone_line(app: web.Application) -> AsyncIterator[None]:
        wiring = app[WIRING]
        service = wiring.service
        line_channel.use_line(PhoneLine(wiring.db, wiring.keys, lambda: service.clock()))
        yield

    app.cleanup_ctx.append(phone_line)


def load_channels(settings: Settings) -> tuple[Channel, ...]:
    """The channels that are on, their settings checked now (ConfigError), not at the first message."""
    return tuple(channel for module in CHANNELS if (channel := module.load(settings)) is not None)


def scheduled_jobs(
    service: IntakeService, retention_days: int, session_idle: timedelta, case_years: int, counter: Counter
) -> list[Job]:
    """The periodic work; one copy at a time runs it (intake/scheduler.py). On the service's clock, read at
    each run: the one clock the messages were stamped with (a test's moved clock included)."""

    async def retention() -> None:
        purged = await purge(service.db, service.clock(), retention_days, session_idle, case_years)
        if purged.conversations:
            log.info(
                "retention: deleted %d conversations (%d never closed, inactive)",
                purged.conversations,
                purged.abandoned,
            )

    async def counted_events() -> None:
        # The limits' counted events are needed for an hour at most.
        await counter.forget_old()

    return [Job("retention", 3600.0, retention), Job("counted-events", 600.0, counted_events)]


def invite_channels(settings: Settings) -> frozenset[str]:
    """Channels with an approved template to invite a person back when a staff reply is held."""
    return frozenset({"whatsapp"}) if twilio.whatsapp_invite_enabled(settings) else frozenset()


def make_app(
    settings: Settings,
    *,
    run_outbox: bool = True,
    clock: Callable[[], datetime] | None = None,
    role: Role = Role.ALL,
) -> web.Application:
    """The service, or the part of it that `role` names. `clock` (a test's) is the service's and the
    outbox's from the start: a clock swapped in after start-up raced the first retention run, which could
    purge on the real date what the test had just stamped on its own."""
    receives = role is not Role.SENDER
    app = web.Application(middlewares=[no_tracebacks], client_max_size=1024**2)
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True)
    https = (settings.public_url or "").startswith("https://")
    app.on_response_prepare.append(security_headers(https))
    hours = build_hours(settings)
    metrics_access = MetricsAccess.from_env(settings.env)
    chat_limits = ChatLimits.from_config(settings.file.get("chat", {}).get("limits", {}))
    clients = ClientAddresses(parse_trusted_proxies(settings.env.get("HELPLINE_TRUSTED_PROXIES", "")))
    channels = load_channels(settings)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        locales = default_locales_dir()
        compile_catalogs(locales)
        catalogs = Catalogs(locales, settings.languages)
        if catalogs.missing():
            log.warning("no compiled catalog for %s: texts fall back to the message ids", catalogs.missing())
        keys = settings.keys()
        storage = Storage.open(settings.database_url, keys)
        db = storage.db
        await storage.migrate()
        metrics = Metrics()
        service = IntakeService(
            db=db,
            keys=keys,
            catalogs=catalogs,
            hours=hours,
            keywords=default_table(),
            metrics=metrics,
            limits=chat_limits,
        )
        if clock is not None:
            service.clock = clock
        accounts = StaffAccounts(db)
        if settings.require_staff:
            service.staffed = accounts.anyone_signed_in
            # On SQLite the message's own job asks (intake/inbound.py): no turn of its own.
            service.staff_idle = accounts.idle_timeout
        counter = Counter(db)
        senders: dict[str, Sender] = {}
        outbox = OutboxWorker(db=db, keys=keys, senders=senders, metrics=metrics)
        if clock is not None:
            outbox.clock = clock
        bus = LiveBus(settings.database_url)
        await bus.start()
        accounts.on_sessions_ended = bus.sessions_ended
        listeners: list[Callable[[Sequence[str]], None]] = []

        def replies_queued(pseudonyms: Sequence[str]) -> None:
            for listener in listeners:
                listener(pseudonyms)
            outbox.wake.set()

        service.on_replies = replies_queued
        service.on_change = bus.publish

        def now() -> datetime:
            # Looked up on each call: tests swap the service's clock after start-up.
            return service.clock()

        desk = StaffDesk(
            db=db,
            catalogs=catalogs,
            hours=hours,
            clock=now,
            on_replies=replies_queued,
            on_change=bus.publish,
            invite_channels=invite_channels(settings),
        )
        pages = Catalogs(locales, CONSOLE_LANGUAGES, domain="console")
        casework = CaseworkCore(db, keys, now)
        # Typing on the web chat: signals over the bus, each copy keeping what it heard for its polls.
        typing = TypingSignals(db, bus.signal)
        bus.listen(typing.received)
        console = Console(
            accounts, desk, catalogs, pages, service.keywords, bus, https, clients, casework, typing
        )
        app[WIRING] = Wiring(
            settings=settings,
            storage=storage,
            db=db,
            keys=keys,
            catalogs=catalogs,
            hours=hours,
            service=service,
            outbox=outbox,
            accounts=accounts,
            desk=desk,
            console=console,
            bus=bus,
            metrics=metrics,
            counter=counter,
            channels=channels,
            senders=senders,
        )
        app[CONTEXT] = ChannelContext(
            # Looked up on each call: tests swap the service's clock after start-up.
            receive=lambda message: service.handle(message),
            delivery=Deliveries(db),
            catalogs=catalogs,
            keys=keys,
            clock=lambda: service.clock(),
            metrics=metrics,
            keywords=service.keywords,
            hours=hours,
            line_status=lambda now, channel: line_status(service, now, channel),
            counter=counter,
            token_expired=lambda token, now, retention: token_expired(db, keys, token, now, retention),
            on_replies=listeners.append,
            typing=typing,
        )
        stop = asyncio.Event()
        janitor = asyncio.create_task(
            run_jobs(
                scheduled_jobs(
                    service,
                    settings.retention_days,
                    accounts.idle_timeout,
                    settings.case_retention_years,
                    counter,
                ),
                storage.leadership(),
                stop,
                metrics=metrics,
            )
        )
        try:
            yield
        finally:
            stop.set()
            await janitor
            # The writer's jobs already submitted are committed before its connection closes.
            await db.close()
            await bus.stop()
            await storage.close()

    app.cleanup_ctx.append(lifecycle)

    async def end_streams(app: web.Application) -> None:
        # Runs before aiohttp waits for open requests: long-lived console streams end at once.
        if WIRING in app:
            app[WIRING].bus.end_streams()

    app.on_shutdown.append(end_streams)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        ok = await request.app[WIRING].storage.ready()
        return web.json_response(
            {"status": "ok" if ok else "database unavailable or not migrated"}, status=200 if ok else 503
        )

    async def metrics(request: web.Request) -> web.Response:
        # `app`, not `request.app`: this also answers on the separate metrics listener.
        wiring = app[WIRING]
        await sample_backlog(wiring.metrics, wiring.db, wiring.service.clock())
        body = generate_latest(wiring.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def favicon(request: web.Request) -> web.StreamResponse:
        # Browsers ask for /favicon.ico by themselves: answer it instead of a 404 on every page load.
        return web.FileResponse(STATIC_DIR / "favicon.svg", headers={"Content-Type": "image/svg+xml"})

    async def root(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/chat")

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    metrics_access.add_to(app, metrics)
    if receives:
        app.router.add_get("/", root)
        app.router.add_get("/favicon.ico", favicon)
        for channel in channels:
            channel.add_routes(app)
        add_console_routes(app, lambda request: request.app[WIRING].console)
        app.router.add_static("/static", STATIC_DIR)
    add_phone_line(app, channels, pages=receives)
    # The channels start in every role: a sender needs their senders, a web process their inbound side.
    app.cleanup_ctx.append(running_channels)
    if run_outbox and role is not Role.WEB:
        app.cleanup_ctx.append(sending(SENDER_IDLE_POLL if role is Role.SENDER else IDLE_POLL))
    return app


async def running_channels(app: web.Application) -> AsyncIterator[None]:
    """Starts each channel after the core (in CHANNELS order) and registers the senders it returns; stops
    them in reverse order after the outbox worker stopped (`sending` is added after this)."""
    wiring = app[WIRING]
    started: list[tuple[Channel, list[str]]] = []
    try:
        for channel in wiring.channels:
            senders = await channel.start(app[CONTEXT])
            started.append((channel, list(senders)))
            wiring.senders.update(senders)
        wiring.outbox.wake.set()
        yield
    finally:
        for channel, names in reversed(started):
            for name in names:
                wiring.senders.pop(name, None)
            await channel.stop()


def sending(idle: float) -> Callable[[web.Application], AsyncIterator[None]]:
    """The outbox worker, looking for due replies every `idle` seconds when nothing wakes it. Added after
    the channels, so it starts once their senders are registered and, on the way out, stops before they
    close: a send in hand is finished, not cut off (which would send it again after the restart, since the
    reply may already be on the person's phone)."""

    async def worker_running(app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        worker = asyncio.create_task(app[WIRING].outbox.run(stop, idle))
        try:
            yield
        finally:
            stop.set()
            await worker

    return worker_running


__all__ = ["WIRING", "HoursConfigError", "Role", "Wiring", "make_app"]
