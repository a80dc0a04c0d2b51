"""Re-encrypting stored values with the newest key (`helpline keys rotate`), in batches, safe to re-run.

Works on the raw columns (the encrypted bytes as stored), one short transaction per batch, so the service
can keep running meanwhile. Each value is written back only if it is still what was read: a row the
service changed or erased in between keeps the service's version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    LargeBinary,
    Text,
    bindparam,
    column,
    func,
    select,
    table,
    true,
    update,
)
from sqlalchemy.types import TypeEngine

from intake.storage.uow import Database


@dataclass(frozen=True)
class Sealed:
    """A column holding Fernet tokens, and how it stores them."""

    table: str
    column: str
    # bytes (LargeBinary), text (the token as TEXT) or json (a JSON string holding the token)
    form: str = "bytes"

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


ENCRYPTED_COLUMNS: tuple[Sealed, ...] = (
    Sealed("contacts", "address_enc"),
    Sealed("outbox", "address_enc"),
    Sealed("messages", "text", "text"),
    Sealed("outbox", "payload", "json"),
)
_TYPES: dict[str, TypeEngine[Any]] = {"bytes": LargeBinary(), "text": Text(), "json": JSON()}


class Unreadable(Exception):
    """No configured key opens this value."""


@dataclass
class Rotated:
    """What a run did, per `table.column`."""

    rewritten: dict[str, int] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)


# The newest key's token for an old one; None when it already is the newest key's; raises Unreadable.
Rotate = Callable[[bytes], bytes | None]
# (table.column, values seen so far, values in all)
Progress = Callable[[str, int, int], None]


async def rotate_all(
    db: Database, rotate: Rotate, batch: int = 500, progress: Progress | None = None
) -> Rotated:
    result = Rotated()
    for sealed in ENCRYPTED_COLUMNS:
        await _rotate_column(db, sealed, rotate, batch, progress, result)
    return result


def _token(value: Any) -> bytes:
    return value.encode("ascii") if isinstance(value, str) else bytes(value)


async def _rotate_column(
    db: Database, sealed: Sealed, rotate: Rotate, batch: int, progress: Progress | None, result: Rotated
) -> None:
    name = sealed.name
    kind = _TYPES[sealed.form]
    # Plain types: the tokens as stored, not what the models' encrypting types make of them.
    t = table(sealed.table, column("id", BigInteger()), column(sealed.column, kind))
    value = t.c[sealed.column]
    # An erased address is b""; a JSON column cannot be measured (and never holds an empty one).
    stored = value.is_not(None) & (true() if sealed.form == "json" else func.length(value) > 0)
    async with db.uow() as uow:
        count = select(func.count()).select_from(t).where(stored)
        total = int((await uow.session.execute(count)).scalar_one())
    # Compare-and-set where the service may change the value (a contact's address); PostgreSQL has no
    # equality on JSON, and payloads are never changed once written.
    unchanged = true() if sealed.form == "json" else value == bindparam("old", type_=kind)
    compare_and_set = (
        update(t)
        .where(t.c.id == bindparam("row_id"), unchanged)
        .values({sealed.column: bindparam("new", type_=kind)})
    )
    back: Callable[[bytes], Any] = (lambda new: new) if sealed.form == "bytes" else (lambda new: new.decode())
    rewritten = current = unreadable = seen = 0
    last = -1
    while True:
        async with db.uow() as uow:
            rows = (
                await uow.session.execute(
                    select(t.c.id, value).where(stored, t.c.id > last).order_by(t.c.id).limit(batch)
                )
            ).all()
            if not rows:
                break
            changes = []
            for row_id, old in rows:
                try:
                    new = rotate(_token(old))
                except Unreadable:
                    unreadable += 1
                    continue
                if new is None:
                    current += 1
                else:
                    changes.append({"row_id": row_id, "old": old, "new": back(new)})
            if changes:
                await uow.session.execute(compare_and_set, changes)
            await uow.commit()
        rewritten += len(changes)
        seen += len(rows)
        last = rows[-1][0]
        if progress is not None:
            progress(name, seen, max(total, seen))
    result.rewritten[name] = rewritten
    result.current[name] = current
    result.unreadable[name] = unreadable
