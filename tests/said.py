"""What the bot says, as the person gets it: a text after its neutral first line and before its 112 line
(intake/flow.py `compose`), the taught keywords filled in."""

from __future__ import annotations

from collections.abc import Iterable

from intake.flow import compose
from intake.i18n import Texts
from intake.keywords import default_table


def said(t: Texts, msgid: str, **fields: str) -> str:
    return compose(t, msgid, default_table(), **fields)


def first_lines(texts: Iterable[str | None]) -> list[str]:
    """What a lock screen shows of each message."""
    return [(text or "").split("\n", 1)[0] for text in texts]
