"""The fact ledger: one line per fact of a dataset (``facts.jsonl``), with the pairs that teach it, the pair
held out to test it and, once a run is evaluated, whether the base model knew it and whether the tuned
model answers its held-out rewording. Facts that no kept pair asks are listed too, marked unasked, so a user
sees what the model was never taught.

This module reads and writes ``facts.jsonl`` and joins it with evaluation predictions; it extracts nothing
(see ``facts``) and scores nothing itself beyond the per-question hits it is given. No torch (layer 2).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .dataset import read_jsonl, write_jsonl

FILE = "facts.jsonl"


def build(facts: Iterable[Any], train: list[dict[str, Any]], test: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ledger entries for ``facts`` (``facts.Fact``), joined with the kept pairs by their ``fact_id``."""
    by_fact: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"train": [], "test": []})
    for split, pairs in (("train", train), ("test", test)):
        for pair in pairs:
            if pair.get("fact_id"):
                by_fact[pair["fact_id"]][split].append(pair["id"])
    out = []
    for fact in facts:
        pairs = by_fact.get(fact.id, {"train": [], "test": []})
        out.append({"id": fact.id, "source": fact.source, "passage_id": fact.passage_id,
                     "sentence": fact.sentence, "subject": fact.subject, "span": fact.span, "kind": fact.kind,
                     "role": fact.role, "answer": fact.answer, "train_pairs": pairs["train"],
                     "test_pairs": pairs["test"], "asked": bool(pairs["train"])})
    return out


def write(folder: str | Path, ledger: list[dict[str, Any]]) -> Path:
    path = Path(folder) / FILE
    write_jsonl(path, ledger)
    return path


def read(folder: str | Path) -> list[dict[str, Any]]:
    """The dataset's ledger; empty for a dataset built without fact extraction."""
    path = Path(folder) / FILE
    return read_jsonl(path) if path.exists() else []


def summary(ledger: list[dict[str, Any]]) -> dict[str, Any]:
    asked = [f for f in ledger if f["asked"]]
    pairs = sum(len(f["train_pairs"]) + len(f["test_pairs"]) for f in ledger)
    return {"facts": len(ledger), "asked": len(asked), "unasked": len(ledger) - len(asked),
            "held_out": sum(1 for f in ledger if f["test_pairs"]),
            "pairs_per_fact": round(pairs / len(ledger), 2) if ledger else 0.0}


def with_results(ledger: list[dict[str, Any]], predictions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ledger with ``base_knew`` and ``tuned_answers`` per fact (None where no held-out question of the
    fact was evaluated), from evaluation predictions (``id`` and per-side ``scores[side]["fact_acc"]``)."""
    hits = {str(p["id"]): p for p in predictions if p.get("id") is not None}
    out = []
    for fact in ledger:
        rows = [hits[i] for i in fact["test_pairs"] if i in hits]
        marks = {side: [_hit(r, side) for r in rows if _hit(r, side) is not None] for side in ("base", "tuned")}
        out.append({**fact, "base_knew": max(marks["base"]) >= 1.0 if marks["base"] else None,
                    "tuned_answers": max(marks["tuned"]) >= 1.0 if marks["tuned"] else None})
    return out


def _hit(row: dict[str, Any], side: str) -> float | None:
    return ((row.get("scores") or {}).get(side) or {}).get("fact_acc")


def table(ledger: list[dict[str, Any]]) -> list[list[Any]]:
    """Rows for the UI and the CLI: fact, subject, kind, pairs, held out, base knew, tuned answers."""
    def mark(value: bool | None) -> str:
        return "-" if value is None else ("yes" if value else "no")

    return [[f["span"], f["subject"], f["kind"], len(f["train_pairs"]) if f["asked"] else "unasked",
             len(f["test_pairs"]), mark(f.get("base_knew")), mark(f.get("tuned_answers")), f["sentence"]]
            for f in ledger]


TABLE_HEADERS = ["fact", "subject", "kind", "train pairs", "held out", "base knew", "tuned answers",
                 "source sentence"]
