"""`helpline records import FILE.csv`: every row checked first, all imported or none, bad rows by line."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from intake.storage.db import make_database
from intake.storage.models import StatRecordRow
from tests.conftest import HELPLINE_COMMAND
from tests.integration.conftest import fetch

HEADER = "month,channel,role,kind,age_group,gender,topics,country,follow_up\n"
GOOD = (
    "2021-01,phone,self,individual,adult,woman,forced_marriage_kept;social_control,IQ,true\n"
    "2021-02,email,professional,information,,,,,false\n"
    '2021-03,in_person,family,individual,under_18,man,"fgm; abroad",Somalia,\n'
)


async def helpline(database_url: str, where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `helpline` command as the line's coordinator runs it, on this database."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(where), "HELPLINE_ENV": "development",
           "HELPLINE_DATABASE_URL": database_url}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *HELPLINE_COMMAND, *args, env=env, cwd=where, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return subprocess.CompletedProcess([], process.returncode, out.decode(), err.decode())


async def helpline_import(database_url: str, path: Path) -> subprocess.CompletedProcess[str]:
    return await helpline(database_url, path.parent, "records", "import", str(path))


async def records(engine: AsyncEngine) -> list[StatRecordRow]:
    rows: list[StatRecordRow] = await fetch(make_database(engine), select(StatRecordRow))
    return sorted(rows, key=lambda r: r.month)


async def test_a_spreadsheet_of_an_earlier_year_is_imported(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "2021.csv"
    # As a spreadsheet program saves "CSV UTF-8": with a byte-order mark and CRLF line ends.
    path.write_bytes(("\ufeff" + HEADER + GOOD).replace("\n", "\r\n").encode())
    result = await helpline_import(database_url, path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "imported 3 record(s)\n", "")
    first, second, third = await records(engine)
    assert (first.channel, first.role, first.kind, first.age_group, first.gender, first.country) == (
        "phone", "self", "individual", "adult", "woman", "IQ")  # fmt: skip
    assert (first.topics, first.follow_up) == (
        ["social_control", "forced_marriage", "forced_marriage_kept"],
        True,
    )
    # Empty cells are "not stated".
    assert (second.role, second.age_group, second.gender, second.topics, second.country) == (
        "professional", "not_stated", "not_stated", [], None)  # fmt: skip
    assert (third.topics, third.country, third.follow_up) == (["fgm", "abroad"], "SO", False)


async def test_a_file_with_bad_rows_imports_nothing_and_names_each_line(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "2021.csv"
    path.write_text(
        HEADER
        + GOOD
        + "2021-04,fax,self,individual,adult,woman,,,false\n"  # line 5
        + "2021-05,phone,self,individual,adult,woman,,,false\n"
        + "2021-13,phone,self,individual,adult,woman,curses,,maybe\n"  # line 7
        + "2021-06,phone,self\n",  # fewer cells: the rest is not stated
        encoding="utf-8",
    )
    result = await helpline_import(database_url, path)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"{path}: line 5: channel: unknown value 'fax'; one of email, in_person, other, phone, sms, "
        "telegram, webchat, whatsapp",
        f"{path}: line 7: follow_up: 'maybe': true or false",
        "helpline: nothing imported: 2 bad row(s)",
    ]
    assert await records(engine) == []


async def test_a_file_without_the_columns_is_refused(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("month;channel\n2021-01;phone\n", encoding="utf-8")
    result = await helpline_import(database_url, path)
    assert result.returncode == 1
    assert "line 1: missing column(s) month, channel, role" in result.stderr
    assert await records(engine) == []
