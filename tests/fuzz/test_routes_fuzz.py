"""Every webhook and API route, fuzzed: malformed, truncated, oversized, wrongly encoded and hostile requests.

For every generated request (the checks are in tests/fuzz/harness.py): the answer is a 2xx only when the
request is valid, a 4xx otherwise, never a 5xx; no answer shows a Python error; a refused request changes no
row of any table; /healthz answers after each request, and after each test a person can still start a web
chat. What "valid" means for each route is written out below, from the README and the routes' contracts.

In CI the "fuzz-ci" profile runs a few dozen examples per test, derandomized: the same examples on every
run, so a failure in CI fails again on a laptop. To search longer, with new random examples each run:

    HELPLINE_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/fuzz -p no:cacheprovider -x

That uses the "fuzz-long" profile, which keeps the examples that failed in .hypothesis/ (git ignores it) so
that the next run tries them first. Hypothesis prints the smallest failing request it found. Add
HELPLINE_FUZZ_DATABASE=postgres to run on PostgreSQL (HELPLINE_TEST_POSTGRES_URL), where text may hold no
NUL: three of the bugs these tests found were there only.

Async: pytest-asyncio runs each Hypothesis example of an `async def` test in the test's event loop (its
documented support for @given), so one running app serves all the examples of a test.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from typing import Any
from urllib.parse import quote, quote_from_bytes, urlencode

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from multidict import MultiDict
from yarl import URL

from bots.bodies import parse_json
from bots.channels.telegram.channel import MAX_BODY as TELEGRAM_MAX_BODY
from bots.channels.twilio.channel import MAX_FORM_BYTES, TWILIO
from bots.channels.webchat import chat as webchat
from bots.console.routes import MAX_JSON
from intake.categories import AGE_GROUPS, GENDERS, ROLES, TOPICS, InquiryKind, option_ids
from intake.limits import ChatLimits
from tests.channels.fake_telegram import User
from tests.channels.fake_twilio import AUTH_TOKEN, inbound_form, twilio_signature
from tests.fuzz.harness import (
    OTHER_STAFF,
    PASSWORD,
    PUBLIC_URL,
    SMS_FROM,
    STAFF,
    TELEGRAM_SECRET,
    WHATSAPP_FROM,
    Expect,
    RawRequest,
    Request,
    Service,
)
from tests.fuzz.strategies import (
    BIG_NUMBERS,
    content_types,
    documents,
    header_bytes,
    header_values,
    json_values,
    oversized,
    query_values,
    raw_bodies,
    texts,
)

# twilio 9's HTTP client (the outbox's sends to the fake) still uses aiohttp's deprecated BasicAuth.
pytestmark = pytest.mark.filterwarnings(
    "ignore:BasicAuth is deprecated:DeprecationWarning",
    "ignore:The 'auth' parameter is deprecated:DeprecationWarning",
)

CI_EXAMPLES = 40
LONG_RUN = int(os.environ.get("HELPLINE_FUZZ_EXAMPLES") or 0)

settings.register_profile(
    "fuzz-ci",
    max_examples=CI_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # One running service serves all the examples of a test, on purpose: each example checks what its own
    # request did to the database. Bodies of 100 kB are the point, not a slow strategy.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
settings.register_profile(
    "fuzz-long",
    parent=settings.get_profile("fuzz-ci"),
    max_examples=max(LONG_RUN, 1),
    derandomize=False,
    database=settings.get_profile("default").database,
)
FUZZ = settings(settings.get_profile("fuzz-long" if LONG_RUN else "fuzz-ci"))

SMS_PATH, WHATSAPP_PATH, STATUS_PATH = (
    "/webhooks/twilio/sms",
    "/webhooks/twilio/whatsapp",
    "/webhooks/twilio/status",
)
VALID = "<the valid one>"  # stands for the running service's own token, cookie or id in a drawn request
SID = re.compile(r"[A-Za-z0-9]{2,64}")  # a Twilio SID as the webhooks take it (Twilio's own are SM + 32 hex)


def headers(content_type: str | None, **more: str | None) -> dict[str, str]:
    values = {"Content-Type": content_type, **more}
    return {name.replace("_", "-"): value for name, value in values.items() if value is not None}


@cache
def tokens() -> st.SearchStrategy[str]:
    return st.one_of(st.just(VALID), st.just(VALID), st.just(""), st.just("forged.tag"), header_values())


# ---- The web chat -----------------------------------------------------------------------------------


@FUZZ
@given(body=raw_bodies(), content_type=content_types(), query=query_values(), accept_language=header_values())
async def test_chat_session_gives_a_token_whatever_is_sent(
    service: Service, body: bytes, content_type: str | None, query: str, accept_language: str
) -> None:
    request = Request(
        "POST",
        f"/chat/api/session?lang={query}",
        body,
        headers(content_type, Accept_Language=accept_language),
    )
    answer = await service.check(request, Expect.OK)
    assert service.wiring.keys.check_token(json.loads(answer.text)["token"])


@cache
def chat_documents() -> st.SearchStrategy[bytes]:
    values = st.one_of(texts(), json_values())
    fields = st.fixed_dictionaries(
        {},
        optional={
            "text": st.one_of(texts(), texts(), texts(), json_values()),
            "choice": st.one_of(st.none(), texts(), json_values()),
            "client_id": values,
            "lang": st.one_of(st.sampled_from(["nb", "en", "ar", "xx"]), values),
            "extra": json_values(),
        },
    )
    return documents(fields)


def chat_send_valid(body: bytes) -> bool:
    """A JSON object of at most 16 KiB; `text` a string of at most 2000 characters and `choice` a string
    or absent, one of them not blank."""
    if len(body) > webchat.MAX_BODY:
        return False
    try:
        data = parse_json(body)
    except ValueError:
        return False
    if not isinstance(data, dict):
        return False
    text, choice = data.get("text", ""), data.get("choice")
    if not isinstance(text, str) or (choice is not None and not isinstance(choice, str)):
        return False
    return len(text) <= ChatLimits().max_message_chars and bool(text.strip() or choice)


@FUZZ
@given(body=chat_documents(), content_type=content_types(), chunked=st.booleans())
async def test_chat_send_json_documents(
    service: Service, body: bytes, content_type: str | None, chunked: bool
) -> None:
    """JSON objects of every shape and content, in a valid session."""
    request = Request(
        "POST", "/chat/api/send", body, headers(content_type, X_Chat_Token=service.chat_token), chunked
    )
    await service.check(request, Expect.OK if chat_send_valid(body) else Expect.REFUSED)


@FUZZ
@given(
    token=tokens(),
    body=st.one_of(raw_bodies(), oversized(webchat.MAX_BODY), chat_documents()),
    content_type=content_types(),
    chunked=st.booleans(),
)
async def test_chat_send_malformed_or_without_a_session(
    service: Service, token: str, body: bytes, content_type: str | None, chunked: bool
) -> None:
    token = service.chat_token if token == VALID else token
    valid = token == service.chat_token and chat_send_valid(body)
    request = Request("POST", "/chat/api/send", body, headers(content_type, X_Chat_Token=token), chunked)
    await service.check(request, Expect.OK if valid else Expect.REFUSED)


# aiohttp's limit on the request line (and each header line): a longer one is refused before any route.
MAX_LINE = 8190


def poll_after_valid(after: str) -> bool:
    """The id of the last reply seen: a whole number, 0 up to the largest id the database holds."""
    try:
        return 0 <= int(after) < 2**63
    except ValueError:
        return False


@FUZZ
@given(
    token=tokens(),
    query=st.lists(
        st.tuples(st.sampled_from(["after", "after", "lang", "after[]", "", "x"]), query_values()), max_size=3
    ),
)
async def test_chat_poll_query_strings(service: Service, token: str, query: list[tuple[str, str]]) -> None:
    token = service.chat_token if token == VALID else token
    pairs = "&".join(f"{quote(name)}={value}" for name, value in query)
    target = "/chat/api/poll" + ("?" + pairs if query else "")
    # The query as the server reads it: the same parser (yarl) on the same bytes.
    after = URL(target, encoded=True).query.get("after", "0")
    valid = (
        token == service.chat_token and poll_after_valid(after) and len(f"GET {target} HTTP/1.1") <= MAX_LINE
    )
    answer = await service.check(
        Request("GET", target, headers=headers(None, X_Chat_Token=token)),
        Expect.OK if valid else Expect.REFUSED,
    )
    if valid:
        assert json.loads(answer.text) == {"messages": []}


@FUZZ
@given(
    query=st.lists(
        st.tuples(st.sampled_from(["lang", "lang", "lang[]", "", "x"]), query_values()), max_size=3
    )
)
async def test_chat_status_query_strings(service: Service, query: list[tuple[str, str]]) -> None:
    """The landing's poll: no session needed; any language asked for gets an answer, in a served one."""
    pairs = "&".join(f"{quote(name)}={value}" for name, value in query)
    target = "/chat/api/status" + ("?" + pairs if query else "")
    valid = len(f"GET {target} HTTP/1.1") <= MAX_LINE
    answer = await service.check(Request("GET", target), Expect.OK if valid else Expect.REFUSED)
    if valid:
        state = json.loads(answer.text)
        assert isinstance(state["open"], bool)
        assert "112" in state["emergency"]


