"""The Runs tab's comparison: several runs' loss curves overlaid and the settings in which they differ."""

from __future__ import annotations

from typing import Any

import gradio as gr

from .. import plots
from ..workspace import Workspace
from .common import friendly, run_of


def config_diff(ws: Workspace, run_ids: list[str]) -> list[list[Any]]:
    """One row per setting that differs between the runs (method parameters flattened)."""
    flat = []
    for rid in run_ids:
        cfg = run_of(ws, rid).train_config()
        params = cfg.pop("method_params", {}) or {}
        flat.append({**cfg, **{f"method.{k}": v for k, v in params.items()}})
    keys = sorted({k for f in flat for k in f})
    return [[k, *[str(f.get(k, "")) for f in flat]] for k in keys if len({str(f.get(k)) for f in flat}) > 1]


def compare_panel() -> dict[str, Any]:
    with gr.Accordion("Compare runs", open=False):
        compare_ids = gr.Dropdown([], multiselect=True, label="runs to compare", elem_id="runs-compare")
        overlay = gr.Plot(label="loss curves overlaid", elem_id="runs-overlay")
        diff = gr.Dataframe(headers=["setting"], value=[], interactive=False, label="settings that differ",
                            elem_id="runs-diff")
    return {"compare_ids": compare_ids, "overlay": overlay, "diff": diff}


def wire_compare(tab: Any, ws: Workspace) -> None:
    @friendly
    def compare(run_ids: list[str] | None) -> list[Any]:
        run_ids = list(run_ids or [])
        if not run_ids:
            return [None, gr.update(value=[], headers=["setting"])]
        curves = {rid: run_of(ws, rid).read_metrics(0)[0] for rid in run_ids}
        rows = config_diff(ws, run_ids) if len(run_ids) > 1 else []
        return [plots.overlay_figure(curves), gr.update(value=rows, headers=["setting", *run_ids])]

    tab.compare_ids.change(compare, tab.compare_ids, [tab.overlay, tab.diff], api_visibility="private")
