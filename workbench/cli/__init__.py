"""Command line: ``python -m workbench COMMAND``. Every command has --help built from the config dataclasses.
The CLI validates input through launch.py, starts jobs and prints results; it trains nothing itself and never
imports the UI.

``COMMANDS`` is the one list of commands: name -> the function that adds its parser (which also sets the
function that runs it). A test checks it against the parser; adding a command is one function and one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ..errors import UserError
from . import commands, data, study
from . import eval as evaluation

# the text of `python -m workbench --help`
DESCRIPTION = """Command line: ``python -m workbench COMMAND``. Every command has --help built from the config
dataclasses. The CLI validates input, launches jobs and prints results; it trains nothing itself."""

COMMANDS: dict[str, Callable[[Any], None]] = {
    "train": commands.train_parser,
    "runs": commands.runs_parser,
    "serve": commands.serve_parser,
    "export": evaluation.export_parser,
    "methods": commands.methods_parser,
    "ingest": data.ingest_parser,
    "qa": data.qa_parser,
    "facts": data.facts_parser,
    "teach": data.teach_parser,
    "export-data": data.export_data_parser,
    "eval": evaluation.eval_parser,
    "chat": evaluation.chat_parser,
    "gate": evaluation.gate_parser,
    "study": study.study_parser,
    "cora": study.cora_parser,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workbench", description=DESCRIPTION)
    parser.add_argument("--workspace", help="workspace folder (default $WORKBENCH_HOME or ./workspace)")
    sub = parser.add_subparsers(dest="command", required=True)
    for add_parser in COMMANDS.values():
        add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # `serve` hands every option after it to the UI's own parser (--host, --port, --help, ...)
    args, rest = parser.parse_known_args(argv)
    if args.command == "serve":
        args.rest = rest + (["--workspace", args.workspace] if args.workspace and "--workspace" not in rest else [])
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return int(args.func(args) or 0)
    except UserError as exc:  # written for the user; any other exception is a bug and keeps its traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
