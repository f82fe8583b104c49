"""Joint prefix tuning and LoRA on one model: ``prefix+lora`` and ``lora+prefix``.

peft cannot mix the two (add_adapter and PeftModel mixing refuse; nesting get_peft_model freezes the LoRA
weights), so LoRA layers are injected into the base with ``inject_adapter_in_model``, the result is wrapped
in a prefix-tuning PeftModel, and the LoRA weights are made trainable again. Modes:

- sequential: two phases; ``prefix+lora`` trains the prefix first, then LoRA on the prefix-adapted model
  (``lora+prefix`` the reverse: while LoRA learns first the prefix is present, frozen at its start, zero
  by default so it barely changes the model);
- simultaneous: both learn together.

Either way the prefix learns at ``prefix_lr_scale`` times the run's learning rate (separate optimizer groups).
The result is saved as two plain peft adapters, ``lora/`` and ``prefix/``, each loadable on its own.
This module builds, saves and loads; it does not train.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel, PeftModelForCausalLM, get_peft_model_state_dict, inject_adapter_in_model
from safetensors.torch import save_file
from transformers import PreTrainedModel

from ..config import check_ranges, param
from ..rundir import atomic_write_json
from .base import Method, MethodError, Phase
from .common import load_peft
from .lora import lora_config
from .prefix import prefix_config

LORA_DIR = "lora"
PREFIX_DIR = "prefix"
MODES = ("sequential", "simultaneous")


@dataclass
class JointParams:
    mode: str = param("sequential", "sequential: one part learns, then the other; simultaneous: both at once",
                      choices=MODES)
    first_share: float = param(0.5, "sequential mode: share of the training steps given to the first part",
                               lo=0.05, hi=0.95, step=0.05)
    prefix_lr_scale: float = param(10.0, "the prefix learns at the run's learning rate times this (prefix "
                                   "tuning wants ~1e-2 where LoRA wants ~1e-3)", lo=0.01, hi=1000.0)
    virtual_tokens: int = param(16, "virtual tokens in the prefix of every attention layer", lo=1, hi=512)
    projection: bool = param(False, "learn the prefix through a two-layer MLP")
    # SmolLM2, 8 QA pairs: answer loss 4.49 for the base, 9.52 with a random 16-token prefix, 4.90 with a zero one.
    zero_init: bool = param(True, "start the prefix keys and values at zero: the model starts close to the base "
                            "(a random prefix roughly doubles the starting loss, which LoRA would learn around)")
    phase_schedule: str = param("restart", "sequential mode: 'restart' gives each part its own warm-up and "
                                "decay, as two trainings in a row; 'shared' runs one schedule across both, "
                                "so the second part learns at the decayed rate", choices=("restart", "shared"))
    rank: int = param(16, "LoRA rank r", lo=1, hi=1024)
    alpha: float = param(32.0, "LoRA scaling numerator: the update is multiplied by alpha/r", lo=0.01, hi=4096)
    dropout: float = param(0.05, "dropout on the LoRA input", lo=0.0, hi=0.9, step=0.01)
    targets: str = param("all-linear", "layers LoRA adapts: 'attention' (q,v), 'all-linear' or names like "
                         "q_proj,v_proj")
    rslora: bool = param(False, "rank-stabilised LoRA scaling alpha/sqrt(r)")

    def __post_init__(self) -> None:
        check_ranges(self)


def is_prefix(name: str) -> bool:
    return "prompt_encoder." in name


def is_lora(name: str) -> bool:
    return ".lora_" in name


def build(model: PreTrainedModel, p: JointParams) -> torch.nn.Module:
    lora = lora_config(model, rank=p.rank, alpha=p.alpha, dropout=p.dropout, targets=p.targets, rslora=p.rslora)
    try:
        inject_adapter_in_model(lora, model)
    except (ValueError, TypeError) as exc:
        raise MethodError(f"LoRA cannot be applied to this model: {exc}") from None
    prefix = prefix_config(model, virtual_tokens=p.virtual_tokens, projection=p.projection,
                           zero_init=p.zero_init)
    prefix.base_model_name_or_path = model.name_or_path or None
    try:
        joint = PeftModelForCausalLM(model, prefix)
    except (ValueError, TypeError, AttributeError) as exc:
        raise MethodError(f"prefix tuning cannot be applied to {type(model).__name__}: {exc}") from None
    for name, weight in joint.named_parameters():
        if is_lora(name):
            weight.requires_grad_(True)  # the prefix wrapper froze everything it did not create
    return joint


def param_groups(model: torch.nn.Module, p: JointParams, lr: float) -> list[dict[str, Any]]:
    """Both parts, whatever their requires_grad now: a part frozen in phase 1 must be in the optimizer."""
    named = list(model.named_parameters())
    return [{"params": [w for n, w in named if is_lora(n)], "lr": lr, "name": "lora"},
            {"params": [w for n, w in named if is_prefix(n)], "lr": lr * p.prefix_lr_scale, "name": "prefix"}]


def _phases(first: str) -> Callable[[JointParams], list[Phase]]:
    parts = {"prefix": is_prefix, "lora": is_lora}
    second = "lora" if first == "prefix" else "prefix"

    def phases(p: JointParams) -> list[Phase]:
        if p.mode == "simultaneous":
            return [Phase("prefix and lora", 1.0, lambda n: is_prefix(n) or is_lora(n))]
        return [Phase(first, p.first_share, parts[first]),
                Phase(second, 1.0 - p.first_share, parts[second], restart_schedule=p.phase_schedule == "restart")]

    return phases


def save(model: torch.nn.Module, out: Path) -> None:
    if not isinstance(model, PeftModel):
        raise MethodError(f"expected a prefix-tuning PeftModel with LoRA inside, got {type(model).__name__}")
    model.save_pretrained(out / PREFIX_DIR)
    inner = model.get_base_model()
    state = {f"base_model.model.{k}": v.detach().contiguous() for k, v in get_peft_model_state_dict(inner).items()}
    config = copy.deepcopy(inner.peft_config["default"])
    config.inference_mode = True
    config.base_model_name_or_path = config.base_model_name_or_path or inner.name_or_path or None
    (out / LORA_DIR).mkdir(parents=True, exist_ok=True)
    config.save_pretrained(out / LORA_DIR)
    save_file(state, out / LORA_DIR / "adapter_model.safetensors", metadata={"format": "pt"})
    atomic_write_json(out / "joint.json", {"parts": [LORA_DIR, PREFIX_DIR], "load": (
        "PeftModel.from_pretrained(base, 'lora'), then PeftModel.from_pretrained(that.get_base_model(), 'prefix')")})


def load(base: PreTrainedModel, adapter: Path) -> torch.nn.Module:
    """LoRA first (plain peft), then the prefix around the LoRA-adapted model."""
    for part in (LORA_DIR, PREFIX_DIR):
        if not (adapter / part / "adapter_config.json").exists():
            raise MethodError(f"{adapter} is not a joint prefix+LoRA adapter: {part}/adapter_config.json is missing")
    with_lora = load_peft(base, adapter / LORA_DIR).get_base_model()
    return load_peft(with_lora, adapter / PREFIX_DIR)


def _method(name: str, first: str, summary: str) -> Method:
    return Method(name=name, summary=summary, params_cls=JointParams, build=build, save=save, load=load,
                  default_lr=1e-3, param_groups=param_groups, phases=_phases(first), tags=("peft", "joint"))


PREFIX_THEN_LORA = _method("prefix+lora", "prefix", "prefix tuning and LoRA on one model; sequential mode "
                           "trains the prefix first, then LoRA")
LORA_THEN_PREFIX = _method("lora+prefix", "lora", "LoRA and prefix tuning on one model; sequential mode "
                           "trains LoRA first, then the prefix")
