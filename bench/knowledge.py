"""Does a document go in and a model that knows it come out? The README's defaults, end to end, per document.

For each made-up document in bench/knowledge_docs/ (its 30 questions and key facts were written before any
pair was generated from it): `qa DOC --out NAME`, `train --data NAME`, `eval --run RUN` exactly as a user
types them (every setting at its default), timed per stage; then the document's own reworded questions are
answered by the base and the tuned model (`eval --data QUESTIONS --no-probe`, outside the timed budget) and
judged by whether the answer contains the key fact (whole words, case-insensitive; numbers as numbers). A
document with a second question set (knowledge_docs/extra/) is asked that too, reported apart.

Prints one row per document (pairs per fact, base and tuned key-fact accuracy, forgetting probe before and
after, seconds per stage) and writes bench/results/knowledge.json. Not a test: about 15 minutes a document
on a 2-core CPU.

    python bench/knowledge.py [--docs report,biography] [--workspace DIR] [--keep] [--train "--epochs 5"]
        [--qa "--wordings 6"] [--seeds 1,2,3] [--out FILE]

--train and --qa pass settings to `train` and `qa` (a lever being measured); the README's table comes from a
run without them. --seeds trains each document once per training seed (the same pairs; the seed draws the
adapter's initial weights, the batches and dropout) and prints each document's mean and range: two runs of the
same code have differed by two questions a document, and most levers move a document by less than five.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "bench" / "knowledge_docs"
OUT = ROOT / "bench" / "results" / "knowledge.json"
GOAL = {"tuned_min": 0.80, "base_max": 0.10, "minutes_max": 15.0, "forgetting_drop_max": 0.05}


def cli(workspace: Path, *args: str) -> tuple[str, float]:
    """Run `python -m workbench --workspace WS ARGS` and return (its output, seconds)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "workbench", "--workspace", str(workspace), *args], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"`workbench {' '.join(args)}` failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-3000:]}")
    return proc.stdout, seconds


def latest_run(workspace: Path, kind: str = "train") -> Path:
    runs = [p for p in (workspace / "runs").iterdir() if (p / "config.json").exists()
            and json.loads((p / "config.json").read_text()).get("kind", "train") == kind]
    return max(runs, key=lambda p: p.stat().st_mtime)


def question_file(doc: str, folder: Path, source: Path | None = None, name: str = "questions") -> Path:
    """The document's questions as a QA file the eval command reads: the reference answer is the key fact."""
    source = source or DOCS / f"{doc}.questions.jsonl"
    rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    path = folder / f"{Path(doc).name}-{name}.jsonl"
    with path.open("w") as f:
        for i, row in enumerate(rows):
            f.write(json.dumps({"id": f"{doc}-q{i:02d}", "question": row["question"],
                                "answer": " ".join(k.split("|")[0] for k in row["keys"]), "keys": row["keys"]}) + "\n")
    return path


def one_document(doc: str, workspace: Path, train_args: list[str], qa_args: list[str] = ()) -> dict:
    name = f"bench-{Path(doc).name}"  # a validation/ document keeps its folder out of the dataset name
    _, qa_s = cli(workspace, "qa", str(DOCS / f"{doc}.md"), "--out", name, "--overwrite", *qa_args)
    report = json.loads((workspace / "datasets" / name / "report.json").read_text())
    _, train_s = cli(workspace, "train", "--data", name, *train_args)
    run = latest_run(workspace)
    _, eval_s = cli(workspace, "eval", "--run", run.name)
    own = json.loads((run / "eval" / "scores.json").read_text())
    questions = question_file(doc, workspace)
    _, ask_s = cli(workspace, "eval", "--run", run.name, "--data", str(questions), "--no-probe",
                   "--metrics", "fact_acc")
    asked = json.loads((run / "eval" / "scores.json").read_text())
    extra = extra_questions(doc, workspace, run)
    facts = report.get("facts", {})
    forgetting = own.get("forgetting") or {}
    train_metrics = json.loads((run / "status.json").read_text())
    return {
        "document": doc, "words": len((DOCS / f"{doc}.md").read_text().split()),
        "questions": sum(1 for line in questions.read_text().splitlines() if line.strip()),
        "facts": facts.get("facts"), "facts_asked": facts.get("asked"), "pairs_per_fact": facts.get("pairs_per_fact"),
        "pairs_train": report["counts"]["train"], "pairs_test": report["counts"]["test"],
        "train_steps": train_metrics.get("total_steps"),
        "base_fact_acc": asked["base"].get("fact_acc"), "tuned_fact_acc": asked["tuned"].get("fact_acc"),
        "heldout_base_fact_acc": own["base"].get("fact_acc"), "heldout_tuned_fact_acc": own["tuned"].get("fact_acc"),
        "forgetting_before": forgetting.get("base", {}).get("fact_acc"),
        "forgetting_after": forgetting.get("tuned", {}).get("fact_acc"),
        "qa_s": round(qa_s, 1), "train_s": round(train_s, 1), "eval_s": round(eval_s, 1),
        "total_min": round((qa_s + train_s + eval_s) / 60, 2), "questions_s": round(ask_s, 1),
        "train_args": " ".join(train_args), "qa_args": " ".join(qa_args),
        "precision": json.loads((run / "summary.json").read_text()).get("model", {}).get("dtype"),
        "base_answers_reused": own.get("settings", {}).get("base_answers_reused"),
        **extra,
    }


