"""Telegram updates -> `intake.messages.InboundMessage`: the only place that reads a Telegram update.

What is taken: new messages in private chats (text, or the caption of a photo, voice note, document,
sticker … with `attachments=1`, so the flow tells the person what staff can receive) and button presses
(`callback_query`). What is ignored, on purpose, with nothing stored:
- groups, supergroups and channels (the line talks with one person at a time, in private);
- edited messages: the staff read what was sent; treating an edit as a new answer would step the intake a
  second time. They are not in the webhook's `allowed_updates`, so Telegram does not send them anyway;
- service messages without text or content, and every other update kind.

Two readers give the same answers. `plain_inbound` reads the dict Telegram sent for the two updates that
make up nearly all the traffic, a text message and a button press in a private chat, when every field it
meets has the shape Telegram documents; anything else (other fields, other kinds, odd types) it leaves to
`inbound_from` on python-telegram-bot's `Update`, whose refusals stay the webhook's. Measured in the
benchmark: `Update.de_json` cost about 80 µs an update, most of it in building frozen objects that were read
once; the dict reader costs a few.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telegram import CallbackQuery, Message, MessageEntity, Update
from telegram.constants import ChatType

from intake.messages import Channel, Contact, InboundMessage

# The bot's commands (the flow's keyword table strips the "/"). "/start" is pressed in a new or cleared chat;
# mid-intake it must not be read as an answer to the current question, so it becomes "/help" (the help
# text and the current question again; at first contact, the greeting).
COMMANDS = ("/start", "/help", "/language", "/delete")
COMMAND_ALIASES = {"/start": "/help"}


@dataclass(frozen=True)
class Pressed:
    """A button press, for the acknowledgement after the core has committed: the query to answer and, when
    the pressed message is known and has a keyboard, that message (its chat and id) to take it off."""

    query_id: str
    keyboard_chat_id: int | None = None
    keyboard_message_id: int | None = None


Parsed = tuple[InboundMessage | None, Pressed | None]
# A bot_command entity as (type, offset, length), the only entity the reader looks at.
Entity = tuple[object, object, object]


def check_ids(update: Update) -> None:
    """TypeError unless the update's user and chat ids are whole numbers. PTB files its per-user and
    per-chat data under them before any handler runs (a list there fails inside PTB), and the chat id is
    the address replies go to."""
    for owner in (update.effective_user, update.effective_chat):
        if owner is not None:
            _require(_is_int(owner.id), "user or chat id")


def inbound_from(update: Update, now: datetime | None = None) -> Parsed:
    """The core's message for this update (None: ignore it), and the button press to acknowledge."""
    if update.message is not None:
        return _from_message(update.update_id, update.message), None
    query = update.callback_query
    if query is not None:
        message = query.message if isinstance(query.message, Message) else None
        pressed = Pressed(str(query.id))
        if message is not None and message.reply_markup is not None:
            pressed = Pressed(str(query.id), message.chat.id, message.message_id)
        return _from_press(update.update_id, query, message, now or datetime.now(UTC)), pressed
    return None, None


def _require(ok: bool, what: str) -> None:
    """PTB builds its objects from whatever JSON arrived without checking types: what we read, we check
    (a TypeError here is answered 400, as a malformed update)."""
    if not ok:
        raise TypeError(f"{what} has the wrong type")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _from_message(update_id: int, message: Message) -> InboundMessage | None:
    if message.chat.type != ChatType.PRIVATE or message.from_user is None or message.from_user.is_bot:
        return None
    attachments = 1 if message.effective_attachment is not None else 0
    text = message.text if message.text is not None else (message.caption or "")
    _require(isinstance(text, str), "text or caption")
    _require(_is_int(message.message_id), "message_id")
    _require(isinstance(message.from_user.language_code, str | None), "language_code")
    if not text and not attachments:
        return None
    return InboundMessage(
        contact=Contact(Channel.TELEGRAM, str(message.chat.id)),
        provider_id=str(update_id),
        text=_command(message, text),
        received_at=message.date,
        locale_hint=message.from_user.language_code,
        attachments=attachments,
        provider_ref=str(message.message_id),
    )


def _command(message: Message, text: str) -> str:
    first = message.entities[0] if message.entities else None
    return _command_of(text, None if first is None else (first.type, first.offset, first.length))


