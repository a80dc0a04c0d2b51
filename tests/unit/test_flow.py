"""Every path of the intake flow, driven as a person would: buttons, typed answers, skips, free text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake import content as c
from intake.flow import (
    Event,
    FlowContext,
    FlowInput,
    FlowState,
    Step,
    StepResult,
    compose,
    error_handoff,
    step,
)
from intake.i18n import Catalogs, default_locales_dir
from intake.keywords import default_table
from tests.conftest import OSLO, TUESDAY_10

Ctx = Callable[..., FlowContext]


@cache
def _catalogs() -> Catalogs:
    return Catalogs(default_locales_dir(), ("nb", "en"))


def shown(msgid: str, lang: str = "en", **fields: str) -> str:
    """A text as the person gets it: after its neutral first line, before its 112 line, keywords filled."""
    return compose(_catalogs().texts(lang), msgid, default_table(), **fields)


class Person:
    """Drives the flow and keeps the state between messages, as the service does through the database."""

    def __init__(self, ctx: FlowContext, hint: str | None = None) -> None:
        self.ctx = ctx
        self.state = FlowState()
        self.hint = hint
        self.results: list[StepResult] = []

    def says(self, text: str = "", choice: str | None = None, attachments: int = 0) -> StepResult:
        result = step(self.state, FlowInput(text, choice, self.hint, attachments), self.ctx)
        # Every state must survive the database round trip.
        self.state = FlowState.from_json(result.state.to_json())
        assert self.state == result.state
        self.results.append(result)
        return result

    def texts(self, result: StepResult | None = None) -> list[str]:
        return [r.text for r in (result or self.results[-1]).replies]

    def choices(self, result: StepResult | None = None) -> list[str]:
        return [ch.id for ch in (result or self.results[-1]).replies[-1].choices]


def with_more(person: Person) -> list[str]:
    """The hand-off's texts, then every group of information it offers, asked for by button."""
    texts = person.texts()
    for choice in person.choices():
        texts += person.texts(person.says(choice=choice))
    return texts


def en(person: Person) -> Person:
    person.says("hello")
    person.says(choice="en")
    return person


def test_first_contact_greets_naming_112_and_offers_languages_in_their_own_names(make_ctx: Ctx) -> None:
    person = Person(make_ctx())
    result = person.says("hei")
    assert "112" in result.replies[0].text
    assert result.replies[0].text.startswith("Hei")  # Norwegian is the default
    menu = result.replies[-1].choices
    assert [ch.id for ch in menu] == ["nb", "en"]
    assert [ch.label for ch in menu] == ["Norsk bokmål", "English"]
    assert person.state.step is Step.LANGUAGE


def test_phone_language_hint_picks_the_first_language(make_ctx: Ctx) -> None:
    person = Person(make_ctx(), hint="en-GB")
    result = person.says("hi")
    assert result.replies[0].text.startswith("Hi, thank you")
    assert person.state.lang == "en"


def test_whole_intake_by_buttons_self_under_18(make_ctx: Ctx) -> None:
    person = en(Person(make_ctx()))
    assert person.texts()[0] == shown(c.ASK_SAFE)
    person.says(choice="yes")
    assert person.texts() == [c.ASK_ROLE]
    person.says(choice="self")
    assert person.state.step is Step.TOPICS
    assert person.results[-1].replies[-1].multi
    person.says(choice="forced_marriage")
    assert person.texts() == [c.TOPIC_NOTED]
    assert "forced_marriage" not in person.choices()
    person.says(choice="abroad")
    person.says(choice="done")
    assert person.texts() == [c.ASK_AGE_SELF]
    person.says(choice="under_18")
    assert person.texts() == [c.ASK_GENDER]
    person.says(choice="woman")
    assert person.texts() == [c.ASK_SITUATION]
    result = person.says(choice="wants_out")
    essentials, offer = person.texts()
    assert essentials == "\n".join((c.HANDOFF_OPEN, c.KEY_ADVICE["self"]))
    assert offer == c.MORE_INFO
    assert result.events == {Event.HANDOFF, Event.INTAKE_COMPLETE}
    texts = with_more(person)
    assert shown(c.SITUATION_INFO["wants_out"]) in texts
    assert shown(c.TOPIC_INFO["forced_marriage"]) in texts
    assert shown(c.TOPIC_INFO["abroad"]) in texts
    assert shown(c.UNDER_18_INFO) in texts
    assert person.state == FlowState(
        step=Step.HANDED_OFF,
        lang="en",
        role="self",
        topics=("forced_marriage", "abroad"),
        age="under_18",
        gender="woman",
        situation="wants_out",
        intake_done=True,
        offered=("more_advice", "more_services", "more_always_open"),
    )


