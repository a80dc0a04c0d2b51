"""Issue 19's lean Telegram edges: plain updates read from the dict give exactly what python-telegram-bot's
`Update` gives (and everything else still goes through PTB); sends and acknowledgements posted as JSON are
the requests PTB made and fail with PTB's errors; the send pacing is a setting."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bots.app import make_app
from bots.channels.telegram import channel as telegram_module
from bots.channels.telegram.api import result_of
from bots.channels.telegram.sender import TelegramSender, render, retry_after_seconds
from bots.channels.telegram.updates import inbound_from, plain_inbound
from intake.config import ConfigError, load_settings
from intake.messages import Channel, Choice, Contact, OutboundMessage, Reply
from intake.outbox import PermanentFailure
from tests.channels.fake_telegram import BOT, TOKEN, FakeTelegram, User
from tests.channels.test_telegram import (  # noqa: F401 - the fixtures, used by name
    KARI,
    SAM,
    Line,
    Person,
    StartLine,
    env,
    fake,
    line,
    start,
)

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
NO_LANGUAGE = User(5_123_456_703, "Ali", None)
MENU = {
    "inline_keyboard": [
        [{"text": "1. Norsk bokmål", "callback_data": "nb"}],
        [{"text": "2. English", "callback_data": "en"}],
        [{"text": "Ja", "callback_data": "yes"}],
    ]
}


def ptb(data: dict[str, Any]) -> Any:
    """What the webhook made of an update before: PTB's Update, then our reader of it."""
    return inbound_from(Update.de_json(copy.deepcopy(data), Bot(TOKEN)), NOW)


def bot_message(telegram: FakeTelegram, user: User, **fields: Any) -> dict[str, Any]:
    """A message of the bot's in the user's chat, as Telegram puts it into a callback_query."""
    telegram.text(user, "hei")  # the chat exists once the person has written
    message = {
        "message_id": 2,
        "from": {k: BOT[k] for k in ("id", "is_bot", "first_name", "username")},
        "chat": user.chat(),
        "date": 1_795_000_000,
        "text": "Velg språk",
        "reply_markup": MENU,
        "has_protected_content": True,
        **fields,
    }
    telegram.chats[user.id][2] = message
    return message


def press(telegram: FakeTelegram, user: User, data: str, message: dict[str, Any] | None) -> dict[str, Any]:
    query: dict[str, Any] = {
        "id": "4000000001",
        "from": user.json(),
        "chat_instance": "-7051402231457362398",
        "data": data,
    }
    if message is not None:
        query["message"] = message
    return {"update_id": 700_000_999, "callback_query": query}


def plain_updates(telegram: FakeTelegram) -> dict[str, dict[str, Any]]:
    edited = bot_message(telegram, SAM)
    edited["edit_date"] = 1_795_000_100
    return {
        "text": telegram.text(KARI, "Hei, jeg trenger hjelp"),
        "start": telegram.text(KARI, "/start"),
        "help with the bot's name": telegram.text(KARI, "/help@hjelpelinja_test_bot nå"),
        "another command": telegram.text(KARI, "/hjelp meg"),
        "no language": telegram.text(NO_LANGUAGE, "hi"),
        "press on a numbered button": press(telegram, KARI, "en", bot_message(telegram, KARI)),
        "press on a plain button": press(telegram, KARI, "yes", bot_message(telegram, KARI)),
        "press on an unknown button": press(telegram, KARI, "gone", bot_message(telegram, KARI)),
        "press, message without keyboard": press(
            telegram, KARI, "yes", bot_message(telegram, KARI, reply_markup=None)
        ),
        "press, message edited": press(telegram, SAM, "nb", edited),
        "press, message not sent along": press(telegram, NO_LANGUAGE, "yes", None),
    }


def _without_none(update: dict[str, Any]) -> dict[str, Any]:
    query = update.get("callback_query", {})
    if query.get("message", {}).get("reply_markup", 0) is None:
        del query["message"]["reply_markup"]
    return update


@pytest.mark.parametrize(
    "name",
    [
        "text",
        "start",
        "help with the bot's name",
        "another command",
        "no language",
        "press on a numbered button",
        "press on a plain button",
        "press on an unknown button",
        "press, message without keyboard",
        "press, message edited",
        "press, message not sent along",
    ],
)
def test_a_plain_update_read_from_the_dict_is_what_ptb_made_of_it(fake: FakeTelegram, name: str) -> None:  # noqa: F811
    update = _without_none(plain_updates(fake)[name])
    read = plain_inbound(copy.deepcopy(update), NOW)
    assert read is not None, "not read as plain"
    assert read == ptb(update)
    assert read[0] is not None