# ---- Telegram ---------------------------------------------------------------------------------------


@cache
def telegram_users() -> st.SearchStrategy[User]:
    return st.builds(
        User,
        id=st.integers(1, 2**40),
        first_name=texts(pieces=2),
        language_code=st.one_of(st.none(), st.sampled_from(["nb", "en", "ar", "pt-br"]), texts(pieces=2)),
    )


@cache
@st.composite
def telegram_updates(draw: st.DrawFn) -> dict[str, Any]:
    """Updates shaped as Telegram sends them (tests/channels/fake_telegram.py), with hostile content."""
    user = draw(telegram_users())
    update_id = draw(st.integers(1, 2**31))
    kind = draw(st.sampled_from(["text", "command", "caption", "press"]))
    if kind == "press":
        query = {"id": str(update_id), "from": user.json(), "chat_instance": "-70514", "data": draw(texts())}
        return {"update_id": update_id, "callback_query": query}
    text = draw(texts())
    message: dict[str, Any] = {
        "message_id": draw(st.integers(1, 2**31)),
        "from": user.json(),
        "chat": user.chat(),
        "date": 1_764_000_000,
    }
    if kind == "caption":
        message["photo"] = [{"file_id": "AgAC", "file_unique_id": "AQAD", "width": 90, "height": 90}]
        message["caption"] = text
    else:
        message["text"] = ("/start " + text) if kind == "command" else text
        if kind == "command":
            message["entities"] = [{"offset": 0, "length": 6, "type": "bot_command"}]
    return {"update_id": update_id, "message": message}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


