"""The help services the bot names, loaded from one data file (resources.toml), with their hours."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from importlib import resources as pkg
from zoneinfo import ZoneInfo

from intake.hours import OpeningHours, WeeklySchedule

OSLO = ZoneInfo("Europe/Oslo")


class Hours(StrEnum):
    ALWAYS = "always"  # day and night
    LINE = "line"  # this helpline: the service's own configured hours
    SCHEDULE = "schedule"  # a weekly schedule of its own
    UNKNOWN = "unknown"  # not confirmed precisely: the bot makes no claim about when it answers


@dataclass(frozen=True)
class Status:
    """Whether a scheduled service answers at a moment, and if not, when it opens next."""

    open: bool
    next_opening: datetime | None = None


@dataclass(frozen=True)
class Resource:
    id: str
    name: str
    contact: str
    hours: Hours
    schedule: OpeningHours | None = None
    hours_note: str = ""
    languages: tuple[str, ...] = ()
    emergency: bool = False
    police: bool = False
    abroad: bool = False
    web: bool = False
    for_professionals: bool = False
    min_age: int | None = None
    max_age: int | None = None

    @property
    def always_open(self) -> bool:
        return self.hours is Hours.ALWAYS

    def line(self) -> str:
        return self.contact if self.web else f"{self.name} {self.contact}"

    def status(self, now: datetime) -> Status | None:
        """Open now or when it opens, for a service with a schedule of its own; None otherwise."""
        if self.schedule is None:
            return None
        if self.schedule.is_open(now):
            return Status(open=True)
        return Status(open=False, next_opening=self.schedule.next_opening(now))

    def fits_age(self, under_18: bool | None) -> bool:
        """Whether the service takes a person of this age group (unknown age: every service)."""
        if under_18 is True and self.min_age is not None and self.min_age >= 18:
            return False
        return not (under_18 is False and self.max_age is not None and self.max_age < 18)


def _opt_int(value: object) -> int | None:
    return int(value) if isinstance(value, int) else None


def _parse(entry: Mapping[str, object]) -> Resource:
    rid = str(entry["id"])
    raw = entry.get("hours")
    schedule = None
    if raw is None:
        hours = Hours.UNKNOWN
    elif isinstance(raw, Mapping):
        hours = Hours.SCHEDULE
        weekly = WeeklySchedule.parse(raw, f"resource {rid}.hours")
        schedule = OpeningHours(OSLO, weekly, {}, frozenset(), "NO")
    elif raw in (Hours.ALWAYS, Hours.LINE):
        hours = Hours(str(raw))
    else:
        raise ValueError(f"resources.toml: resource {rid}: hours must be 'always', 'line' or a weekly table")
    languages = entry.get("languages", ())
    return Resource(
        id=rid,
        name=str(entry["name"]),
        contact=str(entry["contact"]),
        hours=hours,
        schedule=schedule,
        hours_note=str(entry.get("hours_note", "")),
        languages=tuple(str(x) for x in languages) if isinstance(languages, list) else (),
        emergency=entry.get("emergency") is True,
        police=entry.get("police") is True,
        abroad=entry.get("abroad") is True,
        web=entry.get("web") is True,
        for_professionals=entry.get("for_professionals") is True,
        min_age=_opt_int(entry.get("min_age")),
        max_age=_opt_int(entry.get("max_age")),
    )


@cache
def all_resources() -> tuple[Resource, ...]:
    raw = pkg.files("intake").joinpath("resources.toml").read_text(encoding="utf-8")
    return tuple(_parse(e) for e in tomllib.loads(raw)["resource"])


def by_id(resource_id: str) -> Resource:
    for r in all_resources():
        if r.id == resource_id:
            return r
    raise KeyError(resource_id)


def around_the_clock(under_18: bool | None) -> tuple[Resource, ...]:
    """Services open day and night that fit the person's age (unknown age: all of them), the emergency
    numbers first: every list a closed line gives repeats 112, 113 and 110 (DOMAIN.md)."""
    return tuple(r for r in all_resources() if r.always_open and r.fits_age(under_18))


def around_the_clock_groups(under_18: bool | None) -> tuple[tuple[Resource, ...], tuple[Resource, ...]]:
    """The 24/7 services in two lists, each short enough for one message: the emergency numbers, the police
    and the foreign ministry; then the help lines and sites."""
    services = around_the_clock(under_18)
    first = tuple(r for r in services if r.emergency or r.police or r.abroad)
    return first, tuple(r for r in services if r not in first)


def unconfirmed_hours(under_18: bool | None) -> tuple[Resource, ...]:
    """Services named without any claim about when they answer (their hours are not confirmed)."""
    return tuple(r for r in all_resources() if r.hours is Hours.UNKNOWN and r.fits_age(under_18))


def scheduled_for(professional: bool, under_18: bool | None) -> tuple[Resource, ...]:
    """Services with hours of their own worth naming at the hand-off: those for professionals when a
    professional writes, and those that fit the person's age."""
    return tuple(
        r
        for r in all_resources()
        if r.hours is Hours.SCHEDULE and ((professional and r.for_professionals) or r.fits_age(under_18))
    )
