"""The Telegram channel through the real app, against a local fake of the Bot API.

Updates are posted to `POST /webhooks/telegram` exactly as Telegram shapes them; replies are drained from the
durable outbox with `run_once()` and read back from the fake's recorded `sendMessage` calls. Time is
controlled: one clock for the service and the outbox, virtual time for the rate limiter.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer
from sqlalchemy import func, select

from bots.app import WIRING, Wiring, make_app
from bots.channels.telegram import channel as telegram_module
from bots.channels.telegram.channel import MAX_BODY, TELEGRAM, TelegramChannel, enable_polling
from bots.channels.telegram.sender import SendLimiter, TelegramSender, render
from intake import content as c
from intake.config import ConfigError, load_settings
from intake.keywords import Keyword, default_table
from intake.messages import Channel, Choice, Contact, OutboundMessage, Reply
from intake.outbox import PermanentFailure, TemporaryFailure
from intake.storage.models import ContactRow, ConversationRow, InboundSeenRow, MessageRow, OutboxRow
from tests.channels.fake_telegram import TOKEN, FakeTelegram, User, serve
from tests.conftest import HELPLINE_COMMAND, OSLO, REPO
from tests.said import first_lines, said

SECRET = "webhook-Secret_0123456789"
Client = TestClient[web.Request, web.Application]
# PTB 22 itself reads RetryAfter.retry_after while building the exception, which warns about its future type.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")
KARI = User(5_123_456_701, "Kari", "nb")
SAM = User(5_123_456_702, "Sam", "en")
# Each language's button answers through the whole intake, ending in the queue (about oneself, under 18).
ANSWERS = ["yes", "self", "forced_marriage", "done", "under_18", "woman", "wants_out"]


class Clock:
    """The service's and the outbox's clock: moves only when a test says so."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 10, 0, tzinfo=OSLO)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class VirtualTime:
    """The rate limiter's clock: sleeping moves it on at once, and every wake-up is recorded."""

    t: float = 0.0
    woke: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.woke.append(self.t)


@dataclass
class Line:
    """The running service, its fake Telegram and its clocks."""

    client: Client
    fake: FakeTelegram
    clock: Clock
    vtime: VirtualTime

    @property
    def wiring(self) -> Wiring:
        assert self.client.app is not None
        return self.client.app[WIRING]

    @property
    def channel(self) -> TelegramChannel:
        assert self.client.app is not None
        return self.client.app[TELEGRAM]

    async def post(self, update: Any, secret: str | None = SECRET, **kwargs: Any) -> ClientResponse:
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        if "data" not in kwargs:
            kwargs["json"] = update
        return await self.client.post("/webhooks/telegram", headers=headers, **kwargs)

    async def deliver(self) -> int:
        """Drain what is due from the outbox; returns how many sends were attempted."""
        handled = 0
        while n := await self.wiring.outbox.run_once():
            handled += n
        return handled

    async def stored(self) -> dict[str, int]:
        counts = {}
        async with self.wiring.db.uow() as uow:
            for model in (ContactRow, ConversationRow, MessageRow, OutboxRow, InboundSeenRow):
                stmt = select(func.count()).select_from(model)
                counts[model.__tablename__] = int((await uow.session.execute(stmt)).scalar_one())
        return counts

    async def inbound(self) -> list[tuple[str, int]]:
        async with self.wiring.db.uow() as uow:
            stmt = select(MessageRow.text, MessageRow.attachments).where(MessageRow.direction == "in")
            rows = (await uow.session.execute(stmt.order_by(MessageRow.id))).all()
        return [(text, attachments) for text, attachments in rows]

    def says(self, lang: str, msgid: str, **fields: str) -> str:
        """What the bot says in `lang`, with the keywords filled in as the flow fills them."""
        return said(self.wiring.catalogs.texts(lang), msgid, **fields)


