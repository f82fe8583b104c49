"""Records and scores -> plotly Figures for the UI, the CLI's HTML reports and the README.

Inputs are plain data: metrics.jsonl records (dicts with ``step``, ``split`` in train/eval/probe, ``loss``,
``lr``, ``tokens_per_s``, ``bleu4``, ``rougeL``, ``fact_acc``...), score dicts, a confusion matrix, explained
variance ratios. Records without a step or with a missing, non-numeric or non-finite value are skipped.
Empty input gives an empty figure whose title says what is missing, never an error. This module reads no
files and imports no gradio; it only builds figures. Layer 2 (plotly).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

TEMPLATE = "plotly_white"
# Every figure here uses one template: set once as plotly's default rather than per figure, where resolving
# it by name cost 18 ms a figure (three figures a Runs-tab tick).
pio.templates.default = TEMPLATE
PROBE_METRICS = ("bleu4", "rougeL", "meteor", "fact_acc", "bertscore")
# Preferred order in score charts; other numeric keys follow alphabetically.
SCORE_ORDER = ("fact_acc", "bleu4", "bleu4_corpus", "sacrebleu", "rouge1", "rouge2", "rougeL", "meteor",
               "bertscore", "perplexity")
NOT_SCORES = ("n", "seconds", "step", "epoch", "t")  # numeric fields of a score dict that are not scores
LABELS = {"loss": "loss", "lr": "learning rate", "tokens_per_s": "tokens / s", "bleu4": "BLEU-4",
          "bleu4_corpus": "BLEU-4 (corpus)", "sacrebleu": "sacreBLEU", "rouge1": "ROUGE-1", "rouge2": "ROUGE-2",
          "rougeL": "ROUGE-L", "meteor": "METEOR", "bertscore": "BERTScore F1", "fact_acc": "fact accuracy",
          "perplexity": "perplexity", "grad_norm": "gradient norm"}


def label(key: str) -> str:
    return LABELS.get(key, key)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def series(records: Iterable[Mapping[str, Any]], key: str, split: str | None = None) -> tuple[list[int], list[float]]:
    """(steps, values) of ``key`` in records of ``split`` (any split when None), sorted by step."""
    points = []
    for rec in records:
        if split is not None and rec.get("split") != split:
            continue
        step, value = _number(rec.get("step")), _number(rec.get(key))
        if step is not None and value is not None:
            points.append((int(step), value))
    points.sort(key=lambda p: p[0])
    return [p[0] for p in points], [p[1] for p in points]


# A plot a few hundred pixels wide shows no more points than this; drawing a 10,000-step run's every point
# made one Runs-tab tick take 0.3 s, mostly in plotly's validation of the lists (bench/runs_poll.py).
MAX_POINTS = 600


def thin(xs: list[int], ys: list[float], limit: int = MAX_POINTS) -> tuple[list[int], list[float]]:
    """At most about ``limit`` of the points, evenly spaced by index, the first and the last always kept."""
    if len(xs) <= limit:
        return xs, ys
    stride = math.ceil(len(xs) / limit)
    keep = list(range(0, len(xs), stride))
    if keep[-1] != len(xs) - 1:
        keep.append(len(xs) - 1)
    return [xs[i] for i in keep], [ys[i] for i in keep]


def empty_figure(title: str) -> go.Figure:
    """A blank figure whose title explains what is missing."""
    fig = go.Figure()
    fig.update_layout(title=title, xaxis={"visible": False}, yaxis={"visible": False})
    return fig


def _lines(traces: list[tuple[str, list[int], list[float]]], title: str, ytitle: str, empty: str,
           log_y: bool = False) -> go.Figure:
    traces = [t for t in traces if t[1]]
    if not traces:
        return empty_figure(empty)
    fig = go.Figure()
    for name, xs, ys in traces:
        xs, ys = thin(xs, ys)
        fig.add_trace(go.Scatter(x=xs, y=ys, name=name, mode="lines+markers" if len(xs) < 30 else "lines"))
    fig.update_layout(title=title, xaxis_title="step", yaxis_title=ytitle,
                      legend={"orientation": "h", "y": -0.2})
    if log_y:
        fig.update_yaxes(type="log")
    else:
        _non_negative_axis(fig, [y for _, _, ys in traces for y in ys])
    return fig


def _non_negative_axis(fig: go.Figure, values: Sequence[float], **where: Any) -> None:
    """Scores and losses are never negative: their axis starts at 0, and values that are all 0 get a 0-1 axis
    (plotly's own range for them is -1..1)."""
    numbers = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
    if not numbers or min(numbers) < 0:
        return
    if max(numbers) == 0:
        fig.update_yaxes(range=[0, 1], **where)
    else:
        fig.update_yaxes(rangemode="tozero", **where)


def loss_figure(records: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Training loss and evaluation loss against the optimiser step."""
    return _lines([("train loss", *series(records, "loss", "train")), ("eval loss", *series(records, "loss", "eval"))],
                  "Loss", "loss", "Loss: no loss logged yet (the first value appears after `logging_steps` steps)")


def lr_figure(records: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Learning rate of the training records against the step."""
    return _lines([("learning rate", *series(records, "lr", "train"))], "Learning rate", "learning rate",
                  "Learning rate: no training step logged yet")


def throughput_figure(records: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Training throughput (tokens per second) against the step."""
    return _lines([("tokens / s", *series(records, "tokens_per_s", "train"))], "Throughput", "tokens / s",
                  "Throughput: no training step logged yet")


def probe_figure(records: Sequence[Mapping[str, Any]], metrics: Sequence[str] | None = None) -> go.Figure:
    """Probe answers' scores (BLEU-4, ROUGE-L, fact accuracy...) after each evaluation, one line per metric."""
    keys = list(metrics) if metrics is not None else list(PROBE_METRICS)
    return _lines([(label(k), *series(records, k, "probe")) for k in keys], "Probe answers during training",
                  "score", "Probe: no probe scores yet (they appear after each evaluation when probe_size > 0)")


def overlay_figure(runs: Mapping[str, Sequence[Mapping[str, Any]]], key: str = "loss", split: str | None = "train",
                   title: str | None = None) -> go.Figure:
    """One line per run (``{run_id: records}``) of ``key`` in ``split``, to compare runs."""
    what = f"{split} {label(key)}" if split else label(key)
    return _lines([(run_id, *series(recs, key, split)) for run_id, recs in runs.items()],
                  title or f"Runs compared: {what}", label(key),
                  f"Compare runs: no {what} in the selected runs" if runs else "Compare runs: select runs to compare")


def score_keys(scores: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Numeric score keys present in any model's scores, in ``SCORE_ORDER`` then alphabetical order."""
    found = {k for s in scores.values() for k, v in s.items()
             if _number(v) is not None and k not in NOT_SCORES and not k.endswith("_n")}
    return [k for k in SCORE_ORDER if k in found] + sorted(found - set(SCORE_ORDER))


def scores_bar_figure(scores: Mapping[str, Mapping[str, Any]], metrics: Sequence[str] | None = None,
                      columns: int = 4) -> go.Figure:
    """Base vs tuned (any models: ``{"base": {...}, "tuned": {...}}``): one small panel per metric, each with
    its own y axis, since scales differ (sacreBLEU 0-100, perplexity unbounded). Values that are not numbers
    ("unavailable: ...") are left out; the panel shows only the models that have the metric."""
    keys = list(metrics) if metrics is not None else score_keys(scores)
    keys = [k for k in keys if any(_number(s.get(k)) is not None for s in scores.values())]
    if not keys:
        return empty_figure("Scores: no evaluation scores yet (run an evaluation first)")
    cols = max(1, min(columns, len(keys)))
    rows = math.ceil(len(keys) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[label(k) for k in keys])
    colors = ("#7f8c9d", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#d62728")
    for i, key in enumerate(keys):
        for j, (model, values) in enumerate(scores.items()):
            value = _number(values.get(key))
            if value is None:
                continue
            fig.add_trace(go.Bar(x=[model], y=[value], name=model, legendgroup=model, showlegend=i == 0,
                                 marker_color=colors[j % len(colors)], text=[f"{value:.3g}"], textposition="auto"),
                          row=i // cols + 1, col=i % cols + 1)
        _non_negative_axis(fig, [_number(v.get(key)) for v in scores.values()], row=i // cols + 1,
                           col=i % cols + 1)
    fig.update_layout(title="Scores by model", height=280 * rows + 80,
                      legend={"orientation": "h", "y": -0.1})
    return fig


def confusion_figure(matrix: Sequence[Sequence[int]], labels: Sequence[str] = ("off-topic", "in-domain"),
                     title: str = "Topic gate: held-out confusion matrix") -> go.Figure:
    """Heatmap of ``matrix[true][predicted]`` with the counts written in the cells."""
    if not matrix or not any(matrix):
        return empty_figure("Confusion matrix: no gate report yet (fit a topic gate first)")
    n = len(matrix)
    if any(len(row) != n for row in matrix) or len(labels) != n:
        raise ValueError(f"confusion matrix must be {len(labels)} x {len(labels)} to match labels {list(labels)}, "
                         f"got rows of lengths {[len(r) for r in matrix]}")
    z = [[int(v) for v in row] for row in matrix]
    fig = go.Figure(go.Heatmap(z=z, x=[f"predicted {lbl}" for lbl in labels], y=[f"true {lbl}" for lbl in labels],
                               colorscale="Blues", texttemplate="%{z}", showscale=False))
    fig.update_layout(title=title, yaxis={"autorange": "reversed"})
    return fig


def explained_variance_figure(ratios: Sequence[float], cumulative: bool = False, target: float = 0.9,
                              title: str = "Explained variance") -> go.Figure:
    """Cumulative explained variance against the number of components, with each component's share as bars.

    ``ratios``: each component's share of the variance (fractions), or the running total when
    ``cumulative`` is True. A dashed line marks ``target`` and the title says how many components reach it.
    """
    values = [v for v in (_number(r) for r in ratios) if v is not None]
    if not values:
        return empty_figure(f"{title}: no components yet (run the subspace extraction first)")
    if cumulative:
        total, shares = values, [b - a for a, b in zip([0.0, *values[:-1]], values)]
    else:
        shares, total = values, [sum(values[: i + 1]) for i in range(len(values))]
    xs = list(range(1, len(values) + 1))
    fig = go.Figure()
    fig.add_trace(go.Bar(x=xs, y=shares, name="per component", marker_color="#9ecae1"))
    fig.add_trace(go.Scatter(x=xs, y=total, name="cumulative", mode="lines+markers"))
    reach = next((i for i, v in zip(xs, total) if v >= target - 1e-12), None)
    note = f"{reach} component(s) reach {target:.0%}" if reach else f"{len(xs)} components reach {total[-1]:.1%}"
    fig.add_hline(y=target, line_dash="dash", line_color="gray")
    if len(xs) <= 20:
        fig.update_xaxes(dtick=1)
    fig.update_layout(title=f"{title}: {note}", xaxis_title="components",
                      yaxis_title="share of variance", legend={"orientation": "h", "y": -0.2})
    return fig
