"""The conversation's system lines ("claimed by anna"), stored in English, shown in the console's language.

The desk writes them as plain text (intake/queue.py); the console reads them back through these patterns, so
lines already stored are translated too. A line no pattern knows is shown as stored.
"""

from __future__ import annotations

import re

from intake.categories import N_
from intake.ending import REOPENED_LINE
from intake.i18n import Texts

_NAME = r"(?P<staff>[A-Za-z0-9._-]{1,64})"
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), msgid)
    for pattern, msgid in (
        (rf"claimed by {_NAME}", N_("Picked up by {staff}")),
        (rf"released by {_NAME}", N_("Put back in the queue by {staff}")),
        (rf"transferred by {_NAME} to (?P<to>[A-Za-z0-9._-]{{1,64}})", N_("Transferred by {staff} to {to}")),
        (rf"closed by {_NAME}", N_("Closed by {staff}")),
        (rf"closed with a flood by {_NAME}", N_("Closed with a flood by {staff}")),
        (
            rf"sender blocked for (?P<hours>[0-9]{{1,5}}) h by {_NAME}",
            N_("Sender blocked for {hours} h by {staff}"),
        ),
        (rf"flagged as possibly hostile by {_NAME}", N_("Marked as possibly hostile by {staff}")),
        (rf"hostile flag removed by {_NAME}", N_("Possibly hostile mark removed by {staff}")),
        (re.escape(REOPENED_LINE), N_("Reopened: the person wrote again")),
    )
)


def translate(text: str, t: Texts) -> str:
    for pattern, msgid in PATTERNS:
        match = pattern.fullmatch(text)
        if match is not None:
            return t(msgid, **match.groupdict())
    return text
