"""The Studies tab: pick a study spec (a shipped one, or one saved in the workspace), start it as a background
job, follow its cells live (also after a page reload: the newest job of that spec is found again), and read
its results: the per-cell table with 95% confidence intervals, the paired comparison against the baseline,
the figures and report.md. A CoRA section builds a common subspace from finished runs or model folders and
plots its cumulative explained variance.

Studies run in worker processes (started by workbench.launch); this module holds widgets and handlers only:
specs are stored and found by workbench.studies.specs, results read by workbench.studies.results. A subspace
is built by a worker job (kind "cora"), one build at a time, which the tab's handler follows with a progress
line. Only files inside the workspace are read for results; figures are handed to Gradio as images, never as
file routes.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from .. import jobs, launch, plots
from ..rundir import RunDir
from ..studies.results import (planned_cells, report_figures, report_text, study_folder, study_names,
                               study_summary, subspace_choices, subspace_meta)
from ..studies.specs import (ACTIVE_STATES, StudyError, StudySpec, cells, job_study_name, load_spec, newest_job,
                             save_workspace_spec, spec_choices, spec_key, spec_source, spec_yaml,
                             study_cell_runs, study_jobs, trained_variants)
from ..workspace import Workspace, check_name
from .common import duration_text, friendly, number_text, run_of

TICK_SECONDS = 3.0
CORA_TARGETS = ("all-linear", "attention")
DEFAULT_SPEC = "paper-joint"
CORA_CONCURRENCY = "cora-build"
StudiesError = StudyError  # the engine's own error: the tab shows its message as it is


# specs (pure functions) ---------------------------------------------------------------------------

def spec_overview(spec: StudySpec) -> str:
    """What starting the spec will do, in a few lines."""
    n = len(cells(spec))
    variants = ", ".join(f"`{v.name}` ({v.method})" for v in spec.variants)
    sizes = ", ".join(f"{s:.0%}" for s in spec.sizes)
    lines = [f"**{spec.name}**: {n} cell(s) = {len(trained_variants(spec))} trained variant(s) × "
             f"{len(spec.sizes)} size(s) × {len(spec.models)} model(s) × {len(spec.seeds)} seed(s). "
             "Each cell is a training run and an evaluation run, queued like any other job.",
             f"Variants: {variants}. Baseline: `{spec.baseline}`. Models: {', '.join(spec.models)}. "
             f"Training-set shares: {sizes}. Seeds: {', '.join(map(str, spec.seeds))}. Data: `{spec.data}`."]
    if spec.cora:
        lines.append(f"CoRA variants first train {spec.cora.get('sources', 3)} short source fine-tunes to build "
                     "their common subspace.")
    if spec.description:
        lines.append(spec.description.strip())
    return "\n\n".join(lines)


def spec_view(ws: Workspace, key: str | None, quick: bool) -> tuple[str, str]:
    """(YAML text, overview or the reason the spec cannot run): a broken spec is shown, not raised."""
    if not key:
        return "", "Choose a study spec."
    try:
        text = spec_yaml(ws, key)
    except StudiesError as exc:
        return "", str(exc)
    try:
        return text, spec_overview(load_spec(ws, key, quick))
    except StudiesError as exc:
        return text, f"**This spec cannot run:** {exc}"


# study jobs and their progress (pure functions) -----------------------------------------------------

def launch_study(ws: Workspace, key: str | None, quick: bool) -> RunDir:
    """Check the spec, refuse a second job for the same study, then start the study driver in the background."""
    load_spec(ws, key, quick)  # a malformed spec is refused with what is wrong in it
    return launch.start_study(ws, spec_source(ws, key), bool(quick))


def stop_study(ws: Workspace, job_id: str | None) -> str:
    """Stop the study's active cell runs; the driver then ends, and a restart resumes the stopped cells."""
    driver = job_of(ws, job_id)
    if driver.effective_state() not in ACTIVE_STATES:
        raise StudiesError(f"job {driver.id} is {driver.effective_state()}; there is nothing to stop")
    name = job_study_name(driver)
    active = [r for r in study_cell_runs(ws, name or "") if r.effective_state() in ACTIVE_STATES] if name else []
    if not active:
        raise StudiesError("no cell of this study is running yet (it is preparing its data); try again in a moment")
    for run in active:
        jobs.stop(run)
    return (f"Asked {', '.join(f'`{r.id}`' for r in active)} to stop. The study ends after it; start it again to "
            "resume where it stopped (finished cells are kept).")


