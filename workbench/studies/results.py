"""Read a study's results without running anything: results.csv (written by grid.py after each cell), the
statistics with 95% confidence intervals (the finished summary.json, or the cells done so far), the report and
its figures, and the CoRA subspaces of a workspace. No torch (layer 2); the UI and the CLI read through here.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Any

from PIL import Image

from ..rundir import read_json
from ..workspace import Workspace, existing_folder
from .specs import BASE_VARIANT, StudyError, cells, spec_from_dict

REPORT_METRICS = ("fact_acc", "rougeL", "bleu4", "meteor", "sacrebleu")
TEXT_FIELDS = ("variant", "method", "model", "run")  # the non-numeric columns of results.csv
IMAGE_LINK = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


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

def load_summary(ws: Workspace, name: str) -> dict[str, Any] | None:
    return read_json(ws.studies / name / "summary.json")


def study_names(ws: Workspace) -> list[str]:
    """Studies of the workspace with results (finished, or partial: results.csv written after each cell)."""
    return sorted(p.name for p in ws.studies.iterdir()
                  if p.is_dir() and ((p / "results.csv").exists() or (p / "summary.json").exists()))


def study_folder(ws: Workspace, name: str | None) -> Path:
    return existing_folder(ws.studies, name, "study name", "choose a study whose results to show",
                           "there are no results for study {name} yet", StudyError)


def parse_value(key: str, text: str) -> Any:
    if key in TEXT_FIELDS:
        return text
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if key == "seed" and value.is_integer() else value


def read_rows(folder: Path) -> list[dict[str, Any]]:
    """results.csv as the rows study.summarise takes (numbers as numbers, empty cells as None)."""
    path = folder / "results.csv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return [{k: parse_value(k, v or "") for k, v in row.items()} for row in csv.DictReader(fh)]


def is_complete(folder: Path) -> bool:
    """summary.json is written once at the end; a rerun rewrites results.csv first, making it older."""
    summary, results = folder / "summary.json", folder / "results.csv"
    return summary.exists() and (not results.exists() or summary.stat().st_mtime >= results.stat().st_mtime)


def study_summary(folder: Path) -> dict[str, Any] | None:
    """The finished study's summary.json, or a summary of the cells done so far (``partial``: True)."""
    if is_complete(folder):
        return {**read_json(folder / "summary.json"), "partial": False}
    rows = read_rows(folder)
    if not rows:
        return None
    baseline = (read_json(folder / "spec.json") or {}).get("baseline") or rows[0]["variant"]
    return {**summarise(rows, baseline), "name": folder.name, "partial": True,
            "tuned_rows": sum(1 for r in rows if r["variant"] != BASE_VARIANT)}


def report_figures(folder: Path) -> list[tuple[Image.Image, str]]:
    """The report's PNG figures in report order, as images (never as file routes), with their captions."""
    report = folder / "report.md"
    if not report.exists():
        return []
    images, root = [], folder.resolve()
    for caption, link in IMAGE_LINK.findall(report.read_text(encoding="utf-8")):
        path = (folder / link).resolve()
        if path.is_relative_to(root) and path.suffix == ".png" and path.is_file():
            with Image.open(path) as img:
                images.append((img.convert("RGB"), caption))
    return images


def report_text(folder: Path) -> str:
    """report.md without its image links (the figures are shown as images above it)."""
    report = folder / "report.md"
    if not report.exists():
        return "*report.md is written when the study finishes.*"
    return IMAGE_LINK.sub("", report.read_text(encoding="utf-8"))


def subspace_choices(ws: Workspace) -> list[str]:
    """Subspace artifacts of the workspace (built here, or by a study), as paths inside the workspace."""
    found = sorted(ws.subspaces.glob("*/subspace.json")) + sorted(ws.studies.glob("*/subspace-*/subspace.json"))
    return [p.parent.relative_to(ws.root).as_posix() for p in found]


def subspace_meta(ws: Workspace, rel: str | None) -> dict[str, Any]:
    if not rel:
        raise StudyError("choose a subspace")
    if rel not in subspace_choices(ws):
        raise StudyError(f"there is no subspace {rel!r} in this workspace")
    return read_json(ws.root / rel / "subspace.json") or {}


def planned_cells(folder: Path) -> int | None:
    """How many cells the study in ``folder`` runs, from the spec.json it wrote; None when that cannot be read
    (a spec.json from another version)."""
    try:
        return len(cells(spec_from_dict(read_json(folder / "spec.json") or {})))
    except (TypeError, ValueError):
        return None
