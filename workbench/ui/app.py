"""build_app() assembles the tabs into one gr.Blocks (without launching it); main() parses the command line
and launches it on 127.0.0.1 by default, optionally behind a login.

The app serves no files from disk besides Gradio's own upload and cache folders (allowed_paths is empty),
so no request can read the workspace or anything else through the file routes.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import gradio as gr

from ..chat import ChatEngine
from ..corpus import MAX_FILE_BYTES
from .. import endpoint
from ..logins import AUTH_ENV, LoginError, read_logins
from ..workspace import Workspace
from .data import DataTab, build_data_tab, corpus_folder, corpus_names, ensure_sample_corpus, recent_corpus
from .teach import TeachPanel, build_teach_panel, taught_run, wire_teach_panel
from .data import refresh as refresh_data
from .qa import QATab, build_qa_tab, dataset_view
from .qa import wire_reattach as reattach_qa
from .chat import (BASE_SUFFIX, CHAT_CONCURRENCY, TUNED_SUFFIX, ChatTab, build_chat_tab, chat_once, refresh_sides,
                   side_choices, side_text)
from . import api
from .common import dataset_names, friendly, run_of
from .evaluate import EvalTab, build_eval_tab
from .evaluate import on_open as open_eval
from .evaluate import wire_reattach as reattach_eval
from .runs import RunsTab, build_runs_tab, refresh_table, run_status
from .studies import build_studies_tab, wire_studies_page
from .train import TrainTab, build_train_tab, fill_values

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"
CSS_FILE = ASSETS / "workbench.css"
TITLE = "workbench: from documents to a domain-expert model"
UPLOAD_CACHE = (3600, 3600)  # (check every, delete older than) seconds


def launch_options() -> dict[str, Any]:
    """Keyword arguments for launch() that every launch shares (look, and the narrowest file access).

    ``show_error`` stays off: the workbench's own messages (``gr.Error``) reach the browser anyway, while an
    unexpected exception's text, which can hold this machine's paths, stays in the server's log. Gradio
    refuses uploads over the corpus reader's size limit before writing them anywhere."""
    css = CSS_FILE.read_text(encoding="utf-8") if CSS_FILE.exists() else None
    return {"css": css, "theme": gr.themes.Soft(), "allowed_paths": [], "footer_links": ["api"], "show_error": False,
            "max_file_size": MAX_FILE_BYTES}


def build_app(ws: Workspace | None = None, engine: ChatEngine | None = None, prepare: bool = True) -> gr.Blocks:
    """The whole workbench as gr.Blocks; launch it with ``.queue().launch(**launch_options())``."""
    ws = ws or Workspace.default()
    engine = engine or ChatEngine()
    if prepare:
        prepare_workspace(ws)
    # uploads are copied into the workspace; Gradio's own copies are deleted after an hour
    with gr.Blocks(title="workbench", delete_cache=UPLOAD_CACHE) as demo:
        gr.Markdown(f"# {TITLE}\nDocuments → question/answer pairs → fine-tuning → evaluation → chat. "
                    f"Workspace: `{ws.root.name}`", elem_classes="wb-title")
        with gr.Tabs() as tabs:
            with gr.Tab("Data", id="data"):
                data = build_data_tab(ws)
                teach_panel = build_teach_panel()
                wire_teach_panel(teach_panel, ws, data.corpus)
            with gr.Tab("QA", id="qa") as qa_page:
                qa = build_qa_tab(ws)
            with gr.Tab("Train", id="train") as train_page:
                train = build_train_tab(ws)
            with gr.Tab("Runs", id="runs"):
                runs = build_runs_tab(ws)
            with gr.Tab("Evaluate", id="evaluate") as eval_page:
                evaluation = build_eval_tab(ws)
            with gr.Tab("Chat", id="chat") as chat_page:
                chat = build_chat_tab(ws, engine)
            with gr.Tab("Studies", id="studies") as studies_page:
                studies = build_studies_tab(ws)
        wire_train_to_runs(train, runs, tabs)
        wire_teach_to_chat(teach_panel, chat, tabs, ws)
        wire_clone(train, runs, tabs, ws)
        wire_refresh(ws, train_page, train, eval_page, evaluation, chat_page, chat)
        wire_qa_refresh(ws, qa_page, qa)
        register_api(ws, engine)
        wire_load(demo, ws, data, qa, runs)
        wire_studies_page(demo, studies_page, studies, ws)
        reattach_qa(demo, qa, ws)
        reattach_eval(demo, evaluation, ws)
    return demo


