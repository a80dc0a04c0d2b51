"""Catalogs per language: one Translations object per locale, chosen per conversation (never a global `_`)."""

from __future__ import annotations

import gettext
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

DOMAIN = "helpline"
SOURCE_LANGUAGE = "nb"
# CLDR names Dari "Persian (Afghanistan)"; people who speak it call it Dari.
OWN_NAME_OVERRIDES = {"fa_AF": "دری"}
# Norwegian as phones and browsers name it: "no" (Norwegian) or "nn" (nynorsk). The line writes bokmål,
# which every reader of nynorsk reads.
NORWEGIAN = frozenset({"no", "nn"})


def default_locales_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "locales"


def language_name(lang: str) -> str:
    """The language's name in its own language and script, as a language menu shows it."""
    if lang in OWN_NAME_OVERRIDES:
        return OWN_NAME_OVERRIDES[lang]
    name = Locale.parse(lang).display_name or lang
    return name[:1].upper() + name[1:]


def match_language(wanted: str | None, available: Sequence[str]) -> str | None:
    """The available language a wish names (an Accept-Language tag, a phone's language, a page's choice),
    spelt as in `available`; None when it names none. In this order:
    1. the same tag, whatever its case and `-` or `_` (fa-AF, fa_af: fa_AF);
    2. its language without region or script (nb-NO: nb, en-GB: en, ar-EG: ar; fa-AF: fa where there is
       no fa_AF, never the other way round: Dari is not offered to someone who asked for Persian);
    3. bokmål for Norwegian (no, nn, no-NO, nn-NO: nb)."""
    if not wanted:
        return None
    tag = wanted.strip().replace("-", "_").lower()
    base = tag.split("_")[0]
    by_tag = {lang.lower(): lang for lang in available}
    for candidate in (tag, base, "nb" if base in NORWEGIAN else ""):
        if candidate in by_tag:
            return by_tag[candidate]
    return None


def accepted_languages(header: str) -> list[str]:
    """An Accept-Language header's tags, most wanted first: by their weight (q), then in the order
    written. A tag weighted 0 is one the browser refuses and is left out, as is the wildcard "*"; a weight
    that is not a number counts as none given (1)."""
    weighted: list[tuple[float, str]] = []
    for part in header.split(","):
        tag, *params = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 1.0
                if not 0.0 <= weight <= 1.0:  # nan, inf and numbers out of range: as if not given
                    weight = 1.0
        if tag and tag != "*" and weight > 0.0:
            weighted.append((weight, tag))
    # sorted() is stable: equal weights keep the order the browser wrote them in.
    return [tag for _, tag in sorted(weighted, key=lambda pair: -pair[0])]


def pick_language(available: Sequence[str], chosen: str | None = None, accept_language: str = "") -> str:
    """The language to show: the one chosen (a page's ?lang=, the person's pick) if it names an available
    one (`match_language`), else the first of the browser's Accept-Language that does, else the first
    available (the line's own language)."""
    for wanted in (chosen, *accepted_languages(accept_language)):
        if (lang := match_language(wanted, available)) is not None:
            return lang
    return available[0]


def upper(text: str, lang: str) -> str:
    """Capitals as the language writes them: Turkish and Azerbaijani keep the dot on a capital i (SİL, DİL),
    which str.upper() drops (it gives SIL, a different word)."""
    if lang.split("_")[0] in ("tr", "az"):
        text = text.replace("i", "İ")
    return text.upper()


def _latin_day_period(lang: str) -> bool:
    """Whether the locale's short time shows a Latin AM/PM in a language not written in Latin script (Urdu:
    "9:00 AM"); such a language gets CLDR's day period in its own script instead ("9:00 صبح")."""
    loc = Locale.parse(lang)
    am = str(loc.day_periods["format"]["abbreviated"].get("am", ""))
    own_script_latin = any(ch.isascii() and ch.isalpha() for ch in loc.display_name or "")
    return " a" in str(loc.time_formats["short"].pattern) and am.isascii() and not own_script_latin


def is_rtl(lang: str) -> bool:
    return Locale.parse(lang).text_direction == "rtl"


def compile_catalogs(locales_dir: Path) -> list[Path]:
    """Compile every .po whose .mo is missing or older; returns the .mo files written."""
    written = []
    for po_path in sorted(locales_dir.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as f:
            catalog = read_po(f, locale=po_path.parent.parent.name)
        with mo_path.open("wb") as f:
            write_mo(f, catalog, use_fuzzy=False)
        written.append(mo_path)
    return written


@dataclass(frozen=True)
class Texts:
    """One language's texts: call it with a message id (and format fields) to get the translation."""

    lang: str
    translations: gettext.NullTranslations

    def __call__(self, msgid: str, **fields: str) -> str:
        text = self.translations.gettext(msgid)
        return text.format(**fields) if fields else text

    def plural(self, singular: str, plural: str, n: int, **fields: str) -> str:
        return self.translations.ngettext(singular, plural, n).format(n=n, **fields)

    @property
    def rtl(self) -> bool:
        return is_rtl(self.lang)

    def moment(self, when: datetime, now: datetime, tz: ZoneInfo) -> str:
        """'Monday 09:00' within a week, 'Mon, 4 Jan 09:00' beyond, in this language's own format."""
        if _latin_day_period(self.lang):
            clock = format_skeleton("Bhm", when, tzinfo=tz, locale=self.lang)
        else:
            clock = format_time(when, "short", tzinfo=tz, locale=self.lang)
        if when - now < timedelta(days=6):
            day = format_date(when.astimezone(tz), "EEEE", locale=self.lang)
        else:
            day = format_skeleton("MMMMEEEEd", when, tzinfo=tz, locale=self.lang)
        return f"{day} {clock}"


class Catalogs:
    """Loads each language's compiled catalog once; unknown languages fall back to the source language."""

    def __init__(self, locales_dir: Path, languages: tuple[str, ...], domain: str = DOMAIN) -> None:
        self.languages = languages
        self._texts: dict[str, Texts] = {}
        for lang in languages:
            translations = Translations.load(str(locales_dir), [lang], domain)
            self._texts[lang] = Texts(lang, translations)

    def texts(self, lang: str) -> Texts:
        return self._texts.get(lang) or self._texts[self.languages[0]]

    def missing(self) -> list[str]:
        """Languages whose catalog did not load (babel silently falls back to the message ids)."""
        return [lang for lang, t in self._texts.items() if type(t.translations) is not Translations]
