"""The Telegram channel: python-telegram-bot's `Application` (for the Bot and its lifecycle, without its
updater and its dispatch), fed by our own route.

`POST /webhooks/telegram` checks Telegram's secret header, turns the update into the core's
`InboundMessage` (updates.py: a plain text message or button press from the dict, anything else through
PTB's `Update`) and waits for the core's `receive`, so Telegram gets
its 200 only after the message is committed (on an error it gets a 500 and sends the update again; a
repeated update_id is ignored by the core). Conversation state is in the database: no ConversationHandler,
no `user_data`. Replies leave through the durable outbox and `TelegramSender` (sender.py), and they and
the acknowledgements of button presses go out through api.py's `BotApi` on PTB's aiohttp session.
`helpline serve --telegram-polling` feeds the same handler from getUpdates, for development without a
public address.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from telegram import Bot, Update
from telegram.error import InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application

from bots.bodies import parse_json, read_limited
from bots.channels.base import ChannelContext, Sender
from bots.channels.telegram.api import BotApi
from bots.channels.telegram.http import AiohttpRequest
from bots.channels.telegram.sender import SendLimiter, TelegramSender, retry_after_seconds
from bots.channels.telegram.settings import TelegramSettings
from bots.channels.telegram.updates import Parsed, Pressed, check_ids, inbound_from, plain_inbound
from bots.http.errors import json_error
from intake.config import ConfigError
from intake.messages import InboundMessage
from intake.service import Outcome

log = logging.getLogger(__name__)

NAME = "telegram"
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
ALLOWED_UPDATES = ("message", "callback_query")
MAX_BODY = 256 * 1024  # an update is a few kB; a message with a quoted reply stays far below this
POLL_SECONDS = 25
START_RETRY_SECONDS = 5.0

TelegramApp = Application[Any, Any, Any, Any, Any, Any]


class MalformedUpdate(Exception):
    """Valid JSON with an update_id, but not an update that makes sense (answered 400)."""


async def _not_started(message: InboundMessage) -> Outcome:
    # Never reached through the webhook (it answers 503 until the channel is ready); a 500 if it were.
    raise RuntimeError("the Telegram channel has not started")


def _application(config: TelegramSettings, request: AiohttpRequest) -> TelegramApp:
    """PTB's Application for its Bot and lifecycle only: no updater, no dispatch. Its HTTP sessions open
    at `initialize()`, inside the running loop."""
    return (
        Application.builder()
        .token(config.token)
        .base_url(config.api_url)
        .request(request)
        # getUpdates (--telegram-polling) holds its connection for the long poll.
        .get_updates_request(AiohttpRequest(pool_size=1, read_timeout=POLL_SECONDS + 10))
        .updater(None)
        .build()
    )


@dataclass
class TelegramChannel:
    """The Telegram channel (bots/channels/base.py's `Channel`)."""

    config: TelegramSettings
    limiter: SendLimiter = field(init=False)  # paced as the settings say
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    application: TelegramApp = field(init=False)
    api: BotApi = field(init=False)
    _receive: Callable[[InboundMessage], Awaitable[Outcome]] = _not_started
    _starter: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.limiter = SendLimiter.for_rates(
            self.config.sends_per_second, self.config.sends_per_chat_per_second
        )
        request = AiohttpRequest()
        self.application = _application(self.config, request)
        self.api = BotApi(request, self.application.bot.base_url)

    @property
    def name(self) -> str:
        return NAME

    @property
    def bot(self) -> Bot:
        bot: Bot = self.application.bot
        return bot

    def add_routes(self, app: web.Application) -> None:
        # httpx logs every request URL at INFO, and a Bot API URL contains the bot token.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        app[TELEGRAM] = self
        app.router.add_post(WEBHOOK_PATH, self.webhook)

    async def start(self, context: ChannelContext) -> Mapping[str, Sender]:
        self._receive = context.receive
        # Telegram being unreachable must not stop the web chat: start now if it answers, else keep trying.
        if not await self._start_once():
            self._starter = asyncio.create_task(self._keep_starting())
        return {NAME: TelegramSender(lambda: self.api, self.limiter, self.ready)}

    async def _start_once(self) -> bool:
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

    async def stop(self) -> None:
        if self._starter is not None:
            self._starter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starter
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
        try:
            parsed = inbound_from(update)
        except (AttributeError, TypeError, ValueError) as exc:
            raise MalformedUpdate(type(exc).__name__) from None
        await self._process(parsed)

    async def _process(self, parsed: Parsed) -> None:
        inbound, pressed = parsed
        if inbound is None:
            return  # groups, channels, edits, service messages: nothing processed, nothing stored
        await self._receive(inbound)
        if pressed is not None:
            await self._acknowledge(pressed)

    async def _acknowledge(self, pressed: Pressed) -> None:
        """After the commit: stop the button's spinner and take the keyboard off the pressed message (the
        next question comes as a new message). Cosmetic: failures are logged and ignored."""
        try:
            await self.limiter.wait()
            await self.api.call("answerCallbackQuery", {"callback_query_id": pressed.query_id})
            if pressed.keyboard_message_id is not None:
                await self.limiter.wait()
                await self.api.call(
                    "editMessageReplyMarkup",
                    {"chat_id": pressed.keyboard_chat_id, "message_id": pressed.keyboard_message_id},
                )
        except TelegramError as exc:
            log.info("telegram: could not acknowledge a button press (%s)", type(exc).__name__)

    async def webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self.config.secret.encode("utf-8")):
            return json_error(403, "forbidden")
        try:
            data = parse_json(await read_limited(request, MAX_BODY))
        except ValueError:
            return json_error(400, "the body must be JSON")
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return json_error(400, "not a Telegram update")
        if not self.ready.is_set():
            return json_error(503, "starting")  # Telegram sends it again
        plain = plain_inbound(data)
        try:
            if plain is not None:
                await self._process(plain)
            else:
                try:
                    update = Update.de_json(data, self.bot)
                    check_ids(update)
                except (AttributeError, KeyError, OverflowError, TypeError, ValueError):
                    # What PTB's constructors raise for the wrong shapes: a number where an object belongs
                    # (AttributeError), a date past the platform's time_t (OverflowError), a missing field.
                    return json_error(400, "not a Telegram update")
                await self.feed(update)
        except MalformedUpdate:
            return json_error(400, "not a Telegram update")
        except Exception as exc:
            # Only the kind of error: a database error's text may quote the message.
            log.error("telegram: update not processed (%s); Telegram will send it again", type(exc).__name__)
            return json_error(500, "internal error")
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
