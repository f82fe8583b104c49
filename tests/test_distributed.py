"""Training on several processes through torchrun: two gloo processes on this CPU train like one process with
the same global batch, rank 0 alone writes the run folder, and the saved adapter loads."""

from __future__ import annotations

import pytest
from helpers import tiny_train_config, write_qa_dataset

from workbench import distributed, jobs
from workbench.config import ConfigError, TrainConfig, check_device
from workbench.workspace import Workspace


def test_two_gloo_processes_train_like_one_with_the_same_global_batch(tmp_path):
    from workbench.methods.loading import load_tuned

    ws = Workspace(tmp_path / "ws")
    data = write_qa_dataset(ws.datasets / "districts")
    common = tiny_train_config(data, max_steps=6, eval_steps=0, probe_size=0, logging_steps=1, threads=1,
                               learning_rate=1e-3, group_by_length=False, save_steps=3)
    single = jobs.create_run(ws, "train", {"train": {**common, "batch_size": 4}}, run_id="single")
    jobs.start(single)
    assert jobs.wait(single, timeout=300) == "finished", single.log_tail(20)
    ddp = jobs.create_run(ws, "train", {"train": {**common, "batch_size": 2, "devices": 2}}, run_id="ddp")
    jobs.start(ddp)
    assert jobs.wait(ddp, timeout=300) == "finished", ddp.log_tail(40)
    one = [r["loss"] for r in single.read_metrics(0)[0] if r["split"] == "train"]
    two = [r["loss"] for r in ddp.read_metrics(0)[0] if r["split"] == "train"]
    assert len(two) == len(one) == 6  # rank 0 alone logs: one row per step
    assert two == pytest.approx(one, rel=0.02)  # same global batch of 4, sampled across two ranks
    assert "torch.distributed.run" in (ddp.log_file.read_text(errors="replace") + " ".join(
        distributed.worker_command(ddp.read_config(), str(ddp.path))))
    tuned = load_tuned(ddp.path, device="cpu", precision="fp32")
    assert tuned.shares_base and (ddp.checkpoints / "checkpoint-6" / "COMPLETE").exists()


def test_the_launch_command_and_what_a_cpu_cannot_do(monkeypatch):
    one = distributed.worker_command({"kind": "train", "train": {"devices": 1}}, "/runs/x")
    assert one[1:] == ["-m", "workbench.worker", "/runs/x"]
    two = distributed.worker_command({"kind": "train", "train": {"devices": 2}}, "/runs/x")
    assert "--nproc_per_node=2" in two and "--standalone" in two and two[-3:] == ["-m", "workbench.worker", "/runs/x"]
    monkeypatch.delenv(distributed.RDZV_ENV, raising=False)
    with pytest.raises(ValueError, match="WORKBENCH_RDZV_ENDPOINT"):
        distributed.worker_command({"kind": "train", "train": {"nodes": 2}}, "/runs/x")
    monkeypatch.setenv(distributed.RDZV_ENV, "node0:29500")
    many = distributed.worker_command({"kind": "train", "train": {"nodes": 2, "devices": 4}}, "/runs/x")
    assert "--rdzv-endpoint=node0:29500" in many and "--nnodes=2" in many
    with pytest.raises(ConfigError, match="fsdp"):
        check_device(TrainConfig(data="x", strategy="fsdp", devices=2), "cpu")