def prepare_workspace(ws: Workspace) -> None:
    """Something to try at once: the sample documents as a collection and, when the workspace has no dataset,
    one built from them with the default fact reader (about ten seconds on a 2-core CPU, no model): the pairs
    a new user trains on first are the ones the workbench recommends."""
    from ..config import QAGenConfig
    from ..qa import pipeline

    name = ensure_sample_corpus(ws)
    if name and not ws.list_datasets():
        pipeline.build_dataset([corpus_folder(ws, name)], ws.datasets / "sample-qa", QAGenConfig())


def wire_load(demo: gr.Blocks, ws: Workspace, data: DataTab, qa: QATab, runs: RunsTab) -> None:
    """On every page load (and reload) fill the tabs from the workspace: nothing is kept in the page."""
    # a reload shows the collection changed last, not the one the page was built with
    demo.load(friendly(lambda unit, size, overlap: refresh_data(ws, recent_corpus(ws), unit, size, overlap)),
              [data.unit, data.size, data.overlap],
              [data.corpus, data.summary, data.table, data.document, data.preview], api_visibility="private")
    demo.load(lambda: gr.update(choices=corpus_names(ws), value=recent_corpus(ws)), None, qa.corpus,
              api_visibility="private")
    demo.load(friendly(lambda name, source, split: dataset_view(ws, name, source, split)),
              [qa.dataset, qa.source, qa.split], qa.view_out(),
              api_visibility="private")
    demo.load(lambda kind: refresh_table(ws, None, None, kind), runs.kind,
              [runs.table, runs.table_rows, runs.watch_id, runs.compare_ids], api_visibility="private")


def wire_qa_refresh(ws: Workspace, qa_page: gr.Tab, qa: QATab) -> None:
    def lists(corpus: str | None, dataset: str | None) -> list[Any]:
        corpora, datasets = corpus_names(ws), dataset_names(ws)
        return [gr.update(choices=corpora, value=corpus if corpus in corpora else (corpora[0] if corpora else None)),
                gr.update(choices=datasets, value=dataset if dataset in datasets else (datasets[0] if datasets
                                                                                      else None))]

    qa_page.select(lists, [qa.corpus, qa.dataset], [qa.corpus, qa.dataset], api_visibility="private")


def wire_refresh(ws: Workspace, train_page: gr.Tab, train: TrainTab, eval_page: gr.Tab, evaluation: EvalTab,
                 chat_page: gr.Tab, chat: ChatTab) -> None:
    """Opening a tab refreshes its lists (new datasets and runs appear without a reload)."""
    def datasets(current: str | None) -> Any:
        names = dataset_names(ws)
        return gr.update(choices=names, value=current if current in names else (names[0] if names else None))

    train_page.select(datasets, train.dataset, train.dataset, api_visibility="private")
    eval_page.select(friendly(lambda rid, metric, show: open_eval(ws, rid, metric, show)), evaluation.view_inputs(),
                     [evaluation.runs, evaluation.show_run, evaluation.dataset, *evaluation.view_outputs()],
                     api_visibility="private")
    chat_page.select(lambda left, right, picked: refresh_sides(ws, left, right, picked),
                     [chat.left, chat.right, chat.picked], [chat.left, chat.right], api_visibility="private")


def wire_train_to_runs(train: TrainTab, runs: RunsTab, tabs: gr.Tabs) -> None:
    """After a start, show the new run in the Runs tab."""
    def show(run_id: str) -> list[Any]:
        return [gr.Tabs(selected="runs"), gr.update(choices=[run_id], value=run_id)]

    train.run_id.change(show, train.run_id, [tabs, runs.watch_id], api_visibility="private")


