"""Teach documents in one job: build the question-answer set, train with the knowledge defaults, evaluate.

A "teach" job runs three stages in order, each as a run of its own (a "qa" run that writes the dataset, a
"train" run, an "eval" run of the held-out rewordings and the forgetting probe), so that each can be opened,
compared and re-used afterwards like any other. The stages run in this job's worker process one after the
other, each taking the accelerator in its turn; this job's status names the stage and the run doing it, whose
own status holds the step and ETA. A stop request is passed on to the stage that is running. The job is
started by launch.start_teach.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from .errors import UserError
from . import jobs
from .config import QAGenConfig, TrainConfig, from_dict, to_dict
from .rundir import RunDir
from .workspace import Workspace

STAGES = ("qa", "train", "eval")


class TeachError(UserError, RuntimeError):
    """A stage of a teach job did not finish; the message names the stage's run and its reason."""


def _stage(run: RunDir, stage: str, child: RunDir) -> None:
    run.write_status(phase=stage, stage=stage, step=STAGES.index(stage) + 1, total_steps=len(STAGES),
                     child=child.id)


def _run_stage(run: RunDir, child: RunDir) -> dict[str, Any]:
    """Run ``child`` in this process (as its own worker would) and return its result; a stop asked of the
    teach job is passed on to it."""
    from . import worker

    if run.stop_requested():
        raise TeachError("stopped before this stage")
    done = threading.Event()

    def pass_stop() -> None:
        while not done.wait(0.5):
            if run.stop_requested():
                child.request_stop()
                return

    watcher = threading.Thread(target=pass_stop, daemon=True)
    watcher.start()
    try:
        worker.run(child.path)
    finally:
        done.set()
    status = child.read_status()
    if status.get("state") != "finished":
        reason = (status.get("error") or {}).get("message") or status.get("state")
        raise TeachError(f"{child.read_config().get('kind')} run {child.id} ended {status.get('state')}: {reason}")
    return status.get("result") or {}


def run_job(run: RunDir) -> dict[str, Any]:
    """Worker entry for a teach job: the three stages in order; returns the runs and their headline numbers."""
    try:
        return _stages(run)
    except TeachError:
        if run.stop_requested():  # the worker records the job as stopped
            return {"stopped": True, "stage": run.read_status().get("stage")}
        raise


def _stages(run: RunDir) -> dict[str, Any]:
    from . import methods
    from .launch import eval_job
    from .qa.pipeline import job_config

    cfg = run.read_config().get("teach") or {}
    ws = Workspace(Path(cfg["workspace"]))
    name = cfg["name"]
    out = ws.datasets / name
    qa_cfg = from_dict(QAGenConfig, cfg.get("qa") or {})
    qa_run = jobs.create_run(ws, "qa", {"qa": job_config(cfg["inputs"], out, qa_cfg, cfg.get("overwrite", False)),
                                        "needs_accelerator": qa_cfg.uses_model}, label=f"qa-{name}"[:60])
    _stage(run, "qa", qa_run)
    built = _run_stage(run, qa_run)
    settings = cfg.get("train", {})
    # every value resolved, as a run started from the Train tab records it (the method shows in every list)
    resolved = to_dict(methods.resolved(from_dict(TrainConfig, {**settings, "data": str(out)})))
    train_run = jobs.create_run(ws, "train", {"train": resolved}, label=f"{resolved['method']}-{name}"[:60])
    _stage(run, "train", train_run)
    trained = _run_stage(run, train_run)
    eval_run = jobs.create_run(ws, "eval", {"eval": eval_job(ws, train_run.path).to_dict()},
                               label=f"eval-{train_run.id}"[:60])
    _stage(run, "eval", eval_run)
    scores = _run_stage(run, eval_run)
    return {"dataset": name, "qa_run": qa_run.id, "train_run": train_run.id, "eval_run": eval_run.id,
            "pairs": built.get("train"), "steps": trained.get("steps"), "scores": scores}
