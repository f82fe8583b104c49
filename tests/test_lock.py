"""The environment the tests run in is exactly the lock file: every installed package at its locked version and
nothing unlocked. It fails when a requirement changes without `bash scripts/lock.sh`, or when a package was
installed by hand, which a new machine would not have."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# pip manages itself; a venv may carry its own copy of these build tools without any package requiring them.
UNLOCKED = {"pip", "setuptools", "wheel"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock_file() -> Path:
    import torch

    return ROOT / ("requirements-lock-cuda.txt" if torch.version.cuda else "requirements-lock-cpu.txt")


def _locked(path: Path) -> dict[str, str]:
    pins = (line.split("==") for line in path.read_text().splitlines() if "==" in line and not line.startswith("#"))
    return {_norm(name): version.strip() for name, version in pins}


def _installed() -> dict[str, str]:
    return {_norm(d.metadata["Name"]): d.version for d in metadata.distributions()}


@pytest.mark.skipif(Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(),
                    reason="checks the project's own .venv, which scripts/setup.sh made from the lock")
def test_venv_matches_the_lock_file():
    locked, installed = _locked(_lock_file()), _installed()
    wrong = {n: (v, locked[n]) for n, v in installed.items() if n in locked and v != locked[n] and n not in UNLOCKED}
    unlocked = sorted(set(installed) - set(locked) - UNLOCKED)
    missing = sorted(set(locked) - set(installed) - UNLOCKED)
    assert not wrong, f"installed (version, locked version) differ: {wrong}"
    assert not unlocked, f"installed but not in {_lock_file().name} (run scripts/lock.sh): {unlocked}"
    assert not missing, f"locked but not installed (run scripts/setup.sh --dev): {missing}"


def test_requirements_are_in_the_lock_files():
    """Every direct requirement is pinned in both lock files at the version it asks for."""
    for lock in ("requirements-lock-cpu.txt", "requirements-lock-cuda.txt"):
        locked = _locked(ROOT / lock)
        for req in ("requirements.txt", "requirements-dev.txt", "requirements-models.txt"):
            for line in (ROOT / req).read_text().splitlines():
                m = re.match(r"^([A-Za-z0-9][\w.-]*)\s*(==|>=)?\s*([\w.+]*)", line.strip())
                if not m or line.startswith("#"):
                    continue
                name, op, version = _norm(m.group(1)), m.group(2), m.group(3)
                assert name in locked, f"{req}: {name} is not in {lock}"
                if op == "==" and name != "torch":
                    assert locked[name] == version, f"{req} asks {name}=={version}, {lock} has {locked[name]}"
