"""The Telegram channel's settings, read from the environment here and nowhere else."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from intake.config import ConfigError, Settings

DEFAULT_API_URL = "https://api.telegram.org/bot"
TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Telegram's limits for a bot's messages (core.telegram.org/bots/faq): about one a second in one chat and 30 a
# second overall. A bot with paid broadcasts may send up to 1000 a second overall.
SENDS_PER_SECOND = 30.0
SENDS_PER_CHAT_PER_SECOND = 1.0


@dataclass(frozen=True)
class TelegramSettings:
    token: str
    secret: str
    api_url: str
    # The outbox's pacing of Bot API calls; 0 = not paced (only against a local fake Bot API: Telegram
    # answers a bot that sends faster with 429s).
    sends_per_second: float = SENDS_PER_SECOND
    sends_per_chat_per_second: float = SENDS_PER_CHAT_PER_SECOND

    @classmethod
    def from_env(cls, settings: Settings) -> TelegramSettings | None:
        """None without HELPLINE_TELEGRAM_TOKEN (the channel is off); else the settings, checked: a wrong
        one is a ConfigError naming it (never showing the token)."""
        if not settings.env.get("HELPLINE_TELEGRAM_TOKEN"):
            return None
        return cls.required(settings)

    @classmethod
    def required(cls, settings: Settings) -> TelegramSettings:
        """The settings where the channel must be on (`helpline telegram set-webhook`)."""
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
        return cls(
            token=token,
            secret=secret,
            api_url=api_url,
            sends_per_second=_rate(env, "HELPLINE_TELEGRAM_SENDS_PER_SECOND", SENDS_PER_SECOND),
            sends_per_chat_per_second=_rate(
                env, "HELPLINE_TELEGRAM_SENDS_PER_CHAT_PER_SECOND", SENDS_PER_CHAT_PER_SECOND
            ),
        )


def _rate(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        rate = float(raw)
    except ValueError:
        rate = -1.0
    if not 0 <= rate < float("inf"):
        raise ConfigError(f"{name} must be a number of messages a second, 0 or more (0: not paced)")
    return rate
