"""Start, stop, resume, list and delete background jobs. Each job is a worker process over a run folder.

Standard library plus filelock (the accelerator and launch locks, on every operating system) and psutil, no
torch: the UI and CLI import this to launch and watch runs. The queue lives in the run folders (status `queued`
+ a live worker pid), so it survives a restart of the process that launched it. This module never trains and
never writes status.json after launch.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from . import COMPUTES_ALONE
from .errors import UserError
from .distributed import worker_command
from .rundir import FINAL_STATES, RunDir, train_settings, worker_alive
from .workspace import Workspace, check_name

ACTIVE = ("queued", "running")


class JobError(UserError, RuntimeError):
    """A job cannot be started, stopped, resumed or deleted in its present state."""


GPUS_ENV = "WORKBENCH_GPUS"  # the GPU ids jobs share out, e.g. "0,1,2,3"; found with nvidia-smi when unset


@functools.cache
def gpu_ids() -> tuple[str, ...]:
    """The GPUs of this machine ($WORKBENCH_GPUS, else `nvidia-smi -L`); empty without any."""
    given = os.environ.get(GPUS_ENV)
    if given is not None:
        return tuple(x.strip() for x in given.split(",") if x.strip())
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(str(i) for i, line in enumerate(listing.splitlines()) if line.startswith("GPU "))


def devices_needed(run: RunDir) -> int:
    if run.read_config().get("kind", "train") != "train":
        return 1
    return int(run.train_config().get("devices") or 1)


@dataclass
class AcceleratorLock:
    """Who may use the accelerator now; the oldest queued job goes first. With one GPU or none: one job at a
    time per runs folder. With several: one lock per GPU, so single-GPU jobs run side by side, each on a free
    GPU (``devices``, given to it as CUDA_VISIBLE_DEVICES), and a job on N GPUs waits for GPUs 0..N-1 (torchrun
    numbers its ranks' devices from 0)."""

    path: Path
    _held: list[Any] = field(default_factory=list, repr=False)
    devices: list[str] = field(default_factory=list)

    @classmethod
    def default(cls, run: RunDir) -> AcceleratorLock:
        return cls(Path(os.environ.get("WORKBENCH_LOCK") or run.path.parent / ".accelerator.lock"))

    def try_acquire(self, run: RunDir) -> bool:
        if run.read_config().get("needs_accelerator") is False:
            return True
        if _older_waiting(run):
            return False
        ids = gpu_ids()
        if len(ids) <= 1:
            return self._take([(self.path, None)])
        need = devices_needed(run)
        if need > 1:
            return self._take([(self._gpu_path(i), i) for i in ids[:need]])
        return any(self._take([(self._gpu_path(i), i)]) for i in ids)

    def _gpu_path(self, gpu: str) -> Path:
        return self.path.with_name(f"{self.path.stem}-gpu{gpu}{self.path.suffix}")

    def _take(self, wanted: list[tuple[Path, str | None]]) -> bool:
        """All of ``wanted`` or none of it."""
        for path, gpu in wanted:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = _device_lock(path)
            try:
                lock.acquire(blocking=False)
            except Timeout:
                self.release()
                return False
            self._held.append(lock)  # held while the job runs; the operating system frees it if the job dies
            if gpu is not None:
                self.devices.append(gpu)
        return True

    def release(self) -> None:
        for lock in self._held:
            lock.release()
        self._held.clear()
        self.devices.clear()


def _device_lock(path: Path) -> FileLock:
    """A lock of its own for each caller (not shared between threads or with other FileLock objects of the path),
    so that two jobs, or a probe, in one process exclude each other as two processes do."""
    return FileLock(str(path), thread_local=False, preserve_lock_file=True)


def accelerator_busy(runs_folder: Path) -> bool:
    """Whether a job holds the runs folder's accelerator lock now. A probe only: the lock is released at once
    (the caller must not hold it itself, as the locks are per open file)."""
    lock = AcceleratorLock(Path(os.environ.get("WORKBENCH_LOCK") or runs_folder / ".accelerator.lock"))
    paths = [lock.path] + [lock._gpu_path(i) for i in gpu_ids()]
    for path in (p for p in paths if p.exists()):
        probe = _device_lock(path)
        try:
            probe.acquire(blocking=False)
        except Timeout:
            return True
        probe.release()
    return False


def _older_waiting(run: RunDir) -> bool:
    """Is another live run in the same folder queued since before this one?"""
    mine = run.read_status().get("queued_at") or time.time()
    for other in run.path.parent.iterdir():
        if other == run.path or not (other / "status.json").exists():
            continue
        status = RunDir(other).read_status()
        if (status.get("state") == "queued" and worker_alive(status)
                and (status.get("queued_at") or 0) < mine):
            return True
    return False


# lifecycle ------------------------------------------------------------------------------------

def create_run(workspace: Workspace, kind: str, config: dict[str, Any], run_id: str | None = None,
               label: str | None = None) -> RunDir:
    """Write config.json (once) and the initial queued status; the worker owns status.json after this."""
    # a run lives in its workspace's runs/ folder, where the queue, the Runs tab and `runs list` see it
    run_id = check_name(run_id, "run name") if run_id else workspace.new_run_id(label or config.get("method") or kind)
    run = RunDir(workspace.runs / run_id)
    if run.exists():
        raise JobError(f"run {run_id} already exists")
    run.path.mkdir(parents=True, exist_ok=True)  # a folder without config.json is a launch cut short
    run.write_config({"kind": kind, **config})
    run.write_status(state="queued", queued_at=time.time())
    return run


def _worker_omp_policy(env: dict[str, str]) -> None:
    """The worker computes alone: it gets the user's own OpenMP wait policy or none (OpenMP's default), not the
    passive one this process may use to stay responsive beside it (passive costs training a third of its speed)."""
    user = os.environ.get("WORKBENCH_USER_OMP_WAIT_POLICY", "")
    if user:
        env["OMP_WAIT_POLICY"] = user
    else:
        env.pop("OMP_WAIT_POLICY", None)
    env[COMPUTES_ALONE] = "1"  # else the worker's own `import workbench` would set the passive policy again


def _launch_lock(run: RunDir) -> FileLock:
    """Held from the state check until the new worker has announced itself, so two starts or resumes of one
    run at once (the UI's queue runs several events together) cannot both launch a worker."""
    return FileLock(str(run.path / ".launch.lock"), timeout=120)


def start(run: RunDir, secrets: dict[str, str] | None = None) -> int:
    """Launch the worker detached from this process (it outlives a restart of the UI) and return its pid.
    ``secrets`` (API keys) reach the worker through its environment, never through the run folder."""
    with _launch_lock(run):
        return _launch(run, secrets)


def _launch(run: RunDir, secrets: dict[str, str] | None = None) -> int:
    state, status = run.effective_state(), run.read_status()
    if state == "running" or state == "queued" and status.get("pid"):
        raise JobError(f"run {run.id} is already {state} (pid {status.get('pid')})")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    _worker_omp_policy(env)
    env.update(secrets or {})
    with open(run.log_file, "ab") as log:
        proc = subprocess.Popen(worker_command(run.read_config(), str(run.path)), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    _await_announcement(run, proc)
    return proc.pid


def _await_announcement(run: RunDir, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """Return once the worker has written its pid, so that callers never read the previous life's state."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if run.read_status().get("pid") == proc.pid:
            return
        if proc.poll() is not None:
            raise JobError(f"the worker for run {run.id} exited at once (code {proc.returncode}):\n"
                           f"{run.log_tail(10)}")
        time.sleep(0.05)
    raise JobError(f"the worker for run {run.id} did not start within {timeout:.0f} s; see {run.log_file}")


def stop(run: RunDir) -> str:
    """Ask a queued or running job to stop gracefully (it saves what it has). Returns the state seen."""
    state = run.effective_state()
    if state not in ACTIVE:
        raise JobError(f"run {run.id} is {state}; only queued or running runs can be stopped")
    run.request_stop()
    return state


def resume(run: RunDir) -> int:
    """Continue a stopped, failed or crashed run from its last checkpoint, with the same config."""
    state = run.effective_state()
    if state in ACTIVE:
        raise JobError(f"run {run.id} is {state}; it cannot be resumed until it ends")
    if state == "finished":
        raise JobError(f"run {run.id} already finished; clone its config to train further")
    with _launch_lock(run):
        state = run.effective_state()  # again, under the lock: another resume may have won the race
        if state in ACTIVE:
            raise JobError(f"run {run.id} is {state}; it cannot be resumed until it ends")
        run.clear_stop()
        return _launch(run)


def delete(run: RunDir) -> None:
    state = run.effective_state()
    if state in ACTIVE:
        raise JobError(f"run {run.id} is {state}; stop it before deleting")
    evaluating = active_evaluations_of(run)
    if evaluating:
        raise JobError(f"run {run.id} is being evaluated by {', '.join(evaluating)}; stop that evaluation or "
                       "wait for it before deleting")
    shutil.rmtree(run.path)


def find_jobs(runs: Path, kind: str, active: bool = False) -> list[RunDir]:
    """The runs of one kind (train, qa, eval, study, teach, ...) in a runs folder, newest first (an id begins
    with its creation time); with ``active``, only the queued or running ones. Folders without config.json
    are launches cut short and are skipped."""
    folders = sorted((p for p in Path(runs).iterdir() if (p / "config.json").exists()), reverse=True) \
        if Path(runs).is_dir() else []
    found = [run for run in map(RunDir, folders) if run.read_config().get("kind", "train") == kind]
    return [run for run in found if run.effective_state() in ACTIVE] if active else found


def active_evaluations_of(run: RunDir) -> list[str]:
    """Ids of the queued or running evaluations (runs beside it) that write into this run's eval/ folder."""
    target = run.path.resolve()
    found = []
    for candidate in reversed(find_jobs(run.path.parent, "eval", active=True)):
        job = candidate.read_config().get("eval")
        if isinstance(job, dict) and job.get("run") and Path(job["run"]).resolve() == target:
            found.append(candidate.id)
    return found


def wait(run: RunDir, timeout: float | None = None, poll: float = 0.5) -> str:
    """Block until the run ends (or crashes); return its effective state."""
    deadline = None if timeout is None else time.time() + timeout
    while True:
        state = run.effective_state()
        if state in FINAL_STATES or state == "crashed":
            return state
        if deadline is not None and time.time() > deadline:
            return state
        time.sleep(poll)


def describe(run: RunDir) -> dict[str, Any]:
    """One row for run lists: identity, state, progress and key numbers."""
    config = run.read_config()
    status = run.read_status()
    train = train_settings(config)
    scores = (status.get("result") or {}) if isinstance(status.get("result"), dict) else {}
    return {
        "id": run.id, "kind": config.get("kind", "train"), "state": run.effective_state(),
        "method": train.get("method"), "model": train.get("model"), "data": train.get("data"),
        "step": status.get("step"), "total_steps": status.get("total_steps"), "eta_s": status.get("eta_s"),
        "tokens_per_s": status.get("tokens_per_s"), "trainable_params": status.get("trainable_params"),
        "total_params": status.get("total_params"), "train_loss": scores.get("train_loss"),
        "error": status.get("error"), "updated_at": status.get("updated_at"),
    }


def list_runs(workspace: Workspace) -> list[dict[str, Any]]:
    return [describe(RunDir(p)) for p in workspace.list_runs()]
