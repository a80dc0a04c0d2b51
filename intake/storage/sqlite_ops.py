"""The inbound unit's operations (ops.py) as plain SQL on the writer's `sqlite3` connection.

Values are stored exactly as SQLAlchemy stores them on SQLite, so the ORM reads these rows as its own
(checked by tests/integration/test_inbound_unit.py): datetimes as UTC text with microseconds
(`UtcDateTime` over SQLite's DATETIME), booleans as 0/1, JSON through `json.dumps`, a sealed payload as
a JSON string holding its token.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from intake.categories import topic_bits
from intake.messages import OPEN_STATUSES, ConversationStatus, Delivery, Direction, OutboxStatus
from intake.storage.models import OutboxRow
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
from intake.storage.sealed import Cipher, open_json

R = TypeVar("R")


def stored_time(value: datetime | None) -> str | None:
    """As SQLAlchemy's SQLite DATETIME stores an aware datetime after UtcDateTime: UTC, no offset."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime stored")
    utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat(" ", "microseconds")


def read_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def run(conn: sqlite3.Connection, unit: Unit[R]) -> R:
    """Drive a unit to its end on this connection (inside the writer's batch and the job's savepoint)."""
    try:
        op = next(unit)
        while True:
            op = unit.send(execute(conn, op))
    except StopIteration as done:
        result: R = done.value
        return result


def execute(conn: sqlite3.Connection, op: Op[Any]) -> Any:
    return _RUNNERS[type(op)](conn, op)


_OPEN = tuple(str(status) for status in OPEN_STATUSES)
CONVERSATION_COLUMNS = (
    "id, contact_id, channel, language, state, status, created_at, updated_at, danger, under18, "
    "outside_hours, queued_at, claimed_by, last_inbound_at, closed_at, stat_key, version, source, flood"
)


def _conversation(row: tuple[Any, ...]) -> Conversation:
    return Conversation(
        id=row[0],
        contact_id=row[1],
        channel=row[2],
        language=row[3],
        state=json.loads(row[4]),
        status=row[5],
        created_at=_aware(row[6]),
        updated_at=_aware(row[7]),
        danger=bool(row[8]),
        under18=bool(row[9]),
        outside_hours=bool(row[10]),
        queued_at=read_time(row[11]),
        claimed_by=row[12],
        last_inbound_at=read_time(row[13]),
        closed_at=read_time(row[14]),
        stat_key=row[15],
        version=row[16],
        source=row[17],
        flood=bool(row[18]),
    )


def _aware(value: str) -> datetime:
    found = read_time(value)
    assert found is not None
    return found


def _first_time(conn: sqlite3.Connection, op: FirstTime) -> bool:
    row = conn.execute(
        "INSERT INTO inbound_seen (channel, provider_key, seen_at) VALUES (?, ?, ?) "
        "ON CONFLICT (channel, provider_key) DO NOTHING RETURNING id",
        (op.channel, op.provider_key, stored_time(op.now)),
    ).fetchone()
    return row is not None


def _touch_contact(conn: sqlite3.Connection, op: TouchContact) -> Contact:
    now = stored_time(op.now)
    row = conn.execute(
        "INSERT INTO contacts (pseudonym, channel, address_enc, created_at, last_seen_at, hostile, "
        "opted_out, block_notified) VALUES (?, ?, ?, ?, ?, 0, 0, 0) ON CONFLICT (pseudonym) DO UPDATE SET "
        "last_seen_at = excluded.last_seen_at, address_enc = excluded.address_enc, opted_out = 0 "
        "RETURNING id, pseudonym, channel, address_enc, blocked_until, opted_out, block_notified",
        (op.pseudonym, op.channel, op.address_enc, now, now),
    ).fetchone()
    return Contact(row[0], row[1], row[2], bytes(row[3]), read_time(row[4]), bool(row[5]), bool(row[6]))


