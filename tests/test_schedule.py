"""Sequential phases: step ranges, and a learning-rate schedule that restarts per phase when asked."""

from __future__ import annotations

import pytest
from transformers import TrainingArguments

from helpers import tiny_train_config, write_qa_dataset
from workbench.methods import Phase
from workbench.rundir import RunDir
from workbench.schedule import lr_factors, phase_bounds
from workbench.train import train


def two_phases(restart: bool, share: float = 0.5) -> list[Phase]:
    return [Phase("a", share, lambda n: True), Phase("b", 1 - share, lambda n: True, restart_schedule=restart)]


def test_phase_bounds_cover_every_step_once():
    assert phase_bounds(two_phases(True), 7) == [(0, 4), (4, 7)]  # step 3 < 3.5 is still the first phase
    assert phase_bounds(two_phases(True, 0.25), 8) == [(0, 2), (2, 8)]
    assert phase_bounds([Phase("all", 1.0, lambda n: True)], 5) == [(0, 5)]


@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_a_restarting_phase_repeats_the_schedule_and_a_shared_one_continues_it(tmp_path, kind):
    args = TrainingArguments(output_dir=str(tmp_path), lr_scheduler_type=kind, warmup_steps=0.1,
                             report_to="none", use_cpu=True)
    restarted = lr_factors(args, two_phases(True), 20)
    shared = lr_factors(args, two_phases(False), 20)
    assert len(restarted) == len(shared) == 20
    assert restarted[:10] == pytest.approx(restarted[10:])
    assert max(restarted[10:]) == pytest.approx(1.0)
    assert max(shared[10:]) < 0.8  # one schedule over 20 steps has decayed by its second half


@pytest.mark.parametrize("schedule", ["restart", "shared"])
def test_sequential_joint_run_restarts_its_learning_rate_for_the_second_part(tmp_path, schedule):
    data = write_qa_dataset(tmp_path / "ds")
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_config({"kind": "train", "train": tiny_train_config(
        data, method="lora+prefix", max_steps=12, eval_steps=0, learning_rate=1e-3, warmup_ratio=0.1,
        method_params={"mode": "sequential", "rank": 2, "targets": "attention", "virtual_tokens": 2,
                       "phase_schedule": schedule})})
    train(run)
    lr = {r["step"]: r["lr"] for r in run.read_metrics(0)[0] if r["split"] == "train" and "lr" in r}
    first = max(v for s, v in lr.items() if s <= 6)
    second = max(v for s, v in lr.items() if s > 6)
    if schedule == "restart":
        assert second == pytest.approx(first, rel=1e-3)
    else:
        assert second < 0.8 * first
