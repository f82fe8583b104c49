"""The base of every error a person can act on (bad input, a missing file, a busy run).

The CLI prints such an error as one ``error:`` line with exit code 2 and the UI shows it as a message; any
other exception is a bug and keeps its traceback. Each module defines its own subclasses next to the code
that raises them; this module defines no messages and imports nothing (layer 1).
"""

from __future__ import annotations


class UserError(Exception):
    """An error whose message is written for the person who caused it, saying what to change."""


class NotFoundError(UserError, FileNotFoundError):
    """A file, folder, run or dataset named by the user does not exist."""
