"""The Evaluate tab: pick trained runs and a QA set, start one evaluation job per run, then read the results
from the run folders: scores (base, tuned, delta) as a table and bar charts, every question with its change
(improved / regressed highlighted), the forgetting probe, several runs compared, and the topic gate's
held-out confusion matrix.

Evaluations run in worker processes (workbench.launch.start_eval); the topic gate is fitted here because
it takes well under a second (TF-IDF and a logistic regression). Figures come from workbench.plots.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from .. import endpoint, eval_results, jobs, launch, plots
from .. import gate as gates
from ..config import EVAL_METRICS, EvalConfig, GenParams, from_dict
from ..qa import ledger
from ..rundir import RunDir
from ..served import ServeSpec, describe as describe_served
from ..workspace import Workspace
from .common import (UIError, active_jobs, dataset_folder, dataset_names, friendly, number_text, run_line, run_of)
from .forms import Form, build_form
from .gate import gate_panel, gate_text, wire_gate

OWN_HELD_OUT = "(the run's own held-out pairs)"
# the key fact first: ROUGE-L counts shared words, so a wrong year in the right sentence reads as a win
CHANGE_METRICS = ("fact_acc", "rougeL", "bleu4", "meteor", "ppl")
CHANGE_COLORS = {"improved": "background-color: #e6f4ea", "regressed": "background-color: #fce8e6"}


# reading results (pure functions) -----------------------------------------------------------------

def trained_runs(ws: Workspace) -> list[str]:
    """Training runs with a saved model (finished, or stopped with its adapter saved)."""
    return [row["id"] for row in jobs.list_runs(ws)
            if row["kind"] == "train" and RunDir(ws.runs / row["id"]).saved_model() is not None]


def scores_table(scores: dict[str, Any] | None) -> list[list[Any]]:
    """One row per metric: base, tuned, tuned - base."""
    if not scores:
        return []
    keys = plots.score_keys({"base": scores.get("base") or {}, "tuned": scores.get("tuned") or {}})
    base, tuned, delta = (scores.get(s) or {} for s in ("base", "tuned", "delta"))
    rows = [[plots.label(k), number_text(base.get(k)), number_text(tuned.get(k)), signed(delta.get(k))]
            for k in keys]
    return rows + judge_rows(scores.get("judge"))


def judge_rows(judge: dict[str, Any] | None) -> list[list[Any]]:
    """The judge's mean marks (0-100) per criterion, or one row saying why there are none."""
    if not judge:
        return []
    if judge.get("error"):
        return [["judge", "", "", f"failed: {judge['error']}"]]
    base, tuned, delta = (judge.get(s) or {} for s in ("base", "tuned", "delta"))
    rows = [[f"judge: {c}", number_text(base.get(c)), number_text(tuned.get(c)), signed(delta.get(c))]
            for c in eval_results.JUDGE_CRITERIA]
    unparsed = (base.get("unparsed") or 0) + (tuned.get("unparsed") or 0)
    if unparsed:
        rows.append(["judge: answers it gave no mark for", str(base.get("unparsed") or 0),
                     str(tuned.get("unparsed") or 0), ""])
    return rows


def signed(value: Any) -> str:
    return f"{value:+.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def question_frame(predictions: list[dict[str, Any]], metric: str, show: str) -> pd.DataFrame:
    """Every question with both answers, their scores by ``metric`` and its change; ``show`` filters."""
    groups = eval_results.question_changes(predictions, metric, fallback="rougeL" if metric == "fact_acc" else None)
    rows = []
    for change in ("improved", "regressed", "unchanged", "unscored"):
        if show not in ("all", change):
            continue
        for item in groups[change]:
            rows.append({"change": change, "question": item["question"], "reference": item["reference"],
                         "base answer": item["base"], "tuned answer": item["tuned"],
                         "base": number_text(item["base_score"], 3),
                         "tuned": number_text(item["tuned_score"], 3), "delta": signed(item["delta"])})
    # the score columns are narrow: their metric is the one "compare answers by" names, not repeated here
    return pd.DataFrame(rows, columns=["change", "question", "reference", "base answer", "tuned answer", "base",
                                       "tuned", "delta"])


