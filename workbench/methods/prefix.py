"""Prefix tuning: trainable key/value vectors ("virtual tokens") put in front of every attention layer;
the base model stays frozen. Learns style and format well, facts poorly (MEASURED on SmolLM2)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from peft import PrefixTuningConfig, get_peft_model
from transformers import PreTrainedModel

from ..config import check_ranges, param
from .base import Method, MethodError
from .common import load_peft, save_peft


@dataclass
class PrefixParams:
    virtual_tokens: int = param(16, "virtual tokens in the prefix of every attention layer", lo=1, hi=512)
    projection: bool = param(False, "learn the prefix through a two-layer MLP (more parameters while training; "
                             "the saved adapter keeps only the resulting prefix)")
    projection_size: int = param(0, "hidden size of that MLP; 0 = the model's hidden size", lo=0, hi=65536)
    zero_init: bool = param(False, "start the prefix keys and values at zero instead of at random")

    def __post_init__(self) -> None:
        check_ranges(self)


def prefix_config(model: PreTrainedModel, *, virtual_tokens: int, projection: bool = False,
                  projection_size: int = 0, zero_init: bool = False) -> PrefixTuningConfig:
    return PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=virtual_tokens,
                              prefix_projection=projection,
                              encoder_hidden_size=projection_size or model.config.hidden_size,
                              init_weights="zero" if zero_init else None)


def build(model: PreTrainedModel, p: PrefixParams) -> torch.nn.Module:
    config = prefix_config(model, virtual_tokens=p.virtual_tokens, projection=p.projection,
                           projection_size=p.projection_size, zero_init=p.zero_init)
    try:
        return get_peft_model(model, config)
    except (ValueError, TypeError, AttributeError) as exc:
        raise MethodError(f"prefix tuning cannot be applied to {type(model).__name__}: {exc}") from None


METHOD = Method(
    name="prefix", summary="trainable virtual-token keys/values before every attention layer; learns style "
    "more than facts", params_cls=PrefixParams, build=build, save=save_peft, load=load_peft, default_lr=1e-2,
    tags=("peft",),
)
