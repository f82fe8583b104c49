"""Read evaluation results without torch: ``scores.json`` and ``predictions.jsonl`` of a run's eval/ folder
(written by evaluate.py, their one writer), the per-question view (improved / regressed / unchanged) and the
comparison of several runs. The UI, the CLI and the studies read results through this module; it computes no
score and loads no model (layer 2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import UserError
from .jsonl import read_jsonl
from .rundir import RunDir, read_json

SIDES = ("base", "tuned")
JUDGE_CRITERIA = ("fluency", "relevance", "accuracy")


class EvalError(UserError, ValueError):
    """The evaluation cannot run with this input; the message says what to change."""


def numbers_only(scores: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in scores.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def delta(base: dict[str, Any], tuned: dict[str, Any]) -> dict[str, float]:
    """tuned - base for every number both sides have (``n`` and counts excluded)."""
    b, t = numbers_only(base), numbers_only(tuned)
    return {k: t[k] - b[k] for k in t if k in b and k != "n" and not k.endswith("_n")}


def load_scores(run: RunDir | str | Path) -> dict[str, Any] | None:
    """The run's last evaluation scores, or None when it has not been evaluated."""
    run = run if isinstance(run, RunDir) else RunDir(Path(run))
    return read_json(run.eval_dir / "scores.json")


def load_predictions(run: RunDir | str | Path, name: str = "predictions.jsonl") -> list[dict[str, Any]]:
    run = run if isinstance(run, RunDir) else RunDir(Path(run))
    return read_jsonl(run.eval_dir / name)


def question_changes(predictions: Sequence[dict[str, Any]], metric: str = "rougeL",
                     tolerance: float = 1e-9, fallback: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Sort questions into improved / regressed / unchanged by ``metric`` (tuned minus base), biggest wins
    and biggest losses first; a question ``metric`` did not score is judged by ``fallback`` when given (the key
    fact where a pair has one, else ROUGE-L), else it goes to ``unscored``."""
    groups: dict[str, list[dict[str, Any]]] = {"improved": [], "regressed": [], "unchanged": [], "unscored": []}
    for row in predictions:
        b, t = (row.get("scores", {}).get(side, {}).get(metric) for side in SIDES)
        if fallback and not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (b, t)):
            b, t = (row.get("scores", {}).get(side, {}).get(fallback) for side in SIDES)
        item = {"index": row.get("index"), "question": row.get("question"), "reference": row.get("reference"),
                "base": row.get("base"), "tuned": row.get("tuned"), "base_score": b, "tuned_score": t}
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (b, t)):
            groups["unscored"].append({**item, "delta": None})
            continue
        d = t - b
        if metric == "ppl":
            d = -d  # a lower perplexity is better
        group = "improved" if d > tolerance else "regressed" if d < -tolerance else "unchanged"
        groups[group].append({**item, "delta": d})
    groups["improved"].sort(key=lambda r: -r["delta"])
    groups["regressed"].sort(key=lambda r: r["delta"])
    return groups


def compare_runs(runs: Sequence[RunDir | str | Path]) -> list[dict[str, Any]]:
    """One row per run: method, model, data and base/tuned/delta of every metric (runs not yet evaluated
    get a row with ``evaluated: False``)."""
    rows = []
    for item in runs:
        run = item if isinstance(item, RunDir) else RunDir(Path(item))
        train = run.train_config()
        row: dict[str, Any] = {"run": run.id, "method": train.get("method"), "model": train.get("model")}
        scores = load_scores(run)
        if not scores:
            rows.append({**row, "evaluated": False})
            continue
        row.update(evaluated=True, n=scores.get("n"), data=scores.get("data"))
        for side in (*SIDES, "delta"):
            for key, value in numbers_only(scores.get(side) or {}).items():
                if key != "n" and not key.endswith("_n"):
                    row[f"{side}_{key}"] = value
        for key, value in ((scores.get("forgetting") or {}).get("delta") or {}).items():
            row[f"forgetting_delta_{key}"] = value
        judge = scores.get("judge") or {}
        for key, value in (judge.get("tuned") or {}).items():
            if key in JUDGE_CRITERIA:
                row[f"judge_tuned_{key}"] = value
        rows.append(row)
    return rows


def comparison_scores(runs: Sequence[RunDir | str | Path]) -> dict[str, dict[str, Any]]:
    """Scores keyed by what answered, for ``plots.scores_bar_figure``: each evaluated run's tuned scores under
    its id, and each distinct base (model and evaluation data) once under "base: <model>"."""
    out: dict[str, dict[str, Any]] = {}
    bases: dict[tuple, str] = {}
    for item in runs:
        run = item if isinstance(item, RunDir) else RunDir(Path(item))
        scores = load_scores(run)
        if not scores:
            continue
        model = (scores.get("settings") or {}).get("model", "?")
        key = (model, scores.get("data"), scores.get("n"))
        if key not in bases:
            bases[key] = f"base: {model}" + (f" ({len(bases) + 1})" if any(k[0] == model for k in bases) else "")
            out[bases[key]] = scores.get("base") or {}
        out[run.id] = scores.get("tuned") or {}
    return out
