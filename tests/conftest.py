"""Shared fixtures: an isolated workspace per test and the tiny model (built once per machine)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as workbench/__init__.py, in case a test imports torch first
# the base model's kept answers: per test session, so no test reads answers another session's code wrote; the
# folder goes when the session ends, so runs leave nothing behind in the system's temporary folder
if "WORKBENCH_BASE_ANSWERS" not in os.environ:
    os.environ["WORKBENCH_BASE_ANSWERS"] = tempfile.mkdtemp(prefix="wb-base-answers-")
    atexit.register(shutil.rmtree, os.environ["WORKBENCH_BASE_ANSWERS"], ignore_errors=True)


@pytest.fixture()
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from workbench.workspace import Workspace

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "ws"))
    return Workspace(tmp_path / "ws")


@pytest.fixture(scope="session")
def tiny_path() -> str:
    from workbench import models

    return models.resolve("tiny")


@pytest.fixture()
def tiny(tiny_path):
    """A fresh tiny model and tokenizer (3M parameters, loads in ~0.1 s)."""
    from workbench import models

    model, tok, _ = models.load_model("tiny", precision="fp32", device="cpu")
    return model, tok
