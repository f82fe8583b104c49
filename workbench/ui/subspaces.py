"""The Studies tab's CoRA section: build a common subspace from finished runs or model folders (a worker job,
one build at a time, followed with a progress line) and plot its cumulative explained variance.

Widgets and handlers only: the subspace is built by the "cora" job kind (workbench.launch), its metadata read by
workbench.studies.results.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from .. import jobs, launch, plots
from ..rundir import RunDir
from ..studies.results import subspace_choices, subspace_meta
from ..studies.specs import ACTIVE_STATES, StudyError
from ..workspace import Workspace
from .common import friendly, number_text, run_of

CORA_TARGETS = ("all-linear", "attention")
CORA_CONCURRENCY = "cora-build"
StudiesError = StudyError  # the engine's own error: the tab shows its message as it is


# pure functions (the build loads models in its job) ---------------------------------------------

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


# layout and events ----------------------------------------------------------------------------------

@dataclass
class SubspacePanel:
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

    def subspace_outputs(self) -> list[Any]:
        return [self.subspace_info, self.variance, self.kinds]


def build_subspace_panel(ws: Workspace) -> SubspacePanel:
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
                             interactive=False, wrap=True, label="per layer kind", elem_id="studies-kinds", scale=1)
    panel = SubspacePanel(cora_runs, cora_models, cora_base, cora_rank, cora_targets, cora_name, cora_build,
                          cora_message, subspace, subspace_info, variance, kinds)
    wire_cora(panel, ws)
    return panel


def wire_cora(tab: SubspacePanel, ws: Workspace) -> None:
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
