"""SMS and WhatsApp through Twilio: the signed webhooks and delivery reports (channel.py), the sender and its
pacing (sender.py), the settings and the first-language hint (settings.py)."""

from __future__ import annotations

from bots.channels.twilio.channel import NAME, TWILIO, TWIML_EMPTY, TwilioChannel
from bots.channels.twilio.settings import TwilioSettings, locale_hint, whatsapp_invite_enabled
from intake.config import Settings


def load(settings: Settings) -> TwilioChannel | None:
    """Off without HELPLINE_TWILIO_ACCOUNT_SID; a wrong Twilio setting raises ConfigError naming it."""
    config = TwilioSettings.from_env(settings)
    return None if config is None else TwilioChannel(config)


__all__ = [
    "NAME",
    "TWILIO",
    "TWIML_EMPTY",
    "TwilioChannel",
    "TwilioSettings",
    "load",
    "locale_hint",
    "whatsapp_invite_enabled",
]