class Person:
    """One Telegram user in a private chat with the bot."""

    def __init__(self, line: Line, user: User) -> None:
        self.line = line
        self.user = user
        self.seen = 0

    async def _post(self, update: dict[str, Any]) -> list[str]:
        response = await self.line.post(update)
        assert response.status == 200, await response.text()
        await self.line.deliver()
        return self.new_texts()

    def new_texts(self) -> list[str]:
        sent = [
            call for call in self.line.fake.calls_to("sendMessage", ok=True) if call.chat_id == self.user.id
        ]
        fresh, self.seen = sent[self.seen :], len(sent)
        return [call.text for call in fresh]

    async def says(self, text: str) -> list[str]:
        return await self._post(self.line.fake.text(self.user, text))

    def menu(self) -> tuple[int, list[tuple[str, str]]]:
        """The bot's last message with buttons: its id and the buttons as (label, callback_data)."""
        with_buttons = [m for m in self.line.fake.bot_messages(self.user.id) if "reply_markup" in m]
        assert with_buttons, "no message with buttons"
        last = with_buttons[-1]
        rows = last["reply_markup"]["inline_keyboard"]
        return last["message_id"], [(b["text"], b["callback_data"]) for row in rows for b in row]

    async def presses(self, data: str) -> list[str]:
        message_id, buttons = self.menu()
        assert data in [d for _, d in buttons], f"no button {data!r} in {buttons}"
        return await self._post(self.line.fake.press(self.user, message_id, data))

    async def types_number_of(self, data: str) -> list[str]:
        _, buttons = self.menu()
        return await self.says(str([d for _, d in buttons].index(data) + 1))


@pytest.fixture
async def fake(aiohttp_server: AiohttpServer) -> FakeTelegram:
    return await serve(aiohttp_server)


@pytest.fixture
def env(fake: FakeTelegram, tmp_path: Path) -> dict[str, str]:
    return {
        "HELPLINE_ENV": "development",
        "HELPLINE_SECRET_KEY": "UuOwfbovqYLX2JeZh2k7RNBwjSg5FVHB-rPjK2F1jpk",
        "HELPLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'telegram.db'}",
        "HELPLINE_CONFIG": str(REPO / "deploy" / "config" / "always-open.toml"),
        "HELPLINE_TELEGRAM_TOKEN": TOKEN,
        "HELPLINE_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "HELPLINE_TELEGRAM_API_URL": fake.base_url,
    }


StartLine = Callable[..., Awaitable[Line]]


@pytest.fixture
def start(aiohttp_client: AiohttpClient, fake: FakeTelegram, env: dict[str, str]) -> StartLine:
    async def build(polling: bool = False, **overrides: str) -> Line:
        clock = Clock()
        app = make_app(load_settings({**env, **overrides}), run_outbox=False, clock=clock)
        if polling:
            enable_polling(app)
        client = await aiohttp_client(app)
        line = Line(client, fake, clock, VirtualTime())
        if TELEGRAM in app:
            line.channel.limiter.clock = line.vtime.clock
            line.channel.limiter.sleep = line.vtime.sleep
        return line

    return build


@pytest.fixture
async def line(start: StartLine) -> Line:
    return await start()


def sends(fake: FakeTelegram) -> list[str]:
    return [call.text for call in fake.calls_to("sendMessage")]


# ---- The whole intake ----


