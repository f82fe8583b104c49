"""Partial fine-tuning: only the last N transformer blocks learn (optionally the final norm and the output
head too); the embeddings and the lower blocks stay frozen. The result is saved as a whole model."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

from ..config import check_ranges, param
from .base import Method, MethodError
from .common import find_blocks, load_full, save_full

_FINAL_NORMS = ("norm", "final_layernorm", "ln_f", "final_norm")


@dataclass
class FreezeParams:
    train_last: int = param(0, "transformer blocks that learn, counted from the top; 0 = the upper half "
                            "(the lower half stays frozen)", lo=0, hi=1000)
    train_norm: bool = param(True, "also train the final normalisation layer")
    train_head: bool = param(False, "also train the output head (when it shares weights with the input "
                             "embeddings, as in SmolLM2, those learn too and the trained share grows a lot)")

    def __post_init__(self) -> None:
        check_ranges(self)


def final_norm(model: PreTrainedModel, blocks_name: str) -> torch.nn.Module:
    """The normalisation applied after the last block: a sibling of the block list."""
    parent = model.get_submodule(blocks_name.rsplit(".", 1)[0]) if "." in blocks_name else model
    for attr in _FINAL_NORMS:
        module = getattr(parent, attr, None)
        if isinstance(module, torch.nn.Module):
            return module
    raise MethodError(f"cannot find the final normalisation layer of {type(model).__name__}; "
                      "set train_norm to false")


def build(model: PreTrainedModel, p: FreezeParams) -> torch.nn.Module:
    blocks_name, blocks = find_blocks(model)
    count = p.train_last or max(1, len(blocks) // 2)
    if count > len(blocks):
        raise MethodError(f"train_last={count} but the model has only {len(blocks)} transformer blocks; "
                          f"use 1..{len(blocks)} (0 = the upper half)")
    model.requires_grad_(False)
    for block in list(blocks)[len(blocks) - count:]:
        block.requires_grad_(True)
    if p.train_norm:
        final_norm(model, blocks_name).requires_grad_(True)
    if p.train_head:
        head = model.get_output_embeddings()
        if head is None:
            raise MethodError(f"{type(model).__name__} has no output head to train; set train_head to false")
        head.requires_grad_(True)
    return model


METHOD = Method(
    name="freeze", summary="only the last N transformer blocks learn (the papers froze the first 16 of 32); "
    "saves a whole model", params_cls=FreezeParams, build=build, save=save_full, load=load_full,
    default_lr=5e-5, tags=("full-model",),
)
