"""What a staff member's cards show about each conversation: when it last moved, the last words, and the
person's messages that no staff reply has followed yet (the console counts those it has not shown as unread).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from intake.messages import Direction, Sender
from intake.storage.uow import Database

MAX_UNANSWERED = 99
PREVIEW_CHARS = 80


@dataclass(frozen=True)
class Activity:
    last_at: datetime | None  # the last message to or from the person
    preview: str  # its first line, shortened
    preview_from_person: bool
    unanswered: tuple[int, ...]  # ids of the person's messages after the last staff reply


def _first_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1].rstrip() + "…"


async def activity(db: Database, conversation_ids: Sequence[str]) -> dict[str, Activity]:
    found: dict[str, Activity] = {}
    async with db.uow() as uow:
        for conversation_id in conversation_ids:
            messages = [
                m
                for m in await uow.messages.for_conversation(conversation_id)
                if m.direction in (Direction.IN, Direction.OUT)
            ]
            last = messages[-1] if messages else None
            unanswered: list[int] = []
            for m in messages:
                if m.direction == Direction.OUT and m.sender == Sender.STAFF:
                    unanswered.clear()
                elif m.direction == Direction.IN:
                    unanswered.append(m.id)
            found[conversation_id] = Activity(
                last_at=last.created_at if last else None,
                preview=_first_line(last.text) if last else "",
                preview_from_person=bool(last and last.direction == Direction.IN),
                unanswered=tuple(unanswered[-MAX_UNANSWERED:]),
            )
    return found
