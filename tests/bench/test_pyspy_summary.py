"""py-spy's collapsed stacks become the top functions by own and total share, a function's lines merged."""

from __future__ import annotations

from bench.pyspy import summarize

ROOT = "<module> (bench/serve.py:109);run (asyncio/runners.py:118)"
COLLAPSED = f"""\
{ROOT};_execute (aiosqlite/core.py:102) 6
{ROOT};_execute (aiosqlite/core.py:107) 2
{ROOT};de_json (/x/lib/python3.11/site-packages/telegram/_message.py:40) 2
not a stack line
"""


def test_own_and_total_shares() -> None:
    summary = summarize(COLLAPSED, top=2)
    assert summary["samples"] == 10
    assert summary["own"] == [["_execute (aiosqlite/core.py)", 0.8], ["de_json (telegram/_message.py)", 0.2]]
    # <module> and run are in every stack: left out of the total ranking.
    assert summary["total"] == [
        ["_execute (aiosqlite/core.py)", 0.8],
        ["de_json (telegram/_message.py)", 0.2],
    ]
    assert summary["packages"] == [["aiosqlite", 0.8], ["telegram", 0.2]]
