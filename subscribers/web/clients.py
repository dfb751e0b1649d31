"""Who is asking: the client address behind trusted proxies, and the key it is rate-limited under.

X-Forwarded-For is a list anyone can write to; only the entries our own proxies
appended are true. So it is read only when the connection comes from a proxy named
in PAPERPOST_TRUSTED_PROXIES, from the right: the first address that is not one of
ours is the client. Everything else (a header sent straight to us, a spoofed
left-hand entry) is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def networks(names: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(name, strict=False) for name in names)


def _address(text: str) -> Address | None:
    """An IP address from a peer or an X-Forwarded-For entry (`1.2.3.4`, `1.2.3.4:5`, `[::1]:5`), or None."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def client_address(peer: str | None, forwarded: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address: the peer, or, behind a trusted proxy, the right-most forwarded address not ours."""
    peer_address = _address(peer or "")
    if peer_address is None:  # not an IP (a unix socket, a test client): never a proxy of ours
        return (peer or "unknown")[:64]
    if not _ours(peer_address, trusted):
        return str(peer_address)
    hops = [hop for header in forwarded for hop in header.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return "unknown"  # a proxy of ours wrote nonsense: one shared key, not one per spoofed string
        if not _ours(address, trusted):
            return str(address)
    return str(peer_address)  # every hop is ours: the request comes from our own network


def limit_key(address: str) -> str:
    """The rate-limit key of an address: IPv6 by its /64 (one household or server gets a whole /64)."""
    found = _address(address)
    if isinstance(found, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{found}/64", strict=False))
    return address


def _ours(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address in network for network in trusted)