def job_of(ws: Workspace, job_id: str | None) -> RunDir:
    if not job_id:
        raise StudiesError("no study job yet: start one first")
    run = RunDir(ws.runs / check_name(job_id, "job id"))
    if not run.exists():
        raise StudiesError(f"study job {job_id} no longer exists (it may have been deleted in the Runs tab)")
    return run


def cell_detail(ws: Workspace, name: str | None, message: str) -> str:
    """'training: 12/40 steps' or 'evaluating: 3/30 answers' for the cell the driver is on."""
    match = re.match(r"cell \d+/\d+: (\S+)", message or "")
    if not (name and match):
        return ""
    train = RunDir(ws.runs / f"{name}-{match.group(1)}")
    for run, what in ((RunDir(ws.runs / f"{train.id}-eval"), "evaluating"), (train, "training")):
        if run.exists() and run.effective_state() in ACTIVE_STATES:
            status = run.read_status()
            unit = "answers" if what == "evaluating" else "steps"
            if status.get("total_steps"):
                return f"{what}: {status.get('step') or 0}/{status['total_steps']} {unit}"
            return f"{what}: {run.effective_state()}"
    return ""


def study_progress(ws: Workspace, job_id: str | None) -> tuple[str, float, bool]:
    """(text, share of cells done, still active) of a study job, from its status file."""
    if not job_id:
        return "No study job for this spec yet: press **Start study**.", 0.0, False
    run = RunDir(ws.runs / check_name(job_id, "job id"))
    if not run.exists():
        return f"Study job `{job_id}` no longer exists (it was deleted in the Runs tab).", 0.0, False
    status, state = run.read_status(), run.effective_state()
    total = int(status.get("total_steps") or 0)
    done = total if state == "finished" else int(status.get("step") or 0)
    share = min(1.0, done / total) if total else (1.0 if state == "finished" else 0.0)
    head = f"Job `{run.id}`: **{state}**" + (f" · {done}/{total} cells done" if total else "")
    return f"{head}\n\n{state_text(ws, run, status, state)}".strip(), share, state in ACTIVE_STATES


def state_text(ws: Workspace, run: RunDir, status: dict[str, Any], state: str) -> str:
    if state == "queued":
        return "Waiting to start."
    if state == "running":
        elapsed = duration_text(time.time() - status["started_at"]) if status.get("started_at") else ""
        message = status.get("message") or "preparing the data (and CoRA source models, when the spec has them)"
        detail = cell_detail(ws, job_study_name(run), status.get("message") or "")
        return f"Now: {message}" + (f" ({detail})" if detail else "") + (f" · running for {elapsed}" if elapsed
                                                                         else "")
    if state == "failed":
        err = status.get("error") or {}
        return (f"**Failed ({err.get('kind', 'unknown')}):** {err.get('message', '')}\n\nStarting the study again "
                "resumes it: finished cells are kept.")
    if state == "crashed":
        return f"**The study driver died.** Start the study again to resume it. Last log lines:\n\n```\n" \
               f"{run.log_tail(8)}\n```"
    if state == "finished":
        wall = (status.get("result") or {}).get("wall_seconds")
        return "Finished" + (f" in {duration_text(wall)}" if isinstance(wall, (int, float)) else "") + \
               ": the results are below."
    return f"Stopped. {status.get('message') or ''}".strip()


