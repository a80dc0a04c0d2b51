"""The anonymous web chat through the real app: page, API, the whole intake, limits and long polling."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select

from bots.app import WIRING, Wiring, make_app
from bots.channels.webchat import chat as webchat_module
from intake import content as c
from intake.config import load_settings
from intake.messages import Channel
from intake.privacy import Keys
from intake.storage.models import ConversationRow, MessageRow
from tests.channels.raw_http import raw_exchange, status_of
from tests.channels.webchat_tab import Chat, Client
from tests.said import first_lines, said

REPO = Path(__file__).resolve().parents[2]
OSLO = ZoneInfo("Europe/Oslo")
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
def make_client(aiohttp_client: AiohttpClient, tmp_path: Path) -> MakeClient:
    async def build(
        config: str | None = "always-open.toml", clock: Callable[[], datetime] | None = None
    ) -> Client:
        env = {
            "HELPLINE_ENV": "development",
            "HELPLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
        }
        if config is not None:
            env["HELPLINE_CONFIG"] = str(REPO / "deploy" / "config" / config)
        return await aiohttp_client(make_app(load_settings(env), clock=clock))

    return build


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client()


def wiring(client: Client) -> Wiring:
    app = client.app
    assert app is not None
    return app[WIRING]


async def inbound(client: Client) -> list[str]:
    async with wiring(client).db.uow() as uow:
        stmt = select(MessageRow.text).where(MessageRow.direction == "in").order_by(MessageRow.id)
        return list((await uow.session.execute(stmt)).scalars().all())


# ---- The page and the probes ----


async def test_chat_page_is_html_with_strict_headers_and_the_quick_exit(client: Client) -> None:
    response = await client.get("/chat")
    assert response.status == 200
    assert response.content_type == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    html = await response.text()
    assert 'id="exit"' in html
    assert 'href="https://www.yr.no"' in html
    assert "<script>" not in html  # no inline script: only <script src=…>
    assert 'src="/static/chat.js"' in html
    assert 'lang="nb"' in html


async def test_chat_page_follows_the_browser_language(client: Client) -> None:
    html = await (await client.get("/chat", headers={"Accept-Language": "en-GB,en;q=0.9"})).text()
    assert 'lang="en"' in html
    assert "Leave quickly" in html


async def test_static_files_carry_the_same_headers(client: Client) -> None:
    response = await client.get("/static/chat.js")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]


async def test_health_and_readiness(client: Client) -> None:
    health = await client.get("/healthz")
    assert (health.status, await health.json()) == (200, {"status": "ok"})
    ready = await client.get("/readyz")
    assert (ready.status, await ready.json()) == (200, {"status": "ok"})


# ---- The whole intake ----


async def test_whole_intake_in_norwegian_ends_in_the_queue(client: Client) -> None:
    chat = await Chat(client, lang="nb").start()
    t = wiring(client).catalogs.texts("nb")
    first = await chat.says("hei")
    assert first_lines(first)[0] == t(c.HELLO)
    assert "112" in first[0]
    for typed in ["1", "ja", "Det gjelder meg", "2 3", "1", "1"]:
        assert await chat.says(typed)
    last = await chat.says("3")
    assert last[-2].startswith(t(c.HANDOFF_OPEN))
    assert said(t, c.UNDER_18_INFO) in await chat.says("1")  # the offer's first group, typed
    assert await inbound(client) == ["hei", "1", "ja", "Det gjelder meg", "2 3", "1", "1", "3", "1"]


async def test_whole_intake_in_english_by_buttons_ends_in_the_queue(client: Client) -> None:
    chat = await Chat(client, lang="en").start()
    greeting = await chat.send("hello")
    assert greeting == "accepted"
    replies = await chat.poll()
    assert first_lines([replies[0]["text"]]) == [c.HELLO]  # the page's language is the first guess
    assert [ch["id"] for ch in replies[-1]["choices"]] == list(wiring(client).catalogs.languages)
    assert replies[-1]["choices"][:2] == [
        {"id": "nb", "label": "Norsk bokmål"},
        {"id": "en", "label": "English"},
    ]
    assert replies[-1]["lang"] == "en"
    for choice in ["en", "yes", "family", "fgm", "done", "adult"]:
        assert await chat.says(choice=choice)
    last = await chat.says(choice="man")  # about someone else: no question about their situation
    assert last[-2] == "\n".join((c.HANDOFF_OPEN, c.KEY_ADVICE["family"]))
    assert last[-1] == c.MORE_INFO
    fgm = said(wiring(client).catalogs.texts("en"), c.TOPIC_INFO["fgm"])
    assert fgm not in last
    assert fgm in await chat.says(choice="more_advice")
    async with wiring(client).db.uow() as uow:
        stats = [(s.role, s.topics, s.age_group, s.gender) for s in await uow.stats.all()]
    assert stats == [("family", ["fgm"], "adult", "man")]


async def test_whole_intake_closed_names_when_the_line_opens(make_client: MakeClient) -> None:
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=OSLO).astimezone(UTC)
    client = await make_client(None, clock=lambda: saturday)  # the published hours: open Monday and Friday
    chat = await Chat(client, lang="nb").start()
    t = wiring(client).catalogs.texts("nb")
    await chat.says("hei")
    await chat.says(choice="nb")
    await chat.says(choice="yes")
    await chat.says(choice="self")
    await chat.says(choice="done")
    await chat.says(choice="adult")
    await chat.says(choice="woman")
    last = await chat.says(choice="not_now")
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=OSLO)
    assert last[-2].startswith(t(c.HANDOFF_CLOSED, time=t.moment(monday, saturday, OSLO)))
    assert "mandag" in " ".join(last)
    always_open = t(c.ALWAYS_OPEN).split("{services}")[0]
    more = await chat.says(choice="more_always_open")
    assert any(always_open in text for text in more)  # the services open day and night
    assert t(c.HANDOFF_OPEN) not in last
    left = await chat.says("kan dere ringe meg?")
    assert left == [said(t, c.LEFT_MESSAGE)]


async def test_whole_intake_when_the_line_never_opens(make_client: MakeClient) -> None:
    client = await make_client("always-closed.toml")
    chat = await Chat(client, lang="en").start()
    for text, choice in [("hi", None), ("", "en"), ("", "skip"), ("", "skip"), ("", "done"), ("", "skip")]:
        await chat.says(text, choice)
    await chat.says(choice="skip")
    last = await chat.says(choice="skip")
    assert c.HANDOFF_CLOSED_UNKNOWN in first_lines(last)
    assert c.HANDOFF_OPEN not in last


# ---- Sessions and bad requests ----


@pytest.mark.parametrize(
    "token",
    [None, "", "forged", "abc.def", "x" * 200, Keys.from_secret("another-secret-key-123").new_token(), "é.é"],
    ids=["missing", "empty", "no-tag", "bad-tag", "too-long", "other-key", "not-ascii"],
)
async def test_send_and_poll_need_a_valid_token(client: Client, token: str | None) -> None:
    headers = {} if token is None else {"X-Chat-Token": token}
    send = await client.post(
        "/chat/api/send", json={"text": "hei", "client_id": "c-00000001"}, headers=headers
    )
    assert send.status == 401
    assert (await send.json()) == {"error": "unknown chat session"}
    poll = await client.get("/chat/api/poll", headers=headers)
    assert poll.status == 401
    assert await inbound(client) == []


@pytest.mark.parametrize(
    "request_line", [b"POST /chat/api/send HTTP/1.1", b"GET /chat/api/poll HTTP/1.1"], ids=["send", "poll"]
)
async def test_a_token_of_undecodable_bytes_is_401(client: Client, request_line: bytes) -> None:
    # aiohttp hands such header bytes over as surrogates, which neither encode() nor compare_digest() takes.
    body = b'{"text": "hei"}'
    headers = b"Host: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
    token = b"X-Chat-Token: \xff\xfe.\xc3\x28\r\n"
    length = b"Content-Length: %d\r\n" % len(body)
    reply = await raw_exchange(client, request_line + b"\r\n" + headers + token + length + b"\r\n" + body)
    assert status_of(reply) == 401, reply
    assert await inbound(client) == []


async def test_an_expired_token_gets_a_clear_401_and_a_new_session_loses_nothing(client: Client) -> None:
    keys = wiring(client).keys
    old = keys.new_token(issued=datetime.now(UTC) - timedelta(days=31))  # retention: 30 days
    headers = {"X-Chat-Token": old}
    send = await client.post(
        "/chat/api/send", json={"text": "hei", "client_id": "c-00000001"}, headers=headers
    )
    assert send.status == 401
    assert await send.json() == {"error": "this chat session has expired", "expired": True}
    poll = await client.get("/chat/api/poll", headers=headers)
    assert (poll.status, await poll.json()) == (
        401,
        {"error": "this chat session has expired", "expired": True},
    )
    assert await inbound(client) == []
    # What the page does on a 401: a new session, and the same message sent again.
    chat = await Chat(client).start()
    await chat.send("hei")
    assert await inbound(client) == ["hei"]


async def test_each_session_token_is_new_and_valid(client: Client) -> None:
    one, two = await Chat(client).start(), await Chat(client).start()
    assert one.token != two.token
    assert wiring(client).keys.check_token(one.token)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'"text"',
        b"\xff\xfe{}",
        b'{"text": 5}',
        b'{"text": "hi", "choice": 3}',
        b'{"text": "hi", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"text": "hi", "n": ' + b"1" * 5000 + b"}",
    ],
    ids=[
        "not-json",
        "array",
        "string",
        "not-utf8",
        "text-not-string",
        "choice-not-string",
        # Past the recursion limit, and past the 4300 digits Python converts: json.loads raises
        # RecursionError and a plain ValueError for these.
        "nested-too-deep",
        "integer-too-long",
    ],
)
async def test_malformed_bodies_are_400(client: Client, body: bytes) -> None:
    chat = await Chat(client).start()
    response = await client.post(
        "/chat/api/send", data=body, headers={**chat.headers, "Content-Type": "application/json"}
    )
    assert response.status == 400
    assert "error" in await response.json()
    assert await inbound(client) == []


async def test_empty_message_is_400(client: Client) -> None:
    chat = await Chat(client, lang="en").start()
    response = await chat.post("   ")
    assert response.status == 400
    assert (await response.json())["error"] == webchat_module.EMPTY


async def test_text_over_2000_characters_is_400_with_a_clear_error(client: Client) -> None:
    chat = await Chat(client, lang="en").start()
    response = await chat.post("x" * 2001)
    assert response.status == 400
    assert (await response.json())["error"] == webchat_module.TOO_LONG
    norwegian = await Chat(client, lang="nb").start()
    response = await norwegian.post("ø" * 2001)
    error = (await response.json())["error"]
    assert error == wiring(client).catalogs.texts("nb")(webchat_module.TOO_LONG)
    assert error != webchat_module.TOO_LONG  # translated
    assert await inbound(client) == []
    assert await chat.send("x" * 2000) == "accepted"  # the limit itself is fine
    assert await inbound(client) == ["x" * 2000]


async def test_body_over_16_kib_is_413(client: Client) -> None:
    chat = await Chat(client).start()
    body = json.dumps({"text": "hi", "client_id": "c-00000001", "padding": "x" * 17_000}).encode()
    response = await client.post(
        "/chat/api/send", data=body, headers={**chat.headers, "Content-Type": "application/json"}
    )
    assert response.status == 413
    assert await inbound(client) == []


async def test_chunked_body_over_16_kib_is_413(client: Client) -> None:
    chat = await Chat(client).start()
    body = json.dumps({"text": "hi", "client_id": "c-00000001", "padding": "x" * 40_000}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]
            await asyncio.sleep(0)

    response = await client.post(
        "/chat/api/send", data=chunks(), headers={**chat.headers, "Content-Type": "application/json"}
    )
    assert response.status == 413
    assert await inbound(client) == []


async def test_chunked_body_under_the_limit_is_read_whole(client: Client) -> None:
    chat = await Chat(client).start()
    text = "y" * 1500
    body = json.dumps({"text": text, "client_id": "c-00000001", "padding": "x" * 12_000}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1024):
            yield body[start : start + 1024]
            await asyncio.sleep(0)

    response = await client.post(
        "/chat/api/send", data=chunks(), headers={**chat.headers, "Content-Type": "application/json"}
    )
    assert response.status == 202
    assert await inbound(client) == [text]


async def test_the_same_client_id_twice_is_stored_once(client: Client) -> None:
    chat = await Chat(client).start()
    assert await chat.send("hei", client_id="retry-0001") == "accepted"
    assert await chat.send("hei", client_id="retry-0001") == "duplicate"
    assert await inbound(client) == ["hei"]
    assert len(await chat.poll()) == 2  # greeting and language menu, not twice


async def test_odd_client_ids_do_not_break_sending(client: Client) -> None:
    chat = await Chat(client).start()
    for client_id in ["short", "\ud800-lone-surrogate", "\x00" * 10, "é" * 64]:
        assert await chat.send(f"message {client_id!r}", client_id=client_id) == "accepted"
    assert len(await inbound(client)) == 4


async def test_client_ids_are_scoped_to_their_session(client: Client) -> None:
    alice, bob = await Chat(client).start(), await Chat(client).start()
    assert await alice.send("from alice", client_id="same-id-0001") == "accepted"
    assert await bob.send("from bob", client_id="same-id-0001") == "accepted"
    assert await inbound(client) == ["from alice", "from bob"]


# ---- Long polling ----


async def test_poll_waits_until_a_reply_arrives(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the wake-up after commit can end the wait early: no periodic re-check during this test.
    monkeypatch.setattr(webchat_module, "RECHECK_SECONDS", 3600.0)
    chat = await Chat(client).start()
    waiters = wiring(client).webchat._waiters
    waiting = asyncio.create_task(chat.poll())
    try:
        for _ in range(1000):
            if waiters:
                break
            await asyncio.sleep(0.005)
        assert waiters, "the poll never started waiting"
        assert not waiting.done()  # nothing to deliver yet: it holds
        other = asyncio.create_task(chat.send("hei"))
        messages = await asyncio.wait_for(waiting, timeout=20)  # a guard, far below the 25 s poll
        assert await other == "accepted"
    finally:
        waiting.cancel()
    assert messages[0]["text"].startswith("Hei")
    assert not waiters  # the waiter is cleaned up


async def test_poll_returns_empty_when_nothing_arrives(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webchat_module, "POLL_SECONDS", 0.05)
    chat = await Chat(client).start()
    assert await chat.poll() == []


@pytest.mark.parametrize("after", ["abc", "-1", str(2**63), "9" * 30, "1" * 5000])
async def test_poll_rejects_a_bad_after(client: Client, after: str) -> None:
    # Ids are 64-bit: a larger number once reached the database driver and failed there (a 500).
    chat = await Chat(client).start()
    response = await client.get(f"/chat/api/poll?after={after}", headers=chat.headers)
    assert response.status == 400
    assert "error" in await response.json()


async def test_poll_returns_only_this_persons_replies(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webchat_module, "POLL_SECONDS", 0.05)
    alice, bob = await Chat(client).start(), await Chat(client).start()
    await alice.send("hei")
    await bob.send("hallo")
    await bob.send("1")
    assert len(await alice.poll()) == 2
    assert len(await bob.poll()) == 3
    assert await alice.poll() == []  # nothing new after the last id seen


# ---- Markup, delete ----


async def test_markup_is_data_never_rendered(client: Client) -> None:
    payload = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    chat = await Chat(client).start()
    response = await chat.post(payload)
    assert response.status == 202
    assert response.content_type == "application/json"
    assert payload not in await response.text()
    replies = await chat.poll()
    assert all(isinstance(m["text"], str) for m in replies)
    assert await inbound(client) == [payload]  # stored as written, not escaped or altered
    page = await client.get(f"/chat?lang={payload}", headers={"Accept-Language": payload})
    html = await page.text()
    assert "alert(" not in html
    assert 'lang="nb"' in html


async def test_markup_choice_and_language_are_ignored_safely(client: Client) -> None:
    chat = await Chat(client, lang="<b>en</b>").start()
    await chat.send("hei")
    replies = await chat.poll()
    assert replies[0]["lang"] == "nb"
    response = await chat.post(choice="<img src=x>")
    assert response.status == 202
    again = await chat.poll()
    # The same question again.
    assert [ch["id"] for ch in again[-1]["choices"]] == list(wiring(client).catalogs.languages)


async def test_delete_keyword_works_while_held_by_staff(client: Client) -> None:
    chat = await Chat(client, lang="nb").start()
    await chat.says("hei")
    async with wiring(client).db.uow() as uow:
        [conv] = await uow.session.scalars(select(ConversationRow))
    await wiring(client).desk.claim(conv.id, "hanne")
    t = wiring(client).catalogs.texts("nb")
    assert (await chat.says("SLETT"))[-1] == said(t, c.ERASED[Channel.WEBCHAT])
    chat.after = 0
    (confirmation,) = await chat.poll()
    assert (confirmation["erase"], confirmation["text"]) == (True, said(t, c.ERASED[Channel.WEBCHAT]))
    assert await inbound(client) == []


async def test_delete_keyword_returns_an_erase_message_and_forgets_the_chat(client: Client) -> None:
    chat = await Chat(client, lang="nb").start()
    await chat.says("hei")
    await chat.says("1")
    replies = await chat.says("SLETT")
    t = wiring(client).catalogs.texts("nb")
    assert replies == [said(t, c.ERASED[Channel.WEBCHAT])]
    chat.after = 0
    (confirmation,) = await chat.poll()
    assert confirmation["erase"] is True
    assert confirmation["text"] == said(t, c.ERASED[Channel.WEBCHAT])
    assert await inbound(client) == []