def styled(frame: pd.DataFrame) -> Any:
    """Improved rows green, regressed rows red."""
    if frame.empty:
        return frame
    return frame.style.apply(lambda row: [CHANGE_COLORS.get(row["change"], "")] * len(row), axis=1)


def forgetting_table(scores: dict[str, Any] | None) -> list[list[Any]]:
    forgetting = (scores or {}).get("forgetting")
    if not forgetting:
        return []
    return scores_table(forgetting)


def launch_evaluations(ws: Workspace, run_ids: list[str], dataset: str | None, metrics: list[str],
                       bertscore: bool, probe: bool, limit: int, gen: dict[str, Any], judge_url: str = "",
                       judge_model: str = "", serve: dict[str, Any] | None = None) -> list[RunDir]:
    """Validate everything first, then start one eval job per run (they queue for the accelerator). A judge is a
    model behind an OpenAI-compatible API on a host the server allows (loopback unless told more); so is a
    serving engine that answers instead of the local model (``serve``: url, tuned_model, base_model, parity)."""
    if not run_ids:
        raise UIError("choose at least one trained run to evaluate")
    serve_spec = serving_spec(serve or {})
    judge_url, judge_model = (judge_url or "").strip(), (judge_model or "").strip()
    if judge_url:
        try:
            endpoint.check_url(judge_url)
        except endpoint.EndpointNotAllowed as exc:
            raise UIError(str(exc)) from None
    if judge_model and not judge_url:
        raise UIError("a judge needs the URL of an OpenAI-compatible API: a small local model such as SmolLM2-135M "
                      "gives no usable marks (measured: none of its replies held a mark)")
    settings = from_dict(EvalConfig, {"metrics": list(metrics or []), "bertscore": bool(bertscore),
                                      "judge_url": judge_url, "judge_model": judge_model or ("default" if judge_url
                                                                                             else "")})
    gen_params = from_dict(GenParams, gen)
    data = None if dataset in (None, "", OWN_HELD_OUT) else str(dataset_folder(ws, dataset))
    for rid in run_ids:  # refuse the whole request before starting any job
        launch.eval_job(ws, run_of(ws, rid).path, data, gen=gen_params, settings=settings,
                        limit=int(limit or 0), probe=probe, serve=serve_spec)
    return [launch.start_eval(ws, run_of(ws, rid).path, data, gen=gen_params, settings=settings,
                              limit=int(limit or 0), probe=probe, serve=serve_spec) for rid in run_ids]


def serving_spec(serve: dict[str, Any]) -> ServeSpec | None:
    """The serving engine the form names, on a host the server allows; None when its URL is empty."""
    url = str(serve.get("url") or "").strip()
    names = [str(serve.get(k) or "").strip() for k in ("tuned_model", "base_model")]
    if not url:
        if any(names):
            raise UIError("a served model name needs the serving engine's URL (e.g. http://127.0.0.1:8000/v1)")
        return None
    try:
        endpoint.check_url(url)
    except endpoint.EndpointNotAllowed as exc:
        raise UIError(str(exc)) from None
    return ServeSpec(url=url, tuned_model=names[0], base_model=names[1], parity=int(serve.get("parity") or 0))


def progress_text(ws: Workspace, eval_ids: list[str]) -> tuple[str, bool]:
    """A line per evaluation job and whether any is still queued or running."""
    lines, active = [], False
    for rid in eval_ids:
        path = ws.runs / rid
        if not path.exists():
            continue
        run = RunDir(path)
        status, state = run.read_status(), run.effective_state()
        active |= state in ("queued", "running")
        step, total = status.get("step") or 0, status.get("total_steps") or 0
        detail = f"{step}/{total} answers ({status.get('phase', '')})" if total else ""
        err = (status.get("error") or {}).get("message", "")
        lines.append(f"- `{rid}`: **{state}** {detail} {err}".rstrip())
    return "\n".join(lines), active


# layout -------------------------------------------------------------------------------------------

