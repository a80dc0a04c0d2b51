"""Repositories: the queries the service needs, each in one place, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Table,
    and_,
    any_,
    bindparam,
    case,
    delete,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from intake.categories import topic_bits
from intake.messages import OPEN_STATUSES, ConversationStatus, Delivery, Direction, OutboxStatus
from intake.storage.models import (
    ContactRow,
    ConversationRow,
    InboundSeenRow,
    LoginAttemptRow,
    MessageRow,
    OutboxRow,
    StaffSessionRow,
    StatRecordRow,
)

# Any fixed number, the same in every copy (see db.MIGRATION_LOCK and leader.JOBS_LOCK).
OUTBOX_CLAIM_LOCK = 0x68656C72

# The tables behind the mapped classes, for the hot path's Core statements.
_MESSAGES = cast(Table, MessageRow.__table__)
_OUTBOX = cast(Table, OutboxRow.__table__)
_SEEN = cast(Table, InboundSeenRow.__table__)


def _unset(table: Table) -> dict[str, Any]:
    """What the ORM would write for each column left unset: the model's scalar default, else NULL. A
    Core insert passes every column, and the rows of one executemany must carry the same keys; read
    from the models so the two cannot drift apart."""
    return {
        column.key: column.default.arg if isinstance(column.default, ScalarElementColumnDefault) else None
        for column in table.columns
        if not column.primary_key
    }


_MESSAGE_UNSET = _unset(_MESSAGES)
_OUTBOX_DEFAULTS = {key: value for key, value in _unset(_OUTBOX).items() if value is not None}


def _message_values(values: dict[str, Any]) -> dict[str, Any]:
    return {**_MESSAGE_UNSET, **values}


def _open(status: Any) -> Any:
    """The outbox's partial indexes' condition, as literals: a planner matches a partial index only to
    the same condition, and a bound parameter (in a generic plan) would not prove it."""
    return status.in_([_literal(OutboxStatus.PENDING), _literal(OutboxStatus.SENDING)])


def _literal(status: OutboxStatus) -> Any:
    return literal_column(f"'{status.value}'")


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _among_ids(session: AsyncSession, column: Any, ids: Sequence[int]) -> Any:
    """`column IN ids`, as one statement whatever the number of ids on PostgreSQL (`= ANY(array)`). An
    IN list is a new statement text for each length, and asyncpg prepares (and caches, 100 a
    connection) each text: the outbox's batches of 1 to 50 ids kept preparing, evicting and
    re-preparing statements on every connection, and the process grew with it."""
    if _dialect(session) == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(BigInteger())))
    return column.in_(ids)


def _insert(session: AsyncSession, table: Any) -> Any:
    return (postgresql if _dialect(session) == "postgresql" else sqlite).insert(table)


class InboundSeen:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def first_time(self, channel: str, provider_key: str, now: datetime) -> bool:
        """Record a provider message id; False when it was already recorded (a redelivery)."""
        # The table, not the mapped class: a Core statement skips the ORM's bulk-insert machinery, which
        # cost more than the insert itself on this hot path.
        stmt = (
            _insert(self.session, _SEEN)
            .values(channel=channel, provider_key=provider_key, seen_at=now)
            .on_conflict_do_nothing(index_elements=["channel", "provider_key"])
            .returning(_SEEN.c.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def forget_before(self, cutoff: datetime) -> int:
        result = await self.session.execute(delete(InboundSeenRow).where(InboundSeenRow.seen_at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class Contacts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def touch(self, pseudonym: str, channel: str, address_enc: bytes, now: datetime) -> ContactRow:
        """The contact for this pseudonym, created on first contact; the row stays locked (on PostgreSQL)
        until commit, so two messages from one person are handled one after the other."""
        stmt = (
            _insert(self.session, ContactRow)
            .values(
                pseudonym=pseudonym,
                channel=channel,
                address_enc=address_enc,
                created_at=now,
                last_seen_at=now,
                hostile=False,
                opted_out=False,
            )
            .on_conflict_do_update(
                index_elements=["pseudonym"], set_={"last_seen_at": now, "address_enc": address_enc}
            )
        )
        # The upserted row as an ORM object in the same statement: no second round trip to read it.
        row: ContactRow = (
            await self.session.scalars(
                stmt.returning(ContactRow), execution_options={"populate_existing": True}
            )
        ).one()
        return row

    async def get(self, contact_id: int) -> ContactRow | None:
        return await self.session.get(ContactRow, contact_id)

    async def by_pseudonym(self, pseudonym: str) -> ContactRow | None:
        stmt = select(ContactRow).where(ContactRow.pseudonym == pseudonym)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def forget_unused(self, cutoff: datetime) -> int:
        """Contacts with no conversation left, not seen since `cutoff`: a contact is only the means to
        answer a person."""
        result = await self.session.execute(
            delete(ContactRow)
            .where(~select(ConversationRow.id).where(ConversationRow.contact_id == ContactRow.id).exists())
            .where(ContactRow.last_seen_at < cutoff)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class Conversations:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, conversation: ConversationRow) -> None:
        self.session.add(conversation)

    async def get(self, conversation_id: str) -> ConversationRow | None:
        return await self.session.get(ConversationRow, conversation_id)

    async def claim(self, conversation_id: str, staff: str, now: datetime) -> ConversationRow | None:
        """Give a waiting conversation (queued, or still in the intake) to one staff member, atomically: of
        two claims at once, on any copy of the service, one wins. None when it was not waiting."""
        result = await self.session.execute(
            update(ConversationRow)
            .where(
                ConversationRow.id == conversation_id,
                ConversationRow.status.in_((ConversationStatus.QUEUED, ConversationStatus.INTAKE)),
            )
            .values(
                status=ConversationStatus.CLAIMED,
                claimed_by=staff,
                updated_at=now,
                version=ConversationRow.version + 1,
            )
            .returning(ConversationRow.id)
            .execution_options(synchronize_session=False)
        )
        if result.scalar_one_or_none() is None:
            return None
        conv = await self.get(conversation_id)
        assert conv is not None
        await self.session.refresh(conv)
        return conv

    async def open_for_contact(self, contact_id: int) -> ConversationRow | None:
        stmt = (
            select(ConversationRow)
            .where(ConversationRow.contact_id == contact_id, ConversationRow.status.in_(OPEN_STATUSES))
            .order_by(ConversationRow.created_at.desc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def any_for_pseudonym(self, pseudonym: str) -> bool:
        """Whether any conversation of this person is still stored, in whatever state."""
        stmt = select(
            select(ConversationRow.id)
            .join(ContactRow, ContactRow.id == ConversationRow.contact_id)
            .where(ContactRow.pseudonym == pseudonym)
            .exists()
        )
        return bool((await self.session.execute(stmt)).scalar())

    async def for_contact(self, contact_id: int) -> Sequence[ConversationRow]:
        stmt = (
            select(ConversationRow)
            .where(ConversationRow.contact_id == contact_id)
            .order_by(ConversationRow.created_at)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def queue(self, limit: int = 200) -> Sequence[ConversationRow]:
        """Waiting conversations, most urgent first: acute danger, then under 18, then messages left while
        the line was closed, then the longest wait."""
        stmt = (
            select(ConversationRow)
            .where(ConversationRow.status == ConversationStatus.QUEUED)
            .order_by(
                # A flood (many conversations from one source) never pushes anyone else down or out.
                ConversationRow.flood,
                ConversationRow.danger.desc(),
                ConversationRow.under18.desc(),
                ConversationRow.outside_hours.desc(),
                ConversationRow.queued_at,
            )
            .limit(limit)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def claimed_by(self, staff: str) -> Sequence[ConversationRow]:
        stmt = (
            select(ConversationRow)
            .where(ConversationRow.status == ConversationStatus.CLAIMED, ConversationRow.claimed_by == staff)
            .order_by(ConversationRow.updated_at)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def longest_wait(self, now: datetime) -> float:
        stmt = select(func.min(ConversationRow.queued_at)).where(
            ConversationRow.status == ConversationStatus.QUEUED
        )
        oldest = (await self.session.execute(stmt)).scalar_one_or_none()
        if oldest is None:
            return 0.0
        if oldest.tzinfo is None:  # func.min bypasses the column type on SQLite
            oldest = oldest.replace(tzinfo=now.tzinfo)
        return max(0.0, (now - oldest).total_seconds())

    async def waiting_ahead(self, danger: bool, under18: bool, flood: bool = False) -> int:
        """How many queued conversations staff will take before one that joins now with these
        priorities (see `queue`: everyone at a higher or the same level came earlier; a flood's
        conversations come after everyone else's)."""
        # (danger, under18) at least as high: danger first, then under 18 (booleans, spelled out).
        level = or_(
            false() if danger else ConversationRow.danger.is_(True),
            and_(
                ConversationRow.danger.is_(danger),
                ConversationRow.under18.is_(True) if under18 else true(),
            ),
        )
        ahead = (
            or_(ConversationRow.flood.is_(False), level)
            if flood
            else and_(ConversationRow.flood.is_(False), level)
        )
        stmt = (
            select(func.count())
            .select_from(ConversationRow)
            .where(ConversationRow.status == ConversationStatus.QUEUED, ahead)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def queue_length(self) -> int:
        stmt = (
            select(func.count())
            .select_from(ConversationRow)
            .where(ConversationRow.status == ConversationStatus.QUEUED)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def delete(self, conversation: ConversationRow) -> None:
        await self.session.delete(conversation)

    async def abandoned_before(self, cutoff: datetime, limit: int = 500) -> Sequence[ConversationRow]:
        """Open conversations with no change and no message in either direction (the person's, staff
        replies, notes) since `cutoff`: abandoned intakes and forgotten queue entries."""
        recent_message = (
            select(MessageRow.id)
            .where(MessageRow.conversation_id == ConversationRow.id, MessageRow.created_at >= cutoff)
            .exists()
        )
        stmt = (
            select(ConversationRow)
            .where(
                ConversationRow.status.in_(OPEN_STATUSES),
                ConversationRow.updated_at < cutoff,
                or_(ConversationRow.last_inbound_at.is_(None), ConversationRow.last_inbound_at < cutoff),
                ~recent_message,
            )
            .limit(limit)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def closed_before(self, cutoff: datetime, limit: int = 500) -> Sequence[ConversationRow]:
        stmt = (
            select(ConversationRow)
            .where(ConversationRow.status == ConversationStatus.CLOSED, ConversationRow.closed_at < cutoff)
            .limit(limit)
        )
        return (await self.session.execute(stmt)).scalars().all()


class Messages:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._staged: list[dict[str, Any]] = []

    def add(self, message: MessageRow) -> None:
        self.session.add(message)

    def stage(self, **values: Any) -> None:
        """A message to write with the unit's next `insert` (or at commit): the inbound message goes in the
        same statement as the replies' messages, ahead of them (the transcript is ordered by id)."""
        self._staged.append(_message_values(values))

    def discard_staged(self) -> list[dict[str, Any]]:
        staged, self._staged = self._staged, []
        return staged

    async def insert(self, rows: Sequence[dict[str, Any]] = ()) -> None:
        """Write the staged messages and `rows` as one Core executemany, after flushing the ORM's pending
        rows (the conversation they point to may be new). The ORM's unit of work cost several times the
        INSERT itself per message, and nothing here needs the rows as objects afterwards."""
        values = [*self.discard_staged(), *(_message_values(row) for row in rows)]
        if not values:
            return
        await self.session.flush()
        await self.session.execute(_MESSAGES.insert(), values)

    async def for_conversation(self, conversation_id: str) -> Sequence[MessageRow]:
        stmt = select(MessageRow).where(MessageRow.conversation_id == conversation_id).order_by(MessageRow.id)
        return (await self.session.execute(stmt)).scalars().all()

    async def inbound_since(self, conversation_id: str, since: datetime) -> int:
        stmt = (
            select(func.count())
            .select_from(MessageRow)
            .where(
                MessageRow.conversation_id == conversation_id,
                MessageRow.direction == Direction.IN,
                MessageRow.created_at >= since,
            )
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def search(
        self, words: str, closed_since: datetime, limit: int = 50, scan: int = 20_000
    ) -> Sequence[MessageRow]:
        """Messages to or from people (never notes or system lines) that contain `words`, ignoring case, in
        open conversations and those closed since `closed_since`; newest first. Text is encrypted at rest,
        so the database cannot match it: the newest `scan` such messages are read (the column type opens
        them) and matched here, which also folds case in every script, not only ASCII."""
        needle = words.casefold()
        stmt = (
            select(MessageRow)
            .join(ConversationRow, ConversationRow.id == MessageRow.conversation_id)
            .where(
                MessageRow.direction.in_((Direction.IN, Direction.OUT)),
                or_(
                    ConversationRow.status != ConversationStatus.CLOSED,
                    ConversationRow.closed_at >= closed_since,
                ),
            )
            .order_by(MessageRow.id.desc())
            .limit(scan)
        )
        found: list[MessageRow] = []
        for row in (await self.session.execute(stmt)).scalars():
            if needle in row.text.casefold():
                found.append(row)
                if len(found) == limit:
                    break
        return found

    async def set_delivery(self, outbox_id: int, delivery: Delivery) -> None:
        await self.advance_delivery([outbox_id], delivery)

    async def set_delivery_many(self, outbox_ids: Sequence[int], delivery: Delivery) -> None:
        await self.advance_delivery(outbox_ids, delivery)

    async def advance_delivery(self, outbox_ids: Sequence[int], delivery: Delivery) -> int:
        """Sets the replies' delivery state unless they already got further (see `Delivery.rank`): reports
        and our own records arrive in any order. Returns how many messages changed."""
        rank = case({state.value: state.rank for state in Delivery}, value=MessageRow.delivery, else_=-1)
        result = await self.session.execute(
            update(MessageRow)
            .where(_among_ids(self.session, MessageRow.outbox_id, outbox_ids), rank <= delivery.rank)
            .values(delivery=delivery.value)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class Outbox:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: OutboxRow) -> int:
        return (await self.add_all([row]))[0]

    async def add_all(self, rows: Sequence[OutboxRow]) -> list[int]:
        """A whole reply batch as one multi-row INSERT … RETURNING, in Core (see `Messages.insert`), after a
        flush of what the rows point to. The rows stay out of the session; each learns its id."""
        if not rows:
            return []
        await self.session.flush()
        values = [
            {column.key: getattr(row, column.key) for column in _OUTBOX.columns if column.key != "id"}
            for row in rows
        ]
        for value in values:
            for key, default in _OUTBOX_DEFAULTS.items():
                if value[key] is None:
                    value[key] = default
        # Sorted, not matched by SQLAlchemy (sort_by_parameter_order made SQLite insert row by row): one
        # INSERT draws its ids in the order of its VALUES (SQLite: max+1 under the write lock this unit
        # holds; PostgreSQL: one nextval per row, in order), so the smallest id is the first row's.
        stmt = _OUTBOX.insert().returning(_OUTBOX.c.id)
        ids = sorted(int(i) for i in (await self.session.execute(stmt, values)).scalars().all())
        for row, outbox_id in zip(rows, ids, strict=True):
            row.id = outbox_id
        return ids

    async def get(self, outbox_id: int) -> OutboxRow | None:
        return await self.session.get(OutboxRow, outbox_id)

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta, channels: Sequence[str]
    ) -> Sequence[OutboxRow]:
        """Take up to `limit` due rows for sending, atomically (in one transaction), so two senders (or two
        processes) never take the same row. A row whose lease ran out (its sender died) is due
        again. A row waits while an earlier one to the same person is not due yet (backing off, or
        claimed by a sender that may still be sending it, or may have died): it must not overtake it."""
        earlier = aliased(OutboxRow)
        overtakes = (
            select(earlier.id)
            .where(
                _open(earlier.status),
                earlier.pseudonym == OutboxRow.pseudonym,
                earlier.id < OutboxRow.id,
                or_(
                    and_(earlier.status == OutboxStatus.PENDING, earlier.next_attempt_at > now),
                    and_(earlier.status == OutboxStatus.SENDING, earlier.locked_until >= now),
                ),
            )
            .exists()
        )
        # Two ordered walks, no OR between them: each goes along the (status, id) index and stops at
        # `limit`, so a claim costs the batch, not the backlog. (With "pending and due OR sending and
        # expired" both planners gathered and sorted every open row first: 705 ms a claim at 107,000
        # pending on SQLite, and slower the further the sender fell behind.) On SQLite the unit of work
        # already holds the write lock (BEGIN IMMEDIATE); on PostgreSQL SKIP LOCKED keeps two senders
        # from taking the same row.
        if _dialect(self.session) == "postgresql":
            # Copies claim one after another. Two claims at once each saw a person's earlier reply as
            # merely due (the other's claim not yet committed), skipped it as locked, and took the later
            # one: two copies then sent one person's replies in either order (seen with three copies).
            # Waiting here, the later claim's statements see the earlier one's lease. Claims take
            # milliseconds; the lock is the transaction's and ends with it.
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": OUTBOX_CLAIM_LOCK})
        ids: list[int] = []
        for condition in (
            and_(OutboxRow.status == _literal(OutboxStatus.PENDING), OutboxRow.next_attempt_at <= now),
            and_(OutboxRow.status == _literal(OutboxStatus.SENDING), OutboxRow.locked_until < now),
        ):
            due = (
                select(OutboxRow.id)
                .where(condition, OutboxRow.channel.in_(channels), ~overtakes)
                .order_by(OutboxRow.id)
                .limit(limit)
            )
            if _dialect(self.session) == "postgresql":
                due = due.with_for_update(skip_locked=True)
            ids.extend((await self.session.execute(due)).scalars().all())
        ids = sorted(ids)[:limit]
        if not ids:
            return []
        stmt = (
            update(OutboxRow)
            .where(_among_ids(self.session, OutboxRow.id, ids))
            .values(status=OutboxStatus.SENDING, locked_until=now + lease, attempts=OutboxRow.attempts + 1)
            .returning(OutboxRow)
            .execution_options(synchronize_session=False)
        )
        rows = (await self.session.execute(stmt)).scalars().all()
        return sorted(rows, key=lambda r: r.id)

    async def refresh_statistics(self) -> bool:
        """ANALYZE the outbox on PostgreSQL (False elsewhere: SQLite's planner needs no statistics for the
        claim). A table without statistics (a fresh deployment's first minute, before autovacuum's first
        round) makes PostgreSQL gather, sort and check every pending row on each claim: 13.4 s at 107,000
        pending, against 32 ms once analyzed."""
        if _dialect(self.session) != "postgresql":
            return False
        await self.session.execute(text("ANALYZE outbox"))
        return True

    async def mark_sent(self, outbox_id: int, now: datetime, provider_id: str | None = None) -> None:
        await self.mark_sent_many([(outbox_id, provider_id)], now)

    async def mark_sent_many(self, sent: Sequence[tuple[int, str | None]], now: datetime) -> None:
        """Marks many sends at once (the outbox worker commits them in groups); one executemany."""
        await self.session.execute(
            update(OutboxRow),
            [
                {"id": outbox_id, "status": OutboxStatus.SENT, "sent_at": now, "locked_until": None,
                 "provider_id": provider_id, "last_error": None}
                for outbox_id, provider_id in sent
            ],
        )  # fmt: skip

    async def mark_retry(self, outbox_id: int, error: str, next_attempt_at: datetime) -> None:
        await self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == outbox_id)
            .values(
                status=OutboxStatus.PENDING,
                next_attempt_at=next_attempt_at,
                locked_until=None,
                last_error=error[:200],
            )
        )

    async def release(self, ids: Sequence[int]) -> None:
        """Hand claimed rows back unsent, as if never claimed: due at once, and the claim is not counted
        as an attempt (nothing was tried)."""
        if ids:
            await self.session.execute(
                update(OutboxRow)
                .where(_among_ids(self.session, OutboxRow.id, ids), OutboxRow.status == OutboxStatus.SENDING)
                .values(status=OutboxStatus.PENDING, locked_until=None, attempts=OutboxRow.attempts - 1)
            )

    async def cancel_pending(self, pseudonym: str, reason: str) -> None:
        await self.session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.pseudonym == pseudonym,
                OutboxRow.status.in_((OutboxStatus.PENDING, OutboxStatus.HELD)),
            )
            .values(status=OutboxStatus.FAILED, last_error=reason)
        )

    async def hold(self, outbox_id: int) -> None:
        """Keep a reply unsent (the channel's window closed); staff see it as held."""
        await self.session.execute(
            update(OutboxRow).where(OutboxRow.id == outbox_id).values(status=OutboxStatus.HELD)
        )

    async def mark_failed(self, outbox_id: int, error: str) -> None:
        await self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == outbox_id)
            .values(status=OutboxStatus.FAILED, locked_until=None, last_error=error[:200])
        )

    async def delivered_to(self, pseudonym: str, after_id: int, limit: int = 50) -> Sequence[OutboxRow]:
        """Replies for a pull channel (the web chat), oldest first."""
        stmt = (
            select(OutboxRow)
            .where(OutboxRow.pseudonym == pseudonym, OutboxRow.id > after_id)
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def mark_pulled(self, ids: Sequence[int], now: datetime) -> None:
        if ids:
            await self.session.execute(
                update(OutboxRow)
                .where(_among_ids(self.session, OutboxRow.id, ids), OutboxRow.status != OutboxStatus.SENT)
                .values(status=OutboxStatus.SENT, sent_at=now, attempts=OutboxRow.attempts + 1)
            )

    async def sent_refs(self, pseudonym: str, since: datetime) -> list[str]:
        stmt = select(OutboxRow.provider_id).where(
            OutboxRow.pseudonym == pseudonym,
            OutboxRow.status == OutboxStatus.SENT,
            OutboxRow.sent_at >= since,
            OutboxRow.provider_id.is_not(None),
        )
        return [str(ref) for ref in (await self.session.execute(stmt)).scalars().all()]

    async def forget_pseudonym(self, pseudonym: str) -> int:
        """Erase every reply to this person that is stored, sent or not (the delete keyword)."""
        result = await self.session.execute(delete(OutboxRow).where(OutboxRow.pseudonym == pseudonym))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def forget_finished_before(self, cutoff: datetime) -> int:
        """Replies sent or given up on before `cutoff` (the retention purge)."""
        result = await self.session.execute(
            delete(OutboxRow).where(
                OutboxRow.status.in_((OutboxStatus.SENT, OutboxStatus.FAILED)), OutboxRow.created_at < cutoff
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def backlog(self) -> int:
        stmt = (
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)))
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def by_provider_id(self, provider_id: str) -> OutboxRow | None:
        """The sent reply the channel knows by this id (a delivery report names it); None once erased."""
        stmt = select(OutboxRow).where(OutboxRow.provider_id == provider_id).order_by(OutboxRow.id).limit(1)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def set_last_error(self, outbox_id: int, error: str) -> None:
        """Note why a sent reply did not arrive (a delivery report); the status stays as it is."""
        await self.session.execute(
            update(OutboxRow).where(OutboxRow.id == outbox_id).values(last_error=error[:200])
        )


class Stats:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, key: str | None, **fields: Any) -> str:
        """Write or correct one anonymous record; returns its key."""
        if "topics" in fields:
            fields["topic_bits"] = topic_bits(fields["topics"])
        row = await self.session.get(StatRecordRow, key) if key else None
        if row is None:
            row = StatRecordRow(**fields)
            self.session.add(row)
        else:
            for name, value in fields.items():
                setattr(row, name, value)
        await self.session.flush()
        return row.key

    async def add_many(self, records: Sequence[dict[str, Any]]) -> None:
        """New anonymous records in one executemany (a registration, an import of earlier years)."""
        rows = [{**record, "topic_bits": topic_bits(record["topics"])} for record in records]
        for start in range(0, len(rows), 5000):
            self.session.add_all(StatRecordRow(**row) for row in rows[start : start + 5000])
            await self.session.flush()

    async def all(self) -> Sequence[StatRecordRow]:
        return (await self.session.execute(select(StatRecordRow))).scalars().all()


class StaffAccess:
    """What sign-in leaves behind: sessions and failed attempts, both useless once stale."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def forget_stale_sessions(self, now: datetime, idle_since: datetime) -> int:
        """Sessions past their absolute time-out, or idle since `idle_since`: they can never be used again."""
        result = await self.session.execute(
            delete(StaffSessionRow).where(
                or_(StaffSessionRow.expires_at <= now, StaffSessionRow.last_seen_at < idle_since)
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def forget_attempts_before(self, cutoff: datetime) -> int:
        result = await self.session.execute(delete(LoginAttemptRow).where(LoginAttemptRow.at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
