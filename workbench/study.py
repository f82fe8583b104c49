"""Studies: a grid of methods x training-set sizes x base models x seeds, each cell a normal training run
plus an evaluation run through the job queue, then statistics with 95% confidence intervals.

The driver is resumable: cells have fixed run ids (``<study>-<cell>``), so a restarted study skips finished
cells, waits for cells still running and resumes stopped or crashed ones. It writes
``studies/<name>/results.csv``, ``summary.json`` and ``report.md`` (with PNG figures). It trains nothing in
its own process and knows nothing of the UI.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

import yaml

from . import jobs
from .config import ConfigError, QAGenConfig, TrainConfig, from_dict
from .rundir import RunDir, atomic_write_json, atomic_write_text, read_json
from .workspace import Workspace, check_name

log = logging.getLogger(__name__)

SPECS_DIR = Path(__file__).resolve().parent.parent / "assets" / "studies"
SAMPLE_CORPUS = Path(__file__).resolve().parent.parent / "assets" / "sample_corpus"
BASE_VARIANT = "base"  # the untrained model: read from the base side of every evaluation
REPORT_METRICS = ("fact_acc", "rougeL", "bleu4", "meteor", "sacrebleu")

Progress = Callable[[str], None]


class StudyError(ValueError):
    """A study spec is malformed or a cell cannot run; the message says which and why."""


@dataclass
class Variant:
    name: str
    method: str = "lora"
    params: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides for this variant only


@dataclass
class StudySpec:
    name: str
    variants: list[Variant]
    data: str = "sample"  # "sample" (the shipped corpus), a corpus folder, or a dataset folder/name
    models: list[str] = field(default_factory=lambda: ["smollm2"])
    sizes: list[float] = field(default_factory=lambda: [1.0])
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    baseline: str = "lora"
    train: dict[str, Any] = field(default_factory=dict)  # shared TrainConfig settings
    eval: dict[str, Any] = field(default_factory=lambda: {"limit": 0, "probe": False})
    cora: dict[str, Any] = field(default_factory=dict)  # {"sources": N, "steps": S, "rank": R}
    description: str = ""


@dataclass(frozen=True)
class Cell:
    variant: Variant
    size: float
    model: str
    seed: int

    @property
    def id(self) -> str:
        raw = f"{self.variant.name}-n{int(round(self.size * 100))}-{self.model}-s{self.seed}"
        return "".join(c if c.isalnum() or c in "._-" else "-" for c in raw)


# specs -------------------------------------------------------------------------------------------

def shipped_specs() -> list[str]:
    return sorted(p.stem for p in SPECS_DIR.glob("*.yaml"))


def read_spec(path_or_name: str, quick: bool = False) -> StudySpec:
    """Read a YAML spec (a file, or the name of a shipped one); ``quick`` applies its `quick:` overrides."""
    path = Path(path_or_name)
    if not path.exists():
        path = SPECS_DIR / f"{path_or_name}.yaml"
    if not path.exists():
        raise StudyError(f"no study spec {path_or_name!r}: not a file, and not one of {', '.join(shipped_specs())}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    quick_over = raw.pop("quick", {}) or {}
    full_over = raw.pop("full", {}) or {}
    for key, value in (quick_over if quick else full_over).items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    if quick:
        raw["name"] = f"{raw.get('name', path.stem)}-quick"
    return spec_from_dict(raw)


def spec_from_dict(raw: dict[str, Any]) -> StudySpec:
    known = set(StudySpec.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise StudyError(f"unknown study setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if not raw.get("variants"):
        raise StudyError("a study needs `variants`: a list of {name, method, params}")
    variants = [Variant(**v) if isinstance(v, dict) else Variant(name=str(v), method=str(v)) for v in raw["variants"]]
    spec = StudySpec(**{**raw, "variants": variants})
    check_name(spec.name, "study name")
    names = [v.name for v in spec.variants]
    if len(set(names)) != len(names):
        raise StudyError(f"variant names must be unique: {names}")
    if spec.baseline not in names and spec.baseline != BASE_VARIANT:
        raise StudyError(f"baseline {spec.baseline!r} is not a variant ({', '.join(names)})")
    if any(not 0 < s <= 1 for s in spec.sizes):
        raise StudyError(f"sizes are shares of the training set: each in (0, 1], got {spec.sizes}")
    for v in trained_variants(spec):
        from_dict(TrainConfig, {**spec.train, **v.train, "method": v.method})  # refuse bad settings now
    return spec


def trained_variants(spec: StudySpec) -> list[Variant]:
    return [v for v in spec.variants if v.method != BASE_VARIANT]


def cells(spec: StudySpec) -> list[Cell]:
    """Seeds innermost, so that an interrupted study has complete seeds for the first variants."""
    return [Cell(v, size, model, seed) for v in trained_variants(spec) for model in spec.models
            for size in spec.sizes for seed in spec.seeds]


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
        from .qa.pipeline import build_dataset

        build_dataset([corpus], out, QAGenConfig(fallback_only=True, paraphrases=1, split_by="paraphrase",
                                                 test_fraction=0.2, seed=0), overwrite=True)
    return out


def subset(data: Path, size: float, folder: Path, seed: int = 0) -> Path:
    """A seeded share of the training pairs (same test split), for learning curves."""
    if size >= 1.0:
        return data
    from .qa.dataset import load_split, write_jsonl

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
        cfg = from_dict(TrainConfig, settings)
        jobs.create_run(ws, "train", {"train": cfg.__dict__, "study": spec.name, "cell": cell.id}, run_id=run_id)
    run = RunDir(path)
    if run.effective_state() != "finished":
        progress(f"train {run_id}")
        _run_and_wait(run, progress)
    return run


def eval_cell(spec: StudySpec, train_run: RunDir, ws: Workspace, progress: Progress) -> dict[str, Any]:
    from .evaluate import eval_job, load_scores

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
    from .qa.dataset import load_split, write_jsonl

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
    from .cora import build_artifact

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

def t_quantile(df: int) -> float:
    """Two-sided 95% Student t quantile."""
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def mean_ci(values: list[float]) -> dict[str, float | int | None]:
    """Mean and 95% confidence half-width (t distribution); a single value has no interval."""
    vals = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals:
        return {"mean": None, "ci95": None, "n": 0}
    mean = sum(vals) / len(vals)
    if len(vals) < 2:
        return {"mean": mean, "ci95": None, "n": 1}
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    return {"mean": mean, "ci95": t_quantile(len(vals) - 1) * sd / math.sqrt(len(vals)), "n": len(vals)}


def summarise(rows: list[dict[str, Any]], baseline: str, metrics: tuple[str, ...] = REPORT_METRICS,
              ) -> dict[str, Any]:
    """Per (variant, size, model): mean and CI of each metric; paired differences against the baseline."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["variant"], r["size"], r["model"]), []).append(r)
    cells_out = []
    for (variant, size, model), rs in sorted(groups.items()):
        entry: dict[str, Any] = {"variant": variant, "size": size, "model": model, "n": len(rs),
                                 "trainable_params": rs[0].get("trainable_params")}
        for m in (*metrics, "train_seconds", "tokens_per_s"):
            entry[m] = mean_ci([r.get(m) for r in rs])
        cells_out.append(entry)
    paired = []
    base_rows = {(r["size"], r["model"], r["seed"]): r for r in rows if r["variant"] == baseline}
    for (variant, size, model), rs in sorted(groups.items()):
        if variant == baseline:
            continue
        entry = {"variant": variant, "vs": baseline, "size": size, "model": model}
        for m in metrics:
            diffs = [r[m] - base_rows[(size, model, r["seed"])][m] for r in rs
                     if (size, model, r["seed"]) in base_rows and isinstance(r.get(m), (int, float))
                     and isinstance(base_rows[(size, model, r["seed"])].get(m), (int, float))]
            entry[m] = mean_ci(diffs)
        paired.append(entry)
    return {"cells": cells_out, "paired": paired, "baseline": baseline, "metrics": list(metrics)}


# rows and outputs ------------------------------------------------------------------------------

def result_rows(cell: Cell, run: RunDir, scores: dict[str, Any]) -> list[dict[str, Any]]:
    """The tuned row of a cell and the base model's row (same questions, same decoding)."""
    summary = read_json(run.path / "summary.json", {})
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
    from .study_report import write_report

    write_report(folder, spec, rows, summary)
    return summary


def start_study(ws: Workspace, spec_name: str, quick: bool = False) -> RunDir:
    """Launch the study driver as a background job (it needs no accelerator lock: its cells take it)."""
    spec = read_spec(spec_name, quick)
    return jobs.create_run(ws, "study", {"study": {"spec": spec_name, "quick": quick}, "needs_accelerator": False},
                           label=f"study-{spec.name}")


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


def load_summary(ws: Workspace, name: str) -> dict[str, Any] | None:
    return read_json(ws.studies / name / "summary.json")


def spec_text(name: str) -> str:
    return (SPECS_DIR / f"{name}.yaml").read_text(encoding="utf-8")


def dumps(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2)
