"""CLI commands ``train``, ``runs``, ``methods`` and ``serve``: their parsers and what they print, plus the
option and progress helpers the other command groups share. Validation and launching are launch.py's; torch is
imported only by commands that load a model, so `runs list` answers at once."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .. import jobs, launch
from ..config import PRESETS, ConfigError, TrainConfig, describe
from ..rundir import FINAL_STATES, RunDir
from ..workspace import Workspace


def workspace_of(args: argparse.Namespace) -> Workspace:
    return Workspace(Path(args.workspace).resolve()) if getattr(args, "workspace", None) else Workspace.default()


def add_dataclass_options(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """One --option per field, default None so only what the user typed overrides the config file."""
    group = parser.add_argument_group(f"{cls.__name__} settings")
    for f in describe(cls):
        if f["name"] in skip:
            continue
        flag = "--" + f["name"].replace("_", "-")
        extra = []
        if f.get("lo") is not None or f.get("hi") is not None:
            extra.append(f"range {f.get('lo')}..{f.get('hi')}")
        if f.get("choices"):
            extra.append("one of " + ", ".join(map(str, f["choices"])))
        help_text = f"{f['help']} (default {f['default']!r}{'; ' + '; '.join(extra) if extra else ''})"
        group.add_argument(flag, dest=f["name"], default=None, metavar="VALUE", help=help_text.replace("%", "%%"))


# train -----------------------------------------------------------------------------------------

def train_settings(args: argparse.Namespace, ws: Workspace) -> dict[str, Any]:
    """Merge preset < config file < explicit options < --set, splitting method params from the rest."""
    settings: dict[str, Any] = {}
    if args.preset:
        if args.preset not in PRESETS:
            raise ConfigError(f"unknown preset {args.preset!r}; presets: {', '.join(PRESETS)}")
        settings.update(json.loads(json.dumps(PRESETS[args.preset])))
    if args.config:
        settings.update(launch.read_settings_file(args.config))
    for f in describe(TrainConfig):
        value = getattr(args, f["name"], None)
        if value is not None:
            settings[f["name"]] = value
    apply_sets(settings, args.set)
    if settings.get("data"):
        settings["data"] = str(ws.dataset_path(settings["data"]))
    return settings


def apply_sets(settings: dict[str, Any], items: list[str]) -> dict[str, Any]:
    """--set KEY=VALUE pairs into ``settings``: TrainConfig fields as settings, other keys as method params."""
    method_params = dict(settings.pop("method_params", {}) or {})
    train_fields = {f["name"] for f in describe(TrainConfig)}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: use KEY=VALUE")
        key, value = item.split("=", 1)
        key = key.strip().replace("-", "_")
        (settings.__setitem__ if key in train_fields else method_params.__setitem__)(key, value)
    settings["method_params"] = method_params
    return settings


def train(args: argparse.Namespace) -> int:
    ws = workspace_of(args)
    settings = train_settings(args, ws)
    if not settings.get("data"):
        raise ConfigError("--data is required: a dataset name or folder, or a JSONL file of question/answer pairs")
    run = launch.start_train(ws, settings, run_id=args.run_dir)
    if args.detach:
        print(run.id)
        return 0
    cfg = run.train_config()
    print(f"run {run.id}: {cfg['method']} on {cfg['model']} (stop with Ctrl-C; resume with `runs resume {run.id}`)")
    return follow(run)


class ProgressLine:
    """One progress line rewritten in place on a terminal; in a log file (not a terminal) a new line only
    when the step or phase changes, instead of thousands of carriage returns."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.last_key: Any = None

    def show(self, text: str, key: Any) -> None:
        if self.tty:
            sys.stdout.write("\r" + text + " " * 8)
        elif key != self.last_key:
            sys.stdout.write(text.rstrip() + "\n")
        self.last_key = key
        sys.stdout.flush()


