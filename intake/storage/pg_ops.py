"""The inbound unit's operations (ops.py) as plain SQL on a PostgreSQL writer lane's asyncpg connection.

Values are bound as SQLAlchemy's asyncpg dialect binds them, so the ORM reads these rows as its own
(checked by tests/integration/test_inbound_unit.py on PostgreSQL): aware datetimes into timestamptz
(`UtcDateTime`), booleans as booleans, a JSON column as `json.dumps` text (the `json` type keeps the text
as given), a sealed payload as a JSON string holding its token (what `SealedJSON` writes). Statement texts
are fixed where the ORM's vary with a list's length (`= ANY($n)` for IN lists), so asyncpg's per-connection
cache prepares each once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
from asyncpg import Connection

from intake.categories import topic_bits
from intake.messages import OPEN_STATUSES, ConversationStatus, Delivery, Direction, OutboxStatus
from intake.storage.ops import (
    AnyoneStaffed,
    ApplyReport,
    Arrival,
    Arrive,
    CancelPending,
    ClaimDue,
    Contact,
    Conversation,
    ConversationsOf,
    DeleteConversation,
    FirstTime,
    ForgetOutbox,
    InboundSince,
    InsertMessages,
    InsertOutbox,
    InsertReplies,
    MarkFlood,
    MarkPulled,
    MarkSent,
    MessageRefsSince,
    NewMessage,
    NewOutbox,
    Op,
    OpenConversation,
    OpenedSince,
    OpenWithRecent,
    PutStat,
    SaveConversation,
    SentRefs,
    TouchContact,
    Unit,
    UpdateContact,
    WaitingAhead,
)
from intake.storage.repositories import OUTBOX_CLAIM_LOCK
from intake.storage.sqlite_ops import (
    CONVERSATION_COLUMNS,
    DELIVERY_RANK,
    STAT_DEFAULTS,
    StaleConversation,
)

R = TypeVar("R")


async def run(conn: Connection, unit: Unit[R]) -> R:
    """Drive a unit to its end on this connection (inside the lane's batch and the job's savepoint)."""
    try:
        op = next(unit)
        while True:
            op = unit.send(await execute(conn, op))
    except StopIteration as done:
        result: R = done.value
        return result


def execute(conn: Connection, op: Op[Any]) -> Awaitable[Any]:
    return _RUNNERS[type(op)](conn, op)


_OPEN = [str(status) for status in OPEN_STATUSES]


def _conversation(row: asyncpg.Record) -> Conversation:
    # timestamptz comes back aware in UTC, as UtcDateTime hands it to the ORM; json as its text.
    return Conversation(
        id=row[0],
        contact_id=row[1],
        channel=row[2],
        language=row[3],
        state=json.loads(row[4]),
        status=row[5],
        created_at=row[6],
        updated_at=row[7],
        danger=row[8],
        under18=row[9],
        outside_hours=row[10],
        queued_at=row[11],
        claimed_by=row[12],
        last_inbound_at=row[13],
        closed_at=row[14],
        stat_key=row[15],
        version=row[16],
        source=row[17],
        flood=row[18],
    )


async def _first_time(conn: Connection, op: FirstTime) -> bool:
    found = await conn.fetchval(
        "INSERT INTO inbound_seen (channel, provider_key, seen_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (channel, provider_key) DO NOTHING RETURNING id",
        op.channel,
        op.provider_key,
        op.now,
    )
    return found is not None


async def _touch_contact(conn: Connection, op: TouchContact) -> Contact:
    # The upsert locks the contact's row until the batch commits: one person's messages queue behind
    # each other (as Contacts.touch), and the lanes are chosen by pseudonym so no two lanes ever wait on
    # each other's contacts.
    row = await conn.fetchrow(
        "INSERT INTO contacts (pseudonym, channel, address_enc, created_at, last_seen_at, hostile, "
        "opted_out, block_notified) VALUES ($1, $2, $3, $4, $4, false, false, false) "
        "ON CONFLICT (pseudonym) DO UPDATE SET last_seen_at = excluded.last_seen_at, "
        "address_enc = excluded.address_enc, opted_out = false "
        "RETURNING id, pseudonym, channel, address_enc, blocked_until, opted_out, block_notified",
        op.pseudonym,
        op.channel,
        op.address_enc,
        op.now,
    )
    assert row is not None
    return Contact(row[0], row[1], row[2], bytes(row[3]), row[4], row[5], row[6])


async def _update_contact(conn: Connection, op: UpdateContact) -> None:
    names = ", ".join(f"{name} = ${n}" for n, name in enumerate(op.values, start=2))
    await conn.execute(f"UPDATE contacts SET {names} WHERE id = $1", op.contact_id, *op.values.values())  # noqa: S608 - our own column names


async def _open_conversation(conn: Connection, op: OpenConversation) -> Conversation | None:
    row = await conn.fetchrow(
        f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE contact_id = $1 "  # noqa: S608 - constant
        "AND status = ANY($2::varchar[]) ORDER BY created_at DESC LIMIT 1",
        op.contact_id,
        _OPEN,
    )
    return None if row is None else _conversation(row)


async def _conversations_of(conn: Connection, op: ConversationsOf) -> list[Conversation]:
    rows = await conn.fetch(
        f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE contact_id = $1 ORDER BY created_at",  # noqa: S608 - constant
        op.contact_id,
    )
    return [_conversation(row) for row in rows]


async def _inbound_since(conn: Connection, op: InboundSince) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM messages WHERE conversation_id = $1 AND direction = $2 "
            "AND created_at >= $3",
            op.conversation_id,
            str(Direction.IN),
            op.since,
        )
    )


async def _opened_since(conn: Connection, op: OpenedSince) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM conversations WHERE source = $1 AND created_at > $2", op.source, op.since
        )
    )


async def _mark_flood(conn: Connection, op: MarkFlood) -> None:
    # As floods.Floods.mark: the open conversations staff have not taken.
    await conn.execute(
        "UPDATE conversations SET flood = true WHERE source = $1 AND NOT flood AND status IN ($2, $3)",
        op.source,
        str(ConversationStatus.INTAKE),
        str(ConversationStatus.QUEUED),
    )


async def _anyone_staffed(conn: Connection, op: AnyoneStaffed) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM staff_sessions JOIN staff ON staff.id = staff_sessions.staff_id "
        "WHERE NOT staff.disabled AND staff_sessions.expires_at > $1 AND staff_sessions.last_seen_at > $2 "
        "LIMIT 1",
        op.now,
        op.active_since,
    )
    return found is not None


async def _waiting_ahead(conn: Connection, op: WaitingAhead) -> int:
    # As repositories.Conversations.waiting_ahead (and sqlite_ops): at the same or a higher level, and a
    # flood's conversations after everyone else's.
    level = "(danger OR (danger = $2 AND under18))" if op.under18 else "(danger OR danger = $2)"
    if op.danger:
        level = "(danger = $2 AND under18)" if op.under18 else "(danger = $2)"
    ahead = f"(NOT flood OR {level})" if op.flood else f"(NOT flood AND {level})"
    return int(
        await conn.fetchval(
            f"SELECT count(*) FROM conversations WHERE status = $1 AND {ahead}",  # noqa: S608 - our own text
            str(ConversationStatus.QUEUED),
            op.danger,
        )
    )


async def _save_conversation(conn: Connection, op: SaveConversation) -> None:
    c = op.conversation
    values = (
        c.contact_id,
        c.channel,
        c.language,
        json.dumps(c.state),
        c.status,
        c.created_at,
        c.updated_at,
        c.danger,
        c.under18,
        c.outside_hours,
        c.queued_at,
        c.claimed_by,
        c.last_inbound_at,
        c.closed_at,
        c.stat_key,
        c.source,
        c.flood,
        c.id,
        c.version,
    )
    if op.new:
        await conn.execute(
            "INSERT INTO conversations (contact_id, channel, language, state, status, created_at, "
            "updated_at, danger, under18, outside_hours, queued_at, claimed_by, last_inbound_at, closed_at, "
            "stat_key, source, flood, id, version) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
            *values,
        )
        return
    # The ORM's version check: a staff member's change in between (another connection, on PostgreSQL
    # not excluded by any lock) must not be overwritten unseen.
    status = await conn.execute(
        "UPDATE conversations SET contact_id = $1, channel = $2, language = $3, state = $4, status = $5, "
        "created_at = $6, updated_at = $7, danger = $8, under18 = $9, outside_hours = $10, queued_at = $11, "
        "claimed_by = $12, last_inbound_at = $13, closed_at = $14, stat_key = $15, source = $16, "
        "flood = $17, version = version + 1 WHERE id = $18 AND version = $19",
        *values,
    )
    if status != "UPDATE 1":
        raise StaleConversation(c.id)
    c.version += 1


async def _insert_messages(conn: Connection, op: InsertMessages) -> None:
    # One statement per row, in order (the transcript is ordered by id); asyncpg sends them pipelined.
    await conn.executemany(
        "INSERT INTO messages (conversation_id, direction, sender, text, attachments, created_at, outbox_id, "
        "provider_ref, delivery) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [
            (
                m.conversation_id,
                m.direction,
                m.sender,
                m.text_enc,
                m.attachments,
                m.created_at,
                m.outbox_id,
                m.provider_ref,
                m.delivery,
            )
            for m in op.messages
        ],
    )


async def _insert_outbox(conn: Connection, op: InsertOutbox) -> list[int]:
    if not op.rows:
        return []
    params: list[Any] = []
    rows = []
    for r in op.rows:
        n = len(params)
        rows.append(f"(${n + 1}, ${n + 2}, ${n + 3}, ${n + 4}, ${n + 5}, ${n + 6}, 0, ${n + 7}, ${n + 8})")
        params += [
            r.conversation_id,
            r.channel,
            r.pseudonym,
            r.address_enc,
            json.dumps(r.payload_enc),
            r.status,
            r.next_attempt_at,
            r.created_at,
        ]
    found = await conn.fetch(
        "INSERT INTO outbox (conversation_id, channel, pseudonym, address_enc, payload, status, "  # noqa: S608 - placeholders only
        f"attempts, next_attempt_at, created_at) VALUES {', '.join(rows)} RETURNING id",
        *params,
    )
    # One INSERT draws its ids in the order of its VALUES (see repositories.Outbox.add_all).
    return sorted(int(row[0]) for row in found)


_MESSAGE_COLUMNS = (
    "conversation_id, direction, sender, text, attachments, created_at, outbox_id, provider_ref, delivery"
)


async def _insert_replies(conn: Connection, op: InsertReplies) -> None:
    """One statement: the outbox rows (ids drawn in the order of their VALUES, as `_insert_outbox`
    relies on), then every message in order, the i-th reply's pointing at the i-th new outbox id."""
    if not op.outbox:
        await _insert_messages(conn, InsertMessages([*op.before, *op.replies]))
        return
    params: list[Any] = []

    def row(*values: Any) -> str:
        """A VALUES row of placeholders; a value that is a `_Sql` goes in as its text."""
        slots = []
        for value in values:
            if isinstance(value, _Sql):
                slots.append(value.text)
            else:
                params.append(value)
                slots.append(f"${len(params)}")
        return f"({', '.join(slots)})"

    outbox = [row(*_outbox_values(r)) for r in op.outbox]
    pointers = [_Sql(f"(SELECT id FROM ob ORDER BY id OFFSET {k} LIMIT 1)") for k in range(len(op.replies))]  # noqa: S608 - our own integers
    before: list[tuple[NewMessage, Any]] = [(m, m.outbox_id) for m in op.before]
    messages = [
        row(*_message_values(m, outbox_id))
        for m, outbox_id in [*before, *zip(op.replies, pointers, strict=True)]
    ]
    await conn.execute(
        "WITH ob AS (INSERT INTO outbox (conversation_id, channel, pseudonym, address_enc, payload, status, "  # noqa: S608 - placeholders and our own integers
        f"attempts, next_attempt_at, created_at) VALUES {', '.join(outbox)} RETURNING id) "
        f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES {', '.join(messages)}",
        *params,
    )


