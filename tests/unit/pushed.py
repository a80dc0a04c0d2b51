"""Every message the bot can push to a phone, in one language and one channel: the flow walked through every
role, topic, situation, age, keyword and danger kind, open and closed, and the service's and staff's own
texts. Shared by the tests that check what a phone shows (tests/unit/test_lock_screen.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from intake import content as c
from intake import sms
from intake.categories import AGE_GROUPS, GENDERS, ROLES, SITUATIONS, TOPICS, InquiryKind, Role
from intake.ending import ENDED
from intake.flow import (
    FlowContext,
    FlowInput,
    FlowState,
    More,
    compose,
    error_handoff,
    queue_ahead_reply,
    step,
)
from intake.i18n import Catalogs
from intake.keywords import Keyword, default_table
from intake.messages import Channel, Reply
from tests.conftest import OSLO, TUESDAY_10

KEYWORDS = default_table()
# One signal of each danger kind (matching does not depend on the conversation's language).
DANGER_SIGNALS = ("they will kill me", "we go to the airport tonight", "I think about suicide")
# In hours; and a Saturday evening, when nothing is open but the 24/7 services.
MOMENTS = (
    ("open", TUESDAY_10, True, None, True),
    (
        "closed",
        datetime(2026, 11, 28, 20, 0, tzinfo=OSLO),
        False,
        datetime(2026, 11, 30, 9, 0, tzinfo=OSLO),
        False,
    ),
    # Within the phone's hours, with the chat closed and no opening known (nobody signed in).
    ("unstaffed", TUESDAY_10, False, None, True),
)


@dataclass(frozen=True)
class Pushed:
    where: str
    reply: Reply

    def shown(self, channel: Channel) -> str:
        """The text as the channel delivers it (SMS and WhatsApp append the menu as a numbered list)."""
        return sms.render(self.reply) if channel in (Channel.SMS, Channel.WHATSAPP) else self.reply.text


def _ctx(
    catalogs: Catalogs, channel: Channel, moment: tuple[str, datetime, bool, datetime | None, bool]
) -> FlowContext:
    _, now, is_open, next_opening, phone_open = moment
    return FlowContext(
        now=now,
        is_open=is_open,
        next_opening=next_opening,
        timezone=OSLO,
        languages=catalogs.languages,
        texts=catalogs.texts,
        keywords=KEYWORDS,
        opt_out=channel in (Channel.SMS, Channel.WHATSAPP),
        phone_open=phone_open,
        channel=channel,
    )


def _paths(lang: str) -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    """(name, [(text, choice)]) for each path through the intake; every one starts with a language pick."""
    start: list[tuple[str, str | None]] = [("hi", None), ("", lang)]
    every_topic = [("", str(t.id)) for t in TOPICS]
    for situation in SITUATIONS:
        for age in AGE_GROUPS:
            yield (
                f"self/{situation.id}/{age.id}",
                [
                    *start,
                    ("", "yes"),
                    ("", Role.SELF),
                    *every_topic,
                    ("", str(age.id)),
                    ("", str(GENDERS[0].id)),
                    ("", str(situation.id)),
                    # Each group of information offered after the last question, as asked for.
                    *(("", str(more)) for more in More),
                    ("are you there?", None),
                    *((s, None) for s in DANGER_SIGNALS),
                    ("help", None),
                ],
            )
    for role in ROLES:
        kind = [("", InquiryKind.INFORMATION)] if role.id == Role.PROFESSIONAL else []
        yield (
            f"role/{role.id}",
            [
                *start,
                ("", "yes"),
                ("", str(role.id)),
                *kind,
                ("", "done"),
                ("", "skip"),
                ("", "skip"),
                ("", "skip"),
                ("hello?", None),
            ],
        )
    yield ("not safe", [*start, ("", "no"), ("now I can", None)])
    yield ("unsure", [*start, ("", "unsure"), ("", "skip"), ("x", None)])
    for signal in DANGER_SIGNALS:
        yield (f"first message: {signal}", [(signal, None), ("more", None)])
        yield (f"mid-intake: {signal}", [*start, ("", "yes"), (signal, None)])
    yield ("attachment, language, stale button", [*start, ("language", None), ("", lang), ("", "nonsense")])
    yield ("erase", [*start, ("delete", None)])
    yield ("erase word taught", [*start, (KEYWORDS.word(Keyword.DELETE, lang), None)])


def walk(catalogs: Catalogs, lang: str, channel: Channel) -> Iterator[Pushed]:
    for moment in MOMENTS:
        ctx = _ctx(catalogs, channel, moment)
        for name, inputs in _paths(lang):
            state = FlowState()
            for text, choice in inputs:
                result = step(state, FlowInput(text, choice, None, 1 if text == "x" else 0), ctx)
                state = result.state
                for reply in result.replies:
                    yield Pushed(f"{moment[0]} {name} after {text or choice!r}", reply)
            for ahead in (1, 2, 5, 11):
                yield Pushed(f"{moment[0]} queue {ahead}", queue_ahead_reply(lang, ahead, ctx))
        failed = error_handoff(FlowState(lang=lang), ctx)
        yield from (Pushed(f"{moment[0]} flow failed", r) for r in failed.replies)
    # The service's and the staff's texts (intake/service.py, intake/queue.py, the console's canned replies).
    t = catalogs.texts(lang)
    for msgid in (c.BLOCKED, c.SLOW_DOWN, c.STAFF_JOINED, c.WHATSAPP_INVITE, ENDED, *c.CANNED.values()):
        yield Pushed(f"service {msgid[:30]!r}", Reply(text=compose(t, msgid, KEYWORDS), lang=lang))


def later(now: datetime, minutes: int) -> datetime:
    return now + timedelta(minutes=minutes)
