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

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from intake.i18n import SOURCE_LANGUAGE
from intake.privacy import MIN_SECRET_LENGTH

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./helpline.db"
# A fixed key for development only: `make run` generates a real one; production refuses to start without.
DEVELOPMENT_SECRET = "development-only-secret-not-for-production"  # noqa: S105


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it and says what is expected."""


@dataclass(frozen=True)
class Settings:
    environment: str
    database_url: str
    secret_key: str
    public_url: str | None
    config_path: Path | None
    languages: tuple[str, ...]
    hours: Mapping[str, Any]
    exit_url: str
    retention_days: int
    require_staff: bool
    file: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def development(self) -> bool:
        return self.environment == "development"


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


def load_settings(env: Mapping[str, str] | None = None, *, need_secret: bool = True) -> Settings:
    """`need_secret=False` for commands that never pseudonymise or encrypt (staff accounts): they run
    without the key, as an operator's shell next to `make run` has it."""
    env = dict(os.environ if env is None else env)
    environment = env.get("HELPLINE_ENV", "production").strip() or "production"
    if environment not in ("production", "development"):
        raise ConfigError(f"HELPLINE_ENV must be 'production' or 'development', not {environment!r}")

    database_url = env.get("HELPLINE_DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise ConfigError(  # noqa: B904 - the parser's message adds nothing for an operator
            "HELPLINE_DATABASE_URL is not a database URL (e.g. sqlite+aiosqlite:///./helpline.db)"
        )
    if url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ConfigError(
            "HELPLINE_DATABASE_URL must use sqlite+aiosqlite:// or postgresql+asyncpg://, "
            f"not {url.drivername}://"
        )

    secret = env.get("HELPLINE_SECRET_KEY", "")
    if not secret:
        if environment != "development" and need_secret:
            raise ConfigError("HELPLINE_SECRET_KEY is required (a long random string; see README)")
        secret = DEVELOPMENT_SECRET
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"HELPLINE_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters")

    public_url = env.get("HELPLINE_PUBLIC_URL", "").strip().rstrip("/") or None
    if public_url is not None:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"HELPLINE_PUBLIC_URL must be an http(s) URL, not {public_url!r}")

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

    require_staff = data.get("staffing", {}).get("require_signed_in_staff", True)
    if not isinstance(require_staff, bool):
        raise ConfigError("staffing.require_signed_in_staff must be true or false")

    return Settings(
        environment=environment,
        database_url=database_url,
        secret_key=secret,
        public_url=public_url,
        config_path=config_path,
        languages=tuple(languages),
        hours=data.get("hours", {}),
        exit_url=exit_url,
        retention_days=retention,
        require_staff=require_staff,
        file=data,
        env=env,
    )