def test_what_the_plain_reader_makes_of_a_message_and_a_press(fake: FakeTelegram) -> None:  # noqa: F811
    """Spelled out, so that the comparison with PTB above cannot pass by both being wrong."""
    update = fake.text(KARI, "/help@hjelpelinja_test_bot nå")
    inbound, pressed = plain_inbound(update, NOW) or (None, None)
    assert inbound is not None
    assert pressed is None
    message = update["message"]
    assert (inbound.contact, inbound.provider_id, inbound.text) == (
        Contact(Channel.TELEGRAM, str(KARI.id)),
        str(update["update_id"]),
        "/help",
    )
    assert (inbound.received_at, inbound.locale_hint, inbound.provider_ref, inbound.choice) == (
        datetime.fromtimestamp(message["date"], UTC),
        "nb",
        str(message["message_id"]),
        None,
    )
    inbound, pressed = plain_inbound(press(fake, KARI, "en", bot_message(fake, KARI)), NOW) or (None, None)
    assert inbound is not None
    assert pressed is not None
    assert (inbound.text, inbound.choice, inbound.received_at, inbound.provider_ref) == (
        "English",
        "en",
        NOW,
        "2",
    )
    assert (pressed.query_id, pressed.keyboard_chat_id, pressed.keyboard_message_id) == (
        "4000000001",
        KARI.id,
        2,
    )


def _other_updates(telegram: FakeTelegram) -> dict[str, dict[str, Any]]:
    reply = telegram.text(KARI, "svar")
    reply["message"]["reply_to_message"] = copy.deepcopy(telegram.text(KARI, "først")["message"])
    with_url = telegram.text(KARI, "se https://example.org")
    with_url["message"]["entities"] = [
        {"type": "text_link", "offset": 3, "length": 5, "url": "https://x.org"}
    ]
    from_bot = telegram.text(KARI, "hei")
    from_bot["message"]["from"]["is_bot"] = True
    extra = telegram.text(KARI, "hei")
    extra["a_kind_added_later"] = {"id": "b"}
    url_button = bot_message(
        telegram, KARI, reply_markup={"inline_keyboard": [[{"text": "Les", "url": "https://x"}]]}
    )
    return {
        "edited message": telegram.edited_text(
            KARI, telegram.text(KARI, "hei")["message"]["message_id"], "hallo"
        ),
        "photo": telegram.photo(KARI, "bilde"),
        "voice": telegram.voice(KARI),
        "group": telegram.group_text(KARI, -100_200, "hei"),
        "reply": reply,
        "entity with a url": with_url,
        "from a bot": from_bot,
        "another top-level field": extra,
        "press on an inaccessible message": press(telegram, KARI, "yes", bot_message(telegram, KARI, date=0)),
        "press on a url button's message": press(telegram, KARI, "yes", url_button),
        "press from a group": press(
            telegram, KARI, "yes", bot_message(telegram, KARI, chat={"id": -1, "type": "group"})
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "edited message",
        "photo",
        "voice",
        "group",
        "reply",
        "entity with a url",
        "from a bot",
        "another top-level field",
        "press on an inaccessible message",
        "press on a url button's message",
        "press from a group",
    ],
)
def test_anything_else_is_left_to_ptb(fake: FakeTelegram, name: str) -> None:  # noqa: F811
    update = _other_updates(fake)[name]
    assert plain_inbound(update, NOW) is None
    ptb(update)  # PTB reads each of them (to a message, or to nothing: edits, groups, bots)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("message.from.id", []),
        ("message.from.id", True),
        ("message.chat.id", "5123456701"),
        ("message.text", ["hei"]),
        ("message.text", None),
        ("message.from.language_code", 47),
        ("message.from", {"id": 5, "is_bot": False}),  # no first_name: PTB refuses it
        ("message.date", 10**20),
        ("message.date", "1795000000"),
        ("message.message_id", 1.5),
        ("message.entities", [{"type": "bot_command", "offset": 0, "length": "5"}]),
        ("message.entities", {"type": "bot_command"}),
        ("message.chat", {"id": 5, "type": "private", "photo": {}}),
        ("update_id", "7"),
    ],
)
def test_a_malformed_update_is_never_read_as_plain(fake: FakeTelegram, path: str, value: Any) -> None:  # noqa: F811
    update = fake.text(KARI, "/start")
    *parents, last = path.split(".")
    inner = update
    for key in parents:
        inner = inner[key]
    inner[last] = value
    assert plain_inbound(update, NOW) is None  # PTB's reading (and the webhook's 400s) decide


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("callback_query.data", 5),
        ("callback_query.id", 4000000001),
        ("callback_query.from.id", "5123456701"),
        ("callback_query.message.message_id", "2"),
        ("callback_query.message.chat.id", None),
        ("callback_query.message.reply_markup", {"inline_keyboard": [{"text": "x", "callback_data": "y"}]}),
        ("callback_query.message.reply_markup", {"inline_keyboard": [[{"text": 1, "callback_data": "y"}]]}),
        ("callback_query.message.from", {"id": 1, "first_name": "B", "is_bot": "yes"}),
        ("callback_query.message", "2"),
    ],
)
def test_a_malformed_press_is_never_read_as_plain(fake: FakeTelegram, path: str, value: Any) -> None:  # noqa: F811
    update = press(fake, KARI, "en", bot_message(fake, KARI))
    *parents, last = path.split(".")
    inner = update
    for key in parents:
        inner = inner[key]
    inner[last] = value
    assert plain_inbound(update, NOW) is None


