"""Common-subspace extraction for CoRA: average the weight matrices of several models of one architecture,
take the SVD of each averaged matrix and keep its top-r left singular vectors as a basis (the B matrix of
CoRA's LoRA layers).

Sources, all of the same architecture: model folders or aliases, run folders (a full fine-tune, or a LoRA
adapter merged onto its base), plain LoRA adapter folders, or the base itself. The artifact is a folder with
``subspace.safetensors`` (one ``out_features x rank`` basis per module, named as in the base model) and
``subspace.json`` (sources, rank, explained variance per module and cumulative explained-variance curves).
This module does not train and does not build CoRA models (see methods/cora.py).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, PreTrainedModel

from .errors import UserError
from . import models
from .methods.base import MethodError
from .methods.common import target_linear_names
from .rundir import RunDir, atomic_write_json

FORMAT = "workbench-cora-subspace/1"
BASES_FILE = "subspace.safetensors"
META_FILE = "subspace.json"


class CoraError(UserError, ValueError):
    """The subspace cannot be extracted or used; the message says why and what to do."""


@dataclass(frozen=True)
class Source:
    """One model whose weights enter the average: ``model`` is loaded, then ``adapter`` (LoRA) merged in."""

    spec: str
    kind: str  # "model", "full-run", "lora-run" or "lora-adapter"
    model: str
    adapter: str | None = None


@dataclass
class Subspace:
    bases: dict[str, torch.Tensor]  # module name -> (out_features, rank), orthonormal columns
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return int(self.meta["rank"])

    def basis(self, module: str, rank: int) -> torch.Tensor:
        """The first ``rank`` basis vectors of a module (the strongest directions first)."""
        if module not in self.bases:
            raise CoraError(f"the subspace has no basis for {module}; it covers {len(self.bases)} modules "
                            f"({self.meta.get('targets')}) of {self.meta.get('architecture')}")
        if rank > self.bases[module].shape[1]:
            raise CoraError(f"the subspace has rank {self.bases[module].shape[1]} for {module} but rank {rank} "
                            "was asked for; use a smaller rank or extract a larger subspace")
        return self.bases[module][:, :rank]


# sources -----------------------------------------------------------------------------------------

def _adapter_base(adapter: Path, base: str | None) -> str:
    config = json.loads((adapter / "adapter_config.json").read_text())
    if config.get("peft_type") != "LORA":
        raise CoraError(f"{adapter} is a {config.get('peft_type')} adapter, which changes no weight matrix; "
                        "only LoRA-type adapters (lora, qlora, cora, the LoRA part of a joint run) can be sources")
    chosen = base or config.get("base_model_name_or_path")
    if not chosen:
        raise CoraError(f"{adapter} does not name its base model; pass the base explicitly")
    return chosen


def _run_source(spec: str, path: Path, base: str | None) -> Source:
    run = RunDir(path)
    model = base or run.train_config().get("model") or models.DEFAULT_MODEL
    saved = run.saved_model()
    if saved is None:
        raise CoraError(f"run {path} has no finished model in adapter/ (train it to the end first)")
    if saved.whole:
        return Source(spec, "full-run", str(saved.path))
    # a LoRA-type part where there is one; else the adapter itself, which _adapter_base refuses with its type
    folder = saved.lora_folder() or saved.adapters[0]
    return Source(spec, "lora-run", _adapter_base(folder, model), str(folder))


def describe_source(spec: str, base: str | None = None) -> Source:
    """Classify a source spec; ``base`` is the model LoRA adapters are merged onto (default: their own)."""
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "adapter").is_dir() and (path / "config.json").exists():
        return _run_source(spec, path, base)
    if path.is_dir() and (path / "adapter_config.json").exists():
        return Source(spec, "lora-adapter", _adapter_base(path, base), str(path))
    try:
        return Source(spec, "model", models.resolve(spec))
    except models.ModelError as exc:
        raise CoraError(f"source {spec!r}: {exc}") from None


def load_source(source: Source) -> PreTrainedModel:
    """The source as one fp32 model on the CPU, a LoRA adapter merged into its weights."""
    from peft import PeftModel

    try:
        model = AutoModelForCausalLM.from_pretrained(models.resolve(source.model), dtype=torch.float32)
    except (OSError, ValueError, models.ModelError) as exc:
        raise CoraError(f"cannot load {source.model} for source {source.spec!r}: {exc}") from None
    if source.adapter:
        model = PeftModel.from_pretrained(model, source.adapter).merge_and_unload()
    return model.eval()


# the subspace ------------------------------------------------------------------------------------

def explained_curve(singular_values: torch.Tensor) -> torch.Tensor:
    """Share of the squared Frobenius norm captured by the top-k directions, for k = 1..len."""
    energy = singular_values.double().pow(2)
    return energy.cumsum(0) / energy.sum()


def top_directions(weight: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(top-``rank`` left singular vectors as columns, all singular values) of a weight matrix."""
    u, s, _ = torch.linalg.svd(weight.float(), full_matrices=False)
    if rank > u.shape[1]:
        raise CoraError(f"rank {rank} exceeds the smallest dimension {u.shape[1]} of a {tuple(weight.shape)} "
                        "weight; use a smaller rank")
    return u[:, :rank].contiguous(), s