def _command_of(text: str, first: Entity | None) -> str:
    """ "/help@HelplineBot" -> "/help"; a known command stands alone (a deep link's "/start payload" drops
    the payload); any other "/word text" keeps its text, only without the bot's name. `first`: the
    message's first entity."""
    if first is None or first[0] != MessageEntity.BOT_COMMAND or first[1] != 0:
        return text
    length = first[2]
    if not isinstance(length, int):
        raise TypeError("entity length has the wrong type")
    command = text[:length].split("@", 1)[0]
    if command.lower() in COMMANDS:
        return COMMAND_ALIASES.get(command.lower(), command.lower())
    return command + text[length:]


def _from_press(
    update_id: int, query: CallbackQuery, message: Message | None, now: datetime
) -> InboundMessage | None:
    if query.data is None or (message is not None and message.chat.type != ChatType.PRIVATE):
        return None
    # In a private chat the chat id is the user's id: the same address whether or not the message is known.
    chat_id = message.chat.id if message is not None else query.from_user.id
    _require(isinstance(query.data, str), "callback data")
    _require(message is None or _is_int(message.message_id), "message_id")
    _require(isinstance(query.from_user.language_code, str | None), "language_code")
    return InboundMessage(
        contact=Contact(Channel.TELEGRAM, str(chat_id)),
        provider_id=str(update_id),
        # The transcript shows what the person saw on the button, the flow uses the id.
        text=_label(message, query.data) or query.data,
        received_at=now,
        choice=query.data[:64],
        locale_hint=query.from_user.language_code,
        provider_ref=str(message.message_id) if message is not None else None,
    )


def _label(message: Message | None, data: str) -> str | None:
    markup = message.reply_markup if message is not None else None
    rows = markup.inline_keyboard if markup is not None else ()
    return _label_of([[(b.text, b.callback_data) for b in row] for row in rows], data)


def _label_of(rows: Sequence[Sequence[tuple[str, object]]], data: str) -> str | None:
    """The words on the pressed button, without the number it is shown with ("2. English")."""
    for row in rows:
        for text, callback_data in row:
            if callback_data == data:
                number, _, label = text.partition(". ")
                return label if number.isdigit() and label else text
    return None


# ---- the plain cases, from the dict -------------------------------------------------------------------

# The fields a reader of these two update kinds may meet and still call them plain; any other field
# (a reply, a forward, a link preview, an attachment …) goes to PTB.
_USER_MESSAGE = frozenset({"message_id", "from", "chat", "date", "text", "entities"})
_QUERY = frozenset({"id", "from", "message", "chat_instance", "data"})
_BOT_MESSAGE = frozenset(
    {
        "message_id",
        "from",
        "chat",
        "date",
        "text",
        "entities",
        "reply_markup",
        "edit_date",
        "has_protected_content",
    }
)
_ENTITY = frozenset({"type", "offset", "length"})
_BUTTON = frozenset({"text", "callback_data"})
# fromtimestamp's range on every platform; later dates are PTB's to refuse.
_LAST_DATE = 2**31 - 1


def plain_inbound(data: Mapping[str, object], now: datetime | None = None) -> Parsed | None:
    """What `inbound_from(Update.de_json(data))` gives, for a text message or a button press in a private
    chat whose every field has Telegram's shape; None for anything else (then ask `inbound_from`)."""
    update_id = data.get("update_id")
    if len(data) != 2 or not _is_int(update_id):
        return None
    message = data.get("message")
    if isinstance(message, dict):
        return _plain_message(str(update_id), message)
    query = data.get("callback_query")
    if isinstance(query, dict):
        return _plain_press(str(update_id), query, now)
    return None


def _plain_message(update_id: str, message: dict[str, Any]) -> Parsed | None:
    if not message.keys() <= _USER_MESSAGE or not _USER_MESSAGE - {"entities"} <= message.keys():
        return None
    user, chat, text = _plain_user(message["from"]), _plain_chat(message["chat"]), message["text"]
    message_id, date = message["message_id"], message["date"]
    if user is None or user["is_bot"] is not False or chat is None or not isinstance(text, str) or not text:
        return None
    if not _is_int(message_id) or not _is_int(date) or not 0 <= date <= _LAST_DATE:
        return None
    entities = _plain_entities(message.get("entities", []))
    if entities is None:
        return None
    inbound = InboundMessage(
        contact=Contact(Channel.TELEGRAM, str(chat["id"])),
        provider_id=update_id,
        text=_command_of(text, entities[0] if entities else None),
        received_at=datetime.fromtimestamp(date, UTC),
        locale_hint=user.get("language_code"),
        attachments=0,
        provider_ref=str(message_id),
    )
    return inbound, None


