"""Columns stored encrypted: message text, staff notes and outbox payloads.

The columns' types encrypt on the way in and decrypt on the way out, so every statement, ORM or Core,
reads and writes clear values and none can forget to encrypt. The cipher belongs to the engine (its
dialect, the one object every bind and result processor is handed); `make_database` registers it.

The stored form is the Fernet token as text (`messages.text` stays TEXT; `outbox.payload` stays JSON, a
JSON string holding the token), so encrypting needed no change of column types.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from sqlalchemy import JSON, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

# What staff read where a value opens with no configured key (one was dropped before `keys rotate`).
UNREADABLE_TEXT = "[encrypted with a key that is no longer configured]"
# The payload of such an outbox row: the sender fails it instead of sending nonsense.
UNREADABLE = "unreadable"


class Cipher(Protocol):
    def seal(self, data: bytes) -> bytes:
        """An ASCII token of `data`, encrypted with the newest key."""

    def unseal(self, token: bytes) -> bytes | None:
        """The data, or None when no configured key opens the token."""


_ciphers: WeakKeyDictionary[Dialect, Cipher] = WeakKeyDictionary()


def use_cipher(engine: AsyncEngine, cipher: Cipher) -> None:
    _ciphers[engine.dialect] = cipher


def cipher_for(dialect: Dialect) -> Cipher | None:
    return _ciphers.get(dialect)


def _cipher(dialect: Dialect) -> Cipher:
    cipher = _ciphers.get(dialect)
    if cipher is None:
        raise RuntimeError("no encryption key for this database: build it with make_database(engine, keys)")
    return cipher


def _unseal(token: str, dialect: Dialect) -> bytes | None:
    return _open(_cipher(dialect), token)


def _open(cipher: Cipher, token: str) -> bytes | None:
    data = cipher.unseal(token.encode("ascii"))
    if data is None:
        log.error(
            "a stored value opens with no configured key (run `helpline keys rotate` before dropping one)"
        )
    return data


def seal_text(cipher: Cipher, value: str) -> str:
    """A text as a sealed column stores it (the writer's plain SQL stores exactly what the ORM would)."""
    return cipher.seal(value.encode("utf-8")).decode("ascii")


def seal_json(cipher: Cipher, value: dict[str, Any]) -> str:
    """A JSON value's token as a sealed JSON column holds it (the column stores it as a JSON string)."""
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return cipher.seal(data).decode("ascii")


def open_json(cipher: Cipher, token: Any) -> dict[str, Any]:
    """A sealed JSON column's value from its stored token (as the column type reads it)."""
    data = _open(cipher, str(token))
    return {UNREADABLE: True} if data is None else dict(json.loads(data))


class SealedText(TypeDecorator[str]):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return seal_text(_cipher(dialect), value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        data = _unseal(value, dialect)
        return UNREADABLE_TEXT if data is None else data.decode("utf-8")


class SealedJSON(TypeDecorator[dict[str, Any]]):
    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return seal_json(_cipher(dialect), value)

    def process_result_value(self, value: Any, dialect: Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        return open_json(_cipher(dialect), value)
