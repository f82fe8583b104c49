"""Kill -9 the training worker at random moments and inside checkpoint writes, resume, and check that nothing
is lost or done twice.

Each trial starts a run on the tiny model (seconds per run), kills its worker with SIGKILL at a random moment
(or the instant a checkpoint folder is being written), resumes it, and waits for the end. A trial passes when
the run finishes at its last step, every JSON file in the run folder reads, metrics.jsonl holds each train step
once, and the adapter loads. Not a test: a few minutes. Prints a table and writes bench/results/faults.json.

    python bench/faults.py [--random 30] [--in-checkpoint 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench import jobs  # noqa: E402
from workbench.rundir import CHECKPOINT_WRITING, RunDir  # noqa: E402
from workbench.workspace import Workspace  # noqa: E402

OUT = ROOT / "bench" / "results" / "faults.json"
STEPS = 24


def dataset(ws: Workspace) -> Path:
    folder = ws.datasets / "faults"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"q{i}", "question": f"What is the code name of district {i}?",
             "answer": f"District {i} is called Finbar-{i * 7}.", "passage_id": f"p{i % 5}", "group": f"q{i}"}
            for i in range(40)]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def config(data: Path, seed: int) -> dict:
    return {"train": {"data": str(data), "model": "tiny", "method": "lora", "max_steps": STEPS, "save_steps": 2,
                      "eval_steps": 0, "probe_size": 0, "logging_steps": 1, "replay": 0.0, "seed": seed,
                      "threads": 1, "train_on_passages": False, "method_params": {"rank": 4}}}


def pid_of(run: RunDir, timeout: float = 60.0) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        pid = run.read_status().get("pid")
        if pid and run.read_status().get("state") == "running":
            return int(pid)
        time.sleep(0.02)
    raise RuntimeError(f"run {run.id} never reported a running worker")


def kill_at(run: RunDir, mode: str, rng: random.Random) -> str:
    """Kill the worker at a random moment, or when a checkpoint is being written; say where it died."""
    pid = pid_of(run)
    deadline = time.time() + 120
    if mode == "random":  # a random training step, then a random moment within it
        target = rng.randint(1, STEPS - 1)
        while time.time() < deadline and (run.read_status().get("step") or 0) < target:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.3))
    else:  # while the trainable weights of a random checkpoint are being written
        target = rng.randrange(2, STEPS, 2)
        while time.time() < deadline and not (run.checkpoints / f"checkpoint-{target}" / CHECKPOINT_WRITING).exists():
            time.sleep(0.0005)
    step = run.read_status().get("step")
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return "after the end"
    return f"step {step}"


def check(run: RunDir) -> list[str]:
    problems = []
    for path in run.path.rglob("*.json"):
        try:
            json.loads(path.read_text())
        except (ValueError, OSError) as exc:
            problems.append(f"{path.relative_to(run.path)} unreadable ({exc})")
    status = run.read_status()
    if status.get("state") != "finished":
        problems.append(f"state {status.get('state')}")
    steps = [r["step"] for r in run.read_metrics(0)[0] if r.get("split") == "train"]
    if len(steps) != len(set(steps)):
        problems.append(f"{len(steps) - len(set(steps))} duplicate train rows")
    if not steps or max(steps) != STEPS:
        problems.append(f"last logged step {max(steps) if steps else None}, want {STEPS}")
    if not (run.adapter / "adapter_model.safetensors").is_file():
        problems.append("no adapter")
    return problems


def trial(ws: Workspace, data: Path, n: int, mode: str, rng: random.Random) -> dict:
    run = jobs.create_run(ws, "train", config(data, seed=n), run_id=f"fault-{mode}-{n:02d}")
    jobs.start(run)
    where = kill_at(run, mode, rng)
    time.sleep(0.3)  # let the status show the dead worker
    start = time.time()
    if run.effective_state() != "finished":
        jobs.resume(run)
    end = jobs.wait(run, timeout=600)
    problems = check(run)
    return {"trial": n, "mode": mode, "killed_at": where, "end": end, "resume_s": round(time.time() - start, 1),
            "problems": problems, "ok": not problems}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--random", type=int, default=30, help="kills at random moments")
    ap.add_argument("--in-checkpoint", type=int, default=10, help="kills while a checkpoint is being written")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory(prefix="wb-faults-") as tmp:
        ws = Workspace(Path(tmp))
        data = dataset(ws)
        rows = [trial(ws, data, i, "random", rng) for i in range(args.random)]
        rows += [trial(ws, data, i, "checkpoint", rng) for i in range(args.in_checkpoint)]
    print(f"{'trial':>5} {'mode':10} {'killed at':>12} {'end':9} {'resume s':>8}  problems")
    for r in rows:
        print(f"{r['trial']:>5} {r['mode']:10} {r['killed_at']:>12} {r['end']:9} {r['resume_s']:>8}  "
              f"{'; '.join(r['problems']) or 'none'}")
    passed = sum(r["ok"] for r in rows)
    print(f"{passed}/{len(rows)} trials resumed to a finished run with every step logged once")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "trials": rows,
                                          "passed": passed, "total": len(rows)}, indent=1) + "\n")
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
