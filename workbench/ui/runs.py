"""The Runs tab: every job of the workspace in a table; one run watched live (loss, learning rate, probe
metrics, progress, ETA, tokens/s, log tail) by a 2-second timer that reads metrics.jsonl from the offset
kept in gr.State; stop, resume, delete (confirmed) and clone; several runs overlaid and their configs diffed.

Everything shown comes from the run folders, so a page reload or a server restart finds running jobs
again. This module starts no training itself (workbench.jobs does) and draws nothing (workbench.plots does).
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import Any

import gradio as gr

from .. import export as exporting
from .. import eval_results, jobs, plots
from ..rundir import RunDir
from ..workspace import Workspace
from .compare import compare_panel, wire_compare
from .common import (UIError, duration_text, friendly, number_text, params_text, run_line, run_of, run_summary)

TICK_SECONDS = 2.0
TABLE_HEADERS = ["run", "kind", "state", "method", "dataset", "progress", "train loss", "eval loss",
                 "key score", "trainable (share)"]
ACTIVE_STATES = ("queued", "running")


# reading run folders (pure functions) -------------------------------------------------------------

def tail_records(run: RunDir, nbytes: int = 65536) -> list[dict[str, Any]]:
    """The last complete records of metrics.jsonl (rundir decodes them)."""
    return run.tail_metrics(nbytes)


def key_score(run: RunDir, records: list[dict[str, Any]]) -> str:
    """The most telling number of a run: its evaluation's tuned fact accuracy (or ROUGE-L) with the change
    from the base model, else the last probe's."""
    scores = eval_results.load_scores(run) or {}
    shown = []
    for name in ("fact_acc", "rougeL"):
        tuned, delta = (scores.get("tuned") or {}).get(name), (scores.get("delta") or {}).get(name)
        if isinstance(tuned, (int, float)):
            shown.append(f"{name} {tuned:.3f}" + (f" ({delta:+.3f})" if isinstance(delta, (int, float)) else ""))
    if shown:
        return " · ".join(shown)
    for r in reversed(records):
        if r.get("split") == "probe":
            for name in ("fact_acc", "rougeL", "bleu4"):
                if isinstance(r.get(name), (int, float)):
                    return f"{name} {r[name]:.3f}"
    return ""


def last_value(records: list[dict[str, Any]], split: str, key: str = "loss") -> Any:
    for r in reversed(records):
        if r.get("split") == split and key in r:
            return r[key]
    return None


KINDS = ("all", "train", "teach", "qa", "eval", "export", "study", "cora")


def of_kind(rows: list[list[Any]], kind: str | None) -> list[list[Any]]:
    """The table rows of one kind of job (train, qa, eval, ...); all of them for "all"."""
    return rows if not kind or kind == "all" else [r for r in rows if r[1] == kind]


def table_rows(ws: Workspace, kind: str | None = "all") -> list[list[Any]]:
    """One row per run of the workspace, newest first; ``kind`` keeps one kind of job (train, qa, eval, ...)."""
    return of_kind(_all_rows(ws), kind)


def _all_rows(ws: Workspace) -> list[list[Any]]:
    rows = []
    for row in jobs.list_runs(ws):
        run = RunDir(ws.runs / row["id"])
        records = tail_records(run)
        summary = run_summary(run)
        progress = f"{row['step'] or 0}/{row['total_steps'] or '?'}" if row["kind"] == "train" else ""
        data = (row.get("data") or "").rstrip("/").rsplit("/", 1)[-1]
        rows.append([row["id"], row["kind"], row["state"], row.get("method") or "", data, progress,
                     number_text(last_value(records, "train")), number_text(last_value(records, "eval")),
                     key_score(run, records),
                     params_text(row.get("trainable_params") or summary.get("trainable_params"),
                                 row.get("total_params") or summary.get("total_params"))])
    return rows


def default_watch(ws: Workspace) -> str | None:
    """The run to show on page load: the newest active one, else the newest run."""
    rows = jobs.list_runs(ws)
    for row in rows:
        if row["state"] in ACTIVE_STATES:
            return row["id"]
    return rows[0]["id"] if rows else None