async def test_the_webhook_reads_plain_updates_without_ptb_and_the_rest_with_it(
    line: Line,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read_by_ptb: list[dict[str, Any]] = []
    original = Update.de_json

    def counting(data: dict[str, Any], bot: Bot | None = None) -> Update:
        read_by_ptb.append(data)
        return original(data, bot)

    monkeypatch.setattr(telegram_module.Update, "de_json", counting)  # type: ignore[attr-defined]
    person = Person(line, KARI)
    assert await person.says("hei")
    assert await person.presses("nb")
    assert await person.says("/help")
    assert read_by_ptb == []
    edit = line.fake.edited_text(KARI, line.fake.message_ids(KARI.id)[0], "hallo")
    assert (await line.post(edit)).status == 200
    broken = line.fake.text(KARI, "hei")
    broken["message"]["from"]["id"] = []
    assert (await line.post(broken)).status == 400  # PTB's reading, and the check of the ids, as before
    assert read_by_ptb == [edit, broken]


# ---- Sending: the same requests, the same errors ----


async def test_sends_and_acknowledgements_are_the_requests_ptb_made(line: Line) -> None:  # noqa: F811
    person = Person(line, KARI)
    await person.says("hei")
    message_id, _ = person.menu()
    # Ours: the press is answered and the keyboard taken off the pressed message.
    await person.presses("nb")
    [answered] = line.fake.calls_to("answerCallbackQuery")
    [edited] = line.fake.calls_to("editMessageReplyMarkup")
    # PTB's, for the same press.
    query = Update.de_json(line.fake.press(KARI, message_id, "nb"), line.channel.bot).callback_query
    assert query is not None
    await query.answer()
    [_, ptb_answered] = line.fake.calls_to("answerCallbackQuery")
    assert ptb_answered.params.keys() == answered.params.keys() == {"callback_query_id"}
    with pytest.raises(BadRequest):  # the keyboard is already off: only the request is compared
        await line.channel.bot.edit_message_reply_markup(
            chat_id=KARI.id, message_id=message_id, reply_markup=None
        )
    [_, ptb_edited] = line.fake.calls_to("editMessageReplyMarkup")
    assert ptb_edited.params == edited.params == {"chat_id": str(KARI.id), "message_id": str(message_id)}

    reply = Reply(
        "Hvem skriver du for?", choices=(Choice("self", "Det gjelder meg"), Choice("other", "Annet"))
    )
    text, keyboard = render(reply)
    assert isinstance(keyboard, InlineKeyboardMarkup)
    await line.channel.bot.send_message(
        chat_id=KARI.id, text=text, reply_markup=keyboard, protect_content=True
    )
    sender = line.wiring.senders["telegram"]
    await sender.send(OutboundMessage(1, Contact(Channel.TELEGRAM, str(KARI.id)), reply))
    *_, ptb_sent, sent = line.fake.calls_to("sendMessage")
    assert sent.params == ptb_sent.params
    assert sent.json("reply_markup")["inline_keyboard"][1] == [{"text": "2. Annet", "callback_data": "other"}]
    await sender.send(OutboundMessage(2, Contact(Channel.TELEGRAM, str(KARI.id)), Reply("Hei")))
    await line.channel.bot.send_message(chat_id=KARI.id, text="Hei", protect_content=True)
    *_, plain, ptb_plain = line.fake.calls_to("sendMessage")
    assert (
        plain.params
        == ptb_plain.params
        == {"chat_id": str(KARI.id), "text": "Hei", "protect_content": "true"}
    )

    await line.channel.bot.delete_message(chat_id=KARI.id, message_id=1)
    erase = Reply("Slettet", erase=True, erase_refs=("3",))
    await sender.send(OutboundMessage(3, Contact(Channel.TELEGRAM, str(KARI.id)), erase))
    ptb_deleted, deleted = line.fake.calls_to("deleteMessage")
    assert ptb_deleted.params.keys() == deleted.params.keys() == {"chat_id", "message_id"}
    assert deleted.params == {"chat_id": str(KARI.id), "message_id": "3"}


@pytest.mark.parametrize(
    ("status", "description", "retry_after", "migrate_to", "kind"),
    [
        (429, "Too Many Requests: retry after 7", 7, None, RetryAfter),
        (403, "Forbidden: bot was blocked by the user", None, None, Forbidden),
        (400, "Bad Request: chat not found", None, None, BadRequest),
        (400, "Bad Request: group chat was upgraded to a supergroup chat", None, -100_123_456, ChatMigrated),
        (401, "Unauthorized", None, None, InvalidToken),
        (409, "Conflict: terminated by other getUpdates request", None, None, Conflict),
        (502, "Bad Gateway", None, None, NetworkError),
        (500, "", None, None, NetworkError),
    ],
)
async def test_bot_api_errors_are_ptbs_exceptions(
    line: Line,  # noqa: F811
    status: int,
    description: str,
    retry_after: int | None,
    migrate_to: int | None,
    kind: type,
) -> None:
    line.fake.text(KARI, "hei")
    line.fake.fail_next("sendMessage", status, description, retry_after, times=2, migrate_to=migrate_to)
    with pytest.raises(TelegramError) as ours:
        await line.channel.api.call("sendMessage", {"chat_id": KARI.id, "text": "Hei"})
    with pytest.raises(TelegramError) as theirs:
        await line.channel.bot.send_message(chat_id=KARI.id, text="Hei")
    assert type(ours.value) is type(theirs.value) is kind
    assert ours.value.message == theirs.value.message
    if isinstance(ours.value, RetryAfter):
        assert isinstance(theirs.value, RetryAfter)
        assert retry_after_seconds(ours.value) == retry_after_seconds(theirs.value) == retry_after
    if isinstance(ours.value, ChatMigrated):
        assert isinstance(theirs.value, ChatMigrated)
        assert ours.value.new_chat_id == theirs.value.new_chat_id == migrate_to


async def test_a_migrated_chat_is_given_up_and_a_network_failure_retried(line: Line) -> None:  # noqa: F811
    line.fake.text(KARI, "hei")
    sender = line.wiring.senders["telegram"]
    assert isinstance(sender, TelegramSender)
    message = OutboundMessage(1, Contact(Channel.TELEGRAM, str(KARI.id)), Reply("Hei"))
    line.fake.fail_next("sendMessage", 400, "Bad Request: group chat was upgraded", migrate_to=-100_5)
    with pytest.raises(PermanentFailure, match="supergroup"):
        await sender.send(message)
    assert await sender.send(message) is not None


def test_answers_that_are_not_json_map_as_ptb_maps_them() -> None:
    with pytest.raises(NetworkError, match=r"Bad Gateway \(502\)"):
        result_of(502, b"<html>bad gateway</html>")
    with pytest.raises(Forbidden, match=r"Forbidden \(403\)"):
        result_of(403, b"")
    with pytest.raises(TelegramError, match="Invalid server response"):
        result_of(200, b"<html>")
    assert result_of(200, json.dumps({"ok": True, "result": {"message_id": 9}}).encode()) == {"message_id": 9}


# ---- The pacing, a setting ----


async def test_pacing_follows_the_settings_and_zero_lifts_it(start: StartLine) -> None:  # noqa: F811
    default = await start()
    assert (default.channel.limiter.per_chat, default.channel.limiter.overall) == (1.0, pytest.approx(1 / 30))
    broadcast = await start(
        HELPLINE_TELEGRAM_SENDS_PER_SECOND="1000", HELPLINE_TELEGRAM_SENDS_PER_CHAT_PER_SECOND="2"
    )
    assert (broadcast.channel.limiter.per_chat, broadcast.channel.limiter.overall) == (0.5, 0.001)
    lifted = await start(
        HELPLINE_TELEGRAM_SENDS_PER_SECOND="0", HELPLINE_TELEGRAM_SENDS_PER_CHAT_PER_SECOND="0"
    )
    lifted.fake.text(KARI, "hei")
    sender = lifted.wiring.senders["telegram"]
    for n in range(3):
        await sender.send(OutboundMessage(n, Contact(Channel.TELEGRAM, str(KARI.id)), Reply("Hei")))
    assert lifted.vtime.woke == []  # three sends into one chat, none waited


@pytest.mark.parametrize(
    "variable", ["HELPLINE_TELEGRAM_SENDS_PER_SECOND", "HELPLINE_TELEGRAM_SENDS_PER_CHAT_PER_SECOND"]
)
@pytest.mark.parametrize("value", ["-1", "fast", "nan", "inf"])
def test_a_wrong_pacing_names_the_variable(env: dict[str, str], variable: str, value: str) -> None:  # noqa: F811
    with pytest.raises(ConfigError, match=variable):
        make_app(load_settings({**env, variable: value}))
