"""Where the demo can be opened: the addresses `make run` prints.

Bound to a wildcard address (`make run HOST=0.0.0.0`) the web server answers on every address of
the machine, and http://0.0.0.0:8000/ is no address another PC can open: the demo prints the
machine's own IPv4 addresses instead. Standard library only, from three places, since none sees
everything everywhere: the network interfaces (Linux), what the host name resolves to, and the
address the machine sends from on its default route.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
from collections.abc import Iterable

# What gunicorn (and the demo's --host) takes to mean "every address of this machine".
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "[::]", ""})  # noqa: S104 - recognised, not bound
LOOPBACK = "127.0.0.1"
# Linux's ioctl that reads an interface's IPv4 address; struct ifreq: a 16-byte name, then a
# sockaddr_in (family, port, address): the address sits at bytes 20-24.
SIOCGIFADDR = 0x8915
# Any routable address outside the machine (TEST-NET-1, RFC 5737): connecting a UDP socket to it
# sends nothing, it only makes the kernel pick the route and the source address.
ROUTE_PROBE = ("192.0.2.1", 9)


def demo_urls(host: str, port: int, *, addresses: Iterable[str] | None = None) -> list[str]:
    """The URLs to open the demo at: for a wildcard `host`, one per address of this machine
    (`addresses`, by default local_ipv4_addresses()), the LAN ones first, then loopback; else
    the one `host` names."""
    if host not in WILDCARD_HOSTS:
        return [f"http://{url_host(host)}:{port}/"]
    found = local_ipv4_addresses() if addresses is None else _lan_only(addresses)
    return [f"http://{address}:{port}/" for address in [*found, LOOPBACK]]


def url_host(host: str) -> str:
    """`host` as it goes in a URL (an IPv6 address in brackets)."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def local_ipv4_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback, in numeric order, each once; empty on
    a machine with no network."""
    return _lan_only([*_interface_addresses(), *_host_name_addresses(), *_route_address()])


def interface_address(name: str) -> str | None:
    """The IPv4 address of the network interface `name` (Linux), or None when it has none or
    this system cannot tell."""
    if not sys.platform.startswith("linux"):
        return None
    import fcntl

    request = struct.pack("256s", name.encode()[:15])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            answer = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)
        except OSError:  # no IPv4 address on this interface, or it is down
            return None
    return socket.inet_ntoa(answer[20:24])


def _interface_addresses() -> list[str]:
    if not hasattr(socket, "if_nameindex"):
        return []
    try:
        names = [name for _index, name in socket.if_nameindex()]
    except OSError:
        return []
    return [address for name in names if (address := interface_address(name))]


def _host_name_addresses() -> list[str]:
    try:
        found = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:  # the host name does not resolve (no entry in /etc/hosts, no DNS)
        return []
    return [sockaddr[0] for *_rest, sockaddr in found]


def _route_address() -> list[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(ROUTE_PROBE)
        except OSError:  # no default route
            return []
        return [probe.getsockname()[0]]


def _lan_only(addresses: Iterable[str]) -> list[str]:
    """The IPv4 addresses among `addresses` that another machine could reach, sorted, each once
    (no loopback, no 0.0.0.0; anything that is not an IPv4 address is left out)."""
    kept = set()
    for text in addresses:
        try:
            address = ipaddress.IPv4Address(text)
        except ValueError:
            continue
        if not (address.is_loopback or address.is_unspecified):
            kept.add(address)
    return [str(address) for address in sorted(kept)]
