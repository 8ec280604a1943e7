"""Host names and addresses: what is loopback, what is a well-formed name, what a Host says."""

from __future__ import annotations

import ipaddress

_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::", "[::]"})


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """A bind address meaning 'every interface', which names no host."""
    return host in _WILDCARD_ADDRESSES


def is_host_name(name: str) -> bool:
    """A DNS name (letters, digits, '-', '_', dots) or an IP address (IPv6 bracketed or not)."""
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        pass
    labels = name.lower().split(".")
    return all(0 < len(label) <= 63 and set(label) <= _NAME_CHARACTERS for label in labels)


def split_host_header(value: str) -> tuple[str, int | None] | None:
    """The name (lower case, IPv6 without brackets) and port of a Host header; None if malformed."""
    if value.startswith("["):
        end = value.find("]")
        name, rest = value[1:end], value[end + 1 :]
        if end < 0 or not _is_ipv6(name):
            return None
    elif value.count(":") > 1:
        return None  # an IPv6 address must be bracketed
    else:
        name, colon, port_text = value.partition(":")
        rest = colon + port_text
    port: int | None = None
    if rest:
        digits = rest.removeprefix(":")
        if (
            not rest.startswith(":")
            or not (digits.isascii() and digits.isdigit())
            or len(digits) > 5
        ):
            return None
        port = int(digits)
        if not 0 < port <= 65535:
            return None
    name = name.lower().removesuffix(".")
    if not name or not is_host_name(name):
        return None
    return name, port


def _is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False