ANYTHING = st.one_of(json_values(), st.sampled_from([10**20, -1, 2**63, float("nan")]))


@cache
@st.composite
def mutated_updates(draw: st.DrawFn) -> dict[str, Any]:
    """A real update with one of its values replaced by anything (or removed)."""
    update = draw(telegram_updates())
    path = draw(st.sampled_from(_paths(update)))
    parent: Any = update
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(ANYTHING)
    return update


def telegram_expectation(body: bytes) -> Expect:
    """Refused unless a JSON object of at most 256 kB with a whole-number update_id; what else an update
    needs is python-telegram-bot's to judge."""
    if len(body) > TELEGRAM_MAX_BODY:
        return Expect.REFUSED
    try:
        data = parse_json(body)
    except ValueError:
        return Expect.REFUSED
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return Expect.REFUSED
    return Expect.EITHER


def update_body(update: dict[str, Any]) -> bytes:
    return json.dumps(update).encode()


@FUZZ
@given(
    case=st.one_of(
        st.tuples(telegram_updates().map(update_body), st.just(Expect.OK)),
        st.tuples(mutated_updates().map(update_body), st.none()),
    ),
    chunked=st.booleans(),
)
async def test_telegram_updates_with_the_secret(
    service: Service, case: tuple[bytes, Expect | None], chunked: bool
) -> None:
    """Updates as Telegram shapes them are taken whatever they say; with one value changed to anything,
    they are taken or refused, never an error."""
    body, expect = case
    secret = headers("application/json", X_Telegram_Bot_Api_Secret_Token=TELEGRAM_SECRET)
    request = Request("POST", "/webhooks/telegram", body, secret, chunked)
    await service.check(request, expect or telegram_expectation(body))