def extra_questions(doc: str, workspace: Path, run: Path) -> dict:
    """The tuned model on the document's second set of questions (knowledge_docs/extra/), where it has one:
    written later, the same way, about other facts where the document allowed. Kept apart so that the first
    set's figures stay comparable with earlier runs; 30 more questions halve the noise a question draw adds."""
    source = DOCS / "extra" / f"{doc}.questions.jsonl"
    if not source.exists():
        return {}
    questions = question_file(doc, workspace, source, "extra-questions")
    cli(workspace, "eval", "--run", run.name, "--data", str(questions), "--no-probe", "--metrics", "fact_acc")
    scores = json.loads((run / "eval" / "scores.json").read_text())
    return {"extra_questions": sum(1 for line in questions.read_text().splitlines() if line.strip()),
            "extra_base_fact_acc": scores["base"].get("fact_acc"),
            "extra_tuned_fact_acc": scores["tuned"].get("fact_acc")}


def spread(rows: list[dict]) -> str:
    """Per document over its seeds: questions answered (mean, lowest, highest) and the probe's largest drop."""
    lines = [f"{'document':24} {'seeds':>5} {'tuned mean':>10} {'lowest':>6} {'highest':>7} "
             f"{'largest probe drop':>18}"]
    for doc in dict.fromkeys(r["document"] for r in rows):
        runs = [r for r in rows if r["document"] == doc]
        answered = [round((r["tuned_fact_acc"] or 0) * r["questions"]) for r in runs]
        drop = max((r["forgetting_before"] or 0) - (r["forgetting_after"] or 0) for r in runs)
        lines.append(f"{doc:24} {len(runs):>5} {sum(answered) / len(runs):>10.1f} {min(answered):>6} "
                     f"{max(answered):>7} {drop * 100:>17.1f}")
    return "\n".join(lines)


def meets(row: dict) -> bool:
    drop = (row["forgetting_before"] or 0) - (row["forgetting_after"] or 0)
    return (row["tuned_fact_acc"] or 0) >= GOAL["tuned_min"] and (row["base_fact_acc"] or 0) <= GOAL["base_max"] \
        and row["total_min"] <= GOAL["minutes_max"] and drop <= GOAL["forgetting_drop_max"]


def table(rows: list[dict]) -> str:
    head = (f"{'document':10} {'facts':>5} {'pairs/fact':>10} {'train':>5} {'base':>5} {'tuned':>5} "
            f"{'forget before->after':>20} {'qa s':>5} {'train s':>7} {'eval s':>6} {'total min':>9}  goal  extra")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['document']:10} {r['facts']:>5} {r['pairs_per_fact']:>10} {r['pairs_train']:>5} "
                     f"{r['base_fact_acc']:>5.2f} {r['tuned_fact_acc']:>5.2f} "
                     f"{r['forgetting_before']:>9.2f} -> {r['forgetting_after']:<7.2f} {r['qa_s']:>5.0f} "
                     f"{r['train_s']:>7.0f} {r['eval_s']:>6.0f} {r['total_min']:>9.1f}  "
                     f"{'met' if meets(r) else 'missed':6}  {_extra(r)}")
    return "\n".join(lines)


def _extra(row: dict) -> str:
    """The tuned model's share of the second question set, where the document has one."""
    acc = row.get("extra_tuned_fact_acc")
    return "" if acc is None else f"{acc:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", default=",".join(sorted(p.stem for p in DOCS.glob("*.md") if p.stem != "README")))
    ap.add_argument("--workspace", help="workspace to use (default: a fresh temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    ap.add_argument("--train", default="", help="extra `train` arguments, e.g. \"--epochs 5\"")
    ap.add_argument("--qa", default="", help="extra `qa` arguments, e.g. \"--wordings 6\"")
    ap.add_argument("--seeds", default="", help="training seeds, comma-separated: one run of each document per seed "
                    "(default: train's own seed, one run)")
    ap.add_argument("--out", default=str(OUT), help="where to write the JSON (default: %(default)s)")
    args = ap.parse_args()
    seeds = [s.strip() for s in args.seeds.split(",") if s.strip()] or [""]
    workspace = Path(args.workspace or tempfile.mkdtemp(prefix="wb-knowledge-")).resolve()
    rows: list[dict] = []
    try:
        for doc in args.docs.split(","):
            for seed in seeds:
                seeded = ["--seed", seed] if seed else []
                rows.append({**one_document(doc, workspace, args.train.split() + seeded, args.qa.split()),
                             "seed": int(seed) if seed else None})
                print(table(rows[-1:]).splitlines()[-1], flush=True)
                write(rows, Path(args.out))  # after each run, so a long run that is cut short keeps what it measured
    finally:
        if not args.workspace and not args.keep:
            shutil.rmtree(workspace, ignore_errors=True)
    print(table(rows))
    if len(seeds) > 1:
        print(spread(rows))
    print(f"wrote {args.out}")
    return 0


def write(rows: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
              "goal": GOAL, "documents": rows, "all_met": all(meets(r) for r in rows)}
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
