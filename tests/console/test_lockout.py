"""Lock-out is no weapon: failures from one client never keep a colleague at another address out; only a
guess spread over many clients meets the slower limit per name. Behind our proxy (127.0.0.1 here), each
X-Forwarded-For address is a client."""

from __future__ import annotations

import pytest

from tests.console.conftest import Console, MakeConsole

ATTACKER, ANNAS_PC = "203.0.113.5", "198.51.100.9"


def at(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


@pytest.fixture
async def proxied(make_console: MakeConsole) -> Console:
    return await make_console(HELPLINE_TRUSTED_PROXIES="127.0.0.1")


async def test_failures_from_one_client_never_block_the_right_password_from_another(proxied: Console) -> None:
    anna = await proxied.staff("anna")
    for _ in range(5):
        assert (await anna.login("not the password", at(ATTACKER))).status == 401
    # The attacker is stopped, whatever they try next, the right password included.
    assert (await anna.login("not the password", at(ATTACKER))).status == 429
    assert (await anna.login(headers=at(ATTACKER))).status == 429
    # Anna at her own desk signs in.
    assert (await anna.login(headers=at(ANNAS_PC))).status == 303


async def test_one_client_guessing_all_day_never_reaches_the_limit_per_name(proxied: Console) -> None:
    anna = await proxied.staff("anna")
    for _ in range(12):  # three hours, every window spent and then some
        for _ in range(5):
            assert (await anna.login("not the password", at(ATTACKER))).status == 401
        for _ in range(20):
            assert (await anna.login("not the password", at(ATTACKER))).status == 429
        assert (await anna.login(headers=at(ANNAS_PC))).status == 303
        proxied.clock.advance(minutes=15, seconds=1)


async def test_a_guess_spread_over_many_clients_meets_the_slower_limit_per_name(proxied: Console) -> None:
    anna = await proxied.staff("anna")
    accounts = proxied.wiring.accounts
    for n in range(accounts.name_max_failures):
        address = f"203.0.113.{n // accounts.max_failures}"
        assert (await anna.login("not the password", at(address))).status == 401
    assert (await anna.login(headers=at(ANNAS_PC))).status == 429
    # Another name is untouched, and the limit passes with its window.
    bjorn = await proxied.staff("bjorn")
    assert (await bjorn.login(headers=at(ANNAS_PC))).status == 303
    proxied.clock.advance(hours=1, seconds=1)
    assert (await anna.login(headers=at(ANNAS_PC))).status == 303
