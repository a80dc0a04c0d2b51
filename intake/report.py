"""The line's year in figures (the annual report's chapters 4 and 5), folded from the database's aggregates.

Who wrote, their age, gender and country background describe a person, so they are counted over the
individual inquiries (an information request is about no one); months, channels and topics over all
first-time contacts. A record whose kind was never stated is an individual inquiry: the bot asks the
kind only of professionals.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from intake.categories import (
    FOLLOW_UP_ACTIVITIES,
    NOT_STATED,
    SUBTOPIC_OF,
    TOPIC_BITS,
    AgeGroup,
    CaseOrigin,
    Decision,
    Duty,
    Gender,
    InquiryKind,
    RecordChannel,
    Role,
    Topic,
)
from intake.storage.reports import Reports
from intake.storage.uow import Database

T = TypeVar("T")

MAIN_TOPICS = tuple(t.value for t in Topic if t.value not in SUBTOPIC_OF)
SUBTOPICS = tuple(SUBTOPIC_OF)
ACTIVITY_KINDS = tuple(o.id for o in FOLLOW_UP_ACTIVITIES)
INFORMATION = InquiryKind.INFORMATION.value


def _zeros(ids: tuple[str, ...] | list[str]) -> dict[str, int]:
    return dict.fromkeys(ids, 0)


def _ids(enum: Any) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


@dataclass(frozen=True)
class Period:
    year: int

    @property
    def first(self) -> str:
        return f"{self.year:04d}-01"

    @property
    def last(self) -> str:
        return f"{self.year:04d}-12"

    @property
    def months(self) -> list[str]:
        return [f"{self.year:04d}-{m:02d}" for m in range(1, 13)]


def _change(total: int, previous: int) -> float | None:
    return round((total - previous) / previous, 2) if previous else None


async def year_report(db: Database, year: int) -> dict[str, Any]:
    """The report as one JSON-ready object, with the ids of `intake.categories`."""
    period, before = Period(year), Period(year - 1)

    async def read(query: Callable[[Reports], Awaitable[T]]) -> T:
        # Each pass in a reader of its own, all at once: the database works on them side by side, and
        # none holds up the intake's writes (see Database.reader).
        async with db.reader() as uow:
            return await query(uow.reports)

    (record_rows, topic_rows, country_rows, previous, activity_rows, case_rows) = await asyncio.gather(
        read(lambda r: r.record_groups(period.first, period.last)),
        read(lambda r: r.topic_groups(period.first, period.last)),
        read(lambda r: r.country_groups(period.first, period.last)),
        read(lambda r: r.records_between(before.first, before.last)),
        read(lambda r: r.activity_groups(period.first, period.last)),
        read(lambda r: r.case_groups(date(year, 1, 1), date(year, 12, 31))),
    )

    by_month = _zeros(period.months)
    by_channel = _zeros(_ids(RecordChannel))
    by_role = _zeros([*_ids(Role), NOT_STATED])
    by_age = _zeros(_ids(AgeGroup))
    by_gender = _zeros(_ids(Gender))
    total = information = follow_up = 0
    for month, kind, channel, role, age_group, gender, wants_follow_up, n in record_rows:
        total += n
        by_month[month] = by_month.get(month, 0) + n
        by_channel[channel] = by_channel.get(channel, 0) + n
        follow_up += n if wants_follow_up else 0
        if kind == INFORMATION:
            information += n
            continue
        by_role[role or NOT_STATED] += n
        by_age[age_group or NOT_STATED] += n
        by_gender[gender or NOT_STATED] += n

    topics = Counter[str]()
    for _month, _kind, bits, n in topic_rows:
        for topic, bit in TOPIC_BITS.items():
            if bits & bit:
                topics[topic] += n

    countries = Counter[str]()
    for _month, kind, country, n in country_rows:
        if kind != INFORMATION:
            countries[country or NOT_STATED] += n
    by_country = dict(sorted(countries.items(), key=lambda item: (item[0] == NOT_STATED, -item[1], item[0])))

    origins = _ids(CaseOrigin)
    activities = {origin: {**_zeros(ACTIVITY_KINDS), "total": 0} for origin in origins}
    activities_by_month = _zeros(period.months)
    decisions = {duty: _zeros(_ids(Decision)) for duty in _ids(Duty)}
    for month, origin, kind, n in activity_rows:
        if kind.startswith("decision:"):
            _, duty, decision = kind.split(":")
            decisions.setdefault(duty, {}).setdefault(decision, 0)
            decisions[duty][decision] += n
            continue
        table = activities.setdefault(origin, {**_zeros(ACTIVITY_KINDS), "total": 0})
        table[kind] = table.get(kind, 0) + n
        table["total"] += n
        activities_by_month[month] = activities_by_month.get(month, 0) + n

    cases_by_origin = _zeros(origins)
    opened_by_origin = _zeros(origins)
    consent_by_origin = _zeros(origins)
    consent_age = _zeros(_ids(AgeGroup))
    consent_gender = _zeros(_ids(Gender))
    for origin, consent, age_group, gender, opened, n in case_rows:
        cases_by_origin[origin] = cases_by_origin.get(origin, 0) + n
        opened_by_origin[origin] = opened_by_origin.get(origin, 0) + (n if opened else 0)
        if consent:
            consent_by_origin[origin] = consent_by_origin.get(origin, 0) + n
            consent_age[age_group] = consent_age.get(age_group, 0) + n
            consent_gender[gender] = consent_gender.get(gender, 0) + n

    return {
        "year": year,
        "first_contacts": {"total": total, "individual": total - information, "information": information},
        "by_month": by_month,
        "by_channel": by_channel,
        "by_role": by_role,
        "by_age_group": by_age,
        "by_gender": by_gender,
        "by_topic": {topic: topics[topic] for topic in MAIN_TOPICS},
        "by_subtopic": {topic: topics[topic] for topic in SUBTOPICS},
        "by_country": by_country,
        "follow_up_cases": follow_up,
        "cases": {
            "by_origin": cases_by_origin,
            "opened_by_origin": opened_by_origin,
            "with_consent_by_origin": consent_by_origin,
            "with_consent_by_age_group": consent_age,
            "with_consent_by_gender": consent_gender,
        },
        "activities": activities,
        "activities_by_month": activities_by_month,
        "concern_decisions": decisions,
        "previous_year_total": previous,
        "change_from_previous_year": _change(total, previous),
    }
