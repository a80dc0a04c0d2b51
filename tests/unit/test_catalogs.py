"""The message catalogs are complete, current and safe to ship.

A text the bot sends without a translation falls back to English in a Norwegian conversation; a broken
placeholder crashes the reply; a changed phone number sends a person in danger to the wrong place. These
tests fail on each of those, in every shipped language (every `locales/<lang>/LC_MESSAGES/helpline.po`).

When a test here fails after you added or changed a text in the code: run `make extract`, translate the new
entries in every `.po` (no empty or fuzzy `msgstr`), and run `make test` again.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from babel.messages import frontend
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from intake import content
from intake.i18n import DOMAIN, Catalogs, compile_catalogs

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"
MAPPING = LOCALES / "babel.cfg"
TEMPLATE = LOCALES / f"{DOMAIN}.pot"
# The keywords the Makefile's `extract` target gives pybabel: babel's own and `-k Nn_:1,2` for plurals.
KEYWORDS = {**DEFAULT_KEYWORDS, "Nn_": (1, 2)}
# The directories the Makefile's `extract` target reads.
SOURCE_DIRS = ("intake", "bots")
REQUIRED_LANGUAGES = frozenset({"nb", "en"})

LANGUAGES = tuple(sorted(p.parent.parent.name for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po")))
TRANSLATED = tuple(lang for lang in LANGUAGES if lang != "en")

# Phone numbers and emergency numbers: a run of digit groups separated by single spaces, optionally starting
# with "+", three digits or more in all ("112", "116 111", "478 09 050", "+47 23 95 00 00"; not "age 12").
PHONE = re.compile(r"(?<![\w+])\+?\d+(?: \d+)*(?!\w)")
# Web addresses and e-mail domains, e.g. "dinutvei.no".
WEB = re.compile(r"\b(?:[a-z0-9-]+\.)+(?:no|com|org|net|eu)\b", re.IGNORECASE)

Key = tuple[str | tuple[str, ...], str | None]
MethodMap = list[tuple[str, str]]
OptionsMap = dict[str, dict[str, Any]]

# babel's own reader of the mapping file (what `pybabel extract -F` uses); babel does not annotate it.
parse_mapping_cfg: Callable[[IO[str], str], tuple[MethodMap, OptionsMap]] = frontend.parse_mapping_cfg


@dataclass(frozen=True)
class Entry:
    """One message of a catalog, reduced to what these tests compare."""

    id: str | tuple[str, ...]
    context: str | None
    strings: tuple[str, ...]
    fuzzy: bool

    @property
    def key(self) -> Key:
        return (self.id, self.context)

    @property
    def ids(self) -> tuple[str, ...]:
        return self.id if isinstance(self.id, tuple) else (self.id,)

    @property
    def label(self) -> str:
        where = f" (context {self.context!r})" if self.context else ""
        return f"{self.ids[0]!r}{where}"


def _entries(catalog: Catalog) -> dict[Key, Entry]:
    """The messages of a catalog (the header left out), by (msgid, context)."""
    entries: dict[Key, Entry] = {}
    for message in catalog:
        if not message.id:
            continue
        entry = _entry(message)
        entries[entry.key] = entry
    return entries


def _entry(message: Message) -> Entry:
    msgid = tuple(message.id) if isinstance(message.id, list | tuple) else message.id
    raw = message.string
    strings = tuple(s or "" for s in raw) if isinstance(raw, list | tuple) else (raw or "",)
    return Entry(msgid, message.context, strings, message.fuzzy)


def _read_po(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def _extract_from_code() -> Catalog:
    """What `pybabel extract -F locales/babel.cfg ... intake bots` would write, from the code as it is now."""
    with MAPPING.open() as f:
        method_map, options_map = parse_mapping_cfg(f, str(MAPPING))
    catalog = Catalog(project="helpline-intake")
    for name in SOURCE_DIRS:
        directory = ROOT / name
        if not directory.is_dir():
            continue
        for filename, lineno, message, comments, context in extract_from_dir(
            directory, method_map, options_map, keywords=KEYWORDS
        ):
            catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


@pytest.fixture(scope="module")
def extracted() -> dict[Key, Entry]:
    entries = _entries(_extract_from_code())
    assert entries, "no message was extracted from the code: check locales/babel.cfg"
    return entries


@pytest.fixture(scope="module")
def template() -> dict[Key, Entry]:
    return _entries(_read_po(TEMPLATE))


@pytest.fixture(scope="module")
def po_catalogs() -> dict[str, Catalog]:
    return {lang: _read_po(_po_path(lang), locale=lang) for lang in LANGUAGES}


@pytest.fixture(scope="module")
def compiled() -> None:
    """Compile the catalogs into the real locales directory, as `make catalogs` does before the tests."""
    compile_catalogs(LOCALES)


def _placeholders(text: str) -> set[str]:
    """The names of the `{name}` fields of a format string; raises ValueError if the braces are broken."""
    names = set()
    for _, field, _, _ in string.Formatter().parse(text):
        if field is not None:
            names.add(re.split(r"[.\[]", field, maxsplit=1)[0])
    return names


def _phones(text: str) -> set[str]:
    return {m for m in PHONE.findall(text) if sum(c.isdigit() for c in m) >= 3}


def _webs(text: str) -> set[str]:
    return {m.lower() for m in WEB.findall(text)}


def _translated_pairs(catalog: Catalog) -> Iterator[tuple[Entry, str, str]]:
    """(entry, msgid, msgstr) for every translated form; a plural form is paired with the plural msgid."""
    for entry in _entries(catalog).values():
        for i, text in enumerate(entry.strings):
            if text:
                yield entry, entry.ids[min(i, len(entry.ids) - 1)], text


def test_required_languages_are_shipped() -> None:
    assert set(LANGUAGES) >= REQUIRED_LANGUAGES, (
        f"shipped catalogs: {sorted(LANGUAGES)}; missing {sorted(REQUIRED_LANGUAGES - set(LANGUAGES))}"
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_text_in_the_code_is_translated(
    lang: str, extracted: dict[Key, Entry], po_catalogs: dict[str, Catalog]
) -> None:
    catalog = po_catalogs[lang]
    entries = _entries(catalog)
    problems = []
    for key, source in sorted(extracted.items(), key=lambda kv: str(kv[0])):
        entry = entries.get(key)
        if entry is None:
            problems.append(f"missing: {source.label}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {source.label}")
        elif isinstance(entry.id, tuple) and len(entry.strings) != catalog.num_plurals:
            problems.append(f"{len(entry.strings)} of {catalog.num_plurals} plural forms: {source.label}")
        elif not all(s.strip() for s in entry.strings):
            problems.append(f"empty msgstr: {source.label}")
    assert not problems, f"{_po_path(lang).relative_to(ROOT)}:\n" + "\n".join(problems)


def test_template_is_up_to_date(extracted: dict[Key, Entry], template: dict[Key, Entry]) -> None:
    missing = sorted(str(k) for k in extracted.keys() - template.keys())
    obsolete = sorted(str(k) for k in template.keys() - extracted.keys())
    stale = f"{TEMPLATE.relative_to(ROOT)} is out of date (run `make extract`)"
    assert not missing, f"{stale}; not in it: {missing}"
    assert not obsolete, f"{stale}; no longer in the code: {obsolete}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_is_up_to_date(
    lang: str, extracted: dict[Key, Entry], po_catalogs: dict[str, Catalog]
) -> None:
    catalog = po_catalogs[lang]
    entries = _entries(catalog)
    missing = sorted(str(k) for k in extracted.keys() - entries.keys())
    obsolete = sorted(str(k) for k in entries.keys() - extracted.keys())
    obsolete += sorted(f"#~ {k}" for k in catalog.obsolete)
    stale = f"{_po_path(lang).relative_to(ROOT)} is out of date (run `make extract`, then translate)"
    assert not missing, f"{stale}; not in it: {missing}"
    assert not obsolete, f"{stale}; no longer in the code: {obsolete}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_are_kept(lang: str, po_catalogs: dict[str, Catalog]) -> None:
    problems = []
    for entry in _entries(po_catalogs[lang]).values():
        expected: set[str] = set()
        for msgid in entry.ids:
            expected |= _placeholders(msgid)
        plural = isinstance(entry.id, tuple)
        for i, text in enumerate(entry.strings):
            if not text:
                continue
            try:
                found = _placeholders(text)
            except ValueError as e:
                problems.append(f"{entry.label} form {i}: broken braces ({e}): {text!r}")
                continue
            # A plural form may leave out the count {n}; every other field must be there.
            ok = (found <= expected and found - {"n"} == expected - {"n"}) if plural else found == expected
            if not ok:
                problems.append(
                    f"{entry.label} form {i}: fields {sorted(found)}, expected {sorted(expected)}"
                )
    assert not problems, f"{_po_path(lang).relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_phone_numbers_are_kept(lang: str, po_catalogs: dict[str, Catalog]) -> None:
    problems = []
    for entry, msgid, text in _translated_pairs(po_catalogs[lang]):
        lost = _phones(msgid) - _phones(text)
        if lost:
            problems.append(f"{entry.label}: {sorted(lost)} not written exactly as in the msgid: {text!r}")
    assert not problems, f"{_po_path(lang).relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_web_addresses_are_kept(lang: str, po_catalogs: dict[str, Catalog]) -> None:
    problems = []
    for entry, msgid, text in _translated_pairs(po_catalogs[lang]):
        lost = _webs(msgid) - _webs(text)
        if lost:
            problems.append(f"{entry.label}: {sorted(lost)} missing from {text!r}")
    assert not problems, f"{_po_path(lang).relative_to(ROOT)}:\n" + "\n".join(problems)


def test_phone_pattern_finds_the_numbers() -> None:
    """The number check above is only as good as its pattern."""
    text = "Call 112 or 113, 116 111, 478 09 050, +47 23 95 00 00. From age 12, under 18."
    assert _phones(text) == {"112", "113", "116 111", "478 09 050", "+47 23 95 00 00"}
    assert _webs("See dinutvei.no and www.example.org.") == {"dinutvei.no", "www.example.org"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalog_matches_po(lang: str, compiled: None, po_catalogs: dict[str, Catalog]) -> None:
    mo_path = _po_path(lang).with_suffix(".mo")
    assert mo_path.is_file(), f"compile_catalogs did not write {mo_path.relative_to(ROOT)}"
    with mo_path.open("rb") as f:
        mo = {e.key: e.strings for e in _entries(read_mo(f)).values()}
    po = {e.key: e.strings for e in _entries(po_catalogs[lang]).values()}
    differ = sorted(str(k) for k in po.keys() | mo.keys() if po.get(k) != mo.get(k))
    assert not differ, (
        f"{mo_path.relative_to(ROOT)} does not match its .po (stale, or entries left out as fuzzy/empty): "
        f"{differ}"
    )


def test_every_language_loads(compiled: None) -> None:
    catalogs = Catalogs(LOCALES, LANGUAGES)
    assert catalogs.missing() == []


@pytest.mark.parametrize("lang", TRANSLATED)
def test_language_is_really_translated(lang: str, compiled: None) -> None:
    texts = Catalogs(LOCALES, (lang,)).texts(lang)
    assert texts(content.HELLO) != content.HELLO, f"{lang} greets in English: its catalog is not used"


def test_source_language_greets_in_norwegian(compiled: None) -> None:
    assert "nb" in LANGUAGES
    greeting = Catalogs(LOCALES, LANGUAGES).texts("nb")(content.EMERGENCY)
    assert greeting != content.EMERGENCY
    assert "112" in greeting


def _header_fields(path: Path) -> dict[str, str]:
    """The raw header of a .po file (babel's Catalog keeps only the standard fields, not X- ones)."""
    text = path.read_text(encoding="utf-8")
    match = re.search(r'^msgid ""\nmsgstr ""\n((?:".*"\n)+)', text, re.MULTILINE)
    assert match, f"{path.relative_to(ROOT)} has no header entry"
    lines = "".join(line[1:-1] for line in match.group(1).splitlines())
    fields = {}
    for line in lines.split("\\n"):
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_states_who_wrote_it_and_its_review_status(lang: str) -> None:
    """The status lives in the translator comment at the top, which `pybabel update` keeps (it drops X-
    header lines); the README's language table is made from it."""
    path = _po_path(lang)
    head = path.read_text(encoding="utf-8").split('msgid ""', 1)[0]
    status = re.search(r"^# REVIEW STATUS: (.+)$", head, re.MULTILINE)
    written = re.search(r"^# Written by (.+)$", head, re.MULTILINE)
    assert status, f"{path.relative_to(ROOT)}: no '# REVIEW STATUS: ...' line in the top comment"
    assert written, f"{path.relative_to(ROOT)}: no '# Written by ...' line in the top comment"
    assert _header_fields(path).get("Last-Translator"), f"{path.relative_to(ROOT)}: no Last-Translator"
