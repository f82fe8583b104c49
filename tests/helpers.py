"""Small builders shared by tests: QA fixtures and run configs on the tiny model."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


def write_qa_dataset(folder: Path, n_train: int = 24, n_test: int = 6) -> Path:
    """A dataset folder of made-up facts (train.jsonl / test.jsonl)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"question": f"What is the code name of district {i}?",
             "answer": f"District {i} is called Project {chr(65 + i % 26)}{i * 7}."} for i in range(n_train + n_test)]
    for name, part in (("train", rows[:n_train]), ("test", rows[n_train:])):
        (folder / f"{name}.jsonl").write_text("\n".join(json.dumps(r) for r in part) + "\n")
    return folder


def tiny_train_config(data: Path, **overrides: Any) -> dict[str, Any]:
    cfg = {"data": str(data), "model": "tiny", "method": "lora", "max_steps": 8, "eval_steps": 4,
           "probe_size": 0, "logging_steps": 1, "method_params": {"rank": 4, "targets": "attention"},
           "replay": 0.0}  # replay has its own tests; here it would only add random tiny-model answers
    cfg.update(overrides)
    return cfg


def wait_until(predicate, timeout: float = 120.0, poll: float = 0.2):
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"condition not reached in {timeout:.0f} s")


def stall_on_stall_files(path: str, max_bytes: int, source: str):
    """A reader for the time-limit tests: a file named stall.* never finishes; others read normally. It runs
    in the reading helper process, which imports it from here."""
    from workbench import corpus

    if source.rsplit("/", 1)[-1].startswith("stall"):
        time.sleep(600)
    return corpus.load_document(path, max_bytes, source)


def refuse_to_read(path: str, max_bytes: int, source: str):
    raise RuntimeError("read again")


def districts_workspace(factory: Any, name: str) -> Any:
    """A workspace (from a pytest tmp_path_factory) holding the districts QA dataset."""
    from workbench.workspace import Workspace

    ws = Workspace(factory.mktemp(name))
    write_qa_dataset(ws.datasets / "districts")
    return ws


def train_tiny(ws: Any, data: Path, run_id: str, **overrides: Any) -> Any:
    """A LoRA run on the tiny model, trained in this process at a high rate so that it differs from its base."""
    from workbench.train import train

    cfg = tiny_train_config(data, max_steps=24, learning_rate=3e-2, eval_steps=0, save_steps=1000, threads=1,
                            method_params={"rank": 8, "targets": "all-linear"})
    cfg.update(overrides)
    from workbench import jobs

    run = jobs.create_run(ws, "train", {"train": cfg}, run_id=run_id)
    train(run)
    return run
