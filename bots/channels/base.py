"""The channel contract: what every channel (web chat, Telegram, Twilio, the phone line …) implements, and
the narrow context the app hands it.

A channel is a package under `bots/channels/<name>/` whose `__init__.py` is a `ChannelModule`: a `NAME`
and `load(settings) -> Channel | None`, which reads the channel's settings from the environment in one
place (`<Name>Settings.from_env`) and returns None when the channel is off; a wrong setting raises
`intake.config.ConfigError` with one line naming it. `bots/app.py` lists the channel modules in `CHANNELS`
and, for each one that is on:

1. `add_routes(app)` while the app is built (its webhooks, pages, `on_shutdown` hooks);
2. `await start(context)` at start-up, inside the event loop, after the core: it returns its senders,
   channel name -> `Sender` (the outbox sends every reply through them; an empty mapping for a channel
   whose replies are pulled, like the web chat);
3. `await stop()` on the way out, after the outbox worker stopped.

A channel never imports `bots.app` or another channel, never touches a row class and never opens a
database session: everything it needs from the core comes through `ChannelContext`. Sends fail with
`SendError` (`retryable` or not): the outbox retries the first with backoff and marks the second failed.
Models: RapidPro's courier (one handler interface, a folder per channel) and Zulip's `zerver/webhooks/`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from aiohttp import web

from intake.config import ConfigError, Settings
from intake.delivery import PulledReply, Report
from intake.hours import OpeningHours
from intake.i18n import Catalogs
from intake.keywords import KeywordTable
from intake.limits import Counter
from intake.line_status import LineStatus
from intake.messages import InboundMessage
from intake.metrics import Metrics
from intake.outbox import PermanentFailure, Sender, TemporaryFailure
from intake.privacy import Keys
from intake.service import Outcome
from intake.typing_signals import TypingSignals

# The one failure type of a send, as the outbox knows it: `TemporaryFailure` is retryable (with an optional
# `retry_after`), `PermanentFailure` is not. `send_error` builds either from a flag.
SendError = TemporaryFailure | PermanentFailure


def send_error(reason: str, *, retryable: bool, retry_after: float | None = None) -> SendError:
    """A send's failure, without the provider's own text (it may quote an address): `reason` is stored."""
    return TemporaryFailure(reason, retry_after=retry_after) if retryable else PermanentFailure(reason)


def retryable(error: SendError) -> bool:
    return isinstance(error, TemporaryFailure)


class DeliveryUpdates(Protocol):
    """How a channel tells the core what became of a reply (today `intake/delivery.py` and the outbox)."""

    async def report(self, report: Report) -> str | None:
        """A provider's delivery report, applied in any order (a late "failed" never undoes "delivered").
        Returns the reply's channel, or None when no stored reply has that provider id."""
        ...

    async def pull(self, pseudonym: str, after: int) -> Sequence[PulledReply]:
        """The replies for this person after outbox id `after`, marked pulled and sent before they are
        returned."""
        ...


@dataclass(frozen=True)
class ChannelContext:
    """What the core gives a channel at start-up: never the whole wiring.

    `clock` and `receive` are looked up on each call, so a test that swaps the service's clock is followed.
    """

    # The core's inbound entry point: commits the message (and the replies it causes) or raises.
    receive: Callable[[InboundMessage], Awaitable[Outcome]]
    delivery: DeliveryUpdates
    catalogs: Catalogs
    keys: Keys
    clock: Callable[[], datetime]
    metrics: Metrics
    # The flow's keyword table (e.g. the erase word is never held back by a limit).
    keywords: KeywordTable
    hours: OpeningHours
    # Whether the line is open now for a channel, and until when (what a landing page shows).
    line_status: Callable[[datetime, str], Awaitable[LineStatus]]
    # The counted events behind the limits (intake/limits.py).
    counter: Counter
    # Whether a web chat token's conversation is gone by retention: (token, now, retention) -> bool.
    token_expired: Callable[[str, datetime, timedelta], Awaitable[bool]]
    # Register a listener called with the pseudonyms whose replies were just queued (after the commit).
    on_replies: Callable[[Callable[[Sequence[str]], None]], None]
    # The web chat's typing indicator, both ways (never stored, never sent on another channel).
    typing: TypingSignals


class Channel(Protocol):
    """One channel, built by its module's `load(settings)` with its settings already checked."""

    @property
    def name(self) -> str: ...

    def add_routes(self, app: web.Application) -> None:
        """Its routes (webhooks, pages) and any `on_shutdown` hook; called once while the app is built."""
        ...

    async def start(self, context: ChannelContext) -> Mapping[str, Sender]:
        """Start inside the event loop; returns its senders by channel name (empty: replies are pulled).
        A provider that is unreachable at start-up must not stop the other channels."""
        ...

    async def stop(self) -> None:
        """Close what `start` opened; the outbox worker has already stopped."""
        ...


class ChannelModule(Protocol):
    """A channel's package (`bots/channels/<name>/__init__.py`), as `bots.app.CHANNELS` lists it."""

    NAME: str

    def load(self, settings: Settings) -> Channel | None:
        """The channel with its settings parsed from `settings.env` (None: the channel is off); a wrong
        setting raises ConfigError naming it."""
        ...


__all__ = [
    "Channel",
    "ChannelContext",
    "ChannelModule",
    "ConfigError",
    "DeliveryUpdates",
    "PulledReply",
    "Report",
    "SendError",
    "Sender",
    "retryable",
    "send_error",
]
