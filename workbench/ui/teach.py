"""The Data tab's one-click path: the collection to a tested model (QA set, training with the knowledge defaults,
evaluation) as one teach job, with one progress line and, at the end, the fact ledger: which facts the tuned
model now answers in new words. The job runs in a worker; a reload finds it again (the newest teach job)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from .. import jobs, launch
from ..rundir import RunDir
from ..workspace import Workspace, check_name
from .common import UIError, friendly
from .data import corpus_folder
from .evaluate import fact_rows
from .train import MODEL_CHOICES

LEDGER_HEADERS = ["fact", "subject", "kind", "train pairs", "held out", "base knew", "tuned answers", "sentence"]
STAGE_NAMES = {"qa": "writing questions", "train": "training", "eval": "evaluating"}


@dataclass
class TeachPanel:
    name: gr.Textbox
    model: gr.Dropdown
    start: gr.Button
    status: gr.Markdown
    ledger: gr.Dataframe
    chat: gr.Button
    job: gr.State
    timer: gr.Timer


def build_teach_panel() -> TeachPanel:
    gr.Markdown("### Teach this collection in one step\nWrites the questions, trains the default model with the "
                "knowledge defaults and evaluates it on reworded questions it never saw; then chat with it in "
                "the Chat tab. About 20 minutes for a 700-word document on a 2-core CPU (measured 16-19 on three "
                "made-up documents).")
    with gr.Row():
        name = gr.Textbox(label="dataset name", placeholder="e.g. harbour-report", scale=3, elem_id="teach-name")
        model = gr.Dropdown(list(MODEL_CHOICES), value="smollm2", allow_custom_value=True, label="base model",
                            scale=2, elem_id="teach-model")
        start = gr.Button("Teach: questions, training, evaluation", variant="primary", scale=2,
                          elem_id="teach-start")
    status = gr.Markdown(elem_id="teach-status")
    ledger = gr.Dataframe(headers=LEDGER_HEADERS, value=[], interactive=False, wrap=True, visible=False,
                          label="fact ledger: each fact, whether the base knew it and the tuned model answers it",
                          column_widths=["20%", "18%", "8%", "8%", "7%", "8%", "9%", "22%"],
                          elem_id="teach-ledger", max_height=360)
    chat = gr.Button("Chat with the taught model (base beside it)", visible=False, elem_id="teach-chat")
    return TeachPanel(name, model, start, status, ledger, chat, gr.State(None), gr.Timer(2.0))


def latest_teach_job(ws: Workspace) -> str | None:
    """The newest teach job of the workspace, so that a reloaded page finds the one it started."""
    found = jobs.find_jobs(ws.runs, "teach")
    return found[0].id if found else None


def status_text(ws: Workspace, job_id: str) -> str:
    run = RunDir(ws.runs / job_id)
    status, state = run.read_status(), run.effective_state()
    if state in ("queued", "running"):
        child_id = status.get("child")
        child = RunDir(ws.runs / child_id).read_status() if child_id else {}
        stage = STAGE_NAMES.get(status.get("stage"), "starting")
        where = f"step {child.get('step') or 0} of {child.get('total_steps') or '?'}" if child else "starting"
        eta = f", about {round(child['eta_s'] / 60)} min left in this stage" if child.get("eta_s") else ""
        return f"**Teaching** ({job_id}): stage {status.get('step') or 1} of 3, {stage}: {where}{eta}."
    if state != "finished":
        reason = (status.get("error") or {}).get("message") or state
        return f"**Teach job {job_id} {state}**: {reason}"
    return done_text(status.get("result") or {})


def done_text(result: dict[str, Any]) -> str:
    scores = result.get("scores") or {}
    base = (scores.get("base") or {}).get("fact_acc")
    tuned = (scores.get("tuned") or {}).get("fact_acc")
    forgot = scores.get("forgetting_delta")
    learned = f"the tuned model answers {tuned:.0%} of the held-out rewordings (the base {base or 0:.0%})" \
        if tuned is not None else "evaluated"
    general = f"; its general-knowledge probe changed by {forgot:+.2f}" if isinstance(forgot, (int, float)) else ""
    return (f"**Done.** Dataset `{result.get('dataset')}` ({result.get('pairs')} training pairs), run "
            f"`{result.get('train_run')}` ({result.get('steps')} steps): {learned}{general}. Pick run "
            f"`{result.get('train_run')}` in the Chat tab to talk to it.")


def taught_run(ws: Workspace, job_id: str | None) -> str:
    """The training run a finished teach job made."""
    result = RunDir(ws.runs / check_name(job_id, "job id")).read_status().get("result") or {} if job_id else {}
    if not result.get("train_run"):
        raise UIError("the teach job has not finished training yet")
    return str(result["train_run"])


def ledger_rows(ws: Workspace, result: dict[str, Any]) -> list[list[Any]]:
    from ..eval_results import load_predictions

    run = RunDir(ws.runs / str(result.get("train_run")))
    return fact_rows(run, load_predictions(run))


def wire_teach_panel(panel: TeachPanel, ws: Workspace, corpus: gr.Dropdown) -> None:
    @friendly
    def start(collection: str | None, name: str, model: str | None) -> list[Any]:
        if not collection:
            raise UIError("choose or upload a document collection first")
        folder = corpus_folder(ws, collection)
        paths = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        run = launch.start_teach(ws, paths, (name or "").strip() or f"{collection}-taught",
                          train={"model": (model or "").strip() or "smollm2"})
        return [run.id, status_text(ws, run.id), gr.update(visible=False), gr.update(visible=False)]

    def tick(job_id: str | None) -> list[Any]:
        job_id = job_id or latest_teach_job(ws)
        if not job_id or not (ws.runs / job_id).is_dir():
            return [job_id, gr.skip(), gr.skip(), gr.skip()]
        text = status_text(ws, job_id)
        result = RunDir(ws.runs / job_id).read_status().get("result") or {}
        if result.get("train_run"):
            return [job_id, text, gr.update(value=ledger_rows(ws, result), visible=True), gr.update(visible=True)]
        return [job_id, text, gr.skip(), gr.skip()]

    outputs = [panel.job, panel.status, panel.ledger, panel.chat]
    panel.start.click(start, [corpus, panel.name, panel.model], outputs, api_visibility="private",
                      show_progress="hidden")
    panel.timer.tick(friendly(tick), panel.job, outputs, show_progress="hidden", api_visibility="private")
