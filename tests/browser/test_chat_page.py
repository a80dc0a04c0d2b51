"""The person's side of the web chat in a real headless Chromium on a phone-sized screen (390 x 844): what
the page says before the first question, in the language it shows.

The server, the browser and the page checks are the console tests' own (tests/browser/test_console.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from bots.app import WIRING
from bots.channels.webchat.page import CLOSED, EMERGENCY
from intake.ending import ENDED
from intake.hours import default_hours
from intake.i18n import is_rtl, language_name
from intake.queue import Categorisation
from tests.browser.test_console import PASSWORD, STAFF, WAIT_MS, PageProblems, Server

OSLO = ZoneInfo("Europe/Oslo")
SUNDAY_EVENING = datetime(2026, 11, 29, 20, 0, tzinfo=OSLO)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PHONE = ViewportSize(width=390, height=844)


async def phone(browser: Browser, server: Server, problems: PageProblems, locale: str) -> Page:
    context = await browser.new_context(
        locale=locale,
        base_url=server.url,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(WAIT_MS)
    return problems.watch(await context.new_page())


async def test_the_landing_says_open_or_closed_and_112_and_follows_the_line(
    browser: Browser, server: Server
) -> None:
    landing = server.app[WIRING].webchat.landing
    landing.poll_seconds = 1
    landing.cache_seconds = 0
    problems = PageProblems()
    page = await phone(browser, server, problems, "nb-NO")
    await page.goto("/chat")
    state = page.locator("#line-state")
    # Within the hours, but nobody is signed in to the console: closed, and no time is promised.
    await expect(state).to_have_text(
        "Vi har stengt nå, og ingen leser meldinger akkurat nå. Du kan legge igjen en melding, "
        "og vi svarer så snart vi kan."
    )
    await expect(page.locator("#line-emergency")).to_contain_text("112")
    # Before the first question: nothing has been sent, the log is empty.
    await expect(page.locator("#log .msg")).to_have_count(0)

    # A staff member signs in while the page is open: the page says so by itself.
    signed_in = await server.app[WIRING].accounts.sign_in(STAFF, PASSWORD, "test")
    assert signed_in.token
    await expect(state).to_have_text("Vi har åpent nå.", timeout=WAIT_MS)
    await expect(state).to_have_class("line-status__state is-open")

    # Sunday evening by the helpline's own hours (the chat opens Monday and Friday 09:00-15:30).
    service = server.app[WIRING].service
    service.hours = default_hours()
    service.clock = lambda: SUNDAY_EVENING
    await expect(state).to_have_text(
        "Vi har stengt nå og åpner mandag 09:00. Du kan legge igjen en melding, men ingen leser den før da.",
        timeout=WAIT_MS,
    )
    await expect(page.locator("#line-emergency")).to_have_text(
        "Er du i fare nå? Ring 112 (politi) eller 113 (ambulanse)."
    )
    assert problems.seen == []


async def choose(chat: Page, label: str) -> None:
    button = chat.locator("#log button.choice:enabled").filter(has_text=re.compile(f"^{re.escape(label)}$"))
    await button.last.click()


async def expect_page_in(page: Page, lang: str, direction: str, texts: dict[str, str]) -> None:
    root = page.locator("html")
    await expect(root).to_have_attribute("lang", lang, timeout=WAIT_MS)
    await expect(root).to_have_attribute("dir", direction)
    await expect(page).to_have_title(texts["title"])
    await expect(page.locator("#exit")).to_have_text(texts["exit"])
    await expect(page.locator("#exit-hint")).to_have_text(texts["exit_hint"])
    await expect(page.locator("#intro")).to_have_text(texts["intro"])
    await expect(page.locator("#send")).to_have_text(texts["send"])
    await expect(page.locator("#input")).to_have_attribute("placeholder", texts["placeholder"])
    await expect(page.locator("#input")).to_have_attribute("aria-label", texts["placeholder"])


async def test_the_pages_words_follow_the_language_picked(browser: Browser, server: Server) -> None:
    catalogs = server.app[WIRING].catalogs
    landing = server.app[WIRING].webchat.landing
    problems = PageProblems()
    page = await phone(browser, server, problems, "nb-NO")
    await page.goto("/chat")
    await expect_page_in(page, "nb", "ltr", landing.texts("nb"))
    await page.locator("#input").fill("Hei")
    await page.locator("#input").press("Enter")
    await choose(page, language_name("ar"))
    await expect_page_in(page, "ar", "rtl", landing.texts("ar"))
    closed = catalogs.texts("ar")(CLOSED)
    await expect(page.locator("#line-state")).to_have_text(closed)
    await expect(page.locator("#line-emergency")).to_have_text(catalogs.texts("ar")(EMERGENCY))

    # A reload keeps the person's choice, not the browser's language.
    await page.reload()
    await expect_page_in(page, "ar", "rtl", landing.texts("ar"))

    # The language word brings the menu back; a left-to-right language turns the page back.
    await page.locator("#input").fill("لغة")
    await page.locator("#input").press("Enter")
    await choose(page, language_name("uk"))
    await expect_page_in(page, "uk", "ltr", landing.texts("uk"))
    assert problems.seen == []


async def test_every_language_has_the_pages_words_and_direction(browser: Browser, server: Server) -> None:
    """All 14: what the page switches to comes from each language's catalog, in its own direction."""
    landing = server.app[WIRING].webchat.landing
    languages = server.app[WIRING].catalogs.languages
    assert len(languages) == 14
    english = landing.texts("en")
    problems = PageProblems()
    page = await phone(browser, server, problems, "en-US")
    await page.goto("/chat")
    for lang in languages:
        # What a stored choice does on load: the page asks for that language's words.
        await page.evaluate(
            "lang => sessionStorage.setItem('helpline-chat', JSON.stringify({v: 1, token: null, after: 0, "
            "items: [], lang: lang}))",
            lang.replace("_", "-"),
        )
        await page.reload()
        texts = landing.texts(lang)
        if lang != "en":
            assert texts["exit"] != english["exit"], lang
        await expect_page_in(page, lang.replace("_", "-"), "rtl" if is_rtl(lang) else "ltr", texts)
    assert problems.seen == []


