"""The phone line's settings: the number and the Twilio account from the environment, the rest in the TOML
file's [voice] table."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from intake.config import ConfigError, Settings

VOICES_FILE = Path(__file__).with_name("voices.toml")
DEFAULT_API_URL = "https://api.twilio.com"
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_E164 = re.compile(r"\+[1-9]\d{5,14}")
# Twilio's own limits: a <Dial> rings for 5 to 600 seconds; our messages are at most 3 minutes (the issue).
MAX_MESSAGE_SECONDS = 180


@dataclass(frozen=True)
class Voice:
    """How Twilio speaks a language: a <Say> voice and its language tag."""

    voice: str
    language: str


@dataclass(frozen=True)
class VoiceSettings:
    number: str
    account_sid: str
    auth_token: str
    public_url: str
    api_url: str
    recordings_dir: Path | None
    ring_timeout: int
    max_message_seconds: int
    languages: tuple[str, ...]
    voices: Mapping[str, Voice]

    @classmethod
    def from_env(cls, settings: Settings) -> VoiceSettings | None:
        env = {k: v.strip() for k, v in settings.env.items() if k.startswith("HELPLINE_TWILIO_")}
        number = env.get("HELPLINE_TWILIO_VOICE_NUMBER", "")
        if not number:
            return None
        if not _E164.fullmatch(number):
            raise ConfigError(
                "HELPLINE_TWILIO_VOICE_NUMBER must be a phone number in E.164 form (+4712345678)"
            )
        sid = env.get("HELPLINE_TWILIO_ACCOUNT_SID", "")
        if not _ACCOUNT_SID.fullmatch(sid):
            raise ConfigError(
                "HELPLINE_TWILIO_ACCOUNT_SID must be a Twilio account SID (AC and 32 hex digits)"
            )
        token = env.get("HELPLINE_TWILIO_AUTH_TOKEN", "")
        if not token:
            raise ConfigError("HELPLINE_TWILIO_AUTH_TOKEN is required with HELPLINE_TWILIO_VOICE_NUMBER")
        if settings.public_url is None:
            raise ConfigError("HELPLINE_PUBLIC_URL is required for the phone line (Twilio signs its URL)")
        api_url = (env.get("HELPLINE_TWILIO_API_URL") or DEFAULT_API_URL).rstrip("/")
        if urlsplit(api_url).scheme not in ("http", "https"):
            raise ConfigError(f"HELPLINE_TWILIO_API_URL must be an http(s) URL, not {api_url!r}")
        table = settings.file.get("voice", {})
        if not isinstance(table, Mapping):
            raise ConfigError("[voice] must be a table")
        folder = table.get("recordings_dir")
        if folder is not None and not isinstance(folder, str):
            raise ConfigError("voice.recordings_dir must be a folder path")
        ring = _int(table, "ring_timeout", 20, 5, 600)
        longest = _int(table, "max_message_seconds", MAX_MESSAGE_SECONDS, 10, MAX_MESSAGE_SECONDS)
        return cls(
            number=number,
            account_sid=sid,
            auth_token=token,
            public_url=settings.public_url,
            api_url=api_url,
            recordings_dir=Path(folder) if folder else None,
            ring_timeout=ring,
            max_message_seconds=longest,
            languages=settings.languages,
            voices=load_voices(),
        )


def _int(table: Mapping[str, object], name: str, default: int, low: int, high: int) -> int:
    value = table.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"voice.{name} must be a whole number from {low} to {high}")
    return value


def load_voices(path: Path = VOICES_FILE) -> dict[str, Voice]:
    data = tomllib.loads(path.read_text("utf-8"))
    return {lang: Voice(str(entry["voice"]), str(entry["language"])) for lang, entry in data.items()}
