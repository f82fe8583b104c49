"""Build a method on a weightless (meta-device) copy of the base model: checks the method's settings
against the real architecture and counts trainable parameters in about a second, before any run starts.
Loads no weights and trains nothing."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM

from .. import models
from . import Method


def preview(method: Method, params: object, model_spec: str,
            trust_remote_code: bool = False) -> tuple[int, int] | None:
    """(trainable, total) for ``method`` on ``model_spec``; raises MethodError for settings that cannot work.

    Returns None where the count needs real weights: quantized bases (4-bit packing happens on load) and
    methods that compute from the weights (CoRA's SVD, PiSSA) cannot run on the meta device.
    """
    if method.load_kwargs is not None:
        return None
    config = models.model_config(model_spec)
    with torch.device("meta"):
        base = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
        try:
            built = method.build(base, params)
        except (RuntimeError, NotImplementedError) as exc:
            if "meta" in str(exc):
                return None
            raise
    return models.count_params(built)
