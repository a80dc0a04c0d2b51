"""The staff console's own texts (the "console" domain): complete in Norwegian and English, up to date."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from intake.i18n import Catalogs, compile_catalogs, default_locales_dir

ROOT = Path(__file__).resolve().parents[2]
LOCALES = default_locales_dir()
CONSOLE_LANGUAGES = ("nb", "en")


def _from_code() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT / "bots" / "console", [("**.py", "python")]
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog(lang: str, name: str = "console.po") -> dict[str, str]:
    with (LOCALES / lang / "LC_MESSAGES" / name).open("rb") as f:
        return {m.id: str(m.string or "") for m in read_po(f, locale=lang) if m.id and isinstance(m.id, str)}


@pytest.mark.parametrize("lang", CONSOLE_LANGUAGES)
def test_console_catalog_is_complete_and_up_to_date(lang: str) -> None:
    code = _from_code()
    assert len(code) > 30
    catalog = _catalog(lang)
    assert set(catalog) == code, "run `make extract` and translate the console texts"
    assert [msgid for msgid, text in catalog.items() if not text] == []


def test_console_template_matches_the_code() -> None:
    with (LOCALES / "console.pot").open("rb") as f:
        template = {m.id for m in read_po(f) if m.id}
    assert template == _from_code()


def test_console_texts_are_norwegian_for_norwegian_staff() -> None:
    compile_catalogs(LOCALES)
    pages = Catalogs(LOCALES, CONSOLE_LANGUAGES, domain="console")
    assert pages.missing() == []
    assert pages.texts("nb")("Sign in") == "Logg inn"
    assert pages.texts("en")("Sign in") == "Sign in"


def test_console_texts_stay_out_of_the_persons_catalogs() -> None:
    """Staff-only words must not burden the translators of the 14 person-facing languages."""
    helpline = _catalog("nb", "helpline.po")
    assert "Staff console" not in helpline
    assert "Pick up" not in helpline
