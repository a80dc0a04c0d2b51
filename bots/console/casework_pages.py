"""The console's pages for the line's own work: register a contact, the follow-up cases, and (for
administrators) the year's statistics with its charts and downloads. Server-rendered; the forms send JSON
to the API in casework.py through casework.js."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
from aiohttp import web

from bots.console.casework import Casework
from bots.console.casework_texts import texts
from bots.http.errors import json_error
from intake.cases import ACTIVITY_KINDS, CaseError
from intake.categories import AgeGroup, CaseOrigin, Decision, Duty, Gender, InquiryKind, RecordChannel, Role
from intake.countries import country_names
from intake.report import MAIN_TOPICS, SUBTOPICS, year_report
from intake.report_labels import label, title
from intake.report_render import CHARTED, FORMATS, chart, render, sections
from intake.staff import StaffSession

if TYPE_CHECKING:
    from bots.console.routes import Console

MIME = {
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# A report over a million records takes a second or two: the page and its four charts share one.
REPORT_KEEP_SECONDS = 60.0


def _options(table: str, ids: Any, lang: str) -> list[tuple[str, str]]:
    return [(str(i), label(table, str(i), lang)) for i in ids]


class CaseworkPages(Casework):
    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self._reports: dict[int, tuple[float, dict[str, Any]]] = {}

    def _context(self, request: web.Request, staff: StaffSession, **extra: Any) -> dict[str, Any]:
        lang = self.console._lang(request)
        # The phone page's link only where the phone line is on (its routes exist).
        phone = any(r.canonical == "/staff/calls" for r in request.app.router.resources())
        return {"lang": lang, "w": texts(lang), "staff": staff.name, "admin": staff.admin,
                "csrf_token": staff.csrf_token, "phone_line": phone, **extra}  # fmt: skip

    def _forms(self, lang: str) -> dict[str, Any]:
        return {
            "channels": _options("by_channel", RecordChannel, lang),
            "roles": _options("by_role", Role, lang),
            "kinds": _options("first_contacts", InquiryKind, lang),
            "age_groups": _options("by_age_group", AgeGroup, lang),
            "genders": _options("by_gender", Gender, lang),
            "topics": _options("by_topic", [*MAIN_TOPICS, *SUBTOPICS], lang),
            "countries": list(country_names(lang).items()),
            "origins": _options("cases", CaseOrigin, lang),
            "activity_kinds": _options("activities", sorted(ACTIVITY_KINDS, key=str), lang),
            "duties": _options("concern_decisions", Duty, lang),
            "decisions": _options("concern_decisions", Decision, lang),
        }

    async def register_page(self, request: web.Request, staff: StaffSession) -> web.Response:
        context = self._context(request, staff)
        now = self.clock()
        context.update(forms=self._forms(context["lang"]), this_month=f"{now.year:04d}-{now.month:02d}")
        return aiohttp_jinja2.render_template("console/register.html", request, context)

    async def cases_page(self, request: web.Request, staff: StaffSession) -> web.Response:
        context = self._context(request, staff)
        context.update(forms=self._forms(context["lang"]), cases=await self.cases.listing())
        return aiohttp_jinja2.render_template("console/cases.html", request, context)

    async def case_page(self, request: web.Request, staff: StaffSession) -> web.Response:
        value = request.match_info["id"]
        if not value.isdigit() or len(value) > 18:
            raise web.HTTPNotFound()
        try:
            case = await self.cases.detail(int(value))
        except CaseError:
            raise web.HTTPNotFound() from None
        context = self._context(request, staff)
        context.update(forms=self._forms(context["lang"]), case=case, today=self.clock().date().isoformat())
        return aiohttp_jinja2.render_template("console/case.html", request, context)

    # --- statistics (administrators) -------------------------------------------------------------------

    def _year(self, request: web.Request) -> int:
        this_year = self.clock().year
        value = request.query.get("year", "")
        if value.isdigit() and 2000 <= int(value) <= this_year:
            return int(value)
        return this_year if value == "" and self.clock().month > 6 else this_year - 1

    async def _report(self, year: int) -> dict[str, Any]:
        kept = self._reports.get(year)
        if kept is not None and time.monotonic() - kept[0] < REPORT_KEEP_SECONDS:
            return kept[1]
        report = await year_report(self.db, year)
        self._reports = {year: (time.monotonic(), report)}
        return report

    async def statistics_page(self, request: web.Request, staff: StaffSession) -> web.Response:
        year = self._year(request)
        context = self._context(request, staff)
        lang = context["lang"]
        report = await self._report(year)
        context.update(
            year=year,
            years=list(range(self.clock().year, 2014, -1)),
            heading=title("report", lang, year=year),
            sections=sections(report, lang),
            charted=CHARTED,
            formats=FORMATS,
        )
        return aiohttp_jinja2.render_template("console/statistics.html", request, context)

    async def chart(self, request: web.Request, staff: StaffSession) -> web.Response:
        table = request.query.get("table", "")
        if table not in CHARTED:
            return json_error(400, f"table: one of {', '.join(CHARTED)}")
        lang = self.console._lang(request)
        report = await self._report(self._year(request))
        section = next(s for s in sections(report, lang) if s.key == table)
        body = await asyncio.to_thread(chart, section, "svg")
        return web.Response(body=body, content_type="image/svg+xml")

    async def download(self, request: web.Request, staff: StaffSession) -> web.Response:
        fmt = request.query.get("format", "html")
        if fmt not in FORMATS:
            return json_error(400, f"format: one of {', '.join(FORMATS)}")
        year = self._year(request)
        public = request.query.get("public") == "1"
        lang = self.console._lang(request)
        report = await self._report(year)
        body = await asyncio.to_thread(render, report, fmt, lang=lang, public=public)
        name = f"helpline-report-{year}{'-public' if public else ''}.{fmt}"
        return web.Response(
            body=body,
            headers={"Content-Type": MIME[fmt], "Content-Disposition": f'attachment; filename="{name}"'},
        )
