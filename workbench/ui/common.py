"""Small helpers shared by the tabs: turning engine errors into messages, formatting numbers, naming
datasets and runs. No tab layout here and no state: per-user data lives in gr.State in the tabs."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import UserError
from ..jobs import JobError, find_jobs
from ..rundir import RunDir
from ..workspace import Workspace, check_name, existing_folder

# Errors a person can act on; anything else is a bug and keeps its traceback in the server log.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, JobError, KeyError)


def active_jobs(ws: Workspace, kind: str) -> list[str]:
    """Ids of the queued or running jobs of one kind (qa, eval, ...), newest first: what a page reload follows."""
    return [run.id for run in find_jobs(ws.runs, kind, active=True)]


class UIError(UserError, ValueError):
    """Something entered in the UI is missing or unusable; the message says what to do."""


def error_text(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    if isinstance(exc, FileNotFoundError) and exc.filename and not exc.args[1:]:
        return f"not found: {exc.filename}"
    return str(exc) or type(exc).__name__


def friendly(fn: Callable) -> Callable:
    """Show engine errors (bad config, missing data, busy run) as a gr.Error; inputs stay as entered."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any):
            try:
                yield from fn(*args, **kwargs)
            except USER_ERRORS as exc:
                raise gr.Error(error_text(exc)) from exc
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any):
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as exc:
            raise gr.Error(error_text(exc)) from exc
    return wrapper


# numbers ------------------------------------------------------------------------------------------

def human_count(n: float | None) -> str:
    if n is None:
        return ""
    n = float(n)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def params_text(trainable: int | None, total: int | None) -> str:
    """'460,800 of 134.5M (0.34%)', or '' before the worker has counted."""
    if not trainable:
        return ""
    if not total:
        return f"{trainable:,}"
    return f"{trainable:,} of {human_count(total)} ({100 * trainable / total:.2f}%)"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def number_text(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    return f"{value:.{digits}g}"


# datasets and runs --------------------------------------------------------------------------------

def dataset_names(ws: Workspace) -> list[str]:
    return [p.name for p in ws.list_datasets()]


def dataset_folder(ws: Workspace, name: str | None) -> Path:
    """A dataset of this workspace by name; paths elsewhere on disk are not accepted from the UI."""
    return existing_folder(ws.datasets, name, "dataset name", "choose a dataset first (build one in the QA tab)",
                           "there is no dataset called {name}; build it in the QA tab or pick another one", UIError)


def run_of(ws: Workspace, run_id: str | None) -> RunDir:
    """A run of this workspace by id, refusing anything that is not a plain run name."""
    if not run_id:
        raise UIError("choose a run first")
    path = ws.runs / check_name(run_id, "run id")
    if not (path / "config.json").exists():
        raise UIError(f"run {run_id} no longer exists (it may have been deleted)")
    return RunDir(path)


def run_summary(run: RunDir) -> dict[str, Any]:
    """summary.json written by training (method summary, trainable share, losses), or {}."""
    return run.read_summary()


def run_line(run: RunDir) -> str:
    """'lora on smollm2: low-rank ... · trainable 460,800 of 134.5M (0.34%)' for any place a run is shown."""
    from .. import methods

    cfg = run.train_config()
    status, summary = run.read_status(), run_summary(run)
    method = methods.METHODS.get(cfg.get("method") or "")
    text = f"**{cfg.get('method', '?')}** on **{cfg.get('model', '?')}**"
    if method is not None:
        text += f": {method.summary}"
    trainable = params_text(status.get("trainable_params") or summary.get("trainable_params"),
                            status.get("total_params") or summary.get("total_params"))
    return text + (f" · trainable {trainable}" if trainable else "")


def pretty_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)
