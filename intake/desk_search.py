"""Search over the words of open and recent conversations, for staff (the console audits every
conversation a search shows). Words only: never notes, system lines, addresses or pseudonyms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from intake.storage.uow import Database

# Closed conversations stay findable this long (their transcripts live until the retention period ends).
RECENT = timedelta(days=7)
MIN_CHARS, MAX_CHARS = 2, 100
SNIPPET = 40


@dataclass(frozen=True)
class Hit:
    conversation_id: str
    message_id: int
    direction: str
    at: datetime
    snippet: str


def _snippet(text: str, words: str) -> str:
    flat = " ".join(text.split())
    at = flat.lower().find(words.lower())
    start = max(0, at - SNIPPET) if at >= 0 else 0
    end = min(len(flat), (at if at >= 0 else 0) + len(words) + SNIPPET)
    return ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")


def cleaned(query: str) -> str:
    """The words searched for: spaces collapsed, at most MAX_CHARS; '' when too short to search."""
    words = " ".join(query.split())[:MAX_CHARS]
    return words if len(words) >= MIN_CHARS else ""


async def search(db: Database, query: str, now: datetime) -> list[Hit]:
    words = cleaned(query)
    if not words:
        return []
    async with db.uow() as uow:
        found = await uow.messages.search(words, now - RECENT)
    return [Hit(m.conversation_id, m.id, m.direction, m.created_at, _snippet(m.text, words)) for m in found]
