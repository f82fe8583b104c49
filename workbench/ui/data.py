"""The Data tab: collections of documents ("corpora") in the workspace. Upload files or a whole folder, see
every document's status (ingested, or skipped and why), its passage count, and preview its passages.

Uploaded files are copied into ``<workspace>/corpora/<name>/`` under a cleaned file name; nothing outside
the workspace is read. Reading and chunking is workbench.corpus (no model, a second for a few documents);
QA generation from a corpus is started in the QA tab.
"""

from __future__ import annotations

import filecmp
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from .. import corpus
from ..timed_read import READ_SECONDS
from ..config import QAGenConfig
from ..workspace import Workspace, check_name
from .common import UIError, friendly

SAMPLE_CORPUS = Path(__file__).resolve().parent.parent.parent / "assets" / "sample_corpus"
SAMPLE_NAME = "sample-corpus"
DOC_HEADERS = ["document", "kind", "status", "passages", "characters", "pages", "encoding", "why skipped / notes"]
PREVIEW_PASSAGES = 5


# corpus folders (pure functions) ------------------------------------------------------------------

def corpora_root(ws: Workspace) -> Path:
    path = ws.root / "corpora"
    path.mkdir(parents=True, exist_ok=True)
    return path


def corpus_names(ws: Workspace) -> list[str]:
    return sorted(p.name for p in corpora_root(ws).iterdir() if p.is_dir() and not p.name.startswith("."))


def recent_corpus(ws: Workspace) -> str | None:
    """The collection changed last (a file added or removed): what a reloaded page shows, instead of the
    sample collection the page was built with."""
    def changed(name: str) -> float:
        folder = corpora_root(ws) / name
        return max([folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.iterdir() if p.is_file())])

    names = corpus_names(ws)
    return max(names, key=changed) if names else None


def corpus_folder(ws: Workspace, name: str | None, create: bool = False) -> Path:
    if not name or not name.strip():
        raise UIError("give the collection of documents a name (letters, digits, '-', '_')")
    path = corpora_root(ws) / check_name(name.strip(), "corpus name")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    elif not path.is_dir():
        raise UIError(f"there is no document collection called {name!r}; upload files to create it")
    return path


def ensure_sample_corpus(ws: Workspace) -> str | None:
    """Copy the shipped sample documents into the workspace once, so there is something to try at once."""
    target = corpora_root(ws) / SAMPLE_NAME
    if not target.exists() and SAMPLE_CORPUS.is_dir():
        shutil.copytree(SAMPLE_CORPUS, target)
    return SAMPLE_NAME if target.exists() else None


MAX_NAME = 120


def safe_file_name(name: str) -> str:
    """A plain file name: no folders, no leading dots, only ordinary characters, at most 120 characters with
    its suffix kept (a long name cut at 120 used to lose its type and be refused)."""
    clean = re.sub(r"[^\w.\- ()]+", "_", Path(name).name).strip(" .") or "document"
    suffix = Path(clean).suffix if len(Path(clean).suffix) <= 10 else ""
    stem = clean[: len(clean) - len(suffix)] if suffix else clean
    return stem[: MAX_NAME - len(suffix)].rstrip(" .") + suffix


def free_name(folder: Path, name: str, taken: set[str]) -> str:
    """``name``, or "stem (2).suffix", "stem (3).suffix", ... when a file of the collection or an earlier
    upload of the same batch already has it."""
    path, n = Path(name), 1
    candidate = name
    while candidate.lower() in taken or (folder / candidate).exists():
        n += 1
        candidate = safe_file_name(f"{path.stem} ({n}){path.suffix}")
    return candidate