def header_text(run: RunDir) -> str:
    row = jobs.describe(run)
    phase = run.read_status().get("phase") if row["state"] == "running" else ""
    lines = [f"### {run.id}  ·  {row['state']}" + (f"  ·  {phase}" if phase else "")]
    if row["kind"] == "train":
        lines.append(run_line(run))
    else:
        result = run.read_status().get("result") or {}
        shown = {k: v for k, v in result.items() if isinstance(v, (int, float, str)) and k not in ("dataset", "run")}
        lines.append(f"**{row['kind']}** job" + (": " + ", ".join(f"{k} {number_text(v)}" for k, v in shown.items())
                                                if shown else ""))
    facts = []
    if row.get("total_steps"):
        facts.append(f"step **{row['step'] or 0}/{row['total_steps']}**")
    if row.get("eta_s") is not None and row["state"] == "running":
        facts.append(f"ETA **{duration_text(row['eta_s'])}**")
    if row.get("tokens_per_s"):
        facts.append(f"**{row['tokens_per_s']:.0f}** tokens/s")
    if facts:
        lines.append("  ·  ".join(facts))
    lines.append(state_advice(run, row))
    return "\n\n".join(x for x in lines if x)


def state_advice(run: RunDir, row: dict[str, Any]) -> str:
    state = row["state"]
    if state == "crashed":
        return "**The worker process died without saving its state.** Resume continues from the last checkpoint."
    if state == "failed":
        err = row.get("error") or {}
        return f"**Failed ({err.get('kind', 'unknown')}):** {err.get('message', '')}"
    if state == "stopped":
        return "Stopped: Resume continues from the last checkpoint."
    if state == "queued":
        return "Waiting for the accelerator (one job runs at a time)."
    summary = run_summary(run)
    if state == "finished" and summary.get("early_stopped"):
        patience = run.train_config().get("early_stopping_patience")
        best = summary.get("best_eval_loss")
        return (f"**Stopped early** at step {summary.get('steps')} of {summary.get('planned_steps')}: the eval loss "
                f"did not improve for {patience} evaluations in a row (early stopping). The saved model is the best "
                f"checkpoint" + (f" (eval loss {number_text(best)})" if best is not None else "") +
                "; it is ready for the Evaluate and Chat tabs.")
    if state == "finished" and run.adapter.exists():
        return "Finished: the tuned model is ready for the Evaluate and Chat tabs."
    return ""


def progress_html(run: RunDir) -> str:
    status = run.read_status()
    step, total = status.get("step") or 0, status.get("total_steps") or 0
    share = min(1.0, step / total) if total else (1.0 if status.get("state") == "finished" else 0.0)
    label = f"{step}/{total}" if total else html.escape(status.get("state", ""))
    return (f'<div class="wb-progress"><div class="wb-progress-fill" style="width:{100 * share:.1f}%"></div>'
            f'<span>{label}</span></div>')


# the live view ------------------------------------------------------------------------------------

def new_watch(run_id: str | None) -> dict[str, Any]:
    return {"run": run_id, "offset": 0, "records": [], "status_at": None}


