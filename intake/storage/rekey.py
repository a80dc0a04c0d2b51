"""Re-encrypting stored values with the newest key (`helpline keys rotate`), in batches, safe to re-run.

Works on the raw columns (the encrypted bytes as stored), one short transaction per batch, so the service
can keep running meanwhile. Each value is written back only if it is still what was read: a row the
service changed or erased in between keeps the service's version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import BigInteger, LargeBinary, bindparam, column, func, select, table, update

from intake.storage.uow import Database

# Every column holding a Fernet token: (table, column).
ENCRYPTED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("contacts", "address_enc"),
    ("outbox", "address_enc"),
)


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
    for table_name, column_name in ENCRYPTED_COLUMNS:
        await _rotate_column(db, table_name, column_name, rotate, batch, progress, result)
    return result


async def _rotate_column(
    db: Database,
    table_name: str,
    column_name: str,
    rotate: Rotate,
    batch: int,
    progress: Progress | None,
    result: Rotated,
) -> None:
    name = f"{table_name}.{column_name}"
    # Plain types: the bytes as stored, whatever the models make of them.
    t = table(table_name, column("id", BigInteger()), column(column_name, LargeBinary()))
    value = t.c[column_name]
    stored = value.is_not(None) & (func.length(value) > 0)  # an erased address is b""
    async with db.uow() as uow:
        total = int(
            (await uow.session.execute(select(func.count()).select_from(t).where(stored))).scalar_one()
        )
    compare_and_set = (
        update(t)
        .where(t.c.id == bindparam("row_id"), value == bindparam("old", type_=LargeBinary()))
        .values({column_name: bindparam("new", type_=LargeBinary())})
    )
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
                    new = rotate(bytes(old))
                except Unreadable:
                    unreadable += 1
                    continue
                if new is None:
                    current += 1
                else:
                    changes.append({"row_id": row_id, "old": bytes(old), "new": new})
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