def add_files(ws: Workspace, name: str, uploads: list[str] | None) -> list[str]:
    """Copy uploaded files into the corpus; returns the names they got. Unsupported types are kept out; a
    file whose bytes the collection already holds under that name is not added twice; another file with a
    name already taken is renamed ("notes (2).txt"), never written over."""
    folder = corpus_folder(ws, name, create=True)
    added: list[str] = []
    taken: set[str] = set()
    for item in uploads or []:
        src = Path(item)
        if not src.is_file():
            continue
        wanted = safe_file_name(src.name)
        if Path(wanted).suffix.lower() not in corpus.SUPPORTED_SUFFIXES:
            gr.Warning(f"{src.name}: not a supported type ({', '.join(corpus.SUPPORTED_SUFFIXES)}); left out")
            continue
        size = src.stat().st_size
        if size > corpus.MAX_FILE_BYTES:  # checked before the copy: the reader would refuse it anyway
            gr.Warning(f"{src.name}: {size / 2**20:.1f} MB, over the {corpus.MAX_FILE_BYTES // 2**20} MB limit "
                       "per document; left out (split it into smaller files)")
            continue
        existing = folder / wanted
        if wanted.lower() not in taken and existing.is_file() and filecmp.cmp(src, existing, shallow=False):
            gr.Info(f"{src.name}: already in {name}")
            continue
        target = free_name(folder, wanted, taken)
        if target != src.name:
            gr.Info(f"{src.name} saved as {target}" + (" (that name was taken)" if target != wanted else ""))
        shutil.copyfile(src, folder / target)
        taken.add(target.lower())
        added.append(target)
    return added


def remove_file(ws: Workspace, name: str, document: str | None) -> None:
    folder = corpus_folder(ws, name)
    if not document:
        raise UIError("choose the document to remove")
    path = folder / safe_file_name(document.split("/", 1)[-1])
    if not path.is_file():
        raise UIError(f"{document} is not in {name}")
    path.unlink()


