"""Logins for the web server: user:password lines from $WORKBENCH_AUTH, a file, or the command line.

Layer 1 (standard library only): the UI's launcher calls it; nothing here knows about Gradio.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UserError

AUTH_ENV = "WORKBENCH_AUTH"


class LoginError(UserError, ValueError):
    """A login line that is not user:password, or a login file that cannot be read."""


def read_logins(auth: str | None = None, auth_file: str | Path | None = None) -> list[tuple[str, str]] | None:
    """Logins from $WORKBENCH_AUTH (several separated by newlines), ``auth_file`` (one user:pass per line;
    # comments) and ``auth`` (one user:pass); None when there are none."""
    lines = os.environ.get(AUTH_ENV, "").splitlines()
    if auth:
        lines.append(auth)
    if auth_file:
        try:
            lines += Path(auth_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise LoginError(f"cannot read the login file {auth_file}: {exc}") from exc
    return [_login(line) for line in (x.strip() for x in lines) if line and not line.startswith("#")] or None


def _login(line: str) -> tuple[str, str]:
    user, sep, password = line.partition(":")
    if not sep or not user or not password:
        raise LoginError(f"login {line.split(':')[0]!r}: write it as user:password")
    return user, password
