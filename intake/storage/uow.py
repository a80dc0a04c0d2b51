"""Unit of work: one transaction, all repositories on it; nothing is written unless `commit()` is called."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake.storage.repositories import Contacts, Conversations, InboundSeen, Messages, Outbox, Stats


class UnitOfWork:
    session: AsyncSession
    contacts: Contacts
    conversations: Conversations
    messages: Messages
    outbox: Outbox
    seen: InboundSeen
    stats: Stats

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self.contacts = Contacts(self.session)
        self.conversations = Conversations(self.session)
        self.messages = Messages(self.session)
        self.outbox = Outbox(self.session)
        self.seen = InboundSeen(self.session)
        self.stats = Stats(self.session)
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
            await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def flush(self) -> None:
        await self.session.flush()


class Database:
    """Hands out units of work; the one object the service needs from storage."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)