def ingest_corpus(ws: Workspace, name: str, unit: str, size: int, overlap: int) -> corpus.IngestReport:
    folder = corpus_folder(ws, name)
    return corpus.ingest_files([p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")],
                               unit=unit, size=int(size), overlap=int(overlap), seconds=READ_SECONDS)


def document_rows(report: corpus.IngestReport) -> list[list[Any]]:
    rows = []
    for d in report.documents:
        notes = d.reason if d.status == "skipped" else "; ".join(d.warnings)
        rows.append([d.source, d.kind, d.status, d.passages, d.chars, d.pages or "", d.encoding or "", notes])
    return rows


def preview_text(report: corpus.IngestReport, document: str | None) -> str:
    passages = [p for p in report.passages if p.source == document]
    if not passages:
        return "*No passages: choose an ingested document.*"
    shown = [f"**passage {p.index + 1}** ({len(p.text)} characters" + (f", page {p.page}" if p.page else "")
             + f")\n\n{p.text}" for p in passages[:PREVIEW_PASSAGES]]
    extra = len(passages) - PREVIEW_PASSAGES
    more = f"\n\n*... and {extra} more passages.*" if extra > 0 else ""
    return "\n\n---\n\n".join(shown) + more


def summary_text(report: corpus.IngestReport, name: str) -> str:
    counts = report.to_dict()["counts"]
    return (f"**{name}**: {counts['ingested']} document(s) ingested, {counts['skipped']} skipped, "
            f"{counts['passages']} passage(s). Build question/answer pairs from it in the QA tab.")


# layout and events --------------------------------------------------------------------------------

@dataclass
class DataTab:
    corpus: gr.Dropdown
    files: gr.File
    folder: gr.File
    unit: gr.Dropdown
    size: gr.Number
    overlap: gr.Number
    summary: gr.Markdown
    table: gr.Dataframe
    document: gr.Dropdown
    preview: gr.Markdown
    remove: gr.Button


def build_data_tab(ws: Workspace) -> DataTab:
    gr.Markdown("Documents to learn from: .txt, .md, .html, .pdf (with a text layer) and .docx. They are "
                "cleaned and cut into passages; questions are then written about each passage.")
    names = corpus_names(ws)
    defaults = QAGenConfig()
    with gr.Row():
        corpus_dd = gr.Dropdown(names, value=SAMPLE_NAME if SAMPLE_NAME in names else (names[0] if names else None),
                                label="document collection", allow_custom_value=True, elem_id="data-corpus",
                                info="type a new name to start a new collection")
        unit = gr.Dropdown(["chars", "sentences"], value=defaults.chunk_unit, label="passage unit")
        size = gr.Number(defaults.chunk_size, precision=0, minimum=1, label="passage size")
        overlap = gr.Number(defaults.chunk_overlap, precision=0, minimum=0, label="overlap")
    with gr.Row():
        files = gr.File(file_count="multiple", label="upload files", elem_id="data-files",
                        file_types=list(corpus.SUPPORTED_SUFFIXES))
        folder = gr.File(file_count="directory", label="or upload a folder", elem_id="data-folder")
    summary = gr.Markdown(elem_id="data-summary")
    # fixed shares: a long skip reason wraps in its own column instead of squeezing the numbers into letters
    table = gr.Dataframe(headers=DOC_HEADERS, value=[], interactive=False, wrap=True, label="documents",
                         column_widths=["25%", "9%", "8%", "8%", "9%", "6%", "8%", "27%"], elem_id="data-documents")
    with gr.Row():
        document = gr.Dropdown([], label="preview document", scale=3, elem_id="data-preview-doc")
        remove = gr.Button("Remove document from collection", variant="stop", scale=1)
    preview = gr.Markdown(elem_id="data-preview")
    tab = DataTab(corpus_dd, files, folder, unit, size, overlap, summary, table, document, preview, remove)
    wire_data_tab(tab, ws)
    return tab


def refresh(ws: Workspace, name: str | None, unit: str, size: float, overlap: float, document: str | None = None,
            ) -> list[Any]:
    """[collection choices, summary, documents table, document choices, preview]."""
    names = corpus_names(ws)
    if not name or name not in names:
        return [gr.update(choices=names), "*Upload files to start a collection.*", [], gr.update(choices=[]), ""]
    report = ingest_corpus(ws, name, unit, int(size or 1), int(overlap or 0))
    docs = [d.source for d in report.ingested]
    chosen = document if document in docs else (docs[0] if docs else None)
    return [gr.update(choices=names, value=name), summary_text(report, name), document_rows(report),
            gr.update(choices=[d.source for d in report.documents], value=chosen), preview_text(report, chosen)]


def wire_data_tab(tab: DataTab, ws: Workspace) -> None:
    settings = [tab.unit, tab.size, tab.overlap]
    outputs = [tab.corpus, tab.summary, tab.table, tab.document, tab.preview]

    @friendly
    def show(name: str, unit: str, size: float, overlap: float) -> list[Any]:
        return refresh(ws, name, unit, size, overlap)

    @friendly
    def upload(uploads: list[str] | None, name: str, unit: str, size: float, overlap: float) -> list[Any]:
        added = add_files(ws, name, uploads)
        if added:
            gr.Info(f"added {len(added)} file(s) to {name}")
        return [*refresh(ws, name, unit, size, overlap, added[0] if added else None), None]

    @friendly
    def preview(name: str, unit: str, size: float, overlap: float, document: str) -> str:
        return preview_text(ingest_corpus(ws, name, unit, int(size or 1), int(overlap or 0)), document)

    @friendly
    def remove(name: str, document: str, unit: str, size: float, overlap: float) -> list[Any]:
        remove_file(ws, name, document)
        return refresh(ws, name, unit, size, overlap)

    gr.on([tab.corpus.change, tab.unit.change, tab.size.submit, tab.overlap.submit], show, [tab.corpus, *settings],
          outputs, api_visibility="private")
    for box in (tab.files, tab.folder):
        box.upload(upload, [box, tab.corpus, *settings], [*outputs, box], api_visibility="private")
    tab.document.input(preview, [tab.corpus, *settings, tab.document], tab.preview, api_visibility="private")
    tab.remove.click(remove, [tab.corpus, tab.document, *settings], outputs, api_visibility="private")
