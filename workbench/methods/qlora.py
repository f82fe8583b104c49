"""QLoRA: LoRA on a base loaded in 4 bits (NF4 or FP4, optional double quantisation) with bitsandbytes.

The base must be loaded with ``load_kwargs`` (a BitsAndBytesConfig); build and load refuse a base that is
not 4-bit, since the adapter was trained against the quantised weights. bitsandbytes runs on CUDA and, in
recent versions, on the CPU; ``check`` tries it before any work starts. This module does not quantise
anything itself and does not train.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from peft import prepare_model_for_kbit_training
from transformers import BitsAndBytesConfig, PreTrainedModel

from ..config import param
from .base import Method, MethodError
from .common import load_peft
from .lora import LoraParams, apply_lora, lora_config, save

# PiSSA/OLoRA rewrite the base weights, which cannot be done exactly on 4-bit weights; MiCA needs float weights.
QLORA_INITS = ("default", "gaussian", "orthogonal")
# A 4-bit round trip of values in [-1, 1] is off by at most ~0.03 (MEASURED); far more means a broken backend.
_MAX_ROUND_TRIP_ERROR = 0.25
COMPUTE_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class QLoraParams(LoraParams):
    """LoRA's settings (the fields keep their order in forms and --help; init offers fewer choices), then the
    quantization's. Data only: the validation is LoraParams' own."""

    init: str = param("default", "initialisation of A and B (orthogonal needs an even rank)", choices=QLORA_INITS)
    quant_type: str = param("nf4", "4-bit data type: nf4 (normal float, QLoRA's choice) or fp4",
                            choices=("nf4", "fp4"))
    double_quant: bool = param(True, "also quantise the quantisation constants (saves ~0.4 bit per weight)")
    compute_dtype: str = param("auto", "dtype of the matrix products: auto = bf16 on a CUDA GPU that has it, "
                               "fp16 on other GPUs, fp32 on the CPU", choices=("auto", "fp32", "bf16", "fp16"))


def compute_dtype(p: QLoraParams, device: str) -> torch.dtype:
    if p.compute_dtype != "auto":
        return COMPUTE_DTYPES[p.compute_dtype]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_kwargs(p: QLoraParams, device: str) -> dict[str, Any]:
    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=p.quant_type,
                                bnb_4bit_use_double_quant=p.double_quant,
                                bnb_4bit_compute_dtype=compute_dtype(p, device))
    return {"quantization_config": config}


def check(p: QLoraParams, device: str) -> None:
    """Quantise a small matrix on the device: proves bitsandbytes has a working backend there."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MethodError("QLoRA was asked to run on CUDA but no CUDA GPU is visible; use the CPU or a GPU machine")
    if p.compute_dtype == "fp16" and not device.startswith("cuda"):
        raise MethodError("compute_dtype fp16 needs a CUDA GPU; use fp32 (or auto) on the CPU")
    try:
        import bitsandbytes
        from bitsandbytes.functional import dequantize_4bit, quantize_4bit
    except ImportError as exc:
        raise MethodError(f"QLoRA needs the bitsandbytes package ({exc}); install it with "
                          "`pip install bitsandbytes` or pick the lora method") from None
    try:
        x = torch.linspace(-1.0, 1.0, 4096, device=device).reshape(64, 64)
        packed, state = quantize_4bit(x, quant_type=p.quant_type, compress_statistics=p.double_quant)
        error = (dequantize_4bit(packed, state) - x).abs().max().item()
    except (RuntimeError, AttributeError, OSError) as exc:
        raise MethodError(f"bitsandbytes {bitsandbytes.__version__} cannot quantise to 4 bits on {device} "
                          f"({exc}); pick the lora method or a machine bitsandbytes supports") from None
    if not error < _MAX_ROUND_TRIP_ERROR:
        raise MethodError(f"bitsandbytes {bitsandbytes.__version__} quantises incorrectly on {device} "
                          f"(round-trip error {error:.3f}); pick the lora method")


def _require_4bit(model: PreTrainedModel, what: str) -> None:
    if not getattr(model, "is_loaded_in_4bit", False):
        raise MethodError(f"QLoRA {what} a base loaded in 4 bits; load it with the method's load_kwargs "
                          "(a BitsAndBytesConfig)")


def build(model: PreTrainedModel, p: QLoraParams) -> torch.nn.Module:
    _require_4bit(model, "trains on")
    # Gradient checkpointing is the training config's choice, not this method's.
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    config = lora_config(model, rank=p.rank, alpha=p.alpha, dropout=p.dropout, targets=p.targets,
                         rslora=p.rslora, dora=p.dora, init=p.init)
    return apply_lora(model, config)


def load(base: PreTrainedModel, adapter: Path) -> torch.nn.Module:
    _require_4bit(base, "adapters apply to")
    return load_peft(base, adapter)


METHOD = Method(
    name="qlora", summary="LoRA on a 4-bit NF4 base (bitsandbytes): the smallest memory footprint",
    params_cls=QLoraParams, build=build, save=save, load=load, default_lr=1e-3,
    load_kwargs=load_kwargs, check=check, tags=("peft", "quantized"),
)
