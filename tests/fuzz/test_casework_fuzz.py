"""The records and cases routes with bodies of every shape: never an error, and a refused request changes
nothing (the harness compares every table before and after)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from intake.categories import FOLLOW_UP_ACTIVITIES, AgeGroup, CaseOrigin, Gender, RecordChannel, Role
from tests.fuzz.harness import Expect, Request, Service
from tests.fuzz.strategies import documents, json_values, raw_bodies, texts
from tests.fuzz.test_routes_fuzz import FUZZ, headers


def ids(values: Any) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(sorted(str(v) for v in values)), st.just(""), st.none(), json_values())


RECORD = st.fixed_dictionaries(
    {},
    optional={
        "channel": ids(RecordChannel), "month": st.one_of(st.just("2022-03"), texts(), json_values()),
        "role": ids(Role), "kind": ids(["individual", "information"]), "age_group": ids(AgeGroup),
        "gender": ids(Gender),
        "topics": st.one_of(st.lists(ids(["fgm", "abroad_threat"]), max_size=3), json_values()),
        "country": st.one_of(st.sampled_from(["SO", "Somalia", "XX"]), texts(), json_values()),
        "follow_up": st.one_of(st.booleans(), json_values()),
    },
)  # fmt: skip
CASE = st.fixed_dictionaries(
    {},
    optional={
        "origin": ids(CaseOrigin), "consent_date": st.one_of(st.just("2022-01-31"), texts(), json_values()),
        "age_group": ids(AgeGroup), "gender": ids(Gender), "alias": st.one_of(texts(), json_values()),
        "address": texts(),
    },
)  # fmt: skip
ACTIVITY = st.fixed_dictionaries(
    {},
    optional={
        "kind": ids([o.id for o in FOLLOW_UP_ACTIVITIES]), "date": st.one_of(st.just("2022-02-01"), texts()),
        "note": st.one_of(texts(), json_values()),
    },
)  # fmt: skip


async def post(service: Service, target: str, body: bytes) -> None:
    request = Request("POST", target, body, {**headers("application/json"), **service.staff_headers})
    await service.check(request, Expect.EITHER)


@FUZZ
@given(body=st.one_of(documents(RECORD), raw_bodies()))
async def test_register_a_record(service: Service, body: bytes) -> None:
    await post(service, "/staff/api/records", body)


@FUZZ
@given(body=st.one_of(documents(CASE), raw_bodies()))
async def test_open_a_case(service: Service, body: bytes) -> None:
    await post(service, "/staff/api/cases", body)


@FUZZ
@given(
    body=st.one_of(documents(ACTIVITY), raw_bodies()), case=st.sampled_from(["1", "2", "0", "x", "9" * 30])
)
async def test_log_an_activity(service: Service, body: bytes, case: str) -> None:
    await post(service, "/staff/api/cases", b'{"origin": "helpline"}')
    await post(service, f"/staff/api/cases/{case}/activities", body)
