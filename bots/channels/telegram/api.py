"""The Bot API calls made for every message (sendMessage, answerCallbackQuery, editMessageReplyMarkup,
deleteMessage), posted as JSON on the aiohttp session python-telegram-bot uses (http.py), without PTB's
`Bot` above it.

Measured in the benchmark: `Bot.send_message` cost 410 to 480 µs of CPU a send against 100 to 200 µs for the
same POST made directly; most of it was building PTB's request parameters and a full `Message` object from
the answer, of which the outbox keeps only the message_id. The answers are still read the way PTB reads
them (`BaseRequest._request_wrapper` in PTB 22): the same exception types for the same HTTP statuses and
response parameters, so the outbox's retry and give-up rules (sender.py's `failure`) do not change.
getMe, setWebhook, getUpdates and the rest stay PTB's (channel.py, admin.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

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

from bots.channels.telegram.http import AiohttpRequest


@dataclass(frozen=True)
class BotApi:
    """`call(method, params)` -> the answer's `result`, or the TelegramError PTB would raise."""

    request: AiohttpRequest
    base_url: str  # HELPLINE_TELEGRAM_API_URL + token, as PTB builds its URLs: f"{base_url}{token}"

    async def call(self, method: str, params: Mapping[str, Any]) -> Any:
        body = json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        status, payload = await self.request.post_json(f"{self.base_url}/{method}", body)
        return result_of(status, payload)


def result_of(status: int, payload: bytes) -> Any:
    """The `result` of a Bot API answer, or the error PTB 22 raises for it (its `_request_wrapper` and
    `post`): parameters first (migrate_to_chat_id -> ChatMigrated, retry_after -> RetryAfter), then the
    status (403 Forbidden, 401/404 InvalidToken, 400 BadRequest, 409 Conflict, any other NetworkError)."""
    if 200 <= status <= 299:
        return _parsed(payload).get("result")
    try:
        message = f"{HTTPStatus(status).phrase} ({status})"
    except ValueError:
        message = f"Unknown HTTPError ({status})"
    try:
        answer = _parsed(payload)
    except TelegramError:
        answer = {}
        message += ". Parsing the server response failed"
    description = answer.get("description")
    if isinstance(description, str) and description:
        message = description
    parameters = answer.get("parameters")
    if isinstance(parameters, dict) and parameters:
        migrate_to = parameters.get("migrate_to_chat_id")
        if migrate_to:
            raise ChatMigrated(migrate_to)
        retry_after = parameters.get("retry_after")
        if retry_after:
            raise RetryAfter(retry_after)
    if status == HTTPStatus.FORBIDDEN:
        raise Forbidden(message)
    if status in (HTTPStatus.NOT_FOUND, HTTPStatus.UNAUTHORIZED):
        raise InvalidToken(message)
    if status == HTTPStatus.BAD_REQUEST:
        raise BadRequest(message)
    if status == HTTPStatus.CONFLICT:
        raise Conflict(message)
    raise NetworkError(message)


def _parsed(payload: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(payload.decode("utf-8", "replace"))
    except ValueError:
        raise TelegramError("Invalid server response") from None
    if not isinstance(answer, dict):
        raise TelegramError("Invalid server response")
    return answer
