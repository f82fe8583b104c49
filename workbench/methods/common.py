"""Helpers shared by the methods: target-module presets, transformer-block lookup, save/load of PEFT
adapters and full models. Nothing here decides how a method trains."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch
from peft import PeftModel
from peft.tuners.tuners_utils import BaseTunerLayer
from transformers import PreTrainedModel

from .base import MethodError

ATTENTION = "attention"
ALL_LINEAR = "all-linear"
_ATTENTION_NAMES = ("q_proj", "v_proj")


def _linear_leaf_names(model: torch.nn.Module) -> list[str]:
    return sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})


def target_modules(model: torch.nn.Module, spec: str | list[str]) -> list[str] | str:
    """Resolve a preset ("attention" = q/v projections, "all-linear") or a list of module names."""
    if isinstance(spec, list):
        names = spec
    elif spec == ALL_LINEAR:
        return "all-linear"
    elif spec == ATTENTION:
        names = list(_ATTENTION_NAMES)
    else:
        names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise MethodError("no target modules given: use 'attention', 'all-linear' or names like q_proj,v_proj")
    present = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    missing = [n for n in names if n not in present]
    if missing:
        raise MethodError(f"target modules {missing} are not in this model; its linear layers are: "
                          f"{', '.join(_linear_leaf_names(model))} (or use the presets 'attention' or 'all-linear')")
    return names


def target_linear_names(model: PreTrainedModel, spec: str | list[str]) -> list[str]:
    """Full names of the linear layers a target spec selects, as peft selects them.

    "all-linear" means every nn.Linear except the output head, like peft's preset."""
    targets = target_modules(model, spec)
    output = model.get_output_embeddings()
    names = []
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or module is output:
            continue
        if targets == ALL_LINEAR or name.rsplit(".", 1)[-1] in targets:
            names.append(name)
    if not names:
        raise MethodError(f"the targets {spec!r} select no linear layer in this model; its linear layers are: "
                          f"{', '.join(_linear_leaf_names(model))}")
    return names


def find_blocks(model: torch.nn.Module) -> tuple[str, torch.nn.ModuleList]:
    """The list of transformer blocks: the ModuleList with config.num_hidden_layers entries."""
    count = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == count:
            return name, module
    raise MethodError(f"cannot find the transformer blocks of {type(model).__name__} (no list of "
                      f"{count} layers); this method supports decoder models like Llama, Qwen, Gemma and Mistral")


def save_peft(model: torch.nn.Module, out: Path) -> None:
    model.save_pretrained(out)


def load_peft(base: PreTrainedModel, adapter: Path) -> torch.nn.Module:
    """Plain peft loading; the adapter weights are created empty and filled from the file, which skips
    initialisations that would be overwritten anyway (mica computes an SVD of every target weight)."""
    return PeftModel.from_pretrained(base, adapter, low_cpu_mem_usage=True)


def save_full(model: torch.nn.Module, out: Path) -> None:
    model.save_pretrained(out, safe_serialization=True)


def load_full(base: PreTrainedModel, adapter: Path) -> torch.nn.Module:
    """Full fine-tunes are whole models: load the saved weights into the base's architecture."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(adapter, dtype=base.dtype)
    model.eval()
    return model.to(base.device)


@contextlib.contextmanager
def adapters_disabled(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Inside, a tuned peft model computes what its base computes: every adapter is off, including the LoRA
    layers inside a joint prefix+LoRA model (whose own ``disable_adapter()`` removes only the prefix).
    Which parameters require gradients is restored on exit. Whole models (full, freeze) have no adapter
    to switch off: the base must be loaded on its own, so they are refused."""
    if not isinstance(model, PeftModel):
        raise MethodError(f"{type(model).__name__} has no adapter to switch off (a fully or partially fine-tuned "
                          "model); load the base model separately to compare with it")
    requires_grad = {name: p.requires_grad for name, p in model.named_parameters()}
    with model.disable_adapter():
        layers = [m for m in model.modules() if isinstance(m, BaseTunerLayer) and not m.disable_adapters]
        for layer in layers:
            layer.enable_adapters(False)
        try:
            yield model
        finally:
            for layer in layers:
                layer.enable_adapters(True)
    for name, p in model.named_parameters():
        p.requires_grad_(requires_grad[name])


def merge_lora_for_answers(model: torch.nn.Module) -> bool:
    """Fold a LoRA (rsLoRA, DoRA, PiSSA-converted) adapter into its base weights for generation, where that is
    exact up to float rounding: one matrix product per layer instead of three, about 1.2x faster greedy
    answers on a CPU with the same answers (bench/eval_speed.py). Not for 4-bit bases (the merge would round
    to 4 bits) or prompt learning. The model keeps the merge: callers use it for inference and then drop it.
    Returns whether it merged."""
    from peft import PeftType

    if not isinstance(model, PeftModel) or getattr(model.get_base_model(), "is_loaded_in_4bit", False):
        return False
    configs = list(getattr(model, "peft_config", {}).values())
    if not configs or any(c.peft_type != PeftType.LORA for c in configs):
        return False
    model.merge_adapter()
    return True
