"""Who is on the other end of a request: the one helper every per-client limit uses.

The address is the TCP peer's, unless that peer is one of our own proxies (`HELPLINE_TRUSTED_PROXIES`): then
it is the right-most address in X-Forwarded-For that is not one of our proxies. Everything to the left of
that was written by the client and is never believed; with no trusted proxies configured, no header is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from aiohttp import web

from intake.config import ConfigError

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address
UNKNOWN = "unknown"


def parse_trusted_proxies(value: str) -> tuple[Network, ...]:
    """`HELPLINE_TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges; empty means none."""
    networks = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(
                f"HELPLINE_TRUSTED_PROXIES: {part!r} is not an address or a CIDR range (e.g. 10.0.0.0/8)"
            ) from None
    return tuple(networks)


def _address(value: str) -> Address | None:
    value = value.strip()
    # "[2001:db8::1]:443" and "192.0.2.1:443" are how some proxies write a peer with its port.
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        address = ip_address(value)
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket is the same client.
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class ClientAddresses:
    trusted: Sequence[Network] = ()

    def _is_trusted(self, address: Address) -> bool:
        return any(address in network for network in self.trusted)

    def of(self, request: web.Request) -> str:
        peer = _address(request.remote or "")
        if peer is None:
            return UNKNOWN
        if not self._is_trusted(peer):
            return str(peer)
        hops = [hop for header in request.headers.getall("X-Forwarded-For", []) for hop in header.split(",")]
        nearest = peer
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                # Garbage where a proxy of ours would have written an address: only the client writes
                # that, so the nearest proxy is all that is known of where the request came from.
                return str(nearest)
            if not self._is_trusted(address):
                return str(address)
            nearest = address
        return str(nearest)
