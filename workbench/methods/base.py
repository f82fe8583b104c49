"""What a fine-tuning method is: data describing how to turn a base model into a trainable one,
how to save the result and how to load it back. No training loop here (see train.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

import torch
from transformers import PreTrainedModel

from ..errors import UserError


class MethodError(UserError, ValueError):
    """The method cannot run with these parameters or on this machine; the message says why."""


@dataclass(frozen=True)
class Phase:
    """A share of the training steps during which only the parameters ``trains(name)`` selects learn."""

    name: str
    fraction: float
    trains: Callable[[str], bool]
    # True: the learning-rate schedule (warm-up and decay) starts afresh with this phase, as if it were
    # a second training run; False: the run's one schedule carries on through it.
    restart_schedule: bool = False


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    params_cls: type
    build: Callable[[PreTrainedModel, Any], torch.nn.Module]
    save: Callable[[torch.nn.Module, Path], None]
    load: Callable[[PreTrainedModel, Path], torch.nn.Module]
    default_lr: float
    # The base must be loaded with this quantization (returns from_pretrained kwargs), e.g. 4-bit NF4.
    load_kwargs: Callable[[Any, str], dict[str, Any]] | None = None
    # Separate learning rates: returns optimizer param groups (list of {"params", "lr"}).
    param_groups: Callable[[torch.nn.Module, Any, float], list[dict[str, Any]]] | None = None
    # Sequential training: phases in order; their fractions add up to 1.
    phases: Callable[[Any], list[Phase]] | None = None
    # Refuse early (before loading anything) when this machine cannot run the method.
    check: Callable[[Any, str], None] | None = None
    tags: tuple[str, ...] = field(default=())
