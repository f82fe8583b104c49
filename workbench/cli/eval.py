"""CLI commands ``eval``, ``chat``, ``gate`` and ``export``: parsers and what they print.

Launching an evaluation and reading its scores needs no torch; chat and export load a model and therefore
import torch when they run. Bad input raises the project's own errors, which the CLI prints as one ``error:``
line.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import UserError
from .. import eval_results, launch
from ..judge import JUDGE_CRITERIA, JudgeSpec
from . import commands as cmds
from ..config import GenParams, describe, from_dict
from ..rundir import FINAL_STATES, RunDir
from .. import served
from ..served import ServeSpec
from ..workspace import Workspace

TABLE_KEYS = ("bleu4", "bleu4_corpus", "sacrebleu", "rouge1", "rouge2", "rougeL", "meteor", "bertscore", "fact_acc",
              "perplexity")


class CliInputError(UserError, ValueError):
    """A command-line option is missing or contradicts another one."""


# shared options -----------------------------------------------------------------------------------

def add_gen_options(parser: argparse.ArgumentParser) -> None:
    """--max-new-tokens, --temperature, ... from GenParams (default None: only what is typed overrides)."""
    group = parser.add_argument_group("decoding (GenParams)")
    for f in describe(GenParams):
        rng = f"range {f['lo']}..{f['hi']}; " if f.get("lo") is not None else ""
        group.add_argument("--" + f["name"].replace("_", "-"), dest=f"gen_{f['name']}", default=None,
                           metavar="VALUE", help=f"{f['help']} ({rng}default {f['default']!r})".replace("%", "%%"))


def gen_from_args(args: argparse.Namespace) -> GenParams:
    given = {f["name"]: getattr(args, f"gen_{f['name']}") for f in describe(GenParams)}
    return from_dict(GenParams, {k: v for k, v in given.items() if v is not None})


def train_run(ws: Workspace, name: str) -> RunDir:
    """A training run with a saved model, by id or folder."""
    return launch.trained_run(ws, name, CliInputError)


# eval -----------------------------------------------------------------------------------------------

def eval_cmd(args: argparse.Namespace) -> int:
    ws = cmds.workspace_of(args)
    if args.compare:
        return compare_cmd(ws, args.compare)
    if not args.run:
        raise CliInputError("--run is required: the training run to evaluate (see `python -m workbench runs list`)")
    judge = JudgeSpec.parse(args.judge, args.judge_model or "") if args.judge else None
    run = launch.start_eval(ws, args.run, args.data, gen=gen_from_args(args),
                            settings=launch.eval_settings(args.metrics, args.lang), judge=judge,
                            limit=args.limit, probe=not args.no_probe, run_id=args.run_dir,
                            serve=serve_from_args(args))
    if args.detach:
        print(run.id)
        return 0
    print(f"evaluation {run.id} of {Path(run.read_config()['eval']['run']).name} (stop with Ctrl-C)")
    return follow_eval(run)


def serve_from_args(args: argparse.Namespace) -> ServeSpec | None:
    """--serve-url and its model names, or None; a name without a URL is refused, not ignored."""
    if not args.serve_url:
        if args.serve_model or args.serve_base_model:
            raise CliInputError("--serve-model and --serve-base-model need --serve-url: the server's base URL")
        return None
    return ServeSpec(url=args.serve_url, tuned_model=args.serve_model or "", base_model=args.serve_base_model or "",
                     parity=args.parity)


def follow_eval(run: RunDir, poll: float = 0.5) -> int:
    """Show progress until the eval run ends, then print its score table."""
    line = cmds.ProgressLine()
    try:
        while True:
            status, state = run.read_status(), run.effective_state()
            step, total = status.get("step") or 0, status.get("total_steps") or 0
            filled = int(30 * step / total) if total else 0
            phase = status.get("phase") or state
            line.show(f"[{'#' * filled}{'.' * (30 - filled)}] {step}/{total or '?'} {phase:40}", (step, phase))
            if state in FINAL_STATES or state == "crashed":
                break
            time.sleep(poll)
    except KeyboardInterrupt:
        state = cmds.stop_and_wait(run, "stopping the evaluation...")
    print()
    return report_eval(run, state)


def report_eval(run: RunDir, state: str) -> int:
    scores = eval_results.load_scores(run)
    if state == "finished" and scores:
        print(format_scores(scores))
        print(f"predictions: {Path(run.read_config()['eval']['run']) / 'eval' / 'predictions.jsonl'}")
        return 0
    if state == "stopped":
        print(f"evaluation {run.id} stopped before it finished; nothing was written")
        return 0
    if state == "crashed":
        print(f"evaluation {run.id} crashed (its process died). Last log lines:\n{run.log_tail(15)}",
              file=sys.stderr)
        return 1
    err = run.read_status().get("error") or {}
    print(f"evaluation {run.id} failed ({err.get('kind', 'unknown')}): {err.get('message', '')}\n"
          f"log: {run.log_file}", file=sys.stderr)
    return 1


def _fmt(value: Any, signed: bool = False) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:+.4f}" if signed else f"{value:.4f}"
    return "-" if value is None else str(value)[:40]


def format_scores(scores: dict[str, Any]) -> str:
    """The base / tuned / delta table of an evaluation, with the forgetting probe and judge below it."""
    lines = [f"{scores.get('n')} questions ({scores.get('data')}), run {scores.get('run')}",
             f"{'metric':16} {'base':>10} {'tuned':>10} {'delta':>10}"]
    base, tuned, delta = scores.get("base", {}), scores.get("tuned", {}), scores.get("delta", {})
    for key in [k for k in TABLE_KEYS if k in tuned] + [k for k in tuned if k not in TABLE_KEYS and k in delta]:
        lines.append(f"{key:16} {_fmt(base.get(key)):>10} {_fmt(tuned.get(key)):>10} "
                     f"{_fmt(delta.get(key), True):>10}")
    forgetting = scores.get("forgetting")
    if forgetting:
        lines.append(f"forgetting probe ({forgetting['n']} general-knowledge questions):")
        for key in ("fact_acc", "rougeL"):
            lines.append(f"  {key:14} {_fmt(forgetting['base'].get(key)):>10} {_fmt(forgetting['tuned'].get(key)):>10}"
                         f" {_fmt(forgetting['delta'].get(key), True):>10}")
    judge = scores.get("judge")
    if judge and judge.get("error"):
        lines.append(f"judge ({judge['judge']}) failed: {judge['error']}")
    elif judge:
        lines.append(f"judge ({judge['judge']}), marks 0-100:")
        for key in JUDGE_CRITERIA:
            lines.append(f"  {key:14} {_fmt(judge['base'].get(key)):>10} {_fmt(judge['tuned'].get(key)):>10}"
                         f" {_fmt(judge['delta'].get(key), True):>10}")
    if scores.get("sacrebleu_signature"):
        lines.append(f"sacreBLEU signature: {scores['sacrebleu_signature']}")
    lines += served.describe((scores.get("settings") or {}).get("served"))
    timings = scores.get("timings") or {}
    if timings:
        lines.append(f"took {timings.get('total_s')} s; tuned side {timings.get('tuned_questions_per_min')} "
                     f"questions/min, {timings.get('tuned_tokens_per_s')} tokens/s")
    return "\n".join(lines)


def compare_cmd(ws: Workspace, names: Sequence[str]) -> int:
    rows = eval_results.compare_runs([RunDir(ws.run_path(n)) for n in names])
    keys = [k for k in ("bleu4", "rougeL", "fact_acc", "perplexity") if any(f"delta_{k}" in r for r in rows)]
    print(f"{'run':40} {'method':12} " + " ".join(f"{'tuned ' + k:>16} {'delta':>9}" for k in keys))
    for r in rows:
        if not r.get("evaluated"):
            print(f"{r['run']:40} {r.get('method') or '':12} not evaluated yet")
            continue
        cells = " ".join(f"{_fmt(r.get('tuned_' + k)):>16} {_fmt(r.get('delta_' + k), True):>9}" for k in keys)
        print(f"{r['run']:40} {r.get('method') or '':12} {cells}")
    return 0


# chat -----------------------------------------------------------------------------------------------

def chat_cmd(args: argparse.Namespace) -> int:
    ws = cmds.workspace_of(args)
    if bool(args.run) == bool(args.model):
        raise CliInputError("give --run RUN (a trained run) or --model MODEL (a plain model), one of the two")
    if args.base and not args.run:
        raise CliInputError("--base needs --run: it answers with the run's base model")
    run = train_run(ws, args.run) if args.run else None
    gate = load_run_gate(run, args.threshold) if args.gate else None
    from .. import chat  # torch is imported only once the input is known to be good
    side = chat.Side(run=str(run.path), base=args.base) if run else chat.Side(model=args.model)
    gen = gen_from_args(args)
    engine = chat.ChatEngine()
    if args.question:
        stream_to_terminal(engine.stream(side, args.question, (), gen, args.system, gate))
        return 0
    return interactive(engine, side, gen, args.system, gate)


def load_run_gate(run: RunDir | None, threshold: float | None) -> Any:
    from ..gate import TopicGate

    if run is None:
        raise CliInputError("--gate needs --run: the topic gate is saved with a run")
    if not (run.path / "gate").is_dir():
        raise CliInputError(f"run {run.id} has no topic gate; fit one with `python -m workbench gate --run {run.id}`")
    gate = TopicGate.load(run.path / "gate")
    return gate.with_threshold(threshold) if threshold is not None else gate


def stream_to_terminal(pieces: Any) -> str:
    text = ""
    for piece in pieces:
        text += piece
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return text


def interactive(engine: Any, side: Any, gen: GenParams, system: str | None, gate: Any) -> int:
    """A terminal chat: /reset forgets the conversation, /base and /tuned switch sides, /exit leaves."""
    from ..chat import Side

    history: list[dict[str, str]] = []
    print(f"chatting with {side.label}; /reset, /base, /tuned, /exit")
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not line:
            continue
        if line in ("/exit", "/quit"):
            return 0
        if line == "/reset":
            history = []
            continue
        if line in ("/base", "/tuned"):
            if not side.run:
                print("this chat has no run; /base and /tuned need --run")
                continue
            side = Side(run=side.run, base=line == "/base")
            print(f"now answering: {side.label}")
            continue
        sys.stdout.write("model> ")
        reply = stream_to_terminal(engine.stream(side, line, history, gen, system, gate))
        history += [{"role": "user", "content": line}, {"role": "assistant", "content": reply.strip()}]


# gate -----------------------------------------------------------------------------------------------

def gate_cmd(args: argparse.Namespace) -> int:
    from .. import gate as gates
    from ..qa.dataset import load_pairs

    ws = cmds.workspace_of(args)
    run = RunDir(ws.run_path(args.run)) if args.run else None
    data = args.data or (run.train_config().get("data") if run else None)
    if not data:
        raise CliInputError("--data is required (a dataset or QA file whose questions are in-domain), unless "
                            "--run names a training run whose data is used")
    questions = [p["question"] for p in load_pairs(ws.dataset_path(str(data)))]
    negatives = gates.load_offtopic_questions(args.negatives) if args.negatives else []
    gate, report = gates.fit_gate(questions, negatives, use_builtin_offtopic=not args.no_builtin,
                                  threshold=args.threshold, refusal_message=args.refusal or gates.DEFAULT_REFUSAL)
    print(format_gate_report(report))
    if run is not None:
        print(f"saved the gate in {gate.save(run.path / 'gate')}; use it with "
              f"`python -m workbench chat --run {run.id} --gate`")
    return 0


def format_gate_report(report: Any) -> str:
    (tn, fp), (fn, tp) = report.confusion
    return "\n".join([
        (f"topic gate: {report.n_in_domain} in-domain vs {report.n_off_topic} off-topic held-out questions "
         f"(trained on {report.n_train}), threshold {report.threshold}"),
        (f"precision {report.precision:.3f}  recall {report.recall:.3f}  F1 {report.f1:.3f}  "
         f"accuracy {report.accuracy:.3f}"),
        "confusion (rows: true, columns: predicted):",
        f"{'':12} {'off-topic':>10} {'in-domain':>10}",
        f"{'off-topic':12} {tn:>10} {fp:>10}",
        f"{'in-domain':12} {fn:>10} {tp:>10}",
    ])


# export ---------------------------------------------------------------------------------------------

def export_cmd(args: argparse.Namespace) -> int:
    """A run as a model other tools load: merged safetensors, a GGUF file or a hub repository."""
    from .. import export

    run = RunDir(cmds.workspace_of(args).run_path(args.run))
    if args.to == "hub":
        if not args.repo:
            raise export.ExportError("--to hub needs --repo NAME (e.g. --repo your-name/harbour-expert)")
        print(f"pushed run {run.id} to {export.push_to_hub(run.path, args.repo, private=not args.public)}")
    elif args.to == "gguf":
        print(f"wrote {export.export_gguf(run.path, args.out, args.outtype)}")
    else:
        out = export.export_merged(run.path, args.out)
        print(f"wrote {out}\nload it with: AutoModelForCausalLM.from_pretrained({str(out)!r})")
    return 0



# parsers --------------------------------------------------------------------------------------------

def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of questions (0 = all)")
    return int(text)


def _parity(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of questions (0 = no parity check)")
    return int(text)


def eval_parser(sub: Any) -> None:
    p = sub.add_parser("eval", help="evaluate a tuned run against its base model",
                       description="Answer a QA set with the run's base and tuned model (same decoding), score "
                                   "both and print base / tuned / delta. Results go to RUN/eval/.")
    p.add_argument("--run", help="training run id or folder")
    p.add_argument("--data", help="dataset name or folder (its test split) or a QA file; default: the pairs the "
                                  "run held out")
    p.add_argument("--metrics", help="comma-separated: bleu4, sacrebleu, rouge, meteor, bertscore, fact_acc "
                                     "(default bleu4,sacrebleu,rouge,meteor,fact_acc)")
    p.add_argument("--lang", default="auto", choices=("auto", "en", "zh"), help="language of the answers")
    p.add_argument("--judge", metavar="MODEL|URL", help="LLM judge: a local model alias/folder, or the URL of an "
                   "OpenAI-compatible API (API key from $WORKBENCH_JUDGE_KEY)")
    p.add_argument("--judge-model", help="model name sent to the judge API")
    p.add_argument("--limit", type=_count, default=0, help="evaluate only the first N questions (0 = all)")
    p.add_argument("--no-probe", action="store_true", help="skip the general-knowledge forgetting probe")
    s = p.add_argument_group("answers from a serving engine (vLLM, SGLang, llama.cpp's server) over the OpenAI "
                             "chat API; the key, if any, is read from $WORKBENCH_SERVE_API_KEY")
    s.add_argument("--serve-url", metavar="URL", help="the server's base URL, e.g. http://127.0.0.1:8000/v1")
    s.add_argument("--serve-model", metavar="NAME", help="the tuned model's name there (vLLM: the NAME of "
                   "--lora-modules NAME=RUN/adapter, or a merged export's folder)")
    s.add_argument("--serve-base-model", metavar="NAME", help="the base model's name there; default: the base "
                   "side is answered by the local model")
    s.add_argument("--parity", type=_parity, default=8, help="questions of each served side also answered by the "
                   "local model and compared (default 8; 0 = no check)")
    p.add_argument("--run-dir", help="id for the eval run folder (default: time-eval-run-random)")
    p.add_argument("--detach", action="store_true", help="start in the background and print the eval run id")
    p.add_argument("--compare", nargs="+", metavar="RUN", help="print the last scores of several runs side by side "
                   "instead of evaluating")
    add_gen_options(p)
    p.set_defaults(func=eval_cmd)


def chat_parser(sub: Any) -> None:
    c = sub.add_parser("chat", help="chat with a tuned run, its base model or a plain model",
                       description="Without QUESTION: an interactive chat (/reset, /base, /tuned, /exit).")
    c.add_argument("question", nargs="?", help="one question to answer (streamed), then exit")
    c.add_argument("--run", help="training run id or folder (answers with the tuned model)")
    c.add_argument("--model", help="a plain model alias, folder or hub id instead of a run")
    c.add_argument("--base", action="store_true", help="answer with the run's base model (adapter switched off)")
    c.add_argument("--gate", action="store_true", help="refuse off-topic questions with the run's topic gate")
    c.add_argument("--threshold", type=_threshold, help="in-domain probability the gate needs (default: its own)")
    c.add_argument("--system", help="system prompt (default: the one the run was trained with)")
    add_gen_options(c)
    c.set_defaults(func=chat_cmd)


def gate_parser(sub: Any) -> None:
    g = sub.add_parser("gate", help="fit the topic gate that refuses off-topic questions",
                       description="Fit TF-IDF + logistic regression on the dataset's questions against general "
                                   "questions; report precision, recall, F1 and the confusion matrix.")
    g.add_argument("--data", help="dataset name or folder, or a QA file (its questions are in-domain)")
    g.add_argument("--run", help="save the gate with this run (RUN/gate/); its data is the default --data")
    g.add_argument("--negatives", help="text file of extra off-topic questions, one per line")
    g.add_argument("--no-builtin", action="store_true", help="do not use the shipped off-topic questions")
    g.add_argument("--threshold", type=_threshold, default=0.5, help="in-domain probability needed (default 0.5)")
    g.add_argument("--refusal", help="message given instead of an answer to an off-topic question")
    g.set_defaults(func=gate_cmd)


def export_parser(sub: Any) -> None:
    e = sub.add_parser("export", help="a run as a model other tools load: merged safetensors (transformers, "
                                      "vLLM), GGUF (llama.cpp, Ollama) or a Hugging Face hub repository")
    e.add_argument("run", help="run id or run folder")
    e.add_argument("--to", default="merged", choices=("merged", "gguf", "hub"))
    e.add_argument("--out", help="folder (merged) or file (gguf) to write; default under the run's export/")
    e.add_argument("--outtype", default="f16", help="GGUF tensor type given to the converter (f16, q8_0, ...)")
    e.add_argument("--repo", help="hub repository for --to hub")
    e.add_argument("--public", action="store_true", help="create the hub repository public (default private)")
    e.set_defaults(func=export_cmd)
