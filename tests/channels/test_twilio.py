"""SMS and WhatsApp through Twilio, end to end: signed webhooks into the real app (SQLite and PostgreSQL),
replies through the outbox to a local fake of Twilio's REST API.

Webhooks are signed here exactly as Twilio signs them (HMAC-SHA1 over the public URL and the sorted
parameters; tests/channels/fake_twilio.py), and cross-checked against the twilio package's own code. The
outbox is driven by hand (`run_once`) with a clock the test moves; the per-number rate limiter runs on a
fake clock too, so nothing here waits or depends on timing.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer
from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from bots.app import WIRING, Wiring, invite_channels, make_app
from bots.channels.twilio import TWILIO, TWIML_EMPTY, locale_hint, whatsapp_invite_enabled
from bots.channels.twilio.sender import RateLimiter, TwilioSender, classify
from intake import content as c
from intake.categories import AGE_GROUPS, GENDERS, ROLES, SITUATIONS, TOPICS
from intake.config import ConfigError, Settings, load_settings
from intake.messages import Channel, Contact, OutboundMessage, Reply
from intake.outbox import PermanentFailure, TemporaryFailure
from intake.queue import DeskError, StaffDesk
from intake.storage.models import Base, ContactRow, ConversationRow, InboundSeenRow, MessageRow, OutboxRow
from intake.storage.uow import Database
from tests.channels.fake_twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    TEMPLATE_SID,
    FakeTwilio,
    inbound_form,
    twilio_signature,
)
from tests.said import first_lines, said

ROOT = Path(__file__).resolve().parents[2]
ALWAYS_OPEN = ROOT / "deploy" / "config" / "always-open.toml"
PUBLIC_URL = "https://public.example"
SMS_FROM = "+4759440000"
WHATSAPP_FROM = "whatsapp:+4759440001"
NORWEGIAN = "+4791234567"
BRITISH = "whatsapp:+447700900123"
SMS_PATH = "/webhooks/twilio/sms"
WHATSAPP_PATH = "/webhooks/twilio/whatsapp"
STATUS_PATH = "/webhooks/twilio/status"
# A Tuesday morning; the line is open around the clock in always-open.toml anyway. The service runs on
# this clock from start-up (make_app's clock), its first retention run included.
START = datetime(2027, 11, 23, 9, 0, tzinfo=UTC)

# twilio 9's async HTTP client still uses aiohttp's deprecated BasicAuth; not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:BasicAuth is deprecated:DeprecationWarning",
    "ignore:The 'auth' parameter is deprecated:DeprecationWarning",
)

T = TypeVar("T")
Params = list[tuple[str, str]]


class Clock:
    """The service's and the outbox's clock, moved by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class FakeTime:
    """The rate limiter's monotonic clock and sleep: sleeping moves the clock, instantly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def base_env(database_url: str, api_url: str) -> dict[str, str]:
    return {
        "HELPLINE_ENV": "production",
        "HELPLINE_SECRET_KEY": "MDAqrmsoswGljZORB45t9X3L2oVVDt7TGFiZ3gfOf3w",
        "HELPLINE_DATABASE_URL": database_url,
        "HELPLINE_CONFIG": str(ALWAYS_OPEN),
        "HELPLINE_PUBLIC_URL": PUBLIC_URL,
        "HELPLINE_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "HELPLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "HELPLINE_TWILIO_SMS_FROM": SMS_FROM,
        "HELPLINE_TWILIO_WHATSAPP_FROM": WHATSAPP_FROM,
        "HELPLINE_TWILIO_API_URL": api_url,
    }


async def rows(db: Database, model: type[T]) -> list[T]:
    async with db.uow() as uow:
        stmt = select(model)
        return list((await uow.session.execute(stmt)).scalars().all())


@dataclass
class Twilio:
    """The running app, the fake Twilio API behind it, and one person writing."""

    client: TestClient[web.Request, web.Application]
    fake: FakeTwilio
    settings: Settings
    clock: Clock
    time: FakeTime
    sent_ids: int = 0

    @property
    def wiring(self) -> Wiring:
        return self.client.app[WIRING]

    @property
    def db(self) -> Database:
        return self.wiring.db

    def desk(self) -> StaffDesk:
        # The app's own: it invites back on WhatsApp where the settings have the template.
        return self.wiring.desk

    async def post(
        self, path: str, params: Params, *, url: str | None = None, signature: str | None = None
    ) -> ClientResponse:
        signed_url = url if url is not None else PUBLIC_URL + path
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature
            if signature is not None
            else twilio_signature(AUTH_TOKEN, signed_url, params),
        }
        return await self.client.post(path, data=urlencode(params), headers=headers)

    async def says(self, text: str, sender: str = NORWEGIAN, sid: str | None = None) -> str:
        """The person writes; returns the MessageSid. Twilio must get empty TwiML."""
        self.sent_ids += 1
        sid = sid or f"SM{self.sent_ids:032x}"
        whatsapp = sender.startswith("whatsapp:")
        path, to = (WHATSAPP_PATH, WHATSAPP_FROM) if whatsapp else (SMS_PATH, SMS_FROM)
        response = await self.post(path, inbound_form(sid, sender, text, to))
        assert response.status == 200, await response.text()
        assert response.content_type == "text/xml"
        assert await response.text() == TWIML_EMPTY
        return sid

    async def drain(self) -> None:
        """Send everything due now."""
        while await self.wiring.outbox.run_once():
            pass

    async def conversation(self) -> ConversationRow:
        [conv] = [row for row in await rows(self.db, ConversationRow) if row.status != "closed"]
        return conv


class Start(Protocol):
    async def __call__(self, env: Mapping[str, str | None] | None = None) -> Twilio: ...


@pytest.fixture
async def start(database_url: str, aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient) -> Start:
    fake = FakeTwilio()
    server = await aiohttp_server(fake.app)

    async def go(env: Mapping[str, str | None] | None = None) -> Twilio:
        values: dict[str, str] = base_env(database_url, str(server.make_url("")))
        for key, value in (env or {}).items():
            if value is None:
                values.pop(key, None)
            else:
                values[key] = value
        settings = load_settings(values)
        clock, time = Clock(), FakeTime()
        client = await aiohttp_client(make_app(settings, run_outbox=False, clock=clock))
        for sender in client.app[TWILIO].senders.values():
            sender.limiter.clock, sender.limiter.sleep = time.clock, time.sleep
        return Twilio(client, fake, settings, clock, time)

    return go


def menu_number(options: Sequence[Any], option_id: str) -> str:
    return str([o.id for o in options].index(option_id) + 1)


# Signatures.


def test_our_signature_is_twilios_algorithm() -> None:
    params = inbound_form("SM" + "a" * 32, NORWEGIAN, "Hei æøå & = + %", SMS_FROM)
    url = PUBLIC_URL + SMS_PATH + "?via=proxy"
    ours = twilio_signature(AUTH_TOKEN, url, params)
    validator = RequestValidator(AUTH_TOKEN)
    assert ours == validator.compute_signature(url, dict(params))
    assert validator.validate(url, dict(params), ours)
    assert not validator.validate(url, {**dict(params), "Body": "Hei"}, ours)
    assert twilio_signature("another-token", url, params) != ours


# The whole intake by typed numbers.


async def test_sms_intake_by_numbers_reaches_the_queue(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    tw = await start()
    languages = tw.settings.languages
    answers = [
        str(languages.index("nb") + 1),  # language
        "1",  # safe: yes
        menu_number(ROLES, "self"),
        f"{menu_number(TOPICS, 'social_control')} {menu_number(TOPICS, 'forced_marriage')}",
        menu_number(AGE_GROUPS, "under_18"),
        menu_number(GENDERS, "woman"),
        menu_number(SITUATIONS, "needs_time"),
    ]
    await tw.says("Hei, jeg trenger hjelp")
    await tw.drain()
    for answer in answers:
        await tw.says(answer)
        await tw.drain()

    t = tw.wiring.catalogs.texts("nb")
    conv = await tw.conversation()
    assert conv.status == "queued"
    assert conv.channel == "sms"
    assert conv.language == "nb"
    assert conv.under18

    bodies = [call.body for call in tw.fake.sent]
    assert first_lines(bodies)[0] == t(c.HELLO)
    language_menu = "\n".join(f"{i} " + name for i, name in enumerate(["Norsk bokmål", "English"], 1))
    assert (bodies[1] or "").startswith(t(c.ASK_LANGUAGE) + "\n")
    assert language_menu in (bodies[1] or "")
    assert (bodies[-2] or "").startswith(t(c.HANDOFF_OPEN))
    assert (bodies[-1] or "").startswith(t(c.MORE_INFO) + "\n1 ")
    assert t(c.KEY_ADVICE["self"]) in (bodies[-2] or "")
    assert said(t, c.UNDER_18_INFO) not in bodies  # offered, not sent unasked
    await tw.says("1")  # the numbered list's first group: advice
    await tw.drain()
    assert said(t, c.UNDER_18_INFO) in [call.body for call in tw.fake.sent][len(bodies) :]
    # Every reply was sent once, in order, to the person from the helpline's number, with a status callback.
    outbox = sorted(await rows(tw.db, OutboxRow), key=lambda r: r.id)
    assert all(row.status == "sent" for row in outbox)
    assert [row.provider_id for row in outbox] == [call.sid for call in tw.fake.sent]
    assert {(call.to, call.form["From"]) for call in tw.fake.sent} == {(NORWEGIAN, SMS_FROM)}
    assert {call.form["StatusCallback"] for call in tw.fake.sent} == {PUBLIC_URL + STATUS_PATH}
    assert len(tw.fake.calls) == len(tw.fake.sent) == len(outbox)
    # Paced per number: one send per second (on the limiter's fake clock) within each outbox pass.
    assert sum(tw.time.slept) >= len(bodies) - len(answers) - 1 > 0

    # The number is stored only encrypted and never logged; the person's text is never logged.
    digits = NORWEGIAN.removeprefix("+")
    for model in [ContactRow, ConversationRow, MessageRow, OutboxRow, InboundSeenRow]:
        for row in await rows(tw.db, model):
            assert digits not in repr(vars(row))
    assert all(digits not in str(call.form) for call in tw.fake.calls if call.to != NORWEGIAN)
    assert digits not in caplog.text
    assert "trenger hjelp" not in caplog.text
    assert {t.name for t in Base.metadata.sorted_tables} >= {"contacts", "outbox", "messages"}


async def test_whatsapp_intake_by_numbers_reaches_the_queue(start: Start) -> None:
    tw = await start()
    t = tw.wiring.catalogs.texts("en")
    await tw.says("Hello", sender=BRITISH)
    await tw.drain()
    # +44: the first answer comes in English.
    assert first_lines([tw.fake.sent[0].body]) == [t(c.HELLO)]
    answers = [
        str(tw.settings.languages.index("en") + 1),
        "1",
        menu_number(ROLES, "other"),
        str(len(TOPICS) + 1),  # Done, without a topic
        menu_number(AGE_GROUPS, "adult"),
        menu_number(GENDERS, "other"),
    ]
    for answer in answers:
        await tw.says(answer, sender=BRITISH)
        await tw.drain()
    conv = await tw.conversation()
    assert conv.status == "queued"
    assert conv.channel == "whatsapp"
    assert (tw.fake.sent[-1].body or "").startswith(t(c.MORE_INFO) + "\n1 ")
    assert {(call.to, call.form["From"]) for call in tw.fake.sent} == {(BRITISH, WHATSAPP_FROM)}
    [contact] = await rows(tw.db, ContactRow)
    assert contact.channel == "whatsapp"
    assert tw.wiring.keys.decrypt(contact.address_enc) == BRITISH


# Refused requests.


async def test_a_wrong_or_missing_signature_is_refused_and_nothing_is_stored(start: Start) -> None:
    tw = await start()
    params = inbound_form("SM" + "b" * 32, NORWEGIAN, "Hei", SMS_FROM)
    forged = twilio_signature("not-the-token", PUBLIC_URL + SMS_PATH, params)
    tampered = twilio_signature(
        AUTH_TOKEN, PUBLIC_URL + SMS_PATH, inbound_form("SM" + "b" * 32, NORWEGIAN, "x", SMS_FROM)
    )
    for signature in (forged, tampered, ""):
        response = await tw.post(SMS_PATH, params, signature=signature)
        assert response.status == 403
    assert (
        await tw.post(STATUS_PATH, [("MessageSid", "SM1"), ("MessageStatus", "failed")], signature=forged)
    ).status == 403
    for model in (ConversationRow, InboundSeenRow, MessageRow, OutboxRow, ContactRow):
        assert await rows(tw.db, model) == []
    await tw.drain()
    assert tw.fake.calls == []


async def test_the_signature_is_checked_against_the_public_url_behind_a_proxy(start: Start) -> None:
    tw = await start()
    path = SMS_PATH + "?via=proxy&n=1"
    params = inbound_form("SM" + "c" * 32, NORWEGIAN, "Hei", SMS_FROM)
    # The app is reached at http://127.0.0.1:port/…, but Twilio signed the public https URL.
    local = str(tw.client.make_url(path))
    assert local.startswith("http://127.0.0.1")
    assert (await tw.post(path, params, url=local)).status == 403
    assert (await tw.post(path, params, url=PUBLIC_URL + SMS_PATH)).status == 403  # query left out
    response = await tw.post(path, params, url=PUBLIC_URL + path)
    assert response.status == 200
    assert len(await rows(tw.db, MessageRow)) > 0


async def test_oversized_and_malformed_posts(start: Start) -> None:
    tw = await start()
    big = inbound_form("SM" + "d" * 32, NORWEGIAN, "x" * 70_000, SMS_FROM)
    assert (await tw.post(SMS_PATH, big)).status == 413
    no_from = [(k, v) for k, v in inbound_form("SM" + "d" * 32, NORWEGIAN, "Hei", SMS_FROM) if k != "From"]
    assert (await tw.post(SMS_PATH, no_from)).status == 400
    bad_media = inbound_form("SM" + "d" * 32, NORWEGIAN, "Hei", SMS_FROM, media=0)
    bad_media = [(k, "many" if k == "NumMedia" else v) for k, v in bad_media]
    assert (await tw.post(SMS_PATH, bad_media)).status == 400
    # A WhatsApp sender on the SMS webhook (a misconfigured number) is not taken for an SMS contact.
    assert (await tw.post(SMS_PATH, inbound_form("SM" + "d" * 32, BRITISH, "Hei", SMS_FROM))).status == 400
    headers = {"X-Twilio-Signature": "x", "Content-Type": "application/x-www-form-urlencoded"}
    assert (await tw.client.post(SMS_PATH, data=b"Body=%ff%fe&From=1", headers=headers)).status == 400
    headers["Content-Type"] = "application/json"
    assert (await tw.client.post(SMS_PATH, data=b"{}", headers=headers)).status == 400
    assert await rows(tw.db, MessageRow) == []


async def test_a_repeated_message_sid_is_processed_once(start: Start) -> None:
    tw = await start()
    sid = await tw.says("Hei")
    await tw.says("Hei", sid=sid)
    await tw.drain()
    inbound = [m for m in await rows(tw.db, MessageRow) if m.direction == "in"]
    assert len(inbound) == 1
    first = len(tw.fake.sent)
    assert first == 2  # greeting and the language question, once
    await tw.says("Hei", sid=sid)
    await tw.drain()
    assert len(tw.fake.sent) == first


# Opt-out.


@pytest.mark.parametrize("word", ["STOP", "stopp", "Avslutt", "UNSUBSCRIBE"])
async def test_stop_ends_the_conversation_quietly(start: Start, word: str) -> None:
    tw = await start()
    await tw.says("Hei")
    await tw.drain()
    for answer in ("1", "1", menu_number(ROLES, "self"), str(len(TOPICS) + 1), "3", "4", "5"):
        await tw.says(answer)
    await tw.drain()
    conv = await tw.conversation()
    assert conv.status == "queued"
    desk = tw.desk()
    await desk.claim(conv.id, "staff-1")
    # The person opts out before "a staff member is here" is sent: it is never sent.
    await tw.says(word)
    calls = len(tw.fake.calls)
    await tw.drain()
    assert len(tw.fake.calls) == calls
    with pytest.raises(DeskError):
        await desk.reply(conv.id, "staff-1", "Are you still there?")
    await tw.drain()
    assert len(tw.fake.calls) == calls
    [contact] = await rows(tw.db, ContactRow)
    assert contact.opted_out
    assert {row.status for row in await rows(tw.db, OutboxRow)} <= {"sent", "failed"}

    # Writing again starts a new conversation, and the bot answers again.
    await tw.says("Hei igjen")
    await tw.drain()
    assert len(tw.fake.calls) > calls


# WhatsApp's 24-hour window.


async def _queued_on_whatsapp(tw: Twilio) -> ConversationRow:
    await tw.says("Hello", sender=BRITISH)
    for answer in ("2", "1", menu_number(ROLES, "other"), str(len(TOPICS) + 1), "3", "4"):
        await tw.says(answer, sender=BRITISH)
    await tw.drain()
    return await tw.conversation()


@pytest.mark.parametrize("template", [False, True])
async def test_a_staff_reply_inside_the_whatsapp_window_is_sent_outside_it_held(
    start: Start, template: bool
) -> None:
    tw = await start({"HELPLINE_TWILIO_WHATSAPP_TEMPLATE_SID": TEMPLATE_SID if template else None})
    assert whatsapp_invite_enabled(tw.settings) is template
    conv = await _queued_on_whatsapp(tw)
    desk = tw.desk()
    await desk.claim(conv.id, "staff-1")
    outcome = await desk.reply(conv.id, "staff-1", "Hi, I am here. What happened?")
    assert not outcome.held
    await tw.drain()
    assert tw.fake.sent[-1].body == "Hi, I am here. What happened?"
    assert tw.fake.sent[-1].to == BRITISH

    tw.clock.advance(hours=24, minutes=1)
    calls = len(tw.fake.calls)
    outcome = await desk.reply(conv.id, "staff-1", "Are you safe?")
    assert outcome.held
    await tw.drain()
    assert "Are you safe?" not in [call.body for call in tw.fake.calls]
    [row] = [r for r in await rows(tw.db, OutboxRow) if r.id == outcome.outbox_id]
    assert row.status == "held"
    [message] = [m for m in await rows(tw.db, MessageRow) if m.outbox_id == outcome.outbox_id]
    assert message.delivery == "held"
    if template:
        [invite] = tw.fake.calls[calls:]
        assert invite.form["ContentSid"] == TEMPLATE_SID
        assert "Body" not in invite.form
        assert invite.to == BRITISH
        assert invite.form["From"] == WHATSAPP_FROM
        assert invite.status == 201
    else:
        assert len(tw.fake.calls) == calls


# Retries, permanent failures and delivery reports.


@pytest.mark.parametrize(("status", "code"), [(500, 20500), (429, 20429), (503, 503)])
async def test_a_failed_send_is_retried_and_delivered_exactly_once(
    start: Start, status: int, code: int
) -> None:
    tw = await start()
    tw.fake.fail_next(1, status=status, code=code)
    await tw.says("Hei")
    await tw.drain()
    assert [call.status for call in tw.fake.calls] == [status]
    outbox = sorted(await rows(tw.db, OutboxRow), key=lambda r: r.id)
    assert [row.status for row in outbox] == ["pending", "pending"]
    assert outbox[0].attempts == 1
    assert f"HTTP {status}" in (outbox[0].last_error or "")

    tw.clock.advance(minutes=10)
    await tw.drain()
    tw.clock.advance(hours=2)
    await tw.drain()
    t = tw.wiring.catalogs.texts("nb")
    bodies = [call.body or "" for call in tw.fake.sent]
    assert first_lines(bodies)[0] == t(c.HELLO)
    assert bodies[1].startswith(t(c.ASK_LANGUAGE))
    assert Counter(bodies) == Counter(set(bodies))
    assert len(bodies) == 2
    assert all(row.status == "sent" for row in await rows(tw.db, OutboxRow))


@pytest.mark.parametrize("code", [21610, 21211])
async def test_a_permanent_failure_is_not_retried_and_staff_see_it(start: Start, code: int) -> None:
    tw = await start()
    tw.fake.fail_next(1, status=400, code=code)
    await tw.says("Hei")
    await tw.drain()
    tw.clock.advance(hours=5)
    await tw.drain()
    first = min(await rows(tw.db, OutboxRow), key=lambda r: r.id)
    assert first.status == "failed"
    assert str(code) in (first.last_error or "")
    assert NORWEGIAN not in (first.last_error or "")
    failed_calls = [call for call in tw.fake.calls if call.status != 201]
    assert len(failed_calls) == 1
    [message] = [m for m in await rows(tw.db, MessageRow) if m.outbox_id == first.id]
    assert message.delivery == "failed"


async def test_signed_delivery_reports_set_the_delivery_state(start: Start) -> None:
    tw = await start()
    await tw.says("Hei")
    await tw.drain()
    greeting, question = tw.fake.sent

    def report(sid: str, status: str, error: str | None = None) -> Params:
        params = [("AccountSid", ACCOUNT_SID), ("MessageSid", sid), ("MessageStatus", status)]
        params += [("To", NORWEGIAN), ("From", SMS_FROM), ("ApiVersion", "2010-04-01")]
        return params + ([("ErrorCode", error)] if error else [])

    async def delivery(sid: str | None) -> str | None:
        [row] = [r for r in await rows(tw.db, OutboxRow) if r.provider_id == sid]
        [message] = [m for m in await rows(tw.db, MessageRow) if m.outbox_id == row.id]
        return message.delivery

    assert greeting.sid is not None
    assert question.sid is not None
    assert await delivery(greeting.sid) == "sent"
    assert (await tw.post(STATUS_PATH, report(greeting.sid, "sent"))).status == 204
    assert await delivery(greeting.sid) == "sent"
    assert (await tw.post(STATUS_PATH, report(greeting.sid, "delivered"))).status == 204
    assert await delivery(greeting.sid) == "delivered"
    assert (await tw.post(STATUS_PATH, report(question.sid, "undelivered", "30003"))).status == 204
    assert await delivery(question.sid) == "undelivered"
    assert (await tw.post(STATUS_PATH, report(question.sid, "failed", "30008"))).status == 204
    assert await delivery(question.sid) == "failed"
    [row] = [r for r in await rows(tw.db, OutboxRow) if r.provider_id == question.sid]
    assert "30008" in (row.last_error or "")
    # A report about a message we do not have (erased) is answered and ignored.
    assert (await tw.post(STATUS_PATH, report("SM" + "9" * 32, "delivered"))).status == 204
    # A forged one changes nothing.
    forged = twilio_signature("wrong", PUBLIC_URL + STATUS_PATH, report(greeting.sid, "failed"))
    assert (await tw.post(STATUS_PATH, report(greeting.sid, "failed"), signature=forged)).status == 403
    assert await delivery(greeting.sid) == "delivered"


async def test_a_flooding_sms_sender_still_erases_with_the_delete_word_and_is_told(start: Start) -> None:
    tw = await start()
    await tw.says("Hei")
    for i in range(tw.wiring.service.max_per_minute + 2):
        await tw.says(f"hallo {i}")
    await tw.drain()
    before = len(tw.fake.sent)

    await tw.says("SLETT")
    await tw.drain()

    [confirmation] = tw.fake.sent[before:]
    assert confirmation.body == said(tw.wiring.catalogs.texts("nb"), c.ERASED[Channel.SMS])
    assert await rows(tw.db, ConversationRow) == []
    assert await rows(tw.db, MessageRow) == []


async def test_delivery_reports_out_of_order_keep_the_furthest_state(start: Start) -> None:
    # Twilio does not promise the order of its callbacks: delivered, then a late failed, then delivered.
    tw = await start()
    await tw.says("Hei")
    await tw.drain()
    greeting, question = tw.fake.sent
    assert greeting.sid is not None
    assert question.sid is not None

    async def state_of(sid: str) -> tuple[str | None, str | None]:
        [row] = [r for r in await rows(tw.db, OutboxRow) if r.provider_id == sid]
        [message] = [m for m in await rows(tw.db, MessageRow) if m.outbox_id == row.id]
        return message.delivery, row.last_error

    for status, error in (("delivered", None), ("failed", "30008"), ("sent", None), ("delivered", None)):
        params = [("MessageSid", greeting.sid), ("MessageStatus", status)]
        assert (await tw.post(STATUS_PATH, params + ([("ErrorCode", error)] if error else []))).status == 204
        assert await state_of(greeting.sid) == ("delivered", None), status
    # Failed, then delivered after all: it arrived.
    for status in ("failed", "delivered"):
        assert (
            await tw.post(STATUS_PATH, [("MessageSid", question.sid), ("MessageStatus", status)])
        ).status == 204
    assert (await state_of(question.sid))[0] == "delivered"


async def test_a_delivery_report_with_a_strange_error_code_is_taken_without_it(start: Start) -> None:
    # A NUL in the stored error once failed in PostgreSQL (a 500, and Twilio sends the report again).
    tw = await start()
    await tw.says("Hei")
    await tw.drain()
    greeting = tw.fake.sent[0]
    assert greeting.sid is not None
    report = [("MessageSid", greeting.sid), ("MessageStatus", "failed"), ("ErrorCode", "300\x0003")]
    assert (await tw.post(STATUS_PATH, report)).status == 204
    [row] = [r for r in await rows(tw.db, OutboxRow) if r.provider_id == greeting.sid]
    assert row.last_error == "Twilio: failed, error none"


# Configuration.


async def test_settings_are_checked_at_setup(start: Start) -> None:
    base = base_env("sqlite+aiosqlite:///unused.db", "https://api.twilio.com")
    cases: list[tuple[dict[str, str | None], str]] = [
        ({"HELPLINE_PUBLIC_URL": None}, "HELPLINE_PUBLIC_URL"),
        ({"HELPLINE_TWILIO_AUTH_TOKEN": None}, "HELPLINE_TWILIO_AUTH_TOKEN"),
        ({"HELPLINE_TWILIO_ACCOUNT_SID": "not-a-sid"}, "HELPLINE_TWILIO_ACCOUNT_SID"),
        (
            {"HELPLINE_TWILIO_SMS_FROM": None, "HELPLINE_TWILIO_WHATSAPP_FROM": None},
            "HELPLINE_TWILIO_SMS_FROM",
        ),
        ({"HELPLINE_TWILIO_SMS_FROM": "helpline"}, "HELPLINE_TWILIO_SMS_FROM"),
        ({"HELPLINE_TWILIO_WHATSAPP_FROM": "whatsapp:47"}, "HELPLINE_TWILIO_WHATSAPP_FROM"),
        ({"HELPLINE_TWILIO_WHATSAPP_TEMPLATE_SID": "template"}, "HELPLINE_TWILIO_WHATSAPP_TEMPLATE_SID"),
        ({"HELPLINE_TWILIO_API_URL": "api.twilio.com"}, "HELPLINE_TWILIO_API_URL"),
    ]
    for changes, named in cases:
        env = {**base, **{k: v for k, v in changes.items() if v is not None}}
        for key in [k for k, v in changes.items() if v is None]:
            env.pop(key)
        with pytest.raises(ConfigError, match=named):
            make_app(load_settings(env), run_outbox=False)
    # The WhatsApp number may be given without its prefix.
    tw = await start({"HELPLINE_TWILIO_WHATSAPP_FROM": WHATSAPP_FROM.removeprefix("whatsapp:")})
    assert tw.client.app[TWILIO].config.whatsapp_from == WHATSAPP_FROM


async def test_a_channel_without_its_number_is_off(start: Start) -> None:
    tw = await start({"HELPLINE_TWILIO_WHATSAPP_FROM": None})
    assert set(tw.wiring.senders) == {"sms"}
    response = await tw.post(WHATSAPP_PATH, inbound_form("SM" + "e" * 32, BRITISH, "Hello", WHATSAPP_FROM))
    assert response.status in (404, 405)
    assert not whatsapp_invite_enabled(tw.settings)


def test_whatsapp_invites_need_a_template() -> None:
    env = base_env("sqlite+aiosqlite:///unused.db", "https://api.twilio.com")
    assert not whatsapp_invite_enabled(load_settings(env))
    assert whatsapp_invite_enabled(
        load_settings({**env, "HELPLINE_TWILIO_WHATSAPP_TEMPLATE_SID": TEMPLATE_SID})
    )


def test_the_desk_invites_back_only_where_the_twilio_settings_allow_it() -> None:
    # One check: the app once decided from the template alone, and offered WhatsApp invitations on a
    # line without a WhatsApp number (every one of them would have failed).
    env = base_env("sqlite+aiosqlite:///unused.db", "https://api.twilio.com")
    sms_only = {k: v for k, v in env.items() if k != "HELPLINE_TWILIO_WHATSAPP_FROM"}
    with_template = {"HELPLINE_TWILIO_WHATSAPP_TEMPLATE_SID": TEMPLATE_SID}
    assert invite_channels(load_settings({**sms_only, **with_template})) == frozenset()
    assert invite_channels(load_settings({**env, **with_template})) == {"whatsapp"}
    assert invite_channels(load_settings(env)) == frozenset()


# Pieces.


@pytest.mark.parametrize(
    ("address", "lang"),
    [
        ("+4791234567", "nb"),
        ("whatsapp:+447700900123", "en"),
        ("+12025550123", "en"),
        ("+48501234567", "pl"),
        ("+905321234567", "tr"),
        ("+79161234567", "ru"),
        ("+380501234567", "uk"),
        ("+252612345678", "so"),
        ("+2917123456", "ti"),
        ("+93701234567", "fa_AF"),
        ("+989121234567", "fa"),
        ("+923001234567", "ur"),
        ("+9647501234567", "ar"),
        ("whatsapp:+201001234567", "ar"),
        ("+966501234567", "ar"),
        ("+963944123456", "ar"),
        ("+4915112345678", None),
        ("12345", None),
    ],
)
def test_the_country_code_hints_the_first_language(address: str, lang: str | None) -> None:
    assert locale_hint(address) == lang


async def test_the_rate_limiter_spaces_sends_and_defers_a_long_wait() -> None:
    time = FakeTime()
    limiter = RateLimiter(1.0, max_wait=5.0, clock=time.clock, sleep=time.sleep)
    starts = []
    for _ in range(4):
        await limiter.acquire()
        starts.append(time.now)
    assert [b - a for a, b in itertools.pairwise(starts)] == [1.0, 1.0, 1.0]

    frozen = FakeTime()

    async def no_sleep(seconds: float) -> None:
        frozen.slept.append(seconds)

    burst = RateLimiter(1.0, max_wait=2.5, clock=frozen.clock, sleep=no_sleep)
    for _ in range(3):  # waits 0, 1 and 2 seconds
        await burst.acquire()
    with pytest.raises(TemporaryFailure) as deferred:  # would wait 3 seconds: over the limit
        await burst.acquire()
    assert deferred.value.retry_after == 3.0
    assert frozen.slept == [1.0, 2.0]


class _Messages:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def create_async(self, **params: str) -> Any:
        raise self.error


class _Client:
    def __init__(self, error: BaseException) -> None:
        self.messages = _Messages(error)


def _outbound(extra: dict[str, str] | None = None, text: str = "Hei") -> OutboundMessage:
    reply = Reply(text=text)
    return OutboundMessage(1, Contact(Channel.SMS, NORWEGIAN), reply, 0, extra or {})


async def test_network_errors_are_temporary_and_twilio_errors_classified() -> None:
    time = FakeTime()
    limiter = RateLimiter(1.0, clock=time.clock, sleep=time.sleep)
    for error in (aiohttp.ClientConnectionError("refused"), TimeoutError(), OSError("reset")):
        sender = TwilioSender(_Client(error), Channel.SMS, SMS_FROM, limiter)
        with pytest.raises(TemporaryFailure, match="network"):
            await sender.send(_outbound())
    leaky = TwilioRestException(400, "/x", f"The 'To' number {NORWEGIAN} is not valid", 21211)
    sender = TwilioSender(_Client(leaky), Channel.SMS, SMS_FROM, limiter)
    with pytest.raises(PermanentFailure) as raised:
        await sender.send(_outbound())
    assert "21211" in str(raised.value)
    assert NORWEGIAN not in str(raised.value)
    assert isinstance(classify(TwilioRestException(500, "/x", "", 20500)), TemporaryFailure)
    assert isinstance(classify(TwilioRestException(429, "/x", "", 20429)), TemporaryFailure)
    assert isinstance(classify(TwilioRestException(400, "/x", "", 21610)), PermanentFailure)
    assert isinstance(classify(TwilioRestException(400, "/x", "", 63016)), PermanentFailure)
    assert isinstance(classify(TwilioRestException(400, "/x", "", 21602)), PermanentFailure)


def test_messages_that_can_never_be_sent_fail_without_a_call() -> None:
    limiter = RateLimiter(1.0)
    sms_sender = TwilioSender(_Client(AssertionError()), Channel.SMS, SMS_FROM, limiter)
    with pytest.raises(PermanentFailure, match="template"):
        sms_sender.params(_outbound({"template": "invite"}))
    with pytest.raises(PermanentFailure, match="1600"):
        sms_sender.params(_outbound(text="x" * 1601))
    wa = TwilioSender(_Client(AssertionError()), Channel.WHATSAPP, WHATSAPP_FROM, limiter)
    with pytest.raises(PermanentFailure):
        wa.params(_outbound())  # an SMS contact given to the WhatsApp sender
    assert sms_sender.params(_outbound(text="Hei")) == {"to": NORWEGIAN, "from_": SMS_FROM, "body": "Hei"}


def test_the_core_never_imports_the_channel_libraries() -> None:
    pattern = re.compile(r"^\s*(?:import|from)\s+(twilio|aiohttp|telegram|bots)\b", re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "intake").rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