FONT_STATUS = (
    "family => [...document.fonts].filter(f => f.family.replace(/\"/g, '') === family).map(f => f.status)"
)


@pytest.mark.parametrize("lang", ["nb", "ar", "ti"])
async def test_the_landing_shows_every_script_with_fonts_of_its_own(
    browser: Browser, server: Server, lang: str
) -> None:
    """Tigrinya needs an Ethiopic font that many phones (and this test's Chromium) lack, Pashto, Sorani and
    Urdu letters an Arabic font older phones lack: the page brings its own, from this server. The
    screenshots are kept in tests/artifacts/ for a person to look at."""
    problems = PageProblems()
    page = await phone(browser, server, problems, "en-US")
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    await page.goto(f"/chat?lang={lang}")
    await expect(page.locator("#line-state")).to_have_text(server.app[WIRING].catalogs.texts(lang)(CLOSED))
    # This Chromium has no Ethiopic font of its own (its Arabic comes from the system's DejaVu Sans, so the
    # shipped Arabic subset stays unused here, as on most phones).
    ethiopic = "loaded" if lang == "ti" else "unloaded"
    await page.wait_for_function(
        f"family => ({FONT_STATUS})(family).join() === '{ethiopic}'", arg="Helpline Ethiopic"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"landing-{lang}.png"))

    icon = await page.locator('link[rel="icon"]').get_attribute("href")
    assert icon is not None
    for url in (icon, "/favicon.ico"):
        answer = await page.request.get(url)
        assert answer.status == 200, url
        assert answer.headers["content-type"].startswith("image/svg+xml")
    assert failed == []
    assert problems.seen == []


async def fonts_of(page: Page, selector: str) -> dict[str, int]:
    """The fonts Chromium really drew a node's text with, and how many glyphs from each."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("DOM.enable")
    await cdp.send("CSS.enable")
    root = (await cdp.send("DOM.getDocument", {"depth": -1}))["root"]["nodeId"]
    node = (await cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector}))["nodeId"]
    used = (await cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node}))["fonts"]
    await cdp.detach()
    return {font["postScriptName"]: font["glyphCount"] for font in used}


async def test_tigrinya_in_the_language_menu_and_on_the_page_is_drawn_not_boxes(
    browser: Browser, server: Server
) -> None:
    """This Chromium has no Ethiopic font: every Ethiopic glyph must come from the shipped one (a glyph
    from any other font is a box). Text laid out before a font arrives keeps its boxes in Chromium, so the
    menu that names Tigrinya waits for the font."""
    problems = PageProblems()
    page = await phone(browser, server, problems, "nb-NO")
    await page.goto("/chat")
    await page.locator("#input").fill("Hei")
    await page.locator("#input").press("Enter")
    tigrinya = language_name("ti")
    button = page.locator("#log button.choice").filter(has_text=tigrinya)
    await expect(button).to_have_count(1)
    await button.evaluate("node => { node.id = 'tigrinya' }")
    assert await fonts_of(page, "#tigrinya") == {"NotoSansEthiopic-Regular": len(tigrinya)}
    await choose(page, tigrinya)
    await expect(page.locator("html")).to_have_attribute("lang", "ti")
    for selector, words in (("#exit", "exit"), ("#send", "send"), ("#intro", "intro")):
        text = server.app[WIRING].webchat.landing.texts("ti")[words]
        ethiopic = sum(1 for ch in text if "\u1200" <= ch <= "\u139f")
        assert (await fonts_of(page, selector)).get("NotoSansEthiopic-Regular") == ethiopic, selector
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "menu-then-ti.png"))
    assert problems.seen == []


async def test_a_closed_conversation_says_so_and_a_message_soon_after_goes_back_to_the_same_member(
    browser: Browser, server: Server
) -> None:
    wiring = server.app[WIRING]
    await wiring.accounts.sign_in(STAFF, PASSWORD, "test")
    problems = PageProblems()
    page = await phone(browser, server, problems, "nb-NO")
    await page.goto("/chat")
    await page.locator("#input").fill("Hei")
    await page.locator("#input").press("Enter")
    for label in (language_name("nb"), "Ja", "Hopp over", "Ferdig", "Hopp over", "Hopp over", "Hopp over"):
        await choose(page, label)
    # The last answer hands the person to the queue once the server has it.
    await expect(page.locator("#log .msg--me.is-pending")).to_have_count(0)
    (waiting,) = await wiring.desk.queue()
    await wiring.desk.claim(waiting.id, STAFF)
    await wiring.desk.close(waiting.id, STAFF, Categorisation())
    log = page.locator("#log")
    await expect(log.locator(".msg--staff").last).to_have_text(wiring.catalogs.texts("nb")(ENDED))
    menus = await log.locator(".choices").count()

    await page.locator("#input").fill("Hallo? Er dere der fortsatt?")
    await page.locator("#input").press("Enter")
    await expect(log.locator(".msg--me").last).not_to_have_class(re.compile("is-pending"))
    (again,) = await wiring.desk.held_by(STAFF)
    assert (again.id, again.status) == (waiting.id, "claimed")
    # No greeting and no language menu again.
    await page.wait_for_timeout(1000)
    assert await log.locator(".choices").count() == menus
    await expect(log.locator(".msg--me").last).to_have_text("Hallo? Er dere der fortsatt?")
    assert problems.seen == []