@dataclass
class EvalTab:
    runs: gr.Dropdown
    dataset: gr.Dropdown
    metrics: gr.CheckboxGroup
    bertscore: gr.Checkbox
    probe: gr.Checkbox
    limit: gr.Number
    gen_form: Form
    judge_url: gr.Textbox
    judge_model: gr.Textbox
    serve_url: gr.Textbox
    serve_model: gr.Textbox
    serve_base_model: gr.Textbox
    parity: gr.Number
    start: gr.Button
    settings: gr.JSON
    message: gr.Markdown
    pending: gr.State
    timer: gr.Timer
    show_run: gr.Dropdown
    run_info: gr.Markdown
    scores: gr.Dataframe
    bars: gr.Plot
    metric: gr.Dropdown
    show: gr.Radio
    questions: gr.Dataframe
    forgetting: gr.Dataframe
    compare: gr.Dataframe
    facts: gr.Dataframe
    gate_threshold: gr.Slider
    gate_refusal: gr.Textbox
    gate_fit: gr.Button
    gate_info: gr.Markdown
    confusion: gr.Plot

    def view_inputs(self) -> list[Any]:
        return [self.show_run, self.metric, self.show]

    def view_outputs(self) -> list[Any]:
        return [self.run_info, self.scores, self.bars, self.questions, self.forgetting, self.compare, self.gate_info,
                self.confusion, self.facts]


@contextmanager
def _api_panel(title: str, hint: str, key_env: str) -> Iterator[None]:
    """A closed accordion for a model behind an OpenAI-compatible API: what it does, then one row of fields."""
    with gr.Accordion(title, open=False):
        gr.Markdown(f"{hint} The API key comes from `${key_env}` on the server; hosts other than this machine need "
                    "`--allow-endpoint` at launch.", elem_classes="wb-hint")
        with gr.Row():
            yield


def _url_box(label: str, elem_id: str) -> gr.Textbox:
    return gr.Textbox("", label=label, placeholder="http://127.0.0.1:8000/v1", elem_id=elem_id)


def _request_panel(ws: Workspace) -> dict[str, Any]:
    with gr.Row():
        runs = gr.Dropdown(trained_runs(ws), multiselect=True, label="runs to evaluate", scale=2,
                           info="trained runs with a saved model; each is compared with its own base model",
                           elem_id="eval-runs")
        dataset = gr.Dropdown([OWN_HELD_OUT, *dataset_names(ws)], value=OWN_HELD_OUT, label="QA set",
                              info="a dataset's test split, or the pairs the run held out", elem_id="eval-dataset")
        limit = gr.Number(0, minimum=0, precision=0, label="questions", info="use only the first N; 0 = all")
    with gr.Row():
        metrics = gr.CheckboxGroup([m for m in EVAL_METRICS if m != "bertscore"], value=list(EvalConfig().metrics),
                                   label="metrics", scale=3, elem_id="eval-metrics")
        bertscore = gr.Checkbox(False, label="BERTScore", info="slower: loads a 23M-parameter encoder")
        probe = gr.Checkbox(True, label="forgetting probe", info="general questions: did tuning break basics?")
    with gr.Accordion("Generation settings", open=False):
        gen_form = build_form(GenParams, prefix="eval-gen-", columns=3)
    with _api_panel("LLM judge (optional)", "A stronger model behind an OpenAI-compatible API (vLLM, llama.cpp's "
                    "server, Ollama, a hosted API) grades each base and tuned answer for fluency, relevance and "
                    "accuracy, 0-100. A small local model cannot judge: SmolLM2-135M gave no usable mark for any "
                    "answer.", "WORKBENCH_JUDGE_KEY"):
        judge_url = _url_box("judge API URL", "eval-judge-url")
        judge_model = gr.Textbox("", label="judge model name", placeholder="the name the API serves",
                                 elem_id="eval-judge-model")
    with _api_panel("Answers from a serving engine (optional)", "On a GPU, a serving engine answers far faster: "
                    "start `vllm serve BASE --enable-lora --lora-modules tuned=RUN/adapter` (or SGLang, llama.cpp's "
                    "server) and name the models it serves. The first questions are also answered here and "
                    "compared (parity); perplexity stays the local model's.", "WORKBENCH_SERVE_API_KEY"):
        serve_url = _url_box("serving API URL", "eval-serve-url")
        serve_model = gr.Textbox("", label="tuned model's name there", placeholder="tuned", elem_id="eval-serve-model")
        serve_base_model = gr.Textbox("", label="base model's name there", placeholder="empty = answered here",
                                      elem_id="eval-serve-base-model")
        parity = gr.Number(8, minimum=0, precision=0, label="parity questions",
                           info="also answered here and compared; 0 = none")
    start = gr.Button("Start evaluation", variant="primary", elem_id="eval-start")
    return {"runs": runs, "dataset": dataset, "limit": limit, "metrics": metrics, "bertscore": bertscore,
            "probe": probe, "gen_form": gen_form, "judge_url": judge_url, "judge_model": judge_model,
            "serve_url": serve_url, "serve_model": serve_model, "serve_base_model": serve_base_model,
            "parity": parity,
            "start": start, "settings": gr.JSON(visible=False),
            "message": gr.Markdown(elem_id="eval-message"), "pending": gr.State([]),
            "timer": gr.Timer(2.0, active=False)}


