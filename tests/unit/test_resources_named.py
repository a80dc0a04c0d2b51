"""The help services the bot names, where they fit (issue 16, finding 5; DOMAIN.md is the source): every
closed answer lists 112, 113, 110, the non-emergency police and UDops; the line's phone when only the chat is
closed; Kors på halsen to under-18s without a claim about its hours; advice per topic and situation; each
service described in the person's language."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from intake import content as c
from intake.flow import FlowContext, FlowInput, FlowState, StepResult, step
from tests.conftest import OSLO
from tests.said import said

Ctx = Callable[..., FlowContext]
SATURDAY = datetime(2026, 11, 28, 20, 0, tzinfo=OSLO)
MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=OSLO)


def run(ctx: FlowContext, *inputs: tuple[str, str | None]) -> tuple[FlowState, list[str]]:
    """The last input's replies, and after the last question every group of information it offers, each
    asked for (they no longer arrive unasked)."""
    state, result = FlowState(), StepResult(FlowState())
    for text, choice in inputs:
        result = step(state, FlowInput(text, choice), ctx)
        state = result.state
    texts = [r.text for r in result.replies]
    offered = result.replies[-1].choices if result.replies and state.offered else ()
    for group in offered:
        texts += [r.text for r in step(state, FlowInput("", group.id), ctx).replies]
    return state, texts


def intake(lang: str, role: str, topic: str, age: str, situation: str) -> list[tuple[str, str | None]]:
    answers = [("hi", None), ("", lang), ("", "yes"), ("", role), ("", topic), ("", "done"), ("", age)]
    return [*answers, ("", "skip"), ("", situation)]


def test_closed_lists_the_emergency_numbers_the_non_emergency_police_and_udops(make_ctx: Ctx) -> None:
    ctx = make_ctx(now=SATURDAY, is_open=False, next_opening=MONDAY)
    _, texts = run(ctx, *intake("en", "self", "social_control", "adult", "not_now"))
    joined = "\n".join(texts)
    for number in ("112", "113", "110", "02800", "+47 23 95 00 00", "116 006", "116 123"):
        assert number in joined, number
    assert "Police (not urgent) 02800" in joined  # never plain "Politiet"
    assert "Fire 110" in joined
    assert "116 111" not in joined  # an adult: not the children's line


def test_the_lines_phone_is_named_only_while_the_chat_is_closed_and_the_phone_open(make_ctx: Ctx) -> None:
    closed_chat = make_ctx(is_open=False, next_opening=MONDAY, phone_open=True)
    _, texts = run(closed_chat, *intake("en", "self", "fgm", "adult", "not_now"))
    assert "Our phone 815 55 201: open now." in "\n".join(texts)
    all_closed = make_ctx(now=SATURDAY, is_open=False, next_opening=MONDAY, phone_open=False)
    _, texts = run(all_closed, *intake("en", "self", "fgm", "adult", "not_now"))
    assert "815 55 201" not in "\n".join(texts)


def test_under_18_hears_of_kors_pa_halsen_without_any_claim_about_its_hours(make_ctx: Ctx) -> None:
    _, texts = run(make_ctx(), *intake("en", "self", "fgm", "under_18", "not_now"))
    (line,) = [t for t in texts if "800 33 321" in t]
    assert line == said(
        make_ctx().texts("en"), c.ALSO_FOR_UNDER_18, service="Kors på halsen (under 18) 800 33 321"
    )
    for claim in ("open", "day and night", "opens", "evening"):
        assert claim not in line.lower()
    _, adult = run(make_ctx(), *intake("en", "self", "fgm", "adult", "not_now"))
    assert "800 33 321" not in "\n".join(adult)


@pytest.mark.parametrize(
    ("topic", "words"),
    [
        ("honour_violence", "The police can protect you"),
        ("close_violence", "crisis centre (krisesenter)"),
        ("other", "dinutvei.no shows help near you"),
    ],
)
def test_every_topic_gets_its_own_information(make_ctx: Ctx, topic: str, words: str) -> None:
    _, texts = run(make_ctx(), *intake("en", "self", topic, "adult", "skip"))
    assert any(words in t for t in texts), texts


def test_someone_who_wants_to_get_away_hears_of_a_lawyer(make_ctx: Ctx) -> None:
    _, texts = run(make_ctx(), *intake("nb", "self", "forced_marriage", "adult", "wants_out"))
    assert any("bistandsadvokat" in t for t in texts)


def test_someone_who_needs_time_hears_what_violence_does_to_children(make_ctx: Ctx) -> None:
    _, texts = run(make_ctx(), *intake("en", "self", "close_violence", "adult", "needs_time"))
    assert said(make_ctx().texts("en"), c.SITUATION_MORE["needs_time"]) in texts


def test_travel_danger_gets_the_advice_not_to_travel_and_udops(make_ctx: Ctx) -> None:
    _, texts = run(make_ctx(), ("hi", None), ("", "en"), ("we fly tomorrow from the airport", None))
    joined = "\n".join(texts)
    assert "Do not travel" in joined
    assert "+47 23 95 00 00" in joined


def test_self_harm_names_113_and_mental_helse(make_ctx: Ctx) -> None:
    _, texts = run(make_ctx(), ("hi", None), ("", "en"), ("I think about suicide", None))
    (line,) = [t for t in texts if "116 123" in t]
    assert "113" in line
    assert "Mental Helse" in line


def test_services_are_described_in_the_persons_language(make_ctx: Ctx) -> None:
    ctx = make_ctx(now=SATURDAY, is_open=False, next_opening=MONDAY)
    _, texts = run(ctx, *intake("nb", "self", "fgm", "under_18", "not_now"))
    joined = "\n".join(texts)
    assert "Politiet (ikke akutt) 02800" in joined
    assert "Utenriksdepartementet, for deg i utlandet +47 23 95 00 00" in joined
