"""A local fake of Twilio's REST API for sending messages, and helpers that sign webhooks as Twilio does.

Serve `FakeTwilio().app` with pytest-aiohttp's `aiohttp_server` and point HELPLINE_TWILIO_API_URL at it.
It answers `POST /2010-04-01/Accounts/{sid}/Messages.json` (form-encoded, HTTP basic auth) with 201 and the
message JSON, records every call, and can fail the next N calls (500, 429 or a Twilio error code). For the
phone line it holds recordings (`GET .../Recordings/{RE}.mp3` downloads, `DELETE .../Recordings/{RE}.json`
deletes) and places calls (`POST .../Calls.json`, recorded in `placed`).
`inbound_form` and `twilio_signature` build and sign the webhooks Twilio posts to us.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from multidict import MultiDict

from intake import sms

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-auth-token-0123456789abcdef"
TEMPLATE_SID = "HX" + "fedcba9876543210" * 2
DATE = "Tue, 24 Nov 2026 09:00:00 +0000"


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """X-Twilio-Signature as Twilio computes it: HMAC-SHA1, keyed with the auth token, over the full URL
    followed by every POST parameter's name and value, sorted by name (then value), base64-encoded."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def inbound_form(sid: str, sender: str, body: str, to: str, media: int = 0) -> list[tuple[str, str]]:
    """An inbound message as Twilio posts it (with the fields our code ignores)."""
    params = [
        ("ToCountry", "NO"),
        ("SmsMessageSid", sid),
        ("NumMedia", str(media)),
        ("SmsSid", sid),
        ("SmsStatus", "received"),
        ("Body", body),
        ("To", to),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", ACCOUNT_SID),
        ("From", sender),
        ("ApiVersion", "2010-04-01"),
    ]
    if sender.startswith("whatsapp:"):
        params += [("ProfileName", "Someone"), ("WaId", sender.removeprefix("whatsapp:+"))]
    return params


@dataclass(frozen=True)
class Call:
    """One request the fake received, and how it answered."""

    account_sid: str
    form: Mapping[str, str]
    status: int
    sid: str | None

    @property
    def to(self) -> str:
        return self.form.get("To", "")

    @property
    def body(self) -> str | None:
        return self.form.get("Body")


@dataclass
class Failure:
    status: int
    code: int


@dataclass
class FakeTwilio:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    calls: list[Call] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # The phone line: recordings held at "Twilio" (sid -> MP3 bytes), deleted ones, calls placed.
    recordings: dict[str, bytes] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    placed: list[dict[str, str]] = field(default_factory=list)

    def fail_next(self, times: int = 1, status: int = 500, code: int | None = None) -> None:
        """Answer the next `times` authenticated calls with an error (500, 429, or 400 + a Twilio code)."""
        self.failures.extend(Failure(status, code if code is not None else status) for _ in range(times))

    @property
    def sent(self) -> list[Call]:
        """The calls that created a message."""
        return [call for call in self.calls if call.status == 201]

    @property
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create)
        app.router.add_get("/2010-04-01/Accounts/{sid}/Recordings/{rec}.mp3", self._recording)
        app.router.add_delete("/2010-04-01/Accounts/{sid}/Recordings/{rec}.json", self._delete_recording)
        app.router.add_post("/2010-04-01/Accounts/{sid}/Calls.json", self._place_call)
        return app

    async def _recording(self, request: web.Request) -> web.Response:
        if not self._authorised(request, request.match_info["sid"]):
            return self._error(401, 20003, "Authenticate")
        audio = self.recordings.get(request.match_info["rec"])
        if audio is None:
            return self._error(404, 20404, "The requested resource was not found")
        return web.Response(body=audio, content_type="audio/mpeg")

    async def _delete_recording(self, request: web.Request) -> web.Response:
        if not self._authorised(request, request.match_info["sid"]):
            return self._error(401, 20003, "Authenticate")
        rec = request.match_info["rec"]
        if self.recordings.pop(rec, None) is None:
            return self._error(404, 20404, "The requested resource was not found")
        self.deleted.append(rec)
        return web.Response(status=204)

    async def _place_call(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        if not self._authorised(request, sid):
            return self._error(401, 20003, "Authenticate")
        flat = {key: str(value) for key, value in (await request.post()).items()}
        if not flat.get("To") or not flat.get("From") or not (flat.get("Twiml") or flat.get("Url")):
            return self._error(400, 21205, "To, From and Url or Twiml are required")
        self.placed.append(flat)
        call_sid = f"CA{next(self._ids):032x}"
        return web.json_response(
            {
                "account_sid": sid,
                "sid": call_sid,
                "to": flat["To"],
                "from": flat["From"],
                "status": "queued",
                "direction": "outbound-api",
                "date_created": DATE,
                "uri": f"/2010-04-01/Accounts/{sid}/Calls/{call_sid}.json",
            },
            status=201,
        )

    def _authorised(self, request: web.Request, sid: str) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return sid == self.account_sid and hmac.compare_digest(
            request.headers.get("Authorization", ""), expected
        )

    async def _create(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        form = MultiDict((await request.post()).items())
        flat = {key: str(value) for key, value in form.items()}
        if not self._authorised(request, sid):
            self.calls.append(Call(sid, flat, 401, None))
            return self._error(401, 20003, "Authenticate")
        if self.failures:
            failure = self.failures.pop(0)
            self.calls.append(Call(sid, flat, failure.status, None))
            return self._error(failure.status, failure.code, "Fake failure")
        if not flat.get("To") or not flat.get("From") or not (flat.get("Body") or flat.get("ContentSid")):
            self.calls.append(Call(sid, flat, 400, None))
            return self._error(400, 21604, "A 'To', 'From' and 'Body' or 'ContentSid' are required")
        message_sid = f"SM{next(self._ids):032x}"
        self.calls.append(Call(sid, flat, 201, message_sid))
        body = flat.get("Body", "")
        return web.json_response(
            {
                "account_sid": sid,
                "api_version": "2010-04-01",
                "body": body,
                "date_created": DATE,
                "date_sent": None,
                "date_updated": DATE,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": flat["From"],
                "messaging_service_sid": None,
                "num_media": "0",
                "num_segments": str(sms.segments(body) or 1),
                "price": None,
                "price_unit": "USD",
                "sid": message_sid,
                "status": "queued",
                "subresource_uris": {
                    "media": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media.json"
                },
                "to": flat["To"],
                "uri": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}.json",
            },
            status=201,
        )

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        return web.json_response(
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            status=status,
        )
