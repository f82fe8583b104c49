"""The Studies tab: pick a study spec (a shipped one, or one saved in the workspace), start it as a background
job, follow its cells live (also after a page reload: the newest job of that spec is found again), and read
its results: the per-cell table with 95% confidence intervals, the paired comparison against the baseline,
the figures and report.md (ui/study_results.py). A CoRA section (ui/subspaces.py) builds a common subspace
from finished runs or model folders and plots its cumulative explained variance.

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
from typing import Any

import gradio as gr

from .. import jobs, launch
from ..rundir import RunDir
from ..studies.results import study_names, subspace_choices
from ..studies.specs import (ACTIVE_STATES, StudyError, StudySpec, cells, job_study_name, load_spec, newest_job,
                             save_workspace_spec, spec_choices, spec_key, spec_source, spec_yaml,
                             study_cell_runs, study_jobs, trained_variants)
from ..workspace import Workspace, check_name
from .common import duration_text, friendly
from .study_results import results_panel, results_stamp, results_view
from .subspaces import SubspacePanel, build_subspace_panel, cora_source_runs, subspace_view

TICK_SECONDS = 3.0
DEFAULT_SPEC = "paper-joint"
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


def pick_study(names: list[str], shown: str | None, own: str | None, known: list[str]) -> str | None:
    """The study to show: the job's own study when it has just appeared, else the one shown, else the first."""
    if own in names and own not in known:
        return own
    return shown if shown in names else (names[0] if names else None)


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
    cora: SubspacePanel

    def results_outputs(self) -> list[Any]:
        return [self.header, self.cells, self.paired, self.means, self.figures, self.report]

    def attach_outputs(self) -> list[Any]:
        return [self.yaml_text, self.overview, self.job_id, self.progress, self.progress_text, self.timer,
                self.result_name, self.watch, *self.results_outputs()]


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


def build_studies_tab(ws: Workspace) -> StudiesTab:
    gr.Markdown("A study trains every variant of a spec on every training-set size, model and seed, evaluates "
                "each run and reports means with 95% confidence intervals. It runs as a background job; its cells "
                "also appear in the Runs tab.")
    tab = StudiesTab(**_spec_panel(ws), **results_panel(ws), cora=build_subspace_panel(ws))
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
    cora = tab.cora
    demo.load(friendly(lambda rel: subspace_view(ws, rel)), cora.subspace, cora.subspace_outputs(),
              api_visibility="private")
    page.select(friendly(lambda k, r, s: refresh_lists(ws, k, r, s)), [tab.spec, cora.cora_runs, cora.subspace],
                [tab.spec, cora.cora_runs, cora.subspace], api_visibility="private")
