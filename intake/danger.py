"""Danger signals in free text: phrases per language and kind, matched on word boundaries.

The phrases live in `danger.toml`, written in a small notation (explained at the top of that file) that
compiles to one regular expression per kind. Every message is checked against the phrases of every language,
because people mix languages and write in one the conversation was not set to.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

from intake.folding import loose


class DangerKind(StrEnum):
    """What a danger signal is about; each kind gets its own advice on top of the emergency numbers."""

    ACUTE = "acute"  # violence, threats, being locked in, a marriage forced, a passport taken
    TRAVEL = "travel"  # being taken abroad soon: the advice not to travel and UDops' number
    SELF_HARM = "self_harm"  # wanting to die or to hurt oneself


# Between two words: anything that is not a letter or digit (spaces, commas, an apostrophe).
_SEP = r"\W+"
# Every phrase starts a word. Said once in front of all the phrases, so that the regular expression engine
# tries the phrases only where a word starts: several times faster on a long message.
_START = r"(?<!\w)"
_LIST = re.compile(r"@(\w+)")
_GAPS = {"..": r"(?:\W+\w+){0,3}", "...": r"(?:\W+\w+){0,6}"}
_WORD_META = {"*": r"\w*", "(": "(?:", ")": ")", "|": "|", "?": "?", "_": r"\s?", " ": _SEP}


class PhraseError(ValueError):
    """A phrase in danger.toml that cannot be compiled; raised at start-up, never on a message."""


@dataclass(frozen=True)
class DangerMatcher:
    patterns: Mapping[DangerKind, re.Pattern[str]]

    def kinds(self, text: str) -> frozenset[DangerKind]:
        folded = loose(text)
        return frozenset(kind for kind, pattern in self.patterns.items() if pattern.search(folded))


def _word(token: str, words: Mapping[str, list[str]]) -> str:
    out = []
    for i, piece in enumerate(_LIST.split(token)):
        if i % 2:  # the name of a word list
            if piece not in words:
                raise PhraseError(f"unknown word list @{piece}")
            out.append("(?:" + "|".join(_word(w, {}) for w in words[piece]) + ")")
        else:
            out.extend(_WORD_META.get(ch) or re.escape(ch) for ch in loose(piece))
    return "".join(out)


def compile_phrase(
    phrase: str, prefixes: Iterable[str] = (), words: Mapping[str, list[str]] | None = None
) -> str:
    """The regular expression for one phrase: its words in order, each whole, separated by anything that is
    not a letter; `prefixes` (letters that attach to the front of a word in the language) may precede each.
    It matches only where a word starts when put after `_START`."""
    words = words or {}
    pre = "|".join(re.escape(loose(p)) for p in prefixes)
    pre = f"(?:{pre}){{0,2}}" if pre else ""
    out = []
    first = True
    for token in _tokens(phrase):
        if not token.strip("[]!"):
            # An empty word would match at every word start: every message would be danger.
            raise PhraseError(f"{phrase!r}: an empty word")
        if token in _GAPS:
            if first:
                raise PhraseError(f"{phrase!r}: a gap needs a word before it")
            out.append(_GAPS[token])
        elif token.startswith("!"):
            out.append(rf"(?!{_SEP}(?:{_word(token[1:], words)})(?!\w))")
        elif token.startswith("[") and token.endswith("]"):
            if first:
                raise PhraseError(f"{phrase!r}: the first word cannot be optional")
            out.append(f"(?:{_SEP}{pre}{_word(token[1:-1], words)})?")
        else:
            out.append(("" if first else _SEP) + pre + _word(token, words))
            first = False
    if first:
        raise PhraseError(f"{phrase!r}: no word")
    out.append(r"(?!\w)")
    regex = "".join(out)
    try:
        re.compile(_START + regex)
    except re.error as exc:
        raise PhraseError(f"{phrase!r}: {exc}") from exc
    return regex


def _tokens(phrase: str) -> list[str]:
    """The phrase split at spaces outside parentheses: "(kommer til å|vil) drepe" is two tokens."""
    tokens, current, depth = [], "", 0
    for ch in " ".join(phrase.split()):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            raise PhraseError(f"{phrase!r}: unbalanced parentheses")
        if ch == " " and depth == 0:
            tokens.append(current)
            current = ""
        else:
            current += ch
    if depth:
        raise PhraseError(f"{phrase!r}: unbalanced parentheses")
    return [*tokens, current]


def build_matcher(data: Mapping[str, Mapping[str, object]]) -> DangerMatcher:
    parts: dict[DangerKind, list[str]] = {kind: [] for kind in DangerKind}
    for lang, section in data.items():
        prefixes = _strings(section.get("prefixes", []), f"{lang}.prefixes")
        words_table = section.get("words", {})
        if not isinstance(words_table, dict):
            raise PhraseError(f"{lang}.words must be a table of lists")
        words = {name: _strings(value, f"{lang}.words.{name}") for name, value in words_table.items()}
        for kind in DangerKind:
            for phrase in _strings(section.get(kind.value, []), f"{lang}.{kind.value}"):
                parts[kind].append(compile_phrase(phrase, prefixes, words))
    return DangerMatcher(
        {
            kind: re.compile(_START + "(?:" + ("|".join(found) or "(?!)") + ")")
            for kind, found in parts.items()
        }
    )


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PhraseError(f"{where} must be a list of strings")
    return list(value)


@cache
def default_matcher() -> DangerMatcher:
    raw = resources.files("intake").joinpath("danger.toml").read_text(encoding="utf-8")
    return build_matcher(tomllib.loads(raw))
