"""A tuned run as a model other tools load: ``merged`` (the adapter folded into the base, saved as safetensors
with the tokenizer and its chat template; plain transformers and vLLM read it), ``gguf`` (the merged model
through llama.cpp's converter, for llama.cpp and Ollama) and ``hub`` (pushed to a Hugging Face repository).

Merging is done in float32 on the CPU from the full-precision base, also for QLoRA runs (whose training base
was 4-bit: the merged model answers like the adapter on a full-precision base, which can differ slightly
from the 4-bit model). Prefix tuning cannot be merged: its virtual tokens are not weights.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from .errors import UserError
from .card import model_card
from .rundir import RunDir, atomic_write_text

TARGETS = ("merged", "gguf", "hub")
CONVERTER_ENV = "WORKBENCH_GGUF_CONVERTER"
CONVERTER_NAMES = ("convert_hf_to_gguf.py", "convert-hf-to-gguf")


class ExportError(UserError, ValueError):
    """The run cannot be exported as asked; the message says why and what to do."""


def merged_model(run: RunDir) -> tuple[Any, Any]:
    """(model with the adapter merged into its weights, tokenizer), in float32 on the CPU."""
    from . import models
    from .methods.common import load_full, load_peft

    cfg = run.train_config()
    method = str(cfg.get("method"))
    if "prefix" in method:
        raise ExportError(f"run {run.id} uses {method}: prefix tuning adds trained virtual tokens to every "
                          "attention layer, which cannot be folded into the weights. Load the run's adapter/ "
                          "folder with peft (see its README.md), or export a LoRA run")
    if not any(run.adapter.glob("*.safetensors")) and not any(run.adapter.glob("*.bin")):
        raise ExportError(f"run {run.id} has no saved model yet (state: {run.effective_state()})")
    base, tok, _ = models.load_model(str(cfg.get("model")), precision="fp32", device="cpu",
                                     trust_remote_code=bool(cfg.get("trust_remote_code")))
    if method in ("full", "freeze"):
        return load_full(base, run.adapter), tok
    return load_peft(base, run.adapter).merge_and_unload(), tok


def export_merged(run_path: str | Path, out: str | Path | None = None) -> Path:
    """Save the merged model to ``out`` (default ``<run>/export/merged``), replaced whole, with a model card."""
    run = RunDir(Path(run_path))
    out = Path(out) if out else run.path / "export" / "merged"
    model, tok = merged_model(run)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    atomic_write_text(tmp / "README.md", model_card(run, merged=True))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def gguf_converter() -> list[str] | None:
    """The command that runs llama.cpp's HF-to-GGUF converter, where one is installed."""
    configured = os.environ.get(CONVERTER_ENV)
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise ExportError(f"{CONVERTER_ENV}={configured} is not a file")
        return [sys.executable, str(path)] if path.suffix == ".py" else [str(path)]
    for name in CONVERTER_NAMES:
        found = shutil.which(name)
        if found:
            return [sys.executable, found] if found.endswith(".py") else [found]
    return None


def export_gguf(run_path: str | Path, out: str | Path | None = None, outtype: str = "f16") -> Path:
    """The merged model converted to one GGUF file (``<run>/export/<run>-<outtype>.gguf`` by default)."""
    command = gguf_converter()
    if command is None:
        raise ExportError("GGUF export needs llama.cpp's converter (convert_hf_to_gguf.py), and none is installed: "
                          "get llama.cpp's source (its gguf-py matches the installed `gguf` package) and set "
                          f"{CONVERTER_ENV}=/path/to/llama.cpp/convert_hf_to_gguf.py. `--to merged` needs nothing "
                          "more, and llama.cpp converts that folder the same way")
    run = RunDir(Path(run_path))
    merged = export_merged(run.path)
    target = Path(out) if out else run.path / "export" / f"{run.id}-{outtype}.gguf"
    target.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([*command, str(merged), "--outfile", str(target), "--outtype", outtype],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not target.is_file():
        raise ExportError(f"the GGUF converter failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-800:]}")
    return target


def push_to_hub(run_path: str | Path, repo: str, private: bool = True) -> str:
    """Push the merged model, tokenizer and card to ``repo``; needs a token and the network."""
    from huggingface_hub import get_token

    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ExportError("HF_HUB_OFFLINE=1: the hub cannot be reached; unset it, or use --to merged")
    if not get_token():
        raise ExportError("no Hugging Face token: run `hf auth login` or set HF_TOKEN, then try again")
    merged = export_merged(run_path)
    from huggingface_hub import HfApi

    try:
        api = HfApi()
        api.create_repo(repo, private=private, exist_ok=True)
        api.upload_folder(folder_path=str(merged), repo_id=repo)
    except Exception as exc:  # the hub client raises many kinds (HTTP, network, permissions)
        raise ExportError(f"pushing to {repo} failed: {exc}") from None
    return f"https://huggingface.co/{repo}"


def start_job(workspace: Any, run_path: str | Path, to: str = "merged") -> RunDir:
    """Export in a worker process (kind "export"), as the UI starts every slow step; returns the job's run."""
    from . import jobs

    if to not in ("merged", "gguf"):
        raise ExportError(f"export to {to!r} from the app: use merged or gguf (the hub needs the command line)")
    source = RunDir(Path(run_path))
    if "prefix" in str(source.train_config().get("method")):
        merged_model(source)  # refuses with the reason before a job is queued
    if to == "gguf" and gguf_converter() is None:
        export_gguf(source.path)  # refuses, naming the converter to install
    job = jobs.create_run(workspace, "export", {"export": {"run": str(source.path), "to": to},
                                                "needs_accelerator": False}, label=f"export-{source.id}")
    jobs.start(job)
    return job


def run_job(run: RunDir) -> dict[str, Any]:
    """Worker entry for an export job: the merged folder or GGUF file under the source run's export/."""
    cfg = run.read_config().get("export") or {}
    out = export_gguf(cfg["run"]) if cfg.get("to") == "gguf" else export_merged(cfg["run"])
    return {"out": str(out), "source": RunDir(Path(cfg["run"])).id, "to": cfg.get("to", "merged")}
