"""Evaluation speed: `eval` as of a baseline commit against `eval` from this tree, on the same trained run.

The run: SmolLM2, LoRA with the workbench's defaults, trained briefly by the baseline's own code on the pairs
`qa` makes from bench/knowledge_docs/report.md. The evaluation is `eval`'s default work: the run's held-out
questions (the first --questions of them), the forgetting probe and the perplexity of the reference answers,
for the base and the tuned model. Rows, alternated over the rounds so that a noisy machine slows all alike:

  baseline            `python -m workbench eval` from a git worktree of --baseline, no cached base answers
  baseline-cached     the same where an earlier evaluation of the same questions left the base model's answers
  workbench-generate  this tree with transformers' generate in batches of 16 (--drop-finished false
                      --batch-size 16): the old decoding at this tree's evaluation precision
  workbench           this tree's defaults, no cached base answers
  workbench-cached    this tree where an earlier evaluation left the base answers (every evaluation after the
                      first)

Per row: the command's wall time (process start and model loading included), eval's own total, and its
base and tuned generation seconds. Answers are compared within a precision: the baseline rows with the
baseline (bf16 on a CPU that has it), this tree's rows with workbench-generate (fp32 on a CPU): how many
base, tuned and forgetting-probe answers are identical, and the largest relative difference of a question's
perplexity. Prints a table, writes bench/results/eval_speed.json.

    .venv/bin/python bench/eval_speed.py [--baseline REV] [--rounds 2] [--questions 30] [--steps 60]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "eval_speed.json"
ROWS = ("baseline", "baseline-cached", "workbench-generate", "workbench", "workbench-cached")
SETTINGS = {"workbench-generate": ["--drop-finished", "false", "--batch-size", "16"]}
REFERENCE = {"baseline": "baseline", "baseline-cached": "baseline", "workbench-generate": "workbench-generate",
             "workbench": "workbench-generate", "workbench-cached": "workbench-generate"}
BASELINE = "94bc95c"  # the last commit before packing, answer-only perplexity and dropped finished rows


def cli(code: Path, ws: Path, args: list[str], env: dict[str, str] | None = None) -> float:
    """Run the workbench CLI of the tree at ``code`` on workspace ``ws``; returns its wall time."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "workbench", "--workspace", str(ws), *args], cwd=code,
                          capture_output=True, text=True, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed in {code}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def prepare(base_tree: Path, ws: Path, steps: int) -> str:
    """QA pairs and a trained run, both made by the baseline's code; returns the run id."""
    cli(base_tree, ws, ["qa", str(ROOT / "bench" / "knowledge_docs" / "report.md"), "--out", "evs"])
    cli(base_tree, ws, ["train", "--data", "evs", "--max-steps", str(steps), "--probe-size", "0",
                        "--learning-rate", "1e-3"])
    return next(p.name for p in sorted((ws / "runs").iterdir()) if (p / "summary.json").exists())