def test_whole_intake_by_typed_numbers_and_words_in_norwegian(make_ctx: Ctx) -> None:
    person = Person(make_ctx())
    person.says("hei")
    person.says("1")  # Norsk bokmål
    assert person.state.lang == "nb"
    person.says("ja")
    assert person.state.step is Step.ROLE
    person.says("Det gjelder meg")  # the label, typed
    assert person.state.role == "self"
    person.says("2 3")  # two topics at once ends the topic question
    assert person.state.topics == ("forced_marriage", "fgm")
    assert person.state.step is Step.AGE
    person.says("1")
    assert person.state.age == "under_18"
    person.says("hopp over")  # the skip keyword in Norwegian
    assert person.state.gender is None
    assert person.state.step is Step.SITUATION
    person.says("4")
    assert person.state.situation == "after"
    assert person.state.step is Step.HANDED_OFF
    assert person.texts()[0].startswith("Takk")
    assert person.texts()[-1] == "Vil du ha mer informasjon om noe av dette?"
    assert "Ingen kan se på kroppen" not in "\n".join(person.texts())


def test_every_question_can_be_skipped(make_ctx: Ctx) -> None:
    person = en(Person(make_ctx()))
    for _ in range(7):
        if person.state.step is Step.HANDED_OFF:
            break
        person.says("skip")
    assert person.state.step is Step.HANDED_OFF
    assert person.state.intake_done
    assert (person.state.role, person.state.topics, person.state.age, person.state.gender) == (
        None,
        (),
        None,
        None,
    )
    assert person.texts()[0].startswith(c.HANDOFF_OPEN)


def test_free_text_at_every_step_moves_on_and_never_traps(make_ctx: Ctx) -> None:
    person = Person(make_ctx(), hint="en")
    person.says("My parents want me to marry my cousin this summer")
    steps = []
    for _ in range(10):
        steps.append(person.state.step)
        if person.state.step is Step.HANDED_OFF:
            break
        result = person.says("I don't know what to say, it is complicated")
        assert result.replies, "every message gets an answer"
        assert c.NOTED in person.texts()
    assert person.state.step is Step.HANDED_OFF
    assert steps == [
        Step.LANGUAGE,
        Step.SAFE,
        Step.ROLE,
        Step.TOPICS,
        Step.AGE,
        Step.GENDER,
        Step.SITUATION,
        Step.HANDED_OFF,
    ]


def test_not_safe_pauses_and_a_later_message_resumes(make_ctx: Ctx) -> None:
    person = en(Person(make_ctx()))
    person.says(choice="no")
    assert person.texts() == [shown(c.SAFE_NO)]
    assert person.state.step is Step.PAUSED
    person.says("I can write now")
    assert person.texts() == [c.WELCOME_BACK, c.ASK_ROLE]
    assert person.state.step is Step.ROLE


def test_unsure_warns_about_the_lock_screen_and_goes_on(make_ctx: Ctx) -> None:
    person = en(Person(make_ctx()))
    person.says("Not sure")
    assert person.texts() == [shown(c.SAFE_UNSURE), c.ASK_ROLE]


