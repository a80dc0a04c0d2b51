"""Keywords that work at every step, in every language, and the danger signals by kind."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources


class DangerKind(StrEnum):
    """What a danger signal is about; each kind gets its own advice on top of the emergency numbers."""

    ACUTE = "acute"  # violence, threats, being locked in, a wedding or a passport taken
    TRAVEL = "travel"  # being taken abroad soon: the advice not to travel and UDops' number
    SELF_HARM = "self_harm"  # wanting to die or to hurt oneself


class Keyword(StrEnum):
    DELETE = "delete"
    HELP = "help"
    LANGUAGE = "language"
    SKIP = "skip"
    STOP = "stop"


# Quotes people put around a word they were told to write ("write «SLETT»").
_QUOTES = "\"'«»“”„‘’‹›「」"


_ARABIC_FOLD = str.maketrans(
    {"ي": "ی", "ى": "ی", "ك": "ک", "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "\u200c": None, "\u200d": None}
    | {chr(c): None for c in range(0x064B, 0x0660)}
    | {"\u0670": None}
)


def normalise(text: str) -> str:
    """Casefolded, NFKC, apostrophes unified, quotes and surrounding punctuation removed; Turkish dotted
    capitals (SİL casefolds to "si̇l") and Russian ё (often typed as е) folded so both spellings match."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("’", "'").replace("ʼ", "'")
    text = text.replace("\u0307", "").replace("ё", "е")
    # Arabic-script spellings differ by keyboard: Persian ی/ک vs Arabic ي/ك, hamza forms, vowel marks and
    # the zero-width non-joiner are often typed or not. Fold them so either spelling matches.
    text = text.translate(_ARABIC_FOLD)
    return " ".join(text.strip(" \t\r\n.!?،؟。" + _QUOTES).split())


@dataclass(frozen=True)
class KeywordTable:
    whole: dict[str, Keyword]
    danger: dict[DangerKind, re.Pattern[str]]
    # The word the bot teaches in each language ("write SLETT to erase"): the first one listed.
    taught: dict[Keyword, dict[str, str]]

    def word(self, keyword: Keyword, lang: str) -> str:
        words = self.taught.get(keyword, {})
        return (words.get(lang) or words.get("en") or keyword.value).upper()

    def keyword(self, text: str) -> Keyword | None:
        return self.whole.get(normalise(text).lstrip("/"))

    def danger_kinds(self, text: str) -> frozenset[DangerKind]:
        """Every kind of danger the text signals; empty when it signals none."""
        norm = normalise(text)
        return frozenset(kind for kind, pattern in self.danger.items() if pattern.search(norm))

    def is_danger(self, text: str) -> bool:
        norm = normalise(text)
        return any(pattern.search(norm) for pattern in self.danger.values())


def _starts_word(term: str) -> bool:
    # Latin and Cyrillic words take a leading word boundary; scripts where prefixes attach do not.
    first = term[0]
    return first.isascii() or "\u00c0" <= first <= "\u024f" or "\u0400" <= first <= "\u04ff"


def build_table(data: dict[str, dict[str, list[str]]]) -> KeywordTable:
    whole: dict[str, Keyword] = {}
    taught: dict[Keyword, dict[str, str]] = {}
    for kw in Keyword:
        taught[kw] = {lang: words[0] for lang, words in data.get(kw.value, {}).items() if words}
        for words in data.get(kw.value, {}).values():
            for word in words:
                whole.setdefault(normalise(word), kw)
    danger = {kind: _danger_pattern(data.get(f"danger_{kind.value}", {})) for kind in DangerKind}
    return KeywordTable(whole=whole, danger=danger, taught=taught)


def _danger_pattern(by_lang: dict[str, list[str]]) -> re.Pattern[str]:
    parts = []
    for words in by_lang.values():
        for word in words:
            term = re.escape(normalise(word))
            parts.append(rf"(?<!\w){term}" if _starts_word(normalise(word)) else term)
    return re.compile("|".join(sorted(parts, key=len, reverse=True)) or r"(?!)")


@cache
def keyword_data() -> dict[str, dict[str, list[str]]]:
    raw = resources.files("intake").joinpath("keywords.toml").read_text(encoding="utf-8")
    return tomllib.loads(raw)


@cache
def default_table() -> KeywordTable:
    return build_table(keyword_data())
