"""Which OpenAI-compatible endpoints the app may call on a user's behalf.

A URL typed into the UI or sent through its API makes the server send a request, so it is checked against
an allow-list the operator sets at launch (`python app.py --allow-endpoint HOST[:PORT]`, kept in
$WORKBENCH_ALLOWED_ENDPOINTS): by default only this machine (loopback addresses and localhost). The command
line's own --generator/--judge URLs are the operator's and are not checked. Standard library only.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

ALLOW_ENV = "WORKBENCH_ALLOWED_ENDPOINTS"


class EndpointNotAllowed(ValueError):
    """The URL points somewhere the operator has not allowed."""


def allowed_entries() -> list[str]:
    """host or host:port entries the operator allowed besides loopback ("*" allows every host)."""
    return [e.strip().lower() for e in os.environ.get(ALLOW_ENV, "").split(",") if e.strip()]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """``url`` unchanged when the app may call it; EndpointNotAllowed (with what to do) otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointNotAllowed(f"{url!r} is not an http(s) URL with a host")
    host = parts.hostname.lower()
    entries = allowed_entries()
    port = f"{host}:{parts.port}" if parts.port else host
    if _is_loopback(host) or "*" in entries or host in entries or port in entries:
        return url
    raise EndpointNotAllowed(f"the endpoint host {host} is not allowed here: this server calls only this machine "
                             f"unless its operator starts it with --allow-endpoint {port}")