def _outbox_values(r: NewOutbox) -> list[Any]:
    payload = json.dumps(r.payload_enc)
    zero = _Sql("0")  # attempts
    head = [r.conversation_id, r.channel, r.pseudonym, r.address_enc, payload, r.status]
    return [*head, zero, r.next_attempt_at, r.created_at]


def _message_values(m: NewMessage, outbox_id: Any) -> list[Any]:
    head = [m.conversation_id, m.direction, m.sender, m.text_enc, m.attachments, m.created_at]
    return [*head, outbox_id, m.provider_ref, m.delivery]


@dataclass(frozen=True)
class _Sql:
    """SQL text of our own in a VALUES row, where a placeholder would otherwise go."""

    text: str


async def _cancel_pending(conn: Connection, op: CancelPending) -> None:
    await conn.execute(
        "UPDATE outbox SET status = $1, last_error = $2 WHERE pseudonym = $3 AND status IN ($4, $5)",
        str(OutboxStatus.FAILED),
        op.reason,
        op.pseudonym,
        str(OutboxStatus.PENDING),
        str(OutboxStatus.HELD),
    )


def _stat_value(value: Any) -> Any:
    # A list is the JSON column `topics`; booleans stay booleans on PostgreSQL.
    return json.dumps(value) if isinstance(value, list) else value


