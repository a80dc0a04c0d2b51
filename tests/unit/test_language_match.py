"""The one language matcher (intake/i18n.py), used by the web chat page and its status poll, the staff
console, and the intake's first-language hint (Telegram's language_code, the chat page's language)."""

from __future__ import annotations

import pytest

from intake.i18n import accepted_languages, match_language, pick_language

CHAT = ("nb", "en", "ar", "fa", "fa_AF", "so", "ur")
CONSOLE = ("nb", "en")


@pytest.mark.parametrize(
    ("wanted", "found"),
    [
        # 1. The same tag, whatever its case and separator.
        ("en", "en"),
        ("fa_AF", "fa_AF"),
        ("fa-AF", "fa_AF"),
        ("FA-af", "fa_AF"),
        (" so ", "so"),
        # 2. The language without its region or script.
        ("nb-NO", "nb"),
        ("en-GB", "en"),
        ("EN-us", "en"),
        ("ar-EG", "ar"),
        ("fa-IR", "fa"),
        ("ur-Arab-PK", "ur"),
        # 3. Norwegian as phones and browsers name it: the line writes bokmål.
        ("no", "nb"),
        ("nn", "nb"),
        ("nn-NO", "nb"),
        ("no_NO", "nb"),
        # Nothing else: no prefix guessing, no neighbouring language, no wildcard.
        ("nog", None),
        ("enm", None),
        ("sv", None),
        ("*", None),
        ("", None),
        (None, None),
        ("<b>en</b>", None),
    ],
)
def test_a_wish_names_an_available_language_or_none(wanted: str | None, found: str | None) -> None:
    assert match_language(wanted, CHAT) == found


def test_a_region_is_never_added_to_a_bare_language() -> None:
    # Persian asked for, only Dari offered: not a match (the person is asked which language instead).
    assert match_language("fa", ("nb", "fa_AF")) is None
    assert match_language("fa-AF", ("nb", "fa")) == "fa"


def test_norwegian_is_bokmal_only_where_bokmal_is_offered() -> None:
    assert match_language("nn", ("en", "ar")) is None


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        ("en-GB,en;q=0.9", ["en-GB", "en"]),
        ("nb-NO, nb;q=0.9, no;q=0.8, en;q=0.5", ["nb-NO", "nb", "no", "en"]),
        # By weight, then in the order written.
        ("en;q=0.5, ar, fa;q=0.8, so", ["ar", "so", "fa", "en"]),
        ("en;Q=0.5, ar", ["ar", "en"]),
        # Weight 0 is a refusal; the wildcard names no language.
        ("en;q=0, ar", ["ar"]),
        ("*, en;q=0.1", ["en"]),
        # A weight that is not one counts as none given.
        ("en;q=x, ar;q=0.5", ["en", "ar"]),
        ("en;q=nan, ar;q=0.5", ["en", "ar"]),
        ("", []),
        (" , ;q=1", []),
    ],
)
def test_accept_language_is_read_by_weight(header: str, tags: list[str]) -> None:
    assert accepted_languages(header) == tags


@pytest.mark.parametrize(
    ("chosen", "header", "available", "lang"),
    [
        # A choice that names a language wins over the browser.
        ("en", "ar", CHAT, "en"),
        ("fa-AF", "", CHAT, "fa_AF"),
        ("en-GB", "", CONSOLE, "en"),
        # A choice that names none is passed over.
        ("xx", "ar", CHAT, "ar"),
        ("<b>en</b>", "", CHAT, "nb"),
        # The first of the browser's languages that is offered.
        (None, "sv, de;q=0.9, nn;q=0.8, en;q=0.7", CHAT, "nb"),
        (None, "sv, ur-PK;q=0.9, en;q=0.8", CHAT, "ur"),
        (None, "en;q=0.5, nb", CONSOLE, "nb"),
        (None, "ar, en;q=0.5", CONSOLE, "en"),
        (None, "en;q=0, nb;q=0.1", CONSOLE, "nb"),
        # Nothing offered: the line's own (first) language.
        (None, "", CHAT, "nb"),
        ("sv", "de, fr", CONSOLE, "nb"),
        (None, "de", ("en", "nb"), "en"),
    ],
)
def test_pick_takes_the_choice_then_the_browser_then_the_first(
    chosen: str | None, header: str, available: tuple[str, ...], lang: str
) -> None:
    assert pick_language(available, chosen, header) == lang
