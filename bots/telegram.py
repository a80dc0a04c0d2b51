"""The Telegram channel: python-telegram-bot's `Application` (for the Bot and its lifecycle, without its
updater and its dispatch), fed by our own route.

`POST /webhooks/telegram` checks Telegram's secret header, parses the update with PTB, turns it into the
core's `InboundMessage` (bots/telegram_updates.py) and waits for `IntakeService.handle`, so Telegram gets
its 200 only after the message is committed (on an error it gets a 500 and sends the update again; a
repeated update_id is ignored by the core). Conversation state is in the database: no ConversationHandler,
no `user_data`. Replies leave through the durable outbox and `TelegramSender` (bots/telegram_sender.py).
`helpline serve --telegram-polling` feeds the same handler from getUpdates, for development without a
public address.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Bot, Update
from telegram.error import InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application

from bots.app import WIRING, Wiring
from bots.bodies import parse_json, read_limited
from bots.telegram_http import AiohttpRequest
from bots.telegram_sender import SendLimiter, TelegramSender, retry_after_seconds
from bots.telegram_updates import Pressed, check_ids, inbound_from
from intake.config import ConfigError, Settings
from intake.service import IntakeService

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
ALLOWED_UPDATES = ("message", "callback_query")
DEFAULT_API_URL = "https://api.telegram.org/bot"
MAX_BODY = 256 * 1024  # an update is a few kB; a message with a quoted reply stays far below this
TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
POLL_SECONDS = 25
START_RETRY_SECONDS = 5.0

TelegramApp = Application[Any, Any, Any, Any, Any, Any]


class MalformedUpdate(Exception):
    """Valid JSON with an update_id, but not an update that makes sense (answered 400)."""


@dataclass(frozen=True)
class TelegramConfig:
    token: str
    secret: str
    api_url: str


def telegram_config(settings: Settings) -> TelegramConfig:
    """The channel's settings, checked; a wrong one is a ConfigError naming it (never showing the token)."""
    env = settings.env
    token = env.get("HELPLINE_TELEGRAM_TOKEN", "").strip()
    if not TOKEN.fullmatch(token):
        raise ConfigError("HELPLINE_TELEGRAM_TOKEN must be the bot token BotFather gave (digits:letters)")
    secret = env.get("HELPLINE_TELEGRAM_WEBHOOK_SECRET", "")
    if not SECRET.fullmatch(secret):
        raise ConfigError(
            "HELPLINE_TELEGRAM_WEBHOOK_SECRET is required with HELPLINE_TELEGRAM_TOKEN: "
            "1 to 256 characters of A-Z, a-z, 0-9, _ and -"
        )
    api_url = env.get("HELPLINE_TELEGRAM_API_URL", "").strip() or DEFAULT_API_URL
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"HELPLINE_TELEGRAM_API_URL must be an http(s) URL such as {DEFAULT_API_URL}")
    return TelegramConfig(token=token, secret=secret, api_url=api_url)