async def _put_stat(conn: Connection, op: PutStat) -> str:
    fields = dict(op.fields)
    if "topics" in fields:
        fields["topic_bits"] = topic_bits(fields["topics"])
    if op.key is not None:
        names = ", ".join(f"{name} = ${n}" for n, name in enumerate(fields, start=2))
        status = await conn.execute(
            f"UPDATE stat_records SET {names} WHERE key = $1",  # noqa: S608 - our own column names
            op.key,
            *(_stat_value(v) for v in fields.values()),
        )
        if status == "UPDATE 1":
            return op.key
    key = str(uuid.uuid4())
    row = {**STAT_DEFAULTS, **fields, "key": key}
    places = ", ".join(f"${n}" for n in range(1, len(row) + 1))
    await conn.execute(
        f"INSERT INTO stat_records ({', '.join(row)}) VALUES ({places})",  # noqa: S608 - our own column names
        *(_stat_value(v) for v in row.values()),
    )
    return key


async def _message_refs_since(conn: Connection, op: MessageRefsSince) -> list[str]:
    rows = await conn.fetch(
        "SELECT provider_ref FROM messages WHERE conversation_id = $1 AND provider_ref IS NOT NULL "
        "AND provider_ref != '' AND created_at >= $2 ORDER BY id",
        op.conversation_id,
        op.since,
    )
    return [str(row[0]) for row in rows]


