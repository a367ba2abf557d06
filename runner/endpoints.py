"""Endpoints from the environment: https everywhere except this machine.

The IBM Quantum client sends the API key and bearer tokens, and the COS client signed
requests and IAM tokens, to whatever URL it is given; over plain http they cross the
network in clear. Plain http stays allowed for loopback hosts (local emulators, tests).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from runner.errors import QrunError


def is_loopback(host: str | None) -> bool:
    """localhost or a loopback IP literal; names are not resolved (DNS could lie)."""
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_url(var: str, url: str, error: type[QrunError] = QrunError, example: str = "") -> str:
    """url if it is https (or http to a loopback host); else an error naming the variable."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        parts, host = urlsplit(""), None
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and is_loopback(host):
        return url
    hint = f" (e.g. {example})" if example else ""
    if parts.scheme == "http":
        raise error(
            f"{var} must start with https:// for {host} (got {url!r}): plain http "
            f"would send credentials in clear; use the https URL{hint}"
        )
    raise error(f"{var} must start with https:// (got {url!r}){hint}")
