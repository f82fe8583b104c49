"""The study driver: a grid of methods x training-set sizes x base models x seeds, each cell a normal training run
plus an evaluation run through the job queue, then statistics with 95% confidence intervals.

The driver is resumable: cells have fixed run ids (``<study>-<cell>``), so a restarted study skips finished
cells, waits for cells still running and resumes stopped or crashed ones. It writes
``studies/<name>/results.csv``, ``summary.json`` and ``report.md`` (with PNG figures). It trains nothing in
its own process and knows nothing of the UI. Specs are read by specs.py; results.csv is read by results.py.
"""

from __future__ import annotations

import csv
import json
import logging
import random
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable


from .. import jobs
from ..config import ConfigError, QAGenConfig, TrainConfig, from_dict, to_dict
from ..rundir import RunDir, atomic_write_json, atomic_write_text, read_json
from ..workspace import Workspace
from .results import REPORT_METRICS, summarise
from .specs import BASE_VARIANT, Cell, StudyError, StudySpec, Variant, cells, read_spec

log = logging.getLogger(__name__)

SAMPLE_CORPUS = Path(__file__).resolve().parents[2] / "assets" / "sample_corpus"

Progress = Callable[[str], None]


# data --------------------------------------------------------------------------------------------

def prepare_data(spec: StudySpec, ws: Workspace, folder: Path) -> Path:
    """The study's dataset: built once from a corpus with the rule-based generator, or an existing one."""
    if spec.data not in ("sample",) and not Path(spec.data).is_dir():
        return ws.dataset_path(spec.data)
    corpus = SAMPLE_CORPUS if spec.data == "sample" else Path(spec.data)
    if (corpus / "train.jsonl").exists():
        return corpus
    out = folder / "data"
    if not (out / "train.jsonl").exists():
        from ..qa.pipeline import build_dataset

        build_dataset([corpus], out, QAGenConfig(fallback_only=True, paraphrases=1, split_by="paraphrase",
                                                 test_fraction=0.2, seed=0), overwrite=True)
    return out


def subset(data: Path, size: float, folder: Path, seed: int = 0) -> Path:
    """A seeded share of the training pairs (same test split), for learning curves."""
    if size >= 1.0:
        return data
    from ..qa.dataset import load_split, write_jsonl

    out = folder / f"data-{int(round(size * 100))}"
    if not (out / "train.jsonl").exists():
        train = load_split(data, "train")
        rng = random.Random(seed)
        keep = sorted(rng.sample(range(len(train)), max(1, round(len(train) * size))))
        out.mkdir(parents=True, exist_ok=True)
        write_jsonl(out / "test.jsonl", load_split(data, "test"))
        write_jsonl(out / "train.jsonl", [train[i] for i in keep])
    return out


# running cells -----------------------------------------------------------------------------------

def _run_and_wait(run: RunDir, progress: Progress) -> str:
    state = run.effective_state()
    if state in ("stopped", "failed", "crashed"):
        progress(f"{run.id}: resuming ({state})")
        jobs.resume(run)
    elif state == "queued" and not run.read_status().get("pid"):
        jobs.start(run)
    state = jobs.wait(run)
    if state != "finished":
        err = run.read_status().get("error") or {}
        raise StudyError(f"run {run.id} ended {state}: {err.get('message') or run.log_tail(5)}")
    return state


def train_cell(spec: StudySpec, cell: Cell, data: Path, ws: Workspace, extra_params: dict[str, Any],
               progress: Progress) -> RunDir:
    run_id = f"{spec.name}-{cell.id}"
    path = ws.runs / run_id
    if not RunDir(path).exists():  # never made, or a launch killed before its config.json was written
        settings = {**spec.train, **cell.variant.train, "data": str(data), "model": cell.model,
                    "method": cell.variant.method, "seed": cell.seed,
                    "method_params": {**cell.variant.params, **extra_params}}
        from .. import methods

        cfg = methods.resolved(from_dict(TrainConfig, settings))
        jobs.create_run(ws, "train", {"train": to_dict(cfg), "study": spec.name, "cell": cell.id}, run_id=run_id)
    run = RunDir(path)
    if run.effective_state() != "finished":
        progress(f"train {run_id}")
        _run_and_wait(run, progress)
    return run


def eval_cell(spec: StudySpec, train_run: RunDir, ws: Workspace, progress: Progress) -> dict[str, Any]:
    from ..eval_results import load_scores
    from ..launch import eval_job

    run = RunDir(ws.runs / f"{train_run.id}-eval")
    if not run.exists():
        job = eval_job(ws, train_run.path, None, limit=int(spec.eval.get("limit", 0)),
                       probe=bool(spec.eval.get("probe", False)))
        job.base_cache = str(ws.studies / spec.name / "base-cache")  # every cell shares the base's answers
        jobs.create_run(ws, "eval", {"eval": job.to_dict()}, run_id=run.id)
    if run.effective_state() != "finished":
        progress(f"evaluate {train_run.id}")
        _run_and_wait(run, progress)
    scores = load_scores(train_run)
    if not scores:
        raise StudyError(f"evaluation of {train_run.id} wrote no scores")
    return scores


def cell_rows(spec: StudySpec, cell: Cell, data: Path, ws: Workspace, folder: Path, extra: dict[str, Any],
              progress: Progress) -> list[dict[str, Any]]:
    """The cell's result rows, from its cache file when a previous pass finished it."""
    cache = folder / "cells" / f"{cell.id}.json"
    cached = read_json(cache)
    if cached is not None:
        return cached
    run = train_cell(spec, cell, subset(data, cell.size, folder), ws, extra, progress)
    rows = result_rows(cell, run, eval_cell(spec, run, ws, progress))
    atomic_write_json(cache, rows)
    return rows


