"""The Twilio channel's settings, read from the environment here and nowhere else, and the first-language
hint from a phone number."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from intake.config import ConfigError, Settings

STATUS_PATH = "/webhooks/twilio/status"
DEFAULT_API_URL = "https://api.twilio.com"

_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_TEMPLATE_SID = re.compile(r"HX[0-9a-fA-F]{32}")
# E.164 (+ and up to 15 digits) or a short code.
_NUMBER = re.compile(r"\+[1-9]\d{5,14}|\d{3,8}")

# Country calling code -> the language a first message is most likely in (only a hint: the person is asked
# to choose at once, and a language that is not enabled is ignored). Calling codes are prefix-free.
COUNTRY_LANGUAGES: dict[str, str] = {
    "47": "nb",
    "44": "en",
    "1": "en",
    "353": "en",
    "61": "en",
    "64": "en",
    "48": "pl",
    "90": "tr",
    "7": "ru",
    "375": "ru",
    "380": "uk",
    "252": "so",
    "291": "ti",
    "93": "fa_AF",
    "98": "fa",
    "92": "ur",
    "964": "ar",
    **dict.fromkeys(
        # Egypt, Saudi Arabia, Syria, Jordan, Lebanon, Kuwait, Oman, UAE, Bahrain, Qatar, Yemen, Palestine,
        # Morocco, Algeria, Tunisia, Libya, Sudan.
        [
            "20",
            "966",
            "963",
            "962",
            "961",
            "965",
            "968",
            "971",
            "973",
            "974",
            "967",
            "970",
            "212",
            "213",
            "216",
            "218",
            "249",
        ],
        "ar",
    ),
}


def locale_hint(address: str) -> str | None:
    """The language the number's country suggests ("+4791234567" -> "nb"), or None."""
    number = address.removeprefix("whatsapp:")
    if not number.startswith("+"):
        return None
    digits = number[1:]
    for length in (3, 2, 1):
        if digits[:length] in COUNTRY_LANGUAGES:
            return COUNTRY_LANGUAGES[digits[:length]]
    return None


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    public_url: str
    api_url: str = DEFAULT_API_URL
    sms_from: str | None = None
    whatsapp_from: str | None = None
    whatsapp_template_sid: str | None = None

    @property
    def status_callback(self) -> str:
        return self.public_url + STATUS_PATH

    @property
    def whatsapp_invites(self) -> bool:
        """Whether a reply held by WhatsApp's 24-hour window can invite the person back with the approved
        template (for `StaffDesk(invite_channels=...)`)."""
        return self.whatsapp_from is not None and self.whatsapp_template_sid is not None

    @classmethod
    def from_env(cls, settings: Settings) -> TwilioSettings | None:
        """None without HELPLINE_TWILIO_ACCOUNT_SID (the channel is off); else the settings, checked: a
        wrong one raises ConfigError naming it."""
        env = settings.env
        if not env.get("HELPLINE_TWILIO_ACCOUNT_SID"):
            return None
        # An account that serves only the phone line (bots/channels/voice): SMS and WhatsApp stay off.
        messaging = ("HELPLINE_TWILIO_SMS_FROM", "HELPLINE_TWILIO_WHATSAPP_FROM")
        if env.get("HELPLINE_TWILIO_VOICE_NUMBER", "").strip() and not any(
            env.get(n, "").strip() for n in messaging
        ):
            return None
        return _checked(settings)


def _checked(settings: Settings) -> TwilioSettings:
    env = {k: v.strip() for k, v in settings.env.items() if k.startswith("HELPLINE_TWILIO_")}
    sid = env.get("HELPLINE_TWILIO_ACCOUNT_SID", "")
    if not _ACCOUNT_SID.fullmatch(sid):
        raise ConfigError("HELPLINE_TWILIO_ACCOUNT_SID must be a Twilio account SID (AC and 32 hex digits)")
    token = env.get("HELPLINE_TWILIO_AUTH_TOKEN", "")
    if not token:
        raise ConfigError("HELPLINE_TWILIO_AUTH_TOKEN is required with HELPLINE_TWILIO_ACCOUNT_SID")
    if settings.public_url is None:
        raise ConfigError(
            "HELPLINE_PUBLIC_URL is required for Twilio: the public https base URL Twilio calls "
            "(webhook signatures are checked against it)"
        )
    sms_from = env.get("HELPLINE_TWILIO_SMS_FROM") or None
    if sms_from is not None and not _NUMBER.fullmatch(sms_from):
        raise ConfigError("HELPLINE_TWILIO_SMS_FROM must be a phone number in E.164 form (+4712345678)")
    whatsapp_from = env.get("HELPLINE_TWILIO_WHATSAPP_FROM") or None
    if whatsapp_from is not None:
        number = whatsapp_from.removeprefix("whatsapp:")
        if not _NUMBER.fullmatch(number) or not number.startswith("+"):
            raise ConfigError(
                "HELPLINE_TWILIO_WHATSAPP_FROM must be the WhatsApp number, e.g. whatsapp:+4712345678"
            )
        whatsapp_from = "whatsapp:" + number
    if sms_from is None and whatsapp_from is None:
        raise ConfigError(
            "HELPLINE_TWILIO_ACCOUNT_SID is set but neither HELPLINE_TWILIO_SMS_FROM nor "
            "HELPLINE_TWILIO_WHATSAPP_FROM: set the number(s) to use, or unset the account SID"
        )
    template = env.get("HELPLINE_TWILIO_WHATSAPP_TEMPLATE_SID") or None
    if template is not None and not _TEMPLATE_SID.fullmatch(template):
        raise ConfigError(
            "HELPLINE_TWILIO_WHATSAPP_TEMPLATE_SID must be a Content SID (HX and 32 hex digits)"
        )
    api_url = (env.get("HELPLINE_TWILIO_API_URL") or DEFAULT_API_URL).rstrip("/")
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"HELPLINE_TWILIO_API_URL must be an http(s) URL, not {api_url!r}")
    return TwilioSettings(sid, token, settings.public_url, api_url, sms_from, whatsapp_from, template)


def whatsapp_invite_enabled(settings: Settings) -> bool:
    """`TwilioSettings.whatsapp_invites`, False when the Twilio channel is off."""
    config = TwilioSettings.from_env(settings)
    return config is not None and config.whatsapp_invites
