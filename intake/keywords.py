"""Keywords that work at every step, in every language, and the danger signals by kind."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

from intake.danger import DangerKind as DangerKind
from intake.danger import DangerMatcher, default_matcher
from intake.folding import normalise as normalise


class Keyword(StrEnum):
    DELETE = "delete"
    HELP = "help"
    LANGUAGE = "language"
    SKIP = "skip"
    STOP = "stop"


@dataclass(frozen=True)
class KeywordTable:
    whole: dict[str, Keyword]
    danger: DangerMatcher
    # The word the bot teaches in each language ("write SLETT to erase"): the first one listed.
    taught: dict[Keyword, dict[str, str]]

    def word(self, keyword: Keyword, lang: str) -> str:
        words = self.taught.get(keyword, {})
        return (words.get(lang) or words.get("en") or keyword.value).upper()

    def keyword(self, text: str) -> Keyword | None:
        return self.whole.get(normalise(text).lstrip("/"))

    def danger_kinds(self, text: str) -> frozenset[DangerKind]:
        """Every kind of danger the text signals; empty when it signals none."""
        return self.danger.kinds(text)

    def is_danger(self, text: str) -> bool:
        return bool(self.danger.kinds(text))


def build_table(data: dict[str, dict[str, list[str]]], danger: DangerMatcher | None = None) -> KeywordTable:
    whole: dict[str, Keyword] = {}
    taught: dict[Keyword, dict[str, str]] = {}
    for kw in Keyword:
        taught[kw] = {lang: words[0] for lang, words in data.get(kw.value, {}).items() if words}
        for words in data.get(kw.value, {}).values():
            for word in words:
                whole.setdefault(normalise(word), kw)
    return KeywordTable(whole=whole, danger=danger or default_matcher(), taught=taught)


@cache
def keyword_data() -> dict[str, dict[str, list[str]]]:
    raw = resources.files("intake").joinpath("keywords.toml").read_text(encoding="utf-8")
    return tomllib.loads(raw)


@cache
def default_table() -> KeywordTable:
    return build_table(keyword_data())
