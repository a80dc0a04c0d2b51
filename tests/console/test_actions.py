"""Every action of the console's JSON API doing what it says, with its effect on the person's web chat."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bots.channels.webchat import chat as webchat_module
from intake import content as c
from intake.ending import REOPEN_WINDOW
from intake.storage.models import AuditRow, OutboxRow, StatRecordRow
from tests.console.conftest import Console
from tests.integration.conftest import fetch
from tests.said import first_lines

SUMMARY = {
    "id", "status", "channel", "language", "language_name", "rtl", "role", "kind", "topics", "age_group",
    "gender", "danger", "under18", "outside_hours", "queued_at", "waiting_seconds", "claimed_by", "mine",
    "flood_source",
}  # fmt: skip
MESSAGE = {"id", "direction", "sender", "text", "attachments", "at", "delivery"}
ENDED = "This conversation has ended. You can write here again at any time."
INTAKE_ANSWERS = ("en", "yes", "self", "forced_marriage", "done", "under_18", "woman")


@pytest.fixture(autouse=True)
def short_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    # A poll with nothing to deliver answers empty at once instead of holding for 25 seconds.
    monkeypatch.setattr(webchat_module, "POLL_SECONDS", 0.05)


async def audit_rows(console: Console) -> list[tuple[str, str, str | None]]:
    rows = await fetch(console.wiring.db, select(AuditRow).order_by(AuditRow.id))
    return [(r.staff_name, r.action, r.conversation_id) for r in rows if r.action != "sign_in"]


async def test_queue_lists_who_waits_most_urgent_first(console: Console) -> None:
    _, plain = await console.queued("Hello")
    _, young = await console.queued("Hello", *INTAKE_ANSWERS)
    _, danger = await console.queued("They will kill me if I say no")
    anna = await console.signed_in("anna")
    data = await anna.queue()
    assert data["staff"] == "anna"
    assert data["mine"] == []
    assert [x["id"] for x in data["queue"]] == [danger, young, plain]
    for summary in data["queue"]:
        # Waiting cards: when the conversation last moved and what nobody has answered; never its words.
        assert set(summary) == SUMMARY | {"last_at", "unanswered"}
        assert isinstance(summary["last_at"], str)
        assert summary["unanswered"]
        assert all(isinstance(x, int) for x in summary["unanswered"])
        assert (summary["status"], summary["channel"], summary["claimed_by"]) == ("queued", "webchat", None)
        assert summary["mine"] is False
        assert summary["waiting_seconds"] >= 0
        datetime.fromisoformat(summary["queued_at"])
    first, second, third = data["queue"]
    assert (first["danger"], second["under18"], third["danger"], third["under18"]) == (
        True,
        True,
        False,
        False,
    )
    assert (second["role"], second["topics"], second["age_group"], second["gender"]) == (
        "self",
        ["forced_marriage"],
        "under_18",
        "woman",
    )
    assert (second["language"], second["language_name"], second["rtl"]) == ("en", "English", False)


async def test_opening_a_conversation_shows_it_and_is_audited_without_text(console: Console) -> None:
    chat, conversation = await console.queued("My brother reads my phone")
    anna = await console.signed_in("anna")
    assert await audit_rows(console) == []
    data = await anna.conversation(conversation)
    detail = data["conversation"]
    assert set(detail) >= SUMMARY | {"hostile", "blocked_until", "opted_out", "erased", "returning"}
    assert (detail["id"], detail["status"], detail["hostile"], detail["erased"]) == (
        conversation,
        "queued",
        False,
        False,
    )
    assert (detail["blocked_until"], detail["opted_out"], detail["returning"]) == (None, False, 0)
    messages = data["messages"]
    assert all(set(m) == MESSAGE for m in messages)
    assert (messages[0]["direction"], messages[0]["sender"]) == ("in", "person")
    assert messages[0]["text"] == "My brother reads my phone"
    assert {m["direction"] for m in messages} == {"in", "out"}
    assert data["earlier"] == []
    assert data["can_reply"] is False  # only opened, not claimed
    canned = {x["id"]: x["text"] for x in data["canned"]}
    assert canned["safe_now"] == c.CANNED["safe_now"]
    assert "DELETE" in canned["erase"]  # the person's own delete word, in their language

    # Who, which conversation, when: and nothing the person wrote.
    assert await audit_rows(console) == [("anna", "open", conversation)]
    (row,) = [r for r in await fetch(console.wiring.db, select(AuditRow)) if r.action == "open"]
    assert "brother" not in json.dumps([row.staff_name, row.action, row.conversation_id])
    # The person's address (for the web chat, their token) is never shown to staff.
    assert chat.token not in json.dumps(data)
    assert chat.token not in json.dumps(await anna.queue())


async def test_claim_moves_it_to_mine_and_tells_the_person(console: Console) -> None:
    chat, conversation = await console.queued()
    await chat.poll()
    anna = await console.signed_in("anna")
    assert await anna.act(conversation, "claim") == {"ok": True}

    data = await anna.queue()
    assert data["queue"] == []
    (mine,) = data["mine"]
    assert (mine["id"], mine["status"], mine["claimed_by"], mine["mine"]) == (
        conversation,
        "claimed",
        "anna",
        True,
    )
    detail = await anna.conversation(conversation)
    assert detail["can_reply"] is True
    assert detail["messages"][-2]["direction"] == "system"
    assert detail["messages"][-2]["text"] == "Tatt av anna"
    # The person learns that a human is there.
    (joined,) = await chat.poll()
    assert (joined["text"], joined["sender"]) == (c.STAFF_JOINED, "staff")
    assert ("anna", "claim", conversation) in await audit_rows(console)


async def test_a_staff_reply_reaches_the_persons_web_chat(console: Console) -> None:
    chat, conversation = await console.queued()
    anna = await console.signed_in("anna")
    await anna.act(conversation, "claim")
    await chat.poll()
    answer = "Hi, I am Anna. I am reading what you wrote."
    result = await anna.act(conversation, "messages", {"text": f"  {answer}\n"})
    assert result["ok"] is True
    assert result["held"] is False
    assert isinstance(result["outbox_id"], int)

    (reply,) = await chat.poll()
    assert (reply["id"], reply["text"], reply["sender"]) == (result["outbox_id"], answer, "staff")
    last = (await anna.conversation(conversation))["messages"][-1]
    assert (last["direction"], last["sender"], last["text"]) == ("out", "staff", answer)
    assert last["delivery"] == "sent"  # the chat has fetched it
    assert ("anna", "messages", conversation) in await audit_rows(console)


async def test_a_note_is_internal_and_never_sent(console: Console) -> None:
    chat, conversation = await console.queued()
    await chat.poll()
    anna = await console.signed_in("anna")
    note = "Asked about school; check again tomorrow."
    assert await anna.act(conversation, "notes", {"text": note}) == {"ok": True}
    last = (await anna.conversation(conversation))["messages"][-1]
    assert (last["direction"], last["sender"], last["text"]) == ("note", "anna", note)
    assert await chat.poll() == []
    outbox = await fetch(console.wiring.db, select(OutboxRow))
    assert all(note not in json.dumps(row.payload) for row in outbox)


async def test_release_puts_it_back_in_the_queue_for_anyone(console: Console) -> None:
    _, conversation = await console.queued()
    anna, bjorn = await console.signed_in("anna"), await console.signed_in("bjorn")
    await anna.act(conversation, "claim")
    assert await anna.act(conversation, "release") == {"ok": True}
    data = await anna.queue()
    assert data["mine"] == []
    (waiting,) = data["queue"]
    assert (waiting["id"], waiting["status"], waiting["claimed_by"]) == (conversation, "queued", None)
    assert (await anna.post(f"conversations/{conversation}/messages", {"text": "hello?"})).status == 403
    assert await bjorn.act(conversation, "claim") == {"ok": True}
    texts = [m["text"] for m in (await bjorn.conversation(conversation))["messages"]]
    assert "Satt tilbake i køen av anna" in texts


async def test_transfer_hands_it_to_another_member(console: Console) -> None:
    chat, conversation = await console.queued()
    anna, bjorn = await console.signed_in("anna"), await console.signed_in("bjorn")
    await anna.act(conversation, "claim")
    assert await anna.act(conversation, "transfer", {"to": "bjorn"}) == {"ok": True}
    assert (await anna.queue())["mine"] == []
    (held,) = (await bjorn.queue())["mine"]
    assert (held["id"], held["claimed_by"], held["mine"]) == (conversation, "bjorn", True)
    assert (await anna.post(f"conversations/{conversation}/messages", {"text": "still me"})).status == 403
    await bjorn.act(conversation, "messages", {"text": "I am Bjørn, I take over from Anna."})
    assert [m["text"] for m in await chat.poll()][-1] == "I am Bjørn, I take over from Anna."
    texts = [m["text"] for m in (await bjorn.conversation(conversation))["messages"]]
    assert "Overført av anna til bjorn" in texts


async def stat_records(console: Console) -> list[StatRecordRow]:
    return await fetch(console.wiring.db, select(StatRecordRow))


async def test_close_corrects_the_anonymous_record_with_the_final_categorisation(console: Console) -> None:
    chat, conversation = await console.queued("Hello", *INTAKE_ANSWERS)
    (before,) = await stat_records(console)
    assert (before.role, before.topics, before.age_group, before.gender) == (
        "self",
        ["forced_marriage"],
        "under_18",
        "woman",
    )
    assert before.closed_by_staff is False
    anna = await console.signed_in("anna")
    await anna.act(conversation, "claim")
    final = {
        "role": "family",
        "topics": ["fgm", "abroad"],
        "age_group": "adult",
        "kind": "information",
        "country": "Somalia",
        "follow_up": True,
    }
    assert await anna.act(conversation, "close", final) == {"ok": True}

    # The same record, corrected, not a second one; what staff left out (gender) stays as the intake had it.
    (after,) = await stat_records(console)
    assert after.key == before.key
    assert (after.role, after.topics, after.age_group, after.gender, after.kind) == (
        "family",
        ["fgm", "abroad"],
        "adult",
        "woman",
        "information",
    )
    # Typed as a name, kept as its ISO 3166 code.
    assert (after.country, after.follow_up, after.closed_by_staff) == ("SO", True, True)
    assert after.month == before.month
    closed = await console.conversation_of(chat)
    assert (closed.status, closed.stat_key, closed.claimed_by) == ("closed", None, "anna")
    assert closed.closed_at is not None
    queue = await anna.queue()
    assert (queue["queue"], queue["mine"]) == ([], [])
    detail = await anna.conversation(conversation)
    assert (detail["conversation"]["status"], detail["can_reply"]) == ("closed", False)
    assert detail["messages"][-2]["text"] == "Avsluttet av anna"
    assert detail["messages"][-1]["text"] == ENDED


async def test_closing_with_nothing_chosen_keeps_what_the_intake_found(console: Console) -> None:
    _, conversation = await console.queued("Hello", *INTAKE_ANSWERS)
    (before,) = await stat_records(console)
    anna = await console.signed_in("anna")
    await anna.act(conversation, "claim")
    await anna.act(conversation, "close", {"role": "", "topics": None})
    (after,) = await stat_records(console)
    assert (after.role, after.topics, after.age_group, after.gender) == (
        before.role,
        before.topics,
        before.age_group,
        before.gender,
    )
    assert (after.follow_up, after.country, after.closed_by_staff) == (False, None, True)


async def test_a_blocked_sender_gets_one_neutral_line_then_silence(console: Console) -> None:
    chat, conversation = await console.queued()
    await chat.poll()
    anna = await console.signed_in("anna")
    before = datetime.fromisoformat((await anna.queue())["queue"][0]["queued_at"])
    assert await anna.act(conversation, "block", {"hours": 2}) == {"ok": True}
    detail = (await anna.conversation(conversation))["conversation"]
    until = datetime.fromisoformat(detail["blocked_until"])
    assert before + timedelta(hours=2) <= until <= before + timedelta(hours=2, minutes=5)

    assert first_lines(await chat.says("are you there?")) == [c.BLOCKED]
    assert await chat.says("hello??") == []
    # Still stored for staff, who may need to read what a hostile sender writes.
    messages = (await anna.conversation(conversation))["messages"]
    assert [m["text"] for m in messages if m["direction"] == "in"][-2:] == ["are you there?", "hello??"]
    assert "Avsender blokkert i 2 t av anna" in [m["text"] for m in messages]


async def test_flagging_a_contact_as_possibly_hostile_and_back(console: Console) -> None:
    _, conversation = await console.queued()
    anna = await console.signed_in("anna")
    assert await anna.act(conversation, "flag", {"hostile": True}) == {"ok": True}
    assert (await anna.conversation(conversation))["conversation"]["hostile"] is True
    assert await anna.act(conversation, "flag", {"hostile": False}) == {"ok": True}
    data = await anna.conversation(conversation)
    assert data["conversation"]["hostile"] is False
    texts = [m["text"] for m in data["messages"]]
    assert "Merket som mulig fiendtlig av anna" in texts
    assert "Merket «mulig fiendtlig» fjernet av anna" in texts


async def test_a_person_who_writes_again_shows_their_earlier_conversation(console: Console) -> None:
    chat, first = await console.queued()
    anna = await console.signed_in("anna")
    await anna.act(first, "claim")
    await anna.act(first, "close", {})
    # Past the reopen window (sooner, the same conversation reopens: tests/console/test_ending.py).
    later = datetime.now(UTC) + REOPEN_WINDOW + timedelta(minutes=1)
    console.wiring.service.clock = lambda: later
    await chat.send("It is me again")
    second = (await console.conversation_of(chat)).id
    assert second != first
    data = await anna.conversation(second)
    assert data["conversation"]["returning"] == 1
    assert [(x["id"], x["status"]) for x in data["earlier"]] == [(first, "closed")]


async def test_staff_names_for_transfers_leave_out_disabled_members(console: Console) -> None:
    anna = await console.signed_in("anna")
    for name in ("cecilie", "bjorn", "dina"):
        await console.staff(name)
    await console.wiring.accounts.set_disabled("dina")
    assert await anna.read("staff") == {"staff": ["anna", "bjorn", "cecilie"]}


async def test_the_audit_log_is_for_administrators(console: Console) -> None:
    _, conversation = await console.queued("Something private")
    anna = await console.signed_in("anna")
    await anna.conversation(conversation)
    await anna.act(conversation, "claim")
    await anna.act(conversation, "messages", {"text": "A reply nobody else reads"})
    refused = await anna.get("audit")
    assert refused.status == 403
    assert "error" in await refused.json()

    admin = await console.signed_in("olga", admin=True)
    entries = (await admin.read("audit"))["audit"]
    # Newest first.
    assert [(e["staff"], e["action"], e["conversation"]) for e in entries] == [
        ("olga", "sign_in", None),
        ("anna", "messages", conversation),
        ("anna", "claim", conversation),
        ("anna", "open", conversation),
        ("anna", "sign_in", None),
    ]
    assert all(datetime.fromisoformat(e["at"]) for e in entries)
    text = json.dumps(entries)
    assert "private" not in text
    assert "nobody" not in text
