"""The addresses `make run` prints (mvcontrol/management/addresses.py, issue 23).

`make run HOST=0.0.0.0` used to print http://0.0.0.0:8000/, which no other PC can open. The
machine's own addresses differ from one machine to the next: the tests hand demo_urls() the
addresses, and check what local_ipv4_addresses() finds here by what holds on any machine (each
one is an address this machine can bind, none is loopback).
"""

from __future__ import annotations

import ipaddress
import socket
import sys

import pytest

from mvcontrol.management.addresses import (
    demo_urls,
    interface_address,
    local_ipv4_addresses,
    url_host,
)


@pytest.mark.parametrize("wildcard", ["0.0.0.0", "::", "[::]"])
def test_a_wildcard_host_prints_each_lan_address_then_loopback(wildcard):
    found = demo_urls(wildcard, 8000, addresses=[
        "192.168.1.20", "10.0.0.5", "127.0.0.1", "127.0.1.1", "0.0.0.0", "192.168.1.20",
        "fe80::1", "not an address"])
    assert found == ["http://10.0.0.5:8000/", "http://192.168.1.20:8000/",
                     "http://127.0.0.1:8000/"]


def test_addresses_are_in_numeric_order():
    found = demo_urls("0.0.0.0", 80, addresses=["10.0.0.10", "10.0.0.9", "9.0.0.1"])
    assert found == ["http://9.0.0.1:80/", "http://10.0.0.9:80/", "http://10.0.0.10:80/",
                     "http://127.0.0.1:80/"]


def test_a_machine_without_network_prints_loopback():
    assert demo_urls("0.0.0.0", 8000, addresses=[]) == ["http://127.0.0.1:8000/"]


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:8080/"),
    ("192.168.1.20", "http://192.168.1.20:8080/"),
    ("demo-pc.local", "http://demo-pc.local:8080/"),
    ("::1", "http://[::1]:8080/"),
    ("[::1]", "http://[::1]:8080/"),
])
def test_a_named_host_prints_just_that(host, url):
    assert demo_urls(host, 8080, addresses=["10.0.0.5"]) == [url]


def test_url_host_brackets_ipv6_only():
    assert url_host("::") == "[::]"
    assert url_host("fe80::1") == "[fe80::1]"
    assert url_host("10.0.0.5") == "10.0.0.5"
    assert url_host("[::1]") == "[::1]"


def test_the_machines_own_addresses():
    found = local_ipv4_addresses()
    assert found == sorted(set(found), key=ipaddress.IPv4Address)
    for text in found:
        address = ipaddress.IPv4Address(text)
        assert not address.is_loopback and not address.is_unspecified
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((text, 0))  # only an address of this machine can be bound
    assert demo_urls("0.0.0.0", 8000) == [
        *(f"http://{text}:8000/" for text in found), "http://127.0.0.1:8000/"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="interfaces are read on Linux")
def test_the_loopback_interface_reads_as_127_0_0_1():
    loopback = next((name for _index, name in socket.if_nameindex() if name == "lo"), None)
    if loopback is None:
        pytest.skip("no interface named lo here")
    assert interface_address(loopback) == "127.0.0.1"
    assert interface_address("no-such-interface") is None
