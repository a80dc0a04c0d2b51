"""Telegram's side of the outbox: render a Reply as a message (menus as inline keyboards), keep to Telegram's
rate limits (`TelegramSettings`' pacing), erase what the person asked to erase, and map Bot API errors to
retry or give up. The calls go through api.py's `BotApi` (JSON on PTB's aiohttp session); the errors are
PTB's types."""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bots.channels.telegram.api import BotApi
from intake.messages import OutboundMessage, Reply
from intake.outbox import PermanentFailure, TemporaryFailure

log = logging.getLogger(__name__)

MAX_CALLBACK_DATA = 64  # bytes, Telegram's limit for a button's callback_data
MAX_TEXT = 4096


@dataclass
class SendLimiter:
    """Telegram's limits for bots: about one message a second in one chat, 30 a second overall.

    An in-process async limiter: right for one running copy of the service. Several copies on one database
    each keep their own count (a 429 then still arrives now and then; it is retried after `retry_after`).
    Each call reserves the next free slot and sleeps until it, so waiters are served in order of arrival.
    `clock` and `sleep` are replaceable so tests run in virtual time. An interval of 0 does not pace.
    """

    per_chat: float = 1.0
    overall: float = 1 / 30
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _next_any: float = float("-inf")
    _next_in_chat: dict[str, float] = field(default_factory=dict)

    @classmethod
    def for_rates(cls, per_second: float, per_chat_per_second: float) -> SendLimiter:
        """From messages a second (0: not paced), as `TelegramSettings` has them."""
        return cls(
            per_chat=1 / per_chat_per_second if per_chat_per_second > 0 else 0.0,
            overall=1 / per_second if per_second > 0 else 0.0,
        )

    async def wait(self, chat: str | None = None) -> None:
        """Before a Bot API call: `chat` for a message sent into a chat, None for any other call."""
        if chat is not None and self.per_chat > 0:
            now = self.clock()
            slot = max(now, self._next_in_chat.get(chat, now))
            self._next_in_chat[chat] = slot + self.per_chat
            self._forget_idle(now)
            if slot > now:
                await self.sleep(slot - now)
        if self.overall <= 0:
            return
        now = self.clock()
        slot = max(now, self._next_any)
        self._next_any = slot + self.overall
        if slot > now:
            await self.sleep(slot - now)

    def _forget_idle(self, now: float) -> None:
        # Chat ids are addresses: keep them only while they still limit something.
        if len(self._next_in_chat) > 256:
            for chat in [c for c, t in self._next_in_chat.items() if t <= now]:
                del self._next_in_chat[chat]


def render(reply: Reply) -> tuple[str, InlineKeyboardMarkup | None]:
    """The text and the inline keyboard of one reply. Buttons carry the choice id; their labels are
    numbered so a typed "2" means the second button. An id too long for Telegram's callback_data turns the
    menu into a numbered list in the text (the flow matches typed numbers and labels)."""
    text = reply.text.strip() or "…"
    if not reply.choices:
        return text, None
    labels = [f"{number}. {choice.label}" for number, choice in enumerate(reply.choices, 1)]
    if all(0 < len(choice.id.encode("utf-8")) <= MAX_CALLBACK_DATA for choice in reply.choices):
        rows = [
            [InlineKeyboardButton(label, callback_data=choice.id)]
            for label, choice in zip(labels, reply.choices, strict=True)
        ]
        return text, InlineKeyboardMarkup(rows)
    return text + "\n\n" + "\n".join(labels), None


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that `retry_after` becomes a timedelta in a future major version; take either.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def failure(exc: TelegramError) -> TemporaryFailure | PermanentFailure:
    """What the outbox should do after a Bot API error. Reasons never carry text or chat ids."""
    if isinstance(exc, RetryAfter):
        seconds = retry_after_seconds(exc)
        return TemporaryFailure(f"rate limited by Telegram for {seconds:g}s", retry_after=seconds)
    if isinstance(exc, Forbidden):
        return PermanentFailure("Telegram refused: the person blocked the bot or left the chat")
    if isinstance(exc, BadRequest):
        # "chat not found", a deleted account, a malformed request: the same request never succeeds.
        return PermanentFailure(f"Telegram rejected the message: {exc.message[:120]}")
    if isinstance(exc, ChatMigrated):
        return PermanentFailure("the chat became a supergroup; the bot talks in private chats only")
    if isinstance(exc, NetworkError):
        return TemporaryFailure(f"network error talking to Telegram: {type(exc).__name__}")
    return TemporaryFailure(f"Telegram error: {type(exc).__name__}")


@dataclass
class TelegramSender:
    """`intake.outbox.Sender` for Telegram. Returns the sent message's message_id, which the core keeps so
    that a later delete can remove the message from the person's phone."""

    api: Callable[[], BotApi]
    limiter: SendLimiter
    ready: asyncio.Event

    async def send(self, message: OutboundMessage) -> str | None:
        if not self.ready.is_set():
            raise TemporaryFailure("the Telegram channel is still starting")
        try:
            chat_id = int(message.contact.address)
        except ValueError:
            raise PermanentFailure("not a Telegram chat id") from None
        reply = message.reply
        try:
            if reply.erase:
                await self._erase(chat_id, reply.erase_refs)
            text, keyboard = render(reply)
            await self.limiter.wait(str(chat_id))
            params: dict[str, object] = {"chat_id": chat_id, "text": text[:MAX_TEXT]}
            if keyboard is not None:
                params["reply_markup"] = keyboard.to_dict()
            # The person's phone may be checked: no forwarding, no saving, no screenshots on mobile.
            params["protect_content"] = True
            sent = await self.api().call("sendMessage", params)
        except TelegramError as exc:
            raise failure(exc) from None
        # Sent: a malformed answer must not send it again, only leave it without a ref to delete it by.
        message_id = sent.get("message_id") if isinstance(sent, dict) else None
        return str(message_id) if isinstance(message_id, int) else None

    async def _erase(self, chat_id: int, refs: Iterable[str]) -> None:
        """Delete what the bot can of the conversation on the person's phone. Telegram refuses messages older
        than 48 hours and ones already gone: those refusals are expected and ignored. A rate limit or a
        network error fails the whole send, so the confirmation is only sent once the deletes went through."""
        ids = sorted({int(ref) for ref in refs if ref.isdigit()})
        refused = 0
        for message_id in ids:
            await self.limiter.wait()
            try:
                await self.api().call("deleteMessage", {"chat_id": chat_id, "message_id": message_id})
            except (BadRequest, Forbidden):
                refused += 1
        if refused:
            log.info("telegram: %d of %d messages could not be deleted (too old or gone)", refused, len(ids))