def progress_html(share: float, label: str) -> str:
    return (f'<div class="wb-progress"><div class="wb-progress-fill" style="width:{100 * share:.1f}%"></div>'
            f'<span>{label}</span></div>')


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


def pick_study(names: list[str], shown: str | None, own: str | None, known: list[str]) -> str | None:
    """The study to show: the job's own study when it has just appeared, else the one shown, else the first."""
    if own in names and own not in known:
        return own
    return shown if shown in names else (names[0] if names else None)


# CoRA subspaces (pure functions; the build loads models) ---------------------------------------------

def subspaces_root(ws: Workspace) -> Path:
    return ws.subspaces


def source_kind(run: RunDir) -> str | None:
    """'full' (a whole fine-tuned model) or 'lora' (a LoRA-type adapter) for runs usable as sources."""
    saved = run.saved_model()
    if saved is None:
        return None
    return "full" if saved.whole else "lora" if saved.lora_folder() else None


def cora_source_runs(ws: Workspace) -> list[str]:
    """Finished training runs whose weights can enter a subspace (prefix-only runs change no weight)."""
    return [row["id"] for row in jobs.list_runs(ws) if row["kind"] == "train" and row["state"] == "finished"
            and source_kind(RunDir(ws.runs / row["id"])) is not None]


def cora_sources(ws: Workspace, run_ids: list[str] | None, models_text: str | None) -> list[str]:
    """Source specs for cora.build_artifact: run folders of this workspace, then typed model folders/aliases."""
    sources = [str(run_of(ws, rid).path) for rid in run_ids or []]
    sources += [line.strip() for line in (models_text or "").splitlines()
                if line.strip() and not line.strip().startswith("#")]
    if not sources:
        raise StudiesError("choose at least one finished run, or type a model folder (one per line)")
    return sources


def build_subspace(ws: Workspace, name: str, run_ids: list[str] | None, models_text: str | None, rank: Any,
                   targets: str | None, base: str | None = None) -> str:
    """Average the sources' weights, keep the top-``rank`` directions; returns the artifact's workspace path once
    the job has built it (the tab's handler follows the job instead, see ``follow_build``)."""
    job, out = launch.start_cora(ws, name, cora_sources(ws, run_ids, models_text), rank, targets, base)
    for _ in follow_build(ws, job, out, poll=0.2):
        pass
    return out.relative_to(ws.root).as_posix()


def follow_build(ws: Workspace, job: RunDir, out: Path, poll: float = 1.0) -> Any:
    """A progress line while the build job runs (the model loads and the SVD run in a worker process); refuses
    with the job's reason when it ends without the subspace."""
    while job.effective_state() in ACTIVE_STATES:
        yield f"Building **{out.name}**: {job.read_status().get('phase') or 'waiting for its turn'}..."
        time.sleep(poll)
    state = job.effective_state()
    if state != "finished":
        err = job.read_status().get("error") or {}
        raise StudiesError(f"building subspace {out.name!r} {state}: {err.get('message') or job.log_tail(5)}")


def reach(curve: list[float], target: float = 0.9) -> int | None:
    return next((i for i, v in enumerate(curve, 1) if v >= target - 1e-12), None)


def kinds_table(meta: dict[str, Any]) -> list[list[Any]]:
    """Per module kind (q_proj, ...): share explained at the artifact's rank and components for 90%."""
    rank = int(meta.get("rank") or 0)
    return [[kind, number_text(curve[min(rank, len(curve)) - 1], 3) if rank and curve else "", reach(curve) or ""]
            for kind, curve in (meta.get("curve_by_kind") or {}).items()]