async def _delete_conversation(conn: Connection, op: DeleteConversation) -> None:
    await conn.execute("DELETE FROM conversations WHERE id = $1", op.conversation_id)


async def _sent_refs(conn: Connection, op: SentRefs) -> list[str]:
    rows = await conn.fetch(
        "SELECT provider_id FROM outbox WHERE pseudonym = $1 AND status = $2 AND sent_at >= $3 "
        "AND provider_id IS NOT NULL",
        op.pseudonym,
        str(OutboxStatus.SENT),
        op.since,
    )
    return [str(row[0]) for row in rows]


async def _forget_outbox(conn: Connection, op: ForgetOutbox) -> None:
    await conn.execute("DELETE FROM outbox WHERE pseudonym = $1", op.pseudonym)


_OUTBOX_COLUMNS = (
    "id, conversation_id, channel, pseudonym, address_enc, payload, status, attempts, next_attempt_at, "
    "locked_until, created_at, sent_at, provider_id, last_error"
)
# As sqlite_ops and repositories.Outbox.claim_due: a row waits while an earlier one to the same person is
# open and not due; the status literals match the partial index's condition; SKIP LOCKED as the ORM's.
_OVERTAKES = (
    "EXISTS (SELECT e.id FROM outbox AS e WHERE e.status IN ('pending', 'sending') "
    "AND e.pseudonym = o.pseudonym AND e.id < o.id AND ((e.status = 'pending' AND e.next_attempt_at > $1) "
    "OR (e.status = 'sending' AND e.locked_until >= $1)))"
)
_DUE = tuple(
    f"SELECT o.id FROM outbox AS o WHERE {due} AND o.channel = ANY($2::varchar[]) "  # noqa: S608 - constant
    f"AND NOT {_OVERTAKES} ORDER BY o.id LIMIT $3 FOR UPDATE OF o SKIP LOCKED"
    for due in (
        "o.status = 'pending' AND o.next_attempt_at <= $1",
        "o.status = 'sending' AND o.locked_until < $1",
    )
)