def test_professional_is_asked_case_or_information_and_gets_guidance(make_ctx: Ctx) -> None:
    person = en(Person(make_ctx()))
    person.says(choice="yes")
    person.says(choice="professional")
    assert person.texts() == [c.ASK_KIND]
    person.says(choice="information")
    assert person.state.kind == "information"
    person.says(choice="fgm")
    person.says(choice="done")
    assert person.texts() == [c.ASK_AGE_OTHER]
    person.says(choice="adult")
    assert person.texts() == [c.ASK_GENDER_OTHER]
    person.says(choice="skip")
    assert person.texts()[0] == "\n".join((c.HANDOFF_OPEN, c.KEY_ADVICE["professional"]))
    texts = with_more(person)
    assert shown(c.ROLE_INFO["professional"]) in texts
    assert shown(c.PLAIN_MESSAGES) not in texts  # that is for the person it is about
    assert shown(c.TOPIC_INFO["fgm"]) in texts
    assert person.state.step is Step.HANDED_OFF  # no situation question for professionals


def test_family_member_gets_advice_for_relatives(make_ctx: Ctx) -> None:
    person = en(Person(make_ctx()))
    person.says(choice="yes")
    person.says(choice="family")
    person.says(choice="done")
    person.says(choice="under_18")
    person.says(choice="man")
    assert person.texts()[0] == "\n".join((c.HANDOFF_OPEN, c.KEY_ADVICE["family"]))
    more = with_more(person)
    assert shown(c.ROLE_INFO["family"]) in more
    assert shown(c.UNDER_18_INFO) in more


def test_closed_line_gives_next_opening_in_the_persons_language_and_24_7_services(make_ctx: Ctx) -> None:
    friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=OSLO)
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=OSLO)
    ctx = make_ctx(now=friday_evening, is_open=False, next_opening=monday)
    person = Person(ctx)
    person.says("hei")
    person.says(choice="nb")
    for _ in range(6):
        if person.state.step is not Step.HANDED_OFF:
            person.says("hopp over")
    essentials = person.texts()[0]
    assert "mandag 09:00" in essentials.split("\n")[0]
    assert essentials.split("\n")[-1] == "Er du i fare, ring 112."
    always = person.texts(person.says("Åpent hele døgnet"))  # the offer's last group, typed
    assert "112" in always[0]
    assert "116 111" in always[-1] or "116 006" in always[-1]
    # A message left while closed is acknowledged once, not after every line.
    first = person.says("Jeg vil snakke med noen")
    assert [r.text for r in first.replies] == [shown(c.LEFT_MESSAGE, "nb")]
    second = person.says("Er dere der?")
    assert second.replies == ()


def test_closed_in_english_formats_the_time_the_english_way(make_ctx: Ctx) -> None:
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=OSLO)
    ctx = make_ctx(now=saturday, is_open=False, next_opening=datetime(2026, 11, 30, 9, 0, tzinfo=OSLO))
    person = en(Person(ctx))
    for _ in range(6):
        if person.state.step is not Step.HANDED_OFF:
            person.says("skip")
    assert "Monday 9:00" in person.texts()[0] or "Monday 09:00" in person.texts()[0]


def test_closed_with_no_known_opening_still_names_the_services(make_ctx: Ctx) -> None:
    person = en(Person(make_ctx(is_open=False, next_opening=None)))
    for _ in range(6):
        if person.state.step is not Step.HANDED_OFF:
            person.says("skip")
    assert person.texts()[0].startswith(c.HANDOFF_CLOSED_UNKNOWN)
    assert person.texts()[0].endswith("\nIn danger: call 112.")
    assert "\nOpen day and night:" in with_more(person)[-1]


@pytest.mark.parametrize(
    ("hint", "word"), [("nb", "slett"), ("en", "DELETE"), ("ar", "احذف"), ("en", "/delete"), ("nb", "Slett!")]
)
def test_delete_keyword_at_any_step_erases(make_ctx: Ctx, hint: str, word: str) -> None:
    person = en(Person(make_ctx()))
    person.says(choice="yes")
    person.says(choice="self")
    result = person.says(word)
    assert result.events == {Event.DELETE}
    assert len(result.replies) == 1
    assert result.replies[0].erase
    assert person.state.step is Step.NEW
    assert person.state.role is None


def test_a_sentence_containing_delete_is_not_the_keyword(make_ctx: Ctx) -> None:
    person = en(Person(make_ctx()))
    result = person.says("my brother made me delete my instagram")
    assert Event.DELETE not in result.events