def subspace_view(ws: Workspace, rel: str | None) -> list[Any]:
    """[description with the path to use, cumulative explained-variance figure, per-kind table]."""
    if not rel:
        return ["No subspace yet: build one above.", plots.explained_variance_figure([]), []]
    meta = subspace_meta(ws, rel)
    curve = meta.get("curve") or []
    sources = ", ".join(f"`{Path(s.get('spec', '?')).name}` ({s.get('kind', '?')})" for s in meta.get("sources", []))
    info = (f"**{rel}**: rank {meta.get('rank')}, {len(meta.get('modules') or {})} modules "
            f"({meta.get('targets')}) of {meta.get('architecture')}, from {sources}. Mean share of variance kept "
            f"at rank {meta.get('rank')}: **{number_text(meta.get('explained_mean'), 3)}**.\n\n"
            f"To train on it, give methods `cora-fb` or `cora-tb` the parameter `subspace`: "
            f"`{(ws.root / rel).resolve()}` (with a rank of at most {meta.get('rank')}).")
    figure = plots.explained_variance_figure(curve, cumulative=True, title=f"Common subspace {Path(rel).name}")
    return [info, figure, kinds_table(meta)]


# layout -------------------------------------------------------------------------------------------

@dataclass
class StudiesTab:
    spec: gr.Dropdown
    quick: gr.Checkbox
    overview: gr.Markdown
    yaml_text: gr.Code
    save_name: gr.Textbox
    save: gr.Button
    start: gr.Button
    stop: gr.Button
    message: gr.Markdown
    job_id: gr.Textbox
    progress: gr.HTML
    progress_text: gr.Markdown
    timer: gr.Timer
    result_name: gr.Dropdown
    watch: gr.State
    header: gr.Markdown
    cells: gr.Dataframe
    paired: gr.Dataframe
    means: gr.Plot
    figures: gr.Gallery
    report: gr.Markdown
    cora_runs: gr.Dropdown
    cora_models: gr.Textbox
    cora_base: gr.Textbox
    cora_rank: gr.Number
    cora_targets: gr.Dropdown
    cora_name: gr.Textbox
    cora_build: gr.Button
    cora_message: gr.Markdown
    subspace: gr.Dropdown
    subspace_info: gr.Markdown
    variance: gr.Plot
    kinds: gr.Dataframe

    def results_outputs(self) -> list[Any]:
        return [self.header, self.cells, self.paired, self.means, self.figures, self.report]

    def attach_outputs(self) -> list[Any]:
        return [self.yaml_text, self.overview, self.job_id, self.progress, self.progress_text, self.timer,
                self.result_name, self.watch, *self.results_outputs()]

    def subspace_outputs(self) -> list[Any]:
        return [self.subspace_info, self.variance, self.kinds]


def _spec_panel(ws: Workspace) -> dict[str, Any]:
    choices = spec_choices(ws)
    values = [v for _, v in choices]
    default = DEFAULT_SPEC if DEFAULT_SPEC in values else (values[0] if values else None)
    with gr.Row():
        spec = gr.Dropdown(choices, value=default, label="study spec", scale=3,
                           info="shipped specs, and specs saved in this workspace", elem_id="studies-spec")
        quick = gr.Checkbox(True, label="quick size", info="the spec's small variant (fewer seeds and steps)",
                            elem_id="studies-quick")
        start = gr.Button("Start study", variant="primary", scale=1, elem_id="studies-start")
        stop = gr.Button("Stop study", scale=1, elem_id="studies-stop")
    overview = gr.Markdown(elem_id="studies-overview")
    with gr.Accordion("Spec (YAML): edit and save as a workspace spec", open=False):
        yaml_text = gr.Code(language="yaml", lines=14, interactive=True, label="spec", elem_id="studies-yaml")
        with gr.Row():
            save_name = gr.Textbox(label="save as", placeholder="my-study (must match `name:` in the YAML)", scale=3)
            save = gr.Button("Save spec", scale=1, elem_id="studies-save")
    return {"spec": spec, "quick": quick, "start": start, "stop": stop, "overview": overview,
            "yaml_text": yaml_text, "save_name": save_name, "save": save,
            "message": gr.Markdown(elem_id="studies-message"), "job_id": gr.Textbox(visible=False),
            "progress": gr.HTML(elem_id="studies-progress"),
            "progress_text": gr.Markdown(elem_id="studies-progress-text"), "timer": gr.Timer(TICK_SECONDS,
                                                                                           active=False)}


