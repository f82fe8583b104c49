"""The run folder: the only channel between the UI/CLI and a worker process.

Layout (see DESIGN.md): config.json, status.json, metrics.jsonl, log.txt, STOP, checkpoints/,
adapter/, eval/. Each file has exactly one writer; JSON files are replaced atomically and
metrics.jsonl is read incrementally from a byte offset. This module does no training and no
process management. Standard library only (layer 1).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import NotFoundError

STATES = ("queued", "running", "finished", "failed", "stopped")
FINAL_STATES = ("finished", "failed", "stopped")


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and os.replace, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def process_started(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or None when there is no such process."""
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def process_identity(pid: int) -> str | None:
    """"<boot id>:<start tick>" of a Linux process, or None elsewhere (or with no such process). The kernel counts
    a process's start in ticks since boot, which no step of the wall clock moves; a start time in seconds since
    the epoch (``process_started``) moves with it: after an NTP correction, a suspended laptop or a virtual machine
    restored from a snapshot, a live worker's recomputed start time no longer matched and its run showed as
    crashed while it trained on."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = _boot_id()
        return f"{boot}:{fields[19]}" if boot else None  # field 22 of stat, counted from the state after the name
    except (OSError, IndexError):
        return None


@functools.cache
def _boot_id() -> str:
    """This boot's id (read once: the Runs tab asks for every live run's identity at each poll), "" without one."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def pid_alive(pid: int | None, started: float | None = None, identity: str | None = None) -> bool:
    """Whether process ``pid`` runs (zombies count as dead). A process that has the pid now but is another than
    the one recorded is a reused pid, not the worker: told by ``identity`` (process_identity) where it was
    recorded and can be read now, else by ``started`` (the start time recorded with the pid)."""
    import psutil

    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        now = process_identity(pid) if identity else None
        if now is not None:
            return now == identity
        return started is None or abs(proc.create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def worker_alive(status: dict[str, Any]) -> bool:
    """Whether the process a run's status names is alive and is that run's worker."""
    return pid_alive(status.get("pid"), status.get("pid_started"), status.get("pid_identity"))


log = logging.getLogger(__name__)


def decode_records(chunk: bytes, source: Path) -> list[dict[str, Any]]:
    """The JSON objects of whole lines; a corrupt line (a write torn by a crash, then appended to) is skipped
    and logged, so one bad line never hides a run's other records."""
    records, bad = [], 0
    for line in chunk.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            records.append(record)
        else:
            bad += 1
    if bad:
        log.warning("%s: skipped %d unreadable line(s)", source, bad)
    return records


PIN_RECORD = "PINNED.json"
FAILURE_RESERVE = "failure.reserve"
RESERVE_BYTES = 4096
DATA_FILES = ("train.jsonl", "test.jsonl", "passages.jsonl")


def _data_files(source: Path) -> dict[str, Path]:
    """{name in the pinned copy: file}: a folder's data files, or a JSONL file as train.jsonl."""
    if source.is_dir():
        return {name: source / name for name in DATA_FILES if (source / name).is_file()}
    return {"train.jsonl": source} if source.is_file() else {}


def _digests(source: Path) -> dict[str, str]:
    """{name: SHA-256} of the data files of ``source`` (a dataset folder, a JSONL file or a pinned copy)."""
    return {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in _data_files(source).items()}


def train_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The training settings of a config mapping: a run's config.json keeps them under "train", a settings file
    (config.yaml, a flat JSON file) at the top level. The one place that knows both shapes."""
    inner = config.get("train", config)
    return dict(inner) if isinstance(inner, Mapping) else {}


@dataclass(frozen=True)
class SavedModel:
    """What a run's ``adapter/`` folder holds: PEFT adapter folders (``adapter/`` itself, or the parts of a joint
    run such as ``prefix/`` and ``lora/``), or else a whole model (full or partial fine-tuning)."""

    path: Path
    adapters: tuple[Path, ...]  # folders with an adapter_config.json; empty for a whole model

    @property
    def whole(self) -> bool:
        return not self.adapters

    def lora_folder(self) -> Path | None:
        """The folder whose adapter changes weight matrices (LoRA, QLoRA, CoRA, a joint run's LoRA part), or
        None (a whole model, or a prefix-only adapter)."""
        for folder in (self.path, self.path / "lora"):
            if folder in self.adapters and adapter_type(folder) == "LORA":
                return folder
        return None


def adapter_type(folder: Path) -> str | None:
    """The peft_type an adapter folder's adapter_config.json names (LORA, PREFIX_TUNING, ...)."""
    config = read_json(Path(folder) / ADAPTER_CONFIG)
    return config.get("peft_type") if isinstance(config, dict) else None


ADAPTER_CONFIG = "adapter_config.json"


# A launcher waits up to 30 s for its worker to announce itself; a queued run with no worker after this long
# was never started (the launcher died, or the disk was full).
NEVER_STARTED_S = 120.0
CHECKPOINT_COMPLETE = "COMPLETE"  # written last into a checkpoint folder: everything before it is whole
CHECKPOINT_WRITING = "WRITING"  # present while the trainable weights are being written


@dataclass(frozen=True)
class RunDir:
    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def id(self) -> str:
        return self.path.name

    # files ------------------------------------------------------------------------------------
    config_file = property(lambda self: self.path / "config.json")
    status_file = property(lambda self: self.path / "status.json")
    metrics_file = property(lambda self: self.path / "metrics.jsonl")
    log_file = property(lambda self: self.path / "log.txt")
    stop_file = property(lambda self: self.path / "STOP")
    checkpoints = property(lambda self: self.path / "checkpoints")
    adapter = property(lambda self: self.path / "adapter")
    eval_dir = property(lambda self: self.path / "eval")

    def exists(self) -> bool:
        return self.config_file.exists()

    # config: written once, before the worker starts ---------------------------------------------
    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_json(self.config_file, config)

    def read_config(self) -> dict[str, Any]:
        data = read_json(self.config_file)
        if data is None:
            raise NotFoundError(f"{self.path} is not a run folder (no config.json)")
        return data

    def read_summary(self) -> dict[str, Any]:
        """summary.json, written by training at the start and the end (counts, learning rate, losses), or {}."""
        return read_json(self.path / "summary.json", {}) or {}

    def train_config(self) -> dict[str, Any]:
        """The training settings the run was created with (for other kinds of job: their whole config)."""
        return train_settings(self.read_config())

    # the tuned model: written by the worker at the end (or at a stop) ---------------------------------
    def saved_model(self) -> SavedModel | None:
        """What ``adapter/`` holds, or None while it holds no model yet. One rule for every reader: folders with
        an adapter_config.json are PEFT adapters; without any, a config.json there is a whole model."""
        folder = self.adapter
        adapters = tuple(p for p in (folder, *sorted(q for q in folder.glob("*") if q.is_dir()))
                         if (p / ADAPTER_CONFIG).exists()) if folder.is_dir() else ()
        if adapters or (folder / "config.json").exists():
            return SavedModel(folder, adapters)
        return None

    # status: worker writes, everyone reads --------------------------------------------------------
    def read_status(self) -> dict[str, Any]:
        status = read_json(self.status_file, {"state": "queued"}) or {"state": "queued"}
        # a failure written into the reserve when status.json could not be: status.json then still says the run
        # is queued or running, so a run in a final state needs no second read
        reserved = self.reserved_failure() if status.get("state") in ("queued", "running") else None
        if reserved and reserved.get("updated_at", 0) > status.get("updated_at", 0):
            status.update(reserved)
        return status

    # the failure reason's reserve: room taken at start, so a full disk cannot erase why a run failed -------
    failure_reserve = property(lambda self: self.path / FAILURE_RESERVE)

    def reserve_failure_space(self) -> None:
        """Fill the reserve with blanks (a resumed run clears its old failure this way)."""
        with open(self.failure_reserve, "wb") as fh:
            fh.write(b" " * RESERVE_BYTES)
            fh.flush()
            os.fsync(fh.fileno())

    def write_failure_in_reserve(self, fields: dict[str, Any]) -> bool:
        """Write ``fields`` over the reserve's blanks in place, needing no new disk block; False if there is no
        reserve or it cannot be written either."""
        fields = {**fields, "updated_at": time.time()}
        error = dict(fields.get("error") or {})
        error["message"] = str(error.get("message", ""))[:1000]
        data = json.dumps({**fields, "error": error}, default=str).encode()[:RESERVE_BYTES]
        try:
            with open(self.failure_reserve, "r+b") as fh:
                fh.write(data.ljust(RESERVE_BYTES))
                fh.flush()
                os.fsync(fh.fileno())
            return True
        except OSError:
            return False

    def reserved_failure(self) -> dict[str, Any] | None:
        try:
            text = self.failure_reserve.read_bytes().strip()
            return json.loads(text) if text else None
        except (OSError, ValueError):
            return None

    def write_status(self, **fields: Any) -> dict[str, Any]:
        status = self.read_status()
        status.update(fields)
        status["updated_at"] = time.time()
        atomic_write_json(self.status_file, status)
        return status

    def effective_state(self) -> str:
        """The state as a user should see it: a queued or running run whose process is gone has crashed, and
        so has one queued with no process long after its launch (the launcher died before starting it)."""
        status = self.read_status()
        state = status.get("state", "queued")
        if state in ("queued", "running") and status.get("pid") and not worker_alive(status):
            return "crashed"
        if state == "queued" and not status.get("pid") and time.time() - (status.get("queued_at") or time.time()) \
                > NEVER_STARTED_S:
            return "crashed"
        return state

    # metrics: worker appends, readers read from an offset -----------------------------------------
    def append_metric(self, record: dict[str, Any]) -> None:
        record = {**record, "t": record.get("t", time.time())}
        line = json.dumps(record, ensure_ascii=False, default=float) + "\n"
        with open(self.metrics_file, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()

    def drop_metrics_after(self, step: int) -> int:
        """Remove the records of steps after ``step``, which a resumed run trains (and logs) again; returns how
        many went. The file is replaced whole, so a reader sees it before or after, never half."""
        records, _ = self.read_metrics(0)
        kept = [r for r in records if int(r.get("step") or 0) <= step]
        if len(kept) < len(records):
            atomic_write_text(self.metrics_file, "".join(json.dumps(r, ensure_ascii=False, default=float) + "\n"
                                                         for r in kept))
        return len(records) - len(kept)

    def read_metrics(self, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Complete records written since ``offset`` and the offset to pass next time."""
        try:
            with open(self.metrics_file, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
        except FileNotFoundError:
            return [], offset
        end = chunk.rfind(b"\n") + 1  # a half-written last line waits for the next read
        return decode_records(chunk[:end], self.metrics_file), offset + end

    def tail_metrics(self, nbytes: int = 65536) -> list[dict[str, Any]]:
        """The last complete records of metrics.jsonl (enough for latest values without reading it all)."""
        try:
            size = self.metrics_file.stat().st_size
        except FileNotFoundError:
            return []
        start = max(0, size - nbytes)
        with open(self.metrics_file, "rb") as fh:
            fh.seek(start)
            chunk = fh.read()
        if start:
            chunk = chunk[chunk.find(b"\n") + 1:]  # the first line read from the middle is partial
        return decode_records(chunk[:chunk.rfind(b"\n") + 1], self.metrics_file)

    # pinned inputs: the data a run trains on, copied at its first start ---------------------------
    pinned = property(lambda self: self.path / "data")

    def pinned_data(self) -> Path | None:
        """The run's own copy of its training data (a folder with train.jsonl, and test.jsonl and
        passages.jsonl where the dataset had them), or None before the run first started."""
        return self.pinned if (self.pinned / PIN_RECORD).is_file() else None

    def pin_data(self, source: Path) -> Path:
        """Copy the dataset (a folder, or a JSONL file of pairs) into ``data/`` once, with the SHA-256 of each
        file, so that a resume or an evaluation reads what the run trained on even after the dataset is
        edited. Later calls return the copy and log when the source has changed since."""
        source = Path(source)
        if self.pinned_data() is not None:
            record = read_json(self.pinned / PIN_RECORD, {}) or {}
            if _digests(source) != record.get("sha256"):
                log.info("run %s: %s changed since the run started; it keeps using its copy in %s", self.id,
                         source, self.pinned)
            return self.pinned
        files = _data_files(source)
        tmp = Path(tempfile.mkdtemp(dir=self.path, prefix=".data-"))
        for name, src in files.items():
            shutil.copyfile(src, tmp / name)
        # the digests of the copy, not of the source: it is the copy the record vouches for
        atomic_write_json(tmp / PIN_RECORD, {"source": str(source), "sha256": _digests(tmp),
                                             "pinned_at": time.time()})
        shutil.rmtree(self.pinned, ignore_errors=True)  # a copy left half-made by a crash
        os.replace(tmp, self.pinned)
        return self.pinned

    # stop flag ---------------------------------------------------------------------------------
    def request_stop(self) -> None:
        atomic_write_text(self.stop_file, str(time.time()))

    def stop_requested(self) -> bool:
        return self.stop_file.exists()

    def clear_stop(self) -> None:
        self.stop_file.unlink(missing_ok=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_file, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - 64 * 1024))
                text = fh.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def complete_checkpoints(self) -> list[Path]:
        """Checkpoints whose writing finished, oldest first: those with the marker file that is written last.
        A process killed while writing one leaves it without, and it is never resumed from. Checkpoints from
        before markers count when their trainer state and trainable weights are there and none was cut short."""
        if not self.checkpoints.is_dir():
            return []
        found = sorted((p for p in self.checkpoints.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
                       key=lambda p: int(p.name.split("-")[-1]))
        marked = [p for p in found if (p / CHECKPOINT_COMPLETE).exists()]
        if marked:
            return marked
        return [p for p in found if (p / "trainer_state.json").exists() and (p / "trainable.safetensors").exists()
                and not (p / CHECKPOINT_WRITING).exists()]

    def last_checkpoint(self) -> Path | None:
        """The newest complete checkpoint (see ``complete_checkpoints``), or None."""
        done = self.complete_checkpoints()
        return done[-1] if done else None
