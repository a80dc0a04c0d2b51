"""Tables. The only module besides the repositories that knows SQLAlchemy's ORM.

What is stored is the least the work needs: a pseudonym instead of an address, the address, the messages
and the replies only encrypted, and statistics in a table with no link to anyone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from intake.categories import CaseStatus
from intake.messages import ConversationStatus, OutboxStatus, Sender
from intake.storage.sealed import SealedJSON, SealedText

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def aware() -> UtcDateTime:
    return UtcDateTime()


class ContactRow(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    address_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(aware())
    last_seen_at: Mapped[datetime] = mapped_column(aware())
    blocked_until: Mapped[datetime | None] = mapped_column(aware(), nullable=True)
    hostile: Mapped[bool] = mapped_column(default=False)
    opted_out: Mapped[bool] = mapped_column(default=False)
    # A blocked sender gets one neutral line per block, then silence.
    block_notified: Mapped[bool] = mapped_column(default=False)


class ConversationRow(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_status_queue", "status", "queued_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True, index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    # intake -> queued -> claimed -> closed
    status: Mapped[str] = mapped_column(String(16), default=ConversationStatus.INTAKE.value)
    danger: Mapped[bool] = mapped_column(default=False)
    under18: Mapped[bool] = mapped_column(default=False)
    outside_hours: Mapped[bool] = mapped_column(default=False)
    queued_at: Mapped[datetime | None] = mapped_column(aware(), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(aware())
    updated_at: Mapped[datetime] = mapped_column(aware())
    last_inbound_at: Mapped[datetime | None] = mapped_column(aware(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(aware(), nullable=True)
    # The key of this inquiry's anonymous record while it may still be corrected; dropped at close.
    stat_key: Mapped[str | None] = mapped_column(String(36), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Web chat: a keyed hash of the client address it was opened from (never the address), to tell a flood
    # of conversations from one source; goes with the conversation.
    source: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    # Opened from a source that opened many at once: shown apart in the queue, after everyone else.
    flood: Mapped[bool] = mapped_column(default=False)

    messages: Mapped[list[MessageRow]] = relationship(
        back_populates="conversation",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="MessageRow.id",
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    # in (from the person) | out (to the person) | note (staff only) | system
    direction: Mapped[str] = mapped_column(String(8))
    sender: Mapped[str] = mapped_column(String(16), default=Sender.PERSON.value)
    # Encrypted (the transcript and staff notes); see sealed.py.
    text: Mapped[str] = mapped_column(SealedText)
    attachments: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(aware())
    # Indexed: every recorded send and delivery report updates the message of an outbox row.
    outbox_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    provider_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    delivery: Mapped[str | None] = mapped_column(String(16), nullable=True)

    conversation: Mapped[ConversationRow] = relationship(back_populates="messages")


class InboundSeenRow(Base):
    """Provider message ids already accepted, so a redelivered webhook is processed once."""

    __tablename__ = "inbound_seen"
    __table_args__ = (UniqueConstraint("channel", "provider_key", name="uq_inbound_seen_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    # A hash, not the raw id: a Twilio SID or Telegram update id says nothing once hashed.
    provider_key: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(aware(), index=True)


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # The claim walks due rows in order and stops at its batch (see Outbox.claim_due). An index on
        # (status, next_attempt_at) lured both planners into gathering and sorting every pending row.
        Index("ix_outbox_status_id", "status", "id"),
        Index("ix_outbox_pseudonym", "pseudonym", "id"),
        # Delivery callbacks find their row by the provider's id.
        Index("ix_outbox_provider_id", "provider_id"),
        # The sender's claim asks, for each due row, whether an earlier row to the same person is still
        # open (it must not overtake it). Only open rows, per person: sent rows pile up until the
        # retention purge. Without it a fresh table's planner (no statistics yet) answered that by
        # scanning every pending row for every candidate: 4.8 s a claim with 4,400 pending, 14 ms with.
        Index(
            "ix_outbox_open",
            "pseudonym",
            "id",
            sqlite_where=text("status IN ('pending', 'sending')"),
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
        # The web chat reads replies "after id N": an id freed by an erase must never come back.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    pseudonym: Mapped[str] = mapped_column(String(64))
    address_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # Encrypted: the reply's text and menu.
    payload: Mapped[dict[str, Any]] = mapped_column(SealedJSON)
    # pending -> sending -> sent | failed | held
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(aware())
    locked_until: Mapped[datetime | None] = mapped_column(aware(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(aware())
    sent_at: Mapped[datetime | None] = mapped_column(aware(), nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)


class StatRecordRow(Base):
    """One anonymous record per inquiry. No pseudonym, no address, no text, no date finer than a month."""

    __tablename__ = "stat_records"
    # Covering indexes for the year's report: each of its three passes reads one index in order and
    # groups as it goes (SQLite streams a GROUP BY on an index's leading columns; without them a year of
    # 1,000,000 records took seconds a pass, sorting or fetching rows).
    __table_args__ = (
        Index(
            "ix_stat_records_report", "month", "kind", "channel", "role", "age_group", "gender", "follow_up"
        ),
        Index("ix_stat_records_topics", "month", "kind", "topic_bits"),
        Index("ix_stat_records_country", "month", "kind", "country"),
    )

    key: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    month: Mapped[str] = mapped_column(String(7), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    age_group: Mapped[str | None] = mapped_column(String(16), nullable=True)
    gender: Mapped[str | None] = mapped_column(String(16), nullable=True)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    outside_hours: Mapped[bool] = mapped_column(default=False)
    follow_up: Mapped[bool] = mapped_column(default=False)
    country: Mapped[str | None] = mapped_column(String(32), nullable=True)
    closed_by_staff: Mapped[bool] = mapped_column(default=False)
    # The topics again as one bit each (categories.TOPIC_BITS): the year's report counts every topic in
    # one pass over the records, which a JSON list does not allow on both databases.
    topic_bits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class CaseRow(Base):
    """A follow-up case (the report's chapter 5). Never an address or a national id number: the alias is
    the only name, and it is stored encrypted."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_status_closed_at", "status", "closed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    origin: Mapped[str] = mapped_column(String(16))
    consent_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    age_group: Mapped[str] = mapped_column(String(16))
    gender: Mapped[str] = mapped_column(String(16))
    responsible: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8), default=CaseStatus.OPEN.value)
    alias_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    opened_on: Mapped[date] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column(aware(), nullable=True)


