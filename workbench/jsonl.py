"""The one reader of JSON Lines files that people write or edit (datasets, probe sets, predictions): one JSON
object per line, blank lines skipped, a bad line refused with its file and line number. Run folders' append-only
metrics.jsonl is read by rundir.py instead, which skips a torn last line rather than refusing it. Standard
library only (layer 1).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import UserError


class JsonlError(UserError, ValueError):
    """A line of a JSONL file is not a JSON object."""


def numbered_records(path: str | Path, error: type[Exception] = JsonlError) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a missing file has none. ``error`` is the class raised for
    a bad line, so each caller keeps its own (a dataset's DatasetError, a probe file's ProbeFileError)."""
    path = Path(path)
    if not path.exists():
        return []
    found = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{path.name} line {n} is not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise error(f"{path.name} line {n} is not a JSON object")
            found.append((n, record))
    return found


def read_jsonl(path: str | Path, error: type[Exception] = JsonlError) -> list[dict[str, Any]]:
    """The objects of a JSONL file, in order (see ``numbered_records``)."""
    return [record for _, record in numbered_records(path, error)]