@pytest.mark.parametrize(
    "text",
    [
        "De sier de skal drepe meg",
        "pappa slår meg",
        "they took my passport and we fly tomorrow",
        "سوف يقتلونني",
        "I am LOCKED IN my room",
    ],
)
def test_danger_words_raise_priority_give_emergency_numbers_and_hand_off(make_ctx: Ctx, text: str) -> None:
    person = en(Person(make_ctx()))
    result = person.says(text)
    assert Event.DANGER in result.events
    assert Event.HANDOFF in result.events
    assert result.replies[0].text == shown(c.DANGER)
    assert person.state.danger
    assert person.state.step is Step.HANDED_OFF


def test_danger_in_the_first_message_goes_straight_to_a_human(make_ctx: Ctx) -> None:
    person = Person(make_ctx())
    result = person.says("hjelp de skal drepe meg")
    assert Event.DANGER in result.events
    assert "112" in result.replies[0].text
    assert person.state.step is Step.HANDED_OFF


def test_danger_after_the_intake_raises_priority_again(make_ctx: Ctx) -> None:
    person = en(Person(make_ctx()))
    for _ in range(6):
        if person.state.step is not Step.HANDED_OFF:
            person.says("skip")
    result = person.says("now he has a knife")
    assert result.events == {Event.DANGER}
    assert [r.text for r in result.replies] == [shown(c.DANGER)]


def test_no_danger_for_innocent_words(make_ctx: Ctx) -> None:
    person = en(Person(make_ctx()))
    result = person.says("I have skills in drawing")  # "kill" inside "skills"
    assert Event.DANGER not in result.events


def test_language_keyword_switches_and_resumes_the_same_question(make_ctx: Ctx) -> None:
    person = en(Person(make_ctx()))
    person.says(choice="yes")
    person.says(choice="self")
    assert person.state.step is Step.TOPICS
    result = person.says("language")
    assert [ch.id for ch in result.replies[-1].choices] == ["nb", "en"]
    person.says(choice="nb")
    assert person.state.lang == "nb"
    assert person.state.step is Step.TOPICS
    assert person.texts()[-1].startswith("Hva")  # the topic question again, now in Norwegian


def test_help_keyword_explains_and_repeats_the_question(make_ctx: Ctx) -> None:
    person = en(Person(make_ctx()))
    person.says(choice="yes")
    result = person.says("help")
    texts = [r.text for r in result.replies]
    assert texts[0] == shown(c.HELP)
    assert texts[1] == c.ASK_ROLE
    assert person.state.step is Step.ROLE


def test_stop_ends_quietly_on_sms_but_is_text_on_the_web_chat(make_ctx: Ctx) -> None:
    sms = en(Person(make_ctx(opt_out=True)))
    result = sms.says("STOP")
    assert result.events == {Event.STOP}
    assert result.replies == ()
    chat = en(Person(make_ctx(opt_out=False)))
    result = chat.says("stop")
    assert Event.STOP not in result.events
    assert result.replies


def test_attachment_is_answered_with_what_staff_can_receive(make_ctx: Ctx) -> None:
    person = en(Person(make_ctx()))
    result = person.says("", attachments=1)
    assert result.replies[0].text == c.ATTACHMENT


def test_a_stale_button_repeats_the_current_question_and_changes_nothing(make_ctx: Ctx) -> None:
    person = en(Person(make_ctx()))
    person.says(choice="yes")
    before = person.state
    result = person.says(choice="under_18")  # a button from a menu not yet shown
    assert person.state == before
    assert [r.text for r in result.replies] == [c.ASK_ROLE]


def test_right_to_left_flag_follows_the_language(make_ctx: Ctx) -> None:
    # Arabic has no catalog yet in this test: the direction comes from the language, not the catalog.
    with_arabic = Catalogs(default_locales_dir(), ("nb", "en", "ar"))
    ctx = make_ctx(languages=("nb", "en", "ar"), texts=with_arabic.texts)
    person = Person(ctx)
    person.says("مرحبا")
    result = person.says(choice="ar")
    assert all(r.rtl for r in result.replies)
    assert all(r.lang == "ar" for r in result.replies)