@pytest.mark.parametrize("lang", ["nb", "en"])
async def test_whole_intake_by_buttons_ends_in_the_queue(line: Line, lang: str) -> None:
    person = Person(line, KARI if lang == "nb" else SAM)
    first = await person.says("Hei" if lang == "nb" else "Hi")
    assert first_lines(first)[0] == line.says(lang, c.HELLO)  # the phone's language_code picks the language
    assert "112" in first[0]
    message_id, buttons = person.menu()
    assert buttons[:2] == [("1. Norsk bokmål", "nb"), ("2. English", "en")]
    assert [data for _, data in buttons] == list(line.wiring.catalogs.languages)

    assert await person.presses(lang) == [line.says(lang, c.ASK_SAFE)]
    # The press is answered, and the pressed message loses its keyboard; the question came as a new message.
    assert len(line.fake.calls_to("answerCallbackQuery", ok=True)) == 1
    [edit] = line.fake.calls_to("editMessageReplyMarkup", ok=True)
    assert (edit.chat_id, edit.message_id) == (person.user.id, message_id)
    assert "reply_markup" not in line.fake.chats[person.user.id][message_id]

    questions = [c.ASK_ROLE, c.ASK_TOPICS, c.TOPIC_NOTED, c.ASK_AGE_SELF, c.ASK_GENDER, c.ASK_SITUATION]
    for answer, question in zip(ANSWERS, questions, strict=False):
        assert await person.presses(answer) == [line.says(lang, question)]
    last = await person.presses("wants_out")
    assert last[-2].startswith(line.says(lang, c.HANDOFF_OPEN))
    assert last[-1] == line.says(lang, c.MORE_INFO)
    assert line.says(lang, c.UNDER_18_INFO) in await person.presses("more_advice")

    async with line.wiring.db.uow() as uow:
        [queued] = await uow.conversations.queue()
    assert (queued.status, queued.language, queued.channel) == ("queued", lang, "telegram")
    # The transcript shows the button's words, not its id or number.
    yes = line.wiring.catalogs.texts(lang)(c.YES)
    assert (yes, 0) in await line.inbound()
    assert (
        len(line.fake.calls_to("answerCallbackQuery", ok=True)) == len(ANSWERS) + 2
    )  # and the offer's button
    protected = [call.flag("protect_content") for call in line.fake.calls_to("sendMessage")]
    assert protected
    assert all(protected)


@pytest.mark.parametrize("lang", ["nb", "en"])
async def test_whole_intake_by_typed_text_ends_in_the_queue(line: Line, lang: str) -> None:
    person = Person(line, User(5_123_456_799, "Ali", language_code=None))  # no hint: the first language
    assert first_lines(await person.says("hei"))[0] == line.says("nb", c.HELLO)
    assert await person.types_number_of(lang) == [line.says(lang, c.ASK_SAFE)]
    t = line.wiring.catalogs.texts(lang)
    assert await person.says(t(c.YES).lower()) == [line.says(lang, c.ASK_ROLE)]
    assert await person.says(t("It is about me")) == [line.says(lang, c.ASK_TOPICS)]  # the label, typed
    assert await person.says("2 3") == [line.says(lang, c.ASK_AGE_SELF)]  # two topics end the question
    assert await person.types_number_of("under_18") == [line.says(lang, c.ASK_GENDER)]
    skip = default_table().taught[Keyword.SKIP][lang]
    assert await person.says(skip) == [line.says(lang, c.ASK_SITUATION)]
    last = await person.types_number_of("needs_time")
    assert last[-2].startswith(line.says(lang, c.HANDOFF_OPEN))
    assert line.says(lang, c.TOPIC_INFO["forced_marriage"]) in await person.says("1")
    async with line.wiring.db.uow() as uow:
        [queued] = await uow.conversations.queue()
        stats = [(s.role, s.topics, s.age_group, s.gender) for s in await uow.stats.all()]
    assert queued.language == lang
    assert stats == [("self", ["forced_marriage", "fgm"], "under_18", None)]
    assert line.fake.calls_to("answerCallbackQuery") == []
    assert all(call.flag("protect_content") for call in line.fake.calls_to("sendMessage"))


async def test_staff_reply_arrives_in_the_chat(line: Line) -> None:
    person = Person(line, KARI)
    await person.says("hei")
    await person.presses("nb")
    for _ in range(7):
        if (await person.says("hopp over"))[-1] == line.says("nb", c.MORE_INFO):
            break
    else:
        pytest.fail("the intake did not end in the queue")
    async with line.wiring.db.uow() as uow:
        [queued] = await uow.conversations.queue()
    desk = line.wiring.desk
    await desk.claim(queued.id, "hanne")
    await desk.reply(queued.id, "hanne", "Hei, jeg heter Hanne. Vil du fortelle litt mer?")
    await line.deliver()
    assert person.new_texts() == [
        line.says("nb", c.STAFF_JOINED),
        "Hei, jeg heter Hanne. Vil du fortelle litt mer?",
    ]
    staff_calls = line.fake.calls_to("sendMessage")[-2:]
    assert all(call.flag("protect_content") and call.chat_id == KARI.id for call in staff_calls)