def _update_contact(conn: sqlite3.Connection, op: UpdateContact) -> None:
    names = ", ".join(f"{name} = ?" for name in op.values)
    conn.execute(f"UPDATE contacts SET {names} WHERE id = ?", (*op.values.values(), op.contact_id))  # noqa: S608 - our own column names


def _open_conversation(conn: sqlite3.Connection, op: OpenConversation) -> Conversation | None:
    row = conn.execute(
        f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE contact_id = ? AND status IN (?, ?, ?) "  # noqa: S608 - constant
        "ORDER BY created_at DESC LIMIT 1",
        (op.contact_id, *_OPEN),
    ).fetchone()
    return None if row is None else _conversation(row)


def _conversations_of(conn: sqlite3.Connection, op: ConversationsOf) -> list[Conversation]:
    rows = conn.execute(
        f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE contact_id = ? ORDER BY created_at",  # noqa: S608 - constant
        (op.contact_id,),
    ).fetchall()
    return [_conversation(row) for row in rows]


def _inbound_since(conn: sqlite3.Connection, op: InboundSince) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM messages WHERE conversation_id = ? AND direction = ? AND created_at >= ?",
            (op.conversation_id, str(Direction.IN), stored_time(op.since)),
        ).fetchone()[0]
    )


def _opened_since(conn: sqlite3.Connection, op: OpenedSince) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM conversations WHERE source = ? AND created_at > ?",
            (op.source, stored_time(op.since)),
        ).fetchone()[0]
    )


def _mark_flood(conn: sqlite3.Connection, op: MarkFlood) -> None:
    # As floods.Floods.mark: the open conversations staff have not taken.
    conn.execute(
        "UPDATE conversations SET flood = 1 WHERE source = ? AND flood = 0 AND status IN (?, ?)",
        (op.source, str(ConversationStatus.INTAKE), str(ConversationStatus.QUEUED)),
    )


def _anyone_staffed(conn: sqlite3.Connection, op: AnyoneStaffed) -> bool:
    row = conn.execute(
        "SELECT 1 FROM staff_sessions JOIN staff ON staff.id = staff_sessions.staff_id "
        "WHERE staff.disabled = 0 AND staff_sessions.expires_at > ? AND staff_sessions.last_seen_at > ? "
        "LIMIT 1",
        (stored_time(op.now), stored_time(op.active_since)),
    ).fetchone()
    return row is not None


def _waiting_ahead(conn: sqlite3.Connection, op: WaitingAhead) -> int:
    # As repositories.Conversations.waiting_ahead: at the same or a higher level, and a flood's
    # conversations after everyone else's.
    level = "(danger = 1 OR (danger = ? AND under18 = 1))" if op.under18 else "(danger = 1 OR danger = ?)"
    if op.danger:
        level = "(danger = ? AND under18 = 1)" if op.under18 else "(danger = ?)"
    ahead = f"(flood = 0 OR {level})" if op.flood else f"(flood = 0 AND {level})"
    return int(
        conn.execute(
            f"SELECT count(*) FROM conversations WHERE status = ? AND {ahead}",  # noqa: S608 - our own text
            (str(ConversationStatus.QUEUED), int(op.danger)),
        ).fetchone()[0]
    )