def follow(run: RunDir) -> int:
    """Show a progress line until the run ends; Ctrl-C asks it to stop and waits for it to save."""
    offset = 0
    last_loss: float | None = None
    line = ProgressLine()
    try:
        while True:
            records, offset = run.read_metrics(offset)
            for r in records:
                if r.get("split") == "train" and "loss" in r:
                    last_loss = r["loss"]
                elif r.get("split") == "eval":
                    print(f"\n  step {r['step']}: eval loss {r.get('loss', float('nan')):.4f}")
                elif r.get("split") == "probe":
                    shown = {k: r[k] for k in ("bleu4", "rougeL", "fact_acc") if k in r}
                    print(f"  probe: {json.dumps(shown)}")
            status = run.read_status()
            state = run.effective_state()
            line.show(_progress_text(status, last_loss), (status.get("step"), state))
            if state in FINAL_STATES or state == "crashed":
                break
            time.sleep(1.0)
    except KeyboardInterrupt:
        state = stop_and_wait(run, "stopping (saving the adapter)...")
    print()
    return report_end(run, state)


def stop_and_wait(run: RunDir, message: str) -> str:
    """Ctrl-C while following a run: ask it to stop and wait until it has (it saves what it has)."""
    print(f"\n{message}")
    run.request_stop()
    return jobs.wait(run)


def _progress_text(status: dict[str, Any], loss: float | None) -> str:
    step, total = status.get("step") or 0, status.get("total_steps") or 0
    width = 30
    filled = int(width * step / total) if total else 0
    eta = status.get("eta_s")
    parts = [f"[{'#' * filled}{'.' * (width - filled)}] {step}/{total or '?'}"]
    if loss is not None:
        parts.append(f"loss {loss:.4f}")
    if status.get("tokens_per_s"):
        parts.append(f"{status['tokens_per_s']:.0f} tok/s")
    if eta is not None:
        parts.append(f"ETA {int(eta) // 60}:{int(eta) % 60:02d}")
    parts.append(status.get("state", ""))
    return "  ".join(parts)


def report_end(run: RunDir, state: str) -> int:
    status = run.read_status()
    if state == "finished":
        trained = run.read_config().get("kind", "train") == "train"
        print(f"run {run.id} finished" + (f"; tuned model in {run.adapter}" if trained else ""))
        return 0
    if state == "stopped":
        print(f"run {run.id} stopped; resume with `python -m workbench runs resume {run.id}`")
        return 0
    if state == "crashed":
        print(f"run {run.id} crashed (its process died). Last log lines:\n{run.log_tail(15)}", file=sys.stderr)
        return 1
    err = status.get("error") or {}
    print(f"run {run.id} failed ({err.get('kind', 'unknown')}): {err.get('message', '')}\n"
          f"log: {run.log_file}", file=sys.stderr)
    return 1


# runs -------------------------------------------------------------------------------------------

def runs_list(args: argparse.Namespace) -> int:
    rows = jobs.list_runs(workspace_of(args))
    if not rows:
        print("no runs yet; start one with `python -m workbench train --data DATASET`")
        return 0
    print(f"{'run':40} {'kind':6} {'state':9} {'method':12} {'progress':>11} {'trainable':>12}")
    for r in rows:
        prog = f"{r['step'] or 0}/{r['total_steps'] or '?'}"
        trainable = f"{r['trainable_params']:,}" if r.get("trainable_params") else ""
        print(f"{r['id']:40} {r['kind']:6} {r['state']:9} {r['method'] or '':12} {prog:>11} {trainable:>12}")
    return 0


def _run(args: argparse.Namespace) -> RunDir:
    return RunDir(workspace_of(args).run_path(args.run))


def runs_show(args: argparse.Namespace) -> int:
    run = _run(args)
    info = jobs.describe(run)
    info["config"] = run.read_config()
    records, _ = run.read_metrics(0)
    for split in ("train", "eval", "probe"):
        latest = [r for r in records if r.get("split") == split]
        if latest:
            info[f"last_{split}"] = latest[-1]
    if info["state"] in ("failed", "crashed"):
        info["log_tail"] = run.log_tail(15)
    print(json.dumps(info, indent=2, default=str))
    return 0


def runs_stop(args: argparse.Namespace) -> int:
    return _act(args, jobs.stop, "asked run {} to stop; it saves its adapter and ends as 'stopped'")


