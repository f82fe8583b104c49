"""workbench: turn domain texts into a domain-expert LLM (corpus -> QA -> fine-tune -> evaluate -> chat)."""

import os

# OpenMP threads that spin while they wait make two processes sharing the CPU cores (a training job and chat,
# a job and a test) run 10-40x slower: a 3-question answer on the tiny model beside a training job took 20.6 s
# with spinning threads and 0.7 s with passive ones. Set before torch loads; a user's own value wins.
# A worker process computes alone and must not wait passively (it costs it a third of its training speed):
# jobs.start gives it the user's own value, or none (OpenMP's default), which USER_OMP_WAIT_POLICY records, and
# marks its environment with COMPUTES_ALONE so that the worker's own import of this package keeps that choice.
COMPUTES_ALONE = "WORKBENCH_COMPUTES_ALONE"
USER_OMP_WAIT_POLICY = os.environ.setdefault("WORKBENCH_USER_OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY", ""))
if os.environ.get(COMPUTES_ALONE) != "1":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"


def _quiet_third_party_noise() -> None:
    """Keep messages that say nothing to a user out of the CLI, the app's console and run logs: bitsandbytes
    warns on every import that an optional CPU kernel package is missing (the 4-bit path works without it),
    and rouge-score logs "Using default tokenizer." at each scorer it builds."""
    import logging

    logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(
        lambda record: "kernels-community" not in record.getMessage())
    logging.getLogger("absl").setLevel(logging.WARNING)


_quiet_third_party_noise()


def load_run(run_folder: str | os.PathLike, device: str | None = None) -> tuple:
    """A run's tuned model and its tokenizer in one call, for every method: a LoRA or QLoRA adapter on its
    base, a full or freeze run's weights, and a joint prefix+LoRA run (LoRA on the base, the prefix around it),
    loaded as the run was trained. ``model, tokenizer = workbench.load_run("workspace/runs/RUN")``."""
    from .methods.loading import load_tuned

    tuned = load_tuned(run_folder, device=device)
    return tuned.model, tuned.tokenizer
