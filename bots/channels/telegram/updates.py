"""Telegram updates -> `intake.messages.InboundMessage`: the only place that reads a Telegram update.

What is taken: new messages in private chats (text, or the caption of a photo, voice note, document,
sticker … with `attachments=1`, so the flow tells the person what staff can receive) and button presses
(`callback_query`). What is ignored, on purpose, with nothing stored:
- groups, supergroups and channels (the line talks with one person at a time, in private);
- edited messages: the staff read what was sent; treating an edit as a new answer would step the intake a
  second time. They are not in the webhook's `allowed_updates`, so Telegram does not send them anyway;
- service messages without text or content, and every other update kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

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
    """A button press, for the acknowledgement after the core has committed."""

    query: CallbackQuery
    message: Message | None


def check_ids(update: Update) -> None:
    """TypeError unless the update's user and chat ids are whole numbers. PTB files its per-user and
    per-chat data under them before any handler runs (a list there fails inside PTB), and the chat id is
    the address replies go to."""
    for owner in (update.effective_user, update.effective_chat):
        if owner is not None:
            _require(_is_int(owner.id), "user or chat id")


def inbound_from(update: Update, now: datetime | None = None) -> tuple[InboundMessage | None, Pressed | None]:
    """The core's message for this update (None: ignore it), and the button press to acknowledge."""
    if update.message is not None:
        return _from_message(update.update_id, update.message), None
    query = update.callback_query
    if query is not None:
        message = query.message if isinstance(query.message, Message) else None
        return _from_press(update.update_id, query, message, now or datetime.now(UTC)), Pressed(
            query, message
        )
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
    """ "/help@HelplineBot" -> "/help"; a known command stands alone (a deep link's "/start payload" drops
    the payload); any other "/word text" keeps its text, only without the bot's name."""
    first = message.entities[0] if message.entities else None
    if first is None or first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return text
    command = text[: first.length].split("@", 1)[0]
    if command.lower() in COMMANDS:
        return COMMAND_ALIASES.get(command.lower(), command.lower())
    return command + text[first.length :]


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
    for row in markup.inline_keyboard if markup is not None else ():
        for button in row:
            if button.callback_data == data:
                number, _, label = button.text.partition(". ")
                return label if number.isdigit() and label else button.text
    return None