def _results_panel(ws: Workspace) -> dict[str, Any]:
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


def _cora_panel(ws: Workspace) -> dict[str, Any]:
    gr.Markdown("### CoRA common subspace\nAverage the weights of several models of one architecture and keep "
                "the strongest directions of each layer: the frozen (`cora-fb`) or starting (`cora-tb`) B matrix "
                "of CoRA. Takes seconds to a minute; no training.")
    with gr.Row():
        cora_runs = gr.Dropdown(cora_source_runs(ws), multiselect=True, label="source runs", scale=2,
                                info="finished LoRA-type or full fine-tunes of this workspace",
                                elem_id="studies-cora-runs")
        cora_models = gr.Textbox(label="model folders", lines=2, scale=2, elem_id="studies-cora-models",
                                 info="one per line: model folders or aliases (smollm2, tiny) of the same "
                                      "architecture")
    with gr.Row():
        cora_rank = gr.Number(16, minimum=1, precision=0, label="rank", info="directions kept per layer")
        cora_targets = gr.Dropdown(list(CORA_TARGETS), value="all-linear", allow_custom_value=True,
                                   label="target layers", info="or names such as q_proj,v_proj")
        cora_base = gr.Textbox(label="base model of LoRA sources", placeholder="empty = the run's own")
        cora_name = gr.Textbox(label="subspace name", value="common-subspace", elem_id="studies-cora-name")
        cora_build = gr.Button("Build subspace", variant="primary", elem_id="studies-cora-build")
    cora_message = gr.Markdown(elem_id="studies-cora-message")
    found = subspace_choices(ws)
    subspace = gr.Dropdown(found, value=found[-1] if found else None, label="subspace to show",
                           elem_id="studies-subspace")
    subspace_info = gr.Markdown(elem_id="studies-subspace-info")
    with gr.Row():
        variance = gr.Plot(label="cumulative explained variance", elem_id="studies-variance", scale=2)
        kinds = gr.Dataframe(value=[], headers=["layer kind", "share kept at rank", "components for 90%"],
                             interactive=False, label="per layer kind", elem_id="studies-kinds", scale=1)
    return {"cora_runs": cora_runs, "cora_models": cora_models, "cora_rank": cora_rank, "cora_targets": cora_targets,
            "cora_base": cora_base, "cora_name": cora_name, "cora_build": cora_build, "cora_message": cora_message,
            "subspace": subspace, "subspace_info": subspace_info, "variance": variance, "kinds": kinds}


def build_studies_tab(ws: Workspace) -> StudiesTab:
    gr.Markdown("A study trains every variant of a spec on every training-set size, model and seed, evaluates "
                "each run and reports means with 95% confidence intervals. It runs as a background job; its cells "
                "also appear in the Runs tab.")
    tab = StudiesTab(**_spec_panel(ws), **_results_panel(ws), **_cora_panel(ws))
    wire_studies_tab(tab, ws)
    return tab


# events -------------------------------------------------------------------------------------------

def attach(ws: Workspace, key: str | None, quick: bool, shown: str | None) -> list[Any]:
    """Choosing a spec (or loading the page): [YAML, overview, its newest job, progress bar, progress text,
    timer, study picker, watch state, *results view]; the spec's own study is shown when it has results."""
    text, overview = spec_view(ws, key, quick)
    job_id = newest_job(ws, key, quick)
    names = study_names(ws)
    name = pick_study(names, shown, spec_study_name(ws, key, quick), [])
    watch = {"names": names, "files": results_stamp(ws, name)}
    return [text, overview, job_id or "", *progress_outputs(ws, job_id), gr.update(choices=names, value=name),
            watch, *results_view(ws, name)]