class CaseActivityRow(Base):
    __tablename__ = "case_activities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    happened_on: Mapped[date] = mapped_column(Date)
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    logged_by: Mapped[str] = mapped_column(String(64))


class ConcernDecisionRow(Base):
    """A decision on the duty to notify child welfare or to avert a crime; the reason stays encrypted."""

    __tablename__ = "concern_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    decided_on: Mapped[date] = mapped_column(Date)
    duty: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(16))
    reason_enc: Mapped[bytes] = mapped_column(LargeBinary)
    decided_by: Mapped[str] = mapped_column(String(64))


class ActivityRecordRow(Base):
    """The anonymous count of one follow-up activity or concern decision: no case, no date finer than a
    month. It stays when the case is deleted, so the year's report keeps its figures."""

    __tablename__ = "activity_records"
    __table_args__ = (Index("ix_activity_records_report", "month", "origin", "kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7))
    origin: Mapped[str] = mapped_column(String(16))
    # An activity kind (categories.FOLLOW_UP_ACTIVITIES), or "decision:<duty>:<decision>".
    kind: Mapped[str] = mapped_column(String(64))


class StaffRow(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    # staff | admin
    role: Mapped[str] = mapped_column(String(16), default="staff")
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(aware())


class StaffSessionRow(Base):
    """A signed-in console session. Only a hash of the cookie's token is stored."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(aware())
    last_seen_at: Mapped[datetime] = mapped_column(aware(), index=True)
    expires_at: Mapped[datetime] = mapped_column(aware())


class LoginAttemptRow(Base):
    """Failed sign-ins, keyed by a hash of the name and of the client address, for rate limiting."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(aware(), index=True)


class RateEventRow(Base):
    """One counted event (a web chat session opened, a message sent) under a key: a keyed hash of a client
    address or a chat token, never either. Rows older than the longest window are deleted."""

    __tablename__ = "rate_events"
    __table_args__ = (Index("ix_rate_events_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(aware(), index=True)


class AuditRow(Base):
    """Who opened or acted on which conversation, when. Never message text."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    staff_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    at: Mapped[datetime] = mapped_column(aware(), index=True)


class CallRow(Base):
    """One phone call to the line. The caller's number only as a pseudonym ("has called before") and
    encrypted for a call-back; both go at erasure or retention."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Twilio's CallSid: every step of the call finds its row by it, so a repeated step changes nothing.
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    pseudonym: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    number_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # intake.calls.CallState
    state: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    outside_hours: Mapped[bool] = mapped_column(default=False)
    answered_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    duration_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # intake.calls.Consent
    callback_consent: Mapped[str] = mapped_column(String(8), default="unknown")
    started_at: Mapped[datetime] = mapped_column(aware(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(aware(), nullable=True)
    # Set once staff turned the call into its anonymous category record.
    categorised: Mapped[bool] = mapped_column(default=False)
    called_back_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class VoicemailRow(Base):
    """A message left on the line: the audio only encrypted (Keys.seal), deleted with the call."""

    __tablename__ = "voicemails"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    recording_sid: Mapped[str] = mapped_column(String(64), unique=True)
    # None until the audio is downloaded from Twilio (and deleted there).
    audio_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    content_type: Mapped[str] = mapped_column(String(32), default="audio/mpeg")
    duration_seconds: Mapped[int] = mapped_column(Integer, default=0)
    stored_at: Mapped[datetime | None] = mapped_column(aware(), nullable=True)


class PhoneDutyRow(Base):
    """A staff member's phone for the line: rung together with the others on duty while `on_duty`."""

    __tablename__ = "phone_duty"

    staff_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    number_enc: Mapped[bytes] = mapped_column(LargeBinary)
    on_duty: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(aware())


class CannedReplyRow(Base):
    """An administrator's own wording of one canned reply in one language; without a row the catalog's
    text is used (intake/canned.py)."""

    __tablename__ = "canned_replies"
    __table_args__ = (UniqueConstraint("key", "lang", name="uq_canned_replies_key_lang"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # A key of intake.content.CANNED, and one of the catalogs' languages.
    key: Mapped[str] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(2000))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(aware())
