"""Training throughput side by side, on the same QA pairs, seed, batch and number of examples:

  hf-padded         the seeds' recipe: Hugging Face Trainer + PEFT, every example padded to 128 tokens, fp32
  hf-dynamic        Hugging Face Trainer + PEFT with dynamic padding (DataCollatorForSeq2Seq), fp32: what a
                    competent user writes with plain transformers + peft
  workbench         `python -m workbench train` exactly as the CLI runs it (its worker, callbacks, defaults),
                    with the evaluation, probes and replay off so that only training is timed
  workbench-probes  the same with a held-out split, so the per-epoch eval loss and generation probe run too
and, where asked for with --rows, the CLI with some defaults changed, to tell what a difference comes from:
  workbench-fp32         --precision fp32 (the default trains in bf16 on a CPU that has bf16 instructions)
  workbench-fp32-random  also --group-by-length false (the HF rows draw batches at random)
  workbench-unpacked     --packing false --answer-only-logits false

The pairs are the facts generator's questions about bench/knowledge_docs/report.md (the knowledge preset's
shape of work: SmolLM2, LoRA r16 on all linear layers, batch 4). Each row runs in its own process (the HF
rows never import the workbench, so they keep the OpenMP defaults a plain script has); rows alternate over
the rounds so that a noisy machine slows all alike. Per row: useful (non-padding) tokens/s over the Trainer's
train_runtime, seconds per step, peak RSS (HF rows only: the CLI's worker runs detached), the mean training
loss as each trainer logged it, and the fit loss: the answer-token loss on the same trained examples after
training, computed alike for every row (fp32, eval mode, plain transformers + peft), since the rows differ in
example order and precision. Then the ratios workbench/hf-dynamic and workbench/hf-padded and the relative
fit-loss gaps. Prints a table, writes bench/results/train_throughput.json.

    .venv/bin/python bench/train_throughput.py [--rounds 2] [--steps 30] [--batch 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the parent prepares the data with the workbench; the HF rows never import it
OUT = ROOT / "bench" / "results" / "train_throughput.json"
ROWS = ("hf-padded", "hf-dynamic", "workbench", "workbench-probes")
# settings each workbench row adds to the CLI's defaults (not in ROWS: rows to ask for by --rows)
WORKBENCH_SETTINGS = {"workbench": [], "workbench-probes": [], "workbench-fp32": ["--precision", "fp32"],
                      "workbench-fp32-random": ["--precision", "fp32", "--group-by-length", "false"],
                      "workbench-unpacked": ["--packing", "false", "--answer-only-logits", "false"]}
PAD_TO = 128  # the seeds' max length; longer pairs are left out of every row alike
LORA = {"r": 16, "alpha": 32, "dropout": 0.05}
LR = 1e-3


# the HF rows: plain transformers + peft, in a child process ---------------------------------------------

def encode(tok, pair: dict, max_len: int) -> dict | None:
    """Prompt + answer under the chat template, loss on the answer only: what a careful user writes."""
    messages = [{"role": "user", "content": pair["question"]}]
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(messages + [{"role": "assistant", "content": pair["answer"]}], tokenize=False)
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    ids = tok(full, add_special_tokens=False)["input_ids"]
    if len(ids) > max_len:
        return None
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": [-100] * len(p_ids) + ids[len(p_ids):]}


def hf_row(model_path: str, data: Path, padded: bool, steps: int, batch: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer,
                              TrainingArguments)

    tok = AutoTokenizer.from_pretrained(model_path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    pairs = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    examples = [e for e in (encode(tok, p, PAD_TO) for p in pairs) if e is not None][: steps * batch]
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"],
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    collator = DataCollatorForSeq2Seq(tok, padding="max_length" if padded else True, max_length=PAD_TO,
                                      label_pad_token_id=-100)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, per_device_train_batch_size=batch, num_train_epochs=1,
                                 learning_rate=LR, lr_scheduler_type="cosine", warmup_steps=0.03, logging_steps=1,
                                 save_strategy="no", report_to=[], seed=42, use_cpu=True, remove_unused_columns=False,
                                 dataloader_num_workers=0)
        trainer = Trainer(model=model, args=args, train_dataset=examples, data_collator=collator)
        result = trainer.train()
    return {"steps": result.global_step, "seconds": result.metrics["train_runtime"], "loss": result.training_loss,
            "fit_loss": fit_loss(model, tok, examples)}


def fit_loss(model, tok, examples: list[dict]) -> float:
    """Mean answer-token loss over the trained examples, after training, in fp32 and eval mode: the same
    measure for every row whatever order, precision or loss code it trained with."""
    import torch
    from transformers import DataCollatorForSeq2Seq

    model = model.float().eval()
    collate = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(examples), 8):
            batch = collate(examples[i:i + 8])
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
            targets = batch["labels"][:, 1:]
            total += torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                                       ignore_index=-100, reduction="sum").item()
            count += int((targets != -100).sum())
    return total / count


def workbench_fit_loss(model_path: str, adapter: Path, data: Path) -> float:
    """fit_loss of the adapter the CLI saved, loaded with plain transformers + peft."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    pairs = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    examples = [e for e in (encode(tok, p, PAD_TO) for p in pairs) if e is not None]
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32),
                                      str(adapter))
    return fit_loss(model, tok, examples)


