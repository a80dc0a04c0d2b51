"""Follow-up cases through the console's API, on both databases: codes, encrypted alias and notes,
activities, concern decisions, closing, and the retention that deletes a case but keeps its counts."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from intake.retention import purge
from intake.storage.models import ActivityRecordRow, CaseActivityRow, CaseRow, ConcernDecisionRow
from tests.console.conftest import Console
from tests.console.staff_client import Staff
from tests.integration.conftest import fetch

NEW_CASE = {"origin": "shelter", "consent_date": "2022-01-10", "age_group": "adult", "gender": "woman",
            "alias": "Sara (bor hos tanta)"}  # fmt: skip


async def post_json(staff: Staff, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = await staff.post(path, body)
    assert response.status == status, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def test_a_case_gets_a_random_code_and_its_alias_is_stored_only_encrypted(console: Console) -> None:
    anna = await console.signed_in("anna")
    opened = await post_json(anna, "cases", NEW_CASE)
    year = console.wiring.service.clock().year
    assert re.fullmatch(rf"K-{year}-\d{{4}}", opened["code"])
    (row,) = await fetch(console.wiring.db, select(CaseRow))
    assert row.alias_enc is not None
    assert b"Sara" not in row.alias_enc
    assert (row.origin, row.responsible, row.status) == ("shelter", "anna", "open")

    shown = await (await anna.get(f"cases/{opened['id']}")).json()
    assert (shown["code"], shown["alias"], shown["consent_date"]) == (
        opened["code"],
        "Sara (bor hos tanta)",
        "2022-01-10",
    )
    listing = await (await anna.get("cases")).json()
    assert [c["code"] for c in listing["cases"]] == [opened["code"]]


async def test_activities_and_decisions_are_logged_with_encrypted_notes_and_counted(console: Console) -> None:
    anna = await console.signed_in("anna")
    case = await post_json(anna, "cases", NEW_CASE)
    await post_json(anna, f"cases/{case['id']}/activities", {"kind": "nav", "date": "2022-03-04",
                                                              "note": "NAV-møte om bolig"})  # fmt: skip
    await post_json(anna, f"cases/{case['id']}/activities", {"kind": "mail_agreement", "date": "2022-08-01"})
    decision = {"date": "2022-03-05", "duty": "notify_child_welfare", "decision": "not_acted",
                "reason": "Over 18; ingen barn i hjemmet"}  # fmt: skip
    await post_json(anna, f"cases/{case['id']}/decisions", decision)

    (activity, _) = await fetch(console.wiring.db, select(CaseActivityRow).order_by(CaseActivityRow.id))
    assert activity.note_enc is not None
    assert b"NAV" not in activity.note_enc
    (stored,) = await fetch(console.wiring.db, select(ConcernDecisionRow))
    assert b"Over 18" not in stored.reason_enc
    shown = await (await anna.get(f"cases/{case['id']}")).json()
    assert [(a["kind"], a["date"], a["note"], a["by"]) for a in shown["activities"]] == [
        ("nav", "2022-03-04", "NAV-møte om bolig", "anna"),
        ("mail_agreement", "2022-08-01", None, "anna"),
    ]
    assert [(d["duty"], d["decision"], d["reason"], d["by"]) for d in shown["decisions"]] == [
        ("notify_child_welfare", "not_acted", "Over 18; ingen barn i hjemmet", "anna")
    ]
    counted = await fetch(console.wiring.db, select(ActivityRecordRow).order_by(ActivityRecordRow.id))
    assert [(r.month, r.origin, r.kind) for r in counted] == [
        ("2022-03", "shelter", "nav"),
        ("2022-08", "shelter", "mail_agreement"),
        ("2022-03", "shelter", "decision:notify_child_welfare:not_acted"),
    ]


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("cases", {**NEW_CASE, "origin": "school"}, 400, "origin: 'school' is not one of"),
        ("cases", {**NEW_CASE, "address": "Storgata 1"}, 400, "address: no such field"),
        ("cases", {**NEW_CASE, "consent_date": "2022-02-30"}, 400, "consent_date: '2022-02-30' is not"),
        ("cases", {**NEW_CASE, "alias": "x" * 65}, 400, "alias: text of at most 64"),
        ("cases/{id}/activities", {"kind": "coffee", "date": "2022-01-01"}, 400, "kind: 'coffee'"),
        ("cases/{id}/activities", {"kind": "nav"}, 400, "date: required"),
        ("cases/{id}/activities", {"kind": "nav", "date": "2999-01-01"}, 400, "date: 2999-01-01 is in"),
        ("cases/{id}/decisions", {"date": "2022-01-01", "duty": "avert", "decision": "acted"}, 400,
         "reason: required"),
        ("cases/999999/activities", {"kind": "nav", "date": "2022-01-01"}, 404, "no such case"),
        ("cases/0x1/activities", {"kind": "nav", "date": "2022-01-01"}, 404, "no such case"),
        ("cases/99999999999999999999999/close", {}, 404, "no such case"),
    ],
)  # fmt: skip
async def test_bad_input_is_refused_with_a_clear_message(
    console: Console, path: str, body: dict[str, Any], status: int, error: str
) -> None:
    anna = await console.signed_in("anna")
    case = await post_json(anna, "cases", NEW_CASE)
    answer = await post_json(anna, path.format(id=case["id"]), body, status)
    assert answer["error"].startswith(error), answer


async def test_a_closed_case_takes_no_more_activities(console: Console) -> None:
    anna = await console.signed_in("anna")
    case = await post_json(anna, "cases", NEW_CASE)
    assert await post_json(anna, f"cases/{case['id']}/close", {}, 200) == {"ok": True}
    answer = await post_json(
        anna, f"cases/{case['id']}/activities", {"kind": "nav", "date": "2022-01-01"}, 409
    )
    assert answer == {"error": "the case is closed"}
    assert (await (await anna.get(f"cases/{case['id']}")).json())["status"] == "closed"


async def test_retention_deletes_a_closed_case_after_five_years_and_keeps_its_counts(
    console: Console,
) -> None:
    anna = await console.signed_in("anna")
    old, recent, still_open = [await post_json(anna, "cases", NEW_CASE) for _ in range(3)]
    for case in (old, recent, still_open):
        await post_json(anna, f"cases/{case['id']}/activities", {"kind": "in_person", "date": "2022-05-01",
                                                                  "note": "møtte på kafé"})  # fmt: skip
    for case in (old, recent):
        await post_json(anna, f"cases/{case['id']}/close", {}, 200)
    db = console.wiring.db
    now = console.wiring.service.clock()
    async with db.uow() as uow:
        for case_id, closed in (
            (old["id"], now - timedelta(days=5 * 366)),
            (recent["id"], now - timedelta(days=4 * 365)),
        ):
            row = await uow.cases.get(case_id)
            assert row is not None
            row.closed_at = closed
        await uow.commit()

    purged = await purge(db, now, retention_days=30)
    assert purged.cases == 1
    assert sorted(r.id for r in await fetch(db, select(CaseRow))) == [recent["id"], still_open["id"]]
    assert sorted(a.case_id for a in await fetch(db, select(CaseActivityRow))) == [
        recent["id"],
        still_open["id"],
    ]
    # The statistics keep all three activities, linked to no case.
    assert len(await fetch(db, select(ActivityRecordRow))) == 3

    # Configurable per line: with three years, the one closed four years ago goes too.
    assert (await purge(db, now, retention_days=30, case_years=3)).cases == 1
    assert [r.id for r in await fetch(db, select(CaseRow))] == [still_open["id"]]


async def test_a_case_opened_from_a_conversation_takes_what_the_intake_found(console: Console) -> None:
    _, conversation = await console.queued(
        "Hello", "en", "yes", "self", "forced_marriage", "done", "under_18", "woman"
    )
    anna = await console.signed_in("anna")
    opened = await post_json(anna, "cases", {"conversation": conversation, "consent_date": "2026-01-05"})
    shown = await (await anna.get(f"cases/{opened['id']}")).json()
    assert (shown["origin"], shown["age_group"], shown["gender"]) == ("helpline", "under_18", "woman")
    # What staff give wins over the intake's answers.
    opened = await post_json(
        anna, "cases", {"conversation": conversation, "origin": "anonymous", "gender": "trans"}
    )
    shown = await (await anna.get(f"cases/{opened['id']}")).json()
    assert (shown["origin"], shown["age_group"], shown["gender"]) == ("anonymous", "under_18", "trans")
    missing = await post_json(anna, "cases", {"conversation": "00000000-0000-4000-8000-000000000000"}, 404)
    assert missing == {"error": "conversation: no such conversation"}
