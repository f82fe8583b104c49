"""Command line: ``python -m workbench COMMAND``. Every command has --help built from the config
dataclasses. The CLI validates input, launches jobs and prints results; it trains nothing itself."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import cli_commands as cmds
from . import cli_data, cli_eval, cli_study  # noqa: F401 - importing them registers their commands
from .config import TrainConfig


def _train_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="fine-tune a model on a QA dataset",
                       description="Fine-tune MODEL on DATASET with METHOD. Method parameters go in --set "
                                   "(see `python -m workbench methods`).")
    p.add_argument("--data", required=False, help="dataset name or folder, or a JSONL file of question/answer")
    p.add_argument("--method", help="fine-tuning method (default lora)")
    p.add_argument("--model", help="base model alias, folder, .gguf or hub id (default smollm2)")
    p.add_argument("--preset", help="start from a preset: " + ", ".join(cmds.PRESETS))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="set a method parameter or a training setting, e.g. --set rank=8 --set dropout=0.1")
    p.add_argument("--config", help="YAML or JSON file with training settings (keys of TrainConfig)")
    p.add_argument("--run-dir", help="run id to create (default: time-method-random)")
    p.add_argument("--detach", action="store_true", help="start in the background and print the run id")
    cmds.add_dataclass_options(p, TrainConfig, skip=("data", "model", "method", "method_params"))
    p.set_defaults(func=cmds.train)


def _runs_parser(sub: Any) -> None:
    p = sub.add_parser("runs", help="list, show, stop, resume or delete runs")
    rs = p.add_subparsers(dest="action", required=True)
    rs.add_parser("list", help="one line per run").set_defaults(func=cmds.runs_list)
    for name, func, text in (("show", cmds.runs_show, "status, settings and latest metrics of a run"),
                             ("stop", cmds.runs_stop, "ask a run to stop gracefully (it saves its adapter)"),
                             ("resume", cmds.runs_resume, "continue a stopped/failed run from its last checkpoint"),
                             ("delete", cmds.runs_delete, "delete a run folder (not while it runs)"),
                             ("wait", cmds.runs_wait, "wait until a run ends, showing progress")):
        q = rs.add_parser(name, help=text)
        q.add_argument("run", help="run id or run folder")
        q.set_defaults(func=func)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workbench", description=__doc__)
    parser.add_argument("--workspace", help="workspace folder (default $WORKBENCH_HOME or ./workspace)")
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    _runs_parser(sub)
    s = sub.add_parser("serve", help="open the workbench UI (same as `python app.py`)", add_help=False)
    s.add_argument("rest", nargs=argparse.REMAINDER, help="options of app.py (--host, --port, --share, --auth)")
    s.set_defaults(func=lambda a: serve(a.rest))
    e = sub.add_parser("export", help="a run as a model other tools load: merged safetensors (transformers, "
                                      "vLLM), GGUF (llama.cpp, Ollama) or a Hugging Face hub repository")
    e.add_argument("run", help="run id or run folder")
    e.add_argument("--to", default="merged", choices=("merged", "gguf", "hub"))
    e.add_argument("--out", help="folder (merged) or file (gguf) to write; default under the run's export/")
    e.add_argument("--outtype", default="f16", help="GGUF tensor type given to the converter (f16, q8_0, ...)")
    e.add_argument("--repo", help="hub repository for --to hub")
    e.add_argument("--public", action="store_true", help="create the hub repository public (default private)")
    e.set_defaults(func=cmds.export_cmd)
    m = sub.add_parser("methods", help="list fine-tuning methods and their parameters")
    m.add_argument("name", nargs="?", help="show one method in detail")
    m.set_defaults(func=cmds.methods_cmd)
    for register in cmds.EXTRA_PARSERS:
        register(sub)
    return parser


def serve(rest: list[str]) -> int:
    from .ui.app import main as ui_main

    return int(ui_main(rest) or 0)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Exception as exc:
        # Our own exception classes carry messages written for users; so do the standard input errors.
        if not (isinstance(exc, cmds.USER_ERRORS) or type(exc).__module__.startswith("workbench.")):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
