"""After the last question: the essentials in at most two messages, the rest offered by group and sent when
asked, by button (web chat, Telegram), typed number (SMS, WhatsApp: the numbered list) or typed label, in
hours and out of hours. Out of hours every answer names 112; in danger everything still arrives at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from intake import content as c
from intake import sms
from intake.flow import FlowContext, FlowInput, FlowState, Step, StepResult, compose, step
from intake.i18n import Catalogs, compile_catalogs, default_locales_dir
from intake.keywords import default_table
from intake.messages import Channel, Reply
from tests.conftest import OSLO
from tests.unit.pushed import _ctx as sms_context
from tests.unit.test_sms_segments import LANGUAGES as SMS_LANGUAGES
from tests.unit.test_sms_segments import SAFETY

Ctx = Callable[..., FlowContext]
SATURDAY_EVENING = datetime(2026, 11, 28, 20, 0, tzinfo=OSLO)
MONDAY_9 = datetime(2026, 11, 30, 9, 0, tzinfo=OSLO)
TUESDAY_17 = datetime(2026, 11, 24, 17, 0, tzinfo=OSLO)
# Every question answered: a young person who wants out, two topics; the longest hand-off there is.
ANSWERS = ("en", "yes", "self", "forced_marriage", "abroad", "done", "under_18", "woman", "wants_out")


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    compile_catalogs(default_locales_dir())
    return Catalogs(default_locales_dir(), ("nb", *(lang for lang in SMS_LANGUAGES if lang != "nb")))


def _run(ctx: FlowContext) -> tuple[FlowState, StepResult]:
    state = step(FlowState(), FlowInput("hello"), ctx).state
    result = None
    for choice in ANSWERS:
        result = step(state, FlowInput("", choice), ctx)
        state = FlowState.from_json(result.state.to_json())
    assert result is not None
    assert state.step is Step.HANDED_OFF
    return state, result


def _ctx(make_ctx: Ctx, channel: Channel, is_open: bool) -> FlowContext:
    if is_open:
        return make_ctx(channel=channel, opt_out=channel in (Channel.SMS, Channel.WHATSAPP))
    return make_ctx(
        channel=channel,
        now=SATURDAY_EVENING,
        is_open=False,
        next_opening=MONDAY_9,
        opt_out=channel in (Channel.SMS, Channel.WHATSAPP),
    )


def _ask_for(channel: Channel, offer: Reply, index: int) -> FlowInput:
    """How a person on this channel asks for the offer's `index`th group."""
    if channel in (Channel.SMS, Channel.WHATSAPP):
        listed = sms.render(offer).split("\n")
        number = listed[-len(offer.choices) + index].split(" ", 1)[0]
        return FlowInput(number)
    return FlowInput("", offer.choices[index].id)


@pytest.mark.parametrize("is_open", [True, False], ids=["open", "closed"])
@pytest.mark.parametrize("channel", list(Channel))
def test_at_most_two_messages_after_the_last_question_and_the_rest_when_asked(
    make_ctx: Ctx, channel: Channel, is_open: bool
) -> None:
    ctx = _ctx(make_ctx, channel, is_open)
    t = ctx.texts("en")
    state, result = _run(ctx)
    essentials, offer = result.replies
    first = (
        t(c.HANDOFF_OPEN) if is_open else t(c.HANDOFF_CLOSED, time=t.moment(MONDAY_9, SATURDAY_EVENING, OSLO))
    )
    assert essentials.text.split("\n")[0] == first
    assert t(c.KEY_UNDER_18 if not is_open else c.KEY_ADVICE["self"]) in essentials.text
    if not is_open:
        assert essentials.text.split("\n")[-1] == t(c.CALL_112)
    assert offer.text == t(c.MORE_INFO)
    labels = [ch.label for ch in offer.choices]
    assert labels == [t(c.MORE_ADVICE), t(c.MORE_SERVICES), t(c.MORE_ALWAYS_OPEN)]
    # Each group arrives when asked for, and only then.
    everything = "\n".join(r.text for r in result.replies)
    assert compose(t, c.TOPIC_INFO["abroad"], default_table()) not in everything
    wanted = {
        0: compose(t, c.TOPIC_INFO["abroad"], default_table()),
        1: "800 33 321",
        2: "112",
    }
    for index, expected in wanted.items():
        asked = step(state, _ask_for(channel, offer, index), ctx)
        got = [r.text for r in asked.replies]
        assert got, (channel, index)
        assert any(expected in text for text in got), (channel, index, got)
        if not is_open:
            assert "112" in "\n".join(got), "every answer out of hours names 112"
        assert asked.state.step is Step.HANDED_OFF
    # The offer's words work typed as well.
    typed = step(state, FlowInput(t(c.MORE_ADVICE).lower()), ctx)
    assert compose(t, c.SITUATION_INFO["wants_out"], default_table()) in [r.text for r in typed.replies]


def test_free_text_after_the_offer_still_reaches_staff_quietly(make_ctx: Ctx) -> None:
    ctx = _ctx(make_ctx, Channel.WEBCHAT, True)
    state, _ = _run(ctx)
    assert step(state, FlowInput("are you there?"), ctx).replies == ()


def test_in_danger_the_emergency_information_is_not_behind_a_button(make_ctx: Ctx) -> None:
    ctx = _ctx(make_ctx, Channel.SMS, False)
    state = step(FlowState(), FlowInput("hello"), ctx).state
    state = step(state, FlowInput("", "en"), ctx).state
    result = step(state, FlowInput("they will kill me"), ctx)
    texts = "\n".join(r.text for r in result.replies)
    assert "112" in texts
    assert "116 111" in texts
    assert not any(r.choices for r in result.replies)


@pytest.mark.parametrize("lang", SMS_LANGUAGES)
def test_the_essentials_keep_the_safety_texts_sms_budget(catalogs: Catalogs, lang: str) -> None:
    """The essentials join the hours, the line's phone, one line of advice and 112 in one SMS: measured
    for every role and age, open and closed, against the safety texts' budget (test_sms_segments.py)."""
    moments = (
        ("open", TUESDAY_17, True, None, True),
        ("chat closed, phone open", TUESDAY_17, False, MONDAY_9, True),
        ("closed", SATURDAY_EVENING, False, MONDAY_9, False),
        ("no opening known", SATURDAY_EVENING, False, None, False),
    )
    measured = 0
    for moment in moments:
        ctx = sms_context(catalogs, Channel.SMS, moment)
        is_open = moment[2]
        for role in ("self", "family", "network", "professional", "other", "skip"):
            for age in ("under_18", "adult", "skip"):
                state = step(FlowState(), FlowInput("hi"), ctx).state
                result = None
                answers = {Step.LANGUAGE: lang, Step.SAFE: "yes", Step.ROLE: role, Step.AGE: age}
                while state.step is not Step.HANDED_OFF:
                    result = step(state, FlowInput("", answers.get(state.step, "skip")), ctx)
                    state = result.state
                assert result is not None
                assert state.step is Step.HANDED_OFF
                info = sms.measure(sms.render(result.replies[0]))
                assert info.segments <= SAFETY[info.encoding], (role, age, is_open, result.replies[0].text)
                measured += 1
    assert measured == 72
