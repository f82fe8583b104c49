"""Where things live: the workspace root with datasets/, runs/, studies/, and the model cache.

The workspace root is $WORKBENCH_HOME, else ./workspace under the current directory. Models
converted once (GGUF -> HF folder) are cached under $WORKBENCH_CACHE, else ~/.cache/workbench.
This module only names and lists folders; it reads no model and starts no process.
Standard library only (layer 1).
"""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import NotFoundError, UserError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def cache_dir() -> Path:
    path = Path(os.environ.get("WORKBENCH_CACHE") or Path.home() / ".cache" / "workbench")
    path.mkdir(parents=True, exist_ok=True)
    return path


class BadName(UserError, ValueError):
    """A name that cannot become a folder name inside the workspace."""


def check_name(name: str, what: str = "name") -> str:
    """Names become folder names: refuse anything that could escape the workspace."""
    if not _NAME.fullmatch(name or "") or ".." in name:  # fullmatch: "$" would let a trailing newline in
        raise BadName(f"{what} {name!r} must be 1-100 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return name


def existing_folder(parent: Path, name: str | None, what: str, choose: str, missing: str,
                    error: type[Exception] = BadName) -> Path:
    """``parent / name`` when ``name`` is a safe folder name that exists there. ``choose`` is the message for no
    name at all and ``missing`` (with ``{name}``) for a folder that is not there; both raise ``error``."""
    if not name:
        raise error(choose)
    folder = parent / check_name(name, what)
    if not folder.is_dir():
        raise error(missing.format(name=repr(name)))
    return folder


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def default(cls) -> Workspace:
        return cls(Path(os.environ.get("WORKBENCH_HOME") or Path.cwd() / "workspace").resolve())

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def datasets(self) -> Path:
        return self._dir("datasets")

    @property
    def runs(self) -> Path:
        return self._dir("runs")

    @property
    def studies(self) -> Path:
        return self._dir("studies")

    @property
    def study_specs(self) -> Path:
        """The workspace's own study specs (<name>.yaml), beside the shipped ones."""
        return self._dir("study-specs")

    @property
    def subspaces(self) -> Path:
        """CoRA common-subspace artifacts built here (<name>/subspace.json + safetensors)."""
        return self._dir("subspaces")

    def _dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def new_run_id(self, method: str) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        slug = re.sub(r"[^A-Za-z0-9]+", "-", method).strip("-") or "run"
        return f"{stamp}-{slug}-{secrets.token_hex(2)}"

    def run_path(self, run: str) -> Path:
        """A run id, or a path to a run folder anywhere."""
        candidate = Path(run)
        if candidate.is_dir() and (candidate / "config.json").exists():
            return candidate.resolve()
        path = self.runs / check_name(run, "run id")
        if not path.is_dir():
            raise NotFoundError(f"no run {run!r} in {self.runs} (see `python -m workbench runs list`)")
        return path

    def dataset_path(self, name: str) -> Path:
        """A dataset name in the workspace, or a path to a dataset folder or JSONL file."""
        candidate = Path(name)
        if candidate.exists():
            return candidate.resolve()
        path = self.datasets / check_name(name, "dataset name")
        if not path.exists():
            raise NotFoundError(f"no dataset {name!r}: not a file or folder, and not in {self.datasets}")
        return path

    def list_runs(self) -> list[Path]:
        runs = [p for p in self.runs.iterdir() if (p / "config.json").exists()]
        return sorted(runs, key=lambda p: p.name, reverse=True)

    def list_datasets(self) -> list[Path]:
        return sorted(p for p in self.datasets.iterdir() if p.is_dir())
