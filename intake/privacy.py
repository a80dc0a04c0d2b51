"""Pseudonyms and encrypted addresses: the service knows a person only by a keyed hash.

Both keys are derived from HELPLINE_SECRET_KEY, so one secret in configuration is all an operator keeps.
Rotating it makes earlier pseudonyms unlinkable, which is acceptable: transcripts live 30 days.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from intake.messages import Contact

MIN_SECRET_LENGTH = 16
# Separates a web chat token's issue time from its random part (never in token_urlsafe's alphabet).
ISSUED_MARK = "~"


class UnreadableAddress(Exception):
    """An address encrypted with another key (the secret changed)."""


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"helpline-intake", info=purpose).derive(
        secret.encode("utf-8")
    )


@dataclass(frozen=True)
class Keys:
    pseudonym_key: bytes
    fernet: Fernet

    @classmethod
    def from_secret(cls, secret: str) -> Keys:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"the secret key must be at least {MIN_SECRET_LENGTH} characters")
        fernet_key = base64.urlsafe_b64encode(_derive(secret, b"address-encryption"))
        return cls(pseudonym_key=_derive(secret, b"pseudonym"), fernet=Fernet(fernet_key))

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
