"""The web chat's settings. The chat is always on: `from_env` never returns None."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bots.client_address import ClientAddresses, parse_trusted_proxies
from intake.config import Settings
from intake.limits import ChatLimits


@dataclass(frozen=True)
class WebChatSettings:
    exit_url: str
    # A token stops working once its conversation is gone by retention.
    retention: timedelta
    limits: ChatLimits
    clients: ClientAddresses

    @classmethod
    def from_env(cls, settings: Settings) -> WebChatSettings:
        return cls(
            exit_url=settings.exit_url,
            retention=timedelta(days=settings.retention_days),
            limits=ChatLimits.from_config(settings.file.get("chat", {}).get("limits", {})),
            clients=ClientAddresses(parse_trusted_proxies(settings.env.get("HELPLINE_TRUSTED_PROXIES", ""))),
        )