# ---- The webhook's checks ----


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x", SECRET.upper()])
async def test_wrong_or_missing_secret_is_refused_and_nothing_stored(line: Line, secret: str | None) -> None:
    response = await line.post(line.fake.text(KARI, "hei"), secret=secret)
    assert response.status == 403
    assert set((await line.stored()).values()) == {0}
    assert [call.method for call in line.fake.calls] == ["getMe"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"message": {}}',
        b'{"update_id": "1"}',
        b"",
        b'{"update_id": 1, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",  # past the recursion limit
    ],
)
async def test_malformed_body_is_400_and_nothing_stored(line: Line, body: bytes) -> None:
    response = await line.post(None, data=body)
    assert response.status == 400
    assert set((await line.stored()).values()) == {0}


async def test_update_the_parser_refuses_is_400(line: Line) -> None:
    response = await line.post({"update_id": 5, "message": {"message_id": 1, "date": 1}})  # no chat
    assert response.status == 400
    assert set((await line.stored()).values()) == {0}


def _set(update: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    inner = update
    for key in parents:
        inner = inner[key]
    inner[last] = value
    return update


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("message", 10**20),  # PTB: AttributeError ('int' object has no attribute 'copy')
        ("message.date", 10**20),  # PTB: OverflowError (past the platform's time_t)
        ("message.from.id", []),  # PTB's own code files user data under the id: TypeError there
        ("message.chat.id", "5123456701"),  # the address replies go to
        ("message.text", ["hei"]),  # reached the core, which failed on it: a 500, redelivered forever
        ("message.from.language_code", 47),
    ],
)
async def test_an_update_with_wrong_types_is_400(line: Line, path: str, value: Any) -> None:
    response = await line.post(_set(line.fake.text(KARI, "hei"), path, value))
    assert response.status == 400
    assert set((await line.stored()).values()) == {0}


async def test_oversized_body_is_413(line: Line) -> None:
    update = line.fake.text(KARI, "x" * (MAX_BODY + 10))
    response = await line.post(update)
    assert response.status == 413
    body = json.dumps(update).encode()

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the size is found while reading
        for start in range(0, len(body), 16 * 1024):
            yield body[start : start + 16 * 1024]

    chunked = await line.post(None, data=chunks())
    assert chunked.status == 413
    assert set((await line.stored()).values()) == {0}


async def test_repeated_update_id_is_processed_once(line: Line) -> None:
    person = Person(line, KARI)
    update = line.fake.text(KARI, "hei")
    for _ in range(3):
        response = await line.post(update)
        assert response.status == 200
    await line.deliver()
    assert first_lines(person.new_texts()) == [line.says("nb", c.HELLO), line.says("nb", c.ASK_LANGUAGE)]
    assert await line.inbound() == [("hei", 0)]


def ids_held_by(obj: object) -> set[int]:
    """The ints in every set, sequence or mapping (its keys) that an attribute of `obj` holds."""
    held: set[int] = set()
    for name in dir(obj):
        try:
            with warnings.catch_warnings():  # PTB warns that its job queue is not installed
                warnings.simplefilter("ignore")
                value = getattr(obj, name)
        except Exception:  # noqa: S112 - a property that needs a running state
            continue
        if isinstance(value, set | frozenset | list | tuple):
            held |= {v for v in value if isinstance(v, int)}
        elif isinstance(value, Mapping):
            held |= {k for k in value if isinstance(k, int)}
    return held


async def test_the_channel_keeps_no_chat_id_in_memory(line: Line) -> None:
    # PTB's dispatch marked every chat and user for a persistence that never came: a set that grew by
    # one address per person who ever wrote.
    people = [Person(line, User(5_123_457_000 + n, f"P{n}", "nb")) for n in range(5)]
    for person in people:
        assert await person.says("hei")
    assert line.channel.application is not None
    held = ids_held_by(line.channel.application) | ids_held_by(line.channel)
    assert held.isdisjoint({person.user.id for person in people})


@pytest.mark.parametrize("kind", ["group", "supergroup"])
async def test_group_messages_are_ignored_politely(line: Line, kind: str) -> None:
    response = await line.post(line.fake.group_text(KARI, -1001234567890, "hei alle sammen", kind))
    assert response.status == 200
    await line.deliver()
    assert set((await line.stored()).values()) == {0}
    assert line.fake.calls_to("sendMessage") == []


