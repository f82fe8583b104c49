"""The one client of OpenAI-compatible chat-completions servers (QA generation and the LLM judge), and which of
them the app may call on a user's behalf.

A URL typed into the UI or sent through its API makes the server send a request, so it is checked against
an allow-list the operator sets at launch (`python app.py --allow-endpoint HOST[:PORT]`, kept in
$WORKBENCH_ALLOWED_ENDPOINTS): by default only this machine (loopback addresses and localhost). The command
line's own --generator/--judge URLs are the operator's and are not checked. The client is a small POST with
``requests`` (the ``openai`` package is not a dependency); a server's reply body is never echoed in an error,
as it may repeat a secret. No torch (layer 2).
"""

from __future__ import annotations

import ipaddress
import os
import time
from typing import Any
from urllib.parse import urlsplit

from .errors import UserError

ALLOW_ENV = "WORKBENCH_ALLOWED_ENDPOINTS"


class EndpointNotAllowed(UserError, ValueError):
    """The URL points somewhere the operator has not allowed."""


class EndpointError(UserError, RuntimeError):
    """The server cannot be reached or answered unusably. ``kind`` says which: connect, timeout, http, format."""

    def __init__(self, message: str, kind: str = "http") -> None:
        super().__init__(message)
        self.kind = kind


RETRY_STATUS = (429, 500, 502, 503, 504)


def chat_url(base_url: str) -> str:
    """<base>/v1/chat/completions from a base URL given with or without /v1 (or as the full path)."""
    url = base_url.strip().rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return f"{url}/chat/completions" if url.endswith("/v1") else f"{url}/v1/chat/completions"


def chat_completion(base_url: str, body: dict[str, Any], *, api_key: str = "", timeout: float = 120.0,
                    retries: int = 0, key_hint: str = "") -> str:
    """The text of one chat completion. Timeouts and busy answers (429, 5xx) are tried again ``retries`` times,
    with a growing pause; ``key_hint`` says where the API key comes from, for a refused request."""
    import requests

    url = chat_url(base_url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    for attempt in range(retries + 1):
        try:
            reply = requests.post(url, json=body, headers=headers, timeout=timeout)
        except requests.Timeout:
            if attempt < retries:
                continue
            raise EndpointError(f"{url} did not answer within {timeout:.0f} s", "timeout") from None
        except requests.RequestException:
            raise EndpointError(f"cannot connect to {url}: is the server running and the URL right?",
                                "connect") from None
        if reply.status_code in RETRY_STATUS and attempt < retries:
            time.sleep(0.5 * 2**attempt)
            continue
        return _reply_text(reply, url, key_hint)
    raise EndpointError(f"{url} kept failing after {retries + 1} tries")


def _reply_text(reply: Any, url: str, key_hint: str) -> str:
    if reply.status_code in (401, 403):
        raise EndpointError(f"{url} refused the request (HTTP {reply.status_code}): check the API key"
                            + (f" ({key_hint})" if key_hint else ""))
    if reply.status_code == 404:
        raise EndpointError(f"{url} does not exist (HTTP 404): the base URL usually ends with /v1")
    if reply.status_code >= 400:
        raise EndpointError(f"{url} answered HTTP {reply.status_code}")
    try:
        return str(reply.json()["choices"][0]["message"]["content"] or "")
    except (ValueError, KeyError, IndexError, TypeError):
        raise EndpointError(f"{url} did not answer like an OpenAI chat completion ({len(reply.content)} bytes of "
                            f"{reply.headers.get('content-type', 'unknown type')})", "format") from None


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