@dataclass
class TelegramChannel:
    config: TelegramConfig
    limiter: SendLimiter = field(default_factory=SendLimiter)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    application: TelegramApp | None = None
    service: IntakeService | None = None
    sender: TelegramSender | None = None
    _starter: asyncio.Task[None] | None = None

    @property
    def bot(self) -> Bot:
        assert self.application is not None, "the Telegram channel has not started"
        bot: Bot = self.application.bot
        return bot

    async def start(self, wiring: Wiring) -> None:
        self.service = wiring.service
        self.application = (
            Application.builder()
            .token(self.config.token)
            .base_url(self.config.api_url)
            .request(AiohttpRequest())
            # getUpdates (--telegram-polling) holds its connection for the long poll.
            .get_updates_request(AiohttpRequest(pool_size=1, read_timeout=POLL_SECONDS + 10))
            .updater(None)
            .build()
        )
        # Telegram being unreachable must not stop the web chat: start now if it answers, else keep trying.
        if not await self._start_once():
            self._starter = asyncio.create_task(self._keep_starting())
        self.sender = TelegramSender(lambda: self.bot, self.limiter, self.ready)
        wiring.senders["telegram"] = self.sender

    async def _start_once(self) -> bool:
        assert self.application is not None
        try:
            await self.application.initialize()  # getMe
        except InvalidToken:
            raise ConfigError(
                "HELPLINE_TELEGRAM_TOKEN was refused by Telegram (or HELPLINE_TELEGRAM_API_URL is wrong)"
            ) from None
        except TelegramError as exc:
            log.warning("telegram: getMe failed (%s); the channel starts once it answers", type(exc).__name__)
            return False
        await self.application.start()
        self.ready.set()
        log.info("telegram: channel ready")
        return True

    async def _keep_starting(self) -> None:
        delay = START_RETRY_SECONDS
        while True:
            await asyncio.sleep(delay)
            try:
                if await self._start_once():
                    return
            except ConfigError as exc:
                log.error("telegram: %s", exc)
            delay = min(delay * 2, 300.0)

    async def stop(self, wiring: Wiring) -> None:
        wiring.senders.pop("telegram", None)
        if self._starter is not None:
            self._starter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starter
        if self.application is not None:
            if self.ready.is_set():
                self.ready.clear()
                await self.application.stop()
            await self.application.shutdown()  # a no-op when getMe never answered

    async def feed(self, update: Update) -> None:
        """Process one update; raises if the core did not commit it (Telegram then gets a 500).

        Not through `Application.process_update`: its dispatch added nothing to our one handler but a
        context object per update, swallowed the handler's exceptions, and marked every chat and user id
        "for persistence" in sets that only a persistence empties: with none configured, every chat id
        that ever wrote stayed in memory (a growth per conversation, and addresses held in process)."""
        await self.handle(update)

    async def handle(self, update: Update) -> None:
        assert self.service is not None
        try:
            inbound, pressed = inbound_from(update)
        except (AttributeError, TypeError, ValueError) as exc:
            raise MalformedUpdate(type(exc).__name__) from None
        if inbound is None:
            return  # groups, channels, edits, service messages: nothing processed, nothing stored
        await self.service.handle(inbound)
        if pressed is not None:
            await self._acknowledge(pressed)

    async def _acknowledge(self, pressed: Pressed) -> None:
        """After the commit: stop the button's spinner and take the keyboard off the pressed message (the
        next question comes as a new message). Cosmetic: failures are logged and ignored."""
        try:
            await self.limiter.wait()
            await pressed.query.answer()
            if pressed.message is not None and pressed.message.reply_markup is not None:
                await self.limiter.wait()
                await pressed.message.edit_reply_markup(reply_markup=None)
        except TelegramError as exc:
            log.info("telegram: could not acknowledge a button press (%s)", type(exc).__name__)

    async def webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self.config.secret.encode("utf-8")):
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            data = parse_json(await read_limited(request, MAX_BODY))
        except ValueError:
            return web.json_response({"error": "the body must be JSON"}, status=400)
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return web.json_response({"error": "not a Telegram update"}, status=400)
        if not self.ready.is_set():
            return web.json_response({"error": "starting"}, status=503)  # Telegram sends it again
        try:
            update = Update.de_json(data, self.bot)
            check_ids(update)
        except (AttributeError, KeyError, OverflowError, TypeError, ValueError):
            # What PTB's constructors raise for the wrong shapes: a number where an object belongs
            # (AttributeError), a date past the platform's time_t (OverflowError), a missing field.
            return web.json_response({"error": "not a Telegram update"}, status=400)
        try:
            await self.feed(update)
        except MalformedUpdate:
            return web.json_response({"error": "not a Telegram update"}, status=400)
        except Exception as exc:
            # Only the kind of error: a database error's text may quote the message.
            log.error("telegram: update not processed (%s); Telegram will send it again", type(exc).__name__)
            return web.json_response({"error": "internal error"}, status=500)
        return web.json_response({"ok": True})

    async def poll(self) -> None:
        """Long polling for development: getUpdates in a loop, each update through `feed`, offset moved on
        only after the core committed it."""
        await self.ready.wait()
        offset: int | None = None
        pause = 1.0
        webhook_removed = False
        while True:
            try:
                if not webhook_removed:
                    # getUpdates is refused while a webhook is set.
                    await self.bot.delete_webhook()
                    webhook_removed = True
                updates = await self.bot.get_updates(
                    offset=offset, timeout=POLL_SECONDS, allowed_updates=list(ALLOWED_UPDATES)
                )
                for update in updates:
                    await self.feed(update)
                    offset = update.update_id + 1
                pause = 1.0
            except RetryAfter as exc:
                await asyncio.sleep(retry_after_seconds(exc))
            except Exception as exc:
                log.warning("telegram: polling failed (%s); again in %.0fs", type(exc).__name__, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 60.0)


TELEGRAM = web.AppKey("telegram", TelegramChannel)


def setup(app: web.Application, settings: Settings) -> None:
    """Check the settings (ConfigError now, not at the first message), add the route, and at start-up (after
    the core) start PTB and register the sender."""
    channel = TelegramChannel(telegram_config(settings))
    # httpx logs every request URL at INFO, and a Bot API URL contains the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app[TELEGRAM] = channel

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        wiring = app[WIRING]
        await channel.start(wiring)
        try:
            yield
        finally:
            await channel.stop(wiring)

    async def webhook(request: web.Request) -> web.Response:
        return await channel.webhook(request)

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post(WEBHOOK_PATH, webhook)


def enable_polling(app: web.Application) -> None:
    """`helpline serve --telegram-polling`: poll getUpdates instead of waiting for the webhook."""
    if TELEGRAM not in app:
        raise ConfigError("HELPLINE_TELEGRAM_TOKEN is required for --telegram-polling")
    channel = app[TELEGRAM]

    async def polling(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(channel.poll())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.cleanup_ctx.append(polling)
