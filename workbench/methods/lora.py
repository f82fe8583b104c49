"""LoRA: low-rank update matrices A and B beside chosen linear layers; the base stays frozen."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from peft import LoraConfig, get_peft_model
from transformers import PreTrainedModel

from ..config import check_ranges, param
from .base import Method, MethodError
from .common import load_peft, save_peft, target_modules

INITS = ("default", "gaussian", "pissa", "olora", "eva", "loftq", "orthogonal")
# Initialisations peft can apply without extra data or a second pass over the weights.
SUPPORTED_INITS = ("default", "gaussian", "pissa", "olora", "orthogonal")


@dataclass
class LoraParams:
    rank: int = param(16, "rank r of the update matrices", lo=1, hi=1024)
    alpha: float = param(32.0, "scaling numerator: the update is multiplied by alpha/r (alpha/sqrt(r) with rsLoRA)",
                         lo=0.01, hi=4096)
    dropout: float = param(0.05, "dropout on the LoRA input", lo=0.0, hi=0.9, step=0.01)
    targets: str = param("all-linear", "layers to adapt: 'attention' (q,v), 'all-linear' or names like q_proj,v_proj")
    rslora: bool = param(False, "rank-stabilised scaling alpha/sqrt(r)")
    dora: bool = param(False, "weight-decomposed LoRA (DoRA): learns magnitude and direction")
    init: str = param("default", "initialisation of A and B (pissa/olora start from the weights' SVD/QR)",
                      choices=SUPPORTED_INITS)

    def __post_init__(self) -> None:
        check_ranges(self)


def lora_config(model: PreTrainedModel, p: LoraParams) -> LoraConfig:
    init: bool | str = True if p.init == "default" else p.init
    return LoraConfig(r=p.rank, lora_alpha=p.alpha, lora_dropout=p.dropout, bias="none",
                      target_modules=target_modules(model, p.targets), use_rslora=p.rslora,
                      use_dora=p.dora, init_lora_weights=init, task_type="CAUSAL_LM")


def build(model: PreTrainedModel, p: LoraParams) -> torch.nn.Module:
    try:
        return get_peft_model(model, lora_config(model, p))
    except (ValueError, TypeError) as exc:
        raise MethodError(f"LoRA cannot be applied: {exc}") from None


METHOD = Method(
    name="lora", summary="low-rank A·B updates beside frozen linear layers (rsLoRA, DoRA, PiSSA/OLoRA init)",
    params_cls=LoraParams, build=build, save=save_peft, load=load_peft, default_lr=1e-3,
)