def read_new(run: RunDir, watch: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Records written since the last tick (incremental by byte offset) and whether anything changed."""
    records, offset = run.read_metrics(watch["offset"])
    status_at = run.read_status().get("updated_at")
    changed = bool(records) or status_at != watch["status_at"] or watch["offset"] == 0
    watch = {**watch, "offset": offset, "records": watch["records"] + records, "status_at": status_at}
    return watch, changed


def watch_outputs(ws: Workspace, run_id: str | None, watch: dict[str, Any] | None,
                  force: bool = False) -> list[Any]:
    """[watch state, header, progress, loss figure, lr figure, probe figure, log tail]; gr.skip() when nothing
    changed since the last tick."""
    if not run_id:
        return [new_watch(None), "No run selected yet: start one in the Train tab.", "", None, None, None, ""]
    run = run_of(ws, run_id)
    if not watch or watch.get("run") != run_id:
        watch, force = new_watch(run_id), True
    watch, changed = read_new(run, watch)
    if not (changed or force):
        return [watch, *[gr.skip()] * 6]
    records = watch["records"]
    return [watch, header_text(run), progress_html(run), plots.loss_figure(records), plots.lr_figure(records),
            plots.probe_figure(records), run.log_tail(40)]


@dataclass
class RunsTab:
    table: gr.Dataframe
    table_rows: gr.State
    kind: gr.Radio
    watch_id: gr.Dropdown
    watch: gr.State
    header: gr.Markdown
    progress: gr.HTML
    loss: gr.Plot
    lr: gr.Plot
    probe: gr.Plot
    log: gr.Textbox
    stop: gr.Button
    resume: gr.Button
    delete: gr.Button
    clone: gr.Button
    confirm_row: gr.Row
    confirm: gr.Button
    cancel: gr.Button
    export_to: gr.Radio
    export: gr.Button
    compare_ids: gr.Dropdown
    overlay: gr.Plot
    diff: gr.Dataframe
    message: gr.Markdown
    timer: gr.Timer

    def watch_targets(self) -> list[Any]:
        return [self.watch, self.header, self.progress, self.loss, self.lr, self.probe, self.log]


def _table_panel() -> tuple[gr.Dataframe, gr.State, gr.Radio]:
    kind = gr.Radio(list(KINDS), value="all", label="show", elem_id="runs-kind",
                    info="training runs, or one kind of job (QA generation, evaluation, export, study, CoRA)")
    table = gr.Dataframe(headers=TABLE_HEADERS, value=[], interactive=False, wrap=True, label="runs",
                         column_widths=["21%", "5%", "7%", "8%", "10%", "7%", "7%", "7%", "12%", "16%"],
                         elem_id="runs-table", max_height=320)
    gr.Markdown("Click a row to watch that run.", elem_classes="wb-hint")
    return table, gr.State([]), kind


def _watch_panel() -> dict[str, Any]:
    with gr.Row():
        watch_id = gr.Dropdown([], label="watch run", scale=3, allow_custom_value=True, elem_id="runs-watch")
        stop = gr.Button("Stop", scale=1, elem_id="runs-stop")
        resume = gr.Button("Resume", scale=1, elem_id="runs-resume")
        clone = gr.Button("Clone config into Train", scale=1, elem_id="runs-clone")
        delete = gr.Button("Delete", variant="stop", scale=1, elem_id="runs-delete")
    with gr.Row(visible=False, elem_id="runs-confirm-row") as confirm_row:
        gr.Markdown("**Delete this run and everything in its folder (adapter, checkpoints, metrics)?**")
        confirm = gr.Button("Yes, delete it", variant="stop", elem_id="runs-confirm-delete")
        cancel = gr.Button("Cancel", elem_id="runs-cancel-delete")
    message = gr.Markdown(elem_id="runs-message")
    header = gr.Markdown(elem_id="runs-header")
    progress = gr.HTML(elem_id="runs-progress")
    with gr.Row():
        loss = gr.Plot(label="loss", elem_id="runs-loss")
        lr = gr.Plot(label="learning rate", elem_id="runs-lr")
    probe = gr.Plot(label="probe metrics (answers to held-out questions during training)", elem_id="runs-probe")
    log = gr.Textbox(label="log (last lines)", lines=10, max_lines=20, interactive=False, elem_id="runs-log")
    return {"watch_id": watch_id, "stop": stop, "resume": resume, "clone": clone, "delete": delete,
            "confirm_row": confirm_row, "confirm": confirm, "cancel": cancel, "message": message, "header": header,
            "progress": progress, "loss": loss, "lr": lr, "probe": probe, "log": log}


def _export_panel() -> dict[str, Any]:
    with gr.Accordion("Export the watched run as a model", open=False):
        gr.Markdown("**merged**: the adapter folded into the base, saved with tokenizer, chat template and model "
                    "card (plain transformers and vLLM load it). **gguf**: that folder through llama.cpp's "
                    "converter, where installed. Runs as a job; the result lands in the run's `export/` folder. "
                    "To push to the Hugging Face hub: `python -m workbench export RUN --to hub --repo NAME`.",
                    elem_classes="wb-hint")
        with gr.Row():
            export_to = gr.Radio(["merged", "gguf"], value="merged", label="export to", elem_id="runs-export-to")
            export = gr.Button("Export", elem_id="runs-export")
    return {"export_to": export_to, "export": export}


def build_runs_tab(ws: Workspace) -> RunsTab:
    table, rows_state, kind = _table_panel()
    tab = RunsTab(table=table, table_rows=rows_state, kind=kind, watch=gr.State(new_watch(None)), **_watch_panel(),
                  **_export_panel(), **compare_panel(), timer=gr.Timer(TICK_SECONDS))
    wire_runs_tab(tab, ws)
    return tab


# events -------------------------------------------------------------------------------------------

def refresh_table(ws: Workspace, previous: list[list[Any]] | None, watched: str | None,
                  kind: str | None = "all") -> list[Any]:
    """[table, its rows for gr.State, watch dropdown, compare dropdown]; skipped when nothing changed. The
    dropdowns keep every run: the filter narrows the table, not what can be watched."""
    every = table_rows(ws)  # read once per tick: the table is filtered from it, the dropdowns keep it whole
    rows = of_kind(every, kind)
    if rows == previous:
        return [gr.skip(), previous, gr.skip(), gr.skip()]
    ids = [r[0] for r in every]
    value = watched if watched in ids else default_watch(ws)
    return [rows, rows, gr.update(choices=ids, value=value), gr.update(choices=ids)]


def wire_runs_tab(tab: RunsTab, ws: Workspace) -> None:
    table_out = [tab.table, tab.table_rows, tab.watch_id, tab.compare_ids]

    @friendly
    def tick(run_id: str | None, watch: dict[str, Any], previous: list[list[Any]], kind: str) -> list[Any]:
        return [*refresh_table(ws, previous, run_id, kind), *watch_outputs(ws, run_id, watch)]

    def pick_row(rows: list[list[Any]], evt: gr.SelectData) -> Any:
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return rows[row][0] if 0 <= row < len(rows) else gr.skip()

    tab.timer.tick(tick, [tab.watch_id, tab.watch, tab.table_rows, tab.kind], table_out + tab.watch_targets(),
                   show_progress="hidden", concurrency_limit=None, api_visibility="private")
    tab.kind.change(friendly(lambda kind, run_id: refresh_table(ws, None, run_id, kind)), [tab.kind, tab.watch_id],
                    table_out, show_progress="hidden", api_visibility="private")
    tab.watch_id.change(friendly(lambda rid, w: watch_outputs(ws, rid, w, force=True)), [tab.watch_id, tab.watch],
                        tab.watch_targets(), show_progress="hidden", api_visibility="private")
    tab.table.select(pick_row, tab.table_rows, tab.watch_id, api_visibility="private")
    wire_actions(tab, ws)
    wire_compare(tab, ws)


def wire_actions(tab: RunsTab, ws: Workspace) -> None:
    @friendly
    def stop(run_id: str | None) -> str:
        state = jobs.stop(run_of(ws, run_id))
        return f"Asked {run_id} to stop ({state}); it saves what it has and ends as *stopped*."

    @friendly
    def resume(run_id: str | None) -> str:
        run = run_of(ws, run_id)
        jobs.resume(run)
        return f"Resuming {run_id} from {run.last_checkpoint().name if run.last_checkpoint() else 'the start'}."

    @friendly
    def ask_delete(run_id: str | None) -> Any:
        run = run_of(ws, run_id)
        if run.effective_state() in ACTIVE_STATES:
            raise UIError(f"run {run_id} is still {run.effective_state()}; stop it before deleting")
        return gr.update(visible=True)

    @friendly
    def delete(run_id: str | None) -> list[Any]:
        jobs.delete(run_of(ws, run_id))
        return [gr.update(visible=False), f"Deleted {run_id}.", None]

    @friendly
    def export(run_id: str | None, to: str) -> str:
        run = run_of(ws, run_id)
        if run.read_config().get("kind", "train") != "train":
            raise UIError(f"{run_id} is not a training run; watch the run whose model you want to export")
        job = exporting.start_job(ws, run.path, to)
        return f"Exporting {run_id} ({to}) as job {job.id}; the result appears in {run_id}/export/ when it ends."

    tab.export.click(export, [tab.watch_id, tab.export_to], tab.message, api_visibility="private",
                     show_progress="hidden")
    tab.stop.click(stop, tab.watch_id, tab.message, api_visibility="private", show_progress="hidden")
    tab.resume.click(resume, tab.watch_id, tab.message, api_visibility="private", show_progress="hidden")
    tab.delete.click(ask_delete, tab.watch_id, tab.confirm_row, api_visibility="private")
    tab.cancel.click(lambda: gr.update(visible=False), None, tab.confirm_row, api_visibility="private")
    tab.confirm.click(delete, tab.watch_id, [tab.confirm_row, tab.message, tab.watch_id],
                      api_visibility="private", show_progress="hidden")


def run_status(ws: Workspace, run_id: str) -> dict[str, Any]:
    """State, progress, parameters and the latest metrics of one run (for gradio_client)."""
    run = run_of(ws, run_id)
    info = jobs.describe(run)
    records, _ = run.read_metrics(0)
    for split in ("train", "eval", "probe"):
        last = [r for r in records if r.get("split") == split]
        if last:
            info[f"last_{split}"] = last[-1]
    info["summary"] = run_summary(run)
    info["data"] = (info.get("data") or "").rstrip("/").rsplit("/", 1)[-1]
    info["log_tail"] = run.log_tail(15) if info["state"] in ("failed", "crashed") else ""
    info["checked_at"] = time.time()
    return without_paths(info)


def without_paths(data: Any) -> Any:
    """Drop "path" keys: gradio_client takes any dict with one for a file to download, and the machine's
    folders are nobody's business."""
    if isinstance(data, dict):
        return {k: without_paths(v) for k, v in data.items() if k != "path"}
    if isinstance(data, list):
        return [without_paths(v) for v in data]
    return data
