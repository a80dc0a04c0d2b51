"""The register, case and statistics pages in headless Chromium against the real app: a staff member
registers a phone call and runs a follow-up case; an administrator reads the year's statistics. A
screenshot of the statistics page is kept in tests/artifacts/ (git ignores it) for a person to look at."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect
from sqlalchemy import select

from bots.app import WIRING
from intake.storage.models import (
    ActivityRecordRow,
    CaseActivityRow,
    CaseRow,
    ConcernDecisionRow,
    StatRecordRow,
)
from tests.browser.test_console import (
    PASSWORD,
    STAFF,
    PageProblems,
    Server,
    browser,
    chromium,
    new_page,
    server,
    sign_in,
)
from tests.integration.conftest import fetch

__all__ = ["browser", "chromium", "server"]  # the fixtures, as test_console.py makes them
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ALIAS = "Sara <b>B</b>"


async def test_a_phone_call_is_registered_from_the_form(browser: Browser, server: Server) -> None:
    problems = PageProblems()
    page = await new_page(browser, server, problems)
    await sign_in(page, STAFF, PASSWORD)
    await page.goto("/staff/register?lang=en")
    await page.locator("#register-channel").select_option("phone")
    await page.locator("#register-role").select_option("self")
    await page.locator("#register-kind").select_option("individual")
    await page.locator("#register-age_group").select_option("under_18")
    await page.locator("#register-gender").select_option("trans")
    await page.get_by_label("Forced marriage: pressure to marry").check()
    await page.locator("#register-country").select_option("SO")
    await page.get_by_label("Follow-up case").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#result")).to_have_text("Registered.")
    # A bad answer is shown, and the form keeps what was typed.
    await page.locator("#register-month").evaluate("el => { el.max = ''; el.value = '2999-01'; }")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#result")).to_have_text("month: 2999-01 has not begun yet")

    (record,) = await fetch(server.app[WIRING].db, select(StatRecordRow))
    assert (record.channel, record.role, record.kind, record.age_group, record.gender) == (
        "phone", "self", "individual", "under_18", "trans")  # fmt: skip
    assert (record.topics, record.country, record.follow_up) == (
        ["forced_marriage", "forced_marriage_pressure"], "SO", True)  # fmt: skip
    assert problems.seen == []


async def test_a_follow_up_case_from_opening_to_closing(browser: Browser, server: Server) -> None:
    problems = PageProblems()
    page = await new_page(browser, server, problems)
    await sign_in(page, STAFF, PASSWORD)
    await page.goto("/staff/cases?lang=en")
    await expect(page.locator("#no-cases")).to_be_visible()
    await page.locator("#case-origin").select_option("helpline")
    await page.locator("#case-consent").fill("2026-01-05")
    await page.locator("#case-gender").select_option("woman")
    await page.locator("#case-alias").fill(ALIAS)
    await page.get_by_role("button", name="Open a case").click()
    await expect(page.locator("#case-code")).to_contain_text(ALIAS)  # as text, not markup
    await expect(page.locator("#case-code b")).to_have_count(0)

    await page.locator("#activity-kind").select_option("nav")
    await page.locator("#activity-note").fill("Møte med NAV om bolig")
    await page.get_by_role("button", name="Log an activity").click()
    await expect(page.locator("#activity-list")).to_contain_text("Møte med NAV om bolig")
    await page.locator("#decision-duty").select_option("avert")
    await page.locator("#decision-decision").select_option("not_acted")
    await page.locator("#decision-reason").fill("Ingen fare for alvorlig lovbrudd")
    await page.get_by_role("button", name="Record a decision").click()
    await expect(page.locator("#decision-list")).to_contain_text("Duty to avert")
    await page.get_by_role("button", name="Close the case").click()
    await expect(page.locator("#case-status")).to_have_text("Closed")
    await expect(page.locator("#activity-form")).to_have_count(0)

    db = server.app[WIRING].db
    (case,) = await fetch(db, select(CaseRow))
    assert (case.origin, case.status, case.responsible) == ("helpline", "closed", STAFF)
    assert case.alias_enc is not None
    assert b"Sara" not in case.alias_enc
    assert (
        len(await fetch(db, select(CaseActivityRow))) == len(await fetch(db, select(ConcernDecisionRow))) == 1
    )
    assert [(r.origin, r.kind) for r in await fetch(db, select(ActivityRecordRow))] == [
        ("helpline", "nav"), ("helpline", "decision:avert:not_acted")]  # fmt: skip
    await page.goto("/staff/cases?lang=en")
    await expect(page.locator("#case-list")).to_contain_text(case.code)
    assert problems.seen == []


async def test_the_statistics_page_for_an_administrator(browser: Browser, server: Server) -> None:
    wiring = server.app[WIRING]
    await wiring.accounts.add("ada", PASSWORD, "admin")
    year = wiring.service.clock().year
    problems = PageProblems()
    page = await new_page(browser, server, problems)
    await sign_in(page, "ada", PASSWORD)
    for channel, n in (("phone", 12), ("email", 6), ("in_person", 2)):
        for i in range(n):
            body = {"channel": channel, "month": f"{year}-{1 + i % 12:02d}", "kind": "individual",
                    "gender": "woman", "topics": ["social_control"]}  # fmt: skip
            csrf = await page.locator('meta[name="csrf-token"]').get_attribute("content")
            response = await page.request.post(
                "/staff/api/records", data=body, headers={"X-CSRF-Token": csrf or ""}
            )
            assert response.status == 201, await response.text()

    await page.goto(f"/staff/statistics?lang=en&year={year}")
    await expect(page.locator("h1")).to_have_text(f"Annual report {year}: first-time contacts and follow-up")
    await expect(page.locator("#first_contacts")).to_contain_text("20")
    await expect(page.locator("#by_channel")).to_contain_text("Phone")
    charts = page.locator("img.casework-chart")
    await expect(charts).to_have_count(4)
    for i in range(4):
        await expect(charts.nth(i)).to_have_js_property("complete", True)
        assert await charts.nth(i).evaluate("img => img.naturalWidth") > 100
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "statistics.png"), full_page=True)

    # The year picker and the downloads.
    await page.locator("#year").select_option(str(year - 1))
    await page.locator("#show-year").click()
    await expect(page.locator("h1")).to_contain_text(str(year - 1))
    download = await page.request.get(f"/staff/api/report?year={year}&format=csv&public=1&lang=en")
    assert download.status == 200
    assert "attachment" in download.headers["content-disposition"]
    text = (await download.body()).decode("utf-8-sig")
    assert "In person" in text
    assert ",<5" in text  # two in person: a small count, hidden
    assert problems.seen == []

    # Staff who are not administrators do not see it.
    staff = await new_page(browser, server, PageProblems())
    await sign_in(staff, STAFF, PASSWORD)
    refused = await staff.goto(f"/staff/statistics?year={year}")
    assert refused is not None
    assert refused.status == 403
