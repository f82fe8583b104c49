"""CLI for the data side: `ingest` (documents -> passages), `qa` (documents -> reviewed QA dataset), `facts`
(the fact ledger), `teach` (documents -> tested model) and `export-data`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .. import launch
from ..config import QAGenConfig, describe, from_dict
from ..errors import NotFoundError
from ..workspace import check_name
from .commands import add_dataclass_options, apply_sets, follow, workspace_of

SKIP = ("model", "endpoint_url", "endpoint_model", "api_key", "fallback_only")


def out_folder(args: argparse.Namespace) -> Path:
    """--out is a folder path, or a bare name for datasets/<name> in the workspace."""
    out = Path(args.out)
    if len(out.parts) <= 1:  # a name: it must stay inside datasets/ ("..", "." and odd names are refused)
        return workspace_of(args).datasets / check_name(args.out, "dataset name")
    return out.resolve()


def qa_config(args: argparse.Namespace) -> QAGenConfig:
    settings: dict[str, Any] = {f["name"]: getattr(args, f["name"]) for f in describe(QAGenConfig)
                                if f["name"] not in SKIP and getattr(args, f["name"], None) is not None}
    if args.generator:
        if args.generator.startswith(("http://", "https://")):
            settings["endpoint_url"] = args.generator
            if args.endpoint_model:
                settings["endpoint_model"] = args.endpoint_model
        else:
            settings["model"] = args.generator
    settings["fallback_only"] = bool(args.fallback_only)
    if args.generator and getattr(args, "strategy", None) is None:
        settings["strategy"] = "llm"  # naming a generator model or endpoint asks for model-written pairs
    return from_dict(QAGenConfig, settings)


def print_report(report: dict[str, Any], out: Path) -> None:
    counts = report["counts"]
    print(f"dataset {out}: {counts['kept']} pairs kept ({counts['train']} train, {counts['test']} test) "
          f"from {counts['passages']} passages of {counts['documents_ingested']}/{counts['documents']} documents")
    print("  dropped by filter: " + ", ".join(f"{k} {v}" for k, v in counts["dropped_by"].items()))
    cov = report["coverage"]
    print(f"  coverage: {cov['passages_with_pair']}/{cov['passages']} passages gave at least one pair")
    for doc in report.get("documents", []):
        if doc.get("status") != "ingested":
            print(f"  skipped {doc.get('source')}: {doc.get('reason')}")
    print(f"  generator: {report.get('generator')}; {report['timings'].get('total_s', 0):.1f} s")


def ingest_cmd(args: argparse.Namespace) -> int:
    from ..qa.pipeline import ingest

    out = out_folder(args)
    summary = ingest(args.paths, out, qa_config(args))
    for doc in summary.get("documents", []):
        extra = f"{doc.get('passages', 0)} passages" if doc.get("status") == "ingested" else doc.get("reason")
        print(f"{doc.get('status', '?'):9} {doc.get('source')}: {extra}")
    print(f"wrote {out / 'passages.jsonl'}")
    return 0


def qa_cmd(args: argparse.Namespace) -> int:
    from ..qa import pipeline

    out = out_folder(args)
    cfg = qa_config(args)
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        raise NotFoundError(f"no such file or folder: {', '.join(missing)}")
    if not cfg.uses_model:  # seconds, no model: run here
        report = pipeline.build_dataset(args.paths, out, cfg, overwrite=args.overwrite)
        print_report(report, out)
        return 0
    ws = workspace_of(args)
    # a job like any other (listed, queued), writing where --out says: a dataset name or a folder
    run = launch.start_qa(ws, args.paths, out.name, cfg, overwrite=args.overwrite,
                          out_dir=None if out.parent == ws.datasets else out)
    if args.detach:
        print(run.id)
        return 0
    print(f"run {run.id}: generating QA pairs with {cfg.endpoint_url or cfg.model}")
    code = follow(run)
    if code == 0 and (out / "report.json").exists():
        print_report(json.loads((out / "report.json").read_text()), out)
    return code


def dataset_folder(args: argparse.Namespace) -> Path:
    """A dataset named by a bare name (datasets/NAME in the workspace) or a folder."""
    from ..qa.dataset import DatasetError

    folder = Path(args.dataset)
    if len(folder.parts) == 1 and not folder.exists():
        folder = workspace_of(args).datasets / check_name(args.dataset, "dataset name")
    if not (folder / "train.jsonl").exists():
        raise DatasetError(f"no dataset at {folder} (give a dataset name or folder)")
    return folder


def export_data_cmd(args: argparse.Namespace) -> int:
    from ..qa import formats

    folder = dataset_folder(args)
    written = formats.export(folder, args.format, out_dir=args.out, system=args.system or "", into=args.into)
    for what, path in written.items():
        print(f"{what}: {path}")
    if args.into:
        print(f"LLaMA-Factory: --dataset {folder.name}_train_{args.format}")
    return 0


def teach_cmd(args: argparse.Namespace) -> int:
    """Documents to a tested model in one job; follows its stages unless --detach."""
    import time

    from ..rundir import RunDir

    ws = workspace_of(args)
    run = launch.start_teach(ws, args.paths, args.out, train=apply_sets({}, args.set), overwrite=args.overwrite)
    if args.detach:
        print(run.id)
        return 0
    shown = None
    while True:
        status = run.read_status()
        child = status.get("child")
        if child:
            c = RunDir(ws.runs / child).read_status()
            line = f"stage {status.get('step')}/3 {status.get('stage')}: {child} {c.get('state')} " \
                   f"{c.get('step') or 0}/{c.get('total_steps') or '?'}"
            if line != shown:
                print(line, flush=True)
                shown = line
        if run.effective_state() not in ("queued", "running"):
            break
        time.sleep(1.0)
    status = run.read_status()
    if status.get("state") != "finished":
        print(f"error: teach {status.get('state')}: {(status.get('error') or {}).get('message', '')}",
              file=sys.stderr)
        return 1
    r = status.get("result") or {}
    scores = r.get("scores") or {}
    base, tuned = (scores.get("base") or {}).get("fact_acc"), (scores.get("tuned") or {}).get("fact_acc")
    print(f"dataset {r.get('dataset')} ({r.get('pairs')} training pairs) -> run {r.get('train_run')} "
          f"({r.get('steps')} steps) -> evaluation {r.get('eval_run')}")
    if tuned is not None:
        forgot = scores.get("forgetting_delta")
        change = f"; general-knowledge probe {forgot:+.2f}" if isinstance(forgot, (int, float)) else ""
        print(f"held-out rewordings answered: base {base or 0:.0%}, tuned {tuned:.0%}{change}")
    print(f"chat with it: python app.py (Chat tab, run {r.get('train_run')})")
    return 0


def facts_cmd(args: argparse.Namespace) -> int:
    """The fact ledger of a dataset; with --run, whether the base knew and the tuned model answers each fact."""
    from ..qa import ledger

    folder = dataset_folder(args)
    rows = ledger.read(folder)
    if not rows:
        print(f"{folder.name} has no fact ledger: it was built with another strategy than 'facts'")
        return 0
    if args.run:
        from ..eval_results import load_predictions

        run = workspace_of(args).run_path(args.run)
        rows = ledger.with_results(rows, load_predictions(run))
    s = ledger.summary(rows)
    print(f"{folder.name}: {s['facts']} facts, {s['asked']} asked by training pairs, {s['unasked']} never asked, "
          f"{s['held_out']} with a held-out rewording; {s['pairs_per_fact']} pairs per fact")
    if args.run:
        tested = [r for r in rows if r["tuned_answers"] is not None]
        print(f"held-out rewordings answered: tuned {sum(bool(r['tuned_answers']) for r in tested)}/{len(tested)}, "
              f"base {sum(bool(r['base_knew']) for r in tested)}/{len(tested)}")
    print(" | ".join(ledger.TABLE_HEADERS[:7]))
    for row in ledger.table(rows):
        print(" | ".join(str(c) for c in row[:7]))
    return 0


# parsers ------------------------------------------------------------------------------------------

def documents_parser(sub: Any, name: str, text: str, out: str) -> argparse.ArgumentParser:
    """A command that reads documents (files or folders) into the dataset --out names."""
    parser = sub.add_parser(name, help=text)
    parser.add_argument("paths", nargs="+", help=".txt .md .html .pdf .docx files or folders")
    parser.add_argument("--out", required=True, help=out)
    return parser


def add_job_options(parser: argparse.ArgumentParser) -> None:
    """--overwrite and --detach, for the commands that build a dataset as a job."""
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset of that name")
    parser.add_argument("--detach", action="store_true", help="start the job and print its run id")


def ingest_parser(sub: Any) -> None:
    i = documents_parser(sub, "ingest", "read, clean and split documents into passages (no QA pairs)",
                         "dataset name (datasets/NAME) or folder")
    i.add_argument("--generator", help=argparse.SUPPRESS)
    i.add_argument("--endpoint-model", help=argparse.SUPPRESS)
    i.add_argument("--fallback-only", action="store_true", help=argparse.SUPPRESS)
    add_dataclass_options(i, QAGenConfig, skip=SKIP)
    i.set_defaults(func=ingest_cmd)


def qa_parser(sub: Any) -> None:
    q = documents_parser(sub, "qa", "turn documents into a question-answer dataset: every fact of every sentence "
                         "asked in several wordings (default), or model-written pairs",
                         "dataset name (datasets/NAME) or a folder")
    q.add_argument("--generator", help="model-written pairs (strategy llm) from a model alias/folder or an "
                                       "OpenAI-compatible URL (http://host:port/v1)")
    q.add_argument("--endpoint-model", help="model name sent to the endpoint")
    q.add_argument("--fallback-only", action="store_true", help="rule-based questions only: seconds, no model")
    add_job_options(q)
    add_dataclass_options(q, QAGenConfig, skip=SKIP)
    q.set_defaults(func=qa_cmd)


def facts_parser(sub: Any) -> None:
    f = sub.add_parser("facts", help="the fact ledger of a dataset: each fact, its pairs, and (with --run) "
                                     "whether the base knew it and the tuned model answers its held-out rewording")
    f.add_argument("dataset", help="dataset name or folder")
    f.add_argument("--run", help="a trained and evaluated run (id or folder)")
    f.set_defaults(func=facts_cmd)


def teach_parser(sub: Any) -> None:
    t = documents_parser(sub, "teach", "documents to a tested model in one job: the QA set, training with the "
                         "knowledge defaults, and evaluation", "dataset name (datasets/NAME)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a training setting or method parameter, e.g. --set model=tiny --set epochs=2")
    add_job_options(t)
    t.set_defaults(func=teach_cmd)


def export_data_parser(sub: Any) -> None:
    e = sub.add_parser("export-data", help="write a dataset for other tools: alpaca/sharegpt JSON (LLaMA-Factory), "
                                           "messages JSONL (TRL, Axolotl, Kiln) or a Hugging Face datasets folder")
    e.add_argument("dataset", help="dataset name or folder")
    e.add_argument("--format", default="messages", choices=("alpaca", "sharegpt", "messages", "hf"))
    where = e.add_mutually_exclusive_group()
    where.add_argument("--out", help="folder to write to (default: the dataset's export/ folder)")
    where.add_argument("--into", help="LLaMA-Factory's data folder: adds entries to its dataset_info.json")
    e.add_argument("--system", help="a system prompt stored with every record")
    e.set_defaults(func=export_data_cmd)
