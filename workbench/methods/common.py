"""Helpers shared by the peft-based methods: target-module presets, save/load of PEFT adapters."""

from __future__ import annotations

from pathlib import Path

import torch
from peft import PeftModel
from transformers import PreTrainedModel

from .base import MethodError

ATTENTION = "attention"
ALL_LINEAR = "all-linear"
_ATTENTION_NAMES = ("q_proj", "v_proj")


def target_modules(model: PreTrainedModel, spec: str | list[str]) -> list[str] | str:
    """Resolve a preset ("attention" = q/v projections, "all-linear") or a list of module names."""
    if isinstance(spec, list):
        names = spec
    elif spec == ALL_LINEAR:
        return "all-linear"
    elif spec == ATTENTION:
        names = list(_ATTENTION_NAMES)
    else:
        names = [s.strip() for s in spec.split(",") if s.strip()]
    present = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    missing = [n for n in names if n not in present]
    if missing:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        raise MethodError(f"target modules {missing} are not in this model; its linear layers are: "
                          f"{', '.join(linear)} (or use the presets 'attention' or 'all-linear')")
    return names


def save_peft(model: torch.nn.Module, out: Path) -> None:
    model.save_pretrained(out)


def load_peft(base: PreTrainedModel, adapter: Path) -> torch.nn.Module:
    return PeftModel.from_pretrained(base, adapter)


def save_full(model: torch.nn.Module, out: Path) -> None:
    model.save_pretrained(out, safe_serialization=True)


def load_full(base: PreTrainedModel, adapter: Path) -> torch.nn.Module:
    """Full fine-tunes are whole models: load the saved weights into the base's architecture."""
    from transformers import AutoModelForCausalLM  # noqa: PLC0415

    model = AutoModelForCausalLM.from_pretrained(adapter, dtype=base.dtype)
    return model.to(base.device)
