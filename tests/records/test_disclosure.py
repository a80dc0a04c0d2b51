"""`--public`: small cells are hidden, and so are the cells that would give them back. A reader with an
integer-programming solver and every published figure tries to recover each hidden cell, and cannot."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from intake.cases import month_of
from intake.disclosure import HIDDEN, SMALL, WITHHELD, Cell, counted_cells, equations, suppress
from intake.records import parse_record, store
from intake.report import year_report
from intake.storage.db import make_database, make_engine, migrate
from intake.storage.models import ActivityRecordRow
from intake.storage.uow import Database
from tests.records import seed_2022 as seed

TODAY = __import__("datetime").date(2026, 1, 1)


def published_cells(report: dict[str, Any]) -> dict[Cell, Any]:
    cells: dict[Cell, Any] = {}
    for cell in counted_cells(report):
        node: Any = report
        for key in cell:
            node = node[key]
        cells[cell] = node
    return cells


def attack(public: dict[str, Any]) -> dict[Cell, tuple[float, float]]:
    """For each "<5" cell, the least and the most it can be given everything published: each published
    sum holds, "<5" is 1 to 4, "x" is a count of 5 or more, unprinted sums are any count."""
    shown = published_cells(public)
    eqs = equations(public)
    names = list(dict.fromkeys([*shown, *(c for eq in eqs for c in (eq.total, *eq.parts))]))
    index = {cell: i for i, cell in enumerate(names)}
    ceiling = 10 * max((v for v in shown.values() if isinstance(v, int)), default=10) + 100
    lower, upper = np.zeros(len(names)), np.full(len(names), float(ceiling))
    for cell, value in shown.items():
        i = index[cell]
        if value == SMALL:
            lower[i], upper[i] = 1, 4
        elif value == HIDDEN:
            lower[i] = 5
        elif value == WITHHELD:
            pass
        else:
            lower[i] = upper[i] = value
    rows = np.zeros((len(eqs), len(names)))
    for r, eq in enumerate(eqs):
        rows[r, index[eq.total]] = -1
        for part in eq.parts:
            rows[r, index[part]] += 1
    constraints = LinearConstraint(rows, 0, 0)
    found = {}
    for cell, value in shown.items():
        if value != SMALL:
            continue
        ends = []
        for sign in (1, -1):
            objective = np.zeros(len(names))
            objective[index[cell]] = sign
            result = milp(objective, constraints=constraints, integrality=np.ones(len(names)),
                          bounds=Bounds(lower, upper))  # fmt: skip
            assert result.success, (cell, result.message)
            ends.append(result.x[index[cell]])
        found[cell] = (ends[0], ends[1])
    return found


def pinned(public: dict[str, Any]) -> dict[Cell, float]:
    return {cell: low for cell, (low, high) in attack(public).items() if round(low) == round(high)}


def naive(report: dict[str, Any]) -> dict[str, Any]:
    """Only the small cells hidden: what a publication without complementary suppression would show."""
    out: dict[str, Any] = __import__("copy").deepcopy(report)
    for cell, value in published_cells(report).items():
        if 1 <= value <= 4:
            node = out
            for key in cell[:-1]:
                node = node[key]
            node[cell[-1]] = SMALL
    return out


async def fill(db: Database, records: list[dict[str, Any]], activities: list[tuple[str, str, str]]) -> None:
    await store(db, [parse_record(r, TODAY) for r in records])
    async with db.uow() as uow:
        uow.session.add_all(ActivityRecordRow(month=m, origin=o, kind=k) for m, o, k in activities)
        await uow.commit()


def random_year(rng: random.Random) -> Iterator[dict[str, Any]]:
    for _ in range(rng.randint(3, 60)):
        yield {
            "month": f"2022-{rng.randint(1, 12):02d}",
            "channel": rng.choice(["phone", "email", "sms"]),
            "role": rng.choice(["self", "family", None]),
            "kind": rng.choice(["individual", "information"]),
            "age_group": rng.choice(["under_18", "adult", None]),
            "gender": rng.choice(["woman", "man", None]),
            "topics": rng.sample(["fgm", "abroad", "forced_marriage_kept"], rng.randint(0, 2)),
            "country": rng.choice([None, "SO", "IQ"]),
            "follow_up": rng.random() < 0.3,
        }


async def report_of(tmp_path: Path, name: str, records: list[dict[str, Any]],
                    activities: list[tuple[str, str, str]]) -> dict[str, Any]:  # fmt: skip
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / name}.db")
    try:
        await migrate(engine)
        db = make_database(engine)
        await fill(db, records, activities)
        return await year_report(db, 2022)
    finally:
        await engine.dispose()


def seed_activities() -> list[tuple[str, str, str]]:
    rows = []
    for origin, table in (("shelter", seed.TABLE_5_2), ("helpline", seed.TABLE_5_3)):
        kinds = [kind for kind, n in table.items() for _ in range(n)]
        rows += [(month_of(__import__("datetime").date.fromisoformat(day)), origin, kind)
                 for kind, day in zip(kinds, seed.activity_dates(len(kinds)), strict=True)]  # fmt: skip
    return rows


async def test_no_hidden_cell_of_the_2022_report_can_be_recovered(tmp_path: Path) -> None:
    information = [
        {"month": line.split(",")[0], "channel": "email", "role": "professional", "kind": "information"}
        for line in seed.information_csv().splitlines()[1:]
    ]
    report = await report_of(tmp_path, "seed", seed.individual_records() + information, seed_activities())
    # The attacker has teeth: with only the small cells hidden, it gets some back.
    assert pinned(naive(report))
    public = suppress(report)
    small = {cell for cell, value in published_cells(report).items() if 1 <= value <= 4}
    assert small, "the seed year has small cells"
    assert all(published_cells(public)[cell] == SMALL for cell in small)
    assert pinned(public) == {}
    # What is not hidden is printed as it is.
    for cell, value in published_cells(public).items():
        assert value in (SMALL, HIDDEN, WITHHELD) or value == published_cells(report)[cell]


@pytest.mark.parametrize("seed_number", range(12))
async def test_no_hidden_cell_of_a_random_year_can_be_recovered(tmp_path: Path, seed_number: int) -> None:
    rng = random.Random(seed_number)
    activities = [
        (
            f"2022-{rng.randint(1, 12):02d}",
            rng.choice(["shelter", "helpline"]),
            rng.choice(["nav", "police", "in_person"]),
        )
        for _ in range(rng.randint(0, 40))
    ]
    report = await report_of(tmp_path, "random", list(random_year(rng)), activities)
    public = suppress(report)
    assert pinned(public) == {}
    if isinstance(public["first_contacts"]["total"], str):
        assert public["change_from_previous_year"] == HIDDEN
