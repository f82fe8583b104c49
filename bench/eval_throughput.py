"""Evaluation throughput: answering a QA set one question at a time vs in left-padded batches.

Measures questions per minute and generated tokens per second with greedy decoding (the evaluation
default) on the real default model, and checks that batched answers equal one-at-a-time answers.
Prints a table and writes bench/results/eval_throughput.json. Not part of the test pass/fail.

    python bench/eval_throughput.py [--model smollm2] [--questions 32] [--max-new-tokens 48] [--batches 1,8,16]

The batch sizes are timed on the same rounds of questions in alternating order, so a busy machine slows
them alike; the load average before and after is recorded with the result.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import workbench  # noqa: F401  - first: it sets the OpenMP wait policy before torch loads
import torch

from workbench import models
from workbench.config import GenParams
from workbench.generation import answer_questions
from workbench.rundir import atomic_write_json

OUT = Path(__file__).resolve().parent / "results" / "eval_throughput.json"

# Questions of mixed length about an invented orchard cooperative, like a domain QA test split.
QUESTIONS = [
    "When was the Larchmere orchard cooperative founded?",
    "Which apple variety does the cooperative grow on its northern slopes?",
    "How many member farms belong to the cooperative today?",
    "What does the cooperative do with apples that are too small to sell?",
    "Who chairs the cooperative's board?",
    "Why did the cooperative stop using plastic crates in its packing hall?",
    "How is the price paid to member farms calculated each season?",
    "What is stored in the cold cellar under the old mill?",
    "Which river supplies water to the orchards during dry summers?",
    "How long does the cider from the cooperative mature before bottling?",
    "What happens at the blossom festival each spring?",
    "Which pest caused the poor harvest of the year the cooperative borrowed money from the regional bank?",
    "How many tonnes of fruit did the cooperative press last autumn?",
    "What training does a new orchard worker receive in the first week?",
    "Where are the cooperative's beehives placed during flowering?",
    "What is the name of the pear variety developed by the cooperative's own grafting programme?",
]


def count_tokens(tok, answers: list[str]) -> int:
    return sum(len(tok(a, add_special_tokens=False)["input_ids"]) for a in answers)


def interleaved(model, tok, questions: list[str], batches: list[int], gen: GenParams) -> dict[int, dict]:
    """Time every batch size on the same rounds of questions, alternating which goes first, so that a busy
    machine slows all settings alike. Returns per batch size: seconds and answers."""
    rounds = [questions[i:i + max(batches)] for i in range(0, len(questions), max(batches))]
    out = {b: {"seconds": 0.0, "answers": []} for b in batches}
    for n, chunk in enumerate(rounds):
        for b in batches if n % 2 == 0 else batches[::-1]:
            t0 = time.perf_counter()
            answers = answer_questions(model, tok, chunk, replace(gen, batch_size=b))
            out[b]["seconds"] += time.perf_counter() - t0
            out[b]["answers"] += answers
    return out


@torch.inference_mode()
def decode_step_ms(model, batch: int, context: int = 48, steps: int = 8) -> float:
    """Milliseconds per generated position for ``batch`` rows (one forward pass with the KV cache)."""
    ids = torch.randint(100, 1000, (batch, context))
    mask = torch.ones(batch, context, dtype=torch.long)
    out = model(input_ids=ids, attention_mask=mask, use_cache=True, logits_to_keep=1)
    cache, nxt = out.past_key_values, ids[:, -1:]
    t0 = time.perf_counter()
    for _ in range(steps):
        mask = torch.cat([mask, torch.ones(batch, 1, dtype=torch.long)], dim=1)
        cache = model(input_ids=nxt, attention_mask=mask, past_key_values=cache, use_cache=True).past_key_values
    return (time.perf_counter() - t0) / steps * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--questions", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--batches", default="1,8,16", help="comma-separated batch sizes; the first is the reference")
    ap.add_argument("--repetition-penalty", type=float, default=GenParams.repetition_penalty)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0 = the CPU quota")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]

    threads = models.set_threads(args.threads)
    load_before = os.getloadavg()[0]
    model, tok, info = models.load_model(args.model, precision="fp32", device="cpu")
    questions = (QUESTIONS * (1 + args.questions // len(QUESTIONS)))[: args.questions]
    gen = GenParams(max_new_tokens=args.max_new_tokens, repetition_penalty=args.repetition_penalty)
    answer_questions(model, tok, questions[:2], replace(gen, max_new_tokens=4, batch_size=2))  # warm-up
    step_ms = {b: round(decode_step_ms(model, b), 1) for b in batches}

    timed = interleaved(model, tok, questions, batches, gen)
    ref = timed[batches[0]]
    rows = []
    for b in batches:
        r = timed[b]
        tokens = count_tokens(tok, r["answers"])
        rows.append({"batch_size": b, "seconds": round(r["seconds"], 2),
                     "questions_per_min": round(len(questions) / r["seconds"] * 60, 1), "tokens": tokens,
                     "tokens_per_s": round(tokens / r["seconds"], 1), "decode_step_ms": step_ms[b],
                     "speedup": round(ref["seconds"] / r["seconds"], 2),
                     "same_answers_as_first": sum(a == c for a, c in zip(r["answers"], ref["answers"]))})
    load_after = os.getloadavg()[0]

    print(f"{info.spec} ({info.params / 1e6:.1f}M params), {len(questions)} questions, greedy, "
          f"max_new_tokens {args.max_new_tokens}, repetition_penalty {args.repetition_penalty}, {threads} threads, "
          f"load average {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} CPUs")
    print(f"{'batch':>5} {'seconds':>8} {'questions/min':>14} {'tokens':>7} {'tokens/s':>9} {'ms/step':>8} "
          f"{'speed-up':>9} {'same':>5}")
    for r in rows:
        print(f"{r['batch_size']:>5} {r['seconds']:>8.2f} {r['questions_per_min']:>14.1f} {r['tokens']:>7} "
              f"{r['tokens_per_s']:>9.1f} {r['decode_step_ms']:>8.1f} {r['speedup']:>8.2f}x "
              f"{r['same_answers_as_first']:>5}")

    result = {
        "model": info.spec, "params": info.params, "questions": len(questions),
        "max_new_tokens": args.max_new_tokens, "repetition_penalty": args.repetition_penalty,
        "threads": threads, "torch": torch.__version__, "machine": platform.machine(), "cpus": os.cpu_count(),
        "load_average": [round(load_before, 2), round(load_after, 2)], "rows": rows,
        "example": {"question": questions[0], "answer": timed[batches[-1]]["answers"][0]},
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    atomic_write_json(Path(args.out), result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
