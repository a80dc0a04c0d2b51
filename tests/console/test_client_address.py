"""The sign-in limit counts the client behind our proxy (HELPLINE_TRUSTED_PROXIES), never a header's word."""

from __future__ import annotations

from tests.console.conftest import MakeConsole
from tests.console.staff_client import Staff


def client(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def test_behind_a_trusted_proxy_each_client_is_counted_apart(make_console: MakeConsole) -> None:
    # The test client connects from 127.0.0.1: here, our proxy.
    console = await make_console(HELPLINE_TRUSTED_PROXIES="127.0.0.1")
    anna, bjorn = await console.staff("anna"), await console.staff("bjorn")
    for _ in range(5):
        assert (await anna.login("not the password", client("203.0.113.5"))).status == 401
    # A colleague at another address behind the same proxy is not the client who failed.
    assert (await bjorn.login(headers=client("198.51.100.9"))).status == 303


async def test_without_trusted_proxies_a_forwarded_header_is_not_believed(make_console: MakeConsole) -> None:
    console = await make_console()
    anna = await console.staff("anna")
    await console.staff("bjorn")
    # Five failures, each claiming another address: they all come from this one peer.
    for n in range(5):
        assert (await anna.login("not the password", client(f"203.0.113.{n}"))).status == 401
    assert (await Staff(console.client, "anna").login(headers=client("198.51.100.9"))).status == 429
