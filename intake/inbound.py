"""The inbound message as one unit of database operations: the writer's job (issue 19).

The rules of handling (service.py's order: the delete word, a blocked sender, a flood, the flow) written
once over plain records (storage/ops.py) as a generator of operations, so a driver runs them on its own
connection: on SQLite the group-commit writer, inside its batch's transaction, in plain SQL. What needs
no database (the pseudonym, the encrypted address and text, the opening hours) is computed before; the
replies are sealed here, as soon as the flow has made them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from copy import copy
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from intake import content as c
from intake.ending import REOPENED_LINE, reopenable
from intake.flow import (
    Event,
    FlowContext,
    FlowInput,
    FlowState,
    Step,
    StepResult,
    compose,
    erase,
    erase_requested,
    error_handoff,
    queue_ahead_reply,
    step,
)
from intake.hours import local_month
from intake.i18n import Catalogs
from intake.keywords import KeywordTable
from intake.limits import ChatLimits
from intake.messages import (
    ConversationStatus,
    Delivery,
    Direction,
    OutboxStatus,
    Reply,
    Sender,
    reply_payload,
)
from intake.storage.ops import (
    AnyoneStaffed,
    Arrive,
    CancelPending,
    Contact,
    Conversation,
    ConversationsOf,
    DeleteConversation,
    FirstTime,
    ForgetOutbox,
    InboundSince,
    InsertOutbox,
    InsertReplies,
    MarkFlood,
    MessageRefsSince,
    NewMessage,
    NewOutbox,
    OpenedSince,
    OpenWithRecent,
    PutStat,
    SaveConversation,
    SentRefs,
    TouchContact,
    Unit,
    UpdateContact,
    WaitingAhead,
    ask,
)
from intake.storage.sealed import Cipher, seal_json, seal_text

log = logging.getLogger(__name__)

ERASE_WINDOW = timedelta(hours=48)
RATE_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class Handled:
    """What a rule did: the conversation that changed (None: erased) and whether replies were queued."""

    conversation_id: str | None
    replied: bool


@dataclass(frozen=True)
class Prepared:
    """An inbound message with all that needs no database done: the job's input."""

    now: datetime
    channel: str
    pseudonym: str
    address_enc: bytes
    provider_key: str
    provider_ref: str | None
    source: str | None
    given: FlowInput
    # The inbound text, sealed.
    text_enc: str
    # The flow's context by the opening hours (and a `staffed` answer known before).
    ctx: FlowContext
    # Whether the job asks the database if staff are signed in (within the hours only).
    ask_staff: bool


@dataclass
class _Turn:
    contact: Contact
    conv: Conversation
    new: bool
    p: Prepared
    ctx: FlowContext
    # Messages from this person in the last minute, this one included.
    recent: int
    # Written before the inbound message (the reopened line), and the replies to queue.
    lines: list[NewMessage] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    # The conversation as last written (None: not written yet).
    saved: Conversation | None = None