async def test_channel_posts_and_edited_messages_are_ignored(line: Line) -> None:
    person = Person(line, KARI)
    await person.says("hei")
    before = await line.stored()
    original = line.fake.message_ids(KARI.id)[0]
    news = {"id": -1001777, "type": "channel", "title": "Nyheter"}
    channel_post = {"update_id": 91, "channel_post": {"message_id": 7, "chat": news, "date": 1, "text": "x"}}
    for update in (line.fake.edited_text(KARI, original, "hei igjen"), channel_post):
        response = await line.post(update)
        assert response.status == 200
    await line.deliver()
    assert await line.stored() == before
    assert person.new_texts() == []


async def test_photo_and_voice_are_kept_and_the_person_told_what_staff_can_read(line: Line) -> None:
    person = Person(line, KARI)
    await person.says("hei")
    await person.presses("nb")
    replies = await person._post(line.fake.photo(KARI, caption="se på dette"))
    assert replies[0] == line.says("nb", c.ATTACHMENT)
    replies = await person._post(line.fake.voice(KARI))
    assert replies[0] == line.says("nb", c.ATTACHMENT)
    assert (await line.inbound())[-2:] == [("se på dette", 1), ("", 1)]


# ---- Delete ----


async def test_delete_removes_the_messages_on_the_phone_and_confirms_once(line: Line) -> None:
    person = Person(line, KARI)
    await person.says("hei")
    await person.presses("nb")
    await person.presses("yes")
    gone_already = line.fake.message_ids(KARI.id)[0]
    del line.fake.chats[KARI.id][gone_already]  # the person deleted it: Telegram refuses, that is fine
    update = line.fake.text(KARI, "/delete")
    earlier = line.fake.message_ids(KARI.id)  # the bot's and the person's, /delete included
    assert earlier == [2, 3, 4, 5, 6]  # greeting, three questions, /delete (hei, 1, is gone)
    response = await line.post(update)
    assert response.status == 200
    await line.deliver()

    deleted = [call.message_id for call in line.fake.calls_to("deleteMessage")]
    assert sorted(deleted) == sorted([gone_already, *earlier])
    assert all(call.chat_id == KARI.id for call in line.fake.calls_to("deleteMessage"))
    assert person.new_texts() == [line.says("nb", c.ERASED[Channel.TELEGRAM])]
    [confirmation] = line.fake.bot_messages(KARI.id)
    assert line.fake.message_ids(KARI.id) == [confirmation["message_id"]]
    counts = await line.stored()
    assert (counts["conversations"], counts["messages"]) == (0, 0)


async def test_delete_word_in_norwegian_works_like_the_command(line: Line) -> None:
    person = Person(line, KARI)
    await person.says("hei")
    assert await person.says("SLETT") == [line.says("nb", c.ERASED[Channel.TELEGRAM])]
    assert len(line.fake.calls_to("deleteMessage", ok=True)) == 4  # hei, greeting, question, SLETT


async def test_a_blocked_sender_still_erases_with_the_command_and_is_told(line: Line) -> None:
    person = Person(line, KARI)
    await person.says("hei")
    async with line.wiring.db.uow() as uow:
        [conv] = await uow.session.scalars(select(ConversationRow))
    await line.wiring.desk.block(conv.id, "hanne", hours=24)
    assert await person.says("hallo?") == [line.says("nb", c.BLOCKED)]
    assert await person.says("hallo igjen") == []  # one neutral line, then silence

    assert await person.says("/delete") == [line.says("nb", c.ERASED[Channel.TELEGRAM])]
    assert line.fake.calls_to("deleteMessage", ok=True)
    counts = await line.stored()
    assert (counts["conversations"], counts["messages"]) == (0, 0)


# ---- Sending: limits and failures ----


