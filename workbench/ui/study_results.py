"""The Studies tab's results: the per-cell table with 95% confidence intervals, the paired comparison against
the baseline, the mean-scores figure, the report's figures and report.md, for partial and finished studies.

Widgets and pure functions only: results are read by workbench.studies.results.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from .. import plots
from ..studies.results import planned_cells, report_figures, report_text, study_folder, study_names, study_summary
from ..workspace import Workspace
from .common import duration_text


# results (pure functions) -------------------------------------------------------------------------

def stat_text(stat: Any, digits: int = 3) -> str:
    """'0.412 ± 0.031' (mean ± 95% half-width), '0.412' for one seed, '' when missing."""
    if not isinstance(stat, dict) or stat.get("mean") is None:
        return ""
    text = f"{stat['mean']:.{digits}f}"
    return text + (f" ± {stat['ci95']:.{digits}f}" if stat.get("ci95") is not None else "")


def cells_headers(summary: dict[str, Any]) -> list[str]:
    return (["variant", "size", "model", "seeds", "trainable params"] + [plots.label(m) for m in summary["metrics"]]
            + ["train s", "tokens/s"])


def cells_table(summary: dict[str, Any]) -> list[list[Any]]:
    """One row per (variant, size, model): mean ± 95% CI per metric, trainable params, time and throughput."""
    rows = []
    for c in summary["cells"]:
        trainable = c.get("trainable_params")
        rows.append([c["variant"], f"{c['size']:.0%}", c["model"], c["n"],
                     f"{int(trainable):,}" if isinstance(trainable, (int, float)) else "",
                     *[stat_text(c.get(m)) for m in summary["metrics"]],
                     stat_text(c.get("train_seconds"), 0), stat_text(c.get("tokens_per_s"), 0)])
    return rows


def paired_headers(summary: dict[str, Any]) -> list[str]:
    return ([f"variant − {summary['baseline']}", "size", "model"]
            + [plots.label(m) for m in summary["metrics"]])


def paired_table(summary: dict[str, Any]) -> list[list[Any]]:
    """Mean paired difference (same seed, size and model) against the baseline, with its 95% CI."""
    return [[p["variant"], f"{p['size']:.0%}", p["model"], *[stat_text(p.get(m)) for m in summary["metrics"]]]
            for p in summary["paired"]]


def means_figure(summary: dict[str, Any]) -> Any:
    """Mean scores per cell as bar panels (one per metric), for partial and finished studies alike."""
    plain = len({(c["size"], c["model"]) for c in summary["cells"]}) == 1
    scores = {(c["variant"] if plain else f"{c['variant']} · {c['size']:.0%} · {c['model']}"):
              {m: (c.get(m) or {}).get("mean") for m in summary["metrics"]} for c in summary["cells"]}
    return plots.scores_bar_figure(scores, summary["metrics"])


def results_header(ws: Workspace, name: str, summary: dict[str, Any]) -> str:
    if summary.get("partial"):
        planned = planned_cells(ws.studies / name)
        todo = f" of {planned}" if planned is not None else ""
        return (f"### {name} (partial)\n\n{summary['tuned_rows']}{todo} cells done so far; the table grows as "
                "cells finish. Figures and report.md come when the study finishes.")
    wall = summary.get("wall_seconds")
    return (f"### {name}\n\n{summary.get('cells_run', '?')} cells; wall time "
            f"{duration_text(wall) if isinstance(wall, (int, float)) else '?'}. Values are means over seeds "
            f"± 95% confidence half-widths; `base` is the untrained model on the same questions.")


def results_view(ws: Workspace, name: str | None) -> list[Any]:
    """[header, cells table, paired table, mean-scores figure, report figures, report text]."""
    empty = [gr.update(value=[], headers=["variant"]), gr.update(value=[], headers=["variant"])]
    if not name:
        return ["No study results in this workspace yet.", *empty, plots.scores_bar_figure({}), [], ""]
    folder = study_folder(ws, name)
    summary = study_summary(folder)
    if summary is None:
        return [f"### {name}\n\nNo cell has finished yet.", *empty, plots.scores_bar_figure({}), [], ""]
    figures = report_figures(folder) if not summary["partial"] else []
    report = report_text(folder) if not summary["partial"] else ""
    return [results_header(ws, name, summary),
            gr.update(value=cells_table(summary), headers=cells_headers(summary)),
            gr.update(value=paired_table(summary), headers=paired_headers(summary)),
            means_figure(summary), figures, report]


def results_stamp(ws: Workspace, name: str | None) -> list[float]:
    """Modification times of a study's result files: the results view is redrawn when they change."""
    if not name or not (ws.studies / name).is_dir():
        return []
    folder = ws.studies / name
    return [p.stat().st_mtime if p.exists() else 0.0 for p in (folder / "results.csv", folder / "summary.json")]



def results_panel(ws: Workspace) -> dict[str, Any]:
    gr.Markdown("### Results")
    names = study_names(ws)
    result_name = gr.Dropdown(names, value=names[0] if names else None, label="results of study",
                              elem_id="studies-results")
    header = gr.Markdown(elem_id="studies-header")
    cells = gr.Dataframe(value=[], headers=["variant"], interactive=False, wrap=True,
                         label="scores per cell (mean ± 95% CI over seeds)", elem_id="studies-cells")
    paired = gr.Dataframe(value=[], headers=["variant"], interactive=False, wrap=True,
                          label="paired differences against the baseline (same seed, size and model)",
                          elem_id="studies-paired")
    means = gr.Plot(label="mean scores per cell", elem_id="studies-means")
    figures = gr.Gallery(label="report figures", columns=2, format="png", interactive=False, object_fit="contain",
                         height="auto", elem_id="studies-figures")
    with gr.Accordion("report.md", open=False):
        report = gr.Markdown(elem_id="studies-report")
    return {"result_name": result_name, "watch": gr.State({}), "header": header, "cells": cells, "paired": paired,
            "means": means, "figures": figures, "report": report}