def _mean_curves(curves: dict[str, torch.Tensor]) -> tuple[list[float], dict[str, list[float]]]:
    """Mean curve over all modules and per module kind (q_proj, ...); shorter curves count as 1.0 past their end."""
    def mean(items: list[torch.Tensor]) -> list[float]:
        length = max(len(c) for c in items)
        padded = torch.stack([torch.cat([c, c.new_ones(length - len(c))]) for c in items])
        return [round(v, 6) for v in padded.mean(0).tolist()]

    kinds: dict[str, list[torch.Tensor]] = {}
    for name, curve in curves.items():
        kinds.setdefault(name.rsplit(".", 1)[-1], []).append(curve)
    return mean(list(curves.values())), {k: mean(v) for k, v in sorted(kinds.items())}


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the SVDs on one CPU thread: on a busy 2-core machine, two threads made a 576x576 SVD take 1.3 s
    instead of 0.07 s (threads waiting on each other); these matrices are too small to gain from threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def subspace_from_weights(weights: dict[str, torch.Tensor], rank: int, meta: dict[str, Any]) -> Subspace:
    """SVD of each (averaged) weight matrix; keeps top-``rank`` bases and the explained-variance curves."""
    bases, curves, modules = {}, {}, {}
    with one_thread():
        for name, weight in weights.items():
            basis, singular = top_directions(weight, rank)
            bases[name], curves[name] = basis.cpu(), explained_curve(singular).cpu()
            modules[name] = {"shape": list(weight.shape), "explained": round(float(curves[name][rank - 1]), 6)}
    mean_curve, kind_curves = _mean_curves(curves)
    meta = {**meta, "format": FORMAT, "rank": rank, "modules": modules, "curve": mean_curve,
            "curve_by_kind": kind_curves,
            "explained_mean": round(sum(m["explained"] for m in modules.values()) / len(modules), 6)}
    return Subspace(bases, meta)


def _architecture(model: PreTrainedModel) -> dict[str, Any]:
    c = model.config
    return {"model_type": c.model_type, "hidden_size": c.hidden_size, "num_hidden_layers": c.num_hidden_layers,
            "architecture": (c.architectures or [type(model).__name__])[0]}


def _target_names(model: PreTrainedModel, targets: str | list[str]) -> list[str]:
    try:
        return target_linear_names(model, targets)
    except MethodError as exc:
        raise CoraError(str(exc)) from None


def from_model(model: PreTrainedModel, targets: str | list[str], rank: int) -> Subspace:
    """The subspace of a single model (typically the base itself), without averaging."""
    names = _target_names(model, targets)
    weights = {n: model.get_submodule(n).weight.detach().float() for n in names}
    meta = {"sources": [{"spec": model.name_or_path or "in-memory model", "kind": "model"}], "targets": targets,
            "architecture": _architecture(model)["architecture"], "config": _architecture(model)}
    return subspace_from_weights(weights, rank, meta)


