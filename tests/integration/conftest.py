"""Fixtures for the storage, service and outbox tests: a controllable clock and a real IntakeService."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.hours import OpeningHours, default_hours
from intake.i18n import Catalogs, default_locales_dir
from intake.keywords import default_table
from intake.messages import Channel, Contact, InboundMessage
from intake.privacy import Keys
from intake.queue import StaffDesk
from intake.service import IntakeService, Outcome
from intake.storage.db import make_database
from intake.storage.models import ConversationRow, MessageRow, OutboxRow
from intake.storage.pg_writer import PgWriter
from intake.storage.uow import Database
from tests.conftest import LANGUAGES, TUESDAY_10

SECRET = "x" * 32

# Every day closed, no channel overrides: the line never opens.
ALWAYS_CLOSED: Mapping[str, Any] = {
    "public_holidays": "",
    "weekly": {day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    "channel": {},
}
ALWAYS_OPEN: Mapping[str, Any] = {
    "public_holidays": "",
    "weekly": {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    "channel": {},
}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = TUESDAY_10) -> None:
        self.now = now.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def build_service(
    engine: AsyncEngine, clock: Clock, hours: OpeningHours | None = None, secret: str = SECRET
) -> IntakeService:
    """Wired as bots/app.py wires it, with the test's clock."""
    keys = Keys.from_secret(secret)
    return IntakeService(
        db=make_database(engine, keys),
        keys=keys,
        catalogs=Catalogs(default_locales_dir(), LANGUAGES),
        hours=hours or default_hours(),
        keywords=default_table(),
        clock=clock,
    )


def build_desk(service: IntakeService) -> StaffDesk:
    """The staff desk beside this service, wired as bots/app.py wires it: the service's clock."""
    return StaffDesk(
        db=service.db,
        catalogs=service.catalogs,
        hours=service.hours,
        clock=lambda: service.clock(),
        on_replies=service.on_replies,
        on_change=service.on_change,
    )


class Writer:
    """One person writing to a service over one channel; every message gets a fresh provider id."""

    def __init__(
        self,
        service: IntakeService,
        address: str = "4711-chat-address",
        channel: Channel = Channel.TELEGRAM,
    ) -> None:
        self.service = service
        self.contact = Contact(channel, address)
        self.sent = 0

    @property
    def pseudonym(self) -> str:
        return self.service.keys.pseudonym(self.contact)

    def message(
        self, text: str = "", choice: str | None = None, provider_id: str | None = None
    ) -> InboundMessage:
        self.sent += 1
        return InboundMessage(
            contact=self.contact,
            provider_id=provider_id or f"{self.contact.address}-{self.sent}",
            text=text,
            received_at=self.service.clock(),
            choice=choice,
        )

    async def says(
        self, text: str = "", choice: str | None = None, provider_id: str | None = None
    ) -> Outcome:
        return await self.service.handle(self.message(text, choice, provider_id))


async def fetch(db: Database, stmt: Select[Any]) -> list[Any]:
    """The rows of a query, detached so they stay readable after the unit of work rolls back."""
    async with db.uow() as uow:
        rows = list((await uow.session.execute(stmt)).scalars().all())
        uow.session.expunge_all()
        return rows


async def conversations(db: Database) -> list[ConversationRow]:
    return await fetch(db, select(ConversationRow).order_by(ConversationRow.created_at, ConversationRow.id))


async def messages(db: Database, direction: str | None = None) -> list[MessageRow]:
    stmt = select(MessageRow).order_by(MessageRow.id)
    if direction is not None:
        stmt = stmt.where(MessageRow.direction == direction)
    return await fetch(db, stmt)


async def outbox(db: Database, pseudonym: str | None = None) -> list[OutboxRow]:
    stmt = select(OutboxRow).order_by(OutboxRow.id)
    if pseudonym is not None:
        stmt = stmt.where(OutboxRow.pseudonym == pseudonym)
    return await fetch(db, stmt)


def texts(rows: list[OutboxRow]) -> list[str]:
    return [str(row.payload["text"]) for row in rows]


@pytest.fixture(autouse=True)
async def _close_pg_writers(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Every PostgreSQL writer a test's Database made is closed with the test (bots/app.py closes the
    service's): its pool's connections would otherwise outlive the test's event loop."""
    made: list[PgWriter] = []
    init = PgWriter.__post_init__

    def register(writer: PgWriter) -> None:
        init(writer)
        made.append(writer)

    monkeypatch.setattr(PgWriter, "__post_init__", register)
    yield
    for writer in made:
        await writer.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(engine: AsyncEngine, clock: Clock) -> IntakeService:
    return build_service(engine, clock, OpeningHours.from_config(ALWAYS_OPEN))


@pytest.fixture
def db(service: IntakeService) -> Database:
    return service.db