async def _claim_due(conn: Connection, op: ClaimDue) -> list[tuple[Any, ...]]:
    # Copies claim one after another (see Outbox.claim_due: otherwise two copies could send one person's
    # replies in either order); the lock is the batch's transaction's.
    await conn.execute("SELECT pg_advisory_xact_lock($1)", OUTBOX_CLAIM_LOCK)
    ids: list[int] = []
    for due in _DUE:
        ids.extend(row[0] for row in await conn.fetch(due, op.now, list(op.channels), op.limit))
    ids = sorted(ids)[: op.limit]
    if not ids:
        return []
    rows = await conn.fetch(
        "UPDATE outbox SET status = 'sending', locked_until = $1, attempts = attempts + 1 "  # noqa: S608 - constant
        f"WHERE id = ANY($2::bigint[]) RETURNING {_OUTBOX_COLUMNS}",
        op.until,
        ids,
    )
    return sorted((tuple(row) for row in rows), key=lambda row: int(row[0]))


async def _mark_sent(conn: Connection, op: MarkSent) -> None:
    await conn.executemany(
        "UPDATE outbox SET status = $1, sent_at = $2, locked_until = NULL, provider_id = $3, "
        "last_error = NULL WHERE id = $4",
        [(str(OutboxStatus.SENT), op.now, provider_id, outbox_id) for outbox_id, provider_id in op.sent],
    )
    await _advance_delivery(conn, [outbox_id for outbox_id, _ in op.sent], Delivery.SENT)


_ADVANCE = (
    f"UPDATE messages SET delivery = $1 WHERE outbox_id = ANY($2::bigint[]) "  # noqa: S608 - our own text
    f"AND (CASE delivery {DELIVERY_RANK} ELSE -1 END) <= $3"
)


async def _advance_delivery(conn: Connection, ids: Sequence[int], state: Delivery) -> int:
    """As Messages.advance_delivery: unless the reply's message already got further."""
    status = await conn.execute(_ADVANCE, state.value, list(ids), state.rank)
    return int(status.rsplit(" ", 1)[-1])


async def _mark_pulled(conn: Connection, op: MarkPulled) -> None:
    await conn.execute(
        "UPDATE outbox SET status = $1, sent_at = $2, attempts = attempts + 1 "
        "WHERE id = ANY($3::bigint[]) AND status != $1",
        str(OutboxStatus.SENT),
        op.now,
        list(op.ids),
    )
    await _advance_delivery(conn, op.ids, Delivery.SENT)


async def _apply_report(conn: Connection, op: ApplyReport) -> str | None:
    found = await conn.fetchrow(
        "SELECT id, channel FROM outbox WHERE provider_id = $1 ORDER BY id LIMIT 1", op.provider_id
    )
    if found is None:
        return None
    if await _advance_delivery(conn, [found[0]], op.state) and op.error is not None:
        await conn.execute("UPDATE outbox SET last_error = $1 WHERE id = $2", op.error[:200], found[0])
    return str(found[1])


