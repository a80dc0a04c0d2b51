"""The help services' data file: hours, languages, who a service is for, and whether it is open now."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from intake.resources import Hours, Resource, _parse, all_resources, around_the_clock, by_id, scheduled_for
from tests.conftest import OSLO


def test_every_service_has_a_number_or_site_its_hours_and_languages() -> None:
    services = all_resources()
    assert len({r.id for r in services}) == len(services)
    for r in services:
        assert r.contact, r.id
        assert "nb" in r.languages, r.id  # every service answers in Norwegian at least
        # A service without confirmed hours says why, so nobody reads the gap as "always".
        assert r.hours is not Hours.UNKNOWN or r.hours_note, r.id
    assert by_id("police").hours is Hours.ALWAYS
    assert by_id("helpline").hours is Hours.LINE
    assert by_id("expert_team").hours is Hours.SCHEDULE


@pytest.mark.parametrize(
    ("now", "open_", "next_opening"),
    [
        (datetime(2026, 11, 24, 10, 0, tzinfo=OSLO), True, None),  # Tuesday morning
        (datetime(2026, 11, 24, 15, 0, tzinfo=OSLO), False, datetime(2026, 11, 25, 9, 0, tzinfo=OSLO)),
        (datetime(2026, 11, 27, 15, 30, tzinfo=OSLO), False, datetime(2026, 11, 30, 9, 0, tzinfo=OSLO)),
        # 17 May (a Monday in 2027) is a public holiday: closed all day.
        (datetime(2027, 5, 17, 10, 0, tzinfo=OSLO), False, datetime(2027, 5, 18, 9, 0, tzinfo=OSLO)),
        # Easter Monday 2027 (29 March) is a public holiday too.
        (datetime(2027, 3, 29, 10, 0, tzinfo=OSLO), False, datetime(2027, 3, 30, 9, 0, tzinfo=OSLO)),
        # The Monday after the clocks went forward (29 March 2026): 09:00 in Oslo is 07:00 UTC.
        (datetime(2026, 3, 30, 8, 59, tzinfo=OSLO), False, datetime(2026, 3, 30, 7, 0, tzinfo=UTC)),
    ],
)
def test_expert_team_is_open_by_its_own_hours_in_oslo(
    now: datetime, open_: bool, next_opening: datetime | None
) -> None:
    status = by_id("expert_team").status(now)
    assert status is not None
    assert status.open is open_
    assert status.next_opening == next_opening  # aware datetimes compare as instants


def test_services_without_a_schedule_make_no_claim() -> None:
    monday = datetime(2026, 11, 30, 12, 0, tzinfo=OSLO)
    assert by_id("police").status(monday) is None  # always open: listed as such, not "open now"
    assert by_id("helpline").status(monday) is None  # the line's own hours are the service's config
    assert by_id("kors_pa_halsen").status(monday) is None  # hours not confirmed


def test_who_a_scheduled_service_is_named_for() -> None:
    assert [r.id for r in scheduled_for(professional=True, under_18=None)] == ["expert_team"]
    assert [r.id for r in scheduled_for(professional=True, under_18=True)] == ["expert_team"]
    assert [r.id for r in scheduled_for(professional=False, under_18=False)] == ["expert_team"]
    assert [r.id for r in scheduled_for(professional=False, under_18=True)] == []  # the team is for 18+


def test_around_the_clock_fits_the_age() -> None:
    young = {r.id for r in around_the_clock(True)}
    adult = {r.id for r in around_the_clock(False)}
    assert "alarmtelefonen" in young
    assert "alarmtelefonen" not in adult
    assert "vo_linjen" in adult
    assert "vo_linjen" not in young
    # Every 24/7 list repeats the emergency numbers, and names UDops for people abroad (issue 16).
    assert {"police", "ambulance", "fire", "police_non_emergency", "udops"} <= young & adult


def test_a_wrong_hours_value_names_the_service() -> None:
    with pytest.raises(ValueError, match="resource x: hours must be"):
        _parse({"id": "x", "name": "X", "contact": "1", "hours": "weekdays"})
    with pytest.raises(ValueError, match=r"resource x\.hours"):
        _parse({"id": "x", "name": "X", "contact": "1", "hours": {"mon": ["9-5"]}})


def test_line_is_the_name_and_number_or_the_site() -> None:
    assert by_id("vo_linjen").line() == "VO-linjen 116 006"
    assert by_id("dinutvei").line() == "dinutvei.no"
    assert isinstance(by_id("dinutvei"), Resource)
