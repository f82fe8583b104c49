"""The explicit registry of fine-tuning methods. Adding a method: one file and one line here.
A parametrized test trains every registered method on the tiny model."""

from __future__ import annotations

import warnings
from typing import Any

from ..config import ConfigError, from_dict
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

__all__ = ["METHODS", "Method", "MethodError", "Phase", "get", "make_params"]


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