def evaluate(code: Path, ws: Path, run: str, name: str, questions: int, cache: Path,
             settings: list[str] = ()) -> dict:
    wall = cli(code, ws, ["eval", "--run", run, "--limit", str(questions), "--run-dir", name, *settings],
               env={"WORKBENCH_BASE_ANSWERS": str(cache)})
    out = ws / "runs" / name / "eval"
    scores = json.loads((out / "scores.json").read_text())
    timing = scores.get("timings") or {}
    return {"wall_s": round(wall, 1), "total_s": timing.get("total_s"),
            "base_generate_s": timing.get("base_generate_s"), "tuned_generate_s": timing.get("tuned_generate_s"),
            "predictions": _jsonl(out / "predictions.jsonl"), "forgetting": _jsonl(out / "forgetting.jsonl")}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def agreement(row: dict, base: dict) -> dict:
    """How many answers equal the baseline's, and the largest relative perplexity difference per question."""
    pred, ref = row["predictions"], base["predictions"]
    ppl_gap = max((abs(p["scores"][side]["ppl"] / r["scores"][side]["ppl"] - 1)
                   for p, r in zip(pred, ref) for side in ("base", "tuned")
                   if p["scores"][side]["ppl"] and r["scores"][side]["ppl"]), default=0.0)
    same = {side: sum(p[side] == r[side] for p, r in zip(pred, ref)) for side in ("base", "tuned")}
    probe = sum(p[side] == r[side] for p, r in zip(row["forgetting"], base["forgetting"])
                for side in ("base", "tuned"))
    return {"questions": len(ref), "same_base": same["base"], "same_tuned": same["tuned"],
            "probe_answers": 2 * len(base["forgetting"]), "same_probe": probe, "max_ppl_gap": round(ppl_gap, 5)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default=BASELINE, help="git revision whose eval is the baseline")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--questions", type=int, default=30)
    ap.add_argument("--steps", type=int, default=60, help="training steps of the evaluated run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        base_tree = tmp_path / "baseline"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(base_tree), args.baseline], cwd=ROOT,
                       check=True)
        try:
            results = measure(args, tmp_path, base_tree)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    report(results, args)
    return 0


def measure(args: argparse.Namespace, tmp: Path, base_tree: Path) -> dict:
    ws = tmp / "ws"
    run = prepare(base_tree, ws, args.steps)
    warm = {"baseline": tmp / "cache-warm-baseline", "workbench": tmp / "cache-warm"}
    for side, code in (("baseline", base_tree), ("workbench", ROOT)):  # also warms the file cache for all rows
        evaluate(code, ws, run, f"warm-up-{side}", args.questions, warm[side])
    runs: dict[str, list[dict]] = {r: [] for r in ROWS}
    for i in range(args.rounds):
        for row in ROWS if i % 2 == 0 else ROWS[::-1]:
            code = base_tree if row.startswith("baseline") else ROOT
            cache = warm[row.split("-")[0]] if row.endswith("-cached") else tmp / f"cache-{row}-{i}"
            runs[row].append(evaluate(code, ws, run, f"{row}-{i}", args.questions, cache, SETTINGS.get(row, [])))
            print(f"round {i + 1}: {row:19} {runs[row][-1]['wall_s']:7.1f} s", flush=True)
    return {row: {"wall_s": [r["wall_s"] for r in rs], "total_s": [r["total_s"] for r in rs],
                  "base_generate_s": [r["base_generate_s"] for r in rs],
                  "tuned_generate_s": [r["tuned_generate_s"] for r in rs],
                  "best_wall_s": min(r["wall_s"] for r in rs),
                  "median_wall_s": round(statistics.median(r["wall_s"] for r in rs), 1),
                  "agreement": agreement(rs[0], runs[REFERENCE[row]][0]), "compared_with": REFERENCE[row]}
            for row, rs in runs.items()}


def report(results: dict, args: argparse.Namespace) -> None:
    base = results["baseline"]["best_wall_s"]
    print(f"\n{'row':19} {'wall s':>7} {'(median)':>9} {'eval total':>11} {'base gen':>9} {'tuned gen':>10} "
          f"{'speed-up':>9}  same answers as (base/tuned/probe)   max ppl gap")
    for row, r in results.items():
        a = r["agreement"]
        print(f"{row:19} {r['best_wall_s']:>7} {r['median_wall_s']:>9} {min(r['total_s']):>11} "
              f"{min(r['base_generate_s']):>9} {min(r['tuned_generate_s']):>10} {base / r['best_wall_s']:>8.2f}x  "
              f"{r['compared_with']}: {a['same_base']}/{a['questions']}, {a['same_tuned']}/{a['questions']}, "
              f"{a['same_probe']}/{a['probe_answers']}  {a['max_ppl_gap']}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "model": "smollm2", "baseline": args.baseline, "questions": args.questions, "train_steps": args.steps,
        "rows": results,
        "speed_up": {row: round(base / r["best_wall_s"], 2) for row, r in results.items()}}, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