def source_runs(ws: Workspace, data: Path, model: str, *, n: int, steps: int, rank: int, targets: str,
                prefix: str, folder: Path, progress: Progress) -> list[RunDir]:
    """N short LoRA fine-tunes, each on its own slice (every n-th pair) of the training data."""
    from ..qa.dataset import load_split, write_jsonl

    train = load_split(data, "train")
    if len(train) < n:
        raise StudyError(f"{n} sources need at least {n} training pairs; {data} has {len(train)}")
    spec = StudySpec(name=prefix, variants=[Variant("lora")])
    runs = []
    for i in range(n):
        part = folder / f"source-data-{i}"
        if not (part / "train.jsonl").exists():
            part.mkdir(parents=True, exist_ok=True)
            write_jsonl(part / "train.jsonl", train[i::n])
        variant = Variant(name=f"source{i}", method="lora", params={"rank": rank, "targets": targets},
                          train={"max_steps": steps, "eval_fraction": 0.0, "probe_size": 0, "save_total_limit": 1})
        runs.append(train_cell(spec, Cell(variant, 1.0, model, 1000 + i), part, ws, {}, progress))
    return runs


def cora_sources(spec: StudySpec, data: Path, ws: Workspace, folder: Path, model: str,
                 progress: Progress) -> Path:
    """CoRA's common subspace from short LoRA fine-tunes on disjoint slices of the training data."""
    from ..cora import build_artifact

    rank, targets = int(spec.cora.get("rank", 16)), str(spec.cora.get("targets", "all-linear"))
    out = folder / f"subspace-{model}"
    if (out / "subspace.json").exists():
        return out
    runs = source_runs(ws, data, model, n=int(spec.cora.get("sources", 3)), steps=int(spec.cora.get("steps", 40)),
                       rank=rank, targets=targets, prefix=spec.name, folder=folder, progress=progress)
    progress(f"extract the common subspace from {len(runs)} sources")
    build_artifact([str(r.path) for r in runs], out, rank=rank, targets=targets, base=model)
    return out


# statistics -------------------------------------------------------------------------------------

def result_rows(cell: Cell, run: RunDir, scores: dict[str, Any]) -> list[dict[str, Any]]:
    """The tuned row of a cell and the base model's row (same questions, same decoding)."""
    summary = run.read_summary()
    common = {"size": cell.size, "model": cell.model, "seed": cell.seed, "run": run.id}
    tuned = {"variant": cell.variant.name, "method": cell.variant.method, **common,
             "trainable_params": summary.get("trainable_params"), "train_seconds": summary.get("train_seconds"),
             "tokens_per_s": run.read_status().get("tokens_per_s"), "train_loss": summary.get("train_loss")}
    base = {"variant": BASE_VARIANT, "method": "none", **common, "trainable_params": 0}
    for m in REPORT_METRICS:
        tuned[m] = _num(scores.get("tuned", {}).get(m))
        base[m] = _num(scores.get("base", {}).get(m))
    return [tuned, base]


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def dedupe_base(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Greedy decoding makes the base row identical across variants: keep one per (size, model, seed)."""
    seen, out = set(), []
    for r in rows:
        key = (r["variant"], r["size"], r["model"], r["seed"])
        if r["variant"] == BASE_VARIANT and key in seen:
            continue
        seen.add(key)
        out.append(r)
    return out


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    fields = list(dict.fromkeys(k for r in rows for k in r))
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def run_study(spec: StudySpec, ws: Workspace, progress: Progress | None = None) -> dict[str, Any]:
    """Run every missing cell, then write results.csv, summary.json and report.md; returns the summary."""
    say = progress or (lambda msg: log.info(msg))
    folder = ws.studies / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / "spec.json", {**spec.__dict__, "variants": [v.__dict__ for v in spec.variants]})
    t0 = time.time()
    data = prepare_data(spec, ws, folder)
    subspaces: dict[str, Path] = {}
    rows: list[dict[str, Any]] = []
    todo = cells(spec)
    for i, cell in enumerate(todo, 1):
        say(f"cell {i}/{len(todo)}: {cell.id}")
        extra: dict[str, Any] = {}
        if cell.variant.method in ("cora-fb", "cora-tb") and not cell.variant.params.get("subspace"):
            if cell.model not in subspaces:
                subspaces[cell.model] = cora_sources(spec, data, ws, folder, cell.model, say)
            extra["subspace"] = str(subspaces[cell.model])
        rows.extend(cell_rows(spec, cell, data, ws, folder, extra, say))
        write_csv(folder / "results.csv", dedupe_base(rows))
    rows = dedupe_base(rows)
    summary = summarise(rows, spec.baseline)
    summary.update(name=spec.name, description=spec.description, cells_run=len(todo), wall_seconds=round(
        time.time() - t0, 1), data=str(data), spec=str(folder / "spec.json"))
    if spec.cora and subspaces:
        summary["subspaces"] = {m: str(p) for m, p in subspaces.items()}
    atomic_write_json(folder / "summary.json", summary)
    from .report import write_report

    write_report(folder, spec, rows, summary)
    return summary


def run_job(run: RunDir) -> dict[str, Any]:
    cfg = run.read_config().get("study") or {}
    if not cfg.get("spec"):
        raise ConfigError("a study job needs study.spec")
    spec = read_spec(cfg["spec"], bool(cfg.get("quick")))
    done = [0]

    def progress(msg: str) -> None:
        if msg.startswith("cell "):
            done[0] += 1
            run.write_status(step=done[0] - 1, total_steps=len(cells(spec)), message=msg)
        log.info(msg)

    return run_study(spec, Workspace(run.path.parent.parent), progress)


def dumps(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2)
