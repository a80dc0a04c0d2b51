"""Signing in and out of the console: the cookie, the rate limit, session time-outs and disabled accounts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bots.console.auth import BACKGROUND_HEADER
from intake.storage.models import AuditRow, StaffSessionRow
from tests.conftest import TEST_SECRET_KEY
from tests.console.conftest import Console, MakeConsole
from tests.console.staff_client import Staff, session_cookie
from tests.integration.conftest import fetch


async def test_sign_in_sets_a_strict_http_only_cookie_and_leads_to_the_console(console: Console) -> None:
    anna = await console.staff("anna")
    response = await anna.login()
    assert response.status == 303
    assert response.headers["Location"] == "/staff"
    cookie = session_cookie(response)
    assert cookie.key == "helpline_staff"
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    # A session cookie: the browser forgets it when it closes (the server ends the session after 12 hours).
    assert cookie["max-age"] == ""
    assert cookie["expires"] == ""
    # Over plain http (development) a Secure cookie would never come back.
    assert not cookie["secure"]
    assert len(cookie.value) >= 32

    anna.cookie_name, anna.token = cookie.key, cookie.value
    assert (await anna.read("queue"))["staff"] == "anna"


async def test_with_an_https_public_url_the_cookie_is_secure_and_host_only(make_console: MakeConsole) -> None:
    console = await make_console(
        HELPLINE_PUBLIC_URL="https://helpline.example", HELPLINE_SECRET_KEY=TEST_SECRET_KEY
    )
    anna = await console.staff("anna")
    response = await anna.login()
    assert response.status == 303
    cookie = session_cookie(response)
    # __Host-: Secure, Path=/ and no Domain, so no other host (a subdomain) can set or read it.
    assert cookie.key == "__Host-helpline_staff"
    assert cookie["secure"] is True
    assert cookie["path"] == "/"
    assert cookie["domain"] == ""
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert (cookie["max-age"], cookie["expires"]) == ("", "")

    anna.cookie_name, anna.token = cookie.key, cookie.value
    assert (await anna.get("queue")).status == 200
    # The same token under the plain name is not a session: only the __Host- cookie counts.
    anna.cookie_name = "helpline_staff"
    assert (await anna.get("queue")).status == 401


async def test_every_sign_in_gets_a_new_token_and_ignores_a_planted_one(console: Console) -> None:
    anna = await console.staff("anna")
    first = session_cookie(await anna.login()).value
    second = session_cookie(await anna.login()).value
    assert first != second
    # Someone who planted a cookie before the sign-in (session fixation) gets nothing from it.
    planted = "planted-by-someone-else-000000000000000000"
    response = await anna.login(headers={"Cookie": f"helpline_staff={planted}"})
    assert response.status == 303
    assert session_cookie(response).value not in (planted, first, second)
    anna.cookie_name = "helpline_staff"
    for token in (first, second, session_cookie(response).value):
        anna.token = token
        assert (await anna.get("queue")).status == 200
    anna.token = planted
    assert (await anna.get("queue")).status == 401
    # Only a hash of each token is stored.
    stored = {row.token_hash for row in await fetch(console.wiring.db, select(StaffSessionRow))}
    assert len(stored) == 3
    assert not stored & {first, second, planted}


async def test_sign_in_writes_the_audit_log(console: Console) -> None:
    await console.signed_in("anna")
    rows = await fetch(console.wiring.db, select(AuditRow))
    assert [(r.staff_name, r.action, r.conversation_id) for r in rows] == [("anna", "sign_in", None)]


@pytest.mark.parametrize(
    ("name", "password"),
    [("anna", "not the password"), ("nobody", "correct horse battery"), ("ANNA", "correct horse battery")],
    ids=["wrong-password", "unknown-name", "other-case"],
)
async def test_wrong_name_or_password_is_401_without_a_cookie(
    console: Console, name: str, password: str
) -> None:
    await console.staff("anna")
    response = await Staff(console.client, name).login(password, {"Accept-Language": "en"})
    assert response.status == 401
    assert "Set-Cookie" not in response.headers
    # The same words whatever was wrong: the page never tells whether the name exists.
    assert "Wrong name or password." in await response.text()
    assert await fetch(console.wiring.db, select(StaffSessionRow)) == []


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"password": "x" * 12},
        {"name": "", "password": "x" * 12},
        {"name": "anna", "password": "x" * 1025},
    ],
    ids=["empty", "no-name", "empty-name", "password-too-long"],
)
async def test_incomplete_or_oversized_sign_in_form_is_400(console: Console, form: dict[str, str]) -> None:
    await console.staff("anna")
    response = await console.client.post("/staff/login", data=form, allow_redirects=False)
    assert response.status == 400
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example"},
        {"Referer": "https://evil.example/x"},
    ],
    ids=["fetch-site", "origin", "referer"],
)
async def test_a_sign_in_posted_from_another_site_is_refused(
    console: Console, headers: dict[str, str]
) -> None:
    anna = await console.staff("anna")
    response = await anna.login(headers=headers)
    assert response.status == 403
    assert "error" in await response.json()
    assert "Set-Cookie" not in response.headers


async def test_after_five_failures_sign_in_is_429_until_the_window_passes(console: Console) -> None:
    anna = await console.staff("anna")
    for _ in range(5):
        assert (await anna.login("not the password")).status == 401
    # The right password does not help now: the limit holds whatever is tried.
    limited = await anna.login()
    assert limited.status == 429
    assert "Set-Cookie" not in limited.headers
    # The limit is per name and client: a colleague at this same address is not locked out by it.
    await console.staff("bjorn")
    assert (await Staff(console.client, "bjorn").login()).status == 303

    console.clock.advance(minutes=16)
    assert (await anna.login()).status == 303


async def test_four_failures_do_not_lock_anyone_out(console: Console) -> None:
    anna = await console.staff("anna")
    for _ in range(4):
        assert (await anna.login("not the password")).status == 401
    assert (await anna.login()).status == 303


async def test_sign_out_ends_the_session_on_the_server(console: Console) -> None:
    anna = await console.signed_in("anna")
    response = await anna.sign_out()
    assert response.status == 303
    assert response.headers["Location"] == "/staff/login"
    cleared = session_cookie(response)
    assert (cleared.key, cleared.value) == ("helpline_staff", "")
    # A copy of the old cookie kept elsewhere is worthless now.
    assert (await anna.get("queue")).status == 401
    assert await fetch(console.wiring.db, select(StaffSessionRow)) == []
    actions = [r.action for r in await fetch(console.wiring.db, select(AuditRow).order_by(AuditRow.id))]
    assert actions == ["sign_in", "sign_out"]


async def test_sign_out_needs_the_csrf_token(console: Console) -> None:
    anna = await console.signed_in("anna")
    for form in ({}, {"csrf_token": "wrong"}):
        response = await console.client.post(
            "/staff/logout", data=form, headers=anna.cookies(), allow_redirects=False
        )
        assert response.status == 403
    assert (await anna.get("queue")).status == 200


async def test_signed_out_pages_send_the_browser_to_sign_in(console: Console) -> None:
    for method, path in (("GET", "/staff"), ("POST", "/staff/logout")):
        response = await console.client.request(method, path, allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"] == "/staff/login"


async def test_idle_for_more_than_30_minutes_ends_the_session(console: Console) -> None:
    anna = await console.signed_in("anna")
    # Each request counts as activity: two long pauses in a row with a request between them are fine.
    for _ in range(2):
        console.clock.advance(minutes=29)
        assert (await anna.get("queue")).status == 200
    console.clock.advance(minutes=30, seconds=1)
    assert (await anna.get("queue")).status == 401
    # Ended for good: the row is gone, not just refused once.
    console.clock.advance(minutes=-30)
    assert (await anna.get("queue")).status == 401


async def test_the_pages_own_refreshes_do_not_keep_an_idle_console_signed_in(console: Console) -> None:
    """A console left open on an empty desk: its timed refreshes are not activity, so it times out, and
    the line stops counting as staffed (nobody is promised an answer that nobody will give)."""
    anna = await console.signed_in("anna")
    background = {**anna.cookies(), BACKGROUND_HEADER: "1"}
    for _ in range(2):
        console.clock.advance(minutes=12)
        assert (await console.client.get("/staff/api/queue", headers=background)).status == 200
        assert await console.wiring.accounts.anyone_signed_in()
    console.clock.advance(minutes=7)  # 31 minutes since anna last did anything
    assert not await console.wiring.accounts.anyone_signed_in()
    assert (await console.client.get("/staff/api/queue", headers=background)).status == 401
    # Without the mark, the same request is activity (see the test above): it is the page that marks.
    bob = await console.signed_in("bob")
    console.clock.advance(minutes=20)
    assert (await bob.get("queue")).status == 200
    console.clock.advance(minutes=20)
    assert (await bob.get("queue")).status == 200


async def test_the_streams_session_checks_are_not_activity(console: Console) -> None:
    anna = await console.signed_in("anna")
    token = anna.token
    console.clock.advance(minutes=29)
    assert await console.wiring.accounts.session(token, touch=False) is not None
    console.clock.advance(minutes=2)
    assert await console.wiring.accounts.session(token, touch=False) is None


async def test_twelve_hours_after_sign_in_the_session_ends_however_active(console: Console) -> None:
    anna = await console.signed_in("anna")
    for _ in range(28):  # 11 h 40 min of steady work
        console.clock.advance(minutes=25)
        assert (await anna.get("queue")).status == 200
    console.clock.advance(minutes=20)
    assert (await anna.get("queue")).status == 401


async def test_disabling_a_member_ends_their_sessions(console: Console) -> None:
    anna = await console.signed_in("anna")
    other_tab = await Staff(console.client, "anna").sign_in()
    bjorn = await console.signed_in("bjorn")
    assert await console.wiring.accounts.set_disabled("anna")
    for session in (anna, other_tab):
        assert (await session.get("queue")).status == 401
    assert (await bjorn.get("queue")).status == 200
    # A disabled member cannot sign in again, and re-enabling does not bring the old sessions back.
    assert (await anna.login()).status == 401
    assert await console.wiring.accounts.set_disabled("anna", disabled=False)
    assert (await anna.get("queue")).status == 401
    assert (await Staff(console.client, "anna").sign_in()).token != anna.token
