"""The help services the bot names, loaded from one data file (resources.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources as pkg


@dataclass(frozen=True)
class Resource:
    id: str
    name: str
    contact: str
    always_open: bool
    emergency: bool = False
    abroad: bool = False
    web: bool = False
    min_age: int | None = None
    max_age: int | None = None

    def line(self) -> str:
        return self.contact if self.web else f"{self.name} {self.contact}"


@cache
def all_resources() -> tuple[Resource, ...]:
    raw = pkg.files("intake").joinpath("resources.toml").read_text(encoding="utf-8")
    entries = tomllib.loads(raw)["resource"]
    return tuple(
        Resource(**{k: v for k, v in e.items() if k in Resource.__dataclass_fields__}) for e in entries
    )


def by_id(resource_id: str) -> Resource:
    for r in all_resources():
        if r.id == resource_id:
            return r
    raise KeyError(resource_id)


def around_the_clock(under_18: bool | None) -> tuple[Resource, ...]:
    """Services open day and night that fit the person's age (unknown age: all of them)."""

    def fits(r: Resource) -> bool:
        if under_18 is True and r.min_age is not None and r.min_age >= 18:
            return False
        return not (under_18 is False and r.max_age is not None and r.max_age < 18)

    return tuple(r for r in all_resources() if r.always_open and not r.emergency and not r.abroad and fits(r))