def _accumulate(total: dict[str, torch.Tensor] | None, model: PreTrainedModel, names: list[str],
                spec: str) -> dict[str, torch.Tensor]:
    modules = dict(model.named_modules())
    if total is None:
        return {n: modules[n].weight.detach().float().clone() for n in names}
    for name in names:
        module = modules.get(name)
        if module is None or tuple(module.weight.shape) != tuple(total[name].shape):
            found = "missing" if module is None else tuple(module.weight.shape)
            raise CoraError(f"source {spec!r} does not match the first source at {name} (expected "
                            f"{tuple(total[name].shape)}, found {found}); all sources must share one architecture")
        total[name] += module.weight.detach().float()
    return total


def extract(sources: list[str], *, rank: int, targets: str | list[str] = "all-linear", base: str | None = None,
            progress: Callable[[str], None] | None = None) -> Subspace:
    """Average the target weights of ``sources`` and keep the top-``rank`` left singular vectors of each."""
    if not sources:
        raise CoraError("no source models given; name at least one model, run or adapter")
    if rank < 1:
        raise CoraError(f"rank must be at least 1, got {rank}")
    described = [describe_source(s, base) for s in sources]
    total: dict[str, torch.Tensor] | None = None
    names: list[str] = []
    arch: dict[str, Any] = {}
    for i, source in enumerate(described):
        if progress:
            progress(f"source {i + 1}/{len(described)}: {source.spec} ({source.kind})")
        model = load_source(source)
        if total is None:
            names, arch = _target_names(model, targets), _architecture(model)
        elif _architecture(model) != arch:
            raise CoraError(f"source {source.spec!r} is a {_architecture(model)} model but the first source is "
                            f"a {arch} model; all sources must share one architecture")
        total = _accumulate(total, model, names, source.spec)
        del model
    assert total is not None
    mean = {n: w / len(described) for n, w in total.items()}
    if progress:
        progress(f"SVD of {len(mean)} averaged matrices")
    meta = {"sources": [source.__dict__ for source in described], "targets": targets, "base": base,
            "architecture": arch["architecture"], "config": arch,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    return subspace_from_weights(mean, rank, meta)


# the artifact ------------------------------------------------------------------------------------

def save(subspace: Subspace, out: Path) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{BASES_FILE}.tmp"
    save_file({k: v.contiguous() for k, v in subspace.bases.items()}, tmp, metadata={"format": FORMAT})
    tmp.replace(out / BASES_FILE)
    atomic_write_json(out / META_FILE, subspace.meta)
    return out


def load(path: str | Path) -> Subspace:
    path = Path(path).expanduser()
    if not (path / BASES_FILE).exists() or not (path / META_FILE).exists():
        raise CoraError(f"{path} is not a CoRA subspace folder (it needs {BASES_FILE} and {META_FILE}); "
                        "make one with `python -m workbench cora`")
    meta = json.loads((path / META_FILE).read_text())
    if meta.get("format") != FORMAT:
        raise CoraError(f"{path / META_FILE} has format {meta.get('format')!r}; this version reads {FORMAT!r}")
    return Subspace(load_file(path / BASES_FILE), meta)


def build_artifact(sources: list[str], out: Path, *, rank: int, targets: str | list[str] = "all-linear",
                   base: str | None = None, progress: Callable[[str], None] | None = None) -> Path:
    """Extract and save in one call (what the CLI and UI use)."""
    return save(extract(sources, rank=rank, targets=targets, base=base, progress=progress), out)


def run_job(run: RunDir) -> dict[str, Any]:
    """A worker job (kind "cora"): build the artifact described by config.json's "cora" part, so that the SVD
    and the model loads happen outside the process that asked for them."""
    cfg = run.read_config().get("cora") or {}
    if not cfg.get("sources") or not cfg.get("out"):
        raise CoraError("a cora job needs cora.sources (run folders or models) and cora.out (the artifact folder)")
    out = build_artifact(list(cfg["sources"]), Path(cfg["out"]), rank=int(cfg.get("rank", 16)),
                         targets=cfg.get("targets") or "all-linear", base=cfg.get("base") or None,
                         progress=lambda msg: run.write_status(message=msg))
    return {"out": str(out)}