def _plain_press(update_id: str, query: dict[str, Any], now: datetime | None) -> Parsed | None:
    if not query.keys() <= _QUERY or not _QUERY - {"message"} <= query.keys():
        return None
    user, data, query_id = _plain_user(query["from"]), query["data"], query["id"]
    if user is None or user["is_bot"] is not False or not isinstance(data, str):
        return None
    if not isinstance(query_id, str) or not isinstance(query["chat_instance"], str):
        return None
    message = query.get("message")
    rows: list[list[tuple[str, object]]] = []
    pressed = Pressed(query_id)
    if message is None:
        # In a private chat the chat id is the user's id: the same address, known message or not.
        chat_id, ref = user["id"], None
    else:
        shown = _plain_bot_message(message)
        if shown is None:
            return None
        chat_id, message_id, rows = shown
        ref = str(message_id)
        if "reply_markup" in message:
            pressed = Pressed(query_id, chat_id, message_id)
    inbound = InboundMessage(
        contact=Contact(Channel.TELEGRAM, str(chat_id)),
        provider_id=update_id,
        text=_label_of(rows, data) or data,
        received_at=now or datetime.now(UTC),
        choice=data[:64],
        locale_hint=user.get("language_code"),
        provider_ref=ref,
    )
    return inbound, pressed


def _plain_bot_message(message: object) -> tuple[int, int, list[list[tuple[str, object]]]] | None:
    """The pressed message's chat id, message id and buttons, if it is plain (date 0: an inaccessible
    message, PTB's to read)."""
    if not isinstance(message, dict) or not message.keys() <= _BOT_MESSAGE:
        return None
    chat, message_id, date = _plain_chat(message.get("chat")), message.get("message_id"), message.get("date")
    if chat is None or not isinstance(message_id, int) or not _is_int(message_id):
        return None
    if not isinstance(date, int) or not _is_int(date) or not 0 < date <= _LAST_DATE:
        return None
    sender = message.get("from")
    if sender is not None and (_plain_user(sender) is None or not isinstance(sender["is_bot"], bool)):
        return None
    if not isinstance(message.get("text", ""), str) or _plain_entities(message.get("entities", [])) is None:
        return None
    if not _is_int(message.get("edit_date", 0)) or not isinstance(
        message.get("has_protected_content", False), bool
    ):
        return None
    rows = _plain_keyboard(message.get("reply_markup", {"inline_keyboard": []}))
    if rows is None:
        return None
    chat_id: int = chat["id"]
    return chat_id, message_id, rows


def _plain_user(user: object) -> dict[str, Any] | None:
    if not isinstance(user, dict) or not _flat(user) or not _is_int(user.get("id")):
        return None
    if not isinstance(user.get("first_name"), str) or "is_bot" not in user:
        return None
    return user if isinstance(user.get("language_code"), str | None) else None


def _plain_chat(chat: object) -> dict[str, Any] | None:
    if not isinstance(chat, dict) or not _flat(chat) or not _is_int(chat.get("id")):
        return None
    return chat if chat.get("type") == ChatType.PRIVATE else None


def _plain_entities(entities: object) -> list[Entity] | None:
    if not isinstance(entities, list):
        return None
    found: list[Entity] = []
    for entity in entities:
        if not isinstance(entity, dict) or entity.keys() != _ENTITY or not isinstance(entity["type"], str):
            return None
        if not _is_int(entity["offset"]) or not _is_int(entity["length"]):
            return None
        found.append((entity["type"], entity["offset"], entity["length"]))
    return found


def _plain_keyboard(markup: object) -> list[list[tuple[str, object]]] | None:
    if not isinstance(markup, dict) or markup.keys() != {"inline_keyboard"}:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        return None
    found: list[list[tuple[str, object]]] = []
    for row in rows:
        buttons: list[tuple[str, object]] = []
        for button in row:
            if not isinstance(button, dict) or button.keys() != _BUTTON:
                return None
            if not isinstance(button["text"], str) or not isinstance(button["callback_data"], str):
                return None
            buttons.append((button["text"], button["callback_data"]))
        found.append(buttons)
    return found


def _flat(fields: Mapping[str, object]) -> bool:
    """No nested objects: PTB would build (and might refuse) those."""
    return not any(isinstance(value, dict | list) for value in fields.values())
