"""The first reply on every channel says, before the first question, whether anyone reads messages now, when
the line opens if not, and 112 (issue 21, point 1), in the person's language and on its own lines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from intake import content as c
from intake.flow import FlowContext, FlowInput, FlowState, step
from intake.messages import Channel
from tests.conftest import OSLO

Ctx = Callable[..., FlowContext]
MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=OSLO)


@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize(
    ("state", "is_open", "next_opening", "hours_line"),
    [
        ("open", True, None, "Vi har åpent nå."),
        ("closed", False, MONDAY, "Vi har stengt nå og åpner mandag 09:00. Ingen leser meldinger før det."),
        ("unstaffed", False, None, "Vi har stengt nå. Ingen leser meldinger før vi åpner igjen."),
    ],
)
def test_first_reply_says_whether_anyone_reads_now_and_112_before_the_first_question(
    make_ctx: Ctx, channel: Channel, state: str, is_open: bool, next_opening: datetime | None, hours_line: str
) -> None:
    ctx = make_ctx(channel=channel, is_open=is_open, next_opening=next_opening)
    first, question = step(FlowState(), FlowInput("hei"), ctx).replies
    assert first.text.split("\n") == [
        "Hei, takk for at du skriver.",
        "Er du i fare nå, ring 112 (politi) eller 113 (ambulanse).",
        hours_line,
    ]
    assert question.text == ctx.texts("nb")(c.ASK_LANGUAGE)
    assert question.choices
