"""The phone line's TwiML answers, built only with twilio's VoiceResponse.

Each prompt is spoken with <Say> in the language's voice (voices.toml) from the language's catalog, or
played from a file the line recorded (<recordings_dir>/<lang>/<prompt>.mp3, served by the service). A
language with neither (no recording, no voice, or a prompt not yet translated) is left out of the menu: a
Polish voice reading English would promise nothing the caller understands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from bots.channels.voice.settings import Voice, VoiceSettings
from intake import phone_texts as t
from intake.i18n import Catalogs, Texts, language_name

AUDIO_PATH = "/webhooks/twilio/voice/audio"
STEP_PATH = "/webhooks/twilio/voice/"
MAX_MENU = 9


@dataclass(frozen=True)
class Speaker:
    """One language's way of saying the prompts."""

    lang: str
    texts: Texts
    voice: Voice | None  # None: every prompt is a recorded file
    audio_url: str

    def add(self, target: VoiceResponse | Gather, prompt: str, **fields: str) -> None:
        if self.voice is None:
            target.play(f"{self.audio_url}/{quote(self.lang)}/{prompt}.mp3")
        else:
            text = self.texts(t.PROMPTS[prompt], **fields)
            target.say(text, voice=self.voice.voice, language=self.voice.language)


def recorded(folder: Path | None, lang: str) -> bool:
    return folder is not None and all((folder / lang / f"{key}.mp3").is_file() for key in t.PROMPTS)


def translated(texts: Texts) -> bool:
    return texts.lang == "en" or all(texts(msgid) != msgid for msgid in t.PROMPTS.values())


def speakers(settings: VoiceSettings, catalogs: Catalogs) -> list[Speaker]:
    """The languages the phone offers, in the configured order (at most nine: one digit each)."""
    found: list[Speaker] = []
    audio_url = settings.public_url + AUDIO_PATH
    for lang in settings.languages:
        texts = catalogs.texts(lang)
        if recorded(settings.recordings_dir, lang):
            found.append(Speaker(lang, texts, None, audio_url))
        elif lang in settings.voices and texts.lang == lang and translated(texts):
            found.append(Speaker(lang, texts, settings.voices[lang], audio_url))
    if not found:
        # Never a silent line: English has its msgids as text and a voice, whatever the configuration.
        found.append(Speaker("en", catalogs.texts("en"), load_english(settings), audio_url))
    return found[:MAX_MENU]


def load_english(settings: VoiceSettings) -> Voice:
    return settings.voices.get("en") or Voice("Polly.Amy", "en-GB")


class Answers:
    def __init__(self, settings: VoiceSettings, catalogs: Catalogs) -> None:
        self.settings = settings
        self.speakers = speakers(settings, catalogs)
        self.by_lang = {s.lang: s for s in self.speakers}

    def step_url(self, step: str) -> str:
        return self.settings.public_url + STEP_PATH + step

    def speaker(self, lang: str | None) -> Speaker:
        return self.by_lang.get(lang or "", self.speakers[0])

    def welcome(self) -> str:
        """Greeting and 112 in the first two languages, then the menu; no digit: the first language."""
        response = VoiceResponse()
        for speaker in self.speakers[:2]:
            speaker.add(response, "greeting")
        if len(self.speakers) > 1:
            gather = response.gather(
                input="dtmf", num_digits=1, timeout=5, action=self.step_url("language"), method="POST"
            )
            for digit, speaker in enumerate(self.speakers, start=1):
                name = language_name(speaker.lang)
                speaker.add(gather, "menu", language=name, digit=str(digit))
        response.redirect(self.step_url("language"), method="POST")
        return str(response)

    def language_of(self, digits: str) -> str:
        if digits.isdigit() and 1 <= int(digits) <= len(self.speakers):
            return self.speakers[int(digits) - 1].lang
        return self.speakers[0].lang

    def ring(self, lang: str, staff: list[tuple[str, str]]) -> str:
        """Every on-duty phone at once, the line's number shown; the caller's number never reaches staff."""
        response = VoiceResponse()
        self.speaker(lang).add(response, "connecting")
        dial = Dial(
            caller_id=self.settings.number,
            timeout=self.settings.ring_timeout,
            action=self.step_url("dialled"),
            method="POST",
        )
        for name, number in staff:
            dial.number(
                number, url=self.step_url("answered") + "?staff=" + quote(name, safe=""), method="POST"
            )
        response.append(dial)
        return str(response)

    def closed(self, lang: str | None, opens: datetime | None, now: datetime, tz_name: object) -> str:
        """Closed or nobody free: when it opens, 112/113 and the 24/7 services, then a message."""
        speaker = self.speaker(lang)
        response = VoiceResponse()
        speaker.add(response, "closed")
        if opens is not None and speaker.voice is not None:
            moment = speaker.texts.moment(opens, now, tz_name)  # type: ignore[arg-type]
            response.say(
                speaker.texts(t.OPENS, moment=moment),
                voice=speaker.voice.voice,
                language=speaker.voice.language,
            )
        speaker.add(response, "emergency")
        speaker.add(response, "leave_message")
        response.record(
            max_length=self.settings.max_message_seconds,
            play_beep=True,
            transcribe=False,
            finish_on_key="#",
            timeout=10,
            action=self.step_url("recorded"),
            method="POST",
            recording_status_callback=self.step_url("recording"),
            recording_status_callback_method="POST",
            recording_status_callback_event="completed",
        )
        return str(response)

    def ask_consent(self, lang: str | None) -> str:
        speaker = self.speaker(lang)
        response = VoiceResponse()
        gather = response.gather(
            input="dtmf", num_digits=1, timeout=8, action=self.step_url("consent"), method="POST"
        )
        speaker.add(gather, "ask_consent")
        # No answer is a no: nobody calls back without a yes.
        speaker.add(response, "consent_no")
        response.hangup()
        return str(response)

    def goodbye(self, lang: str | None, yes: bool) -> str:
        response = VoiceResponse()
        self.speaker(lang).add(response, "consent_yes" if yes else "consent_no")
        response.hangup()
        return str(response)

    def whisper(self) -> str:
        """Fetched when a staff phone picks up: nothing to say (the line's number on their screen says
        which line it is); the caller is connected as this empty answer ends."""
        return str(VoiceResponse())

    @staticmethod
    def hangup() -> str:
        response = VoiceResponse()
        response.hangup()
        return str(response)

    def call_back(self, caller: str) -> str:
        """For the staff member's phone, once they pick up: connect the caller, showing the line's number."""
        response = VoiceResponse()
        dial = response.dial(caller_id=self.settings.number, timeout=self.settings.ring_timeout)
        dial.number(caller)
        return str(response)
