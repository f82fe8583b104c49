"""The Evaluate tab's topic gate: fit a gate on a run's own training questions (TF-IDF and a logistic
regression, well under a second, so it is fitted in the UI process), save it in the run folder and show its
held-out precision, recall and confusion matrix. The Chat tab fits one the same way.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from .. import gate as gates
from .. import plots
from ..qa.dataset import load_pairs
from ..rundir import RunDir
from ..workspace import Workspace
from .common import UIError, friendly, run_of


def gate_text(report: dict[str, Any] | None) -> str:
    if not report:
        return "No topic gate for this run yet: fit one to refuse off-topic questions in Chat."
    return (f"Held out: {report['n_in_domain']} in-domain and {report['n_off_topic']} off-topic questions. "
            f"Precision **{report['precision']:.3f}**, recall **{report['recall']:.3f}**, "
            f"F1 **{report['f1']:.3f}** at threshold {report['threshold']:.2f}.")


def fit_run_gate(ws: Workspace, run: RunDir, threshold: float, refusal: str) -> dict[str, Any]:
    """Fit the topic gate on the run's own training questions and save it in the run folder."""
    data = run.train_config().get("data")
    if not data:
        raise UIError(f"run {run.id} has no dataset recorded; cannot tell which questions are in-domain")
    questions = [p["question"] for p in load_pairs(data)]
    gate, report = gates.fit_gate(questions, threshold=threshold, refusal_message=refusal or gates.DEFAULT_REFUSAL)
    gate.save(run.path / "gate")
    return report.to_dict()


def gate_panel() -> dict[str, Any]:
    with gr.Accordion("Topic gate (refuse off-topic questions)", open=False):
        with gr.Row():
            gate_threshold = gr.Slider(0.05, 0.95, value=0.5, step=0.05, label="threshold",
                                       info="in-domain probability a question needs to be answered")
            gate_refusal = gr.Textbox(label="refusal message", placeholder="empty = the default message", scale=2)
            gate_fit = gr.Button("Fit gate for this run", elem_id="eval-gate-fit")
        gate_info = gr.Markdown(elem_id="eval-gate-info")
        confusion = gr.Plot(label="held-out confusion matrix", elem_id="eval-confusion")
    return {"gate_threshold": gate_threshold, "gate_refusal": gate_refusal, "gate_fit": gate_fit,
            "gate_info": gate_info, "confusion": confusion}


def wire_gate(tab: Any, ws: Workspace) -> None:
    @friendly
    def fit(run_id: str | None, threshold: float, refusal: str) -> list[Any]:
        report = fit_run_gate(ws, run_of(ws, run_id), float(threshold), refusal)
        return [gate_text(report), plots.confusion_figure(report["confusion"])]

    tab.gate_fit.click(fit, [tab.show_run, tab.gate_threshold, tab.gate_refusal], [tab.gate_info, tab.confusion],
                       api_visibility="private")
