"""Studies on the tiny model: grid expansion, statistics, an end-to-end 2x2 study and its resumption."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from helpers import write_qa_dataset
from workbench.studies import results, specs
from workbench.rundir import RunDir

ROOT = Path(__file__).resolve().parent.parent


def spec_file(tmp_path: Path, data: Path) -> Path:
    spec = {
        "name": "grid", "data": str(data), "models": ["tiny"], "sizes": [1.0], "seeds": [1, 2], "baseline": "lora",
        "train": {"max_steps": 4, "eval_steps": 0, "probe_size": 0, "save_total_limit": 1},
        "variants": [{"name": "lora", "method": "lora", "params": {"rank": 2, "targets": "attention"}},
                     {"name": "prefix", "method": "prefix", "params": {"virtual_tokens": 2}}],
        "eval": {"limit": 3, "probe": False},
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_mean_and_confidence_interval_known_answer():
    stat = results.mean_ci([1.0, 2.0, 3.0])
    assert stat["mean"] == 2.0 and stat["n"] == 3
    assert math.isclose(stat["ci95"], 4.302652729749464 / math.sqrt(3), rel_tol=1e-9)
    assert results.mean_ci([5.0]) == {"mean": 5.0, "ci95": None, "n": 1}
    assert results.mean_ci([])["mean"] is None


def test_paired_differences_match_seeds():
    rows = [{"variant": v, "size": 1.0, "model": "m", "seed": s, "fact_acc": x}
            for v, s, x in [("lora", 1, 0.5), ("lora", 2, 0.6), ("joint", 1, 0.7), ("joint", 2, 0.7)]]
    summary = results.summarise(rows, "lora", metrics=("fact_acc",))
    (paired,) = summary["paired"]
    assert paired["variant"] == "joint" and math.isclose(paired["fact_acc"]["mean"], 0.15)
    joint = next(c for c in summary["cells"] if c["variant"] == "joint")
    assert joint["fact_acc"]["mean"] == 0.7 and joint["fact_acc"]["ci95"] == 0.0


def test_specs_are_checked_and_shipped_specs_parse():
    with pytest.raises(specs.StudyError, match="baseline 'nope' is not a variant"):
        specs.spec_from_dict({"name": "x", "baseline": "nope", "variants": [{"name": "lora"}]})
    with pytest.raises(specs.StudyError, match="sizes are shares"):
        specs.spec_from_dict({"name": "x", "sizes": [2], "variants": [{"name": "lora"}]})
    for name in ("paper-joint", "paper-cora", "sample-size", "architectures"):
        for quick in (False, True):
            spec = specs.read_spec(name, quick)
            assert specs.cells(spec), name


def run_cli(args: list[str], home: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "WORKBENCH_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "workbench", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def test_study_runs_end_to_end_and_resumes_after_being_killed(tmp_path):
    data = write_qa_dataset(tmp_path / "ds")
    spec = spec_file(tmp_path, data)
    home = tmp_path / "ws"
    folder = home / "studies" / "grid"

    first = run_cli(["study", str(spec)], home, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not list((folder / "cells").glob("*.json")):
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)  # the driver dies midway; finished cells stay cached
    first.wait()
    done_before = {p.stem for p in (folder / "cells").glob("*.json")}
    assert done_before and len(done_before) < 4
    started = {c: RunDir(home / "runs" / f"grid-{c}").read_status()["started_at"] for c in done_before}

    second = run_cli(["study", str(spec)], home)
    out, _ = second.communicate(timeout=600)
    assert second.returncode == 0, out
    for cell, t in started.items():  # finished cells were not trained again
        assert RunDir(home / "runs" / f"grid-{cell}").read_status()["started_at"] == t
    summary = json.loads((folder / "summary.json").read_text())
    variants = {c["variant"] for c in summary["cells"]}
    assert variants == {"lora", "prefix", "base"}
    assert all(c["n"] == 2 for c in summary["cells"])
    csv_rows = (folder / "results.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + 4 + 2  # header, 4 tuned cells, base once per seed
    report = (folder / "report.md").read_text()
    assert "Paired differences against `lora`" in report and (folder / "figures" / "rougeL.png").exists()
