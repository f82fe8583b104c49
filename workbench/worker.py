"""``python -m workbench.worker RUN_DIR``: run one job (training, QA generation, evaluation, study cell)
in this process and record its life in the run folder.

The worker is the only writer of status.json and metrics.jsonl after launch. It waits in `queued` for
the accelerator lock (one job at a time on this machine), then runs, then ends `finished`, `stopped`
or `failed` with a classified error. It does not decide what to run next; jobs.py does not train.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import distributed
from .jobs import AcceleratorLock
from .rundir import RunDir, process_identity, process_started

log = logging.getLogger("workbench.worker")


def _train(run: RunDir) -> dict[str, Any]:
    from .train import train

    return train(run)


def _qa(run: RunDir) -> dict[str, Any]:
    from .qa.pipeline import run_job

    return run_job(run)


def _eval(run: RunDir) -> dict[str, Any]:
    from .evaluate import run_job

    return run_job(run)


def _study(run: RunDir) -> dict[str, Any]:
    from .studies.grid import run_job

    return run_job(run)


def _cora(run: RunDir) -> dict[str, Any]:
    from .cora import run_job

    return run_job(run)


def _export(run: RunDir) -> dict[str, Any]:
    from .export import run_job

    return run_job(run)


def _teach(run: RunDir) -> dict[str, Any]:
    from .teach import run_job

    return run_job(run)


JOBS: dict[str, Callable[[RunDir], dict[str, Any]]] = {"train": _train, "qa": _qa, "eval": _eval, "study": _study,
                                                       "cora": _cora, "export": _export, "teach": _teach}


def classify(exc: BaseException) -> str:
    """A short error class for the status file, so the UI can say what to do."""
    name = type(exc).__name__
    text = str(exc).lower()
    if isinstance(exc, MemoryError) or "out of memory" in text or name == "OutOfMemoryError":
        return "out_of_memory"
    if name in ("ConfigError", "MethodError", "StudyError", "CoraError", "JudgeError"):
        return "bad_config"
    if name in ("DataError", "CorpusError", "DatasetError", "JSONDecodeError", "EvalError", "PipelineError"):
        return "bad_data"
    if name == "ModelError":
        return "model"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return "internal"


def _wait_for_turn(run: RunDir, lock: AcceleratorLock) -> bool:
    """Block in `queued` until this run holds the lock; False if it was asked to stop meanwhile."""
    while not lock.try_acquire(run):
        if run.stop_requested():
            return False
        time.sleep(0.5)
    return True


def _follow(run: RunDir, kind: str) -> int:
    """A rank other than 0 of a distributed run: train beside rank 0, which alone writes the run folder."""
    try:
        JOBS[kind](run)
        return 0
    except BaseException:
        traceback.print_exc()
        return 1


def run(run_dir: Path) -> int:
    run = RunDir(run_dir)
    config = run.read_config()
    kind = config.get("kind", "train")
    if not distributed.is_main():
        return _follow(run, kind)
    # under torchrun the launcher's pid stands for the group: it lives exactly as long as the job
    pid = os.getppid() if distributed.under_torchrun() else os.getpid()
    # A resumed run starts a new life: clear what the previous one reported.
    run.write_status(state="queued", pid=pid, pid_started=process_started(pid), pid_identity=process_identity(pid),
                     kind=kind,
                     queued_at=run.read_status().get("queued_at") or time.time(), error=None, result=None,
                     finished_at=None, started_at=None)
    with contextlib.suppress(OSError):  # without room for it, a failure is still reported by status.json
        run.reserve_failure_space()
    lock = AcceleratorLock.default(run)
    if not _wait_for_turn(run, lock):
        run.write_status(state="stopped", finished_at=time.time())
        return 0
    if len(lock.devices) == 1:  # one GPU of several: this job sees only the one it was given
        os.environ["CUDA_VISIBLE_DEVICES"] = lock.devices[0]
        run.write_status(gpu=lock.devices[0])
    try:
        run.write_status(state="running", started_at=time.time())
        log.info("run %s: %s job started (pid %d)", run.id, kind, os.getpid())
        result = JOBS[kind](run)
        state = "stopped" if run.stop_requested() else "finished"
        run.write_status(state=state, finished_at=time.time(), result=result)
        log.info("run %s: %s", run.id, state)
        return 0
    except BaseException as exc:
        kind_ = classify(exc)
        traceback.print_exc()
        failed = {"state": "failed", "finished_at": time.time(), "error": {"kind": kind_, "message": str(exc)}}
        try:
            run.write_status(**failed)
        except OSError as write_exc:  # a full disk: the reason goes where room was kept for it
            print(f"run {run.id} failed ({kind_}: {exc}); status.json could not be written ({write_exc})",
                  file=sys.stderr)
            run.write_failure_in_reserve(failed)
        return 1
    finally:
        lock.release()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m workbench.worker RUN_DIR", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return run(Path(argv[0]))


if __name__ == "__main__":
    sys.exit(main())
