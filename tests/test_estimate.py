"""The training-time estimate shown before a run starts: steps counted as the trainer counts them, seconds per
step from a finished run of this machine with the same model, method and batch size."""

from __future__ import annotations

import json

from helpers import write_qa_dataset

from workbench import estimate
from workbench.rundir import RunDir, atomic_write_json


def test_steps_are_counted_as_the_trainer_counts_them():
    # a knowledge-benchmark run: 378 pairs, 6 passages, replay share 0.1, batch 4, 4 epochs -> 426 examples,
    # 107 batches per epoch, 428 steps (what its summary.json recorded)
    settings = {"epochs": 4.0, "batch_size": 4, "replay": 0.1, "train_on_passages": True}
    assert estimate.planned_steps(378, 6, settings) == 428
    assert estimate.planned_steps(378, 6, {**settings, "max_steps": 30}) == 30
    assert estimate.planned_steps(24, 0, {"epochs": 2.0, "batch_size": 4, "replay": 0.0}) == 12


def _finished(ws, run_id: str, model: str, batch: int, steps: int, seconds: float) -> RunDir:
    run = RunDir(ws.runs / run_id)
    run.path.mkdir(parents=True)
    run.write_config({"kind": "train", "train": {"model": model, "method": "lora", "batch_size": batch}})
    atomic_write_json(run.path / "summary.json", {"steps": steps, "train_seconds": seconds})
    return run


def test_the_step_time_comes_from_the_newest_matching_run_of_this_machine(workspace):
    data = write_qa_dataset(workspace.datasets / "facts", n_train=24, n_test=6)
    settings = {"data": "facts", "model": "smollm2", "method": "lora", "epochs": 2.0, "batch_size": 4,
                "replay": 0.0}
    first = estimate.estimate(workspace, settings)
    assert first.steps == 12 and first.seconds is None and "no time estimate" in estimate.describe(first)
    _finished(workspace, "20260101-000001-lora-aaaa", "smollm2", 4, 100, 200.0)
    _finished(workspace, "20260101-000002-lora-bbbb", "smollm2", 4, 50, 150.0)
    _finished(workspace, "20260101-000003-lora-cccc", "smollm2", 8, 50, 500.0)  # another batch size
    _finished(workspace, "20260101-000004-lora-dddd", "tiny", 4, 50, 5.0)  # another model
    est = estimate.estimate(workspace, settings)
    assert (est.s_per_step, est.measured_in, est.seconds) == (3.0, "20260101-000002-lora-bbbb", 36.0)
    assert "36 s" in estimate.describe(est) and "20260101-000002-lora-bbbb" in estimate.describe(est)
    assert estimate.estimate(workspace, {**settings, "data": str(data)}).steps == 12  # a folder works too
    assert estimate.estimate(workspace, {**settings, "data": "nothing"}) is None
    assert estimate.estimate(workspace, {**settings, "epochs": "2.x"}) is None
    assert json.loads((workspace.runs / "20260101-000002-lora-bbbb" / "summary.json").read_text())["steps"] == 50
