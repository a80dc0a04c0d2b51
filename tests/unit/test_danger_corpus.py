"""Danger detection measured on a labelled corpus of sentences, per language.

A missed danger sentence leaves a person in danger answering intake questions; a false alarm in the first
message skips the safety question and the whole intake. `tests/corpus/danger/<lang>.toml` holds sentences as
people write them, each danger sentence under its kind. This test prints recall and the false-alarm rate per
language (run pytest with `-s` to see the table) and fails below 95 % recall or above 2 % false alarms in any
language. The kind matters too: travel and self-harm each get their own advice, so a hit must carry the kind
its sentence is labelled with, and must not carry travel or self-harm when its sentence is about neither.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from intake.keywords import DangerKind, KeywordTable, default_table

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus" / "danger"
LANGUAGES = tuple(sorted(p.parent.parent.name for p in (ROOT / "locales").glob("*/LC_MESSAGES/helpline.po")))
MIN_RECALL = 0.95
MAX_FALSE_ALARMS = 0.02
# Kinds that bring their own advice: a hit must carry them exactly when the sentence is labelled with them.
ADVISED = (DangerKind.TRAVEL, DangerKind.SELF_HARM)


def load(lang: str) -> tuple[list[tuple[DangerKind, str]], list[str]]:
    data = tomllib.loads((CORPUS / f"{lang}.toml").read_text(encoding="utf-8"))
    danger = [(kind, text) for kind in DangerKind for text in data.get(kind.value, [])]
    return danger, list(data["harmless"])


@dataclass
class Score:
    lang: str
    danger: int = 0
    harmless: int = 0
    missed: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)
    wrong_kind: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return 1 - len(self.missed) / self.danger

    @property
    def false_alarm_rate(self) -> float:
        return len(self.false_alarms) / self.harmless

    def row(self) -> str:
        return (
            f"| {self.lang:<5} | {self.danger:>6} | {self.recall:>6.1%} | {self.harmless:>8} "
            f"| {self.false_alarm_rate:>12.1%} | {len(self.wrong_kind):>10} |"
        )


def score(table: KeywordTable, lang: str) -> Score:
    danger, harmless = load(lang)
    result = Score(lang, danger=len(danger), harmless=len(harmless))
    for label, text in danger:
        kinds = table.danger_kinds(text)
        if not kinds:
            result.missed.append(text)
        elif any((kind in kinds) != (kind == label) for kind in ADVISED):
            result.wrong_kind.append(f"{text} -> {sorted(kinds)} (labelled {label})")
    result.false_alarms = [text for text in harmless if default_table().is_danger(text)]
    return result


HEADER = (
    "| lang  | danger | recall | harmless | false alarms | wrong kind |\n"
    "|-------|--------|--------|----------|--------------|------------|"
)


def test_every_language_has_a_corpus_of_the_required_size() -> None:
    for lang in LANGUAGES:
        danger, harmless = load(lang)
        least = 40 if lang in ("nb", "en") else 15
        assert len(danger) >= least, lang
        assert len(harmless) >= least, lang
        assert len({text for _, text in danger} | set(harmless)) == len(danger) + len(harmless), lang


def test_recall_false_alarms_and_kinds_per_language() -> None:
    scores = [score(default_table(), lang) for lang in LANGUAGES]
    print("\n" + "\n".join([HEADER, *(s.row() for s in scores)]))
    failures = [
        f"{s.lang}: recall {s.recall:.1%}, false alarms {s.false_alarm_rate:.1%}\n"
        f"  missed: {s.missed}\n  false alarms: {s.false_alarms}\n  wrong kind: {s.wrong_kind}"
        for s in scores
        if s.recall < MIN_RECALL or s.false_alarm_rate > MAX_FALSE_ALARMS or s.wrong_kind
    ]
    assert not failures, "\n".join(failures)
