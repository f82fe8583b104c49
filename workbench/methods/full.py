"""Full fine-tuning: every weight of the base model learns."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

from .base import Method
from .common import load_full, save_full


@dataclass
class FullParams:
    """Full fine-tuning has no parameters of its own."""


def build(model: PreTrainedModel, params: FullParams) -> torch.nn.Module:
    for p in model.parameters():
        p.requires_grad = True
    return model


METHOD = Method(
    name="full", summary="every weight trains; the largest memory footprint and checkpoint",
    params_cls=FullParams, build=build, save=save_full, load=load_full, default_lr=2e-5, tags=("full-model",),
)
