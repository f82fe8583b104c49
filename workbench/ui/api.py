"""Named, typed API endpoints for what the page does with buttons, so that a script drives the workbench with
``gradio_client`` alone: list datasets and runs, stop, resume and delete a run, export a dataset or a model,
teach a collection. Each takes named parameters (their names and types are what ``Client.view_api()`` shows)
and returns plain JSON; errors come back as messages, never tracebacks. The page's own buttons keep their own
handlers; these call the same engine functions."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from .. import export as exporting
from .. import jobs, launch
from ..qa.dataset import split_sizes
from ..workspace import Workspace, check_name
from .common import dataset_folder, friendly, run_of
from .data import add_files, corpus_folder, corpus_names
from .qa import export_files


def register(ws: Workspace) -> None:
    def list_datasets() -> list[dict]:
        """Every dataset of the workspace with its pair counts."""
        out = []
        for folder in ws.list_datasets():
            out.append({"name": folder.name, **split_sizes(folder)})
        return out

    def list_collections() -> list[str]:
        """The document collections (Data tab) of the workspace."""
        return corpus_names(ws)

    def list_runs(kind: str = "") -> list[dict]:
        """Every run, newest first: id, kind, state, step, method, model, data; ``kind`` filters (train, qa,
        eval, teach, export, study, cora)."""
        rows = jobs.list_runs(ws)
        return [{k: r.get(k) for k in ("id", "kind", "state", "step", "total_steps", "method", "model")}
                for r in rows if not kind or r.get("kind") == kind]

    def stop_run(run_id: str) -> str:
        """Ask a run to stop; it saves what it has and ends as stopped."""
        return jobs.stop(run_of(ws, run_id))

    def resume_run(run_id: str) -> str:
        """Resume a stopped, failed or crashed run from its last complete checkpoint; returns the run id."""
        jobs.resume(run_of(ws, run_id))
        return run_id

    def delete_run(run_id: str) -> str:
        """Delete a run folder (not while it runs)."""
        jobs.delete(run_of(ws, run_id))
        return run_id

    def export_data(dataset: str, format: str = "messages") -> list[str]:
        """A dataset as files other tools read: alpaca, sharegpt, messages (JSONL) or hf (zipped folder)."""
        return export_files(dataset_folder(ws, dataset), format)

    def export_model(run_id: str, to: str = "merged") -> str:
        """Start a job that exports a trained run as a merged model or GGUF; returns the job's run id (its
        result names the folder or file)."""
        return exporting.start_job(ws, run_of(ws, run_id).path, to).id

    def teach_collection(collection: str, dataset: str, model: str = "smollm2") -> str:
        """Start a teach job on a document collection: QA set, training, evaluation; returns its run id."""
        if collection not in corpus_names(ws):
            raise ValueError(f"no document collection {collection!r}; collections: {', '.join(corpus_names(ws))}")
        folder = corpus_folder(ws, collection)
        paths = [p for p in sorted(Path(folder).iterdir()) if p.is_file() and not p.name.startswith(".")]
        return launch.start_teach(ws, paths, dataset, train={"model": model}).id

    for fn in (list_datasets, list_collections, list_runs, stop_run, resume_run, delete_run, export_data,
               export_model, teach_collection):
        gr.api(friendly(fn), api_name=fn.__name__)
    _upload_endpoint(ws)


def _upload_endpoint(ws: Workspace) -> None:
    """`upload_documents(files, collection)`: files travel as uploads (gradio_client's handle_file), which a
    plain API function cannot take, so this endpoint is an event of hidden components."""
    def upload_documents(files: list[str] | None, collection: str) -> list[str]:
        """Add documents to a collection (created if new); returns the names they were saved under."""
        if not files:
            raise ValueError("no files given")
        return add_files(ws, check_name((collection or "").strip(), "collection name"), files)

    with gr.Row(visible=False):
        files = gr.File(file_count="multiple")
        collection = gr.Textbox()
        saved = gr.JSON()
        trigger = gr.Button()
    trigger.click(friendly(upload_documents), [files, collection], saved, api_name="upload_documents")
