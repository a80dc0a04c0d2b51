"""Canned replies that administrators reword per language: their screen (/staff/canned), its API, and the
list a staff member picks from in a conversation. Every change is written to the audit log (which reply
and language, never the text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
from aiohttp import web

from bots.console.casework import PartRouter
from bots.console.casework_texts import texts as frame_texts
from bots.http.errors import json_error
from intake.canned import MAX_CHARS, CannedError, CannedReply, CannedTexts
from intake.categories import N_
from intake.i18n import is_rtl, language_name
from intake.staff import StaffRole, StaffSession

if TYPE_CHECKING:
    from bots.console.routes import Console

WORDS = {
    "heading": N_("Canned replies"),
    "intro": N_(
        "Staff insert these texts into their replies, in the language of the conversation. Change the "
        "wording for one language here; an empty text brings back the standard wording."
    ),
    "standard": N_("Standard wording"),
    "edited_by": N_("Changed by {name}"),
    "number": N_("Canned reply {number}"),
    "save": N_("Save"),
    "reset": N_("Use the standard wording"),
}
# What the audit log shows for the changes (its action column).
EDITED, RESET = "canned_edit", "canned_reset"


def _json(reply: CannedReply) -> dict[str, Any]:
    return {
        "key": reply.key,
        "lang": reply.lang,
        "text": reply.text,
        "default": reply.default,
        "edited": reply.edited,
        "updated_by": reply.updated_by,
        "updated_at": reply.updated_at.isoformat() if reply.updated_at else None,
    }


class CannedScreen:
    def __init__(self, console: Console) -> None:
        self.console = console
        desk = console.desk
        self.canned = CannedTexts(desk.db, console.catalogs, console.keywords, desk.clock)

    async def choices(self, lang: str) -> list[dict[str, str]]:
        """What the conversation detail offers a staff member, in the conversation's language."""
        return [{"id": r.key, "text": r.text} for r in await self.canned.for_language(lang)]

    async def page(self, request: web.Request, staff: StaffSession) -> web.Response:
        lang = self.console._lang(request)
        words = self.console.pages.texts(lang)
        replies = await self.canned.every_language()
        groups = [
            {
                "lang": code,
                "name": language_name(code),
                "dir": "rtl" if is_rtl(code) else "ltr",
                "replies": [r for r in replies if r.lang == code],
            }
            for code in self.canned.languages
        ]
        context = {
            "lang": lang,
            "w": frame_texts(lang),
            "t": {key: words(msgid) for key, msgid in WORDS.items() if "{" not in msgid},
            "edited_by": lambda name: words(WORDS["edited_by"], name=name),
            "number": lambda n: words(WORDS["number"], number=str(n)),
            "groups": groups,
            "max_chars": MAX_CHARS,
            "staff": staff.name,
            "admin": staff.admin,
            "csrf_token": staff.csrf_token,
            "phone_line": any(r.canonical == "/staff/calls" for r in request.app.router.resources()),
        }
        return aiohttp_jinja2.render_template("console/canned.html", request, context)

    async def listing(self, request: web.Request, staff: StaffSession) -> web.Response:
        return web.json_response({"canned": [_json(r) for r in await self.canned.every_language()]})

    async def change(self, request: web.Request, staff: StaffSession) -> web.Response:
        """POST {"text": "..."}: the new wording; an empty or missing text restores the standard one."""
        body = await self.console._body(request)
        key, lang = request.match_info["key"], request.match_info["lang"]
        text = body.get("text", "")
        if text is None:
            text = ""
        if not isinstance(text, str):
            return json_error(400, "text must be a string")
        try:
            reply = await self.canned.change(key, lang, text, staff.name)
        except CannedError as exc:
            return json_error(400, str(exc))
        # Which reply and language (both checked above), never the text.
        await self.console.accounts.audit(staff.name, EDITED if reply.edited else RESET, f"{key}:{lang}")
        return web.json_response(_json(reply))


def add_routes(app: web.Application, get: Callable[[web.Request], Console]) -> None:
    route = PartRouter(get, CannedScreen)
    admin = StaffRole.ADMIN
    app.router.add_get("/staff/canned", route(CannedScreen.page, role=admin, page=True))
    app.router.add_get("/staff/api/canned", route(CannedScreen.listing, role=admin))
    app.router.add_post("/staff/api/canned/{key}/{lang}", route(CannedScreen.change, role=admin))


async def choices(console: Console, lang: str) -> list[dict[str, str]]:
    """The conversation detail's canned replies (bots/console/routes.py)."""
    return await CannedScreen(console).choices(lang)