async def test_rate_limit_is_retried_after_retry_after_and_delivered_once(line: Line) -> None:
    person = Person(line, SAM)
    line.fake.fail_next("sendMessage", 429, retry_after=5)
    response = await line.post(line.fake.text(SAM, "hello"))
    assert response.status == 200
    assert await line.deliver() == 2  # the first failed; the second waits behind it, in order
    assert person.new_texts() == []
    line.clock.advance(4)
    assert await line.deliver() == 0  # not before retry_after
    line.clock.advance(2)
    await line.deliver()
    assert first_lines(person.new_texts()) == [line.says("en", c.HELLO), line.says("en", c.ASK_LANGUAGE)]
    assert [call.status for call in line.fake.calls_to("sendMessage")] == [429, 200, 200]
    line.clock.advance(600)
    assert await line.deliver() == 0
    assert person.new_texts() == []


async def test_blocked_bot_is_a_permanent_failure_not_retried(line: Line) -> None:
    person = Person(line, KARI)
    await person.says("hei")
    line.fake.blocked.add(KARI.id)
    assert await person.says("1") == []
    line.clock.advance(3600)
    assert await line.deliver() == 0
    assert [call.status for call in line.fake.calls_to("sendMessage")] == [200, 200, 403]
    async with line.wiring.db.uow() as uow:
        rows = (await uow.session.execute(select(OutboxRow.status, OutboxRow.last_error))).all()
    assert [row.status for row in rows] == ["sent", "sent", "failed"]
    assert rows[-1].last_error == (
        "PermanentFailure: Telegram refused: the person blocked the bot or left the chat"
    )


@pytest.mark.parametrize(
    ("status", "description", "retry_after", "expected"),
    [
        (403, "Forbidden: bot was blocked by the user", None, PermanentFailure),
        (400, "Bad Request: chat not found", None, PermanentFailure),
        (429, "", 7, TemporaryFailure),
        (502, "Bad Gateway", None, TemporaryFailure),
        (500, "Internal Server Error", None, TemporaryFailure),
    ],
)
async def test_bot_api_errors_map_to_retry_or_give_up(
    line: Line, status: int, description: str, retry_after: int | None, expected: type[Exception]
) -> None:
    line.fake.text(KARI, "hei")  # Telegram knows the chat once the person has written
    sender = line.wiring.senders["telegram"]
    assert isinstance(sender, TelegramSender)
    line.fake.fail_next("sendMessage", status, description, retry_after)
    message = OutboundMessage(1, Contact(Channel.TELEGRAM, str(KARI.id)), Reply("Hei"))
    with pytest.raises(expected) as raised:
        await sender.send(message)
    if isinstance(raised.value, TemporaryFailure):
        assert raised.value.retry_after == retry_after
    assert str(KARI.id) not in str(raised.value)
    assert await sender.send(message) is not None  # the next try goes through


async def test_send_returns_the_message_id_and_limits_each_chat_to_one_a_second(line: Line) -> None:
    line.fake.text(KARI, "hei")
    line.fake.text(SAM, "hi")
    sender = line.wiring.senders["telegram"]
    ids = []
    for user, text in [(KARI, "en"), (KARI, "to"), (SAM, "one"), (KARI, "tre")]:
        contact = Contact(Channel.TELEGRAM, str(user.id))
        ids.append(await sender.send(OutboundMessage(1, contact, Reply(text))))
    assert ids == ["2", "3", "2", "4"]  # message ids per chat, after each person's own first message
    # Virtual time: Kari's second message waited a second, her third another; Sam only the overall spacing.
    assert line.vtime.woke == [1.0, pytest.approx(1.0 + 1 / 30), 2.0]


async def test_limiter_spaces_messages_per_chat_and_overall() -> None:
    vtime = VirtualTime()
    limiter = SendLimiter(per_chat=1.0, overall=0.25, clock=vtime.clock, sleep=vtime.sleep)
    times = []
    for chat in ["a", "a", "b", None, "a"]:
        await limiter.wait(chat)
        times.append(vtime.t)
    # a at 0; a again a second later; b at once but after the overall spacing; any call likewise; a at 2.
    assert times == [0.0, 1.0, 1.25, 1.5, 2.0]


