"""CoRA: LoRA whose B matrix comes from a common subspace (see workbench/cora.py), and its ablations.

- ``cora-fb``: B frozen at the subspace basis, only A learns (about half of LoRA's trainable parameters);
- ``cora-tb``: B starts at the basis and learns too;
- ``cora-zeros`` / ``cora-ones`` / ``cora-random``: B frozen at zeros, ones, or random orthonormal columns.

A starts at zero everywhere, so every variant starts equal to the base model; A still gets a gradient
because B is not zero (except in ``cora-zeros``, a control that cannot learn: B·A stays 0). Frozen-B
variants use peft's "mica" initialisation, which marks B as frozen in the saved adapter_config.json;
the basis is then copied into B. Without a subspace folder the basis comes from the base model's own
weights (the top left singular vectors of each target matrix); on a weightless (meta-device) copy, used
to preview parameter counts, no basis is computed. This module builds models; it does not extract
subspaces or train.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from peft.tuners.lora import LoraLayer
from transformers import PreTrainedModel

from .. import cora
from ..config import check_ranges, param
from .base import Method, MethodError
from .common import load_peft, target_linear_names
from .lora import apply_lora, lora_config, save

ADAPTER = "default"
_PEFT_PREFIX = "base_model.model."
# Returns the B matrix (out_features x rank) for a module name of the base model and its LoRA layer.
BasisFn = Callable[[str, LoraLayer], torch.Tensor]


@dataclass
class CoraParams:
    rank: int = param(16, "rank r: columns of B taken from the subspace", lo=1, hi=1024)
    alpha: float = param(32.0, "scaling numerator: the update is multiplied by alpha/r", lo=0.01, hi=4096)
    dropout: float = param(0.05, "dropout on the LoRA input", lo=0.0, hi=0.9, step=0.01)
    targets: str = param("all-linear", "layers to adapt: 'attention' (q,v), 'all-linear' or names like q_proj,v_proj")
    subspace: str = param("", "subspace folder made by `python -m workbench cora` (subspace.safetensors + "
                          "subspace.json); empty = the base model's own top singular directions")

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass
class AblationParams:
    rank: int = param(16, "rank r of the update matrices", lo=1, hi=1024)
    alpha: float = param(32.0, "scaling numerator: the update is multiplied by alpha/r", lo=0.01, hi=4096)
    dropout: float = param(0.05, "dropout on the LoRA input", lo=0.0, hi=0.9, step=0.01)
    targets: str = param("all-linear", "layers to adapt: 'attention' (q,v), 'all-linear' or names like q_proj,v_proj")
    seed: int = param(-1, "seed of the random B (cora-random only); -1 follows the run's seed, so a study's "
                      "seeds draw different random B matrices", lo=-1, hi=2**31 - 1)

    def __post_init__(self) -> None:
        check_ranges(self)


def lora_layers(model: torch.nn.Module) -> list[tuple[str, LoraLayer]]:
    """(base-model module name, LoRA layer) for every adapted layer."""
    return [(name.removeprefix(_PEFT_PREFIX), module) for name, module in model.named_modules()
            if isinstance(module, LoraLayer) and ADAPTER in module.lora_A]


def _check_rank(model: PreTrainedModel, p: CoraParams | AblationParams) -> None:
    for name in target_linear_names(model, p.targets):
        weight = model.get_submodule(name).weight
        if p.rank > min(weight.shape):
            raise MethodError(f"rank {p.rank} exceeds the smallest dimension of {name} {tuple(weight.shape)}; "
                              f"use rank <= {min(weight.shape)} or fewer targets")


def build_with_basis(model: PreTrainedModel, p: CoraParams | AblationParams, basis: BasisFn,
                     frozen_b: bool) -> torch.nn.Module:
    """LoRA with A = 0 and B = basis(module); B frozen (peft's mica marking) or trainable.

    The adapter is created empty (on the meta device, which also skips mica's own SVD of every weight)
    and its A and B are then set here."""
    config = lora_config(model, rank=p.rank, alpha=p.alpha, dropout=p.dropout, targets=p.targets,
                         init="mica" if frozen_b else "default")
    preview = _on_meta(model)
    peft_model = apply_lora(model, config, empty=True)
    for name, layer in lora_layers(peft_model):
        weight = layer.get_base_layer().weight
        b = basis(name, layer).to(device=weight.device, dtype=weight.dtype)
        a = torch.zeros(p.rank, layer.in_features, device=weight.device, dtype=weight.dtype)
        layer.lora_B[ADAPTER].weight = torch.nn.Parameter(b.contiguous(), requires_grad=not frozen_b)
        layer.lora_A[ADAPTER].weight = torch.nn.Parameter(a, requires_grad=True)
    empty = [n for n, w in peft_model.named_parameters() if ".lora_" in n and w.is_meta]
    if empty and not preview:
        raise MethodError(f"CoRA left {len(empty)} adapter weights unset (first: {empty[0]}); this model's "
                          "layers are not plain linear layers")
    return peft_model


def _on_meta(model: torch.nn.Module) -> bool:
    """A weightless copy (used to preview parameter counts): there are no values to decompose."""
    return any(w.is_meta for w in model.parameters())


def _shape_only(rank: int) -> BasisFn:
    return lambda name, layer: torch.empty(layer.out_features, rank, device="meta")


def _subspace(model: PreTrainedModel, p: CoraParams) -> cora.Subspace:
    try:
        return cora.load(p.subspace) if p.subspace else cora.from_model(model, p.targets, p.rank)
    except cora.CoraError as exc:
        raise MethodError(str(exc)) from None


def _subspace_basis(subspace: cora.Subspace, rank: int) -> BasisFn:
    def basis(name: str, layer: LoraLayer) -> torch.Tensor:
        try:
            b = subspace.basis(name, rank)
        except cora.CoraError as exc:
            raise MethodError(f"{exc} (is the subspace from this base model?)") from None
        if b.shape[0] != layer.out_features:
            raise MethodError(f"the subspace basis of {name} has {b.shape[0]} rows but the layer has "
                              f"{layer.out_features} outputs: the subspace was extracted from another model")
        return b

    return basis


def _cora_build(frozen_b: bool) -> Callable[[PreTrainedModel, CoraParams], torch.nn.Module]:
    def build(model: PreTrainedModel, p: CoraParams) -> torch.nn.Module:
        _check_rank(model, p)
        if _on_meta(model) and not p.subspace:
            return build_with_basis(model, p, _shape_only(p.rank), frozen_b)
        return build_with_basis(model, p, _subspace_basis(_subspace(model, p), p.rank), frozen_b)

    return build


def zeros_basis(p: AblationParams) -> BasisFn:
    return lambda name, layer: torch.zeros(layer.out_features, p.rank)


def ones_basis(p: AblationParams) -> BasisFn:
    return lambda name, layer: torch.ones(layer.out_features, p.rank)


def random_basis(p: AblationParams) -> BasisFn:
    """Random orthonormal columns (like a subspace basis, but in no particular direction), seeded per run."""
    # None draws from torch's global generator, which train() seeds with the run's seed before building.
    generator = torch.Generator().manual_seed(p.seed) if p.seed >= 0 else None

    def basis(name: str, layer: LoraLayer) -> torch.Tensor:
        q, _ = torch.linalg.qr(torch.randn(layer.out_features, p.rank, generator=generator))
        return q

    return basis


def _ablation_build(make: Callable[[AblationParams], BasisFn]) -> Callable[[PreTrainedModel, AblationParams],
                                                                       torch.nn.Module]:
    def build(model: PreTrainedModel, p: AblationParams) -> torch.nn.Module:
        _check_rank(model, p)
        return build_with_basis(model, p, make(p), frozen_b=True)

    return build


def _method(name: str, summary: str, params_cls: type, build: Callable, lr: float) -> Method:
    return Method(name=name, summary=summary, params_cls=params_cls, build=build, save=save, load=load_peft,
                  default_lr=lr, tags=("peft", "cora"))


# Frozen B needs a higher rate: 5e-3 learned 5/5 facts on SmolLM2 where 1e-3 learned none (MEASURED).
CORA_FB = _method("cora-fb", "LoRA with B frozen on a common subspace; only A learns (about half of LoRA's "
                  "parameters)", CoraParams, _cora_build(frozen_b=True), 5e-3)
CORA_TB = _method("cora-tb", "LoRA with B starting on a common subspace; A and B learn",
                  CoraParams, _cora_build(frozen_b=False), 1e-3)
CORA_ZEROS = _method("cora-zeros", "ablation: B frozen at zeros (cannot learn: a control)", AblationParams,
                     _ablation_build(zeros_basis), 5e-3)
CORA_ONES = _method("cora-ones", "ablation: B frozen at ones", AblationParams, _ablation_build(ones_basis), 5e-3)
CORA_RANDOM = _method("cora-random", "ablation: B frozen at random orthonormal columns", AblationParams,
                      _ablation_build(random_basis), 5e-3)
