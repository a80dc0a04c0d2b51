"""The console's API for the line's own records: registering a contact that did not come through the bot,
and follow-up cases with their activities and concern decisions."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from intake.cases import CaseError, CaseService
from intake.records import RecordError, parse_record, store

if TYPE_CHECKING:
    from bots.console.routes import Console

CASE_ID = re.compile(r"[1-9]\d{0,17}")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _case_id(request: web.Request) -> int:
    value = request.match_info["id"]
    if not CASE_ID.fullmatch(value):
        raise web.HTTPNotFound(text='{"error": "no such case"}', content_type="application/json")
    return int(value)


class Casework:
    def __init__(self, console: Console) -> None:
        self.console = console
        service = console.desk.service
        self.db = service.db
        self.clock = service.clock
        self.cases = CaseService(service.db, service.keys, service.clock)

    async def register(self, request: web.Request) -> web.Response:
        """POST /staff/api/records: one anonymous record for a phone call, an e-mail, a visit."""
        staff = await self.console._staff(request)
        body = await self.console._body(request)
        try:
            record = parse_record(body, self.clock().date())
        except RecordError as exc:
            return _error(400, str(exc))
        await store(self.db, [record])
        await self.console.accounts.audit(staff.name, "register", None)
        return web.json_response({"ok": True, "month": record.month}, status=201)

    async def _case_call(
        self, request: web.Request, call: Callable[[str, dict[str, Any]], Awaitable[Any]], status: int = 200
    ) -> web.Response:
        staff = await self.console._staff(request)
        body = await self.console._body(request) if request.method == "POST" else {}
        try:
            result = await call(staff.name, body)
        except CaseError as exc:
            return _error(exc.status, str(exc))
        return web.json_response(result if result is not None else {"ok": True}, status=status)

    async def open_case(self, request: web.Request) -> web.Response:
        return await self._case_call(request, lambda staff, body: self.cases.open(body, staff), 201)

    async def list_cases(self, request: web.Request) -> web.Response:
        return await self._case_call(request, lambda _s, _b: self._listing())

    async def _listing(self) -> dict[str, Any]:
        return {"cases": await self.cases.listing()}

    async def case(self, request: web.Request) -> web.Response:
        case_id = _case_id(request)
        return await self._case_call(request, lambda _s, _b: self.cases.detail(case_id))

    async def activity(self, request: web.Request) -> web.Response:
        case_id = _case_id(request)
        return await self._case_call(
            request, lambda staff, body: self.cases.log_activity(case_id, body, staff), 201
        )

    async def decision(self, request: web.Request) -> web.Response:
        case_id = _case_id(request)
        return await self._case_call(
            request, lambda staff, body: self.cases.decide(case_id, body, staff), 201
        )

    async def close_case(self, request: web.Request) -> web.Response:
        case_id = _case_id(request)
        return await self._case_call(request, lambda _s, _b: self.cases.close(case_id))


class _Part(Protocol):
    console: Console


def _router(
    get: Callable[[web.Request], Console], make: Callable[[Console], _Part]
) -> Callable[[str], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Handlers that call a method of one object made from the console, once the app's wiring exists."""
    made: list[_Part] = []

    def route(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            console = get(request)
            if not made or made[0].console is not console:
                made[:] = [make(console)]
            method: Callable[[web.Request], Awaitable[web.StreamResponse]] = getattr(made[0], name)
            return await method(request)

        return handler

    return route


def add_routes(app: web.Application, get: Callable[[web.Request], Console]) -> None:
    from bots.console.casework_pages import CaseworkPages

    page = _router(get, CaseworkPages)
    app.router.add_get("/staff/register", page("register_page"))
    app.router.add_get("/staff/cases", page("cases_page"))
    app.router.add_get("/staff/cases/{id}", page("case_page"))
    app.router.add_get("/staff/statistics", page("statistics_page"))
    app.router.add_get("/staff/api/report", page("download"))
    app.router.add_get("/staff/api/report/chart", page("chart"))
    route = _router(get, Casework)

    api = "/staff/api"
    app.router.add_post(f"{api}/records", route("register"))
    app.router.add_post(f"{api}/cases", route("open_case"))
    app.router.add_get(f"{api}/cases", route("list_cases"))
    app.router.add_get(f"{api}/cases/{{id}}", route("case"))
    app.router.add_post(f"{api}/cases/{{id}}/activities", route("activity"))
    app.router.add_post(f"{api}/cases/{{id}}/decisions", route("decision"))
    app.router.add_post(f"{api}/cases/{{id}}/close", route("close_case"))