def test_error_handoff_tells_the_person_a_human_takes_over(make_ctx: Ctx) -> None:
    state = FlowState(step=Step.AGE, lang="en", role="self")
    result = error_handoff(state, make_ctx())
    assert result.events == {Event.HANDOFF}
    assert result.replies[0].text == shown(c.ERROR_HANDOFF)
    assert result.state.step is Step.HANDED_OFF
    assert result.state.role == "self"


def test_state_from_old_or_empty_json_starts_cleanly() -> None:
    assert FlowState.from_json(None) == FlowState()
    assert FlowState.from_json({"step": "topics", "topics": ["fgm"], "unknown_field": 1}).topics == ("fgm",)


inputs = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "1",
            "2",
            "9",
            "0",
            "1 3",
            "skip",
            "done",
            "slett",
            "help",
            "language",
            "stop",
            "nb",
            "en",
            "ja",
            "no",
            "kill",
            "hopp over",
            "/start",
            "",
            "  ",
            "٣",
        ]
    ),
)
choices = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "nb",
            "en",
            "yes",
            "no",
            "self",
            "professional",
            "fgm",
            "done",
            "skip",
            "under_18",
            "woman",
            "wants_out",
            "bogus",
            "individual",
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(inputs, choices, st.integers(0, 2)), max_size=15), st.booleans(), st.booleans())
def test_no_input_sequence_raises_or_goes_silent(
    catalogs: Catalogs, messages: list[tuple[str, str | None, int]], is_open: bool, opt_out: bool
) -> None:
    ctx = FlowContext(
        now=TUESDAY_10,
        is_open=is_open,
        next_opening=None,
        timezone=OSLO,
        languages=("nb", "en"),
        texts=catalogs.texts,
        keywords=default_table(),
        opt_out=opt_out,
    )
    state = FlowState()
    for text, choice, attachments in messages:
        result = step(state, FlowInput(text, choice, None, attachments), ctx)
        silent_ok = (
            Event.STOP in result.events
            or (state.step is Step.HANDED_OFF and not is_open and state.left_message_ack_at)
            or (state.step is Step.HANDED_OFF and is_open)
        )
        assert result.replies or silent_ok, (state, text, choice)
        assert all(r.text for r in result.replies)
        state = FlowState.from_json(result.state.to_json())


def test_language_change_after_the_hand_off_confirms_in_the_new_language(make_ctx: Ctx) -> None:
    """Found by the property test: choosing a language after the hand-off used to answer nothing."""
    person = Person(make_ctx())
    person.says("hei")
    person.says("they will kill me")  # danger: straight to a human
    person.says("language")
    result = person.says(choice="en")
    assert [r.text for r in result.replies] == [c.HANDOFF_OPEN]
    assert person.state.step is Step.HANDED_OFF


def _professional_hand_off(person: Person) -> list[str]:
    person.says(choice="yes")
    person.says(choice="professional")
    person.says(choice="individual")
    person.says(choice="done")
    person.says(choice="skip")
    person.says(choice="skip")
    assert person.state.step is Step.HANDED_OFF
    return with_more(person)


def test_hand_off_names_scheduled_services_open_now_from_the_data_file(make_ctx: Ctx) -> None:
    texts = _professional_hand_off(en(Person(make_ctx())))  # Tuesday 10:00
    assert c.SERVICE_OPEN.format(
        service="Kompetanseteamet (for professionals and adults) 478 09 050"
    ) in "\n".join(texts)


def test_hand_off_says_when_a_closed_service_opens_in_the_persons_language(make_ctx: Ctx) -> None:
    friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=OSLO)
    person = Person(make_ctx(now=friday_evening, is_open=False))
    person.says("hei")
    person.says(choice="nb")
    texts = _professional_hand_off(person)
    assert "Kompetanseteamet (for fagfolk og voksne) 478 09 050: åpner mandag 09:00." in "\n".join(texts)


def test_no_adult_service_is_named_to_a_young_person(make_ctx: Ctx) -> None:
    person = en(Person(make_ctx()))
    for choice in ("yes", "self", "done", "under_18", "skip", "skip"):
        person.says(choice=choice)
    assert person.state.step is Step.HANDED_OFF
    assert not any("Kompetanseteamet" in text for text in person.texts())
