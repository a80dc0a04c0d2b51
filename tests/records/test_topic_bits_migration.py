"""Migration 0005 gives the records written before it their topic bits, so the report counts their topics."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from intake.categories import TOPIC_BITS
from intake.storage.db import alembic_config, make_engine, migrate

OLD_ROWS = """
INSERT INTO stat_records (key, month, channel, topics, outside_hours, follow_up, closed_by_staff)
VALUES ('a', '2021-05', 'sms', '["fgm", "abroad"]', 0, 0, 0), ('b', '2021-06', 'sms', '[]', 0, 0, 0)
"""


async def test_records_from_before_get_their_topic_bits(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")

    def upgrade_to(revision: str) -> object:
        def run(connection: Connection) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)

        return run

    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to("0004"))  # type: ignore[arg-type]
            await conn.execute(text(OLD_ROWS))
        await migrate(engine)
        async with engine.connect() as conn:
            rows: dict[str, int] = dict(
                (await conn.execute(text("SELECT key, topic_bits FROM stat_records"))).all()
            )
    finally:
        await engine.dispose()
    assert rows == {"a": TOPIC_BITS["fgm"] | TOPIC_BITS["abroad"], "b": 0}
