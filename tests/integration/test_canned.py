"""Canned replies reworded by administrators, per language, on SQLite and PostgreSQL: the stored wording wins
over the catalog's, one row per reply and language, and clearing it brings the catalog's back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from intake import content as c
from intake.canned import MAX_CHARS, CannedError, CannedTexts
from intake.i18n import Catalogs
from intake.keywords import default_table
from intake.storage.canned import CannedReplies
from intake.storage.db import make_database
from intake.storage.models import CannedReplyRow
from intake.storage.uow import Database
from tests.integration.conftest import Clock, fetch

NOW = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)


@pytest.fixture
def canned(engine: AsyncEngine, catalogs: Catalogs) -> CannedTexts:
    return CannedTexts(make_database(engine), catalogs, default_table(), Clock(NOW))


async def _rows(db: Database) -> int:
    async with db.uow() as uow:
        return int((await uow.session.execute(select(func.count()).select_from(CannedReplyRow))).scalar_one())


async def test_the_catalogs_wording_until_an_administrator_changes_it(canned: CannedTexts) -> None:
    nb = {r.key: r for r in await canned.for_language("nb")}
    assert list(nb) == list(c.CANNED)
    assert (
        nb["reading"].text == nb["reading"].default == "Takk for at du skriver. Jeg leser meldingene dine nå."
    )
    assert not nb["reading"].edited
    # The erase word is filled in, in the conversation's language.
    assert "SLETT" in nb["erase"].text

    changed = await canned.change("reading", "nb", "  Hei! Jeg leser det du har skrevet.  ", "admin")
    assert (changed.text, changed.edited, changed.updated_by) == (
        "Hei! Jeg leser det du har skrevet.",
        True,
        "admin",
    )
    nb = {r.key: r for r in await canned.for_language("nb")}
    assert nb["reading"].text == "Hei! Jeg leser det du har skrevet."
    assert nb["reading"].default == "Takk for at du skriver. Jeg leser meldingene dine nå."
    assert (nb["reading"].updated_by, nb["reading"].updated_at) == ("admin", NOW)
    # Only that language: English keeps the catalog's wording.
    en = {r.key: r for r in await canned.for_language("en")}
    assert en["reading"].text == "Thank you for writing. I am reading your messages now."
    assert not en["reading"].edited


async def test_a_second_change_rewrites_the_one_row_and_clearing_restores_the_default(
    canned: CannedTexts,
) -> None:
    await canned.change("safe_now", "en", "Are you safe?", "admin")
    await canned.change("safe_now", "en", "Are you safe where you are?", "bjorn")
    assert await _rows(canned.db) == 1
    (row,) = await fetch(canned.db, select(CannedReplyRow))
    assert (row.key, row.lang, row.text, row.updated_by) == (
        "safe_now",
        "en",
        "Are you safe where you are?",
        "bjorn",
    )

    restored = await canned.change("safe_now", "en", "   ", "admin")
    assert not restored.edited
    assert restored.text == "Are you safe right now?\nIf you are in danger, call 112."
    assert await _rows(canned.db) == 0
    assert await canned.reset("safe_now", "en") is False


async def test_every_reply_in_every_language_for_the_administrators_screen(canned: CannedTexts) -> None:
    await canned.change("erase", "en", "Write {delete} to erase this chat.", "admin")
    everything = await canned.every_language()
    assert len(everything) == len(c.CANNED) * len(canned.languages)
    erase_en = next(r for r in everything if (r.key, r.lang) == ("erase", "en"))
    # The placeholder works in an edited text too; other braces are only text.
    assert erase_en.text == "Write DELETE to erase this chat."
    await canned.change("tell_more", "en", "Tell me more {please}", "admin")
    assert (await canned.for_language("en"))[1].text == "Tell me more {please}"


@pytest.mark.parametrize(
    ("key", "lang", "text", "error"),
    [
        ("nonsense", "nb", "Hei", "no canned reply"),
        ("reading", "xx", "Hei", "no language"),
        ("reading", "nb", "x" * (MAX_CHARS + 1), "at most"),
    ],
)
async def test_refused_changes_store_nothing(
    canned: CannedTexts, key: str, lang: str, text: str, error: str
) -> None:
    with pytest.raises(CannedError, match=error):
        await canned.change(key, lang, text, "admin")
    assert await _rows(canned.db) == 0


async def test_the_storage_alone(engine: AsyncEngine) -> None:
    db = make_database(engine)
    async with db.uow() as uow:
        stored = CannedReplies(uow.session)
        await stored.put("reading", "nb", "A", "admin", NOW)
        await stored.put("reading", "en", "B", "admin", NOW)
        await uow.commit()
    async with db.uow() as uow:
        stored = CannedReplies(uow.session)
        assert [(r.key, r.lang, r.text) for r in await stored.all()] == [
            ("reading", "en", "B"),
            ("reading", "nb", "A"),
        ]
        assert [r.text for r in await stored.all("nb")] == ["A"]
        assert await stored.clear("reading", "nb") is True
        assert await stored.clear("reading", "nb") is False
        await uow.commit()


async def test_two_administrators_saving_the_same_new_reply_at_once_leave_one_row(
    engine: AsyncEngine,
) -> None:
    """Neither sees the other's row before writing its own: the later wording stays, and neither fails
    (on PostgreSQL the second waits on the unique key until the first commits)."""
    db = make_database(engine)

    async def second() -> CannedReplyRow:
        async with db.uow() as uow:
            row = await CannedReplies(uow.session).put("closing", "en", "Take care.", "olga", NOW)
            await uow.commit()
            return row

    async with db.uow() as first:
        await CannedReplies(first.session).put("closing", "en", "Bye for now.", "admin", NOW)
        later = asyncio.create_task(second())
        await asyncio.sleep(0.2)  # the second save has started (and waits) before the first commits
        await first.commit()
    row = await later
    assert (row.text, row.updated_by) == ("Take care.", "olga")
    assert await _rows(db) == 1
