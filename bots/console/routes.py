"""The staff console: sign-in pages, the console page, the JSON API under /staff/api/ and the live stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import aiohttp_jinja2
from aiohttp import web

from bots.bodies import parse_json, read_limited
from bots.client_address import ClientAddresses
from bots.console import canned, casework, typing_indicator
from bots.console.auth import (
    Handler,
    clear_session_cookie,
    cookie_name,
    read_form,
    same_origin,
    set_session_cookie,
    staff_route,
)
from bots.console.casework import CaseworkCore
from bots.console.live import LiveBus
from bots.console.system_lines import translate as translate_system_line
from bots.console.texts import PAGE, labels
from bots.http.errors import json_error, json_refusal
from intake.desk_views import ConversationView, MessageView
from intake.i18n import Catalogs, Texts, is_rtl, language_name, pick_language
from intake.keywords import KeywordTable
from intake.messages import ConversationStatus, Direction
from intake.queue import Categorisation, DeskError, StaffDesk
from intake.staff import RateLimited, SignInRefused, StaffAccounts, StaffRole, StaffSession
from intake.typing_signals import TypingSignals

log = logging.getLogger(__name__)

MAX_JSON = 64 * 1024
HEARTBEAT_SECONDS = 15.0
CONSOLE_LANGUAGES = ("nb", "en")
T = TypeVar("T")
FLOOD_SOURCE = re.compile(r"[0-9a-f]{16}")
CONVERSATION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _conversation_id(request: web.Request) -> str:
    """The id in the path; 404 for what cannot be one: ids are UUIDs, and a NUL in a query parameter
    would fail in PostgreSQL itself."""
    value = request.match_info["id"]
    if not CONVERSATION_ID.fullmatch(value):
        raise json_refusal(web.HTTPNotFound, "no such conversation")
    return value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass
class Console:
    accounts: StaffAccounts
    desk: StaffDesk
    catalogs: Catalogs
    pages: Catalogs
    keywords: KeywordTable
    bus: LiveBus
    secure: bool
    clients: ClientAddresses
    casework: CaseworkCore
    # The web chat's typing indicator (bots/console/typing_indicator.py); the web chat holds the same.
    typing: TypingSignals | None = None

    # --- helpers -------------------------------------------------------------------------------------

    def _lang(self, request: web.Request) -> str:
        header = request.headers.get("Accept-Language", "")
        return pick_language(CONSOLE_LANGUAGES, request.query.get("lang"), header)

    def _labels(self, lang: str) -> dict[str, Any]:
        return labels(self.pages.texts(lang), self.catalogs.texts(lang), self.catalogs.languages)

    async def _still_signed_in(self, request: web.Request) -> bool:
        token = request.cookies.get(cookie_name(self.secure))
        return await self.accounts.session(token, touch=False) is not None

    async def _body(self, request: web.Request) -> dict[str, Any]:
        raw = await read_limited(request, MAX_JSON)
        if not raw:
            return {}
        try:
            data = parse_json(raw)
        except ValueError:
            raise json_refusal(web.HTTPBadRequest, "the body must be JSON") from None
        if not isinstance(data, dict):
            raise json_refusal(web.HTTPBadRequest, "the body must be a JSON object")
        return data

    def _summary(self, conv: ConversationView, staff: str, now: datetime) -> dict[str, Any]:
        since = conv.queued_at or conv.created_at
        return {
            "id": conv.id,
            "status": conv.status,
            "channel": conv.channel,
            "language": conv.language,
            "language_name": language_name(conv.language),
            "rtl": is_rtl(conv.language),
            "role": conv.role,
            "kind": conv.kind,
            "topics": list(conv.topics),
            "age_group": conv.age_group,
            "gender": conv.gender,
            "danger": conv.danger,
            "under18": conv.under18,
            "outside_hours": conv.outside_hours,
            "queued_at": _iso(conv.queued_at),
            "waiting_seconds": max(0, int((now - since).total_seconds())),
            "claimed_by": conv.claimed_by,
            "mine": conv.claimed_by == staff,
            # Opened from a source that opened many at once (see `floods` in the queue's answer).
            "flood_source": conv.source if conv.flood else None,
        }

    @staticmethod
    def _message(m: MessageView, page: Texts) -> dict[str, Any]:
        return {
            "id": m.id,
            "direction": m.direction,
            "sender": m.sender,
            "text": translate_system_line(m.text, page) if m.direction == Direction.SYSTEM else m.text,
            "attachments": m.attachments,
            "at": _iso(m.created_at),
            "delivery": m.delivery,
        }

    async def _act(
        self,
        request: web.Request,
        staff: StaffSession,
        action: Callable[[str, dict[str, Any]], Awaitable[Any]],
    ) -> web.Response:
        # Who asks was checked, with the CSRF token, before anything they sent is read (`staff_route`).
        body = await self._body(request)
        conversation_id = _conversation_id(request)
        try:
            result = await action(conversation_id, body)
        except DeskError as exc:
            return json_error(exc.status, str(exc))
        await self.accounts.audit(staff.name, request.match_info.get("action", "act"), conversation_id)
        return web.json_response(result if isinstance(result, dict) else {"ok": True})

    # --- pages ---------------------------------------------------------------------------------------

    async def login_page(self, request: web.Request) -> web.Response:
        return self._render_login(request, error=None)

    def _render_login(self, request: web.Request, error: str | None, status: int = 200) -> web.Response:
        lang = self._lang(request)
        context = {"lang": lang, "t": self._labels(lang)["text"], "error": error}
        response = aiohttp_jinja2.render_template("console/login.html", request, context)
        response.set_status(status)
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        t = self.pages.texts(self._lang(request))
        if not same_origin(request):
            return json_error(403, "cross-site sign-in refused")
        form = await read_form(request)
        name, password = (form.get("name", ""), form.get("password", "")) if form is not None else ("", "")
        if not isinstance(name, str) or not isinstance(password, str) or not name or len(password) > 1024:
            return self._render_login(request, t(PAGE["wrong"]), status=400)
        try:
            signed = await self.accounts.sign_in(name, password, self.clients.of(request))
        except RateLimited:
            return self._render_login(request, t(PAGE["too_many"]), 429)
        except SignInRefused:
            return self._render_login(request, t(PAGE["wrong"]), status=401)
        # A plain 303 (returning an HTTPException is deprecated in aiohttp; raising one drops cookies in 4.x).
        response = web.Response(status=303, headers={"Location": "/staff"})
        set_session_cookie(response, signed.token, self.secure)
        return response

    async def logout(self, request: web.Request, staff: StaffSession) -> web.StreamResponse:
        await self.accounts.sign_out(staff)
        response = web.Response(status=303, headers={"Location": "/staff/login"})
        clear_session_cookie(response, self.secure)
        return response

    async def page(self, request: web.Request, staff: StaffSession) -> web.Response:
        lang = self._lang(request)
        all_labels = self._labels(lang)
        context = {
            "lang": lang,
            "staff": staff.name,
            "admin": staff.admin,
            "csrf_token": staff.csrf_token,
            "labels": all_labels,
            "t": all_labels["text"],
        }
        return aiohttp_jinja2.render_template("console/console.html", request, context)

    # --- API -----------------------------------------------------------------------------------------

    async def queue(self, request: web.Request, staff: StaffSession) -> web.Response:
        now = self.desk.now()
        waiting = await self.desk.queue()
        mine = await self.desk.held_by(staff.name)
        floods = await self.desk.floods()
        moved = await self.desk.activity([x.id for x in (*mine, *waiting)])

        def card(conv: ConversationView, preview: bool) -> dict[str, Any]:
            summary, seen = self._summary(conv, staff.name, now), moved[conv.id]
            summary["last_at"] = _iso(seen.last_at)
            summary["unanswered"] = list(seen.unanswered)
            # Words only on the cards of one's own conversations, whose opening is already audited.
            if preview:
                summary["preview"] = seen.preview
                summary["preview_from_person"] = seen.preview_from_person
            return summary

        return web.json_response(
            {
                "staff": staff.name,
                "queue": [card(x, False) for x in waiting],
                "mine": [card(x, True) for x in mine],
                "floods": [{"source": source, "count": count} for source, count in floods],
            }
        )

    async def clear_flood(self, request: web.Request, staff: StaffSession) -> web.Response:
        """Closes a flood's open conversations in one action; each is written to the audit log."""
        source = request.match_info["source"]
        if not FLOOD_SOURCE.fullmatch(source):
            return json_error(404, "no such flood")
        cleared = await self.desk.clear_flood(source, staff.name)
        for conversation_id in cleared:
            await self.accounts.audit(staff.name, "clear_flood", conversation_id)
        return web.json_response({"ok": True, "cleared": len(cleared)})

    async def conversation(self, request: web.Request, staff: StaffSession) -> web.Response:
        conversation_id = _conversation_id(request)
        try:
            detail = await self.desk.detail(conversation_id)
        except DeskError as exc:
            return json_error(exc.status, str(exc))
        # Opening a transcript is always recorded: who, when, which conversation (never what it says).
        await self.accounts.audit(staff.name, "open", conversation_id)
        now = self.desk.now()
        conv, contact = detail.conversation, detail.contact
        t = self.catalogs.texts(conv.language)
        summary = self._summary(conv, staff.name, now)
        summary.update(
            {
                "hostile": bool(contact and contact.hostile),
                "blocked_until": _iso(contact.blocked_until) if contact else None,
                "opted_out": bool(contact and contact.opted_out),
                "erased": contact is None,
                "returning": len(detail.earlier),
                "country": None,
            }
        )
        return web.json_response(
            {
                "conversation": summary,
                "messages": [
                    self._message(m, self.pages.texts(self._lang(request))) for m in detail.messages
                ],
                "earlier": [
                    {"id": x.id, "created_at": _iso(x.created_at), "status": x.status} for x in detail.earlier
                ],
                # The administrators' wording where they changed it (bots/console/canned.py).
                "canned": await canned.choices(self, t.lang),
                "can_reply": conv.status == ConversationStatus.CLAIMED
                and conv.claimed_by == staff.name
                and contact is not None,
            }
        )

    async def claim(self, request: web.Request, staff: StaffSession) -> web.Response:
        return await self._act(request, staff, lambda cid, _: self.desk.claim(cid, staff.name))

    async def release(self, request: web.Request, staff: StaffSession) -> web.Response:
        return await self._act(request, staff, lambda cid, _: self.desk.release(cid, staff.name))

    async def send(self, request: web.Request, staff: StaffSession) -> web.Response:
        async def act(cid: str, body: dict[str, Any]) -> dict[str, Any]:
            outcome = await self.desk.reply(cid, staff.name, _text(body))
            return {"ok": True, "held": outcome.held, "outbox_id": outcome.outbox_id}

        return await self._act(request, staff, act)

    async def note(self, request: web.Request, staff: StaffSession) -> web.Response:
        return await self._act(request, staff, lambda cid, body: self.desk.note(cid, staff.name, _text(body)))

    async def transfer(self, request: web.Request, staff: StaffSession) -> web.Response:
        async def act(cid: str, body: dict[str, Any]) -> None:
            to = body.get("to")
            if not isinstance(to, str) or to not in await self.accounts.names():
                raise DeskError("transfer to a staff member who exists")
            await self.desk.transfer(cid, staff.name, to)

        return await self._act(request, staff, act)

    async def close(self, request: web.Request, staff: StaffSession) -> web.Response:
        return await self._act(
            request, staff, lambda cid, body: self.desk.close(cid, staff.name, _categorisation(body))
        )

    async def block(self, request: web.Request, staff: StaffSession) -> web.Response:
        async def act(cid: str, body: dict[str, Any]) -> None:
            await self.desk.block(cid, staff.name, _field(body, "hours", int, "hours must be a whole number"))

        return await self._act(request, staff, act)

    async def flag(self, request: web.Request, staff: StaffSession) -> web.Response:
        async def act(cid: str, body: dict[str, Any]) -> None:
            await self.desk.flag(
                cid, staff.name, _field(body, "hostile", bool, "hostile must be true or false")
            )

        return await self._act(request, staff, act)

    async def staff_names(self, request: web.Request, staff: StaffSession) -> web.Response:
        return web.json_response({"staff": await self.accounts.names()})

    async def audit(self, request: web.Request, staff: StaffSession) -> web.Response:
        rows = await self.accounts.audit_log()
        return web.json_response(
            {
                "audit": [
                    {
                        "staff": r.staff_name,
                        "action": r.action,
                        "conversation": r.conversation_id,
                        "at": _iso(r.at),
                    }
                    for r in rows
                ]
            }
        )

    async def search(self, request: web.Request, staff: StaffSession) -> web.Response:
        """Words in open and recent transcripts. Every conversation shown is audited as searched (the
        words searched for are not: the log never holds text)."""
        hits = await self.desk.search(request.query.get("q", ""))
        for conversation_id in dict.fromkeys(hit.conversation_id for hit in hits):
            await self.accounts.audit(staff.name, "search", conversation_id)
        return web.json_response(
            {
                "results": [
                    {
                        "conversation": hit.conversation_id,
                        "message": hit.message_id,
                        "direction": hit.direction,
                        "at": _iso(hit.at),
                        "snippet": hit.snippet,
                    }
                    for hit in hits
                ]
            }
        )

    async def stream(self, request: web.Request, staff: StaffSession) -> web.StreamResponse:
        """Server-sent events: a nudge whenever a conversation changes; the page refetches what it shows."""
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        queue = self.bus.subscribe()
        loop = asyncio.get_running_loop()
        checked = loop.time()
        try:
            await response.write(b"event: hello\ndata: {}\n\n")
            while True:
                event: dict[str, Any] | None = None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(HEARTBEAT_SECONDS):
                        event = await queue.get()
                if event is not None and event.get("type") == "shutdown":
                    break
                # The session is re-checked at least every heartbeat, also while changes keep coming (a
                # busy line never lets the wait time out): it may have idled out or ended on a copy of the
                # service that could not tell us.
                due = event is None or loop.time() - checked >= HEARTBEAT_SECONDS
                if _ends(event, staff) or (due and not await self._still_signed_in(request)):
                    await response.write(b"event: signed_out\ndata: {}\n\n")
                    break
                if due:
                    checked = loop.time()
                if event is None:
                    # A heartbeat keeps proxies from closing the stream.
                    await response.write(b": heartbeat\n\n")
                elif event.get("type") == "change":
                    await response.write(f"event: change\ndata: {json.dumps(event)}\n\n".encode())
                elif (typing := typing_indicator.for_console(event)) is not None:
                    await response.write(f"event: typing\ndata: {json.dumps(typing)}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.bus.unsubscribe(queue)
        log.debug("console stream for %s ended", staff.name)
        return response


def _ends(event: dict[str, Any] | None, staff: StaffSession) -> bool:
    """Whether this live event ends this member's session (signed out, or disabled)."""
    return (
        event is not None
        and event.get("type") == "session_ended"
        and (event.get("staff") == staff.staff_id or event.get("session") == staff.token_hash)
    )


def _field(body: dict[str, Any], name: str, kind: type[T], error: str) -> T:
    """One field of a request's body, of this type; a DeskError is answered 400 like the desk's own."""
    value = body.get(name)
    # JSON true is a Python int too, but never a number of hours.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DeskError(error)
    return value


def _text(body: dict[str, Any]) -> str:
    return _field(body, "text", str, "text must be a string")


def _categorisation(body: dict[str, Any]) -> Categorisation:
    def text(name: str) -> str | None:
        value = body.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise DeskError(f"{name} must be a string")
        return value

    topics = body.get("topics")
    if topics is not None and (not isinstance(topics, list) or not all(isinstance(x, str) for x in topics)):
        raise DeskError("topics must be a list of topic ids")
    follow_up = body.get("follow_up", False)
    if not isinstance(follow_up, bool):
        raise DeskError("follow_up must be true or false")
    return Categorisation(
        role=text("role"),
        topics=tuple(topics) if topics is not None else None,
        age_group=text("age_group"),
        gender=text("gender"),
        kind=text("kind"),
        country=text("country"),
        follow_up=follow_up,
    )


def add_routes(app: web.Application, get: Callable[[web.Request], Console]) -> None:
    def signing_in(name: str) -> Handler:
        """The two routes before there is a session to check."""

        async def handler(request: web.Request) -> web.StreamResponse:
            method: Handler = getattr(get(request), name)
            return await method(request)

        return handler

    app.router.add_get("/staff/login", signing_in("login_page"))
    app.router.add_post("/staff/login", signing_in("login"))
    app.router.add_post("/staff/logout", staff_route(get, Console.logout, page=True))
    app.router.add_get("/staff", staff_route(get, Console.page, page=True))
    api = "/staff/api"
    app.router.add_get(f"{api}/queue", staff_route(get, Console.queue))
    app.router.add_get(f"{api}/staff", staff_route(get, Console.staff_names))
    app.router.add_get(f"{api}/audit", staff_route(get, Console.audit, role=StaffRole.ADMIN))
    app.router.add_get(f"{api}/search", staff_route(get, Console.search))
    app.router.add_get(f"{api}/stream", staff_route(get, Console.stream))
    app.router.add_get(f"{api}/conversations/{{id}}", staff_route(get, Console.conversation))
    app.router.add_post(f"{api}/floods/{{source}}/clear", staff_route(get, Console.clear_flood))
    actions = {
        "claim": Console.claim,
        "release": Console.release,
        "messages": Console.send,
        "notes": Console.note,
        "transfer": Console.transfer,
        "close": Console.close,
        "block": Console.block,
        "flag": Console.flag,
    }
    for action, handler in actions.items():
        app.router.add_post(f"{api}/conversations/{{id}}/{{action:{action}}}", staff_route(get, handler))
    casework.add_routes(app, get)
    canned.add_routes(app, get)
    typing_indicator.add_routes(app, get)