@dataclass(frozen=True)
class InboundRules:
    cipher: Cipher
    catalogs: Catalogs
    keywords: KeywordTable
    timezone: ZoneInfo
    max_per_minute: int
    limits: ChatLimits
    # How long a signed-in staff member counts as present without activity (the job's staffed check).
    staff_idle: timedelta | None
    # The flow's step (the service passes its own, so one replaced in a test is replaced on every path).
    step: Callable[[FlowState, FlowInput, FlowContext], StepResult] = step

    def unit(self, p: Prepared) -> Unit[Handled | None]:
        """The message's whole handling; None for a redelivery (nothing written)."""
        now = p.now
        ctx = p.ctx
        staffed = (
            AnyoneStaffed(now, now - self.staff_idle)
            if p.ask_staff and ctx.is_open and self.staff_idle is not None
            else None
        )
        arrival = yield from ask(
            Arrive(
                FirstTime(p.channel, p.provider_key, now),
                staffed,
                TouchContact(p.pseudonym, p.channel, p.address_enc, now),
            )
        )
        if arrival is None:
            return None
        if not arrival.staffed:
            # Within the hours but nobody signed in: no opening time to promise (it would be "now").
            ctx = replace(ctx, is_open=False, next_opening=None)
        contact = arrival.contact
        lines: list[NewMessage] = []
        conv, recent = yield from ask(OpenWithRecent(contact.id, now - RATE_WINDOW))
        saved = copy(conv)
        if conv is None:
            conv = yield from self._recently_closed(contact, now)
            if conv is not None:
                # Back with the staff member who held it (as ending.reopen_recent); written before the
                # count, where the ORM path flushed it (see `_flush`).
                conv.status, conv.closed_at, conv.updated_at = ConversationStatus.CLAIMED, None, now
                line = seal_text(self.cipher, REOPENED_LINE)
                lines.append(NewMessage(conv.id, Direction.SYSTEM, Sender.SYSTEM, line, now))
                yield from ask(SaveConversation(conv, new=False))
                saved = copy(conv)
                recent = yield from ask(InboundSince(conv.id, now - RATE_WINDOW))
        # The 1 is this message.
        recent += 1
        new = conv is None
        if conv is None:
            flood = p.source is not None and (yield from self._joins_flood(p.source, now))
            conv = Conversation(
                id=str(uuid.uuid4()),
                contact_id=contact.id,
                channel=p.channel,
                language=self.catalogs.languages[0],
                state={},
                status=ConversationStatus.INTAKE,
                created_at=now,
                updated_at=now,
                source=p.source,
                flood=flood,
            )
        conv.last_inbound_at = now
        turn = _Turn(contact, conv, new, p, ctx, recent, lines, saved=None if new else saved)
        # The rules in order; the first that handles the message ends its handling.
        handled = yield from self._erase(turn)
        if handled is None:
            handled = yield from self._blocked(turn)
        if handled is None:
            handled = self._flooding(turn)
        if handled is None:
            handled = yield from self._flow(turn)
        if handled.conversation_id is not None:
            yield from self._write(turn)
        return handled

    def settle_flood(self, source: str, now: datetime) -> Unit[None]:
        """After a message from `source` is committed: if its conversations make a flood, all are marked
        (see limits.settle_flood)."""
        opened = yield from ask(OpenedSince(source, now - self.limits.flood_window))
        if opened >= self.limits.flood_conversations:
            yield from ask(MarkFlood(source))

    def _recently_closed(self, contact: Contact, now: datetime) -> Unit[Conversation | None]:
        """As ending.reopen_recent: the person's conversation that staff closed within REOPEN_WINDOW."""
        conversations = yield from ask(ConversationsOf(contact.id))
        latest = conversations[-1] if conversations else None
        return latest if reopenable(latest, now) else None

    def _joins_flood(self, source: str, now: datetime) -> Unit[bool]:
        """As limits.joins_flood."""
        opened = 1 + (yield from ask(OpenedSince(source, now - self.limits.flood_window)))
        if opened < self.limits.flood_conversations:
            return False
        yield from ask(MarkFlood(source))
        return True

    def _erase(self, turn: _Turn) -> Unit[Handled | None]:
        """First of all: the delete word, whatever state the sender or the conversation is in."""
        if not erase_requested(turn.p.given, turn.ctx):
            return None
        state = FlowState.from_json(turn.conv.state)
        if state.step is Step.NEW:
            # A fresh conversation (the last one was closed): confirm in the person's last language.
            earlier = [
                conv for conv in (yield from ask(ConversationsOf(turn.contact.id))) if conv.id != turn.conv.id
            ]
            state = replace(state, lang=earlier[-1].language if earlier else turn.conv.language)
        return (yield from self._apply(turn, erase(state, turn.ctx)))

    def _blocked(self, turn: _Turn) -> Unit[Handled | None]:
        contact = turn.contact
        if contact.blocked_until is None or contact.blocked_until <= turn.p.now:
            return None
        # Kept for staff, but the sender learns nothing: one neutral line, then silence.
        if contact.block_notified:
            return Handled(turn.conv.id, replied=False)
        contact.block_notified = True
        yield from ask(UpdateContact(contact.id, {"block_notified": True}))
        self._say(turn, c.BLOCKED)
        return Handled(turn.conv.id, replied=True)

    def _flooding(self, turn: _Turn) -> Handled | None:
        # A flood from one sender must not starve everyone else: everything is kept for staff, the
        # person is told once per flood, and the flow waits until the pace drops.
        if turn.recent <= self.max_per_minute:
            return None
        if turn.recent == self.max_per_minute + 1:
            self._say(turn, c.SLOW_DOWN)
        return Handled(turn.conv.id, replied=True)

    def _flow(self, turn: _Turn) -> Unit[Handled]:
        state = FlowState.from_json(turn.conv.state)
        if turn.conv.status == "claimed" and state.offered:
            # A staff member is talking now: a typed "3" answers them, it is not a pick from the bot's offer.
            state = replace(state, offered=())
        try:
            result = self.step(state, turn.p.given, turn.ctx)
        except Exception:
            # Never text or address in logs: only where it failed.
            log.exception("intake flow failed at step %s; handing over to staff", state.step)
            result = error_handoff(state, turn.ctx)
        return (yield from self._apply(turn, result))

    def _say(self, turn: _Turn, msgid: str) -> None:
        t = self.catalogs.texts(turn.conv.language)
        turn.replies.append(Reply(text=compose(t, msgid, self.keywords), lang=t.lang, rtl=t.rtl))

    def _apply(self, turn: _Turn, result: StepResult) -> Unit[Handled]:
        contact, conv, now, ctx = turn.contact, turn.conv, turn.p.now, turn.ctx
        state = result.state
        if Event.DELETE in result.events:
            refs = yield from self._erase_all(turn)
            erased = [replace(r, erase_refs=tuple(refs)) if r.erase else r for r in result.replies]
            yield from ask(InsertOutbox([self._outbox_row(None, contact, reply, now) for reply in erased]))
            # The confirmation's outbox row keeps the address it needs; the contact keeps none (its next
            # message brings it back). The row itself stays, so a block on a hostile sender survives.
            yield from ask(UpdateContact(contact.id, {"address_enc": b""}))
            return Handled(None, replied=True)
        conv.state = state.to_json()
        conv.language = state.lang
        conv.updated_at = now
        conv.under18 = state.under_18 is True
        if Event.DANGER in result.events:
            conv.danger = True
        if Event.STOP in result.events:
            # The provider blocks sends after an opt-out; trying anyway would only fail, so cancel.
            contact.opted_out = True
            yield from ask(UpdateContact(contact.id, {"opted_out": True}))
            yield from self._flush(turn)
            yield from ask(CancelPending(contact.pseudonym, "opted out"))
            conv.status = ConversationStatus.CLOSED
            conv.closed_at = now
        turn.replies.extend(result.replies)
        if Event.HANDOFF in result.events and conv.status == ConversationStatus.INTAKE:
            if ctx.is_open:
                yield from self._flush(turn)
                ahead = yield from ask(WaitingAhead(conv.danger, conv.under18, conv.flood))
                if ahead:
                    turn.replies.append(queue_ahead_reply(state.lang, ahead, ctx))
            conv.status = ConversationStatus.QUEUED
            conv.queued_at = now
            conv.outside_hours = not ctx.is_open
        if Event.INTAKE_COMPLETE in result.events:
            yield from self._flush(turn)
            conv.stat_key = yield from ask(
                PutStat(
                    conv.stat_key,
                    {
                        "month": local_month(now, self.timezone),
                        "channel": conv.channel,
                        "role": state.role,
                        "kind": state.kind,
                        "age_group": state.age,
                        "gender": state.gender,
                        "topics": list(state.topics),
                        "outside_hours": not ctx.is_open,
                    },
                )
            )
        return Handled(conv.id, replied=bool(result.replies))

    def _erase_all(self, turn: _Turn) -> Unit[list[str]]:
        """As service._erase_all: transcripts, stored replies and the link to the person go; the anonymous
        record stays. The chat's ids of recent messages, which the channel deletes on the device."""
        since = turn.p.now - ERASE_WINDOW
        # This very message (the keyword) is not written at all, but it goes from the device too.
        refs = [turn.p.provider_ref] if turn.p.provider_ref else []
        for conv in (yield from ask(ConversationsOf(turn.contact.id))):
            refs.extend((yield from ask(MessageRefsSince(conv.id, since))))
            yield from ask(DeleteConversation(conv.id))
        refs.extend((yield from ask(SentRefs(turn.contact.pseudonym, since))))
        yield from ask(ForgetOutbox(turn.contact.pseudonym))
        return refs

    def _write(self, turn: _Turn) -> Unit[None]:
        """The conversation, its queued replies (outbox and transcript) and the inbound message, in the
        order the transcript shows them (by id): a reopened line, the message, the replies."""
        conv, now = turn.conv, turn.p.now
        yield from self._flush(turn)
        inbound = NewMessage(
            conv.id,
            Direction.IN,
            Sender.PERSON,
            turn.p.text_enc,
            now,
            attachments=turn.p.given.attachments,
            provider_ref=turn.p.provider_ref,
        )
        out = [
            NewMessage(
                conv.id,
                Direction.OUT,
                reply.sender,
                seal_text(self.cipher, reply.text),
                now,
                delivery=Delivery.PENDING.value,
            )
            for reply in turn.replies
        ]
        rows = [self._outbox_row(conv.id, turn.contact, r, now) for r in turn.replies]
        yield from ask(InsertReplies(rows, [*turn.lines, inbound], out))

    def _flush(self, turn: _Turn) -> Unit[None]:
        """Write the conversation if it changed since it was last written. Called where the ORM path's
        session flushed it (before a query that autoflushes, at the anonymous record, at the end), so the
        version column counts the same on both paths: the staff desk's optimistic lock compares it."""
        if turn.saved is not None and turn.conv == turn.saved:
            return
        yield from ask(SaveConversation(turn.conv, new=turn.saved is None))
        # A shallow copy is enough: the state is replaced, never changed in place.
        turn.saved = copy(turn.conv)

    def _outbox_row(
        self, conversation_id: str | None, contact: Contact, reply: Reply, now: datetime
    ) -> NewOutbox:
        return NewOutbox(
            conversation_id=conversation_id,
            channel=contact.channel,
            pseudonym=contact.pseudonym,
            address_enc=contact.address_enc,
            payload_enc=seal_json(self.cipher, reply_payload(reply)),
            status=OutboxStatus.PENDING,
            next_attempt_at=now,
            created_at=now,
        )
