"""Training on several devices or machines through torchrun (PyTorch's own launcher) and DDP.

A train run with ``devices`` > 1 or ``nodes`` > 1 starts as ``python -m torch.distributed.run ... -m
workbench.worker RUN_DIR`` instead of one worker process: torchrun starts one worker per device, the Hugging
Face Trainer wraps the model in DistributedDataParallel (gloo on a CPU, NCCL on GPUs) or FSDP, and rank 0
alone writes the run folder (status, metrics, checkpoints, adapter) while the others train beside it. Rank 0
records torchrun's own pid as the run's process, so a stop, a crash check and a resume treat the group as
one job. Standard library only (layer 1).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .config import ConfigError
from .rundir import train_settings

RDZV_ENV = "WORKBENCH_RDZV_ENDPOINT"  # host:port of node 0 for a run on several machines


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    """True in a single-process run and in rank 0 of a distributed one: the process that writes the run."""
    return rank() == 0


def under_torchrun() -> bool:
    return "TORCHELASTIC_RUN_ID" in os.environ or world_size() > 1


def worker_command(config: dict[str, Any], run_path: str) -> list[str]:
    """The command that starts a run's worker: torchrun for a train run on several devices or nodes."""
    train = train_settings(config)
    devices, nodes = int(train.get("devices") or 1), int(train.get("nodes") or 1)
    if config.get("kind", "train") != "train" or (devices <= 1 and nodes <= 1):
        return [sys.executable, "-m", "workbench.worker", run_path]
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={devices}", f"--nnodes={nodes}"]
    if nodes > 1:  # every machine runs the same command; they meet at node 0's rendezvous endpoint
        endpoint = os.environ.get(RDZV_ENV)
        if not endpoint:
            raise ConfigError(f"a run on {nodes} machines needs ${RDZV_ENV}=HOST:PORT of the first machine")
        command += ["--rdzv-backend=c10d", f"--rdzv-endpoint={endpoint}", f"--rdzv-id={os.path.basename(run_path)}"]
    else:
        command += ["--standalone"]
    return [*command, "-m", "workbench.worker", run_path]