@FUZZ
@given(
    body=st.one_of(documents(json_values()), raw_bodies(), oversized(TELEGRAM_MAX_BODY)),
    content_type=content_types(),
    chunked=st.booleans(),
)
async def test_telegram_malformed_bodies_with_the_secret(
    service: Service, body: bytes, content_type: str | None, chunked: bool
) -> None:
    secret = headers(content_type, X_Telegram_Bot_Api_Secret_Token=TELEGRAM_SECRET)
    request = Request("POST", "/webhooks/telegram", body, secret, chunked)
    await service.check(request, telegram_expectation(body))


@FUZZ
@given(
    secret=st.one_of(
        st.none(),
        st.sampled_from(["", TELEGRAM_SECRET + "x", TELEGRAM_SECRET.upper(), TELEGRAM_SECRET[:-1]]),
        header_values(),
    ),
    body=st.one_of(telegram_updates().map(update_body), raw_bodies()),
)
async def test_telegram_webhook_without_the_secret(service: Service, secret: str | None, body: bytes) -> None:
    # Blanks around a header value are not part of it (RFC 9110): " secret " is the secret.
    assume(secret is None or secret.strip(" \t") != TELEGRAM_SECRET)
    request = Request(
        "POST",
        "/webhooks/telegram",
        body,
        headers("application/json", X_Telegram_Bot_Api_Secret_Token=secret),
    )
    await service.check(request, Expect.REFUSED)


# ---- Twilio: SMS, WhatsApp and delivery reports -----------------------------------------------------

FORM = "application/x-www-form-urlencoded"
SENDERS = ("+4791234567", "+447700900123", "whatsapp:+4791234567", "whatsapp:+447700900123", "12345")


