"""How long one tick of the Runs tab's live view takes on a long run: a run folder whose metrics.jsonl holds
10,000 records (train, eval and probe lines as a real run writes them) and a status.json that changes.

Times `ui.runs.watch_outputs` (read what is new, redraw the three figures, read the log tail) for:
  first     opening the run (everything read from byte 0)
  one new   the common tick of a running job: one record and a status update since the last tick
  nothing   a tick where nothing changed (the figures are not redrawn)
Median and worst of --repeat ticks; prints a table, writes bench/results/runs_poll.json.

    .venv/bin/python bench/runs_poll.py [--records 10000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "results" / "runs_poll.json"
GOAL_MS = 50.0


def record(step: int) -> dict:
    if step % 500 == 0:
        return {"step": step, "split": "probe", "epoch": step / 2500, "seconds": 5.2, "bleu4": 0.31, "rougeL": 0.52,
                "fact_acc": 0.4, "example": {"q": "When did the line open?", "a": "The line opened in 1891."}}
    if step % 250 == 0:
        return {"step": step, "split": "eval", "epoch": step / 2500, "loss": 0.8 / (1 + step / 1000)}
    return {"step": step, "split": "train", "epoch": step / 2500, "loss": 2.0 / (1 + step / 500),
            "learning_rate": 1e-3 * (1 - step / 10000), "grad_norm": 0.5, "tokens_per_s": 180.0, "time": 1.7e9 + step}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    from workbench.rundir import RunDir
    from workbench.ui import runs
    from workbench.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WORKBENCH_HOME"] = tmp
        ws = Workspace(Path(tmp))
        run = RunDir(ws.runs / ws.new_run_id("lora"))
        run.path.mkdir(parents=True)
        run.write_config({"kind": "train", "train": {"method": "lora", "model": "smollm2", "data": "d"}})
        run.write_status(state="running", step=args.records, total_steps=args.records * 2)
        with open(run.metrics_file, "w") as fh:
            for step in range(1, args.records + 1):
                fh.write(json.dumps(record(step)) + "\n")
        times: dict[str, list[float]] = {"first": [], "one new": [], "nothing": []}
        for i in range(args.repeat):
            t0 = time.perf_counter()
            out = runs.watch_outputs(ws, run.id, None)
            times["first"].append(time.perf_counter() - t0)
            watch = out[0]
            with open(run.metrics_file, "a") as fh:
                fh.write(json.dumps(record(args.records + i + 1)) + "\n")
            run.write_status(state="running", step=args.records + i + 1)
            t0 = time.perf_counter()
            out = runs.watch_outputs(ws, run.id, watch)
            times["one new"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            runs.watch_outputs(ws, run.id, out[0])
            times["nothing"].append(time.perf_counter() - t0)
    rows = {name: {"median_ms": round(statistics.median(t) * 1000, 1), "worst_ms": round(max(t) * 1000, 1)}
            for name, t in times.items()}
    print(f"{'tick':10} {'median ms':>10} {'worst ms':>9}   ({args.records} records; goal: a running job's tick "
          f"under {GOAL_MS:.0f} ms)")
    for name, r in rows.items():
        print(f"{name:10} {r['median_ms']:>10} {r['worst_ms']:>9}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, "
                               f"{os.cpu_count()} CPUs", "records": args.records, "repeat": args.repeat,
                               "goal_ms": GOAL_MS, "ticks": rows,
                               "met": rows["one new"]["median_ms"] < GOAL_MS}, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
