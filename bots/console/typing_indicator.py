"""The console's side of the web chat's typing indicator (intake/typing_signals.py): the staff member typing
in the reply box signals the person's chat; the person typing reaches the open consoles over the stream."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bots.console.auth import staff_route
from bots.http.errors import json_error, json_refusal
from intake.staff import StaffSession
from intake.typing_signals import EVENT, Side, TypingRefused, TypingSignals

if TYPE_CHECKING:
    from bots.console.routes import Console


def signals(console: Console) -> TypingSignals:
    """The service's typing signals (bots/app.py hands the web chat the same ones)."""
    if console.typing is None:
        raise json_refusal(web.HTTPServiceUnavailable, "starting")
    return console.typing


def for_console(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """What an open console hears of a live event: the person typing in one conversation, else nothing."""
    if event.get("type") != EVENT or event.get("side") != Side.PERSON:
        return None
    return {"conversation": event.get("conversation"), "typing": event.get("typing") is True}


async def staff_typing(console: Console, request: web.Request, staff: StaffSession) -> web.Response:
    """POST {"typing": true|false}: the member holding a web chat is (no longer) writing a reply.
    Never stored or audited: it is not an action on the conversation, and the name does not travel."""
    from bots.console.routes import _conversation_id

    body = await console._body(request)
    conversation_id = _conversation_id(request)
    typing = body.get("typing", True)
    if not isinstance(typing, bool):
        return json_error(400, "typing must be true or false")
    typing_signals = signals(console)
    try:
        pseudonym = await typing_signals.recipient(conversation_id, staff.name)
    except TypingRefused as exc:
        return json_error(exc.status, str(exc))
    sent = typing_signals.due(Side.STAFF, conversation_id, typing)
    if sent:
        typing_signals.staff(pseudonym, typing)
    return web.json_response({"ok": True, "sent": sent})


def add_routes(app: web.Application, get: Callable[[web.Request], Console]) -> None:
    app.router.add_post("/staff/api/conversations/{id}/typing", staff_route(get, staff_typing))