def _results_panel(ws: Workspace) -> dict[str, Any]:
    runs = trained_runs(ws)
    show_run = gr.Dropdown(runs, value=runs[0] if runs else None, label="results of run", elem_id="eval-show")
    run_info = gr.Markdown(elem_id="eval-run-info")
    with gr.Row():
        scores = gr.Dataframe(headers=["metric", "base", "tuned", "delta"], value=[], interactive=False,
                              label="scores on the QA set", elem_id="eval-scores")
        forgetting = gr.Dataframe(headers=["metric", "base", "tuned", "delta"], value=[], interactive=False,
                                  label="forgetting probe (general questions)", elem_id="eval-forgetting")
    bars = gr.Plot(label="base vs tuned", elem_id="eval-bars")
    with gr.Row():
        metric = gr.Dropdown(list(CHANGE_METRICS), value="fact_acc", label="compare answers by", scale=1,
                             info="fact_acc: the key fact (ROUGE-L where a question has none)")
        show = gr.Radio(["all", "improved", "regressed", "unchanged"], value="all", label="show", scale=2)
    questions = gr.Dataframe(value=question_frame([], "fact_acc", "all"), interactive=False, wrap=True,
                             label="every question",
                             column_widths=["8%", "18%", "18%", "19%", "19%", "6%", "6%", "6%"],
                             elem_id="eval-questions", max_height=480)
    facts = gr.Dataframe(headers=ledger.TABLE_HEADERS, value=[], interactive=False, wrap=True, max_height=360,
                         column_widths=["14%", "16%", "8%", "7%", "7%", "7%", "8%", "33%"],
                         label="fact ledger: did the base know each fact, does the tuned model answer its held-out "
                               "rewording ('unasked' = never taught)", elem_id="eval-facts")
    compare = gr.Dataframe(value=comparison(ws), interactive=False, label="all evaluated runs compared",
                           elem_id="eval-compare")
    return {"show_run": show_run, "run_info": run_info, "scores": scores, "bars": bars, "metric": metric, "show": show,
            "questions": questions, "forgetting": forgetting, "compare": compare, "facts": facts}


def build_eval_tab(ws: Workspace) -> EvalTab:
    gr.Markdown("Evaluate tuned models against their base on held-out questions. Each evaluation is a job; "
                "results stay in the run folder.")
    request = _request_panel(ws)
    gr.Markdown("### Results")
    tab = EvalTab(**request, **_results_panel(ws), **gate_panel())
    wire_eval_tab(tab, ws)
    return tab


# events -------------------------------------------------------------------------------------------

