"""Which network addresses a source may reach: the guard against server-side request forgery.

Three kinds of address, decided on the resolved IP (never on the host name):
- forbidden, always: link-local (169.254.0.0/16, fe80::/10, where clouds keep their
  metadata service), the other cloud metadata addresses, and anything that is not a
  unicast address; IPv4 written inside IPv6 (`::ffff:169.254.169.254`, NAT64, 6to4)
  is judged by the IPv4 address it carries;
- local: loopback, private, shared and other non-global ranges; reachable only on the
  host the operator typed (a self-hosted feed, the tests, the demo), never through a
  redirect from another host;
- public: everything else.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Literal

__all__ = ["Reach", "IPAddress", "AddressRefused", "Resolver", "classify", "ip_literal", "system_resolve",
           "checked_addresses"]

Reach = Literal["public", "local", "forbidden"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# Metadata services outside 169.254.0.0/16: Alibaba Cloud, AWS over IPv6, Azure's wire server.
_METADATA = frozenset(ipaddress.ip_address(a) for a in ("100.100.100.200", "fd00:ec2::254", "168.63.129.16"))
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_V4_COMPATIBLE = ipaddress.ip_network("::/96")  # the deprecated ::a.b.c.d form


class AddressRefused(Exception):
    """A URL's host resolves to an address a source may not reach; the message says which and why."""


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in _NAT64) or (address in _V4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def classify(address: IPAddress) -> tuple[Reach, str]:
    """Return the kind of `address` and a few words that name it (for the error sentence)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_v4(address)
        if inner is not None:
            reach, what = classify(inner)
            return reach, f"{what} written as IPv6"
    if address in _METADATA:
        return "forbidden", "a cloud metadata address"
    if address.is_link_local:
        return "forbidden", "a link-local address (where cloud metadata services live)"
    if address.is_multicast or (isinstance(address, ipaddress.IPv4Address) and address.is_reserved):
        return "forbidden", "not a unicast address"
    if address.is_loopback or address.is_unspecified:
        return "local", "a loopback address"
    if address.is_private or not address.is_global:
        return "local", "a private address"
    return "public", "a public address"


def system_resolve(host: str, port: int) -> list[str]:
    """Return the addresses the system resolver gives for `host`, in its order, each once."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def ip_literal(host: str) -> IPAddress | None:
    """Return the IP address a URL host is written as (`[::1]`, `127.0.0.1`), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]").rstrip("."))  # a trailing dot is still the address
    except ValueError:
        return None


def checked_addresses(host: str, port: int, *, allow_local: bool, resolve: Resolver) -> list[IPAddress]:
    """Resolve `host` once and return its addresses when every one of them may be reached.

    Raises AddressRefused when any address is forbidden, or local while `allow_local`
    is False; the caller connects to the returned addresses only, so a second DNS
    answer (rebinding) can never swap in another one.
    """
    literal = ip_literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise AddressRefused(f"could not resolve {host} ({exc}); check the host name") from exc
        addresses = [a for a in (ip_literal(text.split("%")[0]) for text in found) if a is not None]
        if not addresses:
            raise AddressRefused(f"could not resolve {host}; check the host name")
    for address in addresses:
        reach, what = classify(address)
        if reach == "forbidden":
            raise AddressRefused(f"{host} resolves to {address}, {what}, which sources may never reach")
        if reach == "local" and not allow_local:
            raise AddressRefused(f"{host} resolves to {address}, {what}, which only the host of a source's own "
                                 "URL may be (not a redirect from another host)")
    return addresses