def test_menus_are_buttons_with_the_choice_id_or_a_numbered_list_when_ids_are_too_long() -> None:
    reply = Reply(
        "Hvem skriver du for?", choices=(Choice("self", "Det gjelder meg"), Choice("other", "Annet"))
    )
    text, keyboard = render(reply)
    assert text == "Hvem skriver du for?"
    assert keyboard is not None
    assert [(b.text, b.callback_data) for row in keyboard.inline_keyboard for b in row] == [
        ("1. Det gjelder meg", "self"),
        ("2. Annet", "other"),
    ]
    long = Reply("Velg", choices=(Choice("ø" * 33, "Lang"), Choice("kort", "Kort")))  # 66 bytes
    text, keyboard = render(long)
    assert keyboard is None
    assert text == "Velg\n\n1. Lang\n2. Kort"


# ---- Commands ----


async def test_commands_help_language_and_start_mid_intake(line: Line) -> None:
    person = Person(line, SAM)
    await person.says("/start")
    await person.presses("en")
    helped = await person.says("/help@hjelpelinja_test_bot")
    assert helped == [line.says("en", c.HELP), line.says("en", c.ASK_SAFE)]
    # /start in the middle repeats the current question instead of answering it.
    assert (await person.says("/start"))[-1] == line.says("en", c.ASK_SAFE)
    assert await person.says("/language") == [line.says("en", c.ASK_LANGUAGE)]
    assert await person.presses("nb") == [line.says("nb", c.ASK_SAFE)]


# ---- Restart, start-up and configuration ----


async def test_restart_mid_intake_continues_where_it_was(start: StartLine, fake: FakeTelegram) -> None:
    first = await start()
    person = Person(first, KARI)
    await person.says("hei")
    await person.presses("nb")
    assert await person.presses("yes") == [first.says("nb", c.ASK_ROLE)]
    await first.client.close()

    second = await start()
    person.line = second
    assert await person.presses("network") == [second.says("nb", c.ASK_TOPICS)]
    assert await person.says("1") == [second.says("nb", c.TOPIC_NOTED)]
    assert [call.method for call in fake.calls].count("getMe") == 2


async def test_channel_starts_when_telegram_answers_and_refuses_updates_until_then(
    start: StartLine, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telegram_module, "START_RETRY_SECONDS", 0.01)
    fake.fail_next("getMe", 502, times=10_000)
    line = await start()  # the web chat runs even while Telegram is unreachable
    assert (await line.client.get("/healthz")).status == 200
    response = await line.post(fake.text(KARI, "hei"))
    assert response.status == 503  # Telegram sends it again later
    assert set((await line.stored()).values()) == {0}
    fake.clear_failures()
    await asyncio.wait_for(line.channel.ready.wait(), timeout=10)
    assert (await line.post(fake.text(KARI, "hei"))).status == 200
    await line.deliver()
    assert len(fake.calls_to("sendMessage", ok=True)) == 2


async def test_a_refused_token_stops_start_up(start: StartLine) -> None:
    with pytest.raises(ConfigError, match="HELPLINE_TELEGRAM_TOKEN") as raised:
        await start(HELPLINE_TELEGRAM_TOKEN="42:AAWrongToken")
    assert "AAWrongToken" not in str(raised.value)


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"HELPLINE_TELEGRAM_WEBHOOK_SECRET": ""}, "HELPLINE_TELEGRAM_WEBHOOK_SECRET"),
        ({"HELPLINE_TELEGRAM_WEBHOOK_SECRET": "has spaces"}, "HELPLINE_TELEGRAM_WEBHOOK_SECRET"),
        ({"HELPLINE_TELEGRAM_WEBHOOK_SECRET": "x" * 257}, "HELPLINE_TELEGRAM_WEBHOOK_SECRET"),
        ({"HELPLINE_TELEGRAM_WEBHOOK_SECRET": "sæcret"}, "HELPLINE_TELEGRAM_WEBHOOK_SECRET"),
        ({"HELPLINE_TELEGRAM_TOKEN": "not-a-token"}, "HELPLINE_TELEGRAM_TOKEN"),
        ({"HELPLINE_TELEGRAM_API_URL": "api.telegram.org/bot"}, "HELPLINE_TELEGRAM_API_URL"),
    ],
)
def test_bad_settings_name_the_variable(
    env: dict[str, str], overrides: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError, match=variable) as raised:
        make_app(load_settings({**env, **overrides}))
    assert TOKEN not in str(raised.value)


