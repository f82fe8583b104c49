"""Load a finished (or stopped) run's tuned model: its base, loaded the way it was trained, plus its
adapter. Used by evaluation and chat; knows nothing of generation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from ..errors import UserError
from .. import models
from ..config import TrainConfig, train_config_of
from ..rundir import RunDir
from . import get, make_params, precision_for


class RunNotReady(UserError, ValueError):
    """The run has no saved model yet."""


@dataclass
class TunedModel:
    model: torch.nn.Module
    tokenizer: PreTrainedTokenizerBase
    config: TrainConfig
    info: models.ModelInfo
    shares_base: bool  # True when the base is reachable with disable_adapter() (PEFT adapters)


def run_config(run: RunDir) -> TrainConfig:
    return train_config_of(run.train_config())


def load_tuned(run_path: str | Path, device: str | None = None, precision: str | None = None) -> TunedModel:
    run = RunDir(Path(run_path))
    cfg = run_config(run)
    if run.saved_model() is None:
        raise RunNotReady(f"run {run.id} has no saved model yet (state: {run.effective_state()})")
    method = get(cfg.method)
    params = make_params(method, cfg.method_params)
    device = device or models.pick_device()
    load_kwargs: dict[str, Any] = method.load_kwargs(params, device) if method.load_kwargs else {}
    precision = precision_for(cfg.method, precision or cfg.precision, device)
    base, tok, info = models.load_model(cfg.model, precision=precision, device=device,
                                        trust_remote_code=cfg.trust_remote_code, **load_kwargs)
    model = method.load(base, run.adapter)
    model.eval()
    return TunedModel(model=model, tokenizer=tok, config=cfg, info=info,
                      shares_base=hasattr(model, "disable_adapter"))