def _unique(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # Twilio's validator signs each distinct name-value pair once; Twilio never repeats one.
    return list(dict.fromkeys(pairs))


FORM_TEXT = texts(surrogates=False)
SIDS = st.one_of(st.integers(0, 2**128 - 1).map(lambda n: f"SM{n:032x}"), FORM_TEXT)
MEDIA = st.one_of(st.none(), st.integers(-5, 50).map(str), st.sampled_from(BIG_NUMBERS).map(str), FORM_TEXT)
EXTRA_FIELDS = st.lists(
    st.tuples(st.one_of(st.sampled_from(["MessageSid", "From", "MediaUrl0"]), FORM_TEXT), FORM_TEXT),
    max_size=3,
)


@cache
@st.composite
def inbound_forms(draw: st.DrawFn, to: str) -> list[tuple[str, str]]:
    """Twilio's inbound form with hostile values, fields left out, fields added (names repeated too)."""
    sender = draw(st.one_of(st.sampled_from(SENDERS), FORM_TEXT))
    params = inbound_form(draw(SIDS), sender, draw(FORM_TEXT), to)
    left_out = draw(st.sets(st.sampled_from(["MessageSid", "From", "NumMedia", "Body"]), max_size=2))
    params = [(name, value) for name, value in params if name not in left_out]
    media = draw(MEDIA)
    if media is not None:
        params = [(name, media if name == "NumMedia" else value) for name, value in params]
    params += draw(EXTRA_FIELDS)
    return _unique(draw(st.permutations(params)))


def inbound_valid(params: list[tuple[str, str]], whatsapp: bool) -> bool:
    """A MessageSid, a From of at most 64 characters (whatsapp:… exactly on the WhatsApp webhook), and a
    NumMedia that is a number when given. The first of repeated fields counts."""
    form = MultiDict(params)
    sid, sender = form.get("MessageSid", ""), form.get("From", "")
    if not SID.fullmatch(sid) or not sender or len(sender) > 64:
        return False
    if sender.startswith("whatsapp:") != whatsapp:
        return False
    try:
        int(form.get("NumMedia") or 0)
    except ValueError:
        return False
    return True


def signed(path: str, params: list[tuple[str, str]], content_type: str = FORM) -> Request:
    body = urlencode(params).encode("ascii")
    signature = twilio_signature(AUTH_TOKEN, PUBLIC_URL + path, params)
    return Request("POST", path, body, headers(content_type, X_Twilio_Signature=signature))


@pytest.mark.parametrize("path", [SMS_PATH, WHATSAPP_PATH])
@FUZZ
@given(
    data=st.data(),
    query=st.one_of(st.just(""), query_values().map(lambda value: "?via=" + value)),
    content_type=st.sampled_from(
        [FORM, FORM, FORM, FORM + "; charset=utf-8", "application/json", "multipart/form-data; boundary=B"]
    ),
)
async def test_twilio_inbound_signed(
    service: Service, path: str, data: st.DataObject, query: str, content_type: str
) -> None:
    whatsapp = path == WHATSAPP_PATH
    params = data.draw(inbound_forms(WHATSAPP_FROM if whatsapp else SMS_FROM))
    request = signed(path + query, params, content_type)
    valid = (
        content_type.startswith(FORM)
        and len(request.body) <= MAX_FORM_BYTES
        and inbound_valid(params, whatsapp)
    )
    await service.check(request, Expect.OK if valid else Expect.REFUSED)


def sent_sid(n: int) -> str:
    return f"SM{n:032x}"  # what the fake Twilio names the n-th message it was asked to send


STATES = st.one_of(
    st.sampled_from(["delivered", "read", "undelivered", "failed", "sent", "queued"]), FORM_TEXT
)
ERROR_CODES = st.one_of(st.sampled_from(["", "30003", "63016"]), FORM_TEXT)


@cache
@st.composite
def status_reports(draw: st.DrawFn) -> list[tuple[str, str]]:
    params = [
        ("MessageSid", draw(st.one_of(st.integers(1, 3).map(sent_sid), SIDS))),
        ("MessageStatus", draw(STATES)),
        ("ErrorCode", draw(ERROR_CODES)),
        ("AccountSid", "AC" + "0" * 32),
    ]
    left_out = draw(st.sets(st.sampled_from(["MessageSid", "MessageStatus", "ErrorCode"]), max_size=2))
    return _unique([(name, value) for name, value in params if name not in left_out])


async def replies_sent_by_sms(service: Service) -> None:
    """A person writes by SMS and the outbox sends the two replies, SM…1 and SM…2: delivery reports
    about those find their message and write to it."""
    async with service.wiring.db.uow() as uow:
        if await uow.outbox.by_provider_id(sent_sid(1)) is not None:
            return
    answer = await service.send(
        signed(SMS_PATH, inbound_form("SM" + "f" * 32, "+4791234567", "hei", SMS_FROM))
    )
    assert answer.status == 200
    assert service.client.app is not None
    for sender in service.client.app[TWILIO].senders.values():
        sender.limiter.interval = 0.0  # the pace of sending is not under test
    while await service.wiring.outbox.run_once():
        pass


@FUZZ
@given(params=status_reports())
async def test_twilio_status_signed(service: Service, params: list[tuple[str, str]]) -> None:
    """Valid: a MessageSid and a MessageStatus (unknown states and unknown messages are taken and ignored)."""
    await replies_sent_by_sms(service)
    form = MultiDict(params)
    valid = bool(SID.fullmatch(form.get("MessageSid", ""))) and bool(form.get("MessageStatus"))
    await service.check(signed(STATUS_PATH, params), Expect.OK if valid else Expect.REFUSED)


@FUZZ
@given(
    path=st.sampled_from([SMS_PATH, WHATSAPP_PATH, STATUS_PATH]),
    params=inbound_forms(SMS_FROM),
    signature=st.one_of(
        st.none(),
        st.just(""),
        st.sampled_from(["local-url", "other-token", "other-body"]),
        header_values(),
    ),
    body=st.one_of(st.none(), raw_bodies()),
    content_type=content_types(),
)
async def test_twilio_unsigned_or_wrongly_signed(
    service: Service,
    path: str,
    params: list[tuple[str, str]],
    signature: str | None,
    body: bytes | None,
    content_type: str | None,
) -> None:
    if signature == "local-url":  # what the app sees behind the proxy is not what Twilio signed
        signature = twilio_signature(AUTH_TOKEN, str(service.client.make_url(path)), params)
    elif signature == "other-token":
        signature = twilio_signature("not-the-auth-token", PUBLIC_URL + path, params)
    elif signature == "other-body":
        signature = twilio_signature(AUTH_TOKEN, PUBLIC_URL + path, [*params, ("Body", "changed")])
    sent = urlencode(params).encode("ascii") if body is None else body
    request = Request(
        "POST", path, sent, headers(content_type if body is not None else FORM, X_Twilio_Signature=signature)
    )
    await service.check(request, Expect.REFUSED)


# ---- The staff console: sign-in and the JSON API ----------------------------------------------------


def multipart(fields: list[tuple[str, str]]) -> bytes:
    parts = [
        f'--B\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode("utf-8", "surrogatepass")
        + b"\r\n"
        for name, value in fields
    ]
    return b"".join(parts) + b"--B--\r\n"


@FUZZ
@given(
    name=st.one_of(st.sampled_from([STAFF, f" {STAFF} ", STAFF.upper(), OTHER_STAFF]), texts()),
    password=st.one_of(st.just(PASSWORD), st.just(PASSWORD + " "), texts(), st.just("x" * 1025)),
    encoding=st.sampled_from(["form", "form", "multipart", "json", "raw"]),
    content_type=st.one_of(st.just("matching"), st.just("matching"), content_types()),
    site=st.sampled_from([None, None, "same-origin", "cross-site", "same-site", "none"]),
    origin=st.sampled_from([None, None, "ours", "null", "http://evil.example"]),
    raw=raw_bodies(),
)
async def test_staff_login(
    service: Service,
    name: str,
    password: str,
    encoding: str,
    content_type: str | None,
    site: str | None,
    origin: str | None,
    raw: bytes,
) -> None:
    """Accepted (303 to the console) only for the right name and password in a form posted from our own
    pages; anything else is refused, and only a failed attempt is written (for the sign-in limit)."""
    service.wiring.accounts.max_failures = 10**9  # every attempt reaches the password check
    fields = [("name", name), ("password", password)]
    body = {
        "form": urlencode(fields, errors="surrogatepass").encode("ascii"),
        "multipart": multipart(fields),
        "json": json.dumps(dict(fields)).encode(),
        "raw": raw,
    }[encoding]
    if content_type == "matching":
        content_type = {"form": FORM, "multipart": "multipart/form-data; boundary=B"}.get(
            encoding, "application/json"
        )
    ours = str(service.client.make_url("/staff/login"))
    request = Request(
        "POST",
        "/staff/login",
        body,
        headers(content_type, Sec_Fetch_Site=site, Origin=ours if origin == "ours" else origin),
    )
    same_origin = site == "same-origin" if site is not None else origin in (None, "ours")
    readable = (encoding, content_type) in (
        ("form", FORM),
        ("form", FORM + "; charset=utf-8"),
        ("multipart", "multipart/form-data; boundary=B"),
    )
    valid = same_origin and readable and name.strip() in (STAFF, OTHER_STAFF) and password == PASSWORD
    await service.check(
        request, Expect.OK if valid else Expect.REFUSED, kept_on_refusal=frozenset({"login_attempts"})
    )


ACTIONS = ("claim", "release", "messages", "notes", "transfer", "close", "block", "flag")
NAMES = (STAFF, OTHER_STAFF)


@cache
def category_values(options: frozenset[str]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(sorted(options)), st.just(""), st.none(), json_values())


@cache
def action_bodies(action: str) -> st.SearchStrategy[Any]:
    """A body shaped as the action wants it, with values of any type."""
    text = st.one_of(texts(), texts(), json_values())
    fields: dict[str, st.SearchStrategy[Any]] = {
        "messages": st.fixed_dictionaries({"text": text}),
        "notes": st.fixed_dictionaries({"text": text}),
        "transfer": st.fixed_dictionaries(
            {"to": st.one_of(st.sampled_from([*NAMES, "nobody"]), json_values())}
        ),
        "close": st.fixed_dictionaries(
            {},
            optional={
                "role": category_values(option_ids(ROLES)),
                "topics": st.one_of(st.lists(st.sampled_from(sorted(option_ids(TOPICS)))), json_values()),
                "age_group": category_values(option_ids(AGE_GROUPS)),
                "gender": category_values(option_ids(GENDERS)),
                "kind": category_values(frozenset(k.value for k in InquiryKind)),
                "country": st.one_of(texts(), json_values()),
                "follow_up": st.one_of(st.booleans(), json_values()),
            },
        ),
        "block": st.fixed_dictionaries(
            {"hours": st.one_of(st.integers(-10, 10_000), st.sampled_from(BIG_NUMBERS), json_values())}
        ),
        "flag": st.fixed_dictionaries({"hostile": st.one_of(st.booleans(), json_values())}),
    }
    return fields.get(action, json_values())


def _categorisation_refused(data: dict[str, Any]) -> bool:
    for name in ("role", "age_group", "gender", "kind", "country"):
        if data.get(name) not in (None, "") and not isinstance(data.get(name), str):
            return True
    topics = data.get("topics")
    if topics is not None and (not isinstance(topics, list) or not all(isinstance(x, str) for x in topics)):
        return True
    return not isinstance(data.get("follow_up", False), bool)


def api_body_refused(action: str, body: bytes) -> bool:
    """Whether the route must refuse this body whatever the conversation's state (README: the console's
    JSON API): a JSON object of at most 64 KiB, with fields of the right types."""
    if action in ("claim", "release"):
        return False  # they take no body, and read none
    if len(body) > MAX_JSON:
        return True
    try:
        data = parse_json(body) if body else {}
    except ValueError:
        return True
    if not isinstance(data, dict):
        return True
    if action in ("messages", "notes"):
        return not isinstance(data.get("text"), str)
    if action == "transfer":
        return data.get("to") not in NAMES
    if action == "close":
        return _categorisation_refused(data)
    if action == "block":
        hours = data.get("hours")
        return not isinstance(hours, int) or isinstance(hours, bool)
    return not isinstance(data.get("hostile"), bool)


HELD = "<the conversation the staff member holds>"
BAD_IDS = st.one_of(
    st.just("00000000-0000-4000-8000-000000000000"),
    st.binary(min_size=1, max_size=40).map(lambda raw: quote_from_bytes(raw, safe="")),
    texts(pieces=2).filter(bool).map(lambda t: quote_from_bytes(t.encode("utf-8", "surrogatepass"), safe="")),
)


@cache
def shaped_bodies(action: str) -> st.SearchStrategy[bytes]:
    return documents(action_bodies(action))


async def post_to_api(
    service: Service,
    action: str,
    body: bytes,
    *,
    conversation: str = HELD,
    auth: str = "ok",
    content_type: str | None = "application/json",
    chunked: bool = False,
    hostile: str = "",
) -> None:
    """POST one action, signed in with the CSRF token unless `auth` says otherwise; checked against the
    rules above: refused when the session, token, conversation or body is wrong, else taken or refused."""
    held = await service.conversation_in_hand()
    conversation = held if conversation == HELD else conversation
    cookie_name = service.staff_cookie.partition("=")[0]
    sent = {
        "ok": service.staff_headers,
        "no-cookie": {"X-CSRF-Token": service.csrf},
        "no-csrf": {"Cookie": service.staff_cookie},
        "wrong-csrf": {"Cookie": service.staff_cookie, "X-CSRF-Token": service.csrf[::-1]},
        "hostile-cookie": {"Cookie": f"{cookie_name}={hostile}", "X-CSRF-Token": service.csrf},
        "hostile-csrf": {"Cookie": service.staff_cookie, "X-CSRF-Token": hostile},
    }[auth]
    target = f"/staff/api/conversations/{conversation}/{action}"
    request = Request("POST", target, body, {**headers(content_type), **sent}, chunked)
    refused = auth != "ok" or conversation != held or api_body_refused(action, body)
    await service.check(request, Expect.REFUSED if refused else Expect.EITHER)


@FUZZ
@given(data=st.data(), action=st.sampled_from(ACTIONS))
async def test_staff_api_json_documents(service: Service, data: st.DataObject, action: str) -> None:
    """Bodies of the right shape with values of any type and content, signed in, on a conversation the
    staff member holds."""
    await post_to_api(service, action, data.draw(shaped_bodies(action)))


@FUZZ
@given(
    action=st.sampled_from(ACTIONS),
    body=st.one_of(raw_bodies(), oversized(MAX_JSON)),
    content_type=content_types(),
    chunked=st.booleans(),
)
async def test_staff_api_malformed_bodies(
    service: Service, action: str, body: bytes, content_type: str | None, chunked: bool
) -> None:
    await post_to_api(service, action, body, content_type=content_type, chunked=chunked)


@FUZZ
@given(
    data=st.data(),
    action=st.sampled_from(ACTIONS),
    where=st.one_of(st.just(HELD), BAD_IDS),
    auth=st.sampled_from(["ok", "no-cookie", "no-csrf", "wrong-csrf", "hostile-cookie", "hostile-csrf"]),
    hostile=header_values(),
)
async def test_staff_api_without_session_token_or_conversation(
    service: Service, data: st.DataObject, action: str, where: str, auth: str, hostile: str
) -> None:
    """A missing or wrong session or CSRF token, or an id that names no conversation: always refused."""
    assume(auth != "ok" or where != HELD)
    body = data.draw(st.one_of(shaped_bodies(action), raw_bodies()))
    await post_to_api(service, action, body, conversation=where, auth=auth, hostile=hostile)


# ---- Bytes no client library sends: header values, request targets, cut-off bodies ------------------

RAW_ROUTES = {
    "chat-send": ("/chat/api/send", "X-Chat-Token", b'{"text": "hei"}'),
    "chat-poll": ("/chat/api/poll?after=0", "X-Chat-Token", b""),
    "telegram": ("/webhooks/telegram", "X-Telegram-Bot-Api-Secret-Token", b'{"update_id": 1}'),
    "sms": (
        SMS_PATH,
        "X-Twilio-Signature",
        urlencode(inbound_form("SM" + "1" * 32, "+4791234567", "hei", SMS_FROM)).encode(),
    ),
    "status": (STATUS_PATH, "X-Twilio-Signature", b"MessageSid=SM1&MessageStatus=failed"),
    "api-cookie": ("/staff/api/conversations/x/notes", "Cookie", b'{"text": "hei"}'),
    "api-csrf": ("/staff/api/conversations/x/notes", "X-CSRF-Token", b'{"text": "hei"}'),
    "login": ("/staff/login", "Content-Type", b"name=anna&password=wrong-password"),
}


@FUZZ
@given(
    route=st.sampled_from(sorted(RAW_ROUTES)),
    value=header_bytes(),
    target_garbage=st.one_of(st.none(), st.binary(min_size=1, max_size=10)),
    cut=st.one_of(st.none(), st.floats(min_value=0.0, max_value=0.9)),
)
async def test_raw_bytes_in_headers_targets_and_bodies(
    service: Service, route: str, value: bytes, target_garbage: bytes | None, cut: float | None
) -> None:
    """The header that authenticates (or types) the request holds bytes a client library would refuse to
    send; now and then the target carries raw bytes, or the body ends before its Content-Length."""
    target, header, body = RAW_ROUTES[route]
    method = b"GET" if route == "chat-poll" else b"POST"
    path = target.encode() + (b"?" + target_garbage if target_garbage is not None else b"")
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    if header == "Cookie":
        value = service.staff_cookie.partition("=")[0].encode() + b"=" + value
    elif route.startswith("api"):
        lines.append(b"Cookie: " + service.staff_cookie.encode())
    if header != "Content-Type":
        lines.append(b"Content-Type: " + (b"application/json" if body.startswith(b"{") else FORM.encode()))
    lines.append(header.encode() + b": " + value)
    sent = body if cut is None else body[: int(len(body) * cut)]
    lines.append(b"Content-Length: " + str(len(body)).encode())
    data = b"\r\n".join(lines) + b"\r\n\r\n" + sent
    await service.check(RawRequest(data, half_close=cut is not None), Expect.REFUSED)
