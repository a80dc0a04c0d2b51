"""Registering a contact that did not come through the bot: POST /staff/api/records, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from intake.storage.models import StatRecordRow
from tests.console.conftest import Console
from tests.integration.conftest import fetch

PHONE_CALL: dict[str, Any] = {
    "channel": "phone",
    "month": "2022-03",
    "role": "family",
    "kind": "individual",
    "age_group": "under_18",
    "gender": "trans",
    "topics": ["forced_marriage_pressure", "abroad_threat"],
    "country": "iq",
    "follow_up": True,
}


async def test_a_phone_call_is_registered_as_one_anonymous_record(console: Console) -> None:
    anna = await console.signed_in("anna")
    response = await anna.post("records", PHONE_CALL)
    assert response.status == 201, await response.text()
    (record,) = await fetch(console.wiring.db, select(StatRecordRow))
    assert (record.month, record.channel, record.role, record.kind) == (
        "2022-03",
        "phone",
        "family",
        "individual",
    )
    assert (record.age_group, record.gender, record.country, record.follow_up) == (
        "under_18",
        "trans",
        "IQ",
        True,
    )
    # A sub-kind counts under its main topic too.
    assert record.topics == ["forced_marriage", "abroad", "forced_marriage_pressure", "abroad_threat"]
    assert record.topic_bits == 0b1_0001_0000_1010
    assert (record.outside_hours, record.closed_by_staff) == (False, True)


async def test_what_is_left_out_is_not_stated_and_the_month_is_this_one(console: Console) -> None:
    anna = await console.signed_in("anna")
    response = await anna.post("records", {"channel": "email"})
    assert response.status == 201, await response.text()
    (record,) = await fetch(console.wiring.db, select(StatRecordRow))
    now = console.wiring.service.clock()
    assert record.month == f"{now.year:04d}-{now.month:02d}"
    assert (record.role, record.kind, record.age_group, record.gender, record.topics, record.country) == (
        None,
        None,
        "not_stated",
        "not_stated",
        [],
        None,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channel", "fax"),
        ("channel", None),
        ("role", "teacher"),
        ("kind", "lecture"),
        ("age_group", 17),
        ("gender", "female"),
        ("topics", ["forced_marriage", "curses"]),
        ("topics", "fgm"),
        ("country", "Atlantis"),
        ("month", "2022-13"),
        ("month", "3000-01"),
        ("follow_up", "yes"),
        ("colour", "blue"),
    ],
)
async def test_an_unknown_id_is_400_naming_the_field_and_nothing_is_stored(
    console: Console, field: str, value: object
) -> None:
    anna = await console.signed_in("anna")
    response = await anna.post("records", {**PHONE_CALL, field: value})
    assert response.status == 400
    error = (await response.json())["error"]
    assert error.startswith(f"{field}: "), error
    assert await fetch(console.wiring.db, select(StatRecordRow)) == []


async def test_registering_needs_a_signed_in_staff_member_and_the_csrf_token(console: Console) -> None:
    anna = await console.signed_in("anna")
    assert (await anna.post("records", PHONE_CALL, csrf="")).status == 403
    anna.token = "forged"
    assert (await anna.post("records", PHONE_CALL)).status == 401
    assert await fetch(console.wiring.db, select(StatRecordRow)) == []
