"""Danger phrases: the notation in intake/danger.toml, and the kinds a message signals.

The corpus test (test_danger_corpus.py) measures the phrases; these tests pin down what the notation
means, so that a phrase written in it does what the comment at the top of danger.toml says.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from intake import categories
from intake.danger import DangerKind, PhraseError, build_matcher, compile_phrase
from intake.i18n import Catalogs
from intake.keywords import default_table

LOCALES = Path(__file__).resolve().parents[2] / "locales"
LANGUAGES = tuple(sorted(p.parent.parent.name for p in LOCALES.glob("*/LC_MESSAGES/helpline.po")))


def matches(phrase: str, text: str, prefixes: tuple[str, ...] = (), **words: list[str]) -> bool:
    matcher = build_matcher({"xx": {"acute": [phrase], "prefixes": list(prefixes), "words": words}})
    return bool(matcher.kinds(text))


def test_each_kind_is_told_apart_and_a_message_can_carry_several() -> None:
    table = default_table()
    assert table.danger_kinds("we fly tomorrow") == {DangerKind.TRAVEL}
    assert table.danger_kinds("I think about suicide") == {DangerKind.SELF_HARM}
    assert table.danger_kinds("he will kill me, we go to the airport") == {
        DangerKind.ACUTE,
        DangerKind.TRAVEL,
    }
    assert table.danger_kinds("hello, I have a question") == frozenset()


def test_is_danger_is_true_exactly_when_some_kind_is_found() -> None:
    table = default_table()
    for text in [
        "we fly tomorrow",
        "I think about suicide",
        "they beat me",
        "hello",
        "a question about school",
    ]:
        assert table.is_danger(text) == bool(table.danger_kinds(text))


def test_words_match_whole_and_a_star_allows_any_ending() -> None:
    assert matches("gun", "he has a gun!")
    assert not matches("gun", "Gunnar said it was gunstig")
    assert not matches("kill", "I have skills")
    assert matches("drep*", "de dreper meg")
    assert not matches("drep*", "vi gikk forbi en skredrepe")


def test_words_follow_each_other_across_spaces_and_punctuation_only() -> None:
    assert matches("locked me in", "they LOCKED me, in my room")
    assert not matches("locked me in", "they locked me out, in the rain")


def test_gaps_allow_a_bounded_number_of_words_in_between() -> None:
    assert matches("forced me .. marry", "forced me to marry")
    assert matches("forced me .. marry", "forced me to go and marry")
    assert not matches("forced me .. marry", "forced me to eat and then later marry")
    assert matches("wedding ... want", "wedding is next week and i dont want")


def test_optional_and_excluded_words() -> None:
    assert matches("hit me !up", "he hit me")
    assert not matches("hit me !up", "hit me up later")
    assert matches("passport [was] taken", "passport taken")
    assert matches("passport [was] taken", "passport was taken")


def test_alternatives_may_hold_several_words_and_word_lists_expand() -> None:
    assert matches("(kommer til å|vil) drepe", "de kommer til å drepe meg")
    assert matches("sende meg til @country", "de vil sende meg til Pakistan", country=["pakistan", "irak"])
    assert not matches("sende meg til @country", "de vil sende meg til Spania", country=["pakistan", "irak"])


def test_attached_prefixes_are_allowed_only_where_listed() -> None:
    # "and they beat me" is one word in Arabic: و + يضربوني.
    assert matches("یضربونی", "وبيضربوني", prefixes=("و", "ب"))
    assert not matches("یضربونی", "وبيضربوني")
    assert not matches("یضربونی", "زيضربوني", prefixes=("و", "ب"))


def test_accents_and_keyboard_variants_fold_on_both_sides() -> None:
    assert matches("slår meg", "pappa slar meg")
    assert matches("dövüyor", "DOVUYOR")
    assert matches("zabić", "chca mnie zabic")
    assert matches("کتک", "كتك")  # Persian keyboard's ک and ی against Arabic's ك and ي
    assert matches("محبوسة", "محبوسه")  # ة typed as ه


@pytest.mark.parametrize(
    "phrase", ["", "  ", "kill []", ".. kill", "[me] kill", "kill (me", "kill me)", "@nowhere"]
)
def test_a_phrase_that_cannot_be_compiled_is_refused_at_start_up(phrase: str) -> None:
    with pytest.raises(PhraseError):
        compile_phrase(phrase)


# Menus a person answers by typing the label instead of pressing a button: the label is their answer.
MENUS = (
    categories.ROLES,
    categories.TOPICS,
    categories.AGE_GROUPS,
    categories.GENDERS,
    categories.SITUATIONS,
)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_typing_a_menu_label_is_not_a_danger_signal(lang: str) -> None:
    """Choosing the topic "Marriage against my will" by typing it is an answer, not an alarm: an alarm
    would skip the rest of the intake. Danger phrases describe what happens to the person, not a topic."""
    texts = Catalogs(LOCALES, (lang,)).texts(lang)
    labels = [texts(option.label) for menu in MENUS for option in menu]
    assert [label for label in labels if default_table().is_danger(label)] == []
