"""A run's model card (``README.md``): what it was made from, how, on what data, and how it scored.

Written into the adapter folder at the end of training (over peft's empty template) and into every model
export, so that a folder that leaves the workbench still says what it is. Reads the run folder only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .rundir import PIN_RECORD, RunDir, read_json

_SETTINGS = ("learning_rate", "epochs", "max_steps", "batch_size", "grad_accum", "lr_scheduler", "warmup_ratio",
             "weight_decay", "max_seq_len", "replay", "train_on_passages", "train_on_statements", "precision", "seed")


JOINT_METHODS = ("prefix+lora", "lora+prefix")  # adapter/ holds lora/ and prefix/, loaded one inside the other


def _scores(run: RunDir) -> list[str]:
    scores = read_json(run.eval_dir / "scores.json") or {}
    if not scores.get("tuned"):
        return ["Not evaluated yet (`python -m workbench eval --run RUN`)."]
    lines = [f"Last evaluation: {scores.get('n')} questions from `{scores.get('data')}`.", "",
             "| metric | base | tuned |", "| --- | --- | --- |"]
    for metric, tuned in scores["tuned"].items():
        base = (scores.get("base") or {}).get(metric)
        if isinstance(tuned, (int, float)) and metric not in ("n",) and not metric.endswith("_n"):
            lines.append(f"| {metric} | {_number(base)} | {_number(tuned)} |")
    return lines


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else "-"


def model_card(run: RunDir, merged: bool = False) -> str:
    """The card's Markdown; ``merged`` for a folder whose weights already hold the adapter."""
    cfg = run.train_config()
    summary = run.read_summary()
    source = read_json(run.path / "base_model.json") or {"spec": cfg.get("model")}
    pinned = read_json(run.pinned / PIN_RECORD) or {}
    base = source.get("hub_id") or source.get("spec")
    library = "transformers" if merged or cfg.get("method") in ("full", "freeze") else "peft"
    settings = {k: cfg.get(k) for k in _SETTINGS if k in cfg}
    if settings.get("learning_rate") is None and summary.get("learning_rate") is not None:
        settings["learning_rate"] = summary["learning_rate"]
    lines = ["---", f"base_model: {base}", f"library_name: {library}", "tags:", "- workbench",
             f"- {cfg.get('method')}", "---", "", f"# {run.id}", "",
             f"Fine-tuned with workbench from **{base}** by **{cfg.get('method')}**"
             f"{' (adapter merged into the weights)' if merged else ''}.", "", "## Base model", ""]
    lines += [f"- {k}: {v}" for k, v in source.items() if k != "resolved" and v]
    lines += ["", "## Data", "", f"- dataset: `{Path(str(pinned.get('source') or cfg.get('data'))).name}`",
              f"- training examples: {summary.get('train_examples', '-')}"]
    lines += [f"- {name}: sha256 `{digest}`" for name, digest in (pinned.get("sha256") or {}).items()]
    lines += ["", "## Settings", "", f"- method parameters: {cfg.get('method_params') or {}}"]
    lines += [f"- {k}: {v}" for k, v in settings.items()]
    if summary.get("steps"):
        lines += [f"- steps: {summary['steps']}, final training loss {_number(summary.get('train_loss'))}, "
                  f"{summary.get('train_seconds')} s on {(summary.get('model') or {}).get('device', '?')}"]
    lines += ["", "## Scores", "", *_scores(run), "", "## Use", "", "```python"]
    if cfg.get("method") in JOINT_METHODS:
        lines += ["import workbench  # one call: LoRA on the base, then the prefix around it",
                  "model, tokenizer = workbench.load_run(RUN_FOLDER)", "", "# or with peft alone, in two steps:",
                  "from peft import PeftModel", "from transformers import AutoModelForCausalLM, AutoTokenizer",
                  f"base = AutoModelForCausalLM.from_pretrained({base!r})",
                  "with_lora = PeftModel.from_pretrained(base, FOLDER + '/lora').get_base_model()",
                  "model = PeftModel.from_pretrained(with_lora, FOLDER + '/prefix')",
                  "tokenizer = AutoTokenizer.from_pretrained(FOLDER)"]
    elif library == "transformers":
        lines += ["from transformers import AutoModelForCausalLM, AutoTokenizer",
                  "model = AutoModelForCausalLM.from_pretrained(FOLDER)",
                  "tokenizer = AutoTokenizer.from_pretrained(FOLDER)"]
    else:
        lines += ["from peft import AutoPeftModelForCausalLM", "from transformers import AutoTokenizer",
                  "model = AutoPeftModelForCausalLM.from_pretrained(FOLDER)  # loads the base named above",
                  "tokenizer = AutoTokenizer.from_pretrained(FOLDER)"]
    return "\n".join(lines + ["```", ""])