def on_load(ws: Workspace, key: str | None, quick: bool, shown: str | None) -> list[Any]:
    """A page (re)load follows the newest queued or running study job, whatever spec the picker shows:
    [spec picker, quick size, *attach outputs]."""
    for run in study_jobs(ws):
        cfg = run.read_config().get("study") or {}
        found = spec_key(ws, str(cfg.get("spec") or ""))
        if found and run.effective_state() in ACTIVE_STATES:
            key, quick = found, bool(cfg.get("quick"))
            break
    # the choices go with the value: a spec saved in the app after the page was built is not among the choices
    # the page was built with, and a value outside its choices is an error in the browser
    return [gr.update(choices=spec_choices(ws), value=key), gr.update(value=quick), *attach(ws, key, quick, shown)]


def spec_study_name(ws: Workspace, key: str | None, quick: bool) -> str | None:
    try:
        return load_spec(ws, key, quick).name if key else None
    except StudiesError:
        return None


def progress_outputs(ws: Workspace, job_id: str | None) -> list[Any]:
    """[progress bar, progress text, timer] for a job (the timer runs while the job is active)."""
    text, share, active = study_progress(ws, job_id)
    return [progress_html(share, f"{100 * share:.0f}%") if job_id else "", text, gr.Timer(active=active)]


def wire_studies_tab(tab: StudiesTab, ws: Workspace) -> None:
    attach_out = tab.attach_outputs()

    @friendly
    def start_study(settings: dict[str, Any]) -> tuple[str, str]:
        """Start a study as a background job: {"spec": a shipped spec's name or "workspace/<name>", "quick":
        true for its quick size}; returns (message, job id)."""
        run = launch_study(ws, settings.get("spec"), bool(settings.get("quick")))
        return f"Started the study as job **{run.id}**; progress below, cells also in the Runs tab.", run.id

    @friendly
    def save(name: str, text: str) -> list[Any]:
        key = save_workspace_spec(ws, name, text)
        return [f"Saved the spec as **{key}**.", gr.update(choices=spec_choices(ws), value=key)]

    @friendly
    def tick(job_id: str | None, key: str | None, quick: bool, name: str | None,
             watch: dict[str, Any] | None) -> list[Any]:
        progress = progress_outputs(ws, job_id)
        names, known = study_names(ws), (watch or {}).get("names") or []
        name = pick_study(names, name, spec_study_name(ws, key, quick), known)
        now = {"names": names, "files": results_stamp(ws, name)}
        if now == watch:
            return [*progress, gr.skip(), watch, *[gr.skip()] * len(tab.results_outputs())]
        return [*progress, gr.update(choices=names, value=name), now, *results_view(ws, name)]

    def view(name: str | None, watch: dict[str, Any] | None) -> list[Any]:
        return [{**(watch or {}), "files": results_stamp(ws, name)}, *results_view(ws, name)]

    gr.on([tab.spec.change, tab.quick.change], friendly(lambda k, q, s: attach(ws, k, q, s)),
          [tab.spec, tab.quick, tab.result_name], attach_out, api_visibility="private")
    settings = gr.JSON(visible=False)
    tab.start.click(lambda key, quick: {"spec": key, "quick": bool(quick)}, [tab.spec, tab.quick], settings,
                    api_visibility="private").success(
        start_study, settings, [tab.message, tab.job_id], api_name="start_study", show_progress="hidden").success(
        friendly(lambda job: progress_outputs(ws, job)), tab.job_id, [tab.progress, tab.progress_text, tab.timer],
        api_visibility="private")
    tab.stop.click(friendly(lambda job: stop_study(ws, job)), tab.job_id, tab.message, api_visibility="private",
                   show_progress="hidden")
    tab.save.click(save, [tab.save_name, tab.yaml_text], [tab.message, tab.spec], api_visibility="private",
                   show_progress="hidden")
    tab.timer.tick(tick, [tab.job_id, tab.spec, tab.quick, tab.result_name, tab.watch],
                   [tab.progress, tab.progress_text, tab.timer, tab.result_name, tab.watch, *tab.results_outputs()],
                   show_progress="hidden", api_visibility="private")
    tab.result_name.input(friendly(view), [tab.result_name, tab.watch], [tab.watch, *tab.results_outputs()],
                          api_visibility="private")
    wire_cora(tab, ws)