def _save_conversation(conn: sqlite3.Connection, op: SaveConversation) -> None:
    c = op.conversation
    values = (
        c.contact_id,
        c.channel,
        c.language,
        json.dumps(c.state),
        c.status,
        stored_time(c.created_at),
        stored_time(c.updated_at),
        int(c.danger),
        int(c.under18),
        int(c.outside_hours),
        stored_time(c.queued_at),
        c.claimed_by,
        stored_time(c.last_inbound_at),
        stored_time(c.closed_at),
        c.stat_key,
        c.source,
        int(c.flood),
    )
    if op.new:
        conn.execute(
            "INSERT INTO conversations (contact_id, channel, language, state, status, created_at, "
            "updated_at, danger, under18, outside_hours, queued_at, claimed_by, last_inbound_at, closed_at, "
            "stat_key, source, flood, id, version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*values, c.id, c.version),
        )
        return
    # The ORM's version check: a staff member's change in between must not be overwritten unseen.
    updated = conn.execute(
        "UPDATE conversations SET contact_id = ?, channel = ?, language = ?, state = ?, status = ?, "
        "created_at = ?, updated_at = ?, danger = ?, under18 = ?, outside_hours = ?, queued_at = ?, "
        "claimed_by = ?, last_inbound_at = ?, closed_at = ?, stat_key = ?, source = ?, flood = ?, "
        "version = version + 1 WHERE id = ? AND version = ?",
        (*values, c.id, c.version),
    )
    if updated.rowcount != 1:
        raise StaleConversation(c.id)
    c.version += 1


class StaleConversation(Exception):
    """The conversation changed since the unit read it (on SQLite it cannot, under the batch's write lock;
    on PostgreSQL the writer runs the unit again)."""


def _insert_messages(conn: sqlite3.Connection, op: InsertMessages) -> None:
    conn.executemany(
        "INSERT INTO messages (conversation_id, direction, sender, text, attachments, created_at, outbox_id, "
        "provider_ref, delivery) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                m.conversation_id,
                m.direction,
                m.sender,
                m.text_enc,
                m.attachments,
                stored_time(m.created_at),
                m.outbox_id,
                m.provider_ref,
                m.delivery,
            )
            for m in op.messages
        ],
    )


def _insert_outbox(conn: sqlite3.Connection, op: InsertOutbox) -> list[int]:
    if not op.rows:
        return []
    one = "(?, ?, ?, ?, ?, ?, 0, ?, ?)"
    params: list[Any] = []
    for r in op.rows:
        params += [
            r.conversation_id,
            r.channel,
            r.pseudonym,
            r.address_enc,
            json.dumps(r.payload_enc),
            r.status,
            stored_time(r.next_attempt_at),
            stored_time(r.created_at),
        ]
    rows = conn.execute(
        "INSERT INTO outbox (conversation_id, channel, pseudonym, address_enc, payload, status, "  # noqa: S608 - placeholders only
        f"attempts, next_attempt_at, created_at) VALUES {', '.join([one] * len(op.rows))} RETURNING id",
        params,
    ).fetchall()
    # One INSERT draws its ids in the order of its VALUES (see repositories.Outbox.add_all).
    return sorted(int(row[0]) for row in rows)


def _insert_replies(conn: sqlite3.Connection, op: InsertReplies) -> None:
    ids = _insert_outbox(conn, InsertOutbox(op.outbox))
    replies = [replace(m, outbox_id=i) for m, i in zip(op.replies, ids, strict=True)]
    _insert_messages(conn, InsertMessages([*op.before, *replies]))


def _cancel_pending(conn: sqlite3.Connection, op: CancelPending) -> None:
    conn.execute(
        "UPDATE outbox SET status = ?, last_error = ? WHERE pseudonym = ? AND status IN (?, ?)",
        (
            str(OutboxStatus.FAILED),
            op.reason,
            op.pseudonym,
            str(OutboxStatus.PENDING),
            str(OutboxStatus.HELD),
        ),
    )


STAT_DEFAULTS: dict[str, Any] = {
    "role": None,
    "kind": None,
    "age_group": None,
    "gender": None,
    "topics": [],
    "outside_hours": False,
    "follow_up": False,
    "country": None,
    "closed_by_staff": False,
    "topic_bits": 0,
}


