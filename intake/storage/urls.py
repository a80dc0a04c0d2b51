"""Database URLs read without connecting: settings and the live bus learn what they need here, so SQLAlchemy
stays inside storage."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class NotADatabaseUrl(ValueError):
    """The text does not parse as a database URL."""


def driver_name(url: str) -> str:
    """The URL's driver, as "sqlite+aiosqlite" or "postgresql+asyncpg"."""
    try:
        return make_url(url).drivername
    except ArgumentError:
        raise NotADatabaseUrl("not a database URL") from None


def listen_dsn(url: str) -> str | None:
    """The plain PostgreSQL DSN for a direct asyncpg connection (the live bus's LISTEN, the writer's
    lanes); None on SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return None
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)