def results_view(ws: Workspace, run_id: str | None, metric: str, show: str) -> list[Any]:
    """[run line, scores table, bar chart, per-question table, forgetting table, comparison, gate text,
    confusion matrix]."""
    if not run_id:
        empty = plots.scores_bar_figure({})
        return ["", [], empty, question_frame([], metric or "fact_acc", show or "all"), [], comparison(ws),
                gate_text(None), plots.confusion_figure([]), []]
    run = run_of(ws, run_id)
    scores = eval_results.load_scores(run)
    bars = plots.scores_bar_figure({"base": (scores or {}).get("base") or {},
                                    "tuned": (scores or {}).get("tuned") or {}})
    predictions = eval_results.load_predictions(run)
    frame = question_frame(predictions, metric or "fact_acc", show or "all")
    report = gates.saved_report(run.path / "gate")
    info = run_line(run) + (f" · evaluated on {scores.get('n')} questions ({scores.get('data')})\n\n"
                            f"{meaning(scores)}" if scores else " · not evaluated yet")
    served = describe_served(((scores or {}).get("settings") or {}).get("served"))
    info += "".join(f"\n\n{line.strip()}" for line in served)
    return [info, scores_table(scores), bars, styled(frame), forgetting_table(scores), comparison(ws),
            gate_text(report), plots.confusion_figure((report or {}).get("confusion") or []),
            fact_rows(run, predictions)]


def _count(side: dict[str, Any]) -> tuple[int, int] | None:
    """(questions answered with their key fact, questions with a key fact) of one side's scores."""
    acc, n = side.get("fact_acc"), side.get("fact_acc_n") or side.get("n")
    return (round(acc * n), int(n)) if isinstance(acc, (int, float)) and n else None


def meaning(scores: dict[str, Any]) -> str:
    """The headline numbers in words: how many facts were learned, how many general facts were lost."""
    parts = []
    tuned, base = _count(scores.get("tuned") or {}), _count(scores.get("base") or {})
    if tuned:
        parts.append(f"**Learned**: the tuned model states the key fact in {tuned[0]} of {tuned[1]} answers"
                     + (f" (the base model in {base[0]})" if base else "") + ".")
    forgetting = scores.get("forgetting") or {}
    f_tuned, f_base = _count(forgetting.get("tuned") or {}), _count(forgetting.get("base") or {})
    if f_tuned and f_base:
        lost = f_base[0] - f_tuned[0]
        change = f"{lost} fewer than the base" if lost > 0 else (
            "as many as the base" if lost == 0 else f"{-lost} more than the base")
        parts.append(f"**Forgot**: it answers {f_tuned[0]} of {f_tuned[1]} general questions, {change} "
                     f"({f_base[0]}).")
    return " ".join(parts)


def fact_rows(run: RunDir, predictions: list[dict[str, Any]]) -> list[list[Any]]:
    """The ledger of the dataset the run trained on, marked with this run's answers to the held-out rewordings."""
    data = run.train_config().get("data") or ""
    return ledger.table(ledger.with_results(ledger.read(data), predictions)) if data else []


def comparison(ws: Workspace) -> pd.DataFrame:
    runs = [RunDir(ws.runs / rid) for rid in trained_runs(ws)]
    rows = [r for r in eval_results.compare_runs(runs) if r["evaluated"]]
    if not rows:  # named columns and no rows, not the numbered columns of an empty frame
        return pd.DataFrame(columns=["run", "method", "n", "tuned_fact_acc", "delta_fact_acc"])
    keep = ["run", "method", "n"] + [k for k in rows[0] if k.startswith(("tuned_", "delta_"))]
    return pd.DataFrame([{k: (number_text(r.get(k)) if k not in ("run", "method") else r.get(k)) for k in keep}
                         for r in rows])


def choices_update(ws: Workspace, selected: str | None) -> list[Any]:
    runs = trained_runs(ws)
    value = selected if selected in runs else (runs[0] if runs else None)
    return [gr.update(choices=runs), gr.update(choices=runs, value=value),
            gr.update(choices=[OWN_HELD_OUT, *dataset_names(ws)])]