# the workbench rows: the CLI ----------------------------------------------------------------------------

def workbench_row(data: Path, test: Path | None, steps: int, batch: int, model_path: str,
                  settings: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as ws:
        folder = Path(ws) / "data"
        folder.mkdir()
        (folder / "train.jsonl").write_text(data.read_text())
        if test is not None:
            (folder / "test.jsonl").write_text(test.read_text())
        args = [sys.executable, "-m", "workbench", "--workspace", ws, "train", "--data", str(folder),
                "--epochs", "1", "--batch-size", str(batch), "--learning-rate", str(LR), "--replay", "0",
                "--max-seq-len", str(PAD_TO), *settings]
        if test is None:
            args += ["--eval-fraction", "0", "--probe-size", "0"]
        proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"workbench train failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        run = next(p for p in (Path(ws) / "runs").iterdir() if (p / "summary.json").exists())
        summary = json.loads((run / "summary.json").read_text())
        fit = workbench_fit_loss(model_path, run / "adapter", data)
    return {"steps": summary["steps"], "seconds": summary["train_seconds"], "loss": summary["train_loss"],
            "fit_loss": fit}


def peak_rss_mb() -> int:
    """The largest resident set of this process and of every process it waited for (the CLI's worker)."""
    return round(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                     resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024)


# the parent: data, rounds, table --------------------------------------------------------------------------

def make_pairs(folder: Path, n: int) -> tuple[Path, Path, str]:
    """(train pairs, held-out pairs, model folder): `qa` on the report document, the first ``n`` pairs that
    fit in 128 tokens under SmolLM2's template."""
    import workbench  # noqa: F401 - the parent only prepares the data; rows run in their own processes
    from workbench import models

    proc = subprocess.run([sys.executable, "-m", "workbench", "--workspace", str(folder), "qa",
                           str(ROOT / "bench" / "knowledge_docs" / "report.md"), "--out", "tp"],
                          cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"qa failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    path = models.resolve("smollm2")
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(path)
    pairs = [json.loads(line) for line in (folder / "datasets" / "tp" / "train.jsonl").read_text().splitlines()]
    fit = [{"question": p["question"], "answer": p["answer"]} for p in pairs if encode(tok, p, PAD_TO)]
    if len(fit) < n:
        raise RuntimeError(f"only {len(fit)} pairs fit in {PAD_TO} tokens; ask for fewer steps")
    train, test = folder / "train.jsonl", folder / "test.jsonl"
    train.write_text("".join(json.dumps(p) + "\n" for p in fit[:n]))
    test.write_text("".join(json.dumps(p) + "\n" for p in fit[n:n + 24]))
    return train, test, path


def child(row: str, data: Path, test: Path, model_path: str, steps: int, batch: int) -> dict:
    """One row in a fresh process."""
    cmd = [sys.executable, __file__, "--row", row, "--data", str(data), "--test", str(test), "--model-path",
           model_path, "--steps", str(steps), "--batch", str(batch)]
    # as from a fresh shell: the parent imported the workbench, which set its OpenMP policy in os.environ
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "WORKBENCH_USER_OMP_WAIT_POLICY")}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"row {row} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(runs: list[dict], tokens: int) -> dict:
    seconds = [r["seconds"] for r in runs]
    steps = runs[0]["steps"]
    best = min(seconds)
    return {"rounds": len(runs), "seconds": seconds, "steps": steps, "s_per_step": round(best / steps, 3),
            "useful_tokens_per_s": round(tokens / best, 1),
            "useful_tokens_per_s_median": round(tokens / statistics.median(seconds), 1),
            "loss": round(statistics.mean(r["loss"] for r in runs), 4),
            "fit_loss": round(statistics.mean(r["fit_loss"] for r in runs), 4),
            "peak_rss_mb": max((r.get("peak_rss_mb") or 0) for r in runs) or None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--row", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--test", help=argparse.SUPPRESS)
    ap.add_argument("--model-path", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.row:  # a child process: one row, one JSON line
        data, test = Path(args.data), Path(args.test)
        if args.row.startswith("hf-"):
            result = hf_row(args.model_path, data, args.row == "hf-padded", args.steps, args.batch)
        else:
            result = workbench_row(data, test if args.row == "workbench-probes" else None, args.steps, args.batch,
                                   args.model_path, WORKBENCH_SETTINGS[args.row])
        # the CLI's worker is not this process's waited-for child, so its memory is not in the account
        rss = peak_rss_mb() if args.row.startswith("hf-") else None
        print(json.dumps({**result, "peak_rss_mb": rss}))
        return 0
    rows = args.rows.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        data, test, model_path = make_pairs(Path(tmp), args.steps * args.batch)
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(model_path)
        tokens = sum(len(encode(tok, json.loads(line), PAD_TO)["input_ids"])
                     for line in data.read_text().splitlines() if line.strip())
        runs: dict[str, list[dict]] = {r: [] for r in rows}
        for i in range(args.rounds):
            for row in rows if i % 2 == 0 else rows[::-1]:
                runs[row].append(child(row, data, test, model_path, args.steps, args.batch))
                last = runs[row][-1]
                print(f"round {i + 1}: {row:17} {last['seconds']:7.1f} s  loss {last['loss']:.4f}  "
                      f"fit loss {last['fit_loss']:.4f}", flush=True)
    results = {row: summarise(r, tokens) for row, r in runs.items()}
    report(results, args, tokens)
    return 0


def report(results: dict, args: argparse.Namespace, tokens: int) -> None:
    def ratio(a: str, b: str) -> float | None:
        if a in results and b in results:
            return round(results[a]["useful_tokens_per_s"] / results[b]["useful_tokens_per_s"], 2)
        return None

    def fit_gap(a: str, b: str) -> float | None:
        if a in results and b in results:
            return round(results[a]["fit_loss"] / results[b]["fit_loss"] - 1, 4)
        return None

    ratios = {"workbench/hf-dynamic": ratio("workbench", "hf-dynamic"),
              "workbench/hf-padded": ratio("workbench", "hf-padded"),
              "hf-dynamic/hf-padded": ratio("hf-dynamic", "hf-padded")}
    gaps = {"workbench/hf-dynamic": fit_gap("workbench", "hf-dynamic"),
            "workbench/hf-padded": fit_gap("workbench", "hf-padded")}
    print(f"\n{'row':17} {'s/step':>7} {'useful tok/s':>13} {'(median)':>9} {'loss':>7} {'fit loss':>9} "
          f"{'peak RSS MB':>12}")
    for row, r in results.items():
        print(f"{row:17} {r['s_per_step']:>7} {r['useful_tokens_per_s']:>13} {r['useful_tokens_per_s_median']:>9} "
              f"{r['loss']:>7} {r['fit_loss']:>9} {r['peak_rss_mb'] or '-':>12}")
    print("ratios (useful tokens/s, best round):", ", ".join(f"{k} {v}x" for k, v in ratios.items() if v))
    print("fit loss after the same examples, relative:",
          ", ".join(f"{k} {v:+.1%}" for k, v in gaps.items() if v is not None))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "model": "smollm2", "lora": LORA, "targets": "all-linear", "batch": args.batch, "steps": args.steps,
        "examples": args.steps * args.batch, "useful_tokens": tokens, "pad_to": PAD_TO, "learning_rate": LR,
        "rows": results, "ratios": ratios, "fit_loss_gap": gaps}, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
