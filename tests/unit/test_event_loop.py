"""`helpline serve`'s event loop: uvloop where it is installed, asyncio's own when asked or without it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bots import cli
from bots.event_loop import new_event_loop
from tests.conftest import TEST_SECRET_KEY


def _name(env: dict[str, str]) -> tuple[str, str]:
    loop, name = new_event_loop(env)
    try:
        return name, type(loop).__module__.split(".")[0]
    finally:
        loop.close()


def test_uvloop_where_installed() -> None:
    assert _name({}) == ("uvloop", "uvloop")
    assert _name({"HELPLINE_EVENT_LOOP": "uvloop"}) == ("uvloop", "uvloop")


def test_asyncio_when_asked_or_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _name({"HELPLINE_EVENT_LOOP": "asyncio"}) == ("asyncio", "asyncio")
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert _name({}) == ("asyncio", "asyncio")


def test_a_wrong_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="HELPLINE_EVENT_LOOP"):
        new_event_loop({"HELPLINE_EVENT_LOOP": "trio"})


def test_helpline_serve_runs_on_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served: list[str] = []

    def run_app(app: web.Application, *, loop: asyncio.AbstractEventLoop, **options: Any) -> None:
        served.append(type(loop).__module__.split(".")[0])
        loop.close()

    monkeypatch.setattr(web, "run_app", run_app)  # bots.cli calls it as web.run_app
    monkeypatch.setenv("HELPLINE_ENV", "development")
    monkeypatch.setenv("HELPLINE_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("HELPLINE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}")
    monkeypatch.delenv("HELPLINE_TELEGRAM_TOKEN", raising=False)
    monkeypatch.delenv("HELPLINE_EVENT_LOOP", raising=False)
    assert cli.main(["serve"]) == 0
    monkeypatch.setenv("HELPLINE_EVENT_LOOP", "asyncio")
    assert cli.main(["serve"]) == 0
    assert served == ["uvloop", "asyncio"]
    monkeypatch.setenv("HELPLINE_EVENT_LOOP", "trio")
    assert cli.main(["serve"]) == 2
    assert "HELPLINE_EVENT_LOOP" in capsys.readouterr().err
