"""IntakeService.handle(message): dedup, store, step the flow, queue the replies: one transaction.

The channel is answered only after this commits, so an acknowledged message is never lost; replies go to
the outbox in the same transaction, so they are sent even if the process dies right after.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from intake import content as c
from intake.ending import reopen_recent
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
from intake.hours import OpeningHours, stat_month
from intake.i18n import Catalogs
from intake.inbound import ERASE_WINDOW, RATE_WINDOW, Handled, InboundRules, Prepared
from intake.keywords import KeywordTable
from intake.limits import ChatLimits, joins_flood, settle_flood
from intake.messages import (
    Channel,
    ConversationStatus,
    Direction,
    InboundMessage,
    Reply,
    Sender,
    storable,
)
from intake.metrics import Metrics
from intake.privacy import Keys
from intake.replies import enqueue
from intake.storage.models import ContactRow, ConversationRow
from intake.storage.sealed import seal_text
from intake.storage.uow import Database, UnitOfWork

log = logging.getLogger(__name__)

MAX_TEXT = 4000
OPT_OUT_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})


@dataclass(frozen=True)
class Turn:
    """One inbound message inside its transaction, as the rules of handling see it."""

    uow: UnitOfWork
    contact: ContactRow
    conv: ConversationRow
    given: FlowInput
    ctx: FlowContext
    now: datetime
    # Messages from this person in the last minute, this one included.
    recent: int


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


@dataclass
class IntakeService:
    db: Database
    keys: Keys
    catalogs: Catalogs
    hours: OpeningHours
    keywords: KeywordTable
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # Messages per minute from one person before the flow pauses for them (everything is still stored).
    max_per_minute: int = 20
    # Whether a staff member is there to answer (the console adds this); None: opening hours decide alone.
    staffed: Callable[[], Awaitable[bool]] | None = None
    # With `staffed`: how long a signed-in staff member counts as present (StaffAccounts.idle_timeout).
    # Given, a database with a writer asks inside the message's own job instead of calling `staffed`.
    staff_idle: timedelta | None = None
    # Called after commit with the pseudonyms that have new replies (wakes the web chat's long polls).
    on_replies: Callable[[Sequence[str]], None] | None = None
    # Called after commit with the conversation that changed (None: one was erased): the console's live view.
    on_change: Callable[[str | None], None] | None = None
    metrics: Metrics | None = None
    # The flood rule for conversations that come with a source (the web chat's client address).
    limits: ChatLimits = field(default_factory=ChatLimits)

    async def is_open(self, now: datetime, channel: str) -> bool:
        if not self.hours.is_open(now, channel):
            return False
        return True if self.staffed is None else await self.staffed()

    async def context(self, now: datetime, channel: str) -> FlowContext:
        return self._context(now, channel, await self.is_open(now, channel))

    def _context(self, now: datetime, channel: str, is_open: bool) -> FlowContext:
        return FlowContext(
            now=now,
            is_open=is_open,
            # Within the hours but nobody signed in: no opening time to promise (it would be "now").
            next_opening=None
            if is_open or self.hours.is_open(now, channel)
            else self.hours.next_opening(now, channel),
            timezone=self.hours.timezone,
            languages=self.catalogs.languages,
            texts=self.catalogs.texts,
            keywords=self.keywords,
            opt_out=channel in OPT_OUT_CHANNELS,
            # The phone keeps the line's general hours; a channel (the web chat) may close earlier.
            phone_open=self.hours.is_open(now),
            channel=channel,
        )

    async def handle(self, msg: InboundMessage) -> Outcome:
        started = time.perf_counter()
        outcome = await self._handle(msg)
        if msg.source is not None and outcome is Outcome.ACCEPTED:
            # Again after commit: conversations opened in parallel (PostgreSQL) did not see each other.
            if self.db.writer is not None:
                source, now = msg.source, self.clock()
                await self.db.perform(lambda: self._rules().settle_flood(source, now), key=source)
            else:
                await settle_flood(self.db, msg.source, self.clock(), self.limits)
        if self.metrics is not None:
            channel = str(msg.contact.channel)
            self.metrics.messages_in.labels(channel, str(outcome)).inc()
            self.metrics.handle_seconds.labels(channel).observe(time.perf_counter() - started)
        return outcome

    def _rules(self) -> InboundRules:
        return InboundRules(
            cipher=self.db.cipher(),
            catalogs=self.catalogs,
            keywords=self.keywords,
            timezone=self.hours.timezone,
            max_per_minute=self.max_per_minute,
            limits=self.limits,
            staff_idle=self.staff_idle,
            step=step,
        )

    async def _handle(self, msg: InboundMessage) -> Outcome:
        if self.db.writer is not None:
            return await self._handle_as_job(msg)
        return await self._handle_in_session(msg)

    async def _handle_as_job(self, msg: InboundMessage) -> Outcome:
        """The whole message as one job of the writer (inbound.py): everything that needs no database is
        done here first, the job holds the write lock only for its statements."""
        now = self.clock()
        channel = str(msg.contact.channel)
        # A message with a NUL or a lone surrogate must still be stored, not fail (a channel would
        # redeliver it forever).
        text = storable(msg.text)[:MAX_TEXT]
        hours_open = self.hours.is_open(now, channel)
        ask_staff = hours_open and self.staffed is not None and self.staff_idle is not None
        staffed = True
        if hours_open and self.staffed is not None and not ask_staff:
            staffed = await self.staffed()
        prepared = Prepared(
            now=now,
            channel=channel,
            pseudonym=self.keys.pseudonym(msg.contact),
            address_enc=self.keys.encrypt(msg.contact.address),
            provider_key=self.keys.provider_key(channel, msg.provider_id),
            provider_ref=msg.provider_ref,
            source=msg.source,
            given=FlowInput(text, msg.choice, msg.locale_hint, msg.attachments),
            text_enc=seal_text(self.db.cipher(), text),
            ctx=self._context(now, channel, hours_open and staffed),
            ask_staff=ask_staff,
        )
        rules = self._rules()
        # By pseudonym: one person's messages meet on one PostgreSQL lane (pg_writer.py).
        handled = await self.db.perform(lambda: rules.unit(prepared), key=prepared.pseudonym)
        if handled is None:
            return Outcome.DUPLICATE
        self._changed(handled.conversation_id, [prepared.pseudonym] if handled.replied else [])
        if handled.conversation_id is None:
            await self._scrub()
        return Outcome.ACCEPTED

    async def _handle_in_session(self, msg: InboundMessage) -> Outcome:
        """A SQLite database in memory (tests; no writer can share it): the same rules on the ORM, in one
        transaction."""
        now = self.clock()
        channel = str(msg.contact.channel)
        pseudonym = self.keys.pseudonym(msg.contact)
        address_enc = self.keys.encrypt(msg.contact.address)
        # A message with a NUL or a lone surrogate must still be stored, not fail (a channel would
        # redeliver it forever).
        text = storable(msg.text)[:MAX_TEXT]
        # Before the transaction: whether staff are signed in is a query of its own, and on SQLite a
        # second transaction would wait for the write lock this one is about to hold.
        ctx = await self.context(now, channel)
        async with self.db.uow() as uow:
            if not await uow.seen.first_time(channel, self.keys.provider_key(channel, msg.provider_id), now):
                return Outcome.DUPLICATE
            contact = await uow.contacts.touch(pseudonym, channel, address_enc, now)
            contact.opted_out = False
            conv = await uow.conversations.open_for_contact(contact.id) or await reopen_recent(
                uow, contact.id, now
            )
            # Counted before anything is added, so the query forces no early flush (and the conversation
            # row is written once per message, not twice); the 1 is this message.
            recent = 1 + (await uow.messages.inbound_since(conv.id, now - RATE_WINDOW) if conv else 0)
            if conv is None:
                conv = ConversationRow(
                    # Our own id, so nothing needs flushing to learn it before the rows that point here.
                    id=str(uuid.uuid4()),
                    contact_id=contact.id,
                    channel=channel,
                    language=self.catalogs.languages[0],
                    state={},
                    status=ConversationStatus.INTAKE,
                    created_at=now,
                    updated_at=now,
                    source=msg.source,
                    flood=msg.source is not None and await joins_flood(uow, msg.source, now, self.limits),
                )
                uow.conversations.add(conv)
            uow.messages.stage(
                conversation_id=conv.id,
                direction=Direction.IN,
                sender=Sender.PERSON,
                text=text,
                attachments=msg.attachments,
                created_at=now,
                provider_ref=msg.provider_ref,
            )
            conv.last_inbound_at = now
            turn = Turn(
                uow,
                contact,
                conv,
                FlowInput(text, msg.choice, msg.locale_hint, msg.attachments),
                ctx,
                now,
                recent,
            )
            # The rules in order; the first that handles the message ends its handling.
            for rule in (self._erase, self._blocked, self._flooding, self._flow):
                handled = await rule(turn)
                if handled is not None:
                    break
            else:  # pragma: no cover - the flow handles whatever the others leave
                raise AssertionError("no rule handled the message")
            await uow.commit()
        self._changed(handled.conversation_id, [pseudonym] if handled.replied else [])
        if handled.conversation_id is None:
            await self._scrub()
        return Outcome.ACCEPTED

    async def _scrub(self) -> None:
        # The erasure is committed and confirmed: a failure here must not make the channel redeliver.
        try:
            await self.db.after_erasure()
        except Exception:
            log.exception("could not empty the write-ahead log after an erasure")

    async def _erase(self, turn: Turn) -> Handled | None:
        """First of all: the delete word, whatever state the sender or the conversation is in."""
        if not erase_requested(turn.given, turn.ctx):
            return None
        state = FlowState.from_json(turn.conv.state)
        if state.step is Step.NEW:
            # A fresh conversation (the last one was closed): confirm in the person's last language.
            earlier = [
                conv
                for conv in await turn.uow.conversations.for_contact(turn.contact.id)
                if conv is not turn.conv
            ]
            state = replace(state, lang=earlier[-1].language if earlier else turn.conv.language)
        await self._apply(turn.uow, turn.contact, turn.conv, erase(state, turn.ctx), turn.now, turn.ctx)
        return Handled(None, replied=True)

    async def _blocked(self, turn: Turn) -> Handled | None:
        contact, conv = turn.contact, turn.conv
        if contact.blocked_until is None or contact.blocked_until <= turn.now:
            return None
        # Kept for staff, but the sender learns nothing: one neutral line, then silence.
        if contact.block_notified:
            return Handled(conv.id, replied=False)
        contact.block_notified = True
        await self._say(turn, c.BLOCKED)
        return Handled(conv.id, replied=True)

    async def _flooding(self, turn: Turn) -> Handled | None:
        # A flood from one sender must not starve everyone else: everything is kept for staff, the
        # person is told once per flood, and the flow waits until the pace drops.
        if turn.recent <= self.max_per_minute:
            return None
        if turn.recent == self.max_per_minute + 1:
            await self._say(turn, c.SLOW_DOWN)
        return Handled(turn.conv.id, replied=True)

    async def _flow(self, turn: Turn) -> Handled:
        state = FlowState.from_json(turn.conv.state)
        if turn.conv.status == "claimed" and state.offered:
            # A staff member is talking now: a typed "3" answers them, it is not a pick from the bot's offer.
            state = replace(state, offered=())
        try:
            result = step(state, turn.given, turn.ctx)
        except Exception:
            # Never text or address in logs: only where it failed.
            log.exception("intake flow failed at step %s; handing over to staff", state.step)
            result = error_handoff(state, turn.ctx)
        await self._apply(turn.uow, turn.contact, turn.conv, result, turn.now, turn.ctx)
        return Handled(turn.conv.id, replied=bool(result.replies))

    async def _say(self, turn: Turn, msgid: str) -> None:
        t = self.catalogs.texts(turn.conv.language)
        text = compose(t, msgid, self.keywords)
        await enqueue(turn.uow, turn.conv, turn.contact, [Reply(text=text, lang=t.lang, rtl=t.rtl)], turn.now)

    def _changed(self, conversation_id: str | None, pseudonyms: Sequence[str]) -> None:
        if pseudonyms and self.on_replies is not None:
            self.on_replies(pseudonyms)
        if self.on_change is not None:
            self.on_change(conversation_id)

    async def _apply(
        self,
        uow: UnitOfWork,
        contact: ContactRow,
        conv: ConversationRow,
        result: StepResult,
        now: datetime,
        ctx: FlowContext,
    ) -> None:
        state = result.state
        if Event.DELETE in result.events:
            refs = await self._erase_all(uow, contact, now)
            erased = [replace(r, erase_refs=tuple(refs)) if r.erase else r for r in result.replies]
            await enqueue(uow, None, contact, erased, now)
            # The confirmation's outbox row keeps the address it needs; the contact keeps none (its next
            # message brings it back). The row itself stays, so a block on a hostile sender survives.
            contact.address_enc = b""
            return
        replies: tuple[Reply, ...] = result.replies
        conv.state = state.to_json()
        conv.language = state.lang
        conv.updated_at = now
        conv.under18 = state.under_18 is True
        if Event.DANGER in result.events:
            conv.danger = True
        if Event.STOP in result.events:
            # The provider blocks sends after an opt-out; trying anyway would only fail, so cancel.
            contact.opted_out = True
            await uow.outbox.cancel_pending(contact.pseudonym, "opted out")
            conv.status = ConversationStatus.CLOSED
            conv.closed_at = now
        if Event.HANDOFF in result.events and conv.status == ConversationStatus.INTAKE:
            if ctx.is_open:
                ahead = await uow.conversations.waiting_ahead(conv.danger, conv.under18, conv.flood)
                if ahead:
                    replies = (*replies, queue_ahead_reply(state.lang, ahead, ctx))
            conv.status = ConversationStatus.QUEUED
            conv.queued_at = now
            conv.outside_hours = not ctx.is_open
        if Event.INTAKE_COMPLETE in result.events:
            conv.stat_key = await uow.stats.put(
                conv.stat_key,
                month=stat_month(now, self.hours),
                channel=conv.channel,
                role=state.role,
                kind=state.kind,
                age_group=state.age,
                gender=state.gender,
                topics=list(state.topics),
                outside_hours=not ctx.is_open,
            )
        await enqueue(uow, conv, contact, replies, now)

    async def _erase_all(self, uow: UnitOfWork, contact: ContactRow, now: datetime) -> list[str]:
        """The delete keyword: transcripts, stored replies and the link to the person go; the anonymous
        record stays (it never pointed at anyone). Returns the chat's ids of recent messages, which the
        channel deletes on the person's device where it can (Telegram: 48 hours)."""
        since = now - ERASE_WINDOW
        # This very message (the keyword) is not written at all, but it goes from the device too.
        refs: list[str] = [str(m["provider_ref"]) for m in uow.messages.discard_staged() if m["provider_ref"]]
        await uow.flush()
        for conv in await uow.conversations.for_contact(contact.id):
            for message in await uow.messages.for_conversation(conv.id):
                if message.provider_ref and message.created_at >= since:
                    refs.append(message.provider_ref)
            await uow.conversations.delete(conv)
        refs.extend(await uow.outbox.sent_refs(contact.pseudonym, since))
        await uow.outbox.forget_pseudonym(contact.pseudonym)
        await uow.flush()
        return refs
