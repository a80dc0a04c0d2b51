"""Pseudonyms and encrypted addresses: the service knows a person only by a keyed hash.

The encryption keys rotate (the first of HELPLINE_SECRET_KEYS encrypts, every one decrypts); the
pseudonym key does not: pseudonyms are how staff see that a person has written before, how a block
holds and how a web chat tab keeps its conversation, and a new key would silently make everyone new.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import string
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from intake.messages import Contact

MIN_SECRET_LENGTH = 16
# Separates a web chat token's issue time from its random part (never in token_urlsafe's alphabet).
ISSUED_MARK = "~"
# What a configured key must carry: 32 random bytes, as `secrets.token_urlsafe(32)` gives.
MIN_KEY_BITS = 256
_HEX = frozenset(string.hexdigits)
_BASE64 = frozenset(string.ascii_letters + string.digits + "+/-_")
_PRINTABLE_ASCII = 95


def _alphabet(key: str) -> int:
    """The smallest usual alphabet the key's characters come from: what a generator drew from."""
    if set(key) <= _HEX:
        return 16
    if set(key.rstrip("=")) <= _BASE64:
        return 64
    return _PRINTABLE_ASCII


def key_problem(key: str) -> str | None:
    """Why `key` is not good enough to protect the data, or None.

    A key must hold at least 256 bits by the alphabet it is written in (64 hex digits, 43 base64
    characters, 40 other printable ones); use at least half as many different characters as a random
    string of its length over that alphabet does on average (one repeated character, a few characters in
    turn or a short alphabet such as 0 and 1 fail); and not shrink by more than a quarter when compressed
    (a repeated block does). A random key fails either with a probability below 1e-12.
    """
    body = key.rstrip("=")
    size = _alphabet(key)
    bits = len(body) * math.log2(size)
    if bits < MIN_KEY_BITS:
        need = math.ceil(MIN_KEY_BITS / math.log2(size))
        return f"is too short: at least {need} characters of this kind (32 random bytes; see README)"
    expected_distinct = size * (1 - (1 - 1 / size) ** len(body))
    if len(set(body)) < expected_distinct / 2:
        return "is not random enough (too few different characters; generate one as the README says)"
    if len(zlib.compress(body.encode("utf-8"), 9)) < 0.75 * len(body.encode("utf-8")):
        return "is not random enough (it repeats itself; generate one as the README says)"
    return None


class UnreadableAddress(Exception):
    """An address encrypted with another key (the secret changed)."""


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"helpline-intake", info=purpose).derive(
        secret.encode("utf-8")
    )


def _fernet(secret: str) -> Fernet:
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"the secret key must be at least {MIN_SECRET_LENGTH} characters")
    return Fernet(base64.urlsafe_b64encode(_derive(secret, b"address-encryption")))


@dataclass(frozen=True)
class Keys:
    pseudonym_key: bytes
    fernet: MultiFernet
    # The newest key alone: tells whether a token still needs re-encrypting.
    newest: Fernet

    @classmethod
    def from_secret(cls, secret: str) -> Keys:
        return cls.from_secrets([secret], secret)

    @classmethod
    def from_secrets(cls, encryption_secrets: Sequence[str], pseudonym_secret: str) -> Keys:
        """`encryption_secrets` newest first: the first encrypts, all are tried for reading."""
        fernets = [_fernet(secret) for secret in encryption_secrets]
        if not fernets or len(pseudonym_secret) < MIN_SECRET_LENGTH:
            raise ValueError("an encryption key and a pseudonym key are needed")
        return cls(
            pseudonym_key=_derive(pseudonym_secret, b"pseudonym"),
            fernet=MultiFernet(fernets),
            newest=fernets[0],
        )

    def pseudonym(self, contact: Contact) -> str:
        message = f"{contact.channel}\x00{contact.address}".encode()
        return hmac.new(self.pseudonym_key, message, hashlib.sha256).hexdigest()

    def provider_key(self, channel: str, provider_id: str) -> str:
        message = f"msg\x00{channel}\x00{provider_id}".encode()
        return hmac.new(self.pseudonym_key, message, hashlib.sha256).hexdigest()

    def new_token(self, issued: datetime | None = None) -> str:
        """A self-authenticating random token (the web chat's anonymous address): forged ones fail
        `check_token` without a database lookup. With `issued`, the token carries that time (signed, to
        the second), so it can expire (see `token_issued`)."""
        nonce = secrets.token_urlsafe(24)
        if issued is not None:
            nonce = f"{int(issued.timestamp()):x}{ISSUED_MARK}{nonce}"
        return f"{nonce}.{self._tag(nonce)}"

    def check_token(self, token: str) -> bool:
        nonce, _, tag = token.partition(".")
        # A token is ASCII; a header may hold any bytes (undecodable ones arrive as surrogates), which
        # neither encode() nor compare_digest() takes.
        if not nonce or len(token) > 128 or not token.isascii():
            return False
        return hmac.compare_digest(tag, self._tag(nonce))

    def _tag(self, nonce: str) -> str:
        digest = hmac.new(self.pseudonym_key, f"token\x00{nonce}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def encrypt(self, address: str) -> bytes:
        return self.fernet.encrypt(address.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self.fernet.decrypt(token).decode("utf-8")
        except InvalidToken as exc:
            raise UnreadableAddress from exc

    def seal(self, data: bytes) -> bytes:
        return self.fernet.encrypt(data)

    def unseal(self, token: bytes) -> bytes | None:
        try:
            return self.fernet.decrypt(token)
        except InvalidToken:
            return None

    def rotated(self, token: bytes) -> bytes | None:
        """The token encrypted with the newest key, or None when it already is (nothing to write).
        Raises UnreadableAddress when no configured key opens it."""
        try:
            self.newest.decrypt(token)
            return None
        except InvalidToken:
            pass
        try:
            return self.fernet.rotate(token)
        except InvalidToken as exc:
            raise UnreadableAddress from exc


def token_issued(token: str) -> datetime | None:
    """When a web chat token was made, if it says so (tokens from before issue times have none). Only
    meaningful for a token that passed `check_token`: the time is inside the signed part."""
    stamp, mark, _rest = token.partition(ISSUED_MARK)
    if not mark or not 0 < len(stamp) <= 12:
        return None
    try:
        return datetime.fromtimestamp(int(stamp, 16), UTC)
    except (ValueError, OverflowError, OSError):
        return None