def on_open(ws: Workspace, run_id: str | None, metric: str, show: str) -> list[Any]:
    """Opening the tab: fresh run and dataset lists, and the results of the chosen run read again."""
    lists = choices_update(ws, run_id)
    chosen = lists[1]["value"]
    return [*lists, *results_view(ws, chosen, metric, show)]


def wire_eval_tab(tab: EvalTab, ws: Workspace) -> None:
    view_in, view_out = tab.view_inputs(), tab.view_outputs()
    view = friendly(lambda rid, metric, show: results_view(ws, rid, metric, show))

    def collect(runs: list[str], dataset: str, metrics: list[str], bertscore: bool, probe: bool, limit: float,
                judge_url: str, judge_model: str, serve_url: str, serve_model: str, serve_base_model: str,
                parity: float, *gen: Any) -> dict[str, Any]:
        return {"runs": list(runs or []), "dataset": dataset, "metrics": list(metrics or []),
                "bertscore": bool(bertscore), "probe": bool(probe), "limit": int(limit or 0),
                "judge_url": judge_url or "", "judge_model": judge_model or "",
                "serve": {"url": serve_url or "", "tuned_model": serve_model or "",
                          "base_model": serve_base_model or "", "parity": int(parity or 0)},
                "gen": tab.gen_form.read(list(gen))}

    @friendly
    def start_evaluation(settings: dict[str, Any]) -> tuple[str, list[str]]:
        """Start one evaluation job per run; returns (message, eval run ids)."""
        started = launch_evaluations(ws, settings.get("runs") or [], settings.get("dataset"),
                                     settings.get("metrics") or list(EvalConfig().metrics),
                                     bool(settings.get("bertscore")), bool(settings.get("probe", True)),
                                     int(settings.get("limit") or 0), settings.get("gen") or {},
                                     settings.get("judge_url") or "", settings.get("judge_model") or "",
                                     settings.get("serve"))
        ids = [r.id for r in started]
        return f"Started {len(ids)} evaluation(s); progress below, results when they finish.", ids

    def track(ids: list[str], pending: list[str]) -> list[Any]:
        return [list(dict.fromkeys([*pending, *ids])), gr.Timer(active=True)]

    @friendly
    def tick(pending: list[str], rid: str | None, metric: str, show: str) -> list[Any]:
        text, active = progress_text(ws, pending)
        if active:
            return [text, gr.skip(), *[gr.skip()] * (3 + len(view_out))]
        return [text, gr.Timer(active=False), *choices_update(ws, rid), *results_view(ws, rid, metric, show)]

    ids = gr.JSON(visible=False)
    inputs = [tab.runs, tab.dataset, tab.metrics, tab.bertscore, tab.probe, tab.limit, tab.judge_url,
              tab.judge_model, tab.serve_url, tab.serve_model, tab.serve_base_model, tab.parity,
              *tab.gen_form.components]
    tab.start.click(collect, inputs, tab.settings, api_visibility="private").success(
        start_evaluation, tab.settings, [tab.message, ids], api_name="evaluate", show_progress="hidden").success(
        track, [ids, tab.pending], [tab.pending, tab.timer], api_visibility="private")
    tab.timer.tick(tick, [tab.pending, *view_in], [tab.message, tab.timer, tab.runs, tab.show_run, tab.dataset,
                                                   *view_out], show_progress="hidden", api_visibility="private")
    gr.on([tab.show_run.change, tab.metric.change, tab.show.change], view, view_in, view_out,
          api_visibility="private")
    wire_gate(tab, ws)


def reattach(ws: Workspace) -> list[Any]:
    """[pending job ids, timer, message] on a page load: running evaluations are followed again, so a reload
    keeps their progress lines and shows the results when they end."""
    running = active_jobs(ws, "eval")
    if not running:
        return [gr.skip(), gr.skip(), gr.skip()]
    text, _ = progress_text(ws, running)
    return [running, gr.Timer(active=True), text]


def wire_reattach(demo: gr.Blocks, tab: EvalTab, ws: Workspace) -> None:
    demo.load(friendly(lambda: reattach(ws)), None, [tab.pending, tab.timer, tab.message], api_visibility="private")
