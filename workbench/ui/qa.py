"""The QA tab: build a question/answer dataset from a document collection as a background job (generator,
pairs per passage, filters, thresholds, test fraction: a form generated from QAGenConfig), follow its
progress, then review the pairs: edit, delete, add, filter by source, see the passage a pair came from and
why dropped pairs were dropped, and export for other tools.

Generation runs in a worker (workbench.launch.start_qa); edits go through workbench.qa.dataset,
which locks the dataset folder. This module writes no dataset file itself.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

import gradio as gr

from .. import endpoint, launch
from ..config import QAGenConfig, from_dict
from ..qa import dataset as qads
from ..qa import formats, ledger, pipeline
from ..rundir import RunDir
from ..workspace import Workspace, check_name
from .common import UIError, active_jobs, dataset_folder, dataset_names, friendly, number_text
from .data import corpus_folder, corpus_names
from .forms import Form, build_form

GENERATOR_FIELDS = ("strategy", "wordings", "short_questions", "fallback_only", "model", "endpoint_url",
                    "endpoint_model", "top_up", "pairs_per_passage", "paraphrases", "batch_size", "max_new_tokens",
                    "temperature", "top_p")
FILTER_FIELDS = ("min_grounding", "grounding_metric", "min_relevance", "dedup_threshold", "min_question_tokens",
                 "max_question_tokens", "max_answer_tokens", "test_fraction", "split_by", "seed")
PAIR_HEADERS = ["split", "source", "question", "answer", "grounding", "kind"]
DROPPED_HEADERS = ["source", "question", "answer", "dropped by", "why"]
ALL = "(all)"


# settings and launch (pure functions) -------------------------------------------------------------

def launch_qa(ws: Workspace, settings: dict[str, Any]) -> RunDir:
    """Validate the request and start the dataset build as a job; nothing starts when anything is wrong."""
    settings = dict(settings)
    corpus = settings.pop("corpus", None)
    name = (settings.pop("name", None) or "").strip()
    overwrite = bool(settings.pop("overwrite", False))
    folder = corpus_folder(ws, corpus)
    if not any(p.is_file() for p in folder.iterdir()):
        raise UIError(f"the collection {corpus!r} holds no documents yet; upload some in the Data tab")
    if not name:
        raise UIError("give the new dataset a name")
    check_name(name, "dataset name")
    cfg = from_dict(QAGenConfig, {k: v for k, v in settings.items() if v is not None})
    if cfg.endpoint_url:
        try:
            endpoint.check_url(cfg.endpoint_url)
        except endpoint.EndpointNotAllowed as exc:
            raise UIError(str(exc)) from None
    try:
        return launch.start_qa(ws, [folder], name, cfg, overwrite=overwrite)
    except pipeline.PipelineError as exc:  # a RuntimeError, but one the user can act on
        raise UIError(str(exc)) from None


def job_progress(run: RunDir) -> tuple[str, float, bool]:
    """(text, share done, still active) of a qa job."""
    status, state = run.read_status(), run.effective_state()
    step, total = status.get("step") or 0, status.get("total_steps") or 0
    share = min(1.0, step / total) if total else (1.0 if state == "finished" else 0.0)
    phase = status.get("phase") if state == "running" else ""
    text = f"**{state}**" + (f" · {phase}" if phase else "") + (f": {step}/{total} passages or prompts" if total
                                                                  else "")
    if state == "queued":
        text += ": waiting for the job before it to finish (one job runs at a time)"
    if state == "failed":
        text += f": {(status.get('error') or {}).get('message', '')}"
    if state == "crashed":
        text += f": the worker died. Last log lines:\n\n```\n{run.log_tail(8)}\n```"
    if state == "finished":
        result = status.get("result") or {}
        text += (f": {result.get('kept', '?')} pairs kept ({result.get('train', '?')} train, "
                 f"{result.get('test', '?')} test), {result.get('dropped', '?')} dropped")
    return text, share, state in ("queued", "running")


def bar_html(share: float) -> str:
    return (f'<div class="wb-progress"><div class="wb-progress-fill" style="width:{100 * share:.1f}%"></div>'
            f'<span>{100 * share:.0f}%</span></div>')


# reading and editing a dataset --------------------------------------------------------------------

def all_pairs(folder: Any) -> list[dict[str, Any]]:
    return [{**p, "split": split} for split in qads.SPLITS for p in qads.read_jsonl(folder / f"{split}.jsonl")]


def report_text(folder: Any) -> str:
    report = qads.read_report(folder)
    counts = report.get("counts") or {}
    if not counts:
        return "*No report for this dataset.*"
    dropped_by = ", ".join(f"{k} {v}" for k, v in (counts.get("dropped_by") or {}).items()) or "none"
    coverage = (report.get("coverage") or {}).get("ratio")
    return (f"**{report.get('name', folder.name)}**: {counts.get('kept', 0)} pairs kept "
            f"({counts.get('train', 0)} train, {counts.get('test', 0)} test) from {counts.get('passages', '?')} "
            f"passages; generator **{report.get('generator', '?')}**. Dropped: {counts.get('dropped', 0)} "
            f"({dropped_by}). Passages with a kept pair: {f'{100 * coverage:.0f}%' if coverage is not None else '?'}."
            + _facts_text(report.get("facts")))


def _facts_text(facts: dict[str, Any] | None) -> str:
    if not facts:
        return ""
    return (f" Facts: **{facts['facts']}** found, {facts['asked']} taught by training pairs, {facts['unasked']} "
            f"never asked, {facts['held_out']} with a held-out rewording ({facts['pairs_per_fact']} pairs per fact).")


def pair_rows(pairs: list[dict[str, Any]], source: str | None, split: str | None) -> tuple[list[list[Any]], list]:
    """Table rows and the pair id of each row, filtered by source and split."""
    rows, ids = [], []
    for p in pairs:
        if source not in (None, "", ALL) and p.get("source") != source:
            continue
        if split not in (None, "", ALL) and p.get("split") != split:
            continue
        grounding = (p.get("scores") or {}).get("grounding")
        rows.append([p["split"], p.get("source", ""), p["question"], p["answer"], number_text(grounding, 3),
                     p.get("kind", "")])
        ids.append(p.get("id"))
    return rows, ids


def dropped_rows(folder: Any, source: str | None) -> list[list[Any]]:
    return [[p.get("source", ""), p.get("question", ""), p.get("answer", ""), p.get("drop_filter", ""),
             p.get("drop_reason", "")] for p in qads.read_jsonl(folder / "dropped.jsonl")
            if source in (None, "", ALL) or p.get("source") == source]


def pair_detail(pair: dict[str, Any]) -> str:
    scores = ", ".join(f"{k} {number_text(v, 3)}" for k, v in (pair.get("scores") or {}).items())
    page = f", page {pair['page']}" if pair.get("page") else ""
    return (f"**{pair.get('source', 'manual')}**{page} · {pair.get('generator', '')} · {scores}\n\n"
            f"> {pair.get('passage') or '(no passage: written by hand)'}")


def export_files(folder: Any, fmt: str) -> list[str]:
    """The exported files to download; the Hugging Face ``datasets`` folder comes zipped."""
    out = tempfile.mkdtemp(prefix="workbench-export-")
    written = formats.export(folder, fmt, out_dir=out)
    if fmt == "hf":
        return [shutil.make_archive(str(written["hf"]), "zip", written["hf"])]
    return [str(p) for p in written.values()]


# layout -------------------------------------------------------------------------------------------

@dataclass
class QATab:
    corpus: gr.Dropdown
    name: gr.Textbox
    overwrite: gr.Checkbox
    forms: list[Form]
    start: gr.Button
    settings: gr.JSON
    run_id: gr.Textbox
    job: gr.State
    progress: gr.HTML
    message: gr.Markdown
    timer: gr.Timer
    dataset: gr.Dropdown
    report: gr.Markdown
    source: gr.Dropdown
    split: gr.Radio
    pairs: gr.Dataframe
    ids: gr.State
    pair_id: gr.Textbox
    question: gr.Textbox
    answer: gr.Textbox
    detail: gr.Markdown
    save: gr.Button
    delete: gr.Button
    new_question: gr.Textbox
    new_answer: gr.Textbox
    new_split: gr.Radio
    add: gr.Button
    dropped: gr.Dataframe
    facts: gr.Dataframe
    fmt: gr.Radio
    export: gr.Button
    files: gr.File

    def form_inputs(self) -> list[Any]:
        return [c for form in self.forms for c in form.components]

    def view_out(self) -> list[Any]:
        """The components ``dataset_view`` fills, in its order."""
        return [self.dataset, self.report, self.source, self.pairs, self.ids, self.dropped, self.facts]


def _generation_panel(ws: Workspace) -> dict[str, Any]:
    names = corpus_names(ws)
    with gr.Row():
        corpus = gr.Dropdown(names, value=names[0] if names else None, label="document collection",
                             info="from the Data tab", elem_id="qa-corpus")
        name = gr.Textbox("my-dataset", label="new dataset name", elem_id="qa-name")
        overwrite = gr.Checkbox(False, label="replace a dataset of that name")
    with gr.Accordion("Generator", open=True):
        gen = build_form(QAGenConfig, prefix="qa-", columns=3, only=GENERATOR_FIELDS)
    with gr.Accordion("Filters, thresholds and split", open=False):
        filt = build_form(QAGenConfig, prefix="qa-", columns=3, only=FILTER_FIELDS)
    with gr.Accordion("Passages and prompts", open=False):
        rest = build_form(QAGenConfig, prefix="qa-", columns=3, skip=GENERATOR_FIELDS + FILTER_FIELDS)
    start = gr.Button("Generate question/answer pairs", variant="primary", elem_id="qa-start")
    progress = gr.HTML(elem_id="qa-progress")
    message = gr.Markdown(elem_id="qa-message")
    return dict(corpus=corpus, name=name, overwrite=overwrite, forms=[gen, filt, rest], start=start,
                settings=gr.JSON(visible=False), run_id=gr.Textbox(visible=False), job=gr.State(None),
                progress=progress, message=message, timer=gr.Timer(1.0, active=False))


def _pairs_panel(ws: Workspace) -> dict[str, Any]:
    names = dataset_names(ws)
    with gr.Row():
        dataset = gr.Dropdown(names, value=names[0] if names else None, label="dataset", scale=2,
                              elem_id="qa-dataset")
        source = gr.Dropdown([ALL], value=ALL, label="source document", scale=2, elem_id="qa-source")
        split = gr.Radio([ALL, "train", "test"], value=ALL, label="split", scale=1)
    report = gr.Markdown(elem_id="qa-report")
    pairs = gr.Dataframe(headers=PAIR_HEADERS, value=[], interactive=False, wrap=True, max_height=420,
                         column_widths=["7%", "15%", "31%", "30%", "8%", "9%"], label="pairs (click one to edit it)",
                         elem_id="qa-pairs")
    with gr.Row():
        with gr.Column(scale=3):
            pair_id = gr.Textbox(label="pair", interactive=False, elem_id="qa-pair-id")
            question = gr.Textbox(label="question", lines=2, elem_id="qa-edit-question")
            answer = gr.Textbox(label="answer", lines=3, elem_id="qa-edit-answer")
            with gr.Row():
                save = gr.Button("Save changes", elem_id="qa-save")
                delete = gr.Button("Delete pair", variant="stop", elem_id="qa-delete")
        detail = gr.Markdown(label="passage", elem_id="qa-detail")
    with gr.Accordion("Add a pair by hand", open=False), gr.Row():
        new_question = gr.Textbox(label="question", scale=2)
        new_answer = gr.Textbox(label="answer", scale=2)
        new_split = gr.Radio(["train", "test"], value="train", label="split", scale=1)
        add = gr.Button("Add", scale=1, elem_id="qa-add")
    dropped = gr.Dataframe(headers=DROPPED_HEADERS, value=[], interactive=False, wrap=True, max_height=300,
                           column_widths=["16%", "28%", "28%", "10%", "18%"], label="dropped pairs and why",
                           elem_id="qa-dropped")
    facts = gr.Dataframe(headers=ledger.TABLE_HEADERS, value=[], interactive=False, wrap=True, max_height=360,
                         column_widths=["14%", "16%", "8%", "7%", "7%", "7%", "8%", "33%"],
                         label="fact ledger: every fact of the documents, the pairs that teach it and whether the "
                               "last evaluated run answers its held-out rewording ('unasked' = never taught)",
                         elem_id="qa-facts")
    with gr.Row():
        fmt = gr.Radio(list(formats.FORMATS), value="alpaca", label="export format",
                       info="alpaca/sharegpt: LLaMA-Factory (with dataset_info.json); messages: OpenAI-style "
                            "JSONL for TRL, Axolotl, Kiln; hf: a datasets folder (zipped)")
        export = gr.Button("Export", elem_id="qa-export")
        files = gr.File(label="exported files", file_count="multiple", interactive=False)
    return dict(dataset=dataset, report=report, source=source, split=split, pairs=pairs, ids=gr.State([]),
                pair_id=pair_id, question=question, answer=answer, detail=detail, save=save, delete=delete,
                new_question=new_question, new_answer=new_answer, new_split=new_split, add=add, dropped=dropped,
                facts=facts, fmt=fmt, export=export, files=files)


def build_qa_tab(ws: Workspace) -> QATab:
    gr.Markdown("Write question/answer pairs about every passage, keep the ones grounded in their passage, "
                "and split them into train and test. Rules only takes seconds; a local model takes minutes.")
    tab = QATab(**_generation_panel(ws), **_pairs_panel(ws))
    wire_generation(tab, ws)
    wire_pairs(tab, ws)
    return tab


# events -------------------------------------------------------------------------------------------

def dataset_view(ws: Workspace, name: str | None, source: str | None, split: str | None) -> list[Any]:
    """[dataset choices, report, source choices, pairs table, row ids, dropped table, fact ledger]."""
    names = dataset_names(ws)
    if not name or name not in names:
        return [gr.update(choices=names), "*No dataset yet: generate one above.*", gr.update(choices=[ALL], value=ALL),
                [], [], [], []]
    folder = dataset_folder(ws, name)
    pairs = all_pairs(folder)
    sources = sorted({p.get("source", "") for p in pairs} | {p.get("source", "") for p in
                                                             qads.read_jsonl(folder / "dropped.jsonl")})
    source = source if source in sources else ALL
    rows, ids = pair_rows(pairs, source, split)
    return [gr.update(choices=names, value=name), report_text(folder),
            gr.update(choices=[ALL, *sources], value=source), rows, ids, dropped_rows(folder, source),
            ledger.table(ledger.read(folder))]


def wire_generation(tab: QATab, ws: Workspace) -> None:
    view_out = tab.view_out()

    def collect(corpus: str, name: str, overwrite: bool, *values: Any) -> dict[str, Any]:
        settings: dict[str, Any] = {"corpus": corpus, "name": name, "overwrite": bool(overwrite)}
        offset = 0
        for form in tab.forms:
            settings.update(form.read(list(values[offset:offset + len(form.names)])))
            offset += len(form.names)
        return settings

    @friendly
    def start_qa(settings: dict[str, Any]) -> tuple[str, str]:
        """Start building a QA dataset from a document collection; returns (message, job run id)."""
        run = launch_qa(ws, settings)
        return f"Building dataset **{settings.get('name')}** (job `{run.id}`).", run.id

    @friendly
    def tick(run_id: str | None, name: str, source: str, split: str) -> list[Any]:
        if not run_id:
            return [gr.Timer(active=False), "", gr.skip(), *[gr.skip()] * len(view_out)]
        text, share, active = job_progress(RunDir(ws.runs / check_name(run_id, "run id")))
        if active:
            return [gr.skip(), bar_html(share), text, *[gr.skip()] * len(view_out)]
        return [gr.Timer(active=False), bar_html(share), text, *dataset_view(ws, name, source, split)]

    inputs = [tab.corpus, tab.name, tab.overwrite, *tab.form_inputs()]
    tab.start.click(collect, inputs, tab.settings, api_visibility="private").success(
        start_qa, tab.settings, [tab.message, tab.run_id], api_name="start_qa", show_progress="hidden").success(
        lambda: gr.Timer(active=True), None, tab.timer, api_visibility="private")
    tab.timer.tick(tick, [tab.run_id, tab.name, tab.source, tab.split],
                   [tab.timer, tab.progress, tab.message, *view_out], show_progress="hidden", api_visibility="private")


def reattach(ws: Workspace) -> list[Any]:
    """[job id, timer, message] on a page load: the newest running QA job is followed again, so a reload
    during generation keeps its progress bar and fills the tables when it ends."""
    running = active_jobs(ws, "qa")
    if not running:
        return [gr.skip(), gr.skip(), gr.skip()]
    return [running[0], gr.Timer(active=True), f"Following the running job `{running[0]}`."]


def wire_reattach(demo: gr.Blocks, tab: QATab, ws: Workspace) -> None:
    demo.load(friendly(lambda: reattach(ws)), None, [tab.run_id, tab.timer, tab.message], api_visibility="private")


def wire_pairs(tab: QATab, ws: Workspace) -> None:
    view_in = [tab.dataset, tab.source, tab.split]
    view_out = tab.view_out()
    view = friendly(lambda name, source, split: dataset_view(ws, name, source, split))

    @friendly
    def pick(ids: list[str], name: str, evt: gr.SelectData) -> list[Any]:
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        if not 0 <= row < len(ids):
            return [gr.skip()] * 4
        pair = next(p for p in all_pairs(dataset_folder(ws, name)) if p.get("id") == ids[row])
        return [pair["id"], pair["question"], pair["answer"], pair_detail(pair)]

    @friendly
    def save(name: str, pair_id: str, question: str, answer: str, source: str, split: str) -> list[Any]:
        if not pair_id:
            raise UIError("click a pair in the table first")
        qads.edit_pair(dataset_folder(ws, name), pair_id, question=question, answer=answer)
        gr.Info("pair saved")
        return dataset_view(ws, name, source, split)

    @friendly
    def delete(name: str, pair_id: str, source: str, split: str) -> list[Any]:
        if not pair_id:
            raise UIError("click a pair in the table first")
        removed = qads.delete_pair(dataset_folder(ws, name), pair_id)
        # kept in dropped.jsonl with its reason, so the toast says where it went
        gr.Info(f"Deleted the pair \u201c{str(removed.get('question', ''))[:60]}\u201d; it is listed under "
                "the dropped pairs (reason: deleted by hand).")
        return [*dataset_view(ws, name, source, split), "", "", "", ""]

    @friendly
    def add(name: str, question: str, answer: str, new_split: str, source: str, split: str) -> list[Any]:
        qads.add_pair(dataset_folder(ws, name), question or "", answer or "", split=new_split)
        return [*dataset_view(ws, name, source, split), "", ""]

    @friendly
    def export(name: str, fmt: str) -> list[str]:
        return export_files(dataset_folder(ws, name), fmt)

    editor = [tab.pair_id, tab.question, tab.answer, tab.detail]
    gr.on([tab.dataset.change, tab.source.change, tab.split.change], view, view_in, view_out,
          api_visibility="private")
    tab.pairs.select(pick, [tab.ids, tab.dataset], editor, api_visibility="private")
    tab.save.click(save, [tab.dataset, tab.pair_id, tab.question, tab.answer, tab.source, tab.split], view_out,
                   api_visibility="private")
    tab.delete.click(delete, [tab.dataset, tab.pair_id, tab.source, tab.split], view_out + editor,
                     api_visibility="private")
    tab.add.click(add, [tab.dataset, tab.new_question, tab.new_answer, tab.new_split, tab.source, tab.split],
                  [*view_out, tab.new_question, tab.new_answer], api_visibility="private")
    tab.export.click(export, [tab.dataset, tab.fmt], tab.files, api_visibility="private")
