"""The web chat's limits: per client address, per chat, overall admission, message length. Over a limit the
person gets a polite answer in their language (the page shows it and puts their text back), and nothing
that was accepted is lost. Behind our proxy (127.0.0.1 here) each X-Forwarded-For address is a client."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path

import pytest
from aiohttp import ClientResponse
from sqlalchemy import func, select

from bots.channels.webchat.chat import BUSY, TOO_FAST, TOO_LONG
from intake.config import ConfigError, load_settings
from intake.limits import ChatLimits
from intake.storage.models import MessageRow
from tests.channels.webchat_tab import Chat
from tests.console.conftest import ALWAYS_OPEN, Console, MakeConsole
from tests.integration.conftest import fetch

PERSON, OTHER = "198.51.100.7", "203.0.113.9"


def via(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def proxied(make_console: MakeConsole, tmp_path: Path, **limits: int) -> Console:
    """The service behind our proxy, with these limits in its TOML file (the rest as shipped)."""
    config = tmp_path / "limits.toml"
    lines = [ALWAYS_OPEN.read_text(encoding="utf-8"), "[chat.limits]"]
    lines += [f"{name} = {value}" for name, value in limits.items()]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return await make_console(HELPLINE_TRUSTED_PROXIES="127.0.0.1", HELPLINE_CONFIG=str(config))


async def polite(response: ClientResponse, console: Console, lang: str, msgid: str) -> str:
    """A limit's answer: 429 with the text for the page, in the person's language, never an error page."""
    assert response.status == 429
    assert response.content_type == "application/json"
    assert response.headers["Retry-After"] == "60"
    text: str = (await response.json())["error"]
    assert text == console.wiring.catalogs.texts(lang)(msgid)
    return text


async def inbound(console: Console) -> int:
    rows = await fetch(
        console.wiring.db, select(func.count()).select_from(MessageRow).where(MessageRow.direction == "in")
    )
    return int(rows[0])


async def burst(requests: list[Awaitable[ClientResponse]], most: int, ok: int) -> list[ClientResponse]:
    """Sent all at once: at most `most` pass (parallel tries may refuse each other, never let more in),
    every other is refused politely."""
    answers = await asyncio.gather(*requests)
    statuses = Counter(answer.status for answer in answers)
    assert set(statuses) <= {ok, 429}, statuses
    assert statuses[ok] <= most, statuses
    assert statuses[429] >= len(answers) - most, statuses
    return answers


def passed(answers: list[ClientResponse], ok: int) -> int:
    return sum(answer.status == ok for answer in answers)


async def test_two_hundred_sessions_in_three_seconds_from_one_address(make_console: MakeConsole) -> None:
    console = await make_console()
    most = ChatLimits().sessions_per_minute

    def session() -> Awaitable[ClientResponse]:
        return console.client.post("/chat/api/session", headers={"Accept-Language": "nb"})

    answers = await burst([session() for _ in range(200)], most, 200)
    # The limit, exactly: what the burst left can be used one after another, and no more.
    for _ in range(most - passed(answers, 200)):
        assert (await session()).status == 200
    assert (await session()).status == 429
    text = await polite(next(a for a in answers if a.status == 429), console, "nb", BUSY)
    # A neutral first line; the way to help now follows.
    assert text.splitlines()[0] == "Chatten er svært travel akkurat nå."
    assert "112" in text


async def test_admission_control_caps_new_sessions_from_everyone(
    make_console: MakeConsole, tmp_path: Path
) -> None:
    console = await proxied(make_console, tmp_path, new_sessions_per_minute=30)

    def session(n: int) -> Awaitable[ClientResponse]:
        return console.client.post(
            "/chat/api/session", headers={**via(f"10.9.0.{n}"), "Accept-Language": "ar"}
        )

    answers = await burst([session(n) for n in range(100)], 30, 200)
    for n in range(30 - passed(answers, 200)):
        assert (await session(100 + n)).status == 200
    # A new address is refused too: the line as a whole has taken what it can this minute.
    await polite(await session(200), console, "ar", BUSY)


async def test_one_chat_sending_fast_is_held_back_and_nothing_accepted_is_lost(console: Console) -> None:
    chat = await Chat(console.client, lang="en").start()
    most = ChatLimits().messages_per_minute
    answers = await burst([chat.post("x" * 2000) for _ in range(30)], most, 202)
    text = await polite(next(a for a in answers if a.status == 429), console, "en", TOO_FAST)
    assert text.splitlines()[0] == "Your message has not been sent yet."
    # Every message the service said it took is stored; the others were never taken (the page keeps them).
    assert await inbound(console) == passed(answers, 202)
    for _ in range(most - passed(answers, 202)):
        assert await chat.send("one at a time") == "accepted"
    assert (await chat.post("one more")).status == 429
    assert await inbound(console) == most


async def test_many_chats_from_one_address_share_its_limit(make_console: MakeConsole, tmp_path: Path) -> None:
    console = await proxied(make_console, tmp_path, address_messages_per_minute=25)
    chats = [await Chat(console.client, lang="en", via=via(PERSON)).start() for _ in range(5)]
    answers = await burst([chat.post(f"hello {n}") for chat in chats for n in range(10)], 25, 202)
    assert await inbound(console) == passed(answers, 202)
    # Another address is not held back by it.
    other = await Chat(console.client, lang="en", via=via(OTHER)).start()
    assert await other.send("hello") == "accepted"
    assert await inbound(console) == passed(answers, 202) + 1


async def test_the_erase_word_is_never_held_back_by_a_limit(console: Console) -> None:
    chat = await Chat(console.client, lang="en").start()
    for _ in range(ChatLimits().messages_per_minute):
        await chat.send("hello")
    assert (await chat.post("hello")).status == 429
    # Taken, not refused at the door: what erasure then does is the service's rule, whatever the pace.
    assert await chat.send("DELETE") == "accepted"
    assert (await chat.post("hello")).status == 429


async def test_the_longest_message_is_a_setting(make_console: MakeConsole, tmp_path: Path) -> None:
    console = await proxied(make_console, tmp_path, max_message_chars=100)
    chat = await Chat(console.client, lang="nb").start()
    too_long = await chat.post("x" * 101)
    assert too_long.status == 400
    assert (await too_long.json())["error"] == console.wiring.catalogs.texts("nb")(TOO_LONG)
    assert await chat.send("x" * 100) == "accepted"


@pytest.mark.parametrize(
    ("limits", "error"),
    [
        ({"sessions_per_minute": 0}, "chat.limits.sessions_per_minute"),
        ({"max_message_chars": "long"}, "chat.limits.max_message_chars"),
        ({"messages_per_minute": True}, "chat.limits.messages_per_minute"),
        ({"per_second": 3}, "chat.limits: unknown setting 'per_second'"),
    ],
)
def test_a_bad_limit_is_refused_with_its_name(limits: dict[str, object], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        ChatLimits.from_config(limits)


def test_the_shipped_defaults_are_the_codes() -> None:
    settings = load_settings({"HELPLINE_ENV": "development"})
    assert ChatLimits.from_config(settings.file["chat"]["limits"]) == ChatLimits()
