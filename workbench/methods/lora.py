"""LoRA: low-rank update matrices A and B beside chosen linear layers; the base stays frozen.

PiSSA and OLoRA start from a decomposition of the base weights and rewrite them (W becomes W - s·B0·A0).
Their adapters are saved converted to a plain LoRA of rank 2r that applies to the untouched base, so the
saved folder loads onto a fresh base with plain peft. This module builds and saves adapters; it does not train.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model, get_peft_model_state_dict
from safetensors.torch import save_file
from transformers import PreTrainedModel

from ..config import ConfigError, check_ranges, param
from .base import Method, MethodError
from .common import load_peft, save_peft, target_modules

# Initialisations peft applies without data or a pass over the training set, each checked on the tiny model.
# eva, corda and lora_ga need the training data; loftq needs its own quantisation pass: not offered.
INITS = ("default", "gaussian", "pissa", "olora", "orthogonal", "mica")
MUTATING_INITS = ("pissa", "olora")
_INITIAL_STATE = "_workbench_initial_lora"


@dataclass
class LoraParams:
    """LoRA's settings; QLoRA's extend them (the same six adapter settings, its own init choices)."""

    rank: int = param(16, "rank r of the update matrices", lo=1, hi=1024)
    alpha: float = param(32.0, "scaling numerator: the update is multiplied by alpha/r (alpha/sqrt(r) with rsLoRA)",
                         lo=0.01, hi=4096)
    dropout: float = param(0.05, "dropout on the LoRA input", lo=0.0, hi=0.9, step=0.01)
    targets: str = param("all-linear", "layers to adapt: 'attention' (q,v), 'all-linear' or names like q_proj,v_proj")
    rslora: bool = param(False, "rank-stabilised scaling alpha/sqrt(r)")
    dora: bool = param(False, "weight-decomposed LoRA (DoRA): learns magnitude and direction")
    init: str = param("default", "initialisation of A and B: default (B=0), gaussian, pissa/olora (start from the "
                      "weights' SVD/QR), orthogonal (even rank), mica (B frozen on the weakest singular directions)",
                      choices=INITS)

    def __post_init__(self) -> None:
        check_ranges(self)
        check_init(self.init, self.rank, self.dora)


def check_init(init: str, rank: int, dora: bool) -> None:
    if init == "orthogonal" and rank % 2:
        raise ConfigError(f"init orthogonal needs an even rank, got {rank}")
    if dora and init in MUTATING_INITS:
        raise ConfigError(f"init {init} rewrites the base weights, which DoRA's magnitude vector depends on; "
                          "use DoRA with init default or gaussian")
    if dora and init == "mica":
        raise ConfigError("init mica freezes B, which peft cannot combine with DoRA; turn one of them off")


def lora_config(model: torch.nn.Module, *, rank: int, alpha: float, dropout: float, targets: str | list[str],
                rslora: bool = False, dora: bool = False, init: str | bool = "default") -> LoraConfig:
    weights: bool | str = True if init == "default" else init
    return LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, bias="none",
                      target_modules=target_modules(model, targets), use_rslora=rslora,
                      use_dora=dora, init_lora_weights=weights, task_type="CAUSAL_LM")


def apply_lora(model: PreTrainedModel, config: LoraConfig, empty: bool = False) -> PeftModel:
    """get_peft_model with peft's errors turned into MethodError; remembers PiSSA/OLoRA's starting point.

    ``empty`` creates the adapter weights on the meta device, for callers that set every one of them."""
    try:
        peft_model = get_peft_model(model, config, low_cpu_mem_usage=empty)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise MethodError(f"LoRA cannot be applied to this model: {exc}") from None
    if str(config.init_lora_weights) in MUTATING_INITS:
        initial = {k: v.detach().clone() for k, v in get_peft_model_state_dict(peft_model).items()}
        setattr(peft_model, _INITIAL_STATE, initial)
    return peft_model


def build(model: PreTrainedModel, p: LoraParams) -> torch.nn.Module:
    config = lora_config(model, rank=p.rank, alpha=p.alpha, dropout=p.dropout, targets=p.targets,
                         rslora=p.rslora, dora=p.dora, init=p.init)
    return apply_lora(model, config)


def save_converted(model: PeftModel, out: Path, initial: dict[str, torch.Tensor]) -> None:
    """Save B·A - B0·A0 as a plain rank-2r LoRA: [B | -B0] · [A ; A0], scaled as before."""
    state = get_peft_model_state_dict(model)
    converted = {}
    for key, value in state.items():
        if ".lora_A." in key:
            converted[key] = torch.cat([value, initial[key]], dim=0).contiguous()
        elif ".lora_B." in key:
            converted[key] = torch.cat([value, -initial[key]], dim=1).contiguous()
        else:
            raise MethodError(f"cannot convert the adapter weight {key} to plain LoRA")
    config = copy.deepcopy(model.peft_config["default"])
    config.init_lora_weights = True
    config.lora_alpha *= 2 ** 0.5 if config.use_rslora else 2
    config.r *= 2
    config.inference_mode = True
    if config.base_model_name_or_path is None:
        config.base_model_name_or_path = model.get_base_model().name_or_path
    out.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(out)
    save_file(converted, out / "adapter_model.safetensors", metadata={"format": "pt"})


def save(model: torch.nn.Module, out: Path) -> None:
    initial = getattr(model, _INITIAL_STATE, None)
    if initial is None:
        save_peft(model, out)
    else:
        save_converted(model, out, initial)


METHOD = Method(
    name="lora", summary="low-rank A·B updates beside frozen linear layers (rsLoRA, DoRA, PiSSA/OLoRA init)",
    params_cls=LoraParams, build=build, save=save, load=load_peft, default_lr=1e-3, tags=("peft",),
)
