"""Search over the words of open and recent conversations, on SQLite and PostgreSQL: staff only, every
conversation shown audited (never the words), notes and system lines never searched, old closed ones gone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from bots.channels.webchat import chat as webchat_module
from intake.desk_search import RECENT
from tests.console.conftest import Console
from tests.console.test_actions import audit_rows


@pytest.fixture(autouse=True)
def short_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webchat_module, "POLL_SECONDS", 0.05)


async def test_search_finds_words_in_transcripts_and_audits_what_it_showed(console: Console) -> None:
    _, wedding = await console.queued("Jeg er redd for bryllupet til sommeren")
    _, other = await console.queued("Hei, jeg vil bare prate")
    anna = await console.signed_in("anna")
    await anna.act(other, "notes", {"text": "Nevnte bryllupet i en bisetning"})

    found = await anna.read("search?q=" + quote("BRYLLUP"))
    assert [(r["conversation"], r["direction"]) for r in found["results"]] == [(wedding, "in")]
    assert "bryllupet" in found["results"][0]["snippet"]
    assert ("anna", "search", wedding) in await audit_rows(console)
    assert ("anna", "search", other) not in await audit_rows(console)

    # Too short, or only LIKE's own wildcards: nothing, not everything.
    for query in ("", "a", "%", "__"):
        assert (await anna.read("search?q=" + quote(query)))["results"] == [], query


async def test_closed_conversations_leave_the_search_after_a_week(console: Console) -> None:
    _, conversation = await console.queued("Passet mitt er tatt")
    anna = await console.signed_in("anna")
    await anna.act(conversation, "claim")
    await anna.act(conversation, "close", {})
    assert len((await anna.read("search?q=passet"))["results"]) == 1
    later = datetime.now(UTC) + RECENT + timedelta(hours=1)
    console.wiring.service.clock = lambda: later
    assert (await anna.read("search?q=passet"))["results"] == []


async def test_search_is_for_signed_in_staff(console: Console) -> None:
    response = await console.client.get("/staff/api/search?q=hei")
    assert response.status == 401
