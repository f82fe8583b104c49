"""QA generation throughput: one passage per generate call vs left-padded batches, SmolLM2 on this machine.

Generates question-answer pairs for the first passages of the sample corpus with greedy decoding (each
reply ends at the label of a fourth pair, as in the pipeline, or at --max-new-tokens), and
reports pairs per minute (pairs parsed from the replies, and pairs that pass the per-pair filters),
generated tokens per second, malformed replies, and whether batched replies equal one-at-a-time replies.
Prints a table and writes bench/results/qa_generation.json. Not part of the test pass/fail.

    python bench/qa_generation.py [--model smollm2] [--passages 4] [--batches 1,4] [--max-new-tokens 256]

The batch sizes run on the same passages in alternating order (--rounds); rates come from each batch
size's fastest round (like timeit: other processes only ever add time) and the median round is recorded
too, with the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import workbench  # noqa: F401  - first: it sets the OpenMP wait policy before torch loads
import torch

from workbench import corpus, models
from workbench.qa import filters, generate
from workbench.rundir import atomic_write_json

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "qa_generation.json"
SAMPLE = ROOT / "assets" / "sample_corpus"


def count_generated_tokens(tok, gen: generate.LocalGenerator, passages: list[dict], batch: int,
                           max_new_tokens: int) -> tuple[list[str], int]:
    conversations = [generate.PromptTemplates().qa_messages(p["text"], 3) for p in passages]
    replies = generate.run_batched(gen, conversations, batch_size=batch, max_new_tokens=max_new_tokens,
                                   stop=generate.qa_stop(3))
    return replies, sum(len(tok(r, add_special_tokens=False)["input_ids"]) for r in replies)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--passages", type=int, default=4)
    ap.add_argument("--batches", default="1,4")
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    threads = models.set_threads()
    batches = [int(b) for b in args.batches.split(",")]
    passages = [p.to_dict() for p in corpus.ingest_files([SAMPLE]).passages[:args.passages]]
    load_before = os.getloadavg()
    gen = generate.LocalGenerator.load(args.model, threads=threads)
    tok = gen.tokenizer
    totals = {b: {"rounds_s": [], "tokens": 0, "pairs": 0, "usable": 0, "malformed_outputs": 0} for b in batches}
    replies_by_batch: dict[int, list[str]] = {}
    text = {p["id"]: p["text"] for p in passages}
    for r in range(args.rounds):
        order = batches if r % 2 == 0 else batches[::-1]
        for b in order:
            t0 = time.perf_counter()
            replies, n_tokens = count_generated_tokens(tok, gen, passages, b, args.max_new_tokens)
            seconds = time.perf_counter() - t0
            pairs = [(q, a, p["id"]) for p, reply in zip(passages, replies, strict=True)
                     for q, a in generate.parse_qa_output(reply).pairs[:3]]
            usable = [x for x in pairs if filters.check_pair({"question": x[0], "answer": x[1]}, text[x[2]],
                                                             filters.FilterSettings())[1] is None]
            t = totals[b]  # greedy decoding: every round writes the same replies
            t["rounds_s"].append(seconds)
            t.update(tokens=n_tokens, pairs=len(pairs), usable=len(usable),
                     malformed_outputs=sum(1 for reply in replies if not generate.parse_qa_output(reply).pairs))
            replies_by_batch[b] = replies
    load_after = os.getloadavg()
    base = batches[0]
    rows = {}
    print(f"{'batch':>5} {'best s':>8} {'tok/s':>7} {'pairs':>6} {'pairs/min':>10} {'usable/min':>11} "
          f"{'malformed':>10} {'same replies as batch ' + str(base):>26}")
    for b, t in totals.items():
        same = sum(x == y for x, y in zip(replies_by_batch[b], replies_by_batch[base], strict=True))
        best = min(t["rounds_s"])
        row = {"batch_size": b, "seconds": round(best, 2), "rounds_s": [round(x, 2) for x in t["rounds_s"]],
               "median_s": round(statistics.median(t["rounds_s"]), 2), "generated_tokens": t["tokens"],
               "tokens_per_s": round(t["tokens"] / best, 1), "pairs": t["pairs"], "usable_pairs": t["usable"],
               "pairs_per_min": round(t["pairs"] / best * 60, 1),
               "usable_pairs_per_min": round(t["usable"] / best * 60, 1),
               "malformed_outputs": t["malformed_outputs"], "replies": len(passages),
               f"same_replies_as_batch_{base}": f"{same}/{len(passages)}"}
        rows[str(b)] = row
        print(f"{b:>5} {row['seconds']:>8} {row['tokens_per_s']:>7} {row['pairs']:>6} {row['pairs_per_min']:>10} "
              f"{row['usable_pairs_per_min']:>11} {row['malformed_outputs']:>10} {same:>21}/{len(passages)}")
    speedup = rows[str(batches[-1])]["tokens_per_s"] / rows[str(base)]["tokens_per_s"]
    print(f"batch {batches[-1]} vs {base}: {speedup:.2f}x tokens/s; load average {load_before[0]:.1f} -> "
          f"{load_after[0]:.1f} on {os.cpu_count()} CPUs, {threads} torch threads")
    atomic_write_json(Path(args.out), {
        "model": args.model, "passages": len(passages), "max_new_tokens": args.max_new_tokens, "rounds": args.rounds,
        "pairs_asked_per_passage": 3, "decoding": "greedy", "rows": rows, "speedup_tokens_per_s": round(speedup, 2),
        "torch": torch.__version__, "threads": threads, "cpus": os.cpu_count(), "platform": platform.platform(),
        "load_average_before": load_before, "load_average_after": load_after,
        "sample_reply": replies_by_batch[base][0],
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")})


if __name__ == "__main__":
    main()
