"""Which keys the service accepts: never the public development key where others can reach it, never a
key too short or too regular to resist guessing."""

from __future__ import annotations

import base64
import os
import secrets

import pytest
from cryptography.fernet import Fernet

from intake.config import DEVELOPMENT_SECRET, ConfigError, load_settings

GOOD = secrets.token_urlsafe(32)
OTHER = secrets.token_urlsafe(32)


def settings(**env: str) -> object:
    return load_settings({"HELPLINE_DATABASE_URL": "sqlite+aiosqlite:///x.db", **env})


@pytest.mark.parametrize(
    "url", ["https://hjelp.example.no", "http://10.0.0.5:8080", "https://127.0.0.1.nip.io"]
)
def test_development_mode_refuses_the_repository_key_behind_a_public_url(url: str) -> None:
    with pytest.raises(ConfigError, match="HELPLINE_SECRET_KEY is required"):
        settings(HELPLINE_ENV="development", HELPLINE_PUBLIC_URL=url)
    with pytest.raises(ConfigError, match="development key"):
        settings(HELPLINE_ENV="development", HELPLINE_PUBLIC_URL=url, HELPLINE_SECRET_KEY=DEVELOPMENT_SECRET)


def test_production_refuses_the_repository_key_even_when_given() -> None:
    with pytest.raises(ConfigError, match="development key"):
        settings(HELPLINE_SECRET_KEY=DEVELOPMENT_SECRET)


@pytest.mark.parametrize("url", [None, "http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080"])
def test_development_on_this_machine_may_use_the_repository_key(url: str | None) -> None:
    env = {"HELPLINE_ENV": "development"} | ({"HELPLINE_PUBLIC_URL": url} if url else {})
    loaded = load_settings({"HELPLINE_DATABASE_URL": "sqlite+aiosqlite:///x.db", **env})
    assert loaded.secret_keys == (DEVELOPMENT_SECRET,)


@pytest.mark.parametrize(
    "key",
    [
        "x" * 32,  # one repeated character (accepted before: 16 characters were enough)
        "a" * 80,
        "ab" * 40,  # two characters in turn
        "01" * 64,  # a two-letter alphabet, however long
        "0123456789" * 7,
        "correct horse battery staple, and then some more words",
        secrets.token_urlsafe(24),  # 24 random bytes: short of 32
        os.urandom(24).hex(),
    ],
)
def test_short_or_regular_keys_are_refused(key: str) -> None:
    with pytest.raises(ConfigError, match="HELPLINE_SECRET_KEY"):
        settings(HELPLINE_SECRET_KEY=key)


@pytest.mark.parametrize(
    "key",
    [
        secrets.token_urlsafe(32),
        secrets.token_urlsafe(48),  # what `make run` generates
        os.urandom(32).hex(),  # openssl rand -hex 32
        base64.b64encode(os.urandom(32)).decode(),  # openssl rand -base64 32
        Fernet.generate_key().decode(),
    ],
)
def test_random_keys_of_32_bytes_are_accepted(key: str) -> None:
    assert load_settings({"HELPLINE_SECRET_KEY": key}).secret_keys == (key,)


def test_several_keys_newest_first_with_a_pseudonym_key_that_stays() -> None:
    loaded = load_settings({"HELPLINE_SECRET_KEYS": f"{OTHER}, {GOOD}", "HELPLINE_PSEUDONYM_KEY": GOOD})
    assert loaded.secret_keys == (OTHER, GOOD)
    assert loaded.pseudonym_secret == GOOD
    assert load_settings({"HELPLINE_SECRET_KEY": GOOD}).pseudonym_secret == GOOD


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"HELPLINE_SECRET_KEYS": f"{OTHER},{GOOD}"}, "HELPLINE_PSEUDONYM_KEY is required"),
        ({"HELPLINE_SECRET_KEYS": OTHER, "HELPLINE_SECRET_KEY": GOOD}, "not both"),
        ({"HELPLINE_SECRET_KEYS": f"{GOOD},{GOOD}", "HELPLINE_PSEUDONYM_KEY": GOOD}, "twice"),
        ({"HELPLINE_SECRET_KEYS": f"{GOOD},{'z' * 50}", "HELPLINE_PSEUDONYM_KEY": GOOD}, "key 2"),
        ({"HELPLINE_SECRET_KEY": GOOD, "HELPLINE_PSEUDONYM_KEY": "p" * 64}, "HELPLINE_PSEUDONYM_KEY"),
    ],
)
def test_key_lists_are_checked_one_by_one(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(env)
