"""Which address the sign-in throttle counts against, behind trusted reverse proxies or not."""

from __future__ import annotations

import pytest

from workers.config import settings
from workers.net.client_address import client_address, parse_networks

PROXIES = parse_networks("127.0.0.1, 10.0.0.0/8, ::1")


def test_without_trusted_proxies_the_peer_is_the_client():
    assert client_address("127.0.0.1", "203.0.113.9", ()) == "127.0.0.1"


def test_an_untrusted_peer_cannot_choose_its_address_with_the_header():
    assert client_address("198.51.100.7", "203.0.113.9", PROXIES) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_address_it_saw_is_the_client():
    assert client_address("127.0.0.1", "203.0.113.9", PROXIES) == "203.0.113.9"
    assert client_address("::ffff:127.0.0.1", "203.0.113.9", PROXIES) == "203.0.113.9"  # dual-stack socket


def test_entries_a_client_forged_left_of_the_proxy_are_ignored():
    # The client sent "X-Forwarded-For: 1.1.1.1"; nginx appended the address it saw.
    assert client_address("127.0.0.1", "1.1.1.1, 203.0.113.9", PROXIES) == "203.0.113.9"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right():
    assert client_address("127.0.0.1", "1.1.1.1, 203.0.113.9, 10.1.2.3", PROXIES) == "203.0.113.9"


def test_a_request_that_started_on_a_proxy_host_is_that_host():
    assert client_address("127.0.0.1", "10.1.2.3, 127.0.0.1", PROXIES) == "10.1.2.3"
    assert client_address("127.0.0.1", "", PROXIES) == "127.0.0.1"


def test_the_setting_is_parsed_and_refused_when_malformed(monkeypatch):
    monkeypatch.setenv("WEBBUILDER_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    assert settings().trusted_proxies == parse_networks("127.0.0.1/32,10.0.0.0/8")
    monkeypatch.setenv("WEBBUILDER_TRUSTED_PROXIES", "nginx.local")
    with pytest.raises(SystemExit, match="WEBBUILDER_TRUSTED_PROXIES must be IP addresses or CIDR ranges"):
        settings()
    monkeypatch.delenv("WEBBUILDER_TRUSTED_PROXIES")
    assert settings().trusted_proxies == ()
