"""The client address behind (or without) our proxies: no header is believed unless its sender is trusted."""

from __future__ import annotations

from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from bots.client_address import ClientAddresses, parse_trusted_proxies
from intake.config import ConfigError

PROXIES = parse_trusted_proxies("10.0.0.0/8, 192.0.2.7, ::1")


def request(peer: str | None, *forwarded: str) -> object:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 50000) if name == "peername" and peer is not None else default
    )
    headers = CIMultiDict([("X-Forwarded-For", value) for value in forwarded])
    return make_mocked_request("GET", "/chat", headers=headers, transport=transport)


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # No trusted proxy in the way: the header is the client's own word and counts for nothing.
        ("203.0.113.5", ("198.51.100.1",), "203.0.113.5"),
        # Our proxy: the address it appended, not what the client wrote to the left of it.
        ("10.1.2.3", ("6.6.6.6, 203.0.113.5",), "203.0.113.5"),
        # Two of our proxies in a row: the right-most address that is not ours.
        ("10.1.2.3", ("6.6.6.6, 203.0.113.5, 192.0.2.7",), "203.0.113.5"),
        # Several headers are one list, in order.
        ("10.1.2.3", ("6.6.6.6", "203.0.113.5"), "203.0.113.5"),
        # Our proxy but no header (a health check from inside): the proxy itself.
        ("10.1.2.3", (), "10.1.2.3"),
        # Garbage where our proxy would have written an address: the nearest proxy, never the garbage.
        ("10.1.2.3", ("203.0.113.5, not-an-address",), "10.1.2.3"),
        ("10.1.2.3", ("[2001:db8::5]:443",), "2001:db8::5"),
        ("::ffff:203.0.113.5", (), "203.0.113.5"),
        ("::1", ("2001:db8::5",), "2001:db8::5"),
        (None, ("203.0.113.5",), "unknown"),
    ],
)
def test_the_client_is_the_right_most_address_not_of_our_proxies(
    peer: str | None, forwarded: tuple[str, ...], client: str
) -> None:
    assert ClientAddresses(PROXIES).of(request(peer, *forwarded)) == client  # type: ignore[arg-type]


def test_by_default_no_proxy_is_trusted_so_no_header_is_believed() -> None:
    assert parse_trusted_proxies("") == ()
    clients = ClientAddresses(parse_trusted_proxies(""))
    assert clients.of(request("10.1.2.3", "203.0.113.5")) == "10.1.2.3"  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.example", "10.0.0.1,,x"])
def test_a_bad_trusted_proxy_setting_is_refused_with_its_name(value: str) -> None:
    with pytest.raises(ConfigError, match="HELPLINE_TRUSTED_PROXIES"):
        parse_trusted_proxies(value)
