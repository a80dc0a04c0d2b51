"""Unit of work: one transaction, all repositories on it; nothing is written unless `commit()` is called."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake.storage import pg_ops, sqlite_ops
from intake.storage.calls import Calls, PhoneDuty
from intake.storage.casework import Cases
from intake.storage.floods import Floods, RateEvents
from intake.storage.ops import Unit
from intake.storage.pg_writer import PgWriter
from intake.storage.reports import Reports
from intake.storage.repositories import (
    Contacts,
    Conversations,
    InboundSeen,
    Messages,
    Outbox,
    StaffAccess,
    Stats,
)
from intake.storage.sealed import Cipher
from intake.storage.staff import Staff
from intake.storage.writer import SqliteWriter

R = TypeVar("R")


class WriteTurns:
    """SQLite has one writer at a time, and its busy handler makes the others sleep and retry (up to 100 ms
    between tries, the lock often free meanwhile, no order kept). Under load that starved the outbox's
    short commits behind the webhooks': replies fell minutes behind. Within one process the writers take
    turns here instead, in arrival order, `urgent` ones first; the busy timeout still orders several
    processes. A turn not given within `timeout` fails as SQLite's own busy timeout does."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._held = False
        self._waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (deque(), deque())

    async def acquire(self, urgent: bool = False) -> None:
        if not self._held and not any(self._waiting):
            self._held = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._waiting[0 if urgent else 1]
        queue.append(turn)
        try:
            async with asyncio.timeout(self.timeout):
                await turn
        except TimeoutError:
            self._give_up(turn, queue)
            raise TimeoutError(f"the database stayed busy for {self.timeout:.0f} s") from None
        except BaseException:
            self._give_up(turn, queue)
            raise

    def _give_up(self, turn: asyncio.Future[None], queue: deque[asyncio.Future[None]]) -> None:
        if turn.done() and not turn.cancelled():
            self.release()  # handed the turn just as the wait ended: pass it on
        else:
            queue.remove(turn)

    def release(self) -> None:
        for queue in self._waiting:
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)  # the turn passes on; `_held` stays True
                    return
        self._held = False


class UnitOfWork:
    session: AsyncSession
    contacts: Contacts
    conversations: Conversations
    messages: Messages
    outbox: Outbox
    seen: InboundSeen
    stats: Stats
    access: StaffAccess
    staff: Staff
    cases: Cases
    reports: Reports
    rate_events: RateEvents
    floods: Floods
    calls: Calls
    phone_duty: PhoneDuty

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        turns: WriteTurns | None = None,
        urgent: bool = False,
    ) -> None:
        self._sessions = sessions
        self._turns = turns
        self._urgent = urgent
        self._has_turn = False

    async def __aenter__(self) -> UnitOfWork:
        if self._turns is not None:
            await self._turns.acquire(self._urgent)
            self._has_turn = True
        self.session = self._sessions()
        self.contacts = Contacts(self.session)
        self.conversations = Conversations(self.session)
        self.messages = Messages(self.session)
        self.outbox = Outbox(self.session)
        self.seen = InboundSeen(self.session)
        self.stats = Stats(self.session)
        self.access = StaffAccess(self.session)
        self.staff = Staff(self.session)
        self.cases = Cases(self.session)
        self.reports = Reports(self.session)
        self.rate_events = RateEvents(self.session)
        self.floods = Floods(self.session)
        self.calls = Calls(self.session)
        self.phone_duty = PhoneDuty(self.session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            # Detach first: rows read in this unit stay readable afterwards instead of being expired by
            # the rollback (which only undoes what was not committed).
            self.session.expunge_all()
            await self.session.rollback()
        finally:
            try:
                await self.session.close()
            finally:
                self._pass_turn()

    def _pass_turn(self) -> None:
        if self._turns is not None and self._has_turn:
            self._has_turn = False
            self._turns.release()

    async def commit(self) -> None:
        await self.messages.insert()  # whatever is still staged
        await self.session.commit()
        # The write lock is free from here: the next writer need not wait for this unit's tidying up.
        self._pass_turn()

    async def flush(self) -> None:
        await self.session.flush()


class Database:
    """Hands out units of work; the one object the service needs from storage."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        turns: WriteTurns | None = None,
        checkpoint: Callable[[], Awaitable[None]] | None = None,
        readers: async_sessionmaker[AsyncSession] | None = None,
        writer: SqliteWriter | PgWriter | None = None,
        cipher: Callable[[], Cipher | None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.turns = turns
        self._checkpoint = checkpoint
        self.readers = readers or sessions
        # The group-commit writer that runs the inbound units: SQLite's (writer.py) or PostgreSQL's
        # (pg_writer.py). None only for a SQLite database in memory.
        self.writer = writer
        self._cipher = cipher

    def cipher(self) -> Cipher:
        """The cipher of the sealed columns, as registered for the engine (sealed.use_cipher): what the
        writer's plain SQL seals and opens with, as the column types do."""
        found = self._cipher() if self._cipher is not None else None
        if found is None:
            raise RuntimeError(
                "no encryption key for this database: build it with make_database(engine, keys)"
            )
        return found

    async def perform(self, unit: Callable[[], Unit[R]], key: str | None = None) -> R:
        """Run a unit of operations (storage/ops.py) as one job of the writer: answered once committed.
        `key` (a pseudonym, a source) keeps the units that lock the same rows on one PostgreSQL lane; no
        key: the outbox's lane. (SQLite has one connection: the key changes nothing there.)"""
        writer = self.writer
        assert writer is not None, "only a database with a writer runs units"
        if isinstance(writer, PgWriter):
            return await writer.submit(lambda conn: pg_ops.run(conn, unit()), key)
        return await writer.submit(lambda conn: sqlite_ops.run(conn, unit()))

    async def close(self) -> None:
        if self.writer is not None:
            await self.writer.close()

    async def after_erasure(self) -> None:
        """After a commit that deleted a person's data: on SQLite, empty the write-ahead log, which
        still holds the deleted text (PostgreSQL: see the README on dead rows and backups)."""
        if self._checkpoint is not None:
            await self._checkpoint()

    def uow(self, urgent: bool = False) -> UnitOfWork:
        """`urgent`: short transactions others wait on (the outbox's claims and sends), served first."""
        return UnitOfWork(self.sessions, self.turns, urgent)

    def reader(self) -> UnitOfWork:
        """A unit that only reads, for long reads (the year's report): on SQLite it takes no write turn
        nor the write lock, so the intake goes on meanwhile. Never commit in it."""
        return UnitOfWork(self.readers)
