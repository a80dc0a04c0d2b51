"""The staff side of the core: claim, reply, note, release, transfer and close conversations.

Each operation is one transaction that checks, in the database, that this staff member may do it now:
two staff members can never hold the same conversation, whatever process they are on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from intake import content as c
from intake.categories import AGE_GROUPS, ROLES, Gender, InquiryKind, option_ids, with_main_topics
from intake.countries import normalise_country
from intake.desk_activity import Activity, activity
from intake.desk_search import Hit, search
from intake.desk_views import ContactView, ConversationView, Detail, MessageView
from intake.ending import ENDED, system_line, was_reopened
from intake.flow import FlowState
from intake.hours import OpeningHours, stat_month
from intake.i18n import Catalogs
from intake.messages import Channel, ConversationStatus, Delivery, Direction, Reply, Sender, storable
from intake.records import TOPIC_IDS
from intake.replies import enqueue
from intake.storage.models import ConversationRow, MessageRow
from intake.storage.uow import Database, UnitOfWork

# Channels that only allow free text within a window after the person's last message.
REPLY_WINDOWS = {Channel.WHATSAPP.value: timedelta(hours=24)}
MAX_REPLY = 4000
# Twilio refuses message bodies over 1,600 characters.
MAX_REPLY_BY_CHANNEL = {Channel.SMS.value: 1600, Channel.WHATSAPP.value: 1600}


def _window_closed(conv: ConversationRow, now: datetime) -> bool:
    window = REPLY_WINDOWS.get(conv.channel)
    return bool(window and (conv.last_inbound_at is None or now - conv.last_inbound_at > window))


class DeskError(Exception):
    """A staff action the server refuses; `status` is the HTTP status the console answers with."""

    status = 400


class NotFound(DeskError):
    status = 404


class Conflict(DeskError):
    status = 409


class Forbidden(DeskError):
    status = 403


@dataclass(frozen=True)
class Categorisation:
    """What staff record at close; None keeps what the intake found."""

    role: str | None = None
    topics: tuple[str, ...] | None = None
    age_group: str | None = None
    gender: str | None = None
    kind: str | None = None
    country: str | None = None
    follow_up: bool = False
    activities: tuple[str, ...] = field(default_factory=tuple)

    def validate(self) -> None:
        checks = (
            ("role", self.role, option_ids(ROLES)),
            ("age_group", self.age_group, option_ids(AGE_GROUPS) | {"not_stated"}),
            ("gender", self.gender, {g.value for g in Gender}),
            ("kind", self.kind, {k.value for k in InquiryKind}),
        )
        for name, value, allowed in checks:
            if value is not None and value not in allowed:
                raise DeskError(f"{name}: unknown value {value!r}")
        if self.topics is not None and not set(self.topics) <= TOPIC_IDS:
            raise DeskError(f"topics: unknown value in {list(self.topics)!r}")
        if self.country is not None and normalise_country(self.country) is None:
            raise DeskError("country: an ISO 3166 country code or a country's name (e.g. SO or Somalia)")


@dataclass(frozen=True)
class ReplyOutcome:
    outbox_id: int
    # Held: not sent because the channel's free-text window has closed (WhatsApp after 24 hours).
    held: bool


@dataclass
class StaffDesk:
    db: Database
    # The person's language's texts (staff joined, the conversation ended, the invitation back).
    catalogs: Catalogs
    # The anonymous record's month is the line's local month.
    hours: OpeningHours
    # The intake's clock (bots/app.py passes the service's, so the messages of both share one time).
    clock: Callable[[], datetime]
    # Told after a commit, like the intake's: whose replies were queued (wakes the outbox and the web
    # chat's long polls), and which conversation changed (the consoles' live view; None: the queue).
    on_replies: Callable[[Sequence[str]], None] | None = None
    on_change: Callable[[str | None], None] | None = None
    # Channels with an approved template that may invite the person back when a reply is held.
    invite_channels: frozenset[str] = frozenset()

    async def claim(self, conversation_id: str, staff: str) -> None:
        now = self.clock()
        async with self.db.uow() as uow:
            claimed = await uow.conversations.claim(conversation_id, staff, now)
            if claimed is None:
                conv = await uow.conversations.get(conversation_id)
                if conv is None:
                    raise NotFound("no such conversation")
                raise Conflict(
                    f"the conversation is {conv.status}" + (" by someone else" if conv.claimed_by else "")
                )
            conv = claimed
            contact = await uow.contacts.get(conv.contact_id) if conv.contact_id is not None else None
            self._system(uow, conv, f"claimed by {staff}", now)
            # Outside a channel's free-text window the notice could not be delivered: the person learns
            # a human is there from the first reply (or the template invitation) instead.
            if contact is not None and not contact.opted_out and not _window_closed(conv, now):
                t = self.catalogs.texts(conv.language)
                joined = Reply(text=t(c.STAFF_JOINED), lang=t.lang, rtl=t.rtl, sender=Sender.STAFF)
                await enqueue(uow, conv, contact, [joined], now)
            await uow.commit()
            pseudonym = contact.pseudonym if contact else None
        self._wake(pseudonym, conversation_id)

    async def _held_by(self, uow_conv: ConversationRow | None, staff: str) -> ConversationRow:
        if uow_conv is None:
            raise NotFound("no such conversation")
        if uow_conv.status != ConversationStatus.CLAIMED or uow_conv.claimed_by != staff:
            raise Forbidden("claim the conversation first")
        return uow_conv

    async def reply(self, conversation_id: str, staff: str, text: str) -> ReplyOutcome:
        text = storable(text).strip()
        if not text:
            raise DeskError("the reply is empty")
        now = self.clock()
        async with self.db.uow() as uow:
            conv = await self._held_by(await uow.conversations.get(conversation_id), staff)
            limit = MAX_REPLY_BY_CHANNEL.get(conv.channel, MAX_REPLY)
            if len(text) > limit:
                raise DeskError(f"the reply is longer than {limit} characters, the most this channel carries")
            contact = await uow.contacts.get(conv.contact_id) if conv.contact_id is not None else None
            if contact is None:
                raise Conflict("the person erased the conversation")
            if contact.opted_out:
                raise Conflict("the person has opted out of messages on this channel")
            t = self.catalogs.texts(conv.language)
            reply = Reply(text=text, lang=t.lang, rtl=t.rtl, sender=Sender.STAFF)
            [outbox_id] = await enqueue(uow, conv, contact, [reply], now)
            held = _window_closed(conv, now)
            if held:
                await uow.outbox.hold(outbox_id)
                await uow.messages.set_delivery(outbox_id, Delivery.HELD)
                if conv.channel in self.invite_channels:
                    invite = Reply(text=t(c.WHATSAPP_INVITE), lang=t.lang, rtl=t.rtl, sender=Sender.STAFF)
                    await enqueue(uow, conv, contact, [invite], now, extra={"template": "invite"})
            conv.updated_at = now
            await uow.commit()
        self._wake(contact.pseudonym, conversation_id)
        return ReplyOutcome(outbox_id=outbox_id, held=held)

    async def note(self, conversation_id: str, staff: str, text: str) -> None:
        text = storable(text).strip()
        if not text or len(text) > MAX_REPLY:
            raise DeskError("a note must be 1 to 4000 characters")
        now = self.clock()
        async with self.db.uow() as uow:
            conv = await uow.conversations.get(conversation_id)
            if conv is None:
                raise NotFound("no such conversation")
            if conv.status == ConversationStatus.CLOSED:
                # Closed transcripts are only kept until retention deletes them; nothing is added.
                raise Conflict("the conversation is closed")
            uow.messages.add(
                MessageRow(
                    conversation_id=conv.id,
                    direction=Direction.NOTE,
                    sender=staff,
                    text=text,
                    attachments=0,
                    created_at=now,
                )
            )
            await uow.commit()
        # Colleagues with the conversation open see the note at once.
        self._wake(None, conversation_id)

    async def release(self, conversation_id: str, staff: str) -> None:
        await self._move(conversation_id, staff, to=None)

    async def transfer(self, conversation_id: str, staff: str, to: str) -> None:
        if not to or to == staff:
            raise DeskError("transfer to another staff member")
        await self._move(conversation_id, staff, to=to)

    async def _move(self, conversation_id: str, staff: str, to: str | None) -> None:
        now = self.clock()
        async with self.db.uow() as uow:
            conv = await self._held_by(await uow.conversations.get(conversation_id), staff)
            if to is None:
                conv.status, conv.claimed_by = ConversationStatus.QUEUED, None
                self._system(uow, conv, f"released by {staff}", now)
            else:
                conv.claimed_by = to
                self._system(uow, conv, f"transferred by {staff} to {to}", now)
            conv.updated_at = now
            await uow.commit()
        self._wake(None, conversation_id)

    async def close(self, conversation_id: str, staff: str, final: Categorisation) -> None:
        """Close with the final categorisation: the anonymous record is corrected and then unlinked."""
        final.validate()
        now = self.clock()
        async with self.db.uow() as uow:
            conv = await self._held_by(await uow.conversations.get(conversation_id), staff)
            state = FlowState.from_json(conv.state)
            topics = with_main_topics(list(final.topics if final.topics is not None else state.topics))
            # A reopened conversation's record was written at its first close: one inquiry, one record.
            reopened = conv.stat_key is None and await was_reopened(uow, conv)
            if not reopened:
                await uow.stats.put(
                    conv.stat_key,
                    month=stat_month(conv.created_at, self.hours),
                    channel=conv.channel,
                    role=final.role if final.role is not None else state.role,
                    kind=final.kind if final.kind is not None else state.kind,
                    age_group=final.age_group if final.age_group is not None else state.age,
                    gender=final.gender if final.gender is not None else state.gender,
                    topics=topics,
                    outside_hours=conv.outside_hours,
                    follow_up=final.follow_up,
                    country=normalise_country(final.country) if final.country is not None else None,
                    closed_by_staff=True,
                )
            conv.stat_key = None
            conv.status, conv.closed_at, conv.updated_at = ConversationStatus.CLOSED, now, now
            self._system(uow, conv, f"closed by {staff}", now)
            contact = await uow.contacts.get(conv.contact_id) if conv.contact_id is not None else None
            # The person is told, neutrally, unless nothing may reach them: opted out, blocked, or outside
            # the channel's free-text window.
            told = (
                contact is not None
                and not contact.opted_out
                and not (contact.blocked_until is not None and contact.blocked_until > now)
                and not _window_closed(conv, now)
            )
            if contact is not None and told:
                t = self.catalogs.texts(conv.language)
                ended = Reply(text=t(ENDED), lang=t.lang, rtl=t.rtl, sender=Sender.STAFF)
                await enqueue(uow, conv, contact, [ended], now)
            await uow.commit()
            pseudonym = contact.pseudonym if contact is not None and told else None
        self._wake(pseudonym, conversation_id)

    async def block(self, conversation_id: str, staff: str, hours: int) -> None:
        """Block the sender of this conversation for a while (abusive, or a relative hunting the person)."""
        if not 1 <= hours <= 24 * 365:
            raise DeskError("block for 1 hour to 365 days")
        now = self.clock()
        async with self.db.uow() as uow:
            conv = await uow.conversations.get(conversation_id)
            contact = (
                await uow.contacts.get(conv.contact_id) if conv and conv.contact_id is not None else None
            )
            if conv is None or contact is None:
                raise NotFound("no such conversation, or the person erased it")
            contact.blocked_until = now + timedelta(hours=hours)
            contact.block_notified = False
            self._system(uow, conv, f"sender blocked for {hours} h by {staff}", now)
            await uow.commit()
        self._wake(None, conversation_id)

    async def flag(self, conversation_id: str, staff: str, hostile: bool) -> None:
        now = self.clock()
        async with self.db.uow() as uow:
            conv = await uow.conversations.get(conversation_id)
            contact = (
                await uow.contacts.get(conv.contact_id) if conv and conv.contact_id is not None else None
            )
            if conv is None or contact is None:
                raise NotFound("no such conversation, or the person erased it")
            contact.hostile = hostile
            verb = "flagged as possibly hostile" if hostile else "hostile flag removed"
            self._system(uow, conv, f"{verb} by {staff}", now)
            await uow.commit()
        self._wake(None, conversation_id)

    def now(self) -> datetime:
        """The desk's clock (the intake's: tests set one clock for both)."""
        return self.clock()

    async def queue(self) -> list[ConversationView]:
        async with self.db.uow() as uow:
            return [ConversationView.of(row) for row in await uow.conversations.queue()]

    async def floods(self) -> list[tuple[str, int]]:
        """(source, open conversations from it) for every flood now in the queue or the intake."""
        async with self.db.uow() as uow:
            return await uow.floods.waiting()

    async def clear_flood(self, source: str, staff: str) -> list[str]:
        """Closes every open conversation of this flood at once (not those a staff member holds); their
        anonymous records go too (a flood is not inquiries). Nothing is sent to anyone. Returns their ids."""
        now = self.clock()
        async with self.db.uow() as uow:
            cleared = await uow.floods.clear(source, now)
            for conv in cleared:
                self._system(uow, conv, f"closed with a flood by {staff}", now)
            await uow.commit()
        if cleared and self.on_change is not None:
            self.on_change(None)
        return [conv.id for conv in cleared]

    async def held_by(self, staff: str) -> list[ConversationView]:
        async with self.db.uow() as uow:
            return [ConversationView.of(row) for row in await uow.conversations.claimed_by(staff)]

    async def activity(self, conversation_ids: Sequence[str]) -> dict[str, Activity]:
        return await activity(self.db, conversation_ids)

    async def search(self, query: str) -> list[Hit]:
        """Words in open and recent transcripts (see `desk_search`)."""
        return await search(self.db, query, self.now())

    async def detail(self, conversation_id: str) -> Detail:
        async with self.db.uow() as uow:
            conv = await uow.conversations.get(conversation_id)
            if conv is None:
                raise NotFound("no such conversation")
            messages = list(await uow.messages.for_conversation(conversation_id))
            contact = await uow.contacts.get(conv.contact_id) if conv.contact_id is not None else None
            earlier = []
            if contact is not None:
                earlier = [
                    x for x in await uow.conversations.for_contact(contact.id) if x.id != conversation_id
                ]
            return Detail(
                ConversationView.of(conv),
                [MessageView.of(m) for m in messages],
                ContactView.of(contact) if contact is not None else None,
                [ConversationView.of(x) for x in earlier],
            )

    def _system(self, uow: UnitOfWork, conv: ConversationRow, text: str, now: datetime) -> None:
        uow.messages.add(system_line(conv, text, now))

    def _wake(self, pseudonym: str | None, conversation_id: str | None = None) -> None:
        if pseudonym is not None and self.on_replies is not None:
            self.on_replies([pseudonym])
        if conversation_id is not None and self.on_change is not None:
            self.on_change(conversation_id)
