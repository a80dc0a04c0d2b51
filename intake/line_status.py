"""Whether the line is open now, for a page that says so before the person writes (the web chat's landing).

The same rule as the flow's hand-off (IntakeService.context): within the hours but with nobody signed in,
the line counts as closed and no opening time is promised (it would be "now", and untrue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from intake.service import IntakeService

# An open period longer than this is "open day and night": no closing time worth naming.
NAMED_CLOSING = timedelta(days=6)


@dataclass(frozen=True)
class LineStatus:
    open: bool
    closes_at: datetime | None  # only when open and closing within NAMED_CLOSING
    next_opening: datetime | None  # only when closed and the opening is known


async def line_status(service: IntakeService, now: datetime, channel: str) -> LineStatus:
    hours = service.hours
    if await service.is_open(now, channel):
        closes = hours.closes_at(now, channel)
        return LineStatus(True, closes if closes is not None and closes - now < NAMED_CLOSING else None, None)
    within_hours = hours.is_open(now, channel)
    return LineStatus(False, None, None if within_hours else hours.next_opening(now, channel))
