"""The console's phone pages: the call list, the voicemail player (each play audited), phone duty with
the staff member's number, call-back for consenting callers, categorising and erasing a call.

The caller's number is never sent to a browser: a call-back is placed by the line (Twilio rings the staff
member's phone first, then the caller), and the list shows only "has called before".
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp_jinja2
from aiohttp import web

from bots.console.auth import Handler, staff_route
from bots.console.casework_pages import CaseworkPages
from bots.http.errors import json_error, json_refusal
from intake.calls import NoConsent, PhoneLine
from intake.records import RecordError
from intake.staff import StaffSession

if TYPE_CHECKING:
    from bots.console.routes import Console

CALL_ID = re.compile(r"[1-9]\d{0,17}")
NUMBER = re.compile(r"\+[1-9]\d{5,14}")


class Line(Protocol):
    """The phone channel as the console sees it: the core's calls, and placing a call-back."""

    line: PhoneLine | None

    async def call_back(self, call_id: int, staff_name: str) -> str: ...


# A phone page's or API route's handler: given the signed-in member and the console (`staff_route`).
PhoneMethod = Callable[[web.Request, StaffSession, "Console"], Awaitable[web.StreamResponse]]


def _call_id(request: web.Request) -> int:
    value = request.match_info["id"]
    if not CALL_ID.fullmatch(value):
        raise json_refusal(web.HTTPNotFound, "no such call")
    return int(value)


def audit_ref(call_id: int) -> str:
    """The audit log's reference to a call (its column holds conversation ids: 36 characters)."""
    return f"call-{call_id}"


@dataclass
class PhoneDesk:
    source: Line

    @property
    def line(self) -> PhoneLine:
        if self.source.line is None:
            raise json_refusal(web.HTTPServiceUnavailable, "the phone line is starting")
        return self.source.line

    def add_routes(self, app: web.Application, get: Callable[[web.Request], Console]) -> None:
        def bound(method: PhoneMethod, page: bool = False) -> Handler:
            return staff_route(
                get, lambda console, request, staff: method(request, staff, console), page=page
            )

        app.router.add_get("/staff/calls", bound(self.page, page=True))
        app.router.add_get("/staff/api/calls", bound(self.listing))
        app.router.add_get("/staff/api/calls/{id}/voicemail", bound(self.voicemail))
        app.router.add_post("/staff/api/calls/{id}/call-back", bound(self.place_call_back))
        app.router.add_post("/staff/api/calls/{id}/category", bound(self.categorise))
        app.router.add_post("/staff/api/calls/{id}/erase", bound(self.erase))
        app.router.add_post("/staff/api/phone-duty", bound(self.duty))

    async def page(self, request: web.Request, staff: StaffSession, console: Console) -> web.Response:
        pages = CaseworkPages(console)
        context = pages._context(request, staff)
        on_duty, has_number = await self.line.duty_of(staff.name)
        context.update(
            forms=pages._forms(context["lang"]),
            calls=await self.line.listing(),
            on_duty=on_duty,
            has_number=has_number,
        )
        return aiohttp_jinja2.render_template("console/calls.html", request, context)

    async def listing(self, request: web.Request, staff: StaffSession, console: Console) -> web.Response:
        calls = await self.line.listing()
        return web.json_response({"calls": [_json(view) for view in calls]})

    async def voicemail(
        self, request: web.Request, staff: StaffSession, console: Console
    ) -> web.StreamResponse:
        """The audio, to signed-in staff only; every play is written to the audit log."""
        call_id = _call_id(request)
        mail = await self.line.voicemail(call_id)
        if mail is None:
            return json_error(404, "no voicemail for this call")
        await console.accounts.audit(staff.name, "play_voicemail", audit_ref(call_id))
        return web.Response(body=mail.audio, content_type=mail.content_type)

    async def place_call_back(
        self, request: web.Request, staff: StaffSession, console: Console
    ) -> web.Response:
        call_id = _call_id(request)
        try:
            await self.source.call_back(call_id, staff.name)
        except NoConsent:
            return json_error(409, "the caller did not say it is safe to call back")
        except LookupError:
            return json_error(409, "store your phone number (phone duty) first")
        except Exception:
            return json_error(502, "the call could not be placed; try again")
        await console.accounts.audit(staff.name, "call_back", audit_ref(call_id))
        return web.json_response({"ok": True})

    async def categorise(self, request: web.Request, staff: StaffSession, console: Console) -> web.Response:
        call_id = _call_id(request)
        body = await console._body(request)
        body.pop("channel", None)
        try:
            record = await self.line.categorise(call_id, body)
        except RecordError as exc:
            return json_error(400, str(exc))
        except LookupError:
            return json_error(409, "no such call, or already categorised")
        await console.accounts.audit(staff.name, "categorise_call", audit_ref(call_id))
        return web.json_response({"ok": True, "month": record.month}, status=201)

    async def erase(self, request: web.Request, staff: StaffSession, console: Console) -> web.Response:
        call_id = _call_id(request)
        if not await self.line.erase(call_id):
            return json_error(404, "no such call")
        await console.accounts.audit(staff.name, "erase_call", audit_ref(call_id))
        return web.json_response({"ok": True})

    async def duty(self, request: web.Request, staff: StaffSession, console: Console) -> web.Response:
        body = await console._body(request)
        number = str(body.get("number", "")).replace(" ", "") or None
        on_duty = body.get("on_duty") is True
        if number is not None and not NUMBER.fullmatch(number):
            return json_error(400, "number: a phone number in E.164 form (+4712345678)")
        try:
            await self.line.set_duty(staff.name, number, on_duty)
        except ValueError:
            return json_error(400, "number: a phone number is needed to go on duty")
        return web.json_response({"ok": True, "on_duty": on_duty})


def _json(view: Any) -> dict[str, Any]:
    return {
        "id": view.id,
        "state": str(view.state),
        "started_at": view.started_at.isoformat(),
        "answered_by": view.answered_by,
        "duration_seconds": view.duration_seconds,
        "consent": str(view.consent),
        "voicemail_seconds": view.voicemail_seconds,
        "called_before": view.called_before,
        "categorised": view.categorised,
        "called_back_by": view.called_back_by,
    }