def test_longest_secret_is_accepted(env: dict[str, str]) -> None:
    app = make_app(load_settings({**env, "HELPLINE_TELEGRAM_WEBHOOK_SECRET": "A-z_9" * 51 + "x"}))
    assert TELEGRAM in app


async def test_channel_is_off_without_a_token(start: StartLine, fake: FakeTelegram) -> None:
    line = await start(HELPLINE_TELEGRAM_TOKEN="")
    assert line.client.app is not None
    assert TELEGRAM not in line.client.app
    assert "telegram" not in line.wiring.senders
    response = await line.post(fake.text(KARI, "hei"))
    assert response.status in (404, 405)
    assert fake.calls == []


# ---- Polling and set-webhook ----


async def test_polling_feeds_the_same_handler(start: StartLine, fake: FakeTelegram) -> None:
    fake.webhook = {"url": "https://old.example/webhooks/telegram"}  # polling removes it first
    update = fake.text(SAM, "hello")
    fake.queue_update(update)
    line = await start(polling=True)

    await asyncio.wait_for(fake.confirmed(update["update_id"]), timeout=30)  # a guard against hanging
    methods = [call.method for call in fake.calls]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    await line.deliver()
    assert first_lines(Person(line, SAM).new_texts()) == [
        line.says("en", c.HELLO),
        line.says("en", c.ASK_LANGUAGE),
    ]
    assert await line.inbound() == [("hello", 0)]


def test_polling_needs_the_token(env: dict[str, str]) -> None:
    app = make_app(load_settings({**env, "HELPLINE_TELEGRAM_TOKEN": ""}))
    with pytest.raises(ConfigError, match="HELPLINE_TELEGRAM_TOKEN"):
        enable_polling(app)


async def helpline(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """The `helpline` command in a process of its own, with only these settings."""
    process = await asyncio.create_subprocess_exec(
        *HELPLINE_COMMAND,
        *args,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **env},
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)  # a guard against hanging
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_set_webhook_command_registers_url_secret_updates_and_commands(
    fake: FakeTelegram, env: dict[str, str]
) -> None:
    code, out, err = await helpline(
        ["telegram", "set-webhook"], {**env, "HELPLINE_PUBLIC_URL": "https://hjelp.example.org/"}
    )
    assert (code, err) == (0, "")
    assert out == "webhook set: https://hjelp.example.org/webhooks/telegram\n"
    assert fake.webhook is not None
    assert fake.webhook["url"] == "https://hjelp.example.org/webhooks/telegram"
    assert fake.webhook["secret_token"] == SECRET
    assert json.loads(fake.webhook["allowed_updates"]) == ["message", "callback_query"]
    assert [cmd["command"] for cmd in fake.commands[None]] == ["start", "help", "language", "delete"]
    assert [cmd["description"] for cmd in fake.commands["nb"]][1:] == ["Hjelp", "Språk", "Slett"]
    assert [cmd["description"] for cmd in fake.commands["en"]][1:] == ["Help", "Language", "Delete"]
    assert fake.commands[None] == fake.commands["nb"]


@pytest.mark.parametrize("public_url", [None, "http://hjelp.example.org"])
async def test_set_webhook_without_a_public_https_url_names_it(
    fake: FakeTelegram, env: dict[str, str], public_url: str | None
) -> None:
    settings = dict(env) if public_url is None else {**env, "HELPLINE_PUBLIC_URL": public_url}
    code, _, err = await helpline(["telegram", "set-webhook"], settings)
    assert code == 2
    assert err.startswith("helpline: configuration error: HELPLINE_PUBLIC_URL")
    assert fake.calls == []


async def test_set_webhook_reports_telegram_refusing_in_one_line(
    fake: FakeTelegram, env: dict[str, str]
) -> None:
    fake.fail_next("setWebhook", 400, "Bad Request: bad webhook: Failed to resolve host")
    code, _, err = await helpline(
        ["telegram", "set-webhook"], {**env, "HELPLINE_PUBLIC_URL": "https://hjelp.example.org"}
    )
    assert code == 1
    assert err == "helpline: telegram: Bad webhook: failed to resolve host\n"