def _stat_value(value: Any) -> Any:
    if isinstance(value, list):
        return json.dumps(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _put_stat(conn: sqlite3.Connection, op: PutStat) -> str:
    fields = dict(op.fields)
    if "topics" in fields:
        fields["topic_bits"] = topic_bits(fields["topics"])
    if op.key is not None:
        names = ", ".join(f"{name} = ?" for name in fields)
        updated = conn.execute(
            f"UPDATE stat_records SET {names} WHERE key = ?",  # noqa: S608 - our own column names
            (*(_stat_value(v) for v in fields.values()), op.key),
        )
        if updated.rowcount == 1:
            return op.key
    key = str(uuid.uuid4())
    row = {**STAT_DEFAULTS, **fields, "key": key}
    conn.execute(
        f"INSERT INTO stat_records ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",  # noqa: S608 - our own column names
        tuple(_stat_value(v) for v in row.values()),
    )
    return key


def _message_refs_since(conn: sqlite3.Connection, op: MessageRefsSince) -> list[str]:
    rows = conn.execute(
        "SELECT provider_ref FROM messages WHERE conversation_id = ? AND provider_ref IS NOT NULL "
        "AND provider_ref != '' AND created_at >= ? ORDER BY id",
        (op.conversation_id, stored_time(op.since)),
    ).fetchall()
    return [str(row[0]) for row in rows]


def _delete_conversation(conn: sqlite3.Connection, op: DeleteConversation) -> None:
    conn.execute("DELETE FROM conversations WHERE id = ?", (op.conversation_id,))


def _sent_refs(conn: sqlite3.Connection, op: SentRefs) -> list[str]:
    rows = conn.execute(
        "SELECT provider_id FROM outbox WHERE pseudonym = ? AND status = ? AND sent_at >= ? "
        "AND provider_id IS NOT NULL",
        (op.pseudonym, str(OutboxStatus.SENT), stored_time(op.since)),
    ).fetchall()
    return [str(row[0]) for row in rows]


def _forget_outbox(conn: sqlite3.Connection, op: ForgetOutbox) -> None:
    conn.execute("DELETE FROM outbox WHERE pseudonym = ?", (op.pseudonym,))


_OUTBOX_COLUMNS = (
    "id",
    "conversation_id",
    "channel",
    "pseudonym",
    "address_enc",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "locked_until",
    "created_at",
    "sent_at",
    "provider_id",
    "last_error",
)
_OUTBOX_TIMES = frozenset({"next_attempt_at", "locked_until", "created_at", "sent_at"})
# A row waits while an earlier one to the same person is open and not due: it must not overtake it.
_OVERTAKES = (
    "EXISTS (SELECT e.id FROM outbox AS e WHERE e.status IN ('pending', 'sending') "
    "AND e.pseudonym = o.pseudonym AND e.id < o.id "
    "AND ((e.status = 'pending' AND e.next_attempt_at > ?) "
    "OR (e.status = 'sending' AND e.locked_until >= ?)))"
)
_DUE = (
    "o.status = 'pending' AND o.next_attempt_at <= ?",
    "o.status = 'sending' AND o.locked_until < ?",
)


def _claim_due(conn: sqlite3.Connection, op: ClaimDue) -> list[tuple[Any, ...]]:
    # Two ordered walks along the (status, id) index, as repositories.Outbox.claim_due explains; the
    # status literals match the partial index's condition.
    now = stored_time(op.now)
    channels = ", ".join("?" * len(op.channels))
    ids: list[int] = []
    for due in _DUE:
        ids.extend(
            row[0]
            for row in conn.execute(
                f"SELECT o.id FROM outbox AS o WHERE {due} AND o.channel IN ({channels}) "  # noqa: S608 - our own text
                f"AND NOT {_OVERTAKES} ORDER BY o.id LIMIT ?",
                (now, *op.channels, now, now, op.limit),
            )
        )
    ids = sorted(ids)[: op.limit]
    if not ids:
        return []
    rows = conn.execute(
        "UPDATE outbox SET status = 'sending', locked_until = ?, attempts = attempts + 1 "  # noqa: S608 - placeholders
        f"WHERE id IN ({', '.join('?' * len(ids))}) RETURNING {', '.join(_OUTBOX_COLUMNS)}",
        (stored_time(op.until), *ids),
    ).fetchall()
    return sorted(rows, key=lambda row: int(row[0]))


def outbox_rows(cipher: Cipher, stored: list[tuple[Any, ...]]) -> list[OutboxRow]:
    """Claimed rows as the ORM would read them (payload opened, times aware), not in any session; from
    either driver's ClaimDue (SQLite's times are text, PostgreSQL's already aware datetimes)."""
    rows = []
    for values in stored:
        row = dict(zip(_OUTBOX_COLUMNS, values, strict=True))
        for name in _OUTBOX_TIMES:
            if not isinstance(row[name], datetime):
                row[name] = read_time(row[name])
        row["address_enc"] = bytes(row["address_enc"])
        row["payload"] = open_json(cipher, json.loads(row["payload"]))
        rows.append(OutboxRow(**row))
    return rows


DELIVERY_RANK = " ".join(f"WHEN '{state.value}' THEN {state.rank}" for state in Delivery)


def _mark_sent(conn: sqlite3.Connection, op: MarkSent) -> None:
    conn.executemany(
        "UPDATE outbox SET status = ?, sent_at = ?, locked_until = NULL, provider_id = ?, last_error = NULL "
        "WHERE id = ?",
        [
            (str(OutboxStatus.SENT), stored_time(op.now), provider_id, outbox_id)
            for outbox_id, provider_id in op.sent
        ],
    )
    _advance_delivery(conn, [outbox_id for outbox_id, _ in op.sent], Delivery.SENT)


def _advance_delivery(conn: sqlite3.Connection, ids: Sequence[int], state: Delivery) -> int:
    """As Messages.advance_delivery: unless the reply's message already got further."""
    return conn.execute(
        f"UPDATE messages SET delivery = ? WHERE outbox_id IN ({', '.join('?' * len(ids))}) "  # noqa: S608 - our own text
        f"AND (CASE delivery {DELIVERY_RANK} ELSE -1 END) <= ?",
        (state.value, *ids, state.rank),
    ).rowcount


def _mark_pulled(conn: sqlite3.Connection, op: MarkPulled) -> None:
    sent = str(OutboxStatus.SENT)
    conn.execute(
        f"UPDATE outbox SET status = ?, sent_at = ?, attempts = attempts + 1 "  # noqa: S608 - placeholders
        f"WHERE id IN ({', '.join('?' * len(op.ids))}) AND status != ?",
        (sent, stored_time(op.now), *op.ids, sent),
    )
    _advance_delivery(conn, op.ids, Delivery.SENT)


def _apply_report(conn: sqlite3.Connection, op: ApplyReport) -> str | None:
    found = conn.execute(
        "SELECT id, channel FROM outbox WHERE provider_id = ? ORDER BY id LIMIT 1", (op.provider_id,)
    ).fetchone()
    if found is None:
        return None
    if _advance_delivery(conn, [found[0]], op.state) and op.error is not None:
        conn.execute("UPDATE outbox SET last_error = ? WHERE id = ?", (op.error[:200], found[0]))
    return str(found[1])


def _arrive(conn: sqlite3.Connection, op: Arrive) -> Arrival | None:
    # On SQLite a statement costs no round trip: the three as they are.
    if not _first_time(conn, op.first):
        return None
    staffed = op.staffed is None or _anyone_staffed(conn, op.staffed)
    return Arrival(_touch_contact(conn, op.contact), staffed)


def _open_with_recent(conn: sqlite3.Connection, op: OpenWithRecent) -> tuple[Conversation | None, int]:
    conv = _open_conversation(conn, OpenConversation(op.contact_id))
    return conv, 0 if conv is None else _inbound_since(conn, InboundSince(conv.id, op.since))


_RUNNERS: dict[type[Any], Callable[[sqlite3.Connection, Any], Any]] = {
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