def _act(args: argparse.Namespace, action: Any, message: str) -> int:
    """Apply ``action`` to the named run and say so (``message`` takes the run id)."""
    run = _run(args)
    action(run)
    print(message.format(run.id))
    return 0


def runs_resume(args: argparse.Namespace) -> int:
    run = _run(args)
    jobs.resume(run)
    print(f"resuming run {run.id} from {run.last_checkpoint() or 'the start'}")
    return follow(run)


def runs_wait(args: argparse.Namespace) -> int:
    return follow(_run(args))


def runs_delete(args: argparse.Namespace) -> int:
    return _act(args, jobs.delete, "deleted run {}")


# methods ----------------------------------------------------------------------------------------

def methods_cmd(args: argparse.Namespace) -> int:
    from .. import methods

    chosen = [methods.get(args.name)] if args.name else list(methods.METHODS.values())
    for m in chosen:
        print(f"{m.name:14} {m.summary} (default lr {m.default_lr:g})")
        if args.name or len(chosen) == 1:
            for f in describe(m.params_cls):
                rng = f" [{f['lo']}..{f['hi']}]" if f.get("lo") is not None else ""
                ch = f" {{{', '.join(map(str, f['choices']))}}}" if f.get("choices") else ""
                print(f"    {f['name']:18} = {f['default']!r:14} {f['help']}{rng}{ch}")
    if not args.name:
        print("\n`python -m workbench methods NAME` shows a method's parameters; set them with --set KEY=VALUE")
    return 0


def serve(args: argparse.Namespace) -> int:
    """The UI as its own program (the CLI does not import the UI): the same process arguments, the same exit."""
    import subprocess

    return subprocess.call([sys.executable, "-m", "workbench.ui.app", *args.rest])


# parsers ------------------------------------------------------------------------------------------

def train_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="fine-tune a model on a QA dataset",
                       description="Fine-tune MODEL on DATASET with METHOD. Method parameters go in --set "
                                   "(see `python -m workbench methods`).")
    p.add_argument("--data", required=False, help="dataset name or folder, or a JSONL file of question/answer")
    p.add_argument("--method", help="fine-tuning method (default lora)")
    p.add_argument("--model", help="base model alias, folder, .gguf or hub id (default smollm2)")
    p.add_argument("--preset", help="start from a preset: " + ", ".join(PRESETS))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="set a method parameter or a training setting, e.g. --set rank=8 --set dropout=0.1")
    p.add_argument("--config", help="YAML or JSON file with training settings (keys of TrainConfig)")
    p.add_argument("--run-dir", help="run id to create (default: time-method-random)")
    p.add_argument("--detach", action="store_true", help="start in the background and print the run id")
    add_dataclass_options(p, TrainConfig, skip=("data", "model", "method", "method_params"))
    p.set_defaults(func=train)


def runs_parser(sub: Any) -> None:
    p = sub.add_parser("runs", help="list, show, stop, resume or delete runs")
    rs = p.add_subparsers(dest="action", required=True)
    rs.add_parser("list", help="one line per run").set_defaults(func=runs_list)
    for name, func, text in (("show", runs_show, "status, settings and latest metrics of a run"),
                             ("stop", runs_stop, "ask a run to stop gracefully (it saves its adapter)"),
                             ("resume", runs_resume, "continue a stopped/failed run from its last checkpoint"),
                             ("delete", runs_delete, "delete a run folder (not while it runs)"),
                             ("wait", runs_wait, "wait until a run ends, showing progress")):
        q = rs.add_parser(name, help=text)
        q.add_argument("run", help="run id or run folder")
        q.set_defaults(func=func)


def serve_parser(sub: Any) -> None:
    # no options of its own: everything after `serve` goes to app.py's parser (see cli.main)
    s = sub.add_parser("serve", help="open the workbench UI (same as `python app.py`; `serve --help` lists its "
                       "options: --host, --port, --share, --auth-file, ...)", add_help=False)
    s.set_defaults(func=serve, rest=[])


def methods_parser(sub: Any) -> None:
    m = sub.add_parser("methods", help="list fine-tuning methods and their parameters")
    m.add_argument("name", nargs="?", help="show one method in detail")
    m.set_defaults(func=methods_cmd)
