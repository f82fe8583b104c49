"""Load a finished (or stopped) run's tuned model: its base, loaded the way it was trained, plus its
adapter. Used by evaluation and chat; knows nothing of generation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from .. import models
from ..config import TrainConfig, train_config_of
from ..rundir import RunDir
from . import get, make_params, precision_for


class RunNotReady(ValueError):
    """The run has no saved model yet."""


@dataclass
class TunedModel:
    model: torch.nn.Module
    tokenizer: PreTrainedTokenizerBase
    config: TrainConfig
    info: models.ModelInfo
    shares_base: bool  # True when the base is reachable with disable_adapter() (PEFT adapters)


def run_config(run: RunDir) -> TrainConfig:
    return train_config_of(run.read_config())


def load_tuned(run_path: str | Path, device: str | None = None, precision: str | None = None) -> TunedModel:
    run = RunDir(Path(run_path))
    cfg = run_config(run)
    if not (run.adapter / "adapter_config.json").exists() and not any(run.adapter.glob("*/adapter_config.json")) \
            and not (run.adapter / "config.json").exists():
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
