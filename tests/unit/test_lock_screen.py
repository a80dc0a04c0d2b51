"""What a lock screen shows: the first line of every message the bot can push, in every language and channel,
never names the subject, the police, an emergency number or erasing (tests/unit/lock_screen_words.toml)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from intake import content as c
from intake.i18n import DOMAIN, Catalogs, compile_catalogs, default_locales_dir
from intake.keywords import DangerKind, normalise
from intake.messages import Channel
from tests.unit.pushed import DANGER_SIGNALS, KEYWORDS, walk

LOCALES = default_locales_dir()
LANGUAGES = tuple(sorted(p.parent.parent.name for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po")))
WORDS = tomllib.loads((Path(__file__).with_name("lock_screen_words.toml")).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    compile_catalogs(LOCALES)
    # Norwegian first, as configured: the language menu lists every shipped language.
    return Catalogs(LOCALES, ("nb", *(lang for lang in LANGUAGES if lang != "nb")))


def forbidden(lang: str) -> list[str]:
    return [normalise(w) for w in (*WORDS["any"], *WORDS[lang])]


def test_every_shipped_language_has_a_word_list() -> None:
    assert set(LANGUAGES) <= set(WORDS), sorted(set(LANGUAGES) - set(WORDS))
    assert all(len(WORDS[lang]) >= 10 for lang in LANGUAGES)


@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_pushed_message_shows_a_sensitive_word_in_its_first_line(
    catalogs: Catalogs, lang: str, channel: Channel
) -> None:
    words = forbidden(lang)
    problems, seen = [], 0
    for pushed in walk(catalogs, lang, channel):
        seen += 1
        first = pushed.shown(channel).split("\n", 1)[0]
        hits = [w for w in words if w in normalise(first)]
        if hits:
            problems.append(f"{pushed.where}: {hits} in {first!r}")
    assert seen > 500
    assert not problems, f"{lang}/{channel}: {len(problems)} first lines:\n" + "\n".join(
        sorted(set(problems))[:40]
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_neutral_lines_are_themselves_neutral(catalogs: Catalogs, lang: str) -> None:
    """The lead lines and the first reply's first line pass the list (an empty translation would not)."""
    t = catalogs.texts(lang)
    for msgid in (c.LEAD_HELLO, c.LEAD_INFO, c.HELLO):
        line = t(msgid)
        assert line.strip()
        assert "\n" not in line
        assert not [w for w in forbidden(lang) if w in normalise(line)], line


def test_the_walk_meets_every_kind_of_danger() -> None:
    """The danger replies are walked only if the signals still are signals."""
    kinds = [KEYWORDS.danger_kinds(signal) for signal in DANGER_SIGNALS]
    assert all(kinds)
    assert frozenset().union(*kinds) == frozenset(DangerKind)


def test_the_word_list_catches_the_old_first_lines(catalogs: Catalogs) -> None:
    """The check is only as good as its list: the first lines the bot used to send are caught."""
    old = {
        "en": "If you are in danger now, call 112 (police) or 113 (ambulance).",
        "nb": "Ingen kan tvinge deg til å gifte deg. Tvangsekteskap er straffbart i Norge.",
        "ar": "العنف والتهديد ممنوعان في القانون النرويجي.",
        "tr": "Yurt dışında bırakılmaktan korkuyorsan seyahat etme.",
        "ru": "Готово. Разговор удалён.",
    }
    for lang, line in old.items():
        assert [w for w in forbidden(lang) if w in normalise(line)], (lang, line)