# FirstTime, AnyoneStaffed and TouchContact in one round trip: the contact's upsert runs only when the
# message id was new (a redelivery returns no row), and the staffed check is true when not asked ($8 NULL).
_ARRIVE = (
    "WITH seen AS (INSERT INTO inbound_seen (channel, provider_key, seen_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (channel, provider_key) DO NOTHING RETURNING id), "
    "contact AS (INSERT INTO contacts (pseudonym, channel, address_enc, created_at, last_seen_at, hostile, "
    "opted_out, block_notified) SELECT $4, $5, $6, $7, $7, false, false, false "
    "WHERE EXISTS (SELECT FROM seen) "
    "ON CONFLICT (pseudonym) DO UPDATE SET last_seen_at = excluded.last_seen_at, "
    "address_enc = excluded.address_enc, opted_out = false "
    "RETURNING id, pseudonym, channel, address_enc, blocked_until, opted_out, block_notified) "
    "SELECT c.id, c.pseudonym, c.channel, c.address_enc, c.blocked_until, c.opted_out, c.block_notified, "
    "$8::timestamptz IS NULL OR EXISTS (SELECT FROM staff_sessions "
    "JOIN staff ON staff.id = staff_sessions.staff_id "
    "WHERE NOT staff.disabled AND staff_sessions.expires_at > $9::timestamptz "
    "AND staff_sessions.last_seen_at > $8::timestamptz) FROM contact AS c"
)


async def _arrive(conn: Connection, op: Arrive) -> Arrival | None:
    first, contact, staffed = op.first, op.contact, op.staffed
    row = await conn.fetchrow(
        _ARRIVE,
        first.channel,
        first.provider_key,
        first.now,
        contact.pseudonym,
        contact.channel,
        contact.address_enc,
        contact.now,
        None if staffed is None else staffed.active_since,
        None if staffed is None else staffed.now,
    )
    if row is None:
        return None
    return Arrival(Contact(row[0], row[1], row[2], bytes(row[3]), row[4], row[5], row[6]), row[7])


# The open conversation and its inbound messages since: its own statement, after the contact's upsert
# holds the contact's lock, so its snapshot includes what the person's previous message committed.
_OPEN_WITH_RECENT = (
    f"SELECT {CONVERSATION_COLUMNS}, (SELECT count(*) FROM messages AS m WHERE m.conversation_id = c.id "  # noqa: S608 - constant
    "AND m.direction = $3 AND m.created_at >= $4) FROM conversations AS c WHERE c.contact_id = $1 "
    "AND c.status = ANY($2::varchar[]) ORDER BY c.created_at DESC LIMIT 1"
)


async def _open_with_recent(conn: Connection, op: OpenWithRecent) -> tuple[Conversation | None, int]:
    row = await conn.fetchrow(_OPEN_WITH_RECENT, op.contact_id, _OPEN, str(Direction.IN), op.since)
    return (None, 0) if row is None else (_conversation(row), int(row[-1]))


_RUNNERS: dict[type[Any], Callable[[Connection, Any], Awaitable[Any]]] = {
    ClaimDue: _claim_due,
    MarkSent: _mark_sent,
    MarkPulled: _mark_pulled,
    ApplyReport: _apply_report,
    Arrive: _arrive,
    OpenWithRecent: _open_with_recent,
    FirstTime: _first_time,
    TouchContact: _touch_contact,
    UpdateContact: _update_contact,
    OpenConversation: _open_conversation,
    ConversationsOf: _conversations_of,
    InboundSince: _inbound_since,
    OpenedSince: _opened_since,
    MarkFlood: _mark_flood,
    AnyoneStaffed: _anyone_staffed,
    WaitingAhead: _waiting_ahead,
    SaveConversation: _save_conversation,
    InsertMessages: _insert_messages,
    InsertOutbox: _insert_outbox,
    InsertReplies: _insert_replies,
    CancelPending: _cancel_pending,
    PutStat: _put_stat,
    MessageRefsSince: _message_refs_since,
    DeleteConversation: _delete_conversation,
    SentRefs: _sent_refs,
    ForgetOutbox: _forget_outbox,
}
