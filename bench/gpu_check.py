"""LoRA and QLoRA training throughput on a CUDA GPU in bf16, with model FLOPs utilisation (MFU).

The SmolLM2-135M architecture (the real weights when the model package is installed, else the same
architecture with random weights: the work per token is the same), LoRA r16 on every linear layer, batch 16
of 256-token rows, AdamW; a few warm-up steps, then timed steps. MFU counts 4N FLOPs per token for LoRA and
QLoRA (forward 2N, backward through the activations 2N; the frozen weights get no gradient), against the
card's dense bf16 peak. The lora+liger row (where liger-kernel is installed) applies the kernels of the
trainer's fused_kernels=liger and checks its first three losses against the plain LoRA row's (same seed, adapter
and tokens). Prints a table and writes bench/results/gpu_check.json.

    python bench/gpu_check.py [--steps 20] [--device cuda]     (bench/gpu_check.sh runs it with a time limit)
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "results" / "gpu_check.json"

# Dense bf16 peak (no sparsity) from the vendors' data sheets, in TFLOP/s.
PEAK_BF16_TFLOPS = {"H100 SXM": 989.0, "H100 NVL": 835.0, "H100 PCIe": 756.0, "H200": 989.0, "A100": 312.0,
                    "L40S": 362.0, "L4": 121.0, "A10": 125.0, "RTX 4090": 165.0}
SMOLLM2_135M = {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
                "num_key_value_heads": 3, "vocab_size": 49152, "max_position_embeddings": 8192,
                "rms_norm_eps": 1e-5, "rope_theta": 100000.0, "tie_word_embeddings": True, "hidden_act": "silu"}


def peak_tflops(name: str) -> float | None:
    for key, value in PEAK_BF16_TFLOPS.items():
        if all(part.lower() in name.lower() for part in key.split()):
            return value
    return None


def load(quantized: bool, device: str):
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, LlamaConfig

    kwargs = {}
    if quantized:
        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                           bnb_4bit_compute_dtype=torch.bfloat16)
        kwargs["device_map"] = {"": 0 if device == "cuda" else "cpu"}
    try:
        from workbench import models
        path, source = models.resolve("smollm2"), "SmolLM2-135M-Instruct weights"
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16, **kwargs)
    except Exception:  # the model package is not installed here: the same architecture, random weights
        source = "SmolLM2-135M architecture, random weights"
        config = LlamaConfig(**SMOLLM2_135M)
        if quantized:
            import tempfile
            folder = tempfile.mkdtemp()
            AutoModelForCausalLM.from_config(config).save_pretrained(folder)
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16, **kwargs)
        else:
            model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    if not quantized:
        model.to(device)
    return model, source


def measure(method: str, steps: int, device: str, batch: int, seq: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    torch.manual_seed(0)  # the same adapter and tokens in every row, so that their first losses compare
    model, source = load(method.startswith("qlora"), device)
    params = sum(p.numel() for p in model.parameters())
    if method.endswith("+liger"):  # the kernels the trainer's fused_kernels=liger applies
        from liger_kernel.transformers import _apply_liger_kernel_to_instance

        from workbench.train import LIGER_KERNELS
        _apply_liger_kernel_to_instance(model=model, **LIGER_KERNELS)
    if method.startswith("qlora"):
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, SMOLLM2_135M["vocab_size"], (batch, seq), device=device)
    model.train()

    def step() -> float:
        with torch.autocast(device_type=device, dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    first_losses = [step() for _ in range(3)]
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    tokens_per_s = batch * seq * steps / seconds
    name = torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or "cpu"
    peak = peak_tflops(name) if device == "cuda" else None
    mfu = tokens_per_s * 4 * params / (peak * 1e12) if peak else None
    return {"method": method, "model": source, "params": params, "device": name, "batch": batch, "seq": seq,
            "steps": steps, "seconds": round(seconds, 2), "tokens_per_s": round(tokens_per_s),
            "first_losses": [round(x, 5) for x in first_losses],
            "peak_bf16_tflops": peak, "mfu": round(mfu, 4) if mfu else None,
            "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None}


def compare_fused(rows: list[dict]) -> None:
    """The loss check of the fused kernels: each +liger row's first three losses against the same method's
    plain row (same seed, adapter and tokens), as the largest relative difference."""
    plain = {r["method"]: r for r in rows if "error" not in r}
    for r in rows:
        base = plain.get(r["method"].removesuffix("+liger")) if r["method"].endswith("+liger") else None
        if base and "error" not in r:
            r["loss_vs_plain"] = max(abs(a - b) / abs(b) for a, b in zip(r["first_losses"], base["first_losses"]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--methods", default="lora,qlora,lora+liger", help="lora, qlora, and either with +liger "
                    "(Liger's RMSNorm, RoPE and SwiGLU kernels; needs liger-kernel)")
    args = ap.parse_args()
    import torch
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU visible to torch: this check needs one (or --device cpu for a smoke run)")
        return 2
    rows = []
    for method in args.methods.split(","):
        try:
            rows.append(measure(method, args.steps, args.device, args.batch, args.seq))
        except Exception as exc:  # one method failing (bitsandbytes missing) still reports the other
            rows.append({"method": method, "error": f"{type(exc).__name__}: {exc}"})
        print(json.dumps(rows[-1]), flush=True)
    compare_fused(rows)
    print(f"\n{'method':11} {'tokens/s':>10} {'MFU':>7} {'peak GB':>8} {'loss vs plain':>13}  device")
    for r in rows:
        if "error" in r:
            print(f"{r['method']:11} failed: {r['error']}")
        else:
            mfu = f"{r['mfu']:.1%}" if r["mfu"] else "-"
            diff = f"{r['loss_vs_plain']:+.2e}" if r.get("loss_vs_plain") is not None else "-"
            print(f"{r['method']:11} {r['tokens_per_s']:>10} {mfu:>7} {r['peak_memory_gb'] or '-':>8} {diff:>13}  "
                  f"{r['device']}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "rows": rows},
                              indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
