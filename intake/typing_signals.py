"""Typing indicators on the web chat, both ways: the person typing shows on the staff member's open
conversation, the staff member typing shows a neutral "Writing…" in the person's chat.

A signal is never stored (not a message, not a notification, no other channel): it goes over the console's
live bus, which every copy of the service hears, and each copy keeps the staff side's signals in memory for
the long polls it serves. Each side signals at most once every `EVERY_SECONDS` while it keeps typing; the
other side shows the indicator until `SHOWN_SECONDS` after the last signal, so it goes by itself when the
typing stops, also when the "stopped" signal is lost. The staff member's name never travels with a signal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from intake.messages import Channel, ConversationStatus
from intake.storage.uow import Database

EVERY_SECONDS = 3.0
SHOWN_SECONDS = 6.0
EVENT = "typing"
# Only a conversation that staff can see: the bot's own questions have nobody to show the signal to.
WITH_STAFF = (ConversationStatus.QUEUED, ConversationStatus.CLAIMED)
# Throttle entries are dropped once this many have piled up (each is stale after EVERY_SECONDS).
PRUNE_AT = 1024


class Side(StrEnum):
    PERSON = "person"
    STAFF = "staff"


class TypingRefused(Exception):
    """The staff member may not signal into this conversation (not theirs, not a web chat, erased)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class TypingSignals:
    def __init__(
        self,
        db: Database,
        publish: Callable[[dict[str, Any]], None],
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.publish = publish
        self.now = now
        self._last: dict[tuple[Side, str], float] = {}
        # The person's pseudonym -> until when the staff side is typing (monotonic time on this copy).
        self._staff_until: dict[str, float] = {}
        self._listeners: list[Callable[[Sequence[str]], None]] = []

    def due(self, side: Side, who: str, typing: bool) -> bool:
        """Whether this signal goes out: a "stopped" always does, a "typing" once per EVERY_SECONDS."""
        key = (side, who)
        now = self.now()
        if not typing:
            self._last.pop(key, None)
            return True
        last = self._last.get(key)
        if last is not None and now - last < EVERY_SECONDS:
            return False
        if len(self._last) >= PRUNE_AT:
            self._last = {k: at for k, at in self._last.items() if now - at < EVERY_SECONDS}
        self._last[key] = now
        return True

    async def person(self, pseudonym: str, typing: bool) -> bool:
        """The person types (or stopped): the staff side of their open conversation hears it. Whether a
        signal went out (none while the bot still asks its questions)."""
        async with self.db.reader() as uow:
            contact = await uow.contacts.by_pseudonym(pseudonym)
            conversation = await uow.conversations.open_for_contact(contact.id) if contact else None
        if conversation is None or conversation.status not in WITH_STAFF:
            return False
        self.publish({"type": EVENT, "side": Side.PERSON.value, "conversation": conversation.id,
                      "typing": typing})  # fmt: skip
        return True

    async def recipient(self, conversation_id: str, staff: str) -> str:
        """The pseudonym of the person a staff member may signal to: only in a web chat they hold."""
        async with self.db.reader() as uow:
            conversation = await uow.conversations.get(conversation_id)
            contact = None
            if conversation is not None and conversation.contact_id is not None:
                contact = await uow.contacts.get(conversation.contact_id)
        if conversation is None:
            raise TypingRefused(404, "no such conversation")
        if conversation.channel != Channel.WEBCHAT:
            raise TypingRefused(400, "typing is only shown on the web chat")
        if conversation.status != ConversationStatus.CLAIMED or conversation.claimed_by != staff:
            raise TypingRefused(409, "pick up the conversation first")
        if contact is None:
            raise TypingRefused(409, "the person erased this conversation")
        return contact.pseudonym

    def staff(self, pseudonym: str, typing: bool) -> None:
        self.publish({"type": EVENT, "side": Side.STAFF.value, "to": pseudonym, "typing": typing})

    # --- the person's side, on every copy -------------------------------------------------------------

    def on_staff(self, listener: Callable[[Sequence[str]], None]) -> None:
        """Called with the pseudonyms whose staff side started or stopped typing (wakes their polls)."""
        self._listeners.append(listener)

    def received(self, event: Mapping[str, Any]) -> None:
        """Every event of the live bus, from every copy: the staff side's signals are kept for the polls."""
        if event.get("type") != EVENT or event.get("side") != Side.STAFF:
            return
        pseudonym = event.get("to")
        if not isinstance(pseudonym, str):
            return
        now = self.now()
        if len(self._staff_until) >= PRUNE_AT:
            self._staff_until = {p: until for p, until in self._staff_until.items() if until > now}
        if event.get("typing") is True:
            self._staff_until[pseudonym] = now + SHOWN_SECONDS
        else:
            self._staff_until.pop(pseudonym, None)
        for listener in self._listeners:
            listener([pseudonym])

    def staff_typing(self, pseudonym: str) -> float:
        """For how many more seconds the person's chat shows "Writing…" (0: not now)."""
        until = self._staff_until.get(pseudonym)
        if until is None:
            return 0.0
        left = until - self.now()
        if left <= 0:
            del self._staff_until[pseudonym]
            return 0.0
        return left

    def replied(self, pseudonym: str) -> None:
        """A reply reached the person: whoever wrote it is no longer typing it."""
        self._staff_until.pop(pseudonym, None)
