"""Telegram: the webhook (channel.py), updates -> the core's messages (updates.py), the sender and its rate
limits (sender.py), PTB's HTTP on aiohttp (http.py), `helpline telegram set-webhook` (admin.py)."""

from __future__ import annotations

from bots.channels.telegram.channel import NAME, TELEGRAM, TelegramChannel, enable_polling
from bots.channels.telegram.settings import TelegramSettings
from intake.config import Settings


def load(settings: Settings) -> TelegramChannel | None:
    """Off without HELPLINE_TELEGRAM_TOKEN; a wrong Telegram setting raises ConfigError naming it."""
    config = TelegramSettings.from_env(settings)
    return None if config is None else TelegramChannel(config)


__all__ = ["NAME", "TELEGRAM", "TelegramChannel", "TelegramSettings", "enable_polling", "load"]
