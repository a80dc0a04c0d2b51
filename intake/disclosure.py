"""Small-cell suppression for publishing the year's report.

Any count from 1 to 4 is shown as "<5". That alone is not enough: a table's total minus its other cells
gives the hidden one back, and the report's tables share totals (roles, ages, genders and countries all
add up to the individual inquiries). So, after the small cells, we attack our own publication the way a
reader could: every published sum is an equation, each hidden cell an interval ("<5" is 1 to 4, a cell
hidden to protect another is 5 or more, which a reader can tell); bounds are propagated, and each value
a small cell could take is tried in turn. While some small cell has a single possible value left, one
more cell of an equation around it is hidden ("x", the smallest one that helps), and the attack runs
again.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

SMALL = "<5"
HIDDEN = "x"
WITHHELD = ".."
Cell = tuple[str, ...]

# (total, parts): the published sums. A total of None is a sum the report does not print but that the
# reader still knows is the same for each table in the group (e.g. users with consent by age and by
# gender).
PARTITIONS: tuple[tuple[Cell, tuple[str, ...]], ...] = (
    (("first_contacts", "total"), ("by_month", "by_channel")),
    (("first_contacts", "individual"), ("by_role", "by_age_group", "by_gender", "by_country")),
)
SHARED_SUMS: tuple[tuple[str, ...], ...] = (
    (
        "cases/with_consent_by_origin",
        "cases/with_consent_by_age_group",
        "cases/with_consent_by_gender",
    ),
)


@dataclass
class Equation:
    total: Cell
    parts: list[Cell]


@dataclass
class Bounds:
    """What a reader knows of each cell: an interval per cell, from what is published."""

    cells: dict[Cell, tuple[int, int]] = field(default_factory=dict)


def _table(report: dict[str, Any], path: str) -> dict[str, Any]:
    table: Any = report
    for key in path.split("/"):
        table = table[key]
    assert isinstance(table, dict)
    return table


def _cells(report: dict[str, Any], path: str) -> list[Cell]:
    return [(*path.split("/"), key) for key in _table(report, path)]


def equations(report: dict[str, Any]) -> list[Equation]:
    found = [
        Equation(
            ("first_contacts", "total"), [("first_contacts", "individual"), ("first_contacts", "information")]
        )
    ]
    for total, tables in PARTITIONS:
        found += [Equation(total, _cells(report, table)) for table in tables]
    for group in SHARED_SUMS:
        unseen: Cell = ("~sum", *group)
        found += [Equation(unseen, _cells(report, table)) for table in group]
    grand: Cell = ("~sum", "activities")
    origins = list(report["activities"])
    found.append(Equation(grand, [("activities", origin, "total") for origin in origins]))
    found.append(Equation(grand, _cells(report, "activities_by_month")))
    for origin in origins:
        parts: list[Cell] = [
            ("activities", origin, kind) for kind in report["activities"][origin] if kind != "total"
        ]
        found.append(Equation(("activities", origin, "total"), parts))
    return found


def _value(report: dict[str, Any], cell: Cell) -> int | None:
    if cell[0] == "~sum":
        return None
    node: Any = report
    for key in cell:
        node = node[key]
    return int(node)


def counted_cells(report: dict[str, Any]) -> Iterator[Cell]:
    """Every count the report publishes."""
    yield from (("first_contacts", key) for key in report["first_contacts"])
    for path in ("by_month", "by_channel", "by_role", "by_age_group", "by_gender", "by_topic", "by_subtopic",
                 "by_country", "activities_by_month", "cases/by_origin", "cases/opened_by_origin",
                 "cases/with_consent_by_origin", "cases/with_consent_by_age_group",
                 "cases/with_consent_by_gender"):  # fmt: skip
        yield from _cells(report, path)
    yield ("follow_up_cases",)
    yield ("previous_year_total",)
    for origin, table in report["activities"].items():
        yield from (("activities", origin, kind) for kind in table)
    for duty, table in report["concern_decisions"].items():
        yield from (("concern_decisions", duty, decision) for decision in table)


def _propagate(bounds: dict[Cell, tuple[int, int]], eqs: list[Equation]) -> bool:
    """Narrow every interval by every equation until nothing changes; False when they contradict."""
    changed = True
    while changed:
        changed = False
        for eq in eqs:
            lo = sum(bounds[p][0] for p in eq.parts)
            hi = sum(bounds[p][1] for p in eq.parts)
            t_lo, t_hi = bounds[eq.total]
            new_total = (max(t_lo, lo), min(t_hi, hi))
            if new_total[0] > new_total[1]:
                return False
            if new_total != bounds[eq.total]:
                bounds[eq.total], changed = new_total, True
            t_lo, t_hi = new_total
            for p in eq.parts:
                p_lo, p_hi = bounds[p]
                narrowed = (max(p_lo, t_lo - (hi - p_hi)), min(p_hi, t_hi - (lo - p_lo)))
                if narrowed[0] > narrowed[1]:
                    return False
                if narrowed != (p_lo, p_hi):
                    bounds[p], changed = narrowed, True
                    lo += narrowed[0] - p_lo
                    hi += narrowed[1] - p_hi
    return True


def _bounds(shown: int | str, ceiling: int) -> tuple[int, int]:
    if shown == SMALL:
        return (1, 4)
    if shown == HIDDEN:
        return (5, ceiling)
    if shown == WITHHELD:
        return (0, ceiling)
    return (int(shown), int(shown))


def reader_bounds(
    published: dict[Cell, int | str], eqs: list[Equation], ceiling: int
) -> dict[Cell, tuple[int, int]]:
    """What a reader can work out from the published cells alone."""
    bounds: dict[Cell, tuple[int, int]] = {}
    for cell, shown in published.items():
        bounds[cell] = _bounds(shown, ceiling)
    for eq in eqs:
        for cell in (eq.total, *eq.parts):
            bounds.setdefault(cell, (0, ceiling))
    _propagate(bounds, eqs)
    return bounds


def recovered(published: dict[Cell, int | str], eqs: list[Equation], ceiling: int) -> dict[Cell, int]:
    """The small cells a reader can pin to one value: by the bounds, then by trying each value it could
    take and keeping those that contradict nothing."""
    bounds = reader_bounds(published, eqs, ceiling)
    found: dict[Cell, int] = {}
    for cell, shown in published.items():
        if shown != SMALL:
            continue
        possible = []
        for value in range(bounds[cell][0], bounds[cell][1] + 1):
            trial = dict(bounds)
            trial[cell] = (value, value)
            if _propagate(trial, eqs):
                possible.append(value)
        if len(possible) == 1:
            found[cell] = possible[0]
    return found


def suppress(report: dict[str, Any]) -> dict[str, Any]:
    """The report for publication: small cells as "<5", and as "x" the cells hidden to protect them."""
    eqs = equations(report)
    cells = list(dict.fromkeys(counted_cells(report)))
    true = {cell: _value(report, cell) or 0 for cell in cells}
    ceiling = max(true.values(), default=0) * 2 + 10
    published: dict[Cell, int | str] = {cell: SMALL if 1 <= v <= 4 else v for cell, v in true.items()}
    while pinned := recovered(published, eqs, ceiling):
        cell = next(iter(pinned))
        _hide_one_more(cell, published, true, eqs)
    out = copy.deepcopy(report)
    for cell, shown in published.items():
        node: Any = out
        for key in cell[:-1]:
            node = node[key]
        node[cell[-1]] = shown
    total, previous = published[("first_contacts", "total")], published[("previous_year_total",)]
    if isinstance(total, str) or isinstance(previous, str):
        out["change_from_previous_year"] = HIDDEN  # with one of them known it gives the other back
    return out


def _hide_one_more(
    cell: Cell, published: dict[Cell, int | str], true: dict[Cell, int], eqs: list[Equation]
) -> None:
    """Hide the smallest shown non-zero count in an equation around `cell`, a part before a total ("x",
    5 or more). With none left there, a shown zero ("..", any count: a zero hidden as "x" would be a
    false bound), then a "<5" cell ("..", not published); with none of those, look one equation further
    out."""
    near = {cell}
    while True:
        around = [eq for eq in eqs if near & {eq.total, *eq.parts}]
        shown = [
            (is_total, true[c], c)
            for eq in around
            for is_total, c in [*((False, p) for p in eq.parts), (True, eq.total)]
            if isinstance(published.get(c), int)
        ]
        nonzero = [item for item in shown if item[1] > 0]
        if nonzero or shown:
            chosen = min(nonzero or shown)[2]
            published[chosen] = HIDDEN if nonzero else WITHHELD
            return
        # A year so small that "<5" cells alone add up to a hidden total (four months of one contact
        # each, and a total of 4): one of them is not published at all.
        small = [
            (is_total, c)
            for eq in around
            for is_total, c in [*((False, p) for p in eq.parts), (True, eq.total)]
            if published.get(c) == SMALL
        ]
        if small:
            published[min(small)[1]] = WITHHELD
            return
        wider = near | {c for eq in around for c in (eq.total, *eq.parts)}
        if wider == near:
            raise RuntimeError(f"cannot protect {cell}: nothing left to hide around it")
        near = wider
