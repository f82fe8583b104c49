"""A dataset in the formats other tools read: Alpaca and ShareGPT JSON (with LLaMA-Factory's
``dataset_info.json``), OpenAI-style ``messages`` JSONL (read by TRL, Axolotl and Kiln) and a Hugging Face
``datasets`` folder. Every record keeps the pair's id, source, passage, fact id and key facts as extra fields,
so a row can be traced back to the sentence it teaches; tools that read only their own columns ignore them.

``--into`` a LLaMA-Factory ``data`` folder adds this dataset's entries to its ``dataset_info.json`` and keeps
every other entry as it was. Imports ``datasets`` only for the ``hf`` format. No torch import (layer 2).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..rundir import atomic_write_json, read_json
from .dataset import SPLITS, DatasetError, load_split, write_jsonl

FORMATS = ("alpaca", "sharegpt", "messages", "hf")
# the pair's provenance, kept beside each tool's own columns; one type per field so every reader loads it
EXTRAS = ("id", "source", "passage_id", "fact_id", "group")


def extras(pair: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: str(pair.get(k) or "") for k in EXTRAS}
    out["keys"] = [str(k) for k in pair.get("keys") or []]
    return out


def alpaca(pairs: list[dict], system: str) -> list[dict[str, Any]]:
    with_system = {"system": system} if system else {}
    return [{"instruction": p["question"], "input": "", "output": p["answer"], **with_system, **extras(p)}
            for p in pairs]


def sharegpt(pairs: list[dict], system: str) -> list[dict[str, Any]]:
    with_system = {"system": system} if system else {}
    return [{"conversations": [{"from": "human", "value": p["question"]}, {"from": "gpt", "value": p["answer"]}],
             **with_system, **extras(p)} for p in pairs]


def messages(pairs: list[dict], system: str) -> list[dict[str, Any]]:
    head = [{"role": "system", "content": system}] if system else []
    return [{"messages": [*head, {"role": "user", "content": p["question"]},
                          {"role": "assistant", "content": p["answer"]}], **extras(p)} for p in pairs]


def info_entry(fmt: str, file_name: str, system: bool) -> dict[str, Any]:
    """LLaMA-Factory's description of one exported file."""
    if fmt == "alpaca":
        columns = {"prompt": "instruction", "query": "input", "response": "output"}
        entry: dict[str, Any] = {"file_name": file_name, "columns": columns}
    elif fmt == "sharegpt":
        columns = {"messages": "conversations"}
        entry = {"file_name": file_name, "formatting": "sharegpt", "columns": columns,
                 "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"}}
    else:  # messages: LLaMA-Factory reads it as ShareGPT with OpenAI's role names; a system turn is a message
        return {"file_name": file_name, "formatting": "sharegpt", "columns": {"messages": "messages"},
                "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                         "assistant_tag": "assistant", "system_tag": "system"}}
    if system:
        columns["system"] = "system"
    return entry


def export(folder: str | Path, fmt: str = "alpaca", out_dir: str | Path | None = None, system: str = "",
           name: str | None = None, into: str | Path | None = None) -> dict[str, Path]:
    """Write each split of the dataset in ``fmt`` to ``out_dir`` (default ``<folder>/export``), or into a
    LLaMA-Factory data folder with ``into``; returns the written paths by split (and ``dataset_info``)."""
    if fmt not in FORMATS:
        raise DatasetError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    folder = Path(folder)
    name = name or folder.name
    if into is not None:
        out = Path(into)
        if not (out / "dataset_info.json").is_file():
            raise DatasetError(f"{out} has no dataset_info.json: give LLaMA-Factory's data folder "
                               "(LLaMA-Factory/data), or use --out for a new folder")
    else:
        out = Path(out_dir) if out_dir else folder / "export"
    if fmt == "hf":
        return {"hf": save_hf(folder, out / f"{name}_hf")}
    info_path = out / "dataset_info.json"
    info = read_json(info_path, {}) or {}
    written: dict[str, Path] = {}
    for split in SPLITS:
        pairs = load_split(folder, split)
        if not pairs and split == "test":
            continue
        if fmt == "messages":
            file_name = f"{name}_{split}_messages.jsonl"
            write_jsonl(out / file_name, messages(pairs, system))
        else:
            file_name = f"{name}_{split}_{fmt}.json"
            atomic_write_json(out / file_name, (alpaca if fmt == "alpaca" else sharegpt)(pairs, system))
        info[f"{name}_{split}_{fmt}"] = info_entry(fmt, file_name, bool(system))
        written[split] = out / file_name
    atomic_write_json(info_path, info)
    written["dataset_info"] = info_path
    return written


def to_hf_dataset(path: str | Path) -> Any:
    """A ``datasets.DatasetDict`` with train (and test, when there is one): question, answer, the passage and
    the pair's provenance."""
    import datasets

    splits = {}
    for split in SPLITS:
        pairs = load_split(path, split)
        if pairs or split == "train":
            rows = [{"question": p["question"], "answer": p["answer"], "passage": str(p.get("passage") or ""),
                     "generator": str(p.get("generator") or ""), **extras(p)} for p in pairs]
            features = datasets.Features({**{c: datasets.Value("string") for c in (
                "question", "answer", "passage", "generator", *EXTRAS)}, "keys": datasets.Sequence(
                    datasets.Value("string"))})
            splits[split] = datasets.Dataset.from_list(rows, features=features)
    return datasets.DatasetDict(splits)


def save_hf(folder: Path, out: Path) -> Path:
    """``to_hf_dataset`` saved with ``save_to_disk`` (``datasets.load_from_disk`` reads it), replaced whole."""
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    to_hf_dataset(folder).save_to_disk(str(tmp))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out