def wire_cora(tab: StudiesTab, ws: Workspace) -> None:
    def collect(run_ids: list[str] | None, models_text: str, rank: float, targets: str, base: str,
                name: str) -> dict[str, Any]:
        return {"name": name, "runs": list(run_ids or []), "models": models_text or "", "rank": rank,
                "targets": targets, "base": base or ""}

    @friendly
    def build(settings: dict[str, Any]) -> Any:
        """Build a CoRA common subspace: {"name", "runs": [run ids], "models": "folders or aliases, one per line",
        "rank", "targets", "base"}; returns (message, its path inside the workspace)."""
        job, out = launch.start_cora(ws, settings.get("name") or "", cora_sources(ws, settings.get("runs"),
                                                                                  settings.get("models")),
                                     settings.get("rank", 16), settings.get("targets"), settings.get("base"))
        for line in follow_build(ws, job, out):
            yield [line, gr.skip()]
        rel = out.relative_to(ws.root).as_posix()
        yield [f"Built **{rel}**.", rel]

    settings = gr.JSON(visible=False)
    built = gr.Textbox(visible=False)
    tab.cora_build.click(collect, [tab.cora_runs, tab.cora_models, tab.cora_rank, tab.cora_targets, tab.cora_base,
                                   tab.cora_name], settings, api_visibility="private").success(
        build, settings, [tab.cora_message, built], api_name="build_subspace", concurrency_limit=1,
        concurrency_id=CORA_CONCURRENCY).success(
        lambda rel: gr.update(choices=subspace_choices(ws), value=rel), built, tab.subspace, api_visibility="private")
    tab.subspace.change(friendly(lambda rel: subspace_view(ws, rel)), tab.subspace, tab.subspace_outputs(),
                        api_visibility="private")


def refresh_lists(ws: Workspace, key: str | None, runs: list[str] | None, shown: str | None) -> list[Any]:
    """Opening the tab: new workspace specs, source runs and subspaces appear without a reload. Values are
    only set when the chosen one has gone, so that this never undoes a page load's re-attachment."""
    specs, sources, found = spec_choices(ws), cora_source_runs(ws), subspace_choices(ws)
    values = [v for _, v in specs]
    kept = [r for r in runs or [] if r in sources]
    return [gr.update(choices=specs) if key in values else gr.update(choices=specs, value=values[0] if values
                                                                     else None),
            gr.update(choices=sources) if kept == list(runs or []) else gr.update(choices=sources, value=kept),
            gr.update(choices=found) if shown in found else gr.update(choices=found, value=found[-1] if found
                                                                      else None)]


def wire_studies_page(demo: gr.Blocks, page: gr.Tab, tab: StudiesTab, ws: Workspace) -> None:
    """Page load (and reload) re-attaches to the newest job of the chosen spec; opening the tab refreshes lists."""
    demo.load(friendly(lambda k, q, s: on_load(ws, k, q, s)), [tab.spec, tab.quick, tab.result_name],
              [tab.spec, tab.quick, *tab.attach_outputs()], api_visibility="private")
    demo.load(friendly(lambda rel: subspace_view(ws, rel)), tab.subspace, tab.subspace_outputs(),
              api_visibility="private")
    page.select(friendly(lambda k, r, s: refresh_lists(ws, k, r, s)), [tab.spec, tab.cora_runs, tab.subspace],
                [tab.spec, tab.cora_runs, tab.subspace], api_visibility="private")
