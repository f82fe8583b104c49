"""Training throughput: our batching (dynamic padding + length grouping) against padding every batch to
max_seq_len (the baseline), LoRA on SmolLM2 on this machine. Prints a table, writes JSON.

    .venv/bin/python bench/train_throughput.py [--model smollm2] [--steps 12] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from pathlib import Path

import workbench  # noqa: F401  - first: it sets the OpenMP wait policy before torch loads
import torch

from workbench import methods, models
from workbench.formatting import DynamicPadCollator, encode_pairs


def qa_pairs(n: int, seed: int = 0) -> list[dict[str, str]]:
    """Questions and answers of realistic, varied length (one to four clauses)."""
    rng = random.Random(seed)
    clauses = ["the district plan was adopted in {y}", "it covered {n} hectares of former docks",
               "the council financed {n} social homes", "the tram extension opened in {y}",
               "a park replaced the rail yard", "residents voted on the design in {y}"]
    pairs = []
    for i in range(n):
        k = rng.randint(1, 4)
        answer = ", and ".join(c.format(y=rng.randint(1950, 2024), n=rng.randint(10, 9000))
                               for c in rng.sample(clauses, k))
        pairs.append({"question": f"What happened in renewal area {i}?", "answer": answer.capitalize() + "."})
    return pairs


def run(model_spec: str, steps: int, batch: int, pad_to: int | None) -> dict[str, float]:
    model, tok, _ = models.load_model(model_spec, precision="fp32")
    method = methods.get("lora")
    model = method.build(model, methods.make_params(method, {"rank": 16, "targets": "all-linear"}))
    examples = encode_pairs(tok, qa_pairs(steps * batch), max_len=256)
    if pad_to is None:  # our path: similar lengths together, then pad to the batch's longest
        examples.sort(key=lambda e: len(e["input_ids"]))
        batches = [examples[i:i + batch] for i in range(0, len(examples), batch)]
        random.Random(1).shuffle(batches)
    else:
        batches = [examples[i:i + batch] for i in range(0, len(examples), batch)]
    collator = DynamicPadCollator(pad_id=tok.pad_token_id, multiple=pad_to or 8)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()
    useful = 0
    t0 = time.perf_counter()
    for chunk in batches:
        b = collator(chunk)
        useful += int(b["attention_mask"].sum())
        loss = model(**b).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    elapsed = time.perf_counter() - t0
    return {"steps": len(batches), "seconds": round(elapsed, 2), "s_per_step": round(elapsed / len(batches), 3),
            "useful_tokens_per_s": round(useful / elapsed, 1), "padded_tokens": collator.tokens_seen}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--out", default="bench/results/train_throughput.json")
    args = ap.parse_args()
    models.set_threads()
    rows = {"pad to 128 (baseline)": run(args.model, args.steps, args.batch, pad_to=128),
            "dynamic + grouped (ours)": run(args.model, args.steps, args.batch, pad_to=None)}
    base = rows["pad to 128 (baseline)"]["useful_tokens_per_s"]
    print(f"{'batching':28} {'s/step':>8} {'useful tok/s':>13} {'vs baseline':>12}")
    for name, r in rows.items():
        r["ratio_vs_baseline"] = round(r["useful_tokens_per_s"] / base, 2)
        print(f"{name:28} {r['s_per_step']:>8} {r['useful_tokens_per_s']:>13} {r['ratio_vs_baseline']:>11}x")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": args.model, "batch": args.batch, "threads": torch.get_num_threads(),
                               "machine": platform.machine(), "results": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