def wire_teach_to_chat(panel: TeachPanel, chat: ChatTab, tabs: gr.Tabs, ws: Workspace) -> None:
    """The end of the one-click path: the Chat tab with the taught model beside its base."""
    @friendly
    def open_chat(job_id: str | None) -> list[Any]:
        run_id = taught_run(ws, job_id)
        choices, left, right = side_choices(ws), run_id + BASE_SUFFIX, run_id + TUNED_SUFFIX
        # the descriptions go with the values, not after them through the dropdowns' change events
        return [gr.Tabs(selected="chat"), gr.update(choices=choices, value=left),
                gr.update(choices=choices, value=right), side_text(ws, left), side_text(ws, right), True]

    panel.chat.click(open_chat, panel.job, [tabs, chat.left, chat.right, chat.left_info, chat.right_info, chat.picked],
                     api_visibility="private")


def wire_clone(train: TrainTab, runs: RunsTab, tabs: gr.Tabs, ws: Workspace) -> None:
    @friendly
    def clone(run_id: str | None) -> list[Any]:
        settings = run_of(ws, run_id).train_config()
        return [gr.Tabs(selected="train"), *fill_values(train.spec, settings, dataset_names(ws))]

    runs.clone.click(clone, runs.watch_id, [tabs, *train.fill_outputs()], api_visibility="private")


def register_api(ws: Workspace, engine: ChatEngine) -> None:
    """Endpoints for gradio_client that are not a button of the page."""
    def run_status_api(run_id: str) -> dict:
        """State, progress, trainable parameters and latest metrics of a run."""
        return run_status(ws, run_id)

    def chat_api(message: str, left: str, right: str) -> dict:
        """One question to two sides ('<run> · tuned', '<run> · base' or 'model · smollm2'); both answers."""
        return chat_once(ws, engine, message, left, right)

    gr.api(friendly(run_status_api), api_name="run_status")
    gr.api(friendly(chat_api), api_name="chat", concurrency_limit=1, concurrency_id=CHAT_CONCURRENCY)
    api.register(ws)


# command line -------------------------------------------------------------------------------------

def read_auth(args: argparse.Namespace) -> list[tuple[str, str]] | None:
    """The server's logins (see workbench.logins); a bad one stops the start with its message."""
    try:
        return read_logins(args.auth, args.auth_file)
    except LoginError as exc:
        raise SystemExit(str(exc)) from exc


def launch_warnings(args: argparse.Namespace, auth: list[tuple[str, str]] | None) -> list[str]:
    """What the person starting the server should know about who can reach it."""
    out = []
    if args.share and not auth:
        out.append("warning: --share without a login makes a public link: anyone who has it can read your "
                   f"documents and start jobs; add --auth-file FILE or set {AUTH_ENV}")
    elif args.host not in ("127.0.0.1", "localhost", "::1") and not auth:
        out.append("warning: listening on the network without --auth; anyone who can reach it can start jobs")
    if args.auth:
        out.append("note: a password given with --auth shows in this machine's process list; --auth-file FILE "
                   f"or ${AUTH_ENV} keep it out")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python app.py", description="Open the workbench in a browser.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                   "only; 0.0.0.0 opens it to the network, use --auth then)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--share", action="store_true", help="also create a public gradio.live link (off by default)")
    p.add_argument("--auth", help="require this login, written user:password (shows in the process list; prefer "
                   f"--auth-file or ${AUTH_ENV})")
    p.add_argument("--auth-file", help="file with one user:password per line")
    p.add_argument("--workspace", help="workspace folder (default $WORKBENCH_HOME or ./workspace)")
    p.add_argument("--allow-endpoint", action="append", default=[], metavar="HOST[:PORT]",
                   help="let users of this server point QA generation at this OpenAI-compatible host (repeatable; "
                        "by default only this machine's loopback addresses)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ws = Workspace(Path(args.workspace).resolve()) if args.workspace else Workspace.default()
    auth = read_auth(args)
    if args.allow_endpoint:
        os.environ[endpoint.ALLOW_ENV] = ",".join(args.allow_endpoint)
    for line in launch_warnings(args, auth):
        print(line)
    build_app(ws).queue(default_concurrency_limit=4).launch(
        server_name=args.host, server_port=args.port, share=args.share, auth=auth, **launch_options())


if __name__ == "__main__":  # `python -m workbench serve` starts the UI this way
    main()
