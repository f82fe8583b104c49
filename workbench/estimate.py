"""How long a training run will take on this machine, said before it starts.

The steps come from the dataset's size and the settings, as the trainer counts them (pairs, plus the passages
and the answers' statement texts when they train as text, plus the replay share; batches per epoch rounded up,
times the epochs, or max_steps).
The seconds per step come from the newest finished run of this workspace with the same base model, method and
batch size: a measurement on this machine, not a guess from the model's size. Without one, there is no estimate.
Reads run and dataset folders only; no torch (layer 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import statements
from .jsonl import read_jsonl
from .rundir import RunDir
from .workspace import Workspace


@dataclass(frozen=True)
class Estimate:
    steps: int
    s_per_step: float | None = None
    measured_in: str = ""  # the run whose step time is used

    @property
    def seconds(self) -> float | None:
        return self.steps * self.s_per_step if self.s_per_step else None


def _lines(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(1 for line in fh if line.strip())
    except OSError:
        return 0


def planned_steps(pairs: int, passages: int, settings: dict[str, Any], statements: int = 0) -> int:
    """The optimiser steps the trainer will take for ``pairs`` training pairs, ``passages`` passages and
    ``statements`` texts of the pairs' answers (statements.py)."""
    if int(settings.get("max_steps") or -1) > 0:
        return int(settings["max_steps"])
    examples = pairs + (passages if settings.get("train_on_passages", True) else 0)
    examples += statements if passages and settings.get("train_on_statements", False) else 0
    replay = float(settings.get("replay") or 0.0)
    if 0 < replay < 1:  # the replay share is of the whole mix
        examples += round(examples * replay / (1 - replay))
    per_step = max(1, int(settings.get("batch_size") or 1)) * max(1, int(settings.get("grad_accum") or 1))
    return math.ceil(math.ceil(examples / per_step) * float(settings.get("epochs") or 1.0))


def _statement_texts(path: Path, settings: dict[str, Any]) -> int:
    if not settings.get("train_on_statements", False):
        return 0
    try:
        pairs = read_jsonl(path)
    except (OSError, ValueError):  # a file being rewritten (JsonlError is a ValueError): the steps without them
        return 0
    return len(statements.fact_texts(pairs, seed=int(settings.get("seed", 42))))


def measured_step_time(ws: Workspace, model: str, method: str, batch_size: int) -> tuple[float, str] | None:
    """Seconds per step of the newest finished run with this model, method and batch size, and its id."""
    for path in ws.list_runs():  # newest first
        run = RunDir(path)
        train = run.train_config()
        if (train.get("model"), train.get("method"), int(train.get("batch_size") or 0)) != (model, method,
                                                                                             batch_size):
            continue
        summary = run.read_summary()
        steps, seconds = summary.get("steps") or 0, summary.get("train_seconds") or 0.0
        if steps >= 5 and seconds > 0:  # a few steps are mostly warm-up
            return seconds / steps, run.id
    return None


def estimate(ws: Workspace, settings: dict[str, Any]) -> Estimate | None:
    """The estimate for Train-form ``settings`` (data is a dataset name or folder); None without a dataset."""
    data = str(settings.get("data") or "")
    folder = Path(data) if Path(data).is_dir() else ws.datasets / data if data else None
    if folder is None or not (folder / "train.jsonl").is_file():
        return None
    try:
        steps = planned_steps(_lines(folder / "train.jsonl"), _lines(folder / "passages.jsonl"), settings,
                              _statement_texts(folder / "train.jsonl", settings))
        batch = int(settings.get("batch_size") or 0)
    except (TypeError, ValueError):  # a half-typed number in the form
        return None
    found = measured_step_time(ws, str(settings.get("model") or ""), str(settings.get("method") or ""), batch)
    return Estimate(steps, *found) if found else Estimate(steps)


def describe(est: Estimate | None) -> str:
    if est is None:
        return ""
    if est.seconds is None:
        return (f"About **{est.steps} steps**. No run of this model, method and batch size has finished on this "
                "machine yet, so there is no time estimate; the Runs tab shows an ETA once it runs.")
    minutes = est.seconds / 60
    said = f"{minutes:.0f} min" if minutes >= 2 else f"{est.seconds:.0f} s"
    return (f"About **{said}** of training: {est.steps} steps × {est.s_per_step:.2f} s per step, measured in "
            f"run `{est.measured_in}` on this machine (loading the model and evaluations come on top).")
