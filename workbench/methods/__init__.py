"""The explicit registry of fine-tuning methods. Adding a method: one file and one line here.
A parametrized test trains every registered method on the tiny model."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

from ..config import ConfigError, TrainConfig, from_dict, to_dict
from . import cora, freeze, full, joint, lora, prefix, qlora
from .base import Method, MethodError, Phase

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        full.METHOD,
        freeze.METHOD,
        lora.METHOD,
        qlora.METHOD,
        prefix.METHOD,
        joint.PREFIX_THEN_LORA,
        joint.LORA_THEN_PREFIX,
        cora.CORA_FB,
        cora.CORA_TB,
        cora.CORA_ZEROS,
        cora.CORA_ONES,
        cora.CORA_RANDOM,
    )
}

# peft asks transformers a deprecated question on every wrap; the warning is theirs, not the user's to act on.
warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*", category=FutureWarning)

__all__ = ["METHODS", "Method", "MethodError", "Phase", "get", "learning_rate", "make_params", "resolved"]


def get(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise MethodError(f"unknown method {name!r}; available: {', '.join(METHODS)}") from None


def make_params(method: Method, values: dict[str, Any] | None) -> Any:
    """The method's params dataclass from a dict; errors name the method and the field."""
    try:
        return from_dict(method.params_cls, values or {})
    except ConfigError as exc:
        raise MethodError(f"{method.name}: {exc}") from None


def learning_rate(cfg: TrainConfig) -> float:
    """The peak learning rate a run trains with: its own, else its method's default. Decided here alone: the
    launcher writes it into config.json, and training uses it for a run written without one (an older run)."""
    return cfg.learning_rate or get(cfg.method).default_lr


def resolved(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with every value a run uses written out: the method's parameters with their defaults and the
    learning rate, so that config.json alone says how the run trained."""
    params = to_dict(make_params(get(cfg.method), cfg.method_params))
    return dataclasses.replace(cfg, method_params=params, learning_rate=learning_rate(cfg))


# Methods whose trained weights stay fp32 when the base model is loaded in bf16 (PEFT keeps LoRA's A and B in
# fp32): "auto" may pick bf16 for them on a CPU with bf16 instructions. The others train weights stored in the
# model's own dtype (full, freeze), or concatenate fp32 virtual tokens with the model's states (prefix, joint),
# or are quantized (qlora), and stay fp32 there.
AUTO_BF16_ON_CPU = ("lora",)


def precision_for(method: str, precision: str, device: str) -> str:
    """The precision a run of ``method`` loads its model in: ``precision`` as given, except that "auto" on a
    CPU means fp32 for the methods outside AUTO_BF16_ON_CPU."""
    if precision == "auto" and device == "cpu" and method not in AUTO_BF16_ON_CPU:
        return "fp32"
    return precision
