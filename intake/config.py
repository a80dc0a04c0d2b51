"""Settings from the environment and the TOML file. A bad setting is one clear line naming it."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from intake.i18n import SOURCE_LANGUAGE
from intake.privacy import Keys, key_problem
from intake.storage.urls import NotADatabaseUrl, driver_name

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./helpline.db"
# A fixed key for development only: `make run` generates a real one; production refuses to start without.
DEVELOPMENT_SECRET = "development-only-secret-not-for-production"  # noqa: S105
# Where the development key may be used: a public URL elsewhere means others can reach the service.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it and says what is expected."""


@dataclass(frozen=True)
class Settings:
    environment: str
    database_url: str
    # Encryption keys, newest first: the first encrypts, all decrypt (see intake.privacy.Keys).
    secret_keys: tuple[str, ...]
    # Keys the pseudonyms, web chat tokens and message ids; it does not rotate with the others.
    pseudonym_secret: str
    public_url: str | None
    config_path: Path | None
    languages: tuple[str, ...]
    hours: Mapping[str, Any]
    exit_url: str
    retention_days: int
    require_staff: bool
    file: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    case_retention_years: int = 5

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @property
    def secret_key(self) -> str:
        """The key new data is encrypted with."""
        return self.secret_keys[0]

    def keys(self) -> Keys:
        return Keys.from_secrets(self.secret_keys, self.pseudonym_secret)


def _defaults() -> dict[str, Any]:
    return tomllib.loads(resources.files("intake").joinpath("defaults.toml").read_text(encoding="utf-8"))


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _keys(env: Mapping[str, str], development: bool, public: bool) -> tuple[tuple[str, ...], str]:
    """The encryption keys (newest first) and the pseudonym key, each checked by `key_problem`."""
    single = env.get("HELPLINE_SECRET_KEY", "").strip()
    listed = env.get("HELPLINE_SECRET_KEYS", "").strip()
    pseudonym = env.get("HELPLINE_PSEUDONYM_KEY", "").strip()
    if single and listed:
        raise ConfigError("set HELPLINE_SECRET_KEY or HELPLINE_SECRET_KEYS, not both")
    if listed:
        keys = tuple(key for key in listed.replace(",", " ").split() if key)
        if not pseudonym:
            # Falling back to one of the list would change every pseudonym the day it is dropped.
            raise ConfigError(
                "HELPLINE_PSEUDONYM_KEY is required with HELPLINE_SECRET_KEYS "
                "(the key the pseudonyms were made with, usually the first HELPLINE_SECRET_KEY; see README)"
            )
    elif single:
        keys = (single,)
    elif public:
        raise ConfigError(
            "HELPLINE_SECRET_KEY is required (a long random string; see README)"
            if not development
            else "HELPLINE_SECRET_KEY is required: the development key is public and "
            "HELPLINE_PUBLIC_URL is not localhost"
        )
    else:
        keys = (DEVELOPMENT_SECRET,)
    pseudonym = pseudonym or keys[0]
    name = "HELPLINE_SECRET_KEYS" if listed else "HELPLINE_SECRET_KEY"
    named = [(f"{name}: key {n}" if listed else name, key) for n, key in enumerate(keys, 1)]
    for setting, key in [*named, ("HELPLINE_PSEUDONYM_KEY", pseudonym)]:
        if key == DEVELOPMENT_SECRET:
            if public:
                raise ConfigError(
                    f"{setting} is the development key from the repository, refused outside development "
                    "on localhost"
                )
            continue
        problem = key_problem(key)
        if problem is not None:
            raise ConfigError(f"{setting} {problem}")
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{name} lists the same key twice")
    return keys, pseudonym


def load_settings(env: Mapping[str, str] | None = None, *, need_secret: bool = True) -> Settings:
    """`need_secret=False` for commands that never pseudonymise or encrypt (staff accounts): they run
    without the key, as an operator's shell next to `make run` has it."""
    env = dict(os.environ if env is None else env)
    environment = env.get("HELPLINE_ENV", "production").strip() or "production"
    if environment not in ("production", "development"):
        raise ConfigError(f"HELPLINE_ENV must be 'production' or 'development', not {environment!r}")

    database_url = env.get("HELPLINE_DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    try:
        driver = driver_name(database_url)
    except NotADatabaseUrl:
        raise ConfigError(  # noqa: B904 - the parser's message adds nothing for an operator
            "HELPLINE_DATABASE_URL is not a database URL (e.g. sqlite+aiosqlite:///./helpline.db)"
        )
    if driver not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ConfigError(
            f"HELPLINE_DATABASE_URL must use sqlite+aiosqlite:// or postgresql+asyncpg://, not {driver}://"
        )

    public_url = env.get("HELPLINE_PUBLIC_URL", "").strip().rstrip("/") or None
    if public_url is not None:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"HELPLINE_PUBLIC_URL must be an http(s) URL, not {public_url!r}")
    # The key in this repository is public: it may only protect a service nobody else can reach.
    public = environment != "development" or (
        public_url is not None and urlsplit(public_url).hostname not in LOCAL_HOSTS
    )
    if need_secret or env.get("HELPLINE_SECRET_KEY") or env.get("HELPLINE_SECRET_KEYS"):
        secret_keys, pseudonym_secret = _keys(env, environment == "development", public)
    else:
        # Nothing this command does is keyed (staff accounts): the development key is never used here.
        secret_keys, pseudonym_secret = (DEVELOPMENT_SECRET,), DEVELOPMENT_SECRET

    config_path = Path(env["HELPLINE_CONFIG"]) if env.get("HELPLINE_CONFIG") else None
    file_data: dict[str, Any] = {}
    if config_path is not None:
        try:
            file_data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"HELPLINE_CONFIG: cannot read {config_path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"HELPLINE_CONFIG: {config_path} is not valid TOML: {exc}") from None
    data = _merge(_defaults(), file_data)

    languages = data.get("languages", {}).get("enabled", [SOURCE_LANGUAGE])
    if not isinstance(languages, list) or not languages or not all(isinstance(x, str) for x in languages):
        raise ConfigError("languages.enabled must be a non-empty list of language codes")
    exit_url = str(data.get("chat", {}).get("exit_url", "https://www.yr.no"))
    if urlsplit(exit_url).scheme != "https":
        raise ConfigError(f"chat.exit_url must be an https URL, not {exit_url!r}")
    retention = data.get("retention", {}).get("days", 30)
    if not isinstance(retention, int) or retention < 1:
        raise ConfigError("retention.days must be a whole number of days, at least 1")

    case_years = data.get("retention", {}).get("case_years", 5)
    if not isinstance(case_years, int) or isinstance(case_years, bool) or case_years < 1:
        raise ConfigError("retention.case_years must be a whole number of years, at least 1")

    require_staff = data.get("staffing", {}).get("require_signed_in_staff", True)
    if not isinstance(require_staff, bool):
        raise ConfigError("staffing.require_signed_in_staff must be true or false")

    return Settings(
        environment=environment,
        database_url=database_url,
        secret_keys=secret_keys,
        pseudonym_secret=pseudonym_secret,
        public_url=public_url,
        config_path=config_path,
        languages=tuple(languages),
        hours=data.get("hours", {}),
        exit_url=exit_url,
        retention_days=retention,
        require_staff=require_staff,
        file=data,
        env=env,
        case_retention_years=case_years,
    )
