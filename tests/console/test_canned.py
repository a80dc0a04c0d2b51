"""Canned replies that administrators reword per language, through the console on SQLite and PostgreSQL:
the screen and its API for administrators only, every change audited, staff see the new wording in their
conversation, and bad input is a clear 400."""

from __future__ import annotations

import pytest

from bots.channels.webchat import chat as webchat_module
from intake import content as c
from intake.canned import MAX_CHARS
from tests.console.conftest import Console
from tests.console.test_actions import audit_rows

NB_READING = "Takk for at du skriver. Jeg leser meldingene dine nå."


@pytest.fixture(autouse=True)
def short_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webchat_module, "POLL_SECONDS", 0.05)


def _reading(data: dict[str, object]) -> str:
    canned = data["canned"]
    assert isinstance(canned, list)
    return str(next(x["text"] for x in canned if x["id"] == "reading"))


async def test_an_administrators_wording_reaches_staff_and_is_audited(console: Console) -> None:
    _, conversation = await console.queued("Hei, jeg trenger hjelp")
    olga = await console.signed_in("olga", admin=True)
    anna = await console.signed_in("anna")
    assert _reading(await anna.conversation(conversation)) in (NB_READING, c.CANNED["reading"])
    language = (await anna.conversation(conversation))["conversation"]["language"]

    response = await olga.post(f"canned/reading/{language}", {"text": "Hei! Jeg er her og leser."})
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert (answer["text"], answer["edited"], answer["updated_by"]) == (
        "Hei! Jeg er her og leser.",
        True,
        "olga",
    )
    assert _reading(await anna.conversation(conversation)) == "Hei! Jeg er her og leser."
    assert ("olga", "canned_edit", f"reading:{language}") in await audit_rows(console)

    listing = (await olga.read("canned"))["canned"]
    assert len(listing) == len(c.CANNED) * len(console.wiring.catalogs.languages)
    mine = next(x for x in listing if (x["key"], x["lang"]) == ("reading", language))
    assert mine["default"] != mine["text"]

    # Empty: the standard wording again, and that is audited too.
    response = await olga.post(f"canned/reading/{language}", {"text": ""})
    assert response.status == 200
    assert (await response.json())["edited"] is False
    assert _reading(await anna.conversation(conversation)) == mine["default"]
    assert ("olga", "canned_reset", f"reading:{language}") in await audit_rows(console)


async def test_the_screen_lists_every_language_for_administrators_only(console: Console) -> None:
    olga = await console.signed_in("olga", admin=True)
    anna = await console.signed_in("anna")
    page = await console.client.get("/staff/canned?lang=nb", headers=olga.cookies())
    assert page.status == 200
    html = await page.text()
    assert "Ferdige svar" in html
    assert "Standardtekst" in html
    for lang in console.wiring.catalogs.languages:
        assert f'id="canned-{lang}"' in html
    assert 'href="/staff/canned' in await (await console.client.get("/staff", headers=olga.cookies())).text()

    assert (
        'href="/staff/canned' not in await (await console.client.get("/staff", headers=anna.cookies())).text()
    )
    refused = await console.client.get("/staff/canned", headers=anna.cookies(), allow_redirects=False)
    assert refused.status == 403
    assert (await anna.get("canned")).status == 403
    response = await anna.post("canned/reading/nb", {"text": "Mitt eget svar"})
    assert response.status == 403
    assert [row for row in await audit_rows(console) if row[1].startswith("canned")] == []
    # Not signed in at all.
    assert (await console.client.get("/staff/api/canned")).status == 401


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("canned/nonsense/nb", {"text": "Hei"}, "no canned reply 'nonsense'"),
        ("canned/reading/xx", {"text": "Hei"}, "no language 'xx'"),
        ("canned/reading/nb", {"text": "x" * (MAX_CHARS + 1)}, f"at most {MAX_CHARS} characters"),
        ("canned/reading/nb", {"text": 42}, "text must be a string"),
    ],
)
async def test_bad_changes_are_a_clear_400_and_change_nothing(
    console: Console, path: str, body: dict[str, object], error: str
) -> None:
    olga = await console.signed_in("olga", admin=True)
    response = await olga.post(path, body)
    assert response.status == 400
    assert error in (await response.json())["error"]
    assert not any(x["edited"] for x in (await olga.read("canned"))["canned"])
    assert [row for row in await audit_rows(console) if row[1].startswith("canned")] == []


async def test_a_change_needs_the_csrf_token(console: Console) -> None:
    olga = await console.signed_in("olga", admin=True)
    response = await olga.post("canned/reading/nb", {"text": "Hei"}, csrf="")
    assert response.status == 403
    assert not any(x["edited"] for x in (await olga.read("canned"))["canned"])
