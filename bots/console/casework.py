"""The console's API for the line's own records: registering a contact that did not come through the bot,
and follow-up cases with their activities and concern decisions."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from aiohttp import web

from bots.console.auth import Handler, staff_route
from bots.http.errors import json_error, json_refusal
from intake.cases import CaseError, CaseService
from intake.privacy import Keys
from intake.records import RecordError, parse_record, store
from intake.staff import StaffRole, StaffSession
from intake.storage.uow import Database

if TYPE_CHECKING:
    from bots.console.routes import Console

CASE_ID = re.compile(r"[1-9]\d{0,17}")


@dataclass(frozen=True)
class CaseworkCore:
    """What the line's own records take from the core, handed over by the wiring: the database the
    anonymous records, the cases and the year's report are in, the keys the cases' aliases and addresses
    are sealed with, and the intake's clock (the month a record counts in, a case's dates)."""

    db: Database
    keys: Keys
    clock: Callable[[], datetime]


def _case_id(request: web.Request) -> int:
    value = request.match_info["id"]
    if not CASE_ID.fullmatch(value):
        raise json_refusal(web.HTTPNotFound, "no such case")
    return int(value)


class Casework:
    def __init__(self, console: Console) -> None:
        self.console = console
        core = console.casework
        self.db = core.db
        self.clock = core.clock
        self.cases = CaseService(core.db, core.keys, core.clock)

    async def register(self, request: web.Request, staff: StaffSession) -> web.Response:
        """POST /staff/api/records: one anonymous record for a phone call, an e-mail, a visit."""
        body = await self.console._body(request)
        try:
            record = parse_record(body, self.clock().date())
        except RecordError as exc:
            return json_error(400, str(exc))
        await store(self.db, [record])
        await self.console.accounts.audit(staff.name, "register", None)
        return web.json_response({"ok": True, "month": record.month}, status=201)

    async def _case_call(
        self, request: web.Request, call: Callable[[dict[str, Any]], Awaitable[Any]], status: int = 200
    ) -> web.Response:
        body = await self.console._body(request) if request.method == "POST" else {}
        try:
            result = await call(body)
        except CaseError as exc:
            return json_error(exc.status, str(exc))
        return web.json_response(result if result is not None else {"ok": True}, status=status)

    async def open_case(self, request: web.Request, staff: StaffSession) -> web.Response:
        return await self._case_call(request, lambda body: self.cases.open(body, staff.name), 201)

    async def list_cases(self, request: web.Request, staff: StaffSession) -> web.Response:
        return await self._case_call(request, lambda _: self._listing())

    async def _listing(self) -> dict[str, Any]:
        return {"cases": await self.cases.listing()}

    async def case(self, request: web.Request, staff: StaffSession) -> web.Response:
        case_id = _case_id(request)
        return await self._case_call(request, lambda _: self.cases.detail(case_id))

    async def activity(self, request: web.Request, staff: StaffSession) -> web.Response:
        case_id = _case_id(request)
        return await self._case_call(
            request, lambda body: self.cases.log_activity(case_id, body, staff.name), 201
        )

    async def decision(self, request: web.Request, staff: StaffSession) -> web.Response:
        case_id = _case_id(request)
        return await self._case_call(request, lambda body: self.cases.decide(case_id, body, staff.name), 201)

    async def close_case(self, request: web.Request, staff: StaffSession) -> web.Response:
        case_id = _case_id(request)
        return await self._case_call(request, lambda _: self.cases.close(case_id))


class _Part(Protocol):
    console: Console


P = TypeVar("P", bound=_Part)
Method = Callable[[P, web.Request, StaffSession], Awaitable[web.StreamResponse]]


class PartRouter(Generic[P]):
    """Staff routes (`staff_route`) to the methods of one object made from the console, once the app's
    wiring exists: made again only when the console is another (a test's second app)."""

    def __init__(self, get: Callable[[web.Request], Console], make: Callable[[Console], P]) -> None:
        self.get, self.make = get, make
        self.made: P | None = None

    def _part(self, console: Console) -> P:
        if self.made is None or self.made.console is not console:
            self.made = self.make(console)
        return self.made

    def __call__(self, method: Method[P], *, role: StaffRole | None = None, page: bool = False) -> Handler:
        return staff_route(
            self.get,
            lambda console, request, staff: method(self._part(console), request, staff),
            role=role,
            page=page,
        )


def add_routes(app: web.Application, get: Callable[[web.Request], Console]) -> None:
    from bots.console.casework_pages import CaseworkPages as Pages

    pages = PartRouter(get, Pages)
    admin = StaffRole.ADMIN
    app.router.add_get("/staff/register", pages(Pages.register_page, page=True))
    app.router.add_get("/staff/cases", pages(Pages.cases_page, page=True))
    app.router.add_get("/staff/cases/{id}", pages(Pages.case_page, page=True))
    app.router.add_get("/staff/statistics", pages(Pages.statistics_page, role=admin, page=True))
    app.router.add_get("/staff/api/report", pages(Pages.download, role=admin))
    app.router.add_get("/staff/api/report/chart", pages(Pages.chart, role=admin))
    route = PartRouter(get, Casework)

    api = "/staff/api"
    app.router.add_post(f"{api}/records", route(Casework.register))
    app.router.add_post(f"{api}/cases", route(Casework.open_case))
    app.router.add_get(f"{api}/cases", route(Casework.list_cases))
    app.router.add_get(f"{api}/cases/{{id}}", route(Casework.case))
    app.router.add_post(f"{api}/cases/{{id}}/activities", route(Casework.activity))
    app.router.add_post(f"{api}/cases/{{id}}/decisions", route(Casework.decision))
    app.router.add_post(f"{api}/cases/{{id}}/close", route(Casework.close_case))
