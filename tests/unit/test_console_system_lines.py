"""Every system line the desk writes (intake/queue.py) reads in the console's language."""

from __future__ import annotations

import pytest

from bots.console.system_lines import translate
from intake.i18n import Catalogs, compile_catalogs, default_locales_dir

STORED = {
    "claimed by anna": "Tatt av anna",
    "released by anna": "Satt tilbake i køen av anna",
    "transferred by anna to bjorn.b": "Overført av anna til bjorn.b",
    "closed by anna": "Avsluttet av anna",
    "closed with a flood by anna": "Lukket sammen med flommen av anna",
    "sender blocked for 24 h by anna": "Avsender blokkert i 24 t av anna",
    "flagged as possibly hostile by anna": "Merket som mulig fiendtlig av anna",
    "hostile flag removed by anna": "Merket «mulig fiendtlig» fjernet av anna",
}


@pytest.fixture(scope="module")
def norwegian() -> Catalogs:
    compile_catalogs(default_locales_dir())
    return Catalogs(default_locales_dir(), ("nb",), domain="console")


@pytest.mark.parametrize(("stored", "shown"), STORED.items())
def test_stored_lines_read_in_norwegian(norwegian: Catalogs, stored: str, shown: str) -> None:
    assert translate(stored, norwegian.texts("nb")) == shown


def test_the_desk_writes_only_lines_the_console_knows() -> None:
    """The desk's f-strings, with the names filled in, are exactly the patterns' inputs."""
    source = (default_locales_dir().parent / "intake" / "queue.py").read_text(encoding="utf-8")
    written = {
        line.split('f"', 1)[1].split('"', 1)[0] for line in source.splitlines() if "self._system(" in line
    }
    assert written - {"{verb} by {staff}"} == {
        "claimed by {staff}",
        "released by {staff}",
        "transferred by {staff} to {to}",
        "closed by {staff}",
        "closed with a flood by {staff}",
        "sender blocked for {hours} h by {staff}",
    }


def test_an_unknown_line_is_shown_as_stored(norwegian: Catalogs) -> None:
    assert translate("something new by anna", norwegian.texts("nb")) == "something new by anna"
