"""The erase confirmation is true on every channel: it says what we deleted (our copy) and what stays on the
person's device, which only the person can delete (DOMAIN.md: SMS and WhatsApp messages stay on the phone;
a Telegram bot can delete the last 48 hours; the web chat page forgets its tab, not the browser history)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from intake import content as c
from intake.flow import Event, FlowContext, FlowInput, FlowState, step
from intake.messages import Channel
from tests.said import first_lines

# What each channel's confirmation must say, in English, about the person's own device.
ABOUT_THE_DEVICE = {
    Channel.SMS: "stay on your phone",
    Channel.WHATSAPP: "stay in WhatsApp on your phone",
    Channel.TELEGRAM: "last 48 hours",
    Channel.WEBCHAT: "browser history",
}


@pytest.mark.parametrize("channel", list(Channel))
def test_the_confirmation_says_what_we_deleted_and_what_the_person_must_delete(
    make_ctx: Callable[..., FlowContext], channel: Channel
) -> None:
    ctx = make_ctx(channel=channel)
    state = step(FlowState(), FlowInput("hi", None, "en"), ctx).state
    result = step(state, FlowInput("delete"), ctx)
    assert result.events == {Event.DELETE}
    (reply,) = result.replies
    assert reply.erase
    assert first_lines([reply.text]) == ["Hi,"]  # a lock screen shows no "deleted"
    assert "deleted our copy" in reply.text
    assert ABOUT_THE_DEVICE[channel] in reply.text
    assert "The conversation is erased" not in reply.text


def test_no_channel_is_told_that_its_phone_was_cleaned(make_ctx: Callable[..., FlowContext]) -> None:
    """Only Telegram lets us delete anything on the device, and only the last 48 hours."""
    for channel in (Channel.SMS, Channel.WHATSAPP):
        assert "yourself" in c.ERASED[channel]
    assert "older messages" in c.ERASED[Channel.TELEGRAM]
    assert c.erased_text(None) == c.ERASED_ELSEWHERE
